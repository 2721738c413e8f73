//! Tenants are islands: own issuer, keys, discovery and data. And discovery, JWKS and
//! userinfo themselves.

use claimsmith_tests::server::{TestServer, claims};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use oidc_server::Clock;
use serde_json::json;

use super::*;

#[tokio::test]
async fn discovery_is_per_tenant_and_matches_the_routes() {
    let server = TestServer::start().await;
    for (tenant, alg) in [("acme", "ES256"), ("globex", "RS256")] {
        let doc = server
            .send(
                server
                    .http
                    .get(server.url(tenant, ".well-known/openid-configuration")),
            )
            .await;
        assert_eq!(doc.status, 200);
        let issuer = server.issuer(tenant);
        assert_eq!(doc.body["issuer"], issuer);
        assert_eq!(doc.body["token_endpoint"], format!("{issuer}oauth/token"));
        assert_eq!(
            doc.body["revocation_endpoint"],
            format!("{issuer}oauth/revoke")
        );
        assert_eq!(doc.body["userinfo_endpoint"], format!("{issuer}userinfo"));
        assert_eq!(
            doc.body["id_token_signing_alg_values_supported"],
            json!([alg])
        );
        // Every advertised endpoint is routed.
        let jwks = server
            .send(server.http.get(doc.body["jwks_uri"].as_str().unwrap()))
            .await;
        assert_eq!(jwks.status, 200);
        assert_eq!(jwks.body["keys"][0]["alg"], alg);
    }
}

#[tokio::test]
async fn access_tokens_verify_against_the_published_jwks() {
    let server = TestServer::start().await;
    let reply = login(&server, &WEB, "openid read:reports").await;
    let token = reply.field("access_token");
    let jwks: JwkSet = serde_json::from_value(
        server
            .send(server.http.get(server.url("acme", ".well-known/jwks.json")))
            .await
            .body,
    )
    .unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("the signing key is published");
    let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[API]);
    validation.set_issuer(&[server.issuer("acme")]);
    // The server runs on the test's clock, not the wall clock: jsonwebtoken would judge `exp`
    // by today's date, so expiry is checked against the server's own `now` instead.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let decoded = jsonwebtoken::decode::<serde_json::Value>(
        &token,
        &DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(decoded["sub"], "auth0|alice");
    let now_secs = Clock::now(&*server.clock) / 1000;
    assert_eq!(decoded["iat"], now_secs);
    assert_eq!(decoded["exp"], now_secs + 3600, "valid for the API's hour");
    let other: JwkSet = serde_json::from_value(
        server
            .send(
                server
                    .http
                    .get(server.url("globex", ".well-known/jwks.json")),
            )
            .await
            .body,
    )
    .unwrap();
    assert!(
        other.find(header.kid.as_deref().unwrap()).is_none(),
        "keys are per tenant"
    );
}

#[tokio::test]
async fn userinfo_returns_profile_and_custom_id_token_claims() {
    let server = TestServer::start().await;
    let reply = login(&server, &WEB, "openid profile email read:reports").await;
    let bearer = reply.field("access_token");
    let info = server
        .send(
            server
                .http
                .get(server.url("acme", "userinfo"))
                .bearer_auth(&bearer),
        )
        .await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.body["sub"], "auth0|alice");
    assert_eq!(info.body["email"], "alice@acme.test");
    assert_eq!(info.body["name"], "Alice Acme");
    assert_eq!(
        info.body["https://claimsmith.example/roles"],
        json!(["editor", "admin"])
    );

    let none = server
        .send(server.http.get(server.url("acme", "userinfo")))
        .await;
    assert_eq!(
        none.error(),
        (401, "invalid_token", "A bearer access token is required.")
    );
    let forged = server
        .send(
            server
                .http
                .get(server.url("acme", "userinfo"))
                .bearer_auth("a.b.c"),
        )
        .await;
    assert_eq!(forged.error().1, "invalid_token");
    server.clock.advance_secs(3601);
    let expired = server
        .send(
            server
                .http
                .get(server.url("acme", "userinfo"))
                .bearer_auth(&bearer),
        )
        .await;
    assert_eq!(
        expired.error(),
        (
            401,
            "invalid_token",
            "The access token is invalid or has expired."
        )
    );
}

#[tokio::test]
async fn nothing_of_one_tenant_works_at_another() {
    let server = TestServer::start().await;
    let reply = login(&server, &WEB, OFFLINE).await;
    let (refresh_token, access_token) = (reply.field("refresh_token"), reply.field("access_token"));
    // globex has a client called `web` too, with its own secret.
    let globex_web = [
        ("client_id", "web"),
        ("client_secret", "globex-web-secret-0123456789-0123456789"),
    ];
    let mut params = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
    ];
    params.extend_from_slice(&globex_web);
    assert_eq!(
        server.token("globex", &params).await.error(),
        (403, "invalid_grant", "Unknown or invalid refresh token.")
    );
    let mut acme_secret_at_globex = vec![("grant_type", "password"), ("scope", "openid")];
    acme_secret_at_globex.extend_from_slice(&WEB);
    acme_secret_at_globex.extend_from_slice(&ALICE);
    assert_eq!(
        server
            .token("globex", &acme_secret_at_globex)
            .await
            .error()
            .1,
        "invalid_client"
    );
    let info = server
        .send(
            server
                .http
                .get(server.url("globex", "userinfo"))
                .bearer_auth(&access_token),
        )
        .await;
    assert_eq!(info.error().1, "invalid_token");
    // And the acme token still works at acme.
    assert_eq!(refresh(&server, &WEB, &refresh_token).await.status, 200);
}

#[tokio::test]
async fn a_tenant_can_be_addressed_by_host_name() {
    let server = TestServer::start().await;
    let mut params = vec![("grant_type", "password"), ("scope", "openid")];
    params.extend_from_slice(&WEB);
    params.extend_from_slice(&ALICE);
    let reply = server
        .send(
            server
                .http
                .post(format!("{}/oauth/token", server.addr))
                .header("host", "acme.test")
                .form(&params),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        claims(&reply.field("access_token"))["iss"],
        server.issuer("acme")
    );
    let unknown = server
        .send(
            server
                .http
                .post(format!("{}/oauth/token", server.addr))
                .header("host", "nobody.test")
                .form(&params),
        )
        .await;
    assert_eq!(unknown.error(), (404, "invalid_request", "Unknown tenant."));
}

/// A tenant in the path is never replaced by the Host header: an undecodable one is 400, an
/// unknown one 404, whatever host the request names.
#[tokio::test]
async fn a_tenant_in_the_path_is_never_taken_from_the_host() {
    let server = TestServer::start().await;
    let mut params = vec![("grant_type", "password"), ("scope", "openid")];
    params.extend_from_slice(&WEB);
    params.extend_from_slice(&ALICE);
    let post = |path: &str| {
        server
            .http
            .post(format!("{}{path}", server.addr))
            .header("host", "acme.test")
            .form(&params)
    };
    assert_eq!(
        server.send(post("/t/%FF/oauth/token")).await.error(),
        (
            400,
            "invalid_request",
            "The tenant in the path is not valid UTF-8."
        )
    );
    assert_eq!(
        server.send(post("/t/nobody/oauth/token")).await.error(),
        (404, "invalid_request", "Unknown tenant.")
    );
    let reply = server.send(post("/t/acme/oauth/token")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.headers.contains_key("x-request-id"));
}
