//! Code + PKCE through the hosted page, the session cookie, `prompt=none`, and what the
//! token endpoint does with the code.

use base64::Engine as _;
use claimsmith_tests::server::claims;
use sha2::Digest as _;

use super::browser::Browser;
use super::{API, SPA_CALLBACK, WEBAPP_CALLBACK, exchange_webapp_code, server};

const ALICE: (&str, &str) = ("alice@acme.test", "correct horse battery staple");
const VERIFIER: &str = "e2e-verifier-0123456789-0123456789-abcdefghijkl";

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

fn spa_authorize(challenge: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", "spa-app".into()),
        ("redirect_uri", SPA_CALLBACK.into()),
        ("response_type", "code".into()),
        ("scope", "openid profile offline_access read:reports".into()),
        ("audience", API.into()),
        ("state", "xyz".into()),
        ("nonce", "n0nce".into()),
        ("code_challenge", challenge.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

fn borrowed<'a>(params: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    params.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn a_spa_logs_in_with_code_and_pkce_and_gets_the_rules_claims() {
    let server = server().await;
    let mut browser = Browser::new();
    let params = spa_authorize(&challenge(VERIFIER));
    let to_login = browser.authorize(&server, &borrowed(&params)).await;
    assert_eq!(to_login.status, 302);
    let login_url = to_login.location.clone().unwrap();
    assert!(
        login_url.starts_with(&server.url("acme", "u/login?state=")),
        "{login_url}"
    );
    let browser_cookie = &to_login.set_cookies[0];
    assert!(browser_cookie.starts_with("claimsmith_browser="));
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/t/acme/"] {
        assert!(browser_cookie.contains(attribute), "{browser_cookie}");
    }

    let page = browser.get(&login_url).await;
    assert!(page.body.contains("Log in to acme"));
    assert!(page.body.contains("Acme SPA"));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers["x-frame-options"], "DENY");

    let back = browser.log_in(&to_login, ALICE).await;
    assert_eq!(back.status, 302, "{}", back.body);
    assert!(
        back.location
            .as_deref()
            .unwrap()
            .starts_with(&format!("{SPA_CALLBACK}?code="))
    );
    assert_eq!(back.location_param("state").as_deref(), Some("xyz"));
    let session = back
        .set_cookies
        .iter()
        .find(|c| c.starts_with("claimsmith_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
    assert!(!session.contains("Secure"), "no Secure on an http issuer");

    let code = back.location_param("code").unwrap();
    let exchange = |verifier: &'static str| {
        let code = code.clone();
        let server = &server;
        async move {
            server
                .token(
                    "acme",
                    &[
                        ("grant_type", "authorization_code"),
                        ("client_id", "spa-app"),
                        ("code", &code),
                        ("redirect_uri", SPA_CALLBACK),
                        ("code_verifier", verifier),
                    ],
                )
                .await
        }
    };
    let wrong = exchange("e2e-wrong-verifier-0123456789-0123456789-abcdefg").await;
    assert_eq!(
        wrong.error(),
        (403, "invalid_grant", "Failed to verify code verifier")
    );
    let tokens = exchange(VERIFIER).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let id = claims(&tokens.field("id_token"));
    assert_eq!(id["nonce"], "n0nce");
    assert_eq!(id["sub"], "auth0|alice");
    assert!(id["sid"].is_string());
    assert!(id["at_hash"].is_string());
    // The example rules ran at the login: add-roles puts the roles in the ID token.
    let roles = id["https://claimsmith.example/roles"]
        .as_array()
        .expect("roles");
    assert!(roles.contains(&"admin".into()), "{id}");
    let refresh = tokens.field("refresh_token");

    // The code again: refused, and the refresh token of its first exchange is revoked.
    let again = exchange(VERIFIER).await;
    assert_eq!(
        again.error(),
        (403, "invalid_grant", "Invalid authorization code")
    );
    let revoked = server
        .token(
            "acme",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "spa-app"),
                ("refresh_token", &refresh),
            ],
        )
        .await;
    assert_eq!(revoked.status, 403, "{}", revoked.body);
}

#[tokio::test]
async fn prompt_none_uses_the_session_cookie_and_counts_no_login() {
    let server = server().await;
    let mut browser = Browser::new();
    let silent = [
        ("client_id", "webapp"),
        ("redirect_uri", WEBAPP_CALLBACK),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "s1"),
        ("prompt", "none"),
    ];
    let without = browser.authorize(&server, &silent).await;
    assert_eq!(without.status, 302);
    assert_eq!(
        without.location_param("error").as_deref(),
        Some("login_required")
    );
    assert_eq!(without.location_param("state").as_deref(), Some("s1"));

    let to_login = browser.authorize(&server, &silent[..5]).await;
    let back = browser.log_in(&to_login, ALICE).await;
    assert!(back.location_param("code").is_some(), "{back:?}");
    let logins = |server: &claimsmith_tests::server::TestServer| {
        use oidc_core::Store as _;
        server
            .store
            .user("acme", "auth0|alice")
            .unwrap()
            .unwrap()
            .logins_count
    };
    assert_eq!(logins(&server), 1);

    let with = browser.authorize(&server, &silent).await;
    let code = with
        .location_param("code")
        .expect("a code from the session");
    assert!(
        with.set_cookies.is_empty(),
        "silent authentication sets no cookie"
    );
    assert_eq!(logins(&server), 1, "silent authentication is not a login");
    let tokens = exchange_webapp_code(&server, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert!(
        tokens.body.get("refresh_token").is_none(),
        "no offline_access asked"
    );
}

#[tokio::test]
async fn an_unregistered_redirect_uri_gets_a_page_not_a_redirect() {
    let server = server().await;
    let mut browser = Browser::new();
    let page = browser
        .authorize(
            &server,
            &[
                ("client_id", "webapp"),
                ("redirect_uri", "https://evil.test/callback"),
                ("response_type", "code"),
                ("state", "s1"),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
    assert!(page.location.is_none());
    assert!(page.body.contains("not registered"), "{}", page.body);
    assert!(page.body.contains("invalid_request"));
}

#[tokio::test]
async fn a_login_form_without_its_csrf_token_is_refused() {
    let server = server().await;
    let mut browser = Browser::new();
    let to_login = browser
        .authorize(
            &server,
            &[
                ("client_id", "webapp"),
                ("redirect_uri", WEBAPP_CALLBACK),
                ("response_type", "code"),
            ],
        )
        .await;
    let login_url = to_login.location.clone().unwrap();
    let page = browser.get(&login_url).await;
    let action = login_url.split('?').next().unwrap();
    let forged = browser
        .post(
            action,
            &[
                ("state", &page.hidden("state")),
                ("username", ALICE.0),
                ("password", ALICE.1),
            ],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(forged.body.contains("CSRF"));
    assert!(!browser.cookies.contains_key("claimsmith_session"));
    // A wrong password shows the form again, with one generic message.
    let wrong = browser
        .post(
            action,
            &[
                ("state", &page.hidden("state")),
                ("_csrf", &page.hidden("_csrf")),
                ("username", ALICE.0),
                ("password", "nope"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Wrong email or password."));
}

#[tokio::test]
async fn discovery_lists_the_interactive_flows() {
    let server = server().await;
    let document = super::discovery(&server).await;
    let doc = &document;
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{}authorize", server.issuer("acme"))
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        doc["response_types_supported"],
        serde_json::json!(["code", "id_token", "id_token token"])
    );
    assert!(
        doc["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&"authorization_code".into())
    );
}

#[tokio::test]
async fn form_post_answers_with_a_form_that_posts_the_code_to_the_client() {
    let server = server().await;
    let mut browser = Browser::new();
    let to_login = browser
        .authorize(
            &server,
            &[
                ("client_id", "webapp"),
                ("redirect_uri", WEBAPP_CALLBACK),
                ("response_type", "code"),
                ("response_mode", "form_post"),
                ("state", "fp"),
                ("login_hint", "alice@acme.test"),
            ],
        )
        .await;
    let login_page = browser.get(to_login.location.as_deref().unwrap()).await;
    assert!(
        login_page.body.contains(r#"value="alice@acme.test""#),
        "login_hint prefills the form"
    );
    let page = browser.log_in(&to_login, ALICE).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.location.is_none());
    assert!(
        page.body
            .contains(&format!(r#"action="{WEBAPP_CALLBACK}""#)),
        "{}",
        page.body
    );
    assert_eq!(page.hidden("state"), "fp");
    let code = page.hidden("code");
    assert_eq!(exchange_webapp_code(&server, &code).await.status, 200);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
}
