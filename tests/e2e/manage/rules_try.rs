//! Trying rules through the API: the outcome, logs, fuel and duration, and nothing stored.

use claimsmith_tests::server::TestServer;
use claimsmith_tests::wat_rule;
use reqwest::Method;
use serde_json::json;

use super::{Api, MANAGER, READER, problem};

fn event(user_id: &str, blocked: bool, protocol: &str) -> serde_json::Value {
    json!({
        "user": {"user_id": user_id, "app_metadata": {"roles": ["editor"], "blocked": blocked}},
        "context": {"protocol": protocol, "clientID": "web", "authorization": {"roles": ["admin"]}},
    })
}

#[tokio::test]
async fn one_rule_or_the_whole_chain_runs_on_a_supplied_event_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let rules = api.get("rules").await.body;
    let id_of = |name: &str| {
        rules
            .as_array()
            .and_then(|all| all.iter().find(|r| r["name"] == json!(name)))
            .and_then(|r| r["id"].as_str())
            .expect("seeded rule")
            .to_owned()
    };
    let checksum = server.store.checksum().expect("checksum");

    let add_roles = id_of("add-roles");
    let reply = api
        .json(
            Method::POST,
            &format!("rules/{add_roles}/try"),
            event("auth0|zed", false, "oauth2-password"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["outcome"]["accessToken"]["https://claimsmith.example/roles"],
        json!(["editor", "admin"])
    );
    let runs = reply.body["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["log"], json!(["auth0|zed has 2 role(s)"]));
    assert!(runs[0]["fuel_used"].as_u64().unwrap_or_default() > 0);
    assert!(reply.body["duration_us"].is_u64());

    // The whole chain, on a refresh of a blocked user: the deny rule stops it.
    let chain = api
        .json(
            Method::POST,
            "rules/try",
            event("auth0|zed", true, "oauth2-refresh-token"),
        )
        .await;
    assert_eq!(
        chain.body["stopped_by"],
        json!("deny-blocked-on-refresh"),
        "{}",
        chain.body
    );
    assert!(chain.body["outcome"]["deny"].is_object());
    assert_eq!(chain.body["runs"].as_array().map(Vec::len), Some(3));

    // A failing rule is reported with the rule and the limit.
    let looping = api
        .upload(
            Method::POST,
            "rules",
            &[("name", "looping"), ("enabled", "false")],
            &wat_rule("(loop $l (br $l))", "{}"),
        )
        .await
        .field("id");
    let checksum_after_upload = server.store.checksum().expect("checksum");
    let failed = api
        .json(
            Method::POST,
            &format!("rules/{looping}/try"),
            event("auth0|zed", false, "oauth2-password"),
        )
        .await;
    let reason = failed.body["failed"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("Rule 'looping' failed:"),
        "{}",
        failed.body
    );
    assert_ne!(checksum, checksum_after_upload);
    assert_eq!(
        server.store.checksum().expect("checksum"),
        checksum_after_upload
    );

    for (path, body, status) in [
        (
            "rules/rul_nope/try",
            event("u", false, "oauth2-password"),
            404,
        ),
        ("rules/try", json!({"user": {}, "extra": 1}), 400),
        ("rules/try", json!({"context": {"protocol": 7}}), 400),
    ] {
        let reply = api.json(Method::POST, path, body).await;
        assert_eq!(problem(&reply).0, status, "{path}: {}", reply.body);
    }
    let reader = Api::new(&server, &READER).await;
    let refused = reader
        .json(
            Method::POST,
            "rules/try",
            event("u", false, "oauth2-password"),
        )
        .await;
    assert_eq!(problem(&refused).1, "insufficient_scope");
}
