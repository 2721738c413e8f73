//! `cargo xtask demo`: the server with a demo tenant built through its own APIs, as a tenant
//! would build it: the operator API creates the tenant, then the `claimsmith` CLI, over the
//! management API, creates its API, clients and users, sets the rules' configuration and
//! deploys the example rules. The data stays in `target/demo-data`; a second run serves it
//! again without provisioning.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use serde_json::{Value, json};

const SERVER: &str = "http://127.0.0.1:8080";
const API: &str = "https://api.demo.test/";
/// Where the demo's browser app is served, its own origin.
const APP_LISTEN: &str = "127.0.0.1:8081";
const APP_ORIGIN: &str = "http://localhost:8081";

/// The example rules the demo deploys: name, module file stem, order.
const RULES: [(&str, &str, i64); 4] = [
    ("add-roles", "add_roles", 10),
    ("client-metadata-claims", "client_metadata_claims", 20),
    ("deny-blocked-on-refresh", "deny_blocked_on_refresh", 30),
    ("scopes-by-role", "scopes_by_role", 40),
];

/// Paths of the demo under the workspace root.
struct Demo {
    root: PathBuf,
    binary: PathBuf,
    data: PathBuf,
    operator_token: PathBuf,
    credentials: PathBuf,
}

pub(crate) fn run(root: &Path) -> ExitCode {
    let target = root.join("target");
    let demo = Demo {
        binary: target.join("release").join("claimsmith"),
        data: target.join("demo-data"),
        operator_token: target.join("demo-operator-token"),
        credentials: target.join("demo-credentials.env"),
        root: root.to_owned(),
    };
    match demo.serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask demo: {message}");
            ExitCode::FAILURE
        }
    }
}

impl Demo {
    fn serve(&self) -> Result<(), String> {
        let token = self.operator_token()?;
        let mut server = self.start()?;
        let provisioned = self.tenant_exists(&token).and_then(|exists| {
            if exists && self.credentials.exists() {
                println!(
                    "xtask demo: the demo tenant exists ({})",
                    self.data.display()
                );
                Ok(())
            } else if exists {
                Err(format!(
                    "the demo tenant exists but {} is gone; delete {} to start over",
                    self.credentials.display(),
                    self.data.display()
                ))
            } else {
                self.provision(&token)
            }
        });
        if let Err(message) = provisioned {
            let _ = server.kill();
            let _ = server.wait();
            return Err(message);
        }
        let app = self
            .browser_app()
            .and_then(|client_id| serve_app(&client_id));
        if let Err(message) = app {
            let _ = server.kill();
            let _ = server.wait();
            return Err(message);
        }
        println!("{}", crate::WALKTHROUGH);
        server
            .wait()
            .map_err(|e| format!("waiting for the server: {e}"))
            .map(drop)
    }

    /// The operator API's credential, made once with `claimsmith keygen`.
    fn operator_token(&self) -> Result<String, String> {
        if !self.operator_token.exists() {
            let out = Command::new(&self.binary)
                .arg("keygen")
                .output()
                .map_err(|e| format!("cannot run {}: {e}", self.binary.display()))?;
            let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            write_private(&self.operator_token, &token)?;
        }
        std::fs::read_to_string(&self.operator_token)
            .map(|token| token.trim().to_owned())
            .map_err(|e| format!("cannot read {}: {e}", self.operator_token.display()))
    }

    /// Starts the server and waits until it listens; its output keeps going to ours.
    fn start(&self) -> Result<Child, String> {
        let mut child = Command::new(&self.binary)
            .arg("--data")
            .arg(&self.data)
            .arg("--operator-token-file")
            .arg(&self.operator_token)
            // The demo's secrets at rest are encrypted under the well-known development key;
            // a deployment passes --key-file (see README).
            .arg("--insecure-dev-key")
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        let stdout = child.stdout.take().ok_or("the server has no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) => {
                    println!("{line}");
                    if line.starts_with("listening on ") {
                        break;
                    }
                }
                _ => {
                    let status = child.wait().map_err(|e| e.to_string())?;
                    return Err(format!("the server stopped ({status}); is port 8080 free?"));
                }
            }
        }
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                println!("{line}");
            }
        });
        Ok(child)
    }

    fn tenant_exists(&self, token: &str) -> Result<bool, String> {
        let tenants = self.cli(
            &[("CLAIMSMITH_OPERATOR_TOKEN", token)],
            &["tenants", "list"],
        )?;
        Ok(tenants
            .as_array()
            .is_some_and(|all| all.iter().any(|tenant| tenant["id"] == "demo")))
    }

    /// Builds the demo tenant through the operator and management APIs.
    fn provision(&self, token: &str) -> Result<(), String> {
        println!("xtask demo: creating the demo tenant through the operator API");
        let created = self.cli(
            &[("CLAIMSMITH_OPERATOR_TOKEN", token)],
            &[
                "tenants",
                "create",
                "demo",
                "--alg",
                "ES256",
                "--host",
                "demo.localhost",
            ],
        )?;
        let manager = &created["management"];
        let (manager_id, manager_secret) = (
            text(&manager["client_id"])?,
            text(&manager["client_secret"])?,
        );
        let env = [
            ("CLAIMSMITH_TENANT", "demo"),
            ("CLAIMSMITH_CLIENT_ID", manager_id.as_str()),
            ("CLAIMSMITH_CLIENT_SECRET", manager_secret.as_str()),
        ];
        let api = |method: &str, path: &str, body: Value| {
            self.cli(&env, &["api", method, path, "--data", &body.to_string()])
        };

        println!("xtask demo: its API, clients and users, through the management API");
        api(
            "post",
            "resource-servers",
            json!({
                "identifier": API,
                "name": "Demo Reports API",
                "scopes": [{"value": "read:reports"}, {"value": "write:reports"}],
                "allow_offline_access": true,
                "token_lifetime": 3600,
            }),
        )?;
        let app = api(
            "post",
            "clients",
            json!({
                "name": "Demo App",
                "app_type": "regular_web",
                "token_endpoint_auth_method": "client_secret_post",
                "grant_types": ["password", "refresh_token"],
                "client_metadata": {"tier": "gold", "region": "eu"},
                // Rotating, with a 10 s overlap: a retried exchange gets the same successor.
                "refresh_token": {
                    "rotation_type": "rotating",
                    "expiration_type": "expiring",
                    "leeway": 10,
                    "token_lifetime": 2_592_000,
                    "idle_token_lifetime": 1_296_000,
                },
            }),
        )?;
        let browser_app = api(
            "post",
            "clients",
            json!({
                "name": "Demo Browser App",
                "app_type": "spa",
                "grant_types": ["authorization_code", "refresh_token"],
                "callbacks": [format!("{APP_ORIGIN}/")],
                "allowed_logout_urls": [format!("{APP_ORIGIN}/")],
                "web_origins": [APP_ORIGIN],
                "refresh_token": {
                    "rotation_type": "rotating",
                    "expiration_type": "expiring",
                    "leeway": 0,
                    "token_lifetime": 2_592_000,
                    "idle_token_lifetime": 1_296_000,
                },
            }),
        )?;
        let backend = api(
            "post",
            "clients",
            json!({
                "name": "Demo Backend",
                "app_type": "non_interactive",
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["client_credentials"],
                "api_grants": {API: ["read:reports"]},
            }),
        )?;
        api(
            "post",
            "users",
            json!({
                "user_id": "auth0|alice",
                "email": "alice@demo.test",
                "email_verified": true,
                "name": "Alice Demo",
                "password": "alice-demo-password",
                "roles": ["viewer"],
                "app_metadata": {"roles": ["reporter"]},
            }),
        )?;
        api(
            "post",
            "users",
            json!({
                "user_id": "auth0|mallory",
                "email": "mallory@demo.test",
                "password": "mallory-demo-password",
                "app_metadata": {"blocked": true},
            }),
        )?;

        println!("xtask demo: the rules' configuration and the example rules");
        let scopes_by_role =
            json!({"admin": ["read:reports", "write:reports"], "viewer": ["read:reports"]});
        self.cli(
            &env,
            &[
                "config",
                "set",
                "SCOPES_BY_ROLE",
                &scopes_by_role.to_string(),
            ],
        )?;
        let modules = self
            .root
            .join("example-rules/target/wasm32-unknown-unknown/release");
        for (name, stem, order) in RULES {
            let module = modules.join(format!("{stem}.wasm"));
            let module = module.to_str().ok_or("the module path is not UTF-8")?;
            self.cli(
                &env,
                &[
                    "rules",
                    "deploy",
                    module,
                    "--name",
                    name,
                    "--order",
                    &order.to_string(),
                ],
            )?;
        }

        let credentials = format!(
            "# The demo's credentials, made by `cargo xtask demo` (source it for the CLI).\n\
             CLAIMSMITH_SERVER={SERVER}\nCLAIMSMITH_TENANT=demo\n\
             CLAIMSMITH_CLIENT_ID={manager_id}\nCLAIMSMITH_CLIENT_SECRET={manager_secret}\n\
             DEMO_APP_ID={}\nDEMO_APP_SECRET={}\nDEMO_BACKEND_ID={}\nDEMO_BACKEND_SECRET={}\n\
             DEMO_BROWSER_APP_ID={}\n",
            text(&app["client_id"])?,
            text(&app["client_secret"])?,
            text(&backend["client_id"])?,
            text(&backend["client_secret"])?,
            text(&browser_app["client_id"])?,
        );
        write_private(&self.credentials, &credentials)?;
        println!(
            "xtask demo: done; the credentials are in {}",
            self.credentials.display()
        );
        Ok(())
    }

    /// The browser app's client id, from the credentials file.
    fn browser_app(&self) -> Result<String, String> {
        let credentials = std::fs::read_to_string(&self.credentials)
            .map_err(|e| format!("cannot read {}: {e}", self.credentials.display()))?;
        credentials
            .lines()
            .find_map(|line| line.strip_prefix("DEMO_BROWSER_APP_ID="))
            .map(str::to_owned)
            .ok_or_else(|| {
                format!(
                    "{} predates the browser app; delete it and {} to provision again",
                    self.credentials.display(),
                    self.data.display()
                )
            })
    }

    /// Runs `claimsmith ARGS --json` against the demo server; its JSON answer.
    fn cli(&self, env: &[(&str, &str)], args: &[&str]) -> Result<Value, String> {
        let out = Command::new(&self.binary)
            .args(args)
            .arg("--json")
            .env("CLAIMSMITH_SERVER", SERVER)
            .envs(env.iter().copied())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.binary.display()))?;
        if !out.status.success() {
            return Err(format!(
                "`claimsmith {}` failed: {}",
                args.first().copied().unwrap_or_default(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        if stdout.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&stdout).map_err(|e| format!("the CLI printed no JSON: {e}"))
    }
}

fn text(value: &Value) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("expected a string, got {value}"))
}

/// Writes a secret to a file only its owner can read.
fn write_private(path: &Path, contents: &str) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Serves the demo's browser app (one static page, configured for the demo tenant) on its
/// own origin, from a thread, for as long as the demo runs.
fn serve_app(client_id: &str) -> Result<(), String> {
    let config = json!({
        "issuer": format!("{SERVER}/t/demo/"),
        "clientId": client_id,
        "audience": API,
    });
    let page = include_str!("demo_app.html").replace("{CONFIG}", &config.to_string());
    let server = tiny_http::Server::http(APP_LISTEN)
        .map_err(|e| format!("cannot serve the browser app on {APP_LISTEN}: {e}"))?;
    std::thread::spawn(move || {
        let html = tiny_http::Header::from_bytes("Content-Type", "text/html; charset=utf-8");
        for request in server.incoming_requests() {
            let path = request
                .url()
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned();
            let response = match (path.as_str(), &html) {
                ("/", Ok(html)) => tiny_http::Response::from_string(page.clone())
                    .with_header(html.clone())
                    .boxed(),
                _ => tiny_http::Response::from_string("not found")
                    .with_status_code(404)
                    .boxed(),
            };
            let _ = request.respond(response);
        }
    });
    Ok(())
}
