//! The remote commands: a thin client over the operator and management APIs. Each prints a
//! table (or the API's JSON with `--json`) and exits with a code from `remote::exit`.

#![allow(
    clippy::indexing_slicing,
    reason = "serde_json indexes a missing key as Null, it never panics; and the CLI is no request path"
)]

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::remote::{Body, Failure, Remote, cell, exit, table};

#[derive(Debug, Subcommand)]
pub(crate) enum Tenants {
    /// Create a tenant; prints its management client's secret, once.
    Create {
        id: String,
        /// Default: `{server}/t/{id}/`.
        #[arg(long)]
        issuer: Option<String>,
        #[arg(long, default_value = "RS256")]
        alg: String,
        /// A host name that addresses the tenant (repeatable).
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
    List,
    /// Delete a tenant and everything it holds.
    Delete {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Rules {
    /// Upload a module: creates the rule, or gives the rule of that name a new version.
    Deploy {
        file: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        order: Option<i64>,
        /// Upload it disabled.
        #[arg(long)]
        disabled: bool,
    },
    List,
    Enable {
        rule: String,
    },
    Disable {
        rule: String,
    },
    Delete {
        rule: String,
    },
    /// Run one rule (or, without one, the whole chain) on an event file `{user, context}`.
    Try {
        rule: Option<String>,
        #[arg(long)]
        event: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Config {
    /// Set a value the rules share (read from stdin with `-`).
    Set {
        key: String,
        value: String,
    },
    Unset {
        key: String,
    },
    /// The keys (values are never shown).
    List,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Tokens {
    /// A user's live refresh tokens.
    List {
        user_id: String,
        #[arg(long)]
        client: Option<String>,
    },
    /// Revoke one refresh token by id, or all of a user's with `--user`.
    Revoke {
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        user: Option<String>,
        #[arg(long, requires = "user")]
        client: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Keys {
    List,
    /// A new signing key signs from now on; the previous stays published.
    Rotate,
    Revoke {
        kid: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Clients {
    List,
    Get {
        id: String,
    },
    /// Create a client; prints its secret, once.
    Create {
        #[arg(long)]
        name: String,
        /// regular_web, non_interactive, native or spa.
        #[arg(long, default_value = "regular_web")]
        app_type: String,
        #[arg(long = "grant")]
        grants: Vec<String>,
        #[arg(long = "callback")]
        callbacks: Vec<String>,
    },
    RotateSecret {
        id: String,
    },
    Delete {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Apis {
    List,
    Create {
        identifier: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Allow refresh tokens for it.
        #[arg(long)]
        offline: bool,
    },
    Delete {
        identifier: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Users {
    List,
    Get {
        id: String,
    },
    /// Create a user; the password comes from CLAIMSMITH_USER_PASSWORD or stdin.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    Block {
        id: String,
    },
    Unblock {
        id: String,
    },
    Delete {
        id: String,
    },
}

fn encode(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

fn print(remote: &Remote, value: &Value, header: &[&str], fields: &[&str], key: Option<&str>) {
    if remote.json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
        return;
    }
    let items = match key {
        Some(key) => value[key].as_array().cloned().unwrap_or_default(),
        None => match value {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        },
    };
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| fields.iter().map(|field| cell(&item[*field])).collect())
        .collect();
    table(header, &rows);
}

fn done(remote: &Remote, value: &Value, what: String) {
    if remote.json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    } else {
        println!("{what}");
    }
}

/// `claimsmith api METHOD PATH [--data JSON]`: one management call, its answer as JSON.
pub(crate) async fn api(
    remote: Remote,
    method: &str,
    path: &str,
    data: Option<String>,
) -> Result<(), Failure> {
    let method = match method.to_ascii_lowercase().as_str() {
        "get" => Method::GET,
        "post" => Method::POST,
        "put" => Method::PUT,
        "patch" => Method::PATCH,
        "delete" => Method::DELETE,
        other => {
            return Err(Failure::new(
                exit::USAGE,
                format!("unknown method {other:?}: use get, post, put, patch or delete"),
            ));
        }
    };
    let body = match data {
        None => Body::None,
        Some(data) => {
            let text = if data == "-" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .map_err(|e| Failure::new(exit::USAGE, format!("cannot read stdin: {e}")))?;
                text
            } else if let Some(file) = data.strip_prefix('@') {
                std::fs::read_to_string(file)
                    .map_err(|e| Failure::new(exit::USAGE, format!("cannot read {file}: {e}")))?
            } else {
                data
            };
            Body::Json(
                serde_json::from_str(&text)
                    .map_err(|e| Failure::new(exit::USAGE, format!("--data is not JSON: {e}")))?,
            )
        }
    };
    let out = remote
        .manage(method, path.trim_start_matches('/'), body)
        .await?;
    if !out.is_null() {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    }
    Ok(())
}

pub(crate) async fn tenants(remote: Remote, command: Tenants) -> Result<(), Failure> {
    match command {
        Tenants::Create {
            id,
            issuer,
            alg,
            hosts,
        } => {
            let issuer = issuer.unwrap_or_else(|| format!("{}/t/{id}/", remote.server));
            let body = json!({ "id": id, "issuer": issuer, "hosts": hosts, "signing_alg": alg });
            let created = remote
                .operate(Method::POST, "tenants", Body::Json(body))
                .await?;
            if remote.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&created).unwrap_or_default()
                );
            } else {
                let management = &created["management"];
                println!("created tenant {id} (issuer {})", cell(&created["issuer"]));
                println!("management client (the secret is shown once; keep it safe):");
                println!("  CLAIMSMITH_TENANT={id}");
                println!("  CLAIMSMITH_CLIENT_ID={}", cell(&management["client_id"]));
                println!(
                    "  CLAIMSMITH_CLIENT_SECRET={}",
                    cell(&management["client_secret"])
                );
            }
        }
        Tenants::List => {
            let all = remote.operate(Method::GET, "tenants", Body::None).await?;
            print(
                &remote,
                &all,
                &["ID", "ISSUER", "ALG", "HOSTS"],
                &["id", "issuer", "signing_alg", "hosts"],
                None,
            );
        }
        Tenants::Delete { id } => {
            let out = remote
                .operate(
                    Method::DELETE,
                    &format!("tenants/{}", encode(&id)),
                    Body::None,
                )
                .await?;
            done(&remote, &out, format!("deleted tenant {id}"));
        }
    }
    Ok(())
}

/// A rule's id from its id or its name.
async fn rule_id(remote: &Remote, rule: &str) -> Result<String, Failure> {
    if rule.starts_with("rul_") {
        return Ok(rule.to_owned());
    }
    let all = remote.manage(Method::GET, "rules", Body::None).await?;
    all.as_array()
        .into_iter()
        .flatten()
        .find(|r| r["name"] == json!(rule))
        .and_then(|r| r["id"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| Failure::new(exit::NOT_FOUND, format!("no rule named {rule:?}")))
}

pub(crate) async fn rules(remote: Remote, command: Rules) -> Result<(), Failure> {
    let fields = ["id", "name", "order", "enabled", "module"];
    match command {
        Rules::Deploy {
            file,
            name,
            order,
            disabled,
        } => {
            let wasm = std::fs::read(&file).map_err(|e| {
                Failure::new(exit::USAGE, format!("cannot read {}: {e}", file.display()))
            })?;
            let existing = rule_id(&remote, &name).await.ok();
            let mut query: Vec<(&str, String)> = Vec::new();
            if let Some(order) = order {
                query.push(("order", order.to_string()));
            }
            if disabled {
                query.push(("enabled", "false".into()));
            }
            let (method, path) = match &existing {
                Some(id) => (Method::PATCH, format!("rules/{id}")),
                None => {
                    query.push(("name", name.clone()));
                    (Method::POST, "rules".to_owned())
                }
            };
            let query: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&query)
                .finish();
            let rule = remote
                .manage(method, &format!("{path}?{query}"), Body::Wasm(wasm))
                .await?;
            let verb = if existing.is_some() {
                "updated"
            } else {
                "deployed"
            };
            done(
                &remote,
                &rule,
                format!(
                    "{verb} rule {name} ({}, order {}, sha256 {})",
                    cell(&rule["id"]),
                    cell(&rule["order"]),
                    cell(&rule["module"]["sha256"])
                ),
            );
        }
        Rules::List => {
            let all = remote.manage(Method::GET, "rules", Body::None).await?;
            if remote.json {
                print(&remote, &all, &[], &fields, None);
            } else {
                let rows: Vec<Vec<String>> = all
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        vec![
                            cell(&r["id"]),
                            cell(&r["name"]),
                            cell(&r["order"]),
                            cell(&r["enabled"]),
                            cell(&r["module"]["size"]),
                            cell(&r["module"]["sha256"]).chars().take(12).collect(),
                        ]
                    })
                    .collect();
                table(
                    &["ID", "NAME", "ORDER", "ENABLED", "BYTES", "SHA256"],
                    &rows,
                );
            }
        }
        Rules::Enable { rule } => switch(&remote, &rule, true).await?,
        Rules::Disable { rule } => switch(&remote, &rule, false).await?,
        Rules::Delete { rule } => {
            let id = rule_id(&remote, &rule).await?;
            let out = remote
                .manage(Method::DELETE, &format!("rules/{id}"), Body::None)
                .await?;
            done(&remote, &out, format!("deleted rule {rule}"));
        }
        Rules::Try { rule, event } => {
            let text = std::fs::read_to_string(&event).map_err(|e| {
                Failure::new(exit::USAGE, format!("cannot read {}: {e}", event.display()))
            })?;
            let body: Value = serde_json::from_str(&text).map_err(|e| {
                Failure::new(exit::USAGE, format!("{} is not JSON: {e}", event.display()))
            })?;
            let path = match rule {
                Some(rule) => format!("rules/{}/try", rule_id(&remote, &rule).await?),
                None => "rules/try".to_owned(),
            };
            let out = remote.manage(Method::POST, &path, Body::Json(body)).await?;
            if remote.json {
                println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else {
                for run in out["runs"].as_array().into_iter().flatten() {
                    println!(
                        "{}: {} fuel, {} µs",
                        cell(&run["rule"]),
                        cell(&run["fuel_used"]),
                        cell(&run["duration_us"])
                    );
                    for line in run["log"].as_array().into_iter().flatten() {
                        println!("  log: {}", cell(line));
                    }
                }
                match out.get("failed") {
                    Some(failed) => println!("failed: {}", cell(failed)),
                    None => println!(
                        "outcome: {}",
                        serde_json::to_string_pretty(&out["outcome"]).unwrap_or_default()
                    ),
                }
            }
        }
    }
    Ok(())
}

async fn switch(remote: &Remote, rule: &str, enabled: bool) -> Result<(), Failure> {
    let id = rule_id(remote, rule).await?;
    let out = remote
        .manage(
            Method::PATCH,
            &format!("rules/{id}"),
            Body::Json(json!({ "enabled": enabled })),
        )
        .await?;
    let state = if enabled { "enabled" } else { "disabled" };
    done(remote, &out, format!("{state} rule {rule}"));
    Ok(())
}

pub(crate) async fn config(remote: Remote, command: Config) -> Result<(), Failure> {
    match command {
        Config::Set { key, value } => {
            let value = if value == "-" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .map_err(|e| Failure::new(exit::USAGE, format!("cannot read stdin: {e}")))?;
                text.trim_end_matches('\n').to_owned()
            } else {
                value
            };
            let path = format!("rules-configs/{}", encode(&key));
            let out = remote
                .manage(Method::PUT, &path, Body::Json(json!({ "value": value })))
                .await?;
            done(&remote, &out, format!("set {key}"));
        }
        Config::Unset { key } => {
            let path = format!("rules-configs/{}", encode(&key));
            let out = remote.manage(Method::DELETE, &path, Body::None).await?;
            done(&remote, &out, format!("unset {key}"));
        }
        Config::List => {
            let keys = remote
                .manage(Method::GET, "rules-configs", Body::None)
                .await?;
            print(&remote, &keys, &["KEY"], &["key"], None);
        }
    }
    Ok(())
}

pub(crate) async fn tokens(remote: Remote, command: Tokens) -> Result<(), Failure> {
    match command {
        Tokens::List { user_id, client } => {
            let mut path = format!("users/{}/refresh-tokens", encode(&user_id));
            if let Some(client) = client {
                path.push_str(&format!("?client_id={}", encode(&client)));
            }
            let out = remote.manage(Method::GET, &path, Body::None).await?;
            print(
                &remote,
                &out,
                &[
                    "ID",
                    "CLIENT",
                    "CREATED",
                    "LAST USED",
                    "EXPIRES",
                    "ROTATING",
                ],
                &[
                    "id",
                    "client_id",
                    "created_at",
                    "last_exchanged_at",
                    "expires_at",
                    "rotating",
                ],
                Some("tokens"),
            );
        }
        Tokens::Revoke { id: Some(id), .. } => {
            let out = remote
                .manage(
                    Method::DELETE,
                    &format!("refresh-tokens/{}", encode(&id)),
                    Body::None,
                )
                .await?;
            done(&remote, &out, format!("revoked {id}"));
        }
        Tokens::Revoke {
            id: None,
            user: Some(user),
            client,
        } => {
            let mut path = format!("users/{}/refresh-tokens", encode(&user));
            if let Some(client) = &client {
                path.push_str(&format!("?client_id={}", encode(client)));
            }
            let out = remote.manage(Method::DELETE, &path, Body::None).await?;
            done(
                &remote,
                &out,
                format!("revoked the refresh tokens of {user}"),
            );
        }
        Tokens::Revoke { .. } => {
            return Err(Failure::new(
                exit::USAGE,
                "give a token id, or --user USER_ID",
            ));
        }
    }
    Ok(())
}

pub(crate) async fn keys(remote: Remote, command: Keys) -> Result<(), Failure> {
    match command {
        Keys::List => {
            let out = remote
                .manage(Method::GET, "keys/signing", Body::None)
                .await?;
            print(
                &remote,
                &out,
                &["KID", "ALG", "CREATED", "CURRENT"],
                &["kid", "alg", "created_at", "current"],
                None,
            );
        }
        Keys::Rotate => {
            let out = remote
                .manage(Method::POST, "keys/signing/rotate", Body::None)
                .await?;
            done(
                &remote,
                &out,
                format!("rotated: {} signs from now on", cell(&out["kid"])),
            );
        }
        Keys::Revoke { kid } => {
            let path = format!("keys/signing/{}/revoke", encode(&kid));
            let out = remote.manage(Method::PUT, &path, Body::None).await?;
            done(&remote, &out, format!("revoked {kid}"));
        }
    }
    Ok(())
}

pub(crate) async fn clients(remote: Remote, command: Clients) -> Result<(), Failure> {
    let header = ["CLIENT ID", "NAME", "TYPE", "GRANTS"];
    let fields = ["client_id", "name", "app_type", "grant_types"];
    match command {
        Clients::List => {
            let out = remote.manage(Method::GET, "clients", Body::None).await?;
            print(&remote, &out, &header, &fields, None);
        }
        Clients::Get { id } => {
            let out = remote
                .manage(Method::GET, &format!("clients/{}", encode(&id)), Body::None)
                .await?;
            print(&remote, &out, &header, &fields, None);
        }
        Clients::Create {
            name,
            app_type,
            grants,
            callbacks,
        } => {
            let mut body = json!({ "name": name, "app_type": app_type, "callbacks": callbacks });
            if !grants.is_empty() {
                body["grant_types"] = json!(grants);
            }
            let out = remote
                .manage(Method::POST, "clients", Body::Json(body))
                .await?;
            let secret = out["client_secret"]
                .as_str()
                .map(|s| format!("\nclient_secret {s} (shown once)"))
                .unwrap_or_default();
            done(
                &remote,
                &out,
                format!("created client {}{secret}", cell(&out["client_id"])),
            );
        }
        Clients::RotateSecret { id } => {
            let path = format!("clients/{}/rotate-secret", encode(&id));
            let out = remote.manage(Method::POST, &path, Body::None).await?;
            done(
                &remote,
                &out,
                format!("client_secret {} (shown once)", cell(&out["client_secret"])),
            );
        }
        Clients::Delete { id } => {
            let out = remote
                .manage(
                    Method::DELETE,
                    &format!("clients/{}", encode(&id)),
                    Body::None,
                )
                .await?;
            done(&remote, &out, format!("deleted client {id}"));
        }
    }
    Ok(())
}

pub(crate) async fn apis(remote: Remote, command: Apis) -> Result<(), Failure> {
    match command {
        Apis::List => {
            let out = remote
                .manage(Method::GET, "resource-servers", Body::None)
                .await?;
            if remote.json {
                print(&remote, &out, &[], &[], None);
            } else {
                let rows: Vec<Vec<String>> = out
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|api| {
                        let scopes: Vec<String> = api["scopes"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|s| cell(&s["value"]))
                            .collect();
                        vec![
                            cell(&api["identifier"]),
                            cell(&api["name"]),
                            cell(&api["allow_offline_access"]),
                            scopes.join(" "),
                        ]
                    })
                    .collect();
                table(&["IDENTIFIER", "NAME", "OFFLINE", "SCOPES"], &rows);
            }
        }
        Apis::Create {
            identifier,
            name,
            scopes,
            offline,
        } => {
            let scopes: Vec<Value> = scopes.iter().map(|s| json!({ "value": s })).collect();
            let body = json!({
                "identifier": identifier, "name": name.unwrap_or_else(|| identifier.clone()),
                "scopes": scopes, "allow_offline_access": offline,
            });
            let out = remote
                .manage(Method::POST, "resource-servers", Body::Json(body))
                .await?;
            done(&remote, &out, format!("created API {identifier}"));
        }
        Apis::Delete { identifier } => {
            let path = format!("resource-servers/{}", encode(&identifier));
            let out = remote.manage(Method::DELETE, &path, Body::None).await?;
            done(&remote, &out, format!("deleted API {identifier}"));
        }
    }
    Ok(())
}

pub(crate) async fn users(remote: Remote, command: Users) -> Result<(), Failure> {
    let header = ["USER ID", "EMAIL", "NAME", "BLOCKED", "LOGINS"];
    let fields = ["user_id", "email", "name", "blocked", "logins_count"];
    match command {
        Users::List => {
            let out = remote.manage(Method::GET, "users", Body::None).await?;
            print(&remote, &out, &header, &fields, None);
        }
        Users::Get { id } => {
            let out = remote
                .manage(Method::GET, &format!("users/{}", encode(&id)), Body::None)
                .await?;
            print(&remote, &out, &header, &fields, None);
        }
        Users::Create { email, name, roles } => {
            let password = match std::env::var("CLAIMSMITH_USER_PASSWORD") {
                Ok(password) => password,
                Err(_) => {
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(
                        |e| {
                            Failure::new(
                                exit::USAGE,
                                format!("cannot read the password from stdin: {e}"),
                            )
                        },
                    )?;
                    text.trim_end_matches('\n').to_owned()
                }
            };
            let body =
                json!({ "email": email, "name": name, "roles": roles, "password": password });
            let out = remote
                .manage(Method::POST, "users", Body::Json(body))
                .await?;
            done(
                &remote,
                &out,
                format!("created user {}", cell(&out["user_id"])),
            );
        }
        Users::Block { id } => block(&remote, &id, true).await?,
        Users::Unblock { id } => block(&remote, &id, false).await?,
        Users::Delete { id } => {
            let out = remote
                .manage(
                    Method::DELETE,
                    &format!("users/{}", encode(&id)),
                    Body::None,
                )
                .await?;
            done(&remote, &out, format!("deleted user {id}"));
        }
    }
    Ok(())
}

async fn block(remote: &Remote, id: &str, blocked: bool) -> Result<(), Failure> {
    let path = format!("users/{}", encode(id));
    let out = remote
        .manage(
            Method::PATCH,
            &path,
            Body::Json(json!({ "blocked": blocked })),
        )
        .await?;
    let state = if blocked {
        "blocked (its refresh tokens are revoked)"
    } else {
        "unblocked"
    };
    done(remote, &out, format!("{id} {state}"));
    Ok(())
}

/// `claimsmith logs`: the newest events, or with `--follow`, every new event as it comes.
pub(crate) async fn logs(
    remote: Remote,
    follow: bool,
    kind: Option<String>,
    user: Option<String>,
) -> Result<(), Failure> {
    let mut filters = form_urlencoded::Serializer::new(String::new());
    if let Some(kind) = &kind {
        filters.append_pair("type", kind);
    }
    if let Some(user) = &user {
        filters.append_pair("user_id", user);
    }
    let filters = filters.finish();
    let show = |event: &Value| {
        if remote.json {
            println!("{event}");
        } else {
            println!(
                "{}  {:<16} {:<20} {:<24} {}",
                cell(&event["date"]),
                cell(&event["type"]),
                cell(&event["client_id"]),
                cell(&event["user_id"]),
                cell(&event["description"])
            );
        }
    };
    let newest = remote
        .manage(
            Method::GET,
            &format!("logs?per_page=50&{filters}"),
            Body::None,
        )
        .await?;
    let mut events: Vec<Value> = newest.as_array().cloned().unwrap_or_default();
    events.reverse();
    for event in &events {
        show(event);
    }
    if !follow {
        return Ok(());
    }
    let mut checkpoint = events
        .last()
        .and_then(|e| e["log_id"].as_str())
        .map_or_else(|| "0".to_owned(), str::to_owned);
    loop {
        let path = format!("logs?from={}&take=100&{filters}", encode(&checkpoint));
        let batch = remote.manage(Method::GET, &path, Body::None).await?;
        let batch = batch.as_array().cloned().unwrap_or_default();
        for event in &batch {
            show(event);
        }
        match batch.last().and_then(|e| e["log_id"].as_str()) {
            Some(last) => checkpoint = last.to_owned(),
            None => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}
