//! Several `claimsmith` processes on one PostgreSQL database: a token minted by one node
//! works at another, a rotation on one is seen by the other, and a reuse on one kills the
//! family everywhere. The database schema is the test's own, dropped after it.

use claimsmith_tests::process::{Process, deployment_dir};
use claimsmith_tests::server::SEED;
use oidc_store_postgres::{PoolSettings, PostgresStore};

use super::{ALICE, API, OFFLINE, WEB};

fn postgres_url() -> String {
    std::env::var("CLAIMSMITH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The test's schema, dropped when the test ends.
struct Schema {
    url: String,
    name: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        // The database client blocks: on a thread of its own, off the test's reactor.
        let (url, name) = (self.url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || PostgresStore::drop_schema(&url, &name)).join();
    }
}

const STRICT: (&str, &str) = ("strict", "strict-secret-0123456789-0123456789-abc");

fn node(dir: &std::path::Path, store: &str) -> Process {
    let seed = dir.join("seed.toml");
    Process::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_claimsmith-under-test")),
        &[
            "--insecure-dev-key".as_ref(),
            "--store".as_ref(),
            store.as_ref(),
            "--seed".as_ref(),
            seed.as_os_str(),
        ],
    )
    .expect("the node starts")
}

/// Two nodes on a schema of the test's own. Fields drop in order: the nodes stop first, then
/// the directory goes, then the schema.
struct Nodes {
    a: Process,
    b: Process,
    _dir: tempfile::TempDir,
    _schema: Schema,
}

async fn two_nodes(name: &str) -> Nodes {
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
    let store = format!("{}?options=-c%20search_path%3D{}", schema.url, schema.name);
    let dir = deployment_dir(SEED, "http://nodes.test");
    let a = node(dir.path(), &store);
    let b = node(dir.path(), &store);
    Nodes {
        a,
        b,
        _dir: dir,
        _schema: schema,
    }
}

#[tokio::test]
async fn two_nodes_on_one_database_share_tokens_rotation_and_reuse_detection() {
    let Nodes { a, b, .. } = &two_nodes("tokens").await;
    let http = claimsmith_tests::http();
    // `web` rotates with a 10 s overlap; `strict` (HTTP Basic) rotates without one.
    let token = |node: &Process, client: (&str, &str), params: Vec<(&'static str, String)>| {
        let request = http
            .post(format!("{}/t/acme/oauth/token", node.addr))
            .basic_auth(client.0, Some(client.1))
            .form(&params);
        async move {
            let response = request.send().await.expect("the node answers");
            let status = response.status().as_u16();
            (
                status,
                response
                    .json::<serde_json::Value>()
                    .await
                    .unwrap_or_default(),
            )
        }
    };
    let login = || {
        let mut params = vec![
            ("grant_type", "password".to_owned()),
            ("audience", API.to_owned()),
            ("scope", OFFLINE.to_owned()),
        ];
        params.extend(ALICE.iter().map(|(k, v)| (*k, (*v).to_owned())));
        params
    };
    let refresh = |token: &serde_json::Value| {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            (
                "refresh_token",
                token["refresh_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ),
        ]
    };
    let web = (WEB[0].1, WEB[1].1);
    let (status, first) = token(a, web, login()).await;
    assert_eq!(status, 200, "{first}");

    // Minted by A, accepted by B.
    let userinfo = http
        .get(format!("{}/t/acme/userinfo", b.addr))
        .bearer_auth(first["access_token"].as_str().unwrap())
        .send()
        .await
        .expect("B answers");
    assert_eq!(userinfo.status().as_u16(), 200);

    // Rotated at B; retried at A inside the overlap window: the same successor.
    let (status, second) = token(b, web, refresh(&first)).await;
    assert_eq!(status, 200, "{second}");
    let (status, retried) = token(a, web, refresh(&first)).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["refresh_token"], second["refresh_token"]);

    // Without an overlap, the old token at A is reuse, and kills the family on B too.
    let (status, strict) = token(a, STRICT, login()).await;
    assert_eq!(status, 200, "{strict}");
    let (status, next) = token(b, STRICT, refresh(&strict)).await;
    assert_eq!(status, 200, "{next}");
    let (status, reuse) = token(a, STRICT, refresh(&strict)).await;
    assert_eq!(
        (status, reuse["error"].as_str()),
        (403, Some("invalid_grant")),
        "{reuse}"
    );
    let (status, dead) = token(b, STRICT, refresh(&next)).await;
    assert_eq!(
        (status, dead["error"].as_str()),
        (403, Some("invalid_grant")),
        "{dead}"
    );
}

#[tokio::test]
async fn a_rule_configuration_changed_through_one_node_changes_the_tokens_of_the_other() {
    let Nodes { a, b, .. } = &two_nodes("propagation").await;
    let http = claimsmith_tests::http();
    let management = http
        .post(format!("{}/t/acme/oauth/token", a.addr))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "manager"),
            ("client_secret", "manager-secret-0123456789-0123456789-ab"),
            ("audience", "http://nodes.test/t/acme/api/v2/"),
        ])
        .send()
        .await
        .expect("A answers")
        .json::<serde_json::Value>()
        .await
        .expect("JSON");
    let bearer = management["access_token"]
        .as_str()
        .expect("a management token")
        .to_owned();
    let set = http
        .put(format!(
            "{}/t/acme/api/v2/rules-configs/CLAIMS_NAMESPACE",
            a.addr
        ))
        .bearer_auth(&bearer)
        .json(&serde_json::json!({ "value": "https://nodes.example/" }))
        .send()
        .await
        .expect("A answers");
    assert_eq!(set.status().as_u16(), 200);
    let changed_at = std::time::Instant::now();

    // B has not been told; it looks for changes once a second. Its tokens follow.
    let mut login = vec![
        ("grant_type", "password".to_owned()),
        ("audience", API.to_owned()),
        ("scope", OFFLINE.to_owned()),
        ("client_id", WEB[0].1.to_owned()),
        ("client_secret", WEB[1].1.to_owned()),
    ];
    login.extend(ALICE.iter().map(|(k, v)| (*k, (*v).to_owned())));
    loop {
        let issued = http
            .post(format!("{}/t/acme/oauth/token", b.addr))
            .form(&login)
            .send()
            .await
            .expect("B answers")
            .json::<serde_json::Value>()
            .await
            .expect("JSON");
        let id =
            claimsmith_tests::server::claims(issued["id_token"].as_str().expect("an ID token"));
        if id.get("https://nodes.example/roles").is_some() {
            break;
        }
        assert!(
            changed_at.elapsed() < std::time::Duration::from_secs(5),
            "B still issues the old claims: {id}"
        );
    }
    let took = changed_at.elapsed();
    assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
}
