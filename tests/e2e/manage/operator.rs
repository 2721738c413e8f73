//! The operator API: tenants created, listed and deleted with the operator credential; a new
//! tenant manages itself with the client it was given.

use claimsmith_tests::server::{SEED, TestServer};
use oidc_server::Settings;
use reqwest::Method;
use serde_json::json;

use super::{Api, problem};

const OPERATOR_TOKEN: &str = "operator-token-0123456789-0123456789-abcdef";

async fn server() -> TestServer {
    let settings = Settings {
        operator_token: Some(oidc_core::Secret::new(OPERATOR_TOKEN).hash()),
        ..Settings::default()
    };
    TestServer::with_settings(SEED, &[], settings).await
}

async fn operator(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> claimsmith_tests::server::Reply {
    let mut request = server
        .http
        .request(method, format!("{}/operator/v1/{path}", server.addr))
        .bearer_auth(OPERATOR_TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    server.send(request).await
}

async fn get_jwks(server: &TestServer) -> claimsmith_tests::server::Reply {
    let url = server.url("initech", ".well-known/jwks.json");
    server.send(server.http.get(url)).await
}

#[tokio::test]
async fn the_operator_api_is_off_without_a_configured_credential() {
    let server = TestServer::start().await;
    let reply = server
        .send(
            server
                .http
                .get(format!("{}/operator/v1/tenants", server.addr))
                .bearer_auth(OPERATOR_TOKEN),
        )
        .await;
    assert_eq!(problem(&reply).1, "operator_api_disabled");
}

#[tokio::test]
async fn only_the_operator_credential_opens_the_operator_api() {
    let server = server().await;
    let url = format!("{}/operator/v1/tenants", server.addr);
    let none = server.send(server.http.get(&url)).await;
    assert_eq!(problem(&none).0, 401);
    let wrong = server
        .send(
            server
                .http
                .get(&url)
                .bearer_auth("operator-token-0123456789-0123456789-abcdeX"),
        )
        .await;
    assert_eq!(problem(&wrong).1, "invalid_token");
    // A tenant's own management token is no operator credential.
    let tenant_token = super::token_for(&server, "acme", &super::MANAGER).await;
    let reply = server
        .send(server.http.get(&url).bearer_auth(tenant_token))
        .await;
    assert_eq!(problem(&reply).1, "invalid_token");
    let reply = operator(&server, Method::GET, "tenants", None).await;
    let ids: Vec<&str> = reply
        .body
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| t["id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["acme", "globex"]);

    // The compiled-rule cache's figures are the operator's too.
    let url = format!("{}/operator/v1/rule-cache", server.addr);
    assert_eq!(problem(&server.send(server.http.get(&url)).await).0, 401);
    let reply = operator(&server, Method::GET, "rule-cache", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["budget_bytes"],
        rules_host::HostConfig::default().compiled_budget_bytes
    );
    for field in ["modules", "bytes", "hits", "compiles", "evictions"] {
        assert!(reply.body[field].is_u64(), "{field}: {}", reply.body);
    }
}

#[tokio::test]
async fn a_created_tenant_manages_itself_and_a_deleted_one_is_gone_with_its_data() {
    let server = server().await;
    let issuer = server.issuer("initech");
    let created = operator(
        &server,
        Method::POST,
        "tenants",
        Some(json!({"id": "initech", "issuer": issuer, "signing_alg": "ES256"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["signing_alg"], json!("ES256"));
    let management = &created.body["management"];
    assert_eq!(management["audience"], json!(format!("{issuer}api/v2/")));
    let client_id = management["client_id"]
        .as_str()
        .expect("client id")
        .to_owned();
    let secret = management["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert!(secret.len() >= 43);

    // The secret is shown once: nothing else returns it.
    let listed = operator(&server, Method::GET, "tenants", None).await;
    assert!(!listed.body.to_string().contains(&secret));
    let one = operator(&server, Method::GET, "tenants/initech", None).await;
    assert_eq!(one.body["issuer"], json!(issuer));
    assert!(!one.body.to_string().contains(&secret));

    // The tenant serves at once: discovery, JWKS, and its management API.
    let jwks = get_jwks(&server).await;
    assert_eq!(jwks.body["keys"].as_array().map(Vec::len), Some(1));
    let client = [
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let api = Api {
        server: &server,
        tenant: "initech",
        token: super::token_for(&server, "initech", &client).await,
    };
    assert_eq!(api.get("rules").await.body, json!([]));
    let uploaded = api
        .upload(
            Method::POST,
            "rules",
            &[("name", "first")],
            &claimsmith_tests::wat_rule("", "{}"),
        )
        .await;
    assert_eq!(uploaded.status, 201, "{}", uploaded.body);

    for (body, status, phrase) in [
        (
            json!({"id": "initech", "issuer": issuer}),
            409,
            "already exists",
        ),
        (
            json!({"id": "bad/id", "issuer": issuer}),
            400,
            "letters, digits",
        ),
        (
            json!({"id": "x", "issuer": "https://x.test"}),
            400,
            "ending in '/'",
        ),
        (
            json!({"id": "x", "issuer": "https://x.test/", "hosts": ["acme.test"]}),
            409,
            "acme.test",
        ),
        (json!({"id": "x"}), 400, "issuer"),
        (
            json!({"id": "x", "issuer": "https://x.test/", "extra": 1}),
            400,
            "extra",
        ),
    ] {
        let reply = operator(&server, Method::POST, "tenants", Some(body.clone())).await;
        let (got, _, message) = problem(&reply);
        assert_eq!(got, status, "{body}: {message}");
        assert!(message.contains(phrase), "{body}: {message}");
    }
    assert!(server.store.tenant("x").expect("store").is_none());

    let deleted = operator(&server, Method::DELETE, "tenants/initech", None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(problem(&api.get("rules").await).0, 404);
    let jwks = get_jwks(&server).await;
    assert_eq!(jwks.status, 404);
    use oidc_core::Store;
    assert!(server.store.keys("initech").expect("store").is_empty());
    assert!(
        server
            .store
            .rule_set("initech")
            .expect("store")
            .rules
            .is_empty()
    );
    assert!(
        server
            .store
            .client("initech", &client_id)
            .expect("store")
            .is_none()
    );
    let again = operator(&server, Method::DELETE, "tenants/initech", None).await;
    assert_eq!(problem(&again).1, "inexistent_tenant");
    // The other tenants are untouched.
    assert_eq!(
        operator(&server, Method::GET, "tenants", None)
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

/// The value of the sample `name{labels}` in an OpenMetrics text, if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_grants_reuse_and_rules_for_the_operator_only() {
    use crate::token::{ALICE, API, WEB};
    let server = server().await;
    let url = format!("{}/metrics", server.addr);
    assert_eq!(problem(&server.send(server.http.get(&url)).await).0, 401);

    let mut login = vec![
        ("grant_type", "password"),
        ("audience", API),
        ("scope", "openid offline_access read:reports"),
    ];
    login.extend_from_slice(&WEB);
    login.extend_from_slice(&ALICE);
    let first = server.token("acme", &login).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let old = first.field("refresh_token");
    let mut exchange = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", old.as_str()),
    ];
    exchange.extend_from_slice(&WEB);
    assert_eq!(server.token("acme", &exchange).await.status, 200);
    // Past the overlap window, the old token again: reuse detected.
    server.clock.advance_secs(60);
    assert_eq!(server.token("acme", &exchange).await.status, 403);

    let reply = server
        .http
        .get(&url)
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("metrics");
    assert_eq!(reply.status(), 200);
    assert!(
        reply.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("application/openmetrics-text")
    );
    let text = reply.text().await.expect("text");
    let count = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series}:\n{text}"));
    assert_eq!(
        count(r#"claimsmith_log_events_total{tenant="acme",type="s"}"#),
        1.0
    );
    assert_eq!(
        count(r#"claimsmith_log_events_total{tenant="acme",type="sertft"}"#),
        1.0
    );
    assert_eq!(
        count(r#"claimsmith_log_events_total{tenant="acme",type="ferrt"}"#),
        1.0
    );
    // The login and the refresh ran the chain; the reuse was refused before any rule.
    assert_eq!(
        count(r#"claimsmith_rule_calls_total{tenant="acme",rule="add-roles"}"#),
        2.0
    );
    assert!(count(r#"claimsmith_rule_fuel_total{tenant="acme",rule="add-roles"}"#) > 1000.0);
    assert_eq!(
        count(
            r#"claimsmith_http_requests_total{endpoint="/t/{tenant}/oauth/token",method="POST",status="200"}"#
        ),
        2.0
    );
    assert!(
        count(
            r#"claimsmith_http_request_duration_seconds_count{endpoint="/t/{tenant}/oauth/token"}"#
        ) >= 3.0
    );
    assert!(text.contains("claimsmith_rule_cache_modules "), "{text}");
    // Store calls are timed by operation: the family written by the login, replaced by the
    // exchange and revoked by the reuse, and the commits the responses waited for.
    let store = |operation: &str| {
        count(&format!(
            r#"claimsmith_store_operation_duration_seconds_count{{operation="{operation}"}}"#
        ))
    };
    assert!(store("apply") >= 3.0, "{text}");
    assert!(store("flush") >= 1.0, "{text}");
    assert!(store("refresh_family") >= 2.0, "{text}");
    // The embedded store has no connection pool.
    assert_eq!(count("claimsmith_store_pool_max_connections"), 0.0);
}
