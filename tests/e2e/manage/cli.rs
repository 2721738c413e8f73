//! The CLI as a process, against the real server as a process: a rule author goes from a new
//! tenant to a deployed, tried rule, and scripts get exit codes they can rely on.

use std::path::Path;
use std::process::Command;

use claimsmith_tests::process::{Process, deployment_dir};

const OPERATOR_TOKEN: &str = "cli-operator-token-0123456789-0123456789";

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_claimsmith-under-test"))
}

/// Runs the CLI with `env`: (exit code, stdout, stderr).
fn cli(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let output = Command::new(binary())
        .args(args)
        .env_remove("CLAIMSMITH_OPERATOR_TOKEN")
        .env("HOME", "/nonexistent")
        .envs(env.iter().copied())
        .output()
        .expect("the CLI runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn value_of<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.trim().strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// The server as a process on a fresh directory (the example rules under `rules/`), with the
/// operator API on.
fn server_with_operator_api() -> (tempfile::TempDir, Process) {
    let dir = deployment_dir("", "");
    let token_file = dir.path().join("operator.token");
    std::fs::write(&token_file, OPERATOR_TOKEN).expect("token file");
    let data = dir.path().join("data");
    let server = Process::start(
        binary(),
        &[
            "--data".as_ref(),
            data.as_os_str(),
            "--insecure-dev-key".as_ref(),
            "--operator-token-file".as_ref(),
            token_file.as_os_str(),
        ],
    )
    .expect("the server starts");
    (dir, server)
}

#[test]
fn a_rule_author_deploys_and_tries_a_rule_and_errors_exit_with_their_code() {
    let (dir, server) = server_with_operator_api();
    let addr = server.addr.clone();

    let (code, out, err) = cli(
        &[("CLAIMSMITH_OPERATOR_TOKEN", OPERATOR_TOKEN)],
        &[
            "tenants", "create", "acme", "--server", &addr, "--alg", "ES256",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let client_id = value_of(&out, "CLAIMSMITH_CLIENT_ID").to_owned();
    let secret = value_of(&out, "CLAIMSMITH_CLIENT_SECRET").to_owned();
    let env = [
        ("CLAIMSMITH_SERVER", addr.as_str()),
        ("CLAIMSMITH_TENANT", "acme"),
        ("CLAIMSMITH_CLIENT_ID", client_id.as_str()),
        ("CLAIMSMITH_CLIENT_SECRET", secret.as_str()),
    ];

    let module = dir.path().join("rules").join("add-roles.wasm");
    let module = module.to_str().expect("utf-8 path");
    let (code, out, err) = cli(
        &env,
        &[
            "rules",
            "deploy",
            module,
            "--name",
            "add-roles",
            "--order",
            "10",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("deployed rule add-roles (rul_"), "{out}");
    let (code, out, _) = cli(&env, &["rules", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.lines().next().unwrap_or_default().starts_with("ID"),
        "{out}"
    );
    assert!(out.contains("add-roles") && out.contains("true"), "{out}");

    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        r#"{"user": {"user_id": "auth0|zed", "app_metadata": {"roles": ["editor"]}},
            "context": {"protocol": "oauth2-password", "authorization": {"roles": ["admin"]}}}"#,
    )
    .expect("event file");
    let event = event.to_str().expect("utf-8 path");
    let (code, out, err) = cli(&env, &["rules", "try", "add-roles", "--event", event]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("log: auth0|zed has 2 role(s)"), "{out}");
    assert!(
        out.contains("\"https://claimsmith.example/roles\""),
        "{out}"
    );

    // Deploying the same name again is a new version of the same rule.
    let (code, out, _) = cli(&env, &["rules", "deploy", module, "--name", "add-roles"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("updated rule add-roles"), "{out}");
    assert_eq!(cli(&env, &["rules", "disable", "add-roles"]).0, 0);
    let (_, json_out, _) = cli(&env, &["rules", "list", "--json"]);
    let rules: serde_json::Value = serde_json::from_str(&json_out).expect("JSON");
    assert_eq!(rules[0]["enabled"], serde_json::json!(false));

    assert_eq!(
        cli(&env, &["config", "set", "API_KEY", "cli-secret-value"]).0,
        0
    );
    let (_, out, _) = cli(&env, &["config", "list"]);
    assert!(
        out.contains("API_KEY") && !out.contains("cli-secret-value"),
        "{out}"
    );
    assert_eq!(cli(&env, &["keys", "rotate"]).0, 0);
    let (_, out, _) = cli(&env, &["keys", "list"]);
    assert_eq!(out.lines().count(), 3, "a header and two keys: {out}");
    let (code, out, _) = cli(&env, &["logs", "--type", "seccft"]);
    assert_eq!(code, 0);
    assert!(out.contains("seccft") && out.contains(&client_id), "{out}");

    // `api`: any management call, with a JSON body from the command line or a file.
    let (code, out, err) = cli(
        &env,
        &[
            "api",
            "post",
            "clients",
            "--data",
            r#"{"name": "Raw", "client_metadata": {"tier": "gold"}}"#,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let created: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let raw_id = created["client_id"].as_str().expect("client id").to_owned();
    assert_eq!(created["client_metadata"]["tier"], "gold");
    let patch = dir.path().join("patch.json");
    std::fs::write(&patch, r#"{"client_metadata": {"tier": "silver"}}"#).expect("file");
    let data = format!("@{}", patch.display());
    let path = format!("clients/{raw_id}");
    let (code, out, err) = cli(&env, &["api", "patch", &path, "--data", &data]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = cli(&env, &["api", "get", &path]);
    let fetched: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(fetched["client_metadata"]["tier"], "silver");
    assert_eq!(cli(&env, &["api", "delete", &path]).0, 0);
    assert_eq!(cli(&env, &["api", "get", &path]).0, 4);
    let (code, _, err) = cli(&env, &["api", "fetch", "clients"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = cli(&env, &["api", "post", "clients", "--data", "{not json"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--data is not JSON"), "{err}");

    // Errors: the API's message on stderr, and a code per kind of failure.
    let text = dir.path().join("rule.txt");
    std::fs::write(&text, "fn main() {}").expect("file");
    let (code, _, err) = cli(
        &env,
        &[
            "rules",
            "deploy",
            text.to_str().unwrap_or_default(),
            "--name",
            "bad",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("400") && err.contains("not a WebAssembly binary"),
        "{err}"
    );
    let (code, _, err) = cli(&env, &["rules", "delete", "no-such-rule"]);
    assert_eq!(code, 4, "{err}");
    let mut wrong = env;
    wrong[3] = ("CLAIMSMITH_CLIENT_SECRET", "not-the-secret");
    let (code, _, err) = cli(&wrong, &["rules", "list"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("401"), "{err}");
    let (code, _, err) = cli(&env[..1], &["rules", "list"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no tenant"), "{err}");
    let (code, _, err) = cli(
        &[("CLAIMSMITH_SERVER", "http://127.0.0.1:9")],
        &["tenants", "list", "--operator-token", "x"],
    );
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("cannot reach"), "{err}");
    server.kill();
}

/// What a load balancer and a log collector see of the server process: health and readiness
/// probes, and logs on a pipe as JSON lines, each line of a request with its request id.
#[tokio::test]
async fn the_process_answers_probes_and_logs_json_lines_with_the_request_id() {
    let (_dir, server) = server_with_operator_api();
    let http = claimsmith_tests::http();
    let get = |path: &str| http.get(format!("{}{path}", server.addr)).send();
    let health = get("/healthz").await.expect("healthz");
    assert_eq!(health.status(), 200);
    let readiness = || async {
        let reply = get("/readyz").await.expect("readyz");
        reply.json::<serde_json::Value>().await.expect("json")
    };
    let ready = readiness().await;
    assert_eq!(ready, serde_json::json!({"status": "ready", "tenants": 0}));

    let created = http
        .post(format!("{}/operator/v1/tenants", server.addr))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&serde_json::json!({"id": "logs", "signing_alg": "ES256",
            "issuer": format!("{}/t/logs/", server.addr)}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    let request_id = created.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let ready = readiness().await;
    assert_eq!(ready["tenants"], 1);

    let logs = server.kill_and_read_stderr();
    assert!(
        !logs.contains('\u{1b}'),
        "no colour codes in a log file: {logs}"
    );
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|line| line["level"].is_string() && line["timestamp"].is_string())
    );
    let created_line = lines
        .iter()
        .find(|line| line["fields"]["message"] == "tenant created")
        .unwrap_or_else(|| panic!("no `tenant created` line in {logs}"));
    assert_eq!(created_line["span"]["request_id"], request_id.as_str());
}
