//! `cargo xtask compare <rev>`: this tree's server against the one at `rev`, in one run.
//!
//! The baseline is built from `git archive <rev>` in `target/baseline/<commit>/` with a target
//! directory of its own (so neither build disturbs the other's artifacts; the first build of a
//! revision takes minutes, later runs reuse it), together with that revision's example rules:
//! an older server may not run modules built by this tree's SDK. Then the `versions` benchmark
//! runs both binaries back to back.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

pub(crate) fn run(root: &Path, rev: Option<&str>) -> ExitCode {
    let Some(rev) = rev else {
        eprintln!("usage: cargo xtask compare <git revision>   (for example: main, a135332)");
        return ExitCode::from(2);
    };
    match build_baseline(root, rev) {
        Ok((name, binary, rules)) => {
            let status = Command::new(super::cargo_program())
                .args([
                    "bench",
                    "--locked",
                    "-p",
                    "claimsmith-tests",
                    "--bench",
                    "versions",
                ])
                .env("BASELINE_NAME", name)
                .env("BASELINE_BINARY", binary)
                .env("BASELINE_RULES", rules)
                .current_dir(root)
                .status();
            match status {
                Ok(status) if status.success() => ExitCode::SUCCESS,
                Ok(status) => {
                    eprintln!("xtask: the versions benchmark failed ({status})");
                    ExitCode::FAILURE
                }
                Err(error) => {
                    eprintln!("xtask: cannot start cargo: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the server and the example rules of `rev`; returns the commit's short name, the
/// binary and the directory of the modules.
fn build_baseline(
    root: &Path,
    rev: &str,
) -> Result<(String, std::path::PathBuf, std::path::PathBuf), String> {
    let commit = output(
        Command::new("git")
            .args(["rev-parse", "--short=7", "--verify"])
            .arg(format!("{rev}^{{commit}}"))
            .current_dir(root),
    )
    .map_err(|e| format!("{rev:?} is not a commit of this repository: {e}"))?;
    let base = root.join("target/baseline").join(&commit);
    let src = base.join("src");
    let target = base.join("target");
    if !src.join("Cargo.toml").exists() {
        std::fs::create_dir_all(&src).map_err(|e| format!("cannot create {src:?}: {e}"))?;
        let archive = Command::new("git")
            .args(["archive", &commit])
            .current_dir(root)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run git archive: {e}"))?;
        let unpacked = Command::new("tar")
            .arg("-x")
            .current_dir(&src)
            .stdin(archive.stdout.ok_or("git archive gave no output")?)
            .status()
            .map_err(|e| format!("cannot run tar: {e}"))?;
        if !unpacked.success() {
            return Err(format!("could not unpack {commit} into {src:?}"));
        }
    }
    println!("xtask: building the baseline {commit} (first time: several minutes)");
    let build = |args: &[&str], dir: &Path, target: &Path| {
        let status = Command::new(super::cargo_program())
            .args(args)
            .env("CARGO_TARGET_DIR", target)
            .current_dir(dir)
            .status()
            .map_err(|e| format!("cannot start cargo: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "building the baseline failed: cargo {}",
                args.join(" ")
            ))
        }
    };
    // The commands `cargo xtask demo` runs, in the baseline's tree with its own target dir.
    build(super::DEMO_SERVER, &src, &target)?;
    let rules_target = target.join("example-rules");
    build(super::EXAMPLE_RULES, &src, &rules_target)?;
    Ok((
        commit,
        target.join("release/claimsmith"),
        rules_target.join("wasm32-unknown-unknown/release"),
    ))
}

fn output(command: &mut Command) -> Result<String, String> {
    let out = command.output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}
