//! Clients, resource servers and signing keys through the management API, and what the token
//! endpoint does with the change.

use claimsmith_tests::server::{TestServer, claims};
use reqwest::Method;
use serde_json::json;

use super::{Api, MANAGER, problem};
use crate::token::{ALICE, LEGACY, OFFLINE, login, refresh};

#[tokio::test]
async fn a_client_is_created_with_a_secret_shown_once_rotated_and_deleted() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let created = api
        .json(
            Method::POST,
            "clients",
            json!({
                "name": "Reports app",
                "app_type": "regular_web",
                "grant_types": ["password", "refresh_token"],
                "callbacks": ["https://reports.acme.test/callback"],
                "client_metadata": {"tier": "silver"},
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.field("client_id");
    let secret = created.field("client_secret");
    assert_eq!(id.len(), 32);
    assert_eq!(
        created.body["token_endpoint_auth_method"],
        json!("client_secret_post")
    );
    assert_eq!(
        created.body["refresh_token"]["rotation_type"],
        json!("non-rotating")
    );
    assert_eq!(
        created.body["refresh_token"]["infinite_token_lifetime"],
        json!(true)
    );
    let fetched = api.get(&format!("clients/{id}")).await;
    assert!(!fetched.body.to_string().contains(&secret));
    assert!(fetched.body.get("client_secret").is_none());

    let credentials = [
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let first = login(&server, &credentials, OFFLINE).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        claims(&first.field("access_token"))["https://claimsmith.example/client_name"],
        json!("Reports app")
    );

    let rotated = api
        .send(
            server
                .http
                .post(api.url(&format!("clients/{id}/rotate-secret"))),
        )
        .await;
    let new_secret = rotated.field("client_secret");
    assert_ne!(new_secret, secret);
    assert_eq!(
        login(&server, &credentials, OFFLINE).await.error().1,
        "invalid_client"
    );
    let credentials = [
        ("client_id", id.as_str()),
        ("client_secret", new_secret.as_str()),
    ];
    assert_eq!(login(&server, &credentials, OFFLINE).await.status, 200);

    for (body, phrase) in [
        (
            json!({"refresh_token": {"rotation_type": "rotating", "expiration_type": "non-expiring"}}),
            "must expire",
        ),
        (
            json!({"refresh_token": {"rotation_type": "rotating", "expiration_type": "expiring", "token_lifetime": 60, "idle_token_lifetime": 120}}),
            "cannot be longer",
        ),
        (
            json!({"token_endpoint_auth_method": "none"}),
            "public clients",
        ),
        (json!({"grant_types": ["magic"]}), "Unknown grant type"),
        (json!({"callbacks": ["/relative"]}), "absolute URI"),
        (json!({"app_type": "spa"}), "cannot change"),
    ] {
        let reply = api
            .json(Method::PATCH, &format!("clients/{id}"), body.clone())
            .await;
        let (status, _, message) = problem(&reply);
        assert_eq!(status, 400, "{body}: {message}");
        assert!(message.contains(phrase), "{body}: {message}");
    }

    assert_eq!(api.delete(&format!("clients/{id}")).await.status, 204);
    assert_eq!(
        login(&server, &credentials, OFFLINE).await.error().1,
        "invalid_client"
    );
    assert_eq!(
        problem(&api.get(&format!("clients/{id}")).await).1,
        "inexistent_client"
    );
}

#[tokio::test]
async fn a_client_policy_change_reaches_a_live_refresh_token_at_its_next_exchange() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let t0 = login(&server, &LEGACY, OFFLINE)
        .await
        .field("refresh_token");
    let kept = refresh(&server, &LEGACY, &t0).await;
    assert!(
        kept.body.get("refresh_token").is_none(),
        "non-rotating: {}",
        kept.body
    );

    let patched = api
        .json(
            Method::PATCH,
            "clients/legacy",
            json!({"refresh_token": {
                "rotation_type": "rotating", "expiration_type": "expiring", "leeway": 0,
                "token_lifetime": 86400, "idle_token_lifetime": 600,
            }}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let rotated = refresh(&server, &LEGACY, &t0).await;
    let t1 = rotated.field("refresh_token");
    assert_ne!(t1, t0, "rotation applies at the next exchange");
    let tokens = api
        .get("users/auth0%7Calice/refresh-tokens?client_id=legacy")
        .await;
    assert_eq!(
        tokens.body["tokens"][0]["rotating"],
        json!(true),
        "{}",
        tokens.body
    );
    assert_eq!(
        tokens.body["tokens"][0]["idle_expires_at"],
        json!("2026-11-27T12:10:00.000Z"),
        "the idle lifetime follows the setting"
    );
    // The rotated-away token is now reuse, and kills the family.
    assert_eq!(
        refresh(&server, &LEGACY, &t0).await.error().1,
        "invalid_grant"
    );
    assert_eq!(
        refresh(&server, &LEGACY, &t1).await.error().1,
        "invalid_grant"
    );
}

#[tokio::test]
async fn resource_servers_are_managed_and_offline_access_follows_them() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let created = api
        .json(
            Method::POST,
            "resource-servers",
            json!({"identifier": "https://billing.acme.test/", "name": "Billing",
                   "scopes": [{"value": "read:invoices", "description": "Read invoices"}],
                   "allow_offline_access": true, "token_lifetime": 600}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["signing_alg"], json!("ES256"));
    let mut params = vec![
        ("grant_type", "password"),
        ("audience", "https://billing.acme.test/"),
        ("scope", "openid offline_access read:invoices"),
    ];
    params.extend_from_slice(&crate::token::WEB);
    params.extend_from_slice(&ALICE);
    let with_refresh = server.token("acme", &params).await;
    assert_eq!(
        with_refresh.body["expires_in"],
        json!(600),
        "{}",
        with_refresh.body
    );
    assert!(with_refresh.body["refresh_token"].is_string());

    let path = "resource-servers/https:%2F%2Fbilling.acme.test%2F";
    let patched = api
        .json(Method::PATCH, path, json!({"allow_offline_access": false}))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let without = server.token("acme", &params).await;
    assert!(
        without.body.get("refresh_token").is_none(),
        "{}",
        without.body
    );

    let duplicate = api
        .json(
            Method::POST,
            "resource-servers",
            json!({"identifier": "https://billing.acme.test/"}),
        )
        .await;
    assert_eq!(problem(&duplicate).0, 409);
    let management = format!(
        "resource-servers/{}",
        format!("{}api/v2/", server.issuer("acme")).replace('/', "%2F")
    );
    assert_eq!(problem(&api.delete(&management).await).0, 400);
    let other_alg = api
        .json(Method::PATCH, path, json!({"signing_alg": "RS256"}))
        .await;
    assert_eq!(problem(&other_alg).0, 400);
    assert_eq!(api.delete(path).await.status, 204);
    assert_eq!(
        server.token("acme", &params).await.error().1,
        "access_denied"
    );
    let listed = api.get("resource-servers").await;
    assert_eq!(
        listed.body.as_array().map(Vec::len),
        Some(3),
        "{}",
        listed.body
    );
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_verifiable_until_the_old_key_is_revoked() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let keys = api.get("keys/signing").await;
    assert_eq!(keys.body.as_array().map(Vec::len), Some(1), "{}", keys.body);
    let old_kid = keys.body[0]["kid"].as_str().expect("kid").to_owned();
    assert_eq!(keys.body[0]["current"], json!(true));
    let before = login(&server, &crate::token::WEB, OFFLINE)
        .await
        .field("access_token");

    let rotated = api
        .send(server.http.post(api.url("keys/signing/rotate")))
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_kid = rotated.field("kid");
    let after = login(&server, &crate::token::WEB, OFFLINE)
        .await
        .field("access_token");
    let kid_of = |jwt: &str| {
        let header = jsonwebtoken::decode_header(jwt).expect("a JWT header");
        header.kid.expect("a kid")
    };
    assert_eq!(kid_of(&before), old_kid);
    assert_eq!(kid_of(&after), new_kid);
    let jwks = server
        .send(server.http.get(server.url("acme", ".well-known/jwks.json")))
        .await;
    let published: Vec<&str> = jwks.body["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|key| key["kid"].as_str())
        .collect();
    assert!(published.contains(&old_kid.as_str()) && published.contains(&new_kid.as_str()));
    let userinfo = |token: String| {
        let request = server
            .http
            .get(server.url("acme", "userinfo"))
            .bearer_auth(token);
        server.send(request)
    };
    assert_eq!(
        userinfo(before.clone()).await.status,
        200,
        "old tokens still verify"
    );

    let current = api
        .send(
            server
                .http
                .put(api.url(&format!("keys/signing/{new_kid}/revoke"))),
        )
        .await;
    assert_eq!(problem(&current).0, 400);
    let revoked = api
        .send(
            server
                .http
                .put(api.url(&format!("keys/signing/{old_kid}/revoke"))),
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(userinfo(before).await.status, 401);
    assert_eq!(userinfo(after).await.status, 200);
    let jwks = server
        .send(server.http.get(server.url("acme", ".well-known/jwks.json")))
        .await;
    assert!(!jwks.body.to_string().contains(&old_kid));
}

#[tokio::test]
async fn a_client_created_updated_or_deleted_changes_cors_and_the_token_endpoint_at_once() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let token_url = server.url("acme", "oauth/token");
    let preflight = |origin: &'static str| {
        server.send(
            server
                .http
                .request(Method::OPTIONS, &token_url)
                .header("origin", origin)
                .header("access-control-request-method", "POST"),
        )
    };
    assert_eq!(preflight("https://new-spa.test").await.status, 403);
    let created = api
        .json(
            Method::POST,
            "clients",
            json!({
                "name": "New SPA",
                "app_type": "spa",
                "grant_types": ["authorization_code", "refresh_token"],
                "callbacks": ["https://new-spa.test/callback"],
                "web_origins": ["https://new-spa.test"],
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    // The next request sees the new client's origin.
    assert_eq!(preflight("https://new-spa.test").await.status, 204);
    let id = created.field("client_id");
    let updated = api
        .json(
            Method::PATCH,
            &format!("clients/{id}"),
            json!({"web_origins": ["https://moved-spa.test"]}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(preflight("https://new-spa.test").await.status, 403);
    assert_eq!(preflight("https://moved-spa.test").await.status, 204);

    // A confidential client used once (so cached), then rotated: only the new secret works.
    let made = api
        .json(
            Method::POST,
            "clients",
            json!({"name": "Batch", "app_type": "non_interactive", "grant_types": ["client_credentials"]}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let (batch, old) = (made.field("client_id"), made.field("client_secret"));
    let audience = format!("{}/t/acme/api/v2/", server.issuer_base);
    let grant = |secret: String| {
        let (batch, audience) = (batch.clone(), audience.clone());
        let server = &server;
        async move {
            let params = [
                ("grant_type", "client_credentials"),
                ("client_id", batch.as_str()),
                ("client_secret", secret.as_str()),
                ("audience", audience.as_str()),
            ];
            server.token("acme", &params).await.status
        }
    };
    assert_eq!(grant(old.clone()).await, 403);
    let rotated = api
        .send(
            server
                .http
                .post(api.url(&format!("clients/{batch}/rotate-secret"))),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    assert_eq!(grant(old).await, 401);
    assert_eq!(grant(rotated.field("client_secret")).await, 403);
    assert_eq!(api.delete(&format!("clients/{batch}")).await.status, 204);
    assert_eq!(grant(rotated.field("client_secret")).await, 401);
}
