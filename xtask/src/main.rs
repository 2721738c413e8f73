//! `cargo xtask demo | test | bench`: the project's commands, in Rust so they run wherever
//! cargo does.

mod compare;
mod demo;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <demo | rules-demo | test | bench | compare REV | fuzz>
  demo        build the example rules and the server, start it (data in
              target/demo-data), create the demo tenant through the operator API and
              deploy the example rules through the management API (first run only);
              then run demo/walkthrough.sh in another terminal
  rules-demo  run each example rule on a login and a refresh event, without a server
  test        the whole test suite: the workspace and the example rules' own unit tests
  bench       rule-call, token-endpoint, tenant-fairness, storage, many-tenants and
              fleet (server processes on sled and PostgreSQL) benchmarks (release build)
  compare REV this tree's server against the one at git revision REV, back to back, in
              processes of their own: req/s, latency and server CPU per grant (the
              baseline is built once in target/baseline/)
  fuzz        each fuzz target for FUZZ_SECONDS (default 60) with cargo-fuzz and libFuzzer
              (`cargo install cargo-fuzz` once; runs on the stable toolchain)";

const DEMO_SERVER: &[&str] = &[
    "build",
    "--release",
    "--locked",
    "-p",
    "oidc-server",
    "--bin",
    "claimsmith",
];

const EXAMPLE_RULES: &[&str] = &[
    "build",
    "--release",
    "--locked",
    "--target",
    "wasm32-unknown-unknown",
    "--manifest-path",
    "example-rules/Cargo.toml",
];

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    let steps: &[&[&str]] = match task.as_deref() {
        Some("demo") => {
            let root = workspace_root();
            for args in [EXAMPLE_RULES, DEMO_SERVER] {
                if let Err(message) = cargo(&root, args) {
                    eprintln!("xtask: {message}");
                    return ExitCode::FAILURE;
                }
            }
            return demo::run(&root);
        }
        Some("rules-demo") => &[&[
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
        Some("bench") => &[
            &[
                "bench",
                "--locked",
                "-p",
                "claimsmith-tests",
                "--bench",
                "rules",
            ],
            &[
                "bench",
                "--locked",
                "-p",
                "claimsmith-tests",
                "--bench",
                "token_load",
            ],
            &[
                "bench",
                "--locked",
                "-p",
                "claimsmith-tests",
                "--bench",
                "fairness",
            ],
            &[
                "bench",
                "--locked",
                "-p",
                "claimsmith-tests",
                "--bench",
                "storage",
            ],
            &[
                "bench",
                "--locked",
                "-p",
                "claimsmith-tests",
                "--bench",
                "many_tenants",
            ],
            &[
                "bench",
                "--locked",
                "-p",
                "claimsmith-tests",
                "--bench",
                "fleet",
            ],
        ],
        Some("fuzz") => return fuzz(&workspace_root()),
        Some("compare") => {
            return compare::run(&workspace_root(), std::env::args().nth(2).as_deref());
        }
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

const WALKTHROUGH: &str = "Claimsmith serves the demo tenant on http://127.0.0.1:8080/t/demo/.

Log in through the browser: open http://localhost:8081/ (the demo's browser app, on its own
origin), press Log in, and sign in on Claimsmith's page as alice@demo.test with the password
alice-demo-password. The app exchanges the code with PKCE and shows the tokens with the claims
the rules added; Refresh rotates the refresh token; Log out ends the session.

Or run the walkthrough in another terminal:

    demo/walkthrough.sh

or manage the tenant with the CLI (`set -a; . target/demo-credentials.env; set +a`, then
`target/release/claimsmith rules list`).

It shows, with curl: a password grant with offline_access and the claims the rules added, a
refresh with rotation, a retry inside the overlap window, a reuse that revokes the family, a
revocation, a rule refusing a blocked user's refresh, and discovery. Stop the server with Ctrl-C.
";

/// The fuzz targets in `fuzz/`, in the order `cargo xtask fuzz` runs them.
const FUZZ_TARGETS: &[&str] = &["rule_outcome", "token_request", "seed", "wasm_upload"];

/// Runs every fuzz target for a bounded time. libFuzzer needs nightly compiler flags;
/// `RUSTC_BOOTSTRAP=1` lets the installed stable toolchain accept them.
fn fuzz(root: &Path) -> ExitCode {
    let seconds = std::env::var("FUZZ_SECONDS").unwrap_or_else(|_| "60".into());
    for target in FUZZ_TARGETS {
        let status = Command::new(cargo_program())
            .args(["fuzz", "run", target, "--"])
            .arg(format!("-max_total_time={seconds}"))
            .arg("-rss_limit_mb=4096")
            .env("RUSTC_BOOTSTRAP", "1")
            .current_dir(root)
            .status();
        match status {
            Ok(status) if status.success() => {
                println!("xtask: fuzz target {target}: no crash in {seconds} s")
            }
            Ok(status) => {
                eprintln!(
                    "xtask: fuzz target {target} failed ({status}); the crash is in fuzz/artifacts/{target}/"
                );
                return ExitCode::FAILURE;
            }
            Err(error) => {
                eprintln!(
                    "xtask: cannot run cargo fuzz ({error}); install it with `cargo install cargo-fuzz`"
                );
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// The cargo that runs this xtask.
fn cargo_program() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn cargo(root: &Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new(cargo_program())
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
