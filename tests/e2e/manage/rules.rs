//! Rules uploaded, changed and deleted through the management API, and what the next token
//! exchange sees.

use claimsmith_tests::server::{TestServer, claims};
use claimsmith_tests::{hostile_uploads, wat_rule};
use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Api, MANAGER, multipart, problem};
use crate::token::{OFFLINE, WEB, login, refresh};

/// A rule that sets `https://x.test/version` on the access token.
fn versioned(version: u32) -> Vec<u8> {
    wat_rule(
        "",
        &format!(r#"{{"accessToken":{{"https://x.test/version":{version}}}}}"#),
    )
}

const CLAIM: &str = "https://x.test/version";

#[tokio::test]
async fn a_rule_changed_through_the_api_changes_the_next_refresh_without_a_new_login() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let mut token = login(&server, &WEB, OFFLINE).await.field("refresh_token");
    let mut next = async |server: &TestServer| {
        let reply = refresh(server, &WEB, &token).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        token = reply.field("refresh_token");
        claims(&reply.field("access_token"))[CLAIM].clone()
    };
    assert_eq!(next(&server).await, json!(null));

    let v1 = versioned(1);
    let created = api
        .upload(
            Method::POST,
            "rules",
            &[("name", "Add version"), ("order", "50")],
            &v1,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.field("id");
    assert!(id.starts_with("rul_"));
    let sha = format!("{:x}", Sha256::digest(&v1));
    assert_eq!(created.body["module"]["sha256"], json!(sha));
    assert_eq!(created.body["module"]["size"], json!(v1.len()));
    assert_eq!(created.body["module"]["abi_version"], json!(1));
    assert_eq!(created.body["order"], json!(50));
    assert_eq!(created.body["enabled"], json!(true));
    assert_eq!(
        created.body["created_at"],
        json!("2026-11-27T12:00:00.000Z")
    );
    assert_eq!(next(&server).await, json!(1));

    let updated = api
        .upload(Method::PATCH, &format!("rules/{id}"), &[], &versioned(2))
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["name"], json!("Add version"));
    assert_eq!(next(&server).await, json!(2));

    let disabled = api
        .json(
            Method::PATCH,
            &format!("rules/{id}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(disabled.body["enabled"], json!(false), "{}", disabled.body);
    assert_eq!(next(&server).await, json!(null));
    let enabled = api
        .json(
            Method::PATCH,
            &format!("rules/{id}"),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(enabled.status, 200);
    assert_eq!(next(&server).await, json!(2));

    assert_eq!(api.delete(&format!("rules/{id}")).await.status, 204);
    assert_eq!(next(&server).await, json!(null));
    let gone = api.get(&format!("rules/{id}")).await;
    assert_eq!(problem(&gone).0, 404);
    assert_eq!(problem(&gone).1, "inexistent_rule");
    assert_eq!(problem(&api.delete(&format!("rules/{id}")).await).0, 404);

    // The changes are in the store, not only in memory: they survive a restart.
    let id = api
        .upload(
            Method::POST,
            "rules",
            &[("name", "After restart")],
            &versioned(3),
        )
        .await
        .field("id");
    drop(api);
    let server = server.restart_with_seed("").await;
    let reply = refresh(&server, &WEB, &token).await;
    assert_eq!(claims(&reply.field("access_token"))[CLAIM], json!(3));
    token = reply.field("refresh_token");
    let api = Api::new(&server, &MANAGER).await;
    assert_eq!(
        api.get(&format!("rules/{id}")).await.body["order"],
        json!(41)
    );
    drop(api);
    // A seed owns the tenants it declares: applied again, it deletes the rule it does not
    // declare, and that rule stops running.
    let server = server
        .restart_with_seed(claimsmith_tests::server::SEED)
        .await;
    let reply = refresh(&server, &WEB, &token).await;
    assert_eq!(claims(&reply.field("access_token"))[CLAIM], json!(null));
    let api = Api::new(&server, &MANAGER).await;
    assert_eq!(problem(&api.get(&format!("rules/{id}")).await).0, 404);
}

#[tokio::test]
async fn rules_are_listed_in_order_with_auth0_pagination() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let all = api.get("rules").await;
    let names: Vec<&str> = all
        .body
        .as_array()
        .expect("a list")
        .iter()
        .map(|rule| rule["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            "add-roles",
            "client-metadata-claims",
            "deny-blocked-on-refresh",
            "scopes-by-role"
        ]
    );
    let page = api.get("rules?page=1&per_page=3&include_totals=true").await;
    assert_eq!(page.body["total"], json!(4), "{}", page.body);
    assert_eq!(page.body["start"], json!(3));
    assert_eq!(page.body["limit"], json!(3));
    assert_eq!(page.body["length"], json!(1));
    assert_eq!(page.body["rules"][0]["name"], json!("scopes-by-role"));
    let disabled = api.get("rules?enabled=false").await;
    assert_eq!(disabled.body, json!([]));
    for bad in [
        "rules?per_page=0",
        "rules?per_page=101",
        "rules?page=x",
        "rules?surprise=1",
    ] {
        let reply = api.get(bad).await;
        assert_eq!(problem(&reply).0, 400, "{bad}: {}", reply.body);
        assert_eq!(problem(&reply).1, "invalid_query_string");
    }
}

#[tokio::test]
async fn a_rule_can_be_uploaded_as_a_form() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let wasm = versioned(7);
    let (content_type, body) = multipart(&[
        ("name", b"From a form"),
        ("order", b"5"),
        ("enabled", b"false"),
        ("module", &wasm),
    ]);
    let request = server
        .http
        .post(api.url("rules"))
        .header("content-type", content_type)
        .body(body);
    let created = api.send(request).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["order"], json!(5));
    assert_eq!(created.body["enabled"], json!(false));
    assert_eq!(created.body["module"]["size"], json!(wasm.len()));
}

#[tokio::test]
async fn every_hostile_module_is_refused_at_upload_with_its_reason_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let before = api.get("rules").await.body;
    let checksum = server.store.checksum().expect("checksum");
    for (name, wasm, reason) in hostile_uploads() {
        let reply = api
            .upload(Method::POST, "rules", &[("name", "hostile")], &wasm)
            .await;
        let (status, code, message) = problem(&reply);
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_body"),
            "{name}: {message}"
        );
        assert!(message.contains(reason), "{name}: {message}");
    }
    assert_eq!(api.get("rules").await.body, before);
    assert_eq!(server.store.checksum().expect("checksum"), checksum);
}

#[tokio::test]
async fn names_and_orders_are_checked_as_auth0_does() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let wasm = versioned(1);
    type Query<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Query<'_>, u16, &str); 5] = [
        (&[("name", "add-roles")], 409, "already exists"),
        (
            &[("name", "dup order"), ("order", "10")],
            400,
            "already has order 10",
        ),
        (&[("name", "bad;name")], 400, "is invalid"),
        (&[("name", " padded")], 400, "is invalid"),
        (&[], 400, "needs a name"),
    ];
    for (query, status, phrase) in cases {
        let reply = api.upload(Method::POST, "rules", query, &wasm).await;
        let (got, _, message) = problem(&reply);
        assert_eq!(got, status, "{query:?}: {message}");
        assert!(message.contains(phrase), "{query:?}: {message}");
    }
    let json_body = api
        .json(
            Method::POST,
            "rules",
            json!({"name": "js", "script": "function(){}"}),
        )
        .await;
    assert_eq!(problem(&json_body).0, 415);
    let unknown_field = api
        .json(
            Method::PATCH,
            "rules/rul_x",
            json!({"script": "function(){}"}),
        )
        .await;
    assert_eq!(problem(&unknown_field).0, 400);
    let huge = vec![0u8; 3 * 1024 * 1024];
    let reply = api
        .upload(Method::POST, "rules", &[("name", "huge")], &huge)
        .await;
    assert_eq!(problem(&reply).0, 413, "{}", reply.body);
}

#[tokio::test]
async fn configuration_values_are_write_only_and_reach_the_rules() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let secret = "cfg-value-3f1c9a0b-never-shown";
    let put = api
        .json(
            Method::PUT,
            "rules-configs/API_TOKEN",
            json!({"value": secret}),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body, json!({"key": "API_TOKEN"}));
    let listed = api.get("rules-configs").await;
    assert_eq!(
        listed.body,
        json!([{"key": "API_TOKEN"}, {"key": "SCOPES_BY_ROLE"}])
    );
    // The rules see it: a rule that answers only when the value is in its input.
    let probe = claimsmith_tests::wat_rule_if(
        secret,
        r#"{"accessToken":{"https://x.test/configured":true}}"#,
        "{}",
    );
    let created = api
        .upload(Method::POST, "rules", &[("name", "probe")], &probe)
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let login = login(
        &server,
        &WEB,
        "openid offline_access read:reports write:reports",
    )
    .await;
    let first = claims(&login.field("access_token"));
    assert_eq!(first["https://x.test/configured"], json!(true));
    assert!(
        first["scope"]
            .as_str()
            .unwrap_or_default()
            .contains("write:reports")
    );
    // Changing SCOPES_BY_ROLE changes what scopes-by-role grants on the next exchange.
    let narrowed = api
        .json(
            Method::PUT,
            "rules-configs/SCOPES_BY_ROLE",
            json!({"value": r#"{"admin": ["read:reports"]}"#}),
        )
        .await;
    assert_eq!(narrowed.status, 200);
    let reply = refresh(&server, &WEB, &login.field("refresh_token")).await;
    let scope = claims(&reply.field("access_token"))["scope"].clone();
    assert!(
        !scope.as_str().unwrap_or_default().contains("write:reports"),
        "{scope}"
    );
    assert!(
        scope.as_str().unwrap_or_default().contains("read:reports"),
        "{scope}"
    );
    assert_eq!(api.delete("rules-configs/API_TOKEN").await.status, 204);
    let again = api.delete("rules-configs/API_TOKEN").await;
    assert_eq!(problem(&again).1, "inexistent_rules_config");
    for (key, body) in [
        ("bad key!", json!({"value": "v"})),
        ("K", json!({"value": ""})),
        ("K", json!({"value": 1})),
        ("K", json!({"val": "v"})),
    ] {
        let reply = api
            .json(Method::PUT, &format!("rules-configs/{key}"), body)
            .await;
        assert_eq!(problem(&reply).0, 400, "{key}: {}", reply.body);
    }
    // Nothing the API sent, in any of these answers, held the value.
    for path in ["rules-configs", "rules"] {
        assert!(!api.get(path).await.body.to_string().contains(secret));
    }
}
