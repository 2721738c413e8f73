//! The other browser journeys: a rule's redirect and `/continue`, a device activation, and
//! a single-page app on another origin rotating its refresh token through CORS.

use super::app::App;
use super::{ALICE, Chrome, server_for};

#[tokio::test]
async fn a_rule_redirect_goes_to_the_application_and_continues() {
    let (app, issuer) = App::start().await;
    let server = server_for(&app.origin).await;
    issuer.set(server.issuer("acme"));
    let chrome = Chrome::start().await;
    let query = claimsmith_tests::server::form(&[
        ("client_id", "mfa-app"),
        ("redirect_uri", &format!("{}/callback", app.origin)),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "step-up"),
        (
            "code_challenge",
            "ZtNPunH49FD35FWYhT5Tv8I7vRKQJ8uxMaL0_9eHjNA",
        ),
        ("code_challenge_method", "S256"),
    ]);
    chrome
        .goto(&format!("{}?{query}", server.url("acme", "authorize")))
        .await;
    chrome.log_in(ALICE).await;
    chrome.wait_for("#continue").await;
    assert!(
        chrome
            .url()
            .await
            .starts_with(&format!("{}/mfa?state=", app.origin))
    );
    chrome
        .wait_for("#continue")
        .await
        .click()
        .await
        .expect("continue");
    chrome.wait_for("#callback").await;
    let back = chrome.url().await;
    assert!(
        back.contains("code=") && back.contains("state=step-up"),
        "{back}"
    );

    // The state is used up: going back to /continue shows an error page.
    chrome.client.back().await.expect("back");
    chrome
        .wait_for("#continue")
        .await
        .click()
        .await
        .expect("continue again");
    let error = chrome.wait_for("p.error").await;
    assert!(error.text().await.expect("text").contains("already used"));
    chrome.screenshot("error").await;
    chrome.close().await;
}

#[tokio::test]
async fn a_device_is_activated_in_the_browser() {
    let (app, issuer) = App::start().await;
    let server = server_for(&app.origin).await;
    issuer.set(server.issuer("acme"));
    let started = server
        .post_form(
            &server.url("acme", "oauth/device/code"),
            &[("client_id", "tv"), ("scope", "openid offline_access")],
        )
        .await;
    let user_code = started.field("user_code");
    let chrome = Chrome::start().await;
    chrome
        .goto(
            &started
                .field("verification_uri_complete")
                .replace(&server.issuer_base, &server.addr),
        )
        .await;
    let field = chrome.wait_for("#user_code").await;
    assert_eq!(
        field.prop("value").await.expect("a value").as_deref(),
        Some(user_code.as_str())
    );
    chrome.screenshot("activate").await;
    chrome
        .wait_for("button[type=submit]")
        .await
        .click()
        .await
        .expect("submit");
    chrome.log_in(ALICE).await;
    let confirm = chrome.wait_for("button[value=confirm]").await;
    chrome.screenshot("confirm-device").await;
    confirm.click().await.expect("confirm");
    let heading = chrome.wait_for("#device-done").await;
    assert_eq!(
        heading.text().await.expect("text"),
        "Your device is signed in"
    );

    server.clock.advance_secs(5);
    let tokens = server
        .token(
            "acme",
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", "tv"),
                ("device_code", &started.field("device_code")),
            ],
        )
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert!(tokens.body.get("refresh_token").is_some());
    chrome.close().await;
}

#[tokio::test]
async fn a_single_page_app_on_another_origin_rotates_its_refresh_token() {
    let (app, issuer) = App::start().await;
    let server = server_for(&app.origin).await;
    issuer.set(server.issuer("acme"));
    let chrome = Chrome::start().await;
    chrome.goto(&format!("{}/spa", app.origin)).await;
    chrome.log_in(ALICE).await;
    chrome.wait_for("body[data-done]").await;
    let result = chrome.wait_for("#result").await.text().await.expect("text");
    let result: serde_json::Value = serde_json::from_str(&result).expect("JSON");
    assert_eq!(
        result["statuses"],
        serde_json::json!([200, 200, 200]),
        "{result}"
    );
    assert_eq!(result["rotated"], true, "{result}");
    assert_eq!(
        result["replay"], "invalid_grant",
        "reuse is detected: {result}"
    );
    assert_eq!(result["state"], "spa-state");
    chrome.close().await;
}
