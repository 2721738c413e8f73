//! Several `claimsmith` processes on one PostgreSQL database: what one node issues works at
//! every other, rotation and reuse detection hold across nodes under races and crashes, a
//! change through one node reaches the others, and a deployment copied from the embedded
//! store keeps its tokens. Each test's database schema is its own, dropped after it.

mod copy;
mod crash;
mod race;
mod sharing;

use claimsmith_tests::postgres_url;
use claimsmith_tests::process::{Process, deployment_dir};
use claimsmith_tests::server::SEED;
use oidc_store_postgres::{PoolSettings, PostgresStore};
use serde_json::Value;

use super::{ALICE, API, OFFLINE, WEB};

/// The test's schema, dropped when the test ends.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    /// Creates (and migrates) the schema `claimsmith_{name}_{pid}`.
    async fn new(name: &str) -> Schema {
        let schema = Schema {
            url: postgres_url(),
            name: format!("claimsmith_{name}_{}", std::process::id()),
        };
        // The database client blocks: it runs off the test's reactor.
        let (url, schema_name) = (schema.url.clone(), schema.name.clone());
        tokio::task::spawn_blocking(move || {
            PostgresStore::open_in_schema(&url, &schema_name, PoolSettings::default())
                .unwrap_or_else(|e| panic!("this test needs PostgreSQL at {url}: {e}"));
        })
        .await
        .expect("the schema is made");
        schema
    }

    /// The `--store` URL of the schema.
    fn store(&self) -> String {
        format!("{}?options=-c%20search_path%3D{}", self.url, self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // The database client blocks: on a thread of its own, off the test's reactor.
        let (url, name) = (self.url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || PostgresStore::drop_schema(&url, &name)).join();
    }
}

/// The operator credential of every node (for `/metrics`).
const OPERATOR_TOKEN: &str = "nodes-operator-token-0123456789-0123456789";

const STRICT: (&str, &str) = ("strict", "strict-secret-0123456789-0123456789-abc");
const WEB_CLIENT: (&str, &str) = (WEB[0].1, WEB[1].1);

fn binary() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_claimsmith-under-test"))
}

/// A node of the deployment in `dir` on `store`, with `extra` arguments.
fn node(dir: &std::path::Path, store: &str, extra: &[&str]) -> Process {
    let seed = dir.join("seed.toml");
    let operator = dir.join("operator-token");
    std::fs::write(&operator, OPERATOR_TOKEN).expect("operator token file");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "--insecure-dev-key".as_ref(),
        "--store".as_ref(),
        store.as_ref(),
        "--seed".as_ref(),
        seed.as_os_str(),
        "--operator-token-file".as_ref(),
        operator.as_os_str(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    Process::start(binary(), &args).expect("the node starts")
}

/// Nodes on a schema of the test's own. Fields drop in order: the nodes stop first, then
/// the directory goes, then the schema.
struct Nodes {
    nodes: Vec<Process>,
    _dir: tempfile::TempDir,
    _schema: Schema,
}

/// `count` nodes on the schema `name`, each started with `extra`.
async fn start(name: &str, count: usize, extra: &[&str]) -> Nodes {
    let schema = Schema::new(name).await;
    let dir = deployment_dir(SEED, "http://nodes.test");
    let store = schema.store();
    let nodes = (0..count)
        .map(|_| node(dir.path(), &store, extra))
        .collect();
    Nodes {
        nodes,
        _dir: dir,
        _schema: schema,
    }
}

/// A token request at `node` with HTTP Basic `client`: status and JSON body.
async fn token(
    http: &reqwest::Client,
    node: &str,
    client: (&str, &str),
    params: &[(&str, String)],
) -> (u16, Value) {
    let response = http
        .post(format!("{node}/t/acme/oauth/token"))
        .basic_auth(client.0, Some(client.1))
        .form(params)
        .send()
        .await
        .expect("the node answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// A password grant for alice with offline access.
fn password_grant() -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("grant_type", "password".to_owned()),
        ("audience", API.to_owned()),
        ("scope", OFFLINE.to_owned()),
    ];
    params.extend(ALICE.iter().map(|(k, v)| (*k, (*v).to_owned())));
    params
}

/// An exchange of the refresh token of `issued`.
fn refresh_grant(issued: &Value) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "refresh_token".to_owned()),
        (
            "refresh_token",
            issued["refresh_token"]
                .as_str()
                .expect("a refresh token")
                .to_owned(),
        ),
    ]
}

/// The status of `/userinfo` at `node` with the access token of `issued`.
async fn userinfo_status(http: &reqwest::Client, node: &str, issued: &Value) -> u16 {
    http.get(format!("{node}/t/acme/userinfo"))
        .bearer_auth(issued["access_token"].as_str().expect("an access token"))
        .send()
        .await
        .expect("the node answers")
        .status()
        .as_u16()
}

/// The OpenMetrics text of `node`.
async fn metrics(http: &reqwest::Client, node: &str) -> String {
    http.get(format!("{node}/metrics"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("the node answers")
        .text()
        .await
        .expect("text")
}

/// The value of the sample `series` (name and labels) in an OpenMetrics text.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}
