//! The CLI's side of the management and operator APIs: where the server is, which
//! credentials to use (flags, then the environment, then a config file), a management token
//! through `client_credentials`, and errors a script can rely on (exit codes) and a person can
//! read (the API's own message).

#![allow(
    clippy::indexing_slicing,
    reason = "serde_json indexes a missing key as Null, it never panics; and the CLI is no request path"
)]

use std::path::PathBuf;

use clap::Args;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde_json::Value;

/// Exit codes of the remote commands.
pub(crate) mod exit {
    /// The API refused the request (400, 409, …).
    pub(crate) const REFUSED: u8 = 1;
    /// Usage errors (clap's own code).
    pub(crate) const USAGE: u8 = 2;
    /// Missing or rejected credentials (401, 403).
    pub(crate) const DENIED: u8 = 3;
    /// The named record does not exist (404).
    pub(crate) const NOT_FOUND: u8 = 4;
    /// The server failed or could not be reached.
    pub(crate) const UNAVAILABLE: u8 = 5;
}

/// Where the server is and who is asking.
#[derive(Debug, Clone, Args)]
pub(crate) struct Connection {
    /// The server's base URL [env: CLAIMSMITH_SERVER; default http://127.0.0.1:8080].
    #[arg(long, global = true)]
    server: Option<String>,
    /// The tenant, addressed as `{server}/t/{tenant}/` [env: CLAIMSMITH_TENANT].
    #[arg(long, global = true)]
    tenant: Option<String>,
    /// The tenant's issuer, when it is addressed by host name instead of path.
    #[arg(long, global = true)]
    issuer: Option<String>,
    /// A management client of the tenant [env: CLAIMSMITH_CLIENT_ID].
    #[arg(long, global = true)]
    client_id: Option<String>,
    /// Its secret [env: CLAIMSMITH_CLIENT_SECRET]; prefer the environment or the config file.
    #[arg(long, global = true)]
    client_secret: Option<String>,
    /// The operator credential, for `tenants` [env: CLAIMSMITH_OPERATOR_TOKEN].
    #[arg(long, global = true)]
    operator_token: Option<String>,
    /// A TOML file with any of: server, tenant, issuer, client_id, client_secret,
    /// operator_token [default: ~/.config/claimsmith/cli.toml].
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    server: Option<String>,
    tenant: Option<String>,
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    operator_token: Option<String>,
}

/// A failed remote command: what to print, and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// Prints the message; returns the exit code.
    pub(crate) fn report(self) -> i32 {
        eprintln!("claimsmith: {}", self.message);
        i32::from(self.code)
    }
}

/// A resolved connection, ready to call the APIs.
#[derive(Debug)]
pub(crate) struct Remote {
    http: reqwest::Client,
    pub(crate) server: String,
    issuer: Option<String>,
    client: Option<(String, String)>,
    operator_token: Option<String>,
    pub(crate) json: bool,
}

fn pick(flag: Option<String>, env: &str, file: Option<String>) -> Option<String> {
    flag.or_else(|| std::env::var(env).ok().filter(|v| !v.trim().is_empty()))
        .or(file)
}

impl Connection {
    pub(crate) fn resolve(self) -> Result<Remote, Failure> {
        let path = self.config.clone().or_else(|| {
            std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config"))
                })
                .map(|dir| dir.join("claimsmith").join("cli.toml"))
        });
        let file = match &path {
            Some(path) if path.exists() => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Failure::new(exit::USAGE, format!("cannot read {}: {e}", path.display()))
                })?;
                toml::from_str(&text).map_err(|e| {
                    Failure::new(exit::USAGE, format!("{} is invalid: {e}", path.display()))
                })?
            }
            Some(path) if self.config.is_some() => {
                return Err(Failure::new(
                    exit::USAGE,
                    format!("the config file {} does not exist", path.display()),
                ));
            }
            _ => ConfigFile::default(),
        };
        let server = pick(self.server, "CLAIMSMITH_SERVER", file.server)
            .unwrap_or_else(|| "http://127.0.0.1:8080".into());
        let server = server.trim_end_matches('/').to_owned();
        let tenant = pick(self.tenant, "CLAIMSMITH_TENANT", file.tenant);
        let issuer = pick(self.issuer, "CLAIMSMITH_ISSUER", file.issuer)
            .or_else(|| tenant.map(|tenant| format!("{server}/t/{tenant}/")));
        let client_id = pick(self.client_id, "CLAIMSMITH_CLIENT_ID", file.client_id);
        let client_secret = pick(
            self.client_secret,
            "CLAIMSMITH_CLIENT_SECRET",
            file.client_secret,
        );
        // TLS with the system's roots, on the same cryptography as the server.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("claimsmith-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::new(exit::UNAVAILABLE, format!("cannot start HTTP: {e}")))?;
        Ok(Remote {
            http,
            server,
            issuer,
            client: client_id.zip(client_secret),
            operator_token: pick(
                self.operator_token,
                "CLAIMSMITH_OPERATOR_TOKEN",
                file.operator_token,
            ),
            json: self.json,
        })
    }
}

/// A request to one of the APIs.
pub(crate) enum Body {
    None,
    Json(Value),
    Wasm(Vec<u8>),
}

impl Remote {
    fn issuer(&self) -> Result<&str, Failure> {
        self.issuer.as_deref().ok_or_else(|| {
            Failure::new(
                exit::USAGE,
                "no tenant: pass --tenant ID (or --issuer URL), or set CLAIMSMITH_TENANT",
            )
        })
    }

    /// A management token of the tenant, through `client_credentials`.
    async fn management_token(&self) -> Result<String, Failure> {
        let issuer = self.issuer()?;
        let (client_id, secret) = self.client.as_ref().ok_or_else(|| {
            Failure::new(
                exit::USAGE,
                "no management client: pass --client-id and --client-secret, or set \
                 CLAIMSMITH_CLIENT_ID and CLAIMSMITH_CLIENT_SECRET",
            )
        })?;
        let audience = format!("{issuer}api/v2/");
        let request = self.http.post(format!("{issuer}oauth/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("audience", &audience),
        ]);
        let body = self.send(request).await?;
        body["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Failure::new(exit::UNAVAILABLE, "the token endpoint sent no token"))
    }

    /// Calls `{issuer}api/v2/{path}` with a management token.
    pub(crate) async fn manage(
        &self,
        method: Method,
        path: &str,
        body: Body,
    ) -> Result<Value, Failure> {
        let token = self.management_token().await?;
        let url = format!("{}api/v2/{path}", self.issuer()?);
        let request = with_body(self.http.request(method, url).bearer_auth(token), body);
        self.send(request).await
    }

    /// Calls `{server}/operator/v1/{path}` with the operator credential.
    pub(crate) async fn operate(
        &self,
        method: Method,
        path: &str,
        body: Body,
    ) -> Result<Value, Failure> {
        let token = self.operator_token.as_deref().ok_or_else(|| {
            Failure::new(
                exit::USAGE,
                "no operator credential: pass --operator-token or set CLAIMSMITH_OPERATOR_TOKEN",
            )
        })?;
        let url = format!("{}/operator/v1/{path}", self.server);
        let request = with_body(self.http.request(method, url).bearer_auth(token), body);
        self.send(request).await
    }

    async fn send(&self, request: RequestBuilder) -> Result<Value, Failure> {
        let response = request.send().await.map_err(|e| {
            Failure::new(
                exit::UNAVAILABLE,
                format!("cannot reach {}: {e}", self.server),
            )
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(body);
        }
        let message = body["message"]
            .as_str()
            .or_else(|| body["error_description"].as_str())
            .map_or_else(|| body.to_string(), str::to_owned);
        let code = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => exit::DENIED,
            StatusCode::NOT_FOUND => exit::NOT_FOUND,
            s if s.is_server_error() => exit::UNAVAILABLE,
            _ => exit::REFUSED,
        };
        Err(Failure::new(
            code,
            format!(
                "{} {}: {message}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ),
        ))
    }
}

fn with_body(request: RequestBuilder, body: Body) -> RequestBuilder {
    match body {
        Body::None => request,
        Body::Json(value) => request.json(&value),
        Body::Wasm(bytes) => request
            .header("content-type", "application/wasm")
            .body(bytes),
    }
}

/// Prints rows as aligned columns under a header.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// A JSON field as a table cell.
pub(crate) fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}
