//! The device flow over HTTP: the code pair, the activation page with its login and its
//! confirmation, and the polling answers until the tokens.

use super::browser::Browser;
use super::{API, server};

const ALICE: (&str, &str) = ("alice@acme.test", "correct horse battery staple");
const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

#[tokio::test]
async fn a_tv_signs_in_through_the_activation_page() {
    let server = server().await;
    let started = server
        .post_form(
            &server.url("acme", "oauth/device/code"),
            &[
                ("client_id", "tv"),
                ("scope", "openid offline_access read:reports"),
                ("audience", API),
            ],
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let device_code = started.field("device_code");
    let user_code = started.field("user_code");
    assert_eq!(
        started.field("verification_uri"),
        format!("{}activate", server.issuer("acme"))
    );
    let poll = || {
        let server = &server;
        let device_code = device_code.clone();
        async move {
            server
                .token(
                    "acme",
                    &[
                        ("grant_type", GRANT),
                        ("client_id", "tv"),
                        ("device_code", &device_code),
                    ],
                )
                .await
        }
    };
    assert_eq!(poll().await.error().1, "authorization_pending");
    assert_eq!(poll().await.error().1, "slow_down");

    // The user opens verification_uri_complete, submits the prefilled code, logs in, confirms.
    let mut browser = Browser::new();
    let complete = started
        .field("verification_uri_complete")
        .replace(&server.issuer_base, &server.addr);
    let form = browser.get(&complete).await;
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains(&format!(r#"value="{user_code}""#)),
        "prefilled: {}",
        form.body
    );
    let activate_url = server.url("acme", "activate");
    let forged = browser
        .post(&activate_url, &[("user_code", &user_code)])
        .await;
    assert_eq!(forged.status, 403, "no CSRF token");
    let to_login = browser
        .post(
            &activate_url,
            &[("user_code", &user_code), ("_csrf", &form.hidden("_csrf"))],
        )
        .await;
    let confirm = browser.log_in(&to_login, ALICE).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("Confirm the device") && confirm.body.contains(&user_code));
    let done = browser
        .post(
            &activate_url,
            &[
                ("user_code", &user_code),
                ("_csrf", &confirm.hidden("_csrf")),
                ("decision", "confirm"),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Your device is signed in"));

    server.clock.advance_secs(10);
    let tokens = poll().await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let refresh = tokens.field("refresh_token");
    // The tenant log has the exchange, and none of the polls that waited for the user.
    let logged: Vec<String> = {
        use oidc_core::Store as _;
        server.state.settle_logs();
        let events = server
            .store
            .logs("acme", None, 1000, false)
            .expect("the log");
        events.into_iter().map(|event| event.kind).collect()
    };
    assert!(logged.contains(&"sede".to_owned()), "{logged:?}");
    assert!(!logged.contains(&"fede".to_owned()), "{logged:?}");
    let id = claimsmith_tests::server::claims(&tokens.field("id_token"));
    assert_eq!(id["sub"], "auth0|alice");
    server.clock.advance_secs(10);
    assert_eq!(
        poll().await.error().1,
        "invalid_grant",
        "a device code is used once"
    );
    let rotated = server
        .token(
            "acme",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "tv"),
                ("refresh_token", &refresh),
            ],
        )
        .await;
    assert_eq!(
        rotated.status, 403,
        "the reuse revoked the family: {}",
        rotated.body
    );

    let document = super::discovery(&server).await;
    assert_eq!(
        document["device_authorization_endpoint"],
        format!("{}oauth/device/code", server.issuer("acme"))
    );
}
