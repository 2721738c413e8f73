//! `cargo xtask demo | test | bench`: the project's commands, in Rust so they run wherever
//! cargo does.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <demo | test | bench>
  demo   build the example rules from source and run each on a login and a refresh event
  test   the whole test suite: the workspace and the example rules' own unit tests
  bench  rule-call latency, chain latency, throughput and compile times (release build)";

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    let steps: &[&[&str]] = match task.as_deref() {
        Some("demo") => &[&[
            "run",
            "--locked",
            "-p",
            "claimsmith-tests",
            "--bin",
            "rules-demo",
        ]],
        Some("test") => &[
            &["test", "--workspace", "--locked"],
            &[
                "test",
                "--locked",
                "--manifest-path",
                "example-rules/Cargo.toml",
            ],
        ],
        Some("bench") => &[&[
            "bench",
            "--locked",
            "-p",
            "claimsmith-tests",
            "--bench",
            "rules",
        ]],
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let root = workspace_root();
    for args in steps {
        if let Err(message) = cargo(&root, args) {
            eprintln!("xtask: {message}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn cargo(root: &Path, args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or(manifest_dir.clone(), Path::to_path_buf)
}
