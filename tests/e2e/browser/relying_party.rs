//! A certified relying-party library (`openidconnect`) drives the code flow against the
//! server: discovery, the authorization URL with PKCE and a nonce, a real browser's login,
//! the code exchange, ID-token validation against the JWKS (signature, issuer, audience,
//! nonce, at_hash), userinfo, refresh with rotation, and silent authentication.

use claimsmith_tests::server::START;
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthenticationFlow, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

use super::app::App;
use super::{ALICE, Chrome, server_for};

/// The server's clock, as the library's verifier must see it: tokens are minted at the
/// test's fixed time, never compared with the wall clock.
fn server_time() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(START as i64).expect("a valid time")
}

#[tokio::test]
async fn a_certified_client_logs_in_through_chromium_and_verifies_everything() {
    let (app, issuer) = App::start().await;
    let server = server_for(&app.origin).await;
    issuer.set(server.issuer("acme"));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");

    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(server.issuer("acme")).expect("an issuer URL"),
        &http,
    )
    .await
    .expect("discovery");
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new("rp-app".into()), None)
        .set_redirect_uri(RedirectUrl::new(format!("{}/callback", app.origin)).expect("a URL"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .add_scope(Scope::new("read:reports".into()))
        .add_extra_param("audience", super::super::login::API)
        .set_pkce_challenge(challenge)
        .url();

    let chrome = Chrome::start().await;
    chrome.goto(url.as_str()).await;
    chrome.wait_for("#username").await;
    chrome.screenshot("login").await;
    chrome.log_in(ALICE).await;
    chrome.wait_for("#callback").await;
    let landed = openidconnect::url::Url::parse(&chrome.url().await).expect("the callback URL");
    assert_eq!(landed.path(), "/callback");
    let param = |name: &str| {
        landed
            .query_pairs()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some(csrf.secret().as_str()));
    let code = param("code").expect("a code");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("a token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let id_verifier = client.id_token_verifier().set_time_fn(server_time);
    let claims = id_token
        .claims(&id_verifier, &nonce)
        .expect("a valid ID token");
    assert_eq!(claims.subject().as_str(), "auth0|alice");
    let expected_hash = claims.access_token_hash().expect("at_hash");
    let actual_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().expect("an algorithm"),
        id_token.signing_key(&id_verifier).expect("a key"),
    )
    .expect("a hash");
    assert_eq!(*expected_hash, actual_hash);

    let userinfo: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .expect("a userinfo endpoint")
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(
        userinfo.email().map(|email| email.as_str()),
        Some("alice@acme.test")
    );

    let refresh = tokens.refresh_token().expect("a refresh token");
    let rotated = client
        .exchange_refresh_token(refresh)
        .expect("a token endpoint")
        .request_async(&http)
        .await
        .expect("a refresh");
    let next = rotated.refresh_token().expect("a rotated refresh token");
    assert_ne!(next.secret(), refresh.secret());
    let refreshed_id = rotated.id_token().expect("an ID token on refresh");
    // No nonce on a refresh's ID token: the library's check is told so.
    let refreshed = refreshed_id
        .claims(&id_verifier, |_: Option<&Nonce>| Ok(()))
        .expect("a valid refreshed ID token");
    assert_eq!(refreshed.subject().as_str(), "auth0|alice");

    // Silent authentication: the session cookie answers without the login page.
    let (silent_url, silent_csrf, _) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_prompt(openidconnect::core::CoreAuthPrompt::None)
        .set_pkce_challenge(PkceCodeChallenge::new_random_sha256().0)
        .url();
    chrome.goto(silent_url.as_str()).await;
    chrome.wait_for("#callback").await;
    let silent = openidconnect::url::Url::parse(&chrome.url().await).expect("a URL");
    let pairs: Vec<(String, String)> = silent.query_pairs().into_owned().collect();
    assert!(pairs.iter().any(|(n, _)| n == "code"), "{pairs:?}");
    assert!(
        pairs
            .iter()
            .any(|(n, v)| n == "state" && v == silent_csrf.secret())
    );
    chrome.close().await;
}
