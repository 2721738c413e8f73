//! The password grant and what it issues.

use claimsmith_tests::server::{TestServer, claims};
use serde_json::json;

use super::*;

#[tokio::test]
async fn password_grant_issues_auth0_profile_tokens() {
    let server = TestServer::start().await;
    let reply = login(&server, &WEB, OFFLINE).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 3600);
    assert_eq!(reply.body["scope"], OFFLINE);
    let refresh_token = reply.field("refresh_token");
    assert!(refresh_token.len() >= 43, "256 bits, base64url");

    let access = claims(&reply.field("access_token"));
    let issuer = server.issuer("acme");
    assert_eq!(access["iss"], issuer);
    assert!(issuer.ends_with('/'));
    assert_eq!(access["sub"], "auth0|alice");
    assert_eq!(access["aud"], json!([API, format!("{issuer}userinfo")]));
    assert_eq!(access["azp"], "web");
    assert_eq!(access["gty"], "password");
    assert_eq!(access["scope"], OFFLINE);
    assert_eq!(
        access["exp"].as_u64().unwrap() - access["iat"].as_u64().unwrap(),
        3600
    );
    // The rules ran: roles from RBAC and app_metadata, client metadata, protocol.
    assert_eq!(
        access["https://claimsmith.example/roles"],
        json!(["editor", "admin"])
    );
    assert_eq!(
        access["https://claimsmith.example/protocol"],
        "oauth2-password"
    );
    assert_eq!(
        access["https://claimsmith.example/client_metadata"],
        json!({"tier": "gold"})
    );

    let id = claims(&reply.field("id_token"));
    assert_eq!(id["aud"], "web");
    assert_eq!(id["sub"], "auth0|alice");
    assert_eq!(id["email"], "alice@acme.test");
    assert_eq!(id["name"], "Alice Acme");
    assert_eq!(id["auth_time"], access["iat"]);
    assert_eq!(
        id["https://claimsmith.example/roles"],
        json!(["editor", "admin"])
    );
}

#[tokio::test]
async fn refresh_tokens_need_offline_access_and_an_api_that_allows_it() {
    let server = TestServer::start().await;
    let without = login(&server, &WEB, "openid read:reports").await;
    assert_eq!(without.status, 200);
    assert!(without.body.get("refresh_token").is_none());

    let mut params = vec![
        ("grant_type", "password"),
        ("audience", "https://online-only.acme.test/"),
        ("scope", "openid offline_access"),
    ];
    params.extend_from_slice(&WEB);
    params.extend_from_slice(&ALICE);
    let online_only = server.token("acme", &params).await;
    assert_eq!(online_only.status, 200, "{}", online_only.body);
    assert!(online_only.body.get("refresh_token").is_none());
    assert_eq!(
        online_only.body["scope"], "openid",
        "offline_access is not granted"
    );

    let no_grant = [
        ("client_id", "no-refresh"),
        ("client_secret", "norefresh-secret-0123456789-0123456789-a"),
    ];
    let reply = login(&server, &no_grant, OFFLINE).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.body.get("refresh_token").is_none(),
        "the client lacks the refresh_token grant"
    );
}

#[tokio::test]
async fn id_token_only_with_openid() {
    let server = TestServer::start().await;
    let reply = login(&server, &WEB, "offline_access read:reports").await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.get("id_token").is_none());
    assert_eq!(claims(&reply.field("access_token"))["aud"], API);
}

#[tokio::test]
async fn client_credentials_never_runs_rules_nor_issues_refresh_tokens() {
    let server = TestServer::start().await;
    let params = [
        ("grant_type", "client_credentials"),
        ("audience", API),
        ("scope", "read:reports offline_access"),
    ];
    let basic = server
        .send(
            server
                .http
                .post(server.url("acme", "oauth/token"))
                .basic_auth("m2m", Some("m2m-secret-0123456789-0123456789-abcdefg"))
                .form(&params),
        )
        .await;
    assert_eq!(
        basic.error(),
        (
            400,
            "invalid_scope",
            "Client has not been granted scope 'offline_access'."
        )
    );
    let reply = server
        .send(
            server
                .http
                .post(server.url("acme", "oauth/token"))
                .basic_auth("m2m", Some("m2m-secret-0123456789-0123456789-abcdefg"))
                .form(&[("grant_type", "client_credentials"), ("audience", API)]),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.get("refresh_token").is_none());
    let access = claims(&reply.field("access_token"));
    assert_eq!(access["sub"], "m2m@clients");
    assert_eq!(access["gty"], "client-credentials");
    assert_eq!(access["scope"], "read:reports");
    assert!(
        access.get("https://claimsmith.example/protocol").is_none(),
        "no rules ran"
    );
}

#[tokio::test]
async fn json_bodies_work_like_forms() {
    let server = TestServer::start().await;
    let body = json!({
        "grant_type": "password", "client_id": "web", "client_secret": WEB[1].1,
        "username": "alice@acme.test", "password": "correct horse battery staple", "scope": "openid"
    });
    let reply = server
        .send(
            server
                .http
                .post(server.url("acme", "oauth/token"))
                .json(&body),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn at_most_200_live_refresh_tokens_per_user_and_client_oldest_evicted() {
    let server = TestServer::start().await;
    let spa = [("client_id", "spa")];
    let mut tokens = Vec::new();
    for _ in 0..201 {
        let reply = login(&server, &spa, OFFLINE).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        tokens.push(reply.field("refresh_token"));
        // Families are ordered by creation time; give each its own.
        server.clock.advance_secs(1);
    }
    assert_eq!(
        refresh(&server, &spa, &tokens[0]).await.status,
        403,
        "the oldest was evicted"
    );
    assert_eq!(refresh(&server, &spa, &tokens[1]).await.status, 200);
    assert_eq!(refresh(&server, &spa, &tokens[200]).await.status, 200);
}

/// Auth0's brute-force protection: ten wrong passwords for one login from one IP block that
/// login from that IP (429 `too_many_attempts`, with `Retry-After`), even with the right
/// password; other logins are unaffected.
#[tokio::test]
async fn ten_failures_block_a_login_from_that_ip() {
    let server = TestServer::start().await;
    let attempt = |password: &'static str| {
        let mut params = vec![
            ("grant_type", "password"),
            ("scope", "openid"),
            ("username", "alice@acme.test"),
            ("password", password),
        ];
        params.extend_from_slice(&WEB);
        let server = &server;
        async move { server.token("acme", &params).await }
    };
    for _ in 0..10 {
        assert_eq!(
            attempt("wrong").await.error(),
            (403, "invalid_grant", "Wrong email or password.")
        );
    }
    let blocked = attempt("correct horse battery staple").await;
    assert_eq!(
        blocked.error(),
        (
            429,
            "too_many_attempts",
            "Your account has been blocked after multiple consecutive login attempts."
        )
    );
    assert_eq!(blocked.headers["retry-after"], "3600");
    let mut carol = vec![
        ("grant_type", "password"),
        ("scope", "openid"),
        ("username", "carol@acme.test"),
        ("password", "carol's long password"),
    ];
    carol.extend_from_slice(&WEB);
    assert_eq!(server.token("acme", &carol).await.status, 200);
    server.clock.advance_secs(3600);
    assert_eq!(attempt("correct horse battery staple").await.status, 200);
}
