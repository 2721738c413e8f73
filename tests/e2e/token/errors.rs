//! Bad requests: each gets the RFC 6749 error body with the right status, and the store is
//! left exactly as it was.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use claimsmith_tests::server::{Reply, TestServer};

use super::*;

async fn checked(server: &TestServer, request: reqwest::RequestBuilder) -> Reply {
    let before = server.store.checksum().unwrap();
    let reply = server.send(request).await;
    assert_eq!(
        server.store.checksum().unwrap(),
        before,
        "a failed request changed the store"
    );
    assert_eq!(reply.headers["cache-control"], "no-store");
    reply
}

fn form_post(server: &TestServer, body: String) -> reqwest::RequestBuilder {
    server
        .http
        .post(server.url("acme", "oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
}

fn with(params: &[(&str, &str)]) -> String {
    claimsmith_tests::server::form(params)
}

#[tokio::test]
async fn malformed_requests() {
    let server = TestServer::start().await;
    let cases: Vec<(String, (u16, &str, &str))> = vec![
        (
            with(&[("client_id", "web")]),
            (
                400,
                "invalid_request",
                "Missing required parameter: grant_type",
            ),
        ),
        (
            "grant_type=password&scope=openid&scope=email".into(),
            (400, "invalid_request", "Parameter 'scope' is repeated."),
        ),
        (
            with(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("client_id", "web"),
            ]),
            (
                400,
                "unsupported_grant_type",
                "Unsupported grant type: urn:ietf:params:oauth:grant-type:jwt-bearer",
            ),
        ),
        (
            with(&[
                ("grant_type", "password"),
                ("client_id", "web"),
                ("client_secret", WEB[1].1),
                ("username", "alice@acme.test"),
            ]),
            (
                400,
                "invalid_request",
                "Missing required parameter: password",
            ),
        ),
        (
            with(&[("grant_type", "password")]),
            (
                400,
                "invalid_request",
                "Missing required parameter: client_id",
            ),
        ),
    ];
    for (body, expected) in cases {
        let reply = checked(&server, form_post(&server, body.clone())).await;
        assert_eq!(reply.error(), expected, "{body}");
    }
}

#[tokio::test]
async fn wrong_content_type_and_oversized_bodies() {
    let server = TestServer::start().await;
    let text = server
        .http
        .post(server.url("acme", "oauth/token"))
        .header("content-type", "text/plain")
        .body("grant_type=password");
    assert_eq!(
        checked(&server, text).await.error(),
        (
            400,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded or application/json."
        )
    );
    let huge = format!("grant_type=password&pad={}", "x".repeat(70 * 1024));
    assert_eq!(
        checked(&server, form_post(&server, huge)).await.error(),
        (413, "invalid_request", "The request body exceeds 64 KiB.")
    );
    let bad_json = server
        .http
        .post(server.url("acme", "oauth/token"))
        .header("content-type", "application/json")
        .body("{");
    assert_eq!(
        checked(&server, bad_json).await.error().1,
        "invalid_request"
    );
}

#[tokio::test]
async fn client_authentication_failures() {
    let server = TestServer::start().await;
    let login = |client: &[(&str, &str)]| {
        let mut params = vec![("grant_type", "password"), ("scope", "openid")];
        params.extend_from_slice(client);
        params.extend_from_slice(&ALICE);
        with(&params)
    };
    let failed = (401, "invalid_client", "Client authentication failed.");
    let unknown = checked(
        &server,
        form_post(
            &server,
            login(&[("client_id", "nobody"), ("client_secret", "x")]),
        ),
    )
    .await;
    assert_eq!(unknown.error(), failed);
    assert!(unknown.headers.contains_key("www-authenticate"));
    let wrong = checked(
        &server,
        form_post(
            &server,
            login(&[("client_id", "web"), ("client_secret", "wrong")]),
        ),
    )
    .await;
    assert_eq!(wrong.error(), failed);
    let no_secret = checked(&server, form_post(&server, login(&[("client_id", "web")]))).await;
    assert_eq!(
        no_secret.error(),
        failed,
        "a confidential client must authenticate"
    );
    let public_with_secret = checked(
        &server,
        form_post(&server, login(&[])).basic_auth("spa", Some(WEB[1].1)),
    )
    .await;
    assert_eq!(
        public_with_secret.error(),
        failed,
        "a public client has no secret to send"
    );
    let basic_without_secret = checked(
        &server,
        form_post(&server, login(&[])).basic_auth("web", Some("")),
    )
    .await;
    assert_eq!(basic_without_secret.error(), failed);
    let nul = checked(
        &server,
        form_post(&server, login(&[("client_id", "we\0b")])),
    )
    .await;
    assert_eq!(
        nul.error(),
        (
            400,
            "invalid_request",
            "The client_id contains a control character."
        )
    );
    let malformed = checked(
        &server,
        form_post(&server, login(&[])).header("authorization", "Basic %%%"),
    )
    .await;
    assert_eq!(
        malformed.error(),
        (
            401,
            "invalid_client",
            "Malformed Basic authorization header."
        )
    );
    let no_colon = format!("Basic {}", STANDARD.encode("strict"));
    let malformed = checked(
        &server,
        form_post(&server, login(&[])).header("authorization", no_colon),
    )
    .await;
    assert_eq!(malformed.error().1, "invalid_client");
}

#[tokio::test]
async fn user_and_grant_failures() {
    let server = TestServer::start().await;
    let password = |username: &str, password: &str, extra: &[(&str, &str)]| {
        let mut params = vec![
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ];
        params.extend_from_slice(&WEB);
        params.extend_from_slice(extra);
        with(&params)
    };
    let wrong = checked(
        &server,
        form_post(&server, password("alice@acme.test", "nope", &[])),
    )
    .await;
    assert_eq!(
        wrong.error(),
        (403, "invalid_grant", "Wrong email or password.")
    );
    let nobody = checked(
        &server,
        form_post(&server, password("nobody@acme.test", "nope", &[])),
    )
    .await;
    assert_eq!(
        nobody.error(),
        (403, "invalid_grant", "Wrong email or password."),
        "no user enumeration"
    );
    let blocked = checked(
        &server,
        form_post(
            &server,
            password("bob@acme.test", "bob's long password", &[]),
        ),
    )
    .await;
    assert_eq!(blocked.error(), (401, "unauthorized", "user is blocked"));
    let scope = checked(
        &server,
        form_post(
            &server,
            password(
                "alice@acme.test",
                "correct horse battery staple",
                &[("audience", API), ("scope", "openid delete:everything")],
            ),
        ),
    )
    .await;
    assert_eq!(
        scope.error(),
        (
            400,
            "invalid_scope",
            "Scope 'delete:everything' is not defined for the requested audience."
        )
    );
    let audience = checked(
        &server,
        form_post(
            &server,
            password(
                "alice@acme.test",
                "correct horse battery staple",
                &[("audience", "https://nope.test/")],
            ),
        ),
    )
    .await;
    assert_eq!(
        audience.error(),
        (
            403,
            "access_denied",
            "Service not found: https://nope.test/"
        )
    );
    let refresh = checked(
        &server,
        form_post(
            &server,
            with(&[
                ("grant_type", "client_credentials"),
                ("client_id", "web"),
                ("client_secret", WEB[1].1),
            ]),
        ),
    )
    .await;
    assert_eq!(
        refresh.error(),
        (
            403,
            "unauthorized_client",
            "Grant type 'client_credentials' not allowed for the client."
        )
    );
    let unknown_token = checked(
        &server,
        form_post(
            &server,
            with(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "forged"),
                ("client_id", "web"),
                ("client_secret", WEB[1].1),
            ]),
        ),
    )
    .await;
    assert_eq!(
        unknown_token.error(),
        (403, "invalid_grant", "Unknown or invalid refresh token.")
    );
}

#[tokio::test]
async fn unknown_tenants_are_404() {
    let server = TestServer::start().await;
    let reply = server.token("initech", &[("grant_type", "password")]).await;
    assert_eq!(reply.error(), (404, "invalid_request", "Unknown tenant."));
}
