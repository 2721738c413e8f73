//! The `rule-runner` binary as a rule author uses it: real files, real process, exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn module(dir: &Path, name: &str, on_token_body: &str, output: &str) -> PathBuf {
    // Logs the first two bytes of the output, then runs the body.
    let body = format!("(call $log (i32.const 16) (i32.const 2)) {on_token_body}");
    let path = dir.join(name);
    std::fs::write(&path, claimsmith_tests::wat_rule(&body, output)).expect("temp dir writable");
    path
}

fn run_runner(module: &Path, event: &str) -> Output {
    let dir = module.parent().expect("in a dir");
    let event_path = dir.join("event.json");
    std::fs::write(&event_path, event).expect("temp dir writable");
    Command::new(env!("CARGO_BIN_EXE_rule-runner"))
        .arg(module)
        .arg("--event")
        .arg(&event_path)
        .output()
        .expect("rule-runner starts")
}

const LOGIN: &str =
    r#"{"user":{"user_id":"auth0|a"},"context":{"protocol":"oauth2-password"},"now":1}"#;

#[test]
fn a_rule_that_runs_prints_its_outcome_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = module(
        dir.path(),
        "claims.wasm",
        "",
        r#"{"idToken":{"https://x.test/a":1}}"#,
    );
    let output = run_runner(&wasm, LOGIN);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["outcome"]["idToken"]["https://x.test/a"], 1);
    assert!(report["fuelUsed"].as_u64().unwrap() > 0);
    assert_eq!(report["fuelLimit"], 10_000_000);
    assert!(report["durationMicros"].is_u64());
    assert_eq!(report["log"][0], r#"{""#);
}

#[test]
fn a_deny_is_a_successful_run() {
    let dir = tempfile::tempdir().unwrap();
    let deny = r#"{"deny":{"error":"access_denied","description":"no"}}"#;
    let output = run_runner(&module(dir.path(), "deny.wasm", "", deny), LOGIN);
    assert!(output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["outcome"]["deny"]["description"], "no");
    assert_eq!(report["stoppedBy"], "deny");
}

#[test]
fn execution_failures_exit_one_with_the_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let looping = module(dir.path(), "loop.wasm", "(loop $l (br $l))", "{}");
    let output = run_runner(&looping, LOGIN);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "rule-runner: rule \"loop\" failed: ran out of fuel (limit 10000000)\n"
    );
}

#[test]
fn validation_failures_exit_one_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("text.wasm");
    std::fs::write(&path, "(module)").unwrap();
    let output = run_runner(&path, LOGIN);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("invalid module: not a WebAssembly binary"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn bad_files_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = module(dir.path(), "ok.wasm", "", "{}");
    let output = run_runner(&wasm, "{not json");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a valid rule input"));
    let missing = Command::new(env!("CARGO_BIN_EXE_rule-runner"))
        .args(["/nonexistent.wasm", "--event", "/nonexistent.json"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("cannot read module /nonexistent.wasm")
    );
}

#[test]
fn a_redirect_where_no_user_is_present_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = module(
        dir.path(),
        "terms.wasm",
        "",
        r#"{"redirect":{"url":"https://x.test/terms"}}"#,
    );
    let refresh = r#"{"context":{"protocol":"oauth2-refresh-token"}}"#;
    let output = run_runner(&wasm, refresh);
    assert!(output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("Redirection is not available on /oauth/token endpoint.")
    );
}
