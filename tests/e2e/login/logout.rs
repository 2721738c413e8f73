//! Logout over HTTP: the session cookie is cleared, the server-side session ends, and the
//! browser returns only to an allow-listed URL.

use super::browser::Browser;
use super::{WEBAPP_CALLBACK, server};

const ALICE: (&str, &str) = ("alice@acme.test", "correct horse battery staple");

#[tokio::test]
async fn oidc_logout_ends_the_session_and_returns_to_the_allowed_url() {
    let server = server().await;
    let mut browser = Browser::new();
    let params = [
        ("client_id", "webapp"),
        ("redirect_uri", WEBAPP_CALLBACK),
        ("response_type", "code"),
        ("scope", "openid"),
    ];
    let to_login = browser.authorize(&server, &params).await;
    let back = browser.log_in(&to_login, ALICE).await;
    assert!(back.location_param("code").is_some());
    let stolen_cookie = browser.cookies["claimsmith_session"].clone();

    let refused = browser
        .get(&format!(
            "{}?client_id=webapp&post_logout_redirect_uri=https://evil.test/",
            server.url("acme", "oidc/logout")
        ))
        .await;
    assert_eq!(refused.status, 400);
    assert!(refused.location.is_none());

    let out = browser
        .get(&format!(
            "{}?client_id=webapp&post_logout_redirect_uri=https://webapp.test/bye&state=abc",
            server.url("acme", "oidc/logout")
        ))
        .await;
    assert_eq!(out.status, 302, "{}", out.body);
    assert_eq!(
        out.location.as_deref(),
        Some("https://webapp.test/bye?state=abc")
    );
    let cleared = out
        .set_cookies
        .iter()
        .find(|c| c.starts_with("claimsmith_session="))
        .expect("the cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    // The server forgot the session: its old cookie value logs nobody in.
    browser
        .cookies
        .insert("claimsmith_session".into(), stolen_cookie);
    let mut silent = params.to_vec();
    silent.push(("prompt", "none"));
    let after = browser.authorize(&server, &silent).await;
    assert_eq!(
        after.location_param("error").as_deref(),
        Some("login_required")
    );

    let document = super::discovery(&server).await;
    assert_eq!(
        document["end_session_endpoint"],
        format!("{}oidc/logout", server.issuer("acme"))
    );
}
