//! Two nodes share tokens, rotation and reuse detection; a change through one reaches the
//! other by the database's announcement, not by waiting for the timer.

use std::time::{Duration, Instant};

use super::*;

#[tokio::test]
async fn two_nodes_on_one_database_share_tokens_rotation_and_reuse_detection() {
    let fleet = start("tokens", 2, &[]).await;
    let (a, b) = (&fleet.nodes[0].addr, &fleet.nodes[1].addr);
    let http = claimsmith_tests::http();
    // `web` rotates with a 10 s overlap; `strict` rotates without one.
    let (status, first) = token(&http, a, WEB_CLIENT, &password_grant()).await;
    assert_eq!(status, 200, "{first}");

    // Minted by A, accepted by B.
    assert_eq!(userinfo_status(&http, b, &first).await, 200);

    // Rotated at B; retried at A inside the overlap window: the same successor.
    let (status, second) = token(&http, b, WEB_CLIENT, &refresh_grant(&first)).await;
    assert_eq!(status, 200, "{second}");
    let (status, retried) = token(&http, a, WEB_CLIENT, &refresh_grant(&first)).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["refresh_token"], second["refresh_token"]);

    // Without an overlap, the old token at A is reuse, and kills the family on B at once.
    let (status, strict) = token(&http, a, STRICT, &password_grant()).await;
    assert_eq!(status, 200, "{strict}");
    let (status, next) = token(&http, b, STRICT, &refresh_grant(&strict)).await;
    assert_eq!(status, 200, "{next}");
    let (status, reuse) = token(&http, a, STRICT, &refresh_grant(&strict)).await;
    assert_eq!(
        (status, reuse["error"].as_str()),
        (403, Some("invalid_grant")),
        "{reuse}"
    );
    let (status, dead) = token(&http, b, STRICT, &refresh_grant(&next)).await;
    assert_eq!(
        (status, dead["error"].as_str()),
        (403, Some("invalid_grant")),
        "{dead}"
    );

    // A's metrics: the reuse it detected, its pool, its store calls.
    let text = metrics(&http, a).await;
    let reuse = r#"claimsmith_log_events_total{tenant="acme",type="ferrt"}"#;
    assert_eq!(sample(&text, reuse), 1.0);
    assert_eq!(sample(&text, "claimsmith_store_pool_max_connections"), 16.0);
    assert!(sample(&text, "claimsmith_store_pool_connections") >= 1.0);
    let applies = r#"claimsmith_store_operation_duration_seconds_count{operation="apply"}"#;
    assert!(sample(&text, applies) >= 3.0, "{text}");
}

/// A management API token from `node`.
async fn management_token(http: &reqwest::Client, node: &str) -> String {
    let management = http
        .post(format!("{node}/t/acme/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "manager"),
            ("client_secret", "manager-secret-0123456789-0123456789-ab"),
            ("audience", "http://nodes.test/t/acme/api/v2/"),
        ])
        .send()
        .await
        .expect("the node answers")
        .json::<Value>()
        .await
        .expect("JSON");
    management["access_token"]
        .as_str()
        .expect("a management token")
        .to_owned()
}

/// Sets the tenant's `CLAIMS_NAMESPACE` through `node`'s management API.
async fn set_namespace(http: &reqwest::Client, node: &str, namespace: &str) {
    let bearer = management_token(http, node).await;
    let set = http
        .put(format!(
            "{node}/t/acme/api/v2/rules-configs/CLAIMS_NAMESPACE"
        ))
        .bearer_auth(&bearer)
        .json(&serde_json::json!({ "value": namespace }))
        .send()
        .await
        .expect("the node answers");
    assert_eq!(set.status().as_u16(), 200);
}

/// Logs in at `node` until its ID tokens carry roles under `namespace`: how long that took.
async fn until_namespaced(http: &reqwest::Client, node: &str, namespace: &str) -> Duration {
    let changed_at = Instant::now();
    let claim = format!("{namespace}roles");
    loop {
        let (status, issued) = token(http, node, WEB_CLIENT, &password_grant()).await;
        assert_eq!(status, 200, "{issued}");
        let id =
            claimsmith_tests::server::claims(issued["id_token"].as_str().expect("an ID token"));
        if id.get(&claim).is_some() {
            return changed_at.elapsed();
        }
        assert!(
            changed_at.elapsed() < Duration::from_secs(10),
            "{node} still issues the old claims: {id}"
        );
    }
}

#[tokio::test]
async fn a_rule_configuration_changed_through_one_node_changes_the_tokens_of_the_other() {
    // The fallback read is a minute away: only the announcement can bring the change in time.
    let fleet = start("propagation", 2, &["--watch-every-secs", "60"]).await;
    let (a, b) = (&fleet.nodes[0].addr, &fleet.nodes[1].addr);
    let http = claimsmith_tests::http();
    set_namespace(&http, a, "https://nodes.example/").await;
    let took = until_namespaced(&http, b, "https://nodes.example/").await;
    eprintln!("a change through node A reached node B's tokens in {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn a_node_whose_listening_connection_is_cut_catches_up_at_once() {
    let fleet = start("relisten", 2, &["--watch-every-secs", "60"]).await;
    let (a, b) = (&fleet.nodes[0].addr, &fleet.nodes[1].addr);
    let http = claimsmith_tests::http();
    // Cut both nodes' listening connections from the database's side, as a failover would.
    let url = postgres_url();
    let cut = tokio::task::spawn_blocking(move || {
        let mut db = postgres::Client::connect(&url, postgres::NoTls).expect("PostgreSQL");
        let listeners = "SELECT pid FROM pg_stat_activity \
                         WHERE application_name = 'claimsmith-listener' AND query LIKE $1";
        let channel = "LISTEN \"claimsmith_changes_claimsmith_relisten_%";
        let started = Instant::now();
        // Each node opens its listener in its first watch round, just after it starts.
        while db.query(listeners, &[&channel]).expect("query").len() < 2 {
            assert!(started.elapsed() < Duration::from_secs(10), "no listeners");
        }
        let cut = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                   WHERE application_name = 'claimsmith-listener' AND query LIKE $1";
        db.query(cut, &[&channel]).expect("terminated").len()
    })
    .await
    .expect("the listeners are cut");
    assert_eq!(cut, 2);
    // The change is announced while B may still be reconnecting: B reads what it missed.
    set_namespace(&http, a, "https://after-cut.example/").await;
    let took = until_namespaced(&http, b, "https://after-cut.example/").await;
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// A client-credentials grant for `client` at `node`: the status.
async fn client_credentials(http: &reqwest::Client, node: &str, client: (&str, &str)) -> u16 {
    let params = [
        ("grant_type", "client_credentials".to_owned()),
        ("audience", "http://nodes.test/t/acme/api/v2/".to_owned()),
    ];
    token(http, node, client, &params).await.0
}

#[tokio::test]
async fn a_client_secret_rotated_through_one_node_is_the_only_one_the_other_accepts() {
    let fleet = start("secrets", 2, &["--watch-every-secs", "60"]).await;
    let (a, b) = (&fleet.nodes[0].addr, &fleet.nodes[1].addr);
    let http = claimsmith_tests::http();
    let old = ("rule-reader", "reader-secret-0123456789-0123456789-abc");
    // B has the client in its cache now.
    assert_eq!(client_credentials(&http, b, old).await, 200);

    let bearer = management_token(&http, a).await;
    let rotated: Value = http
        .post(format!(
            "{a}/t/acme/api/v2/clients/rule-reader/rotate-secret"
        ))
        .bearer_auth(&bearer)
        .send()
        .await
        .expect("A answers")
        .json()
        .await
        .expect("JSON");
    let secret = rotated["client_secret"].as_str().expect("the new secret");
    let new = ("rule-reader", secret);
    // B drops its cached client when the change is announced: the old secret stops working.
    let changed_at = Instant::now();
    while client_credentials(&http, b, old).await != 401 {
        assert!(
            changed_at.elapsed() < Duration::from_secs(5),
            "B still accepts the old secret"
        );
    }
    assert_eq!(client_credentials(&http, b, new).await, 200);
    assert_eq!(client_credentials(&http, a, old).await, 401);
}

/// The key ids `node` publishes for the tenant.
async fn published_kids(http: &reqwest::Client, node: &str) -> Vec<String> {
    let jwks: Value = http
        .get(format!("{node}/t/acme/.well-known/jwks.json"))
        .send()
        .await
        .expect("the node answers")
        .json()
        .await
        .expect("JSON");
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| key["kid"].as_str().expect("a kid").to_owned())
        .collect()
}

#[tokio::test]
async fn a_signing_key_rotated_through_one_node_is_published_and_accepted_by_the_other() {
    let fleet = start("keys", 2, &["--watch-every-secs", "60"]).await;
    let (a, b) = (&fleet.nodes[0].addr, &fleet.nodes[1].addr);
    let http = claimsmith_tests::http();
    let before = published_kids(&http, b).await;
    let bearer = management_token(&http, a).await;
    let rotated: Value = http
        .post(format!("{a}/t/acme/api/v2/keys/signing/rotate"))
        .bearer_auth(&bearer)
        .send()
        .await
        .expect("A answers")
        .json()
        .await
        .expect("JSON");
    let kid = rotated["kid"]
        .as_str()
        .expect("the new key's id")
        .to_owned();
    assert!(!before.contains(&kid));
    let changed_at = Instant::now();
    while !published_kids(&http, b).await.contains(&kid) {
        assert!(
            changed_at.elapsed() < Duration::from_secs(5),
            "B does not publish {kid}"
        );
    }
    // A signs with the new key now; B accepts what A signs, and signs with it too.
    let (status, issued) = token(&http, a, WEB_CLIENT, &password_grant()).await;
    assert_eq!(status, 200, "{issued}");
    let header = issued["access_token"].as_str().expect("a JWT");
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            header.split('.').next().expect("a header"),
        )
        .expect("base64url"),
    )
    .expect("JSON");
    assert_eq!(header["kid"].as_str(), Some(kid.as_str()));
    assert_eq!(userinfo_status(&http, b, &issued).await, 200);
}
