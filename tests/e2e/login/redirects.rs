//! Rules at the end of a browser login: a deny goes back to the client, a redirect leaves
//! for the rule's URL and comes back once through `/continue`.

use claimsmith_tests::server::{TestServer, claims};
use claimsmith_tests::{wat_rule, wat_rule_if};

use super::browser::Browser;
use super::{WEBAPP_CALLBACK, exchange_webapp_code, seed};

const ALICE: (&str, &str) = ("alice@acme.test", "correct horse battery staple");

const MFA_RULE: &str = r#"
[[tenant.rule]]
name = "mfa-redirect"
order = 50
module = "rules/mfa-redirect.wasm"
"#;

const DENY_RULE: &str = r#"
[[tenant.rule]]
name = "deny-webapp"
order = 50
module = "rules/deny-webapp.wasm"
"#;

fn authorize_params(prompt: Option<&str>) -> Vec<(&str, &str)> {
    let mut params = vec![
        ("client_id", "webapp"),
        ("redirect_uri", WEBAPP_CALLBACK),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st"),
    ];
    params.extend(prompt.map(|p| ("prompt", p)));
    params
}

#[tokio::test]
async fn a_rule_redirect_comes_back_once_through_continue() {
    let module = wat_rule_if(
        r#""protocol":"redirect-callback""#,
        r#"{"idToken":{"https://x.test/mfa":"done"}}"#,
        r#"{"redirect":{"url":"https://mfa.test/challenge?lang=en"}}"#,
    );
    let server = TestServer::with_seed(&seed(MFA_RULE), &[("mfa-redirect", module)]).await;
    let mut browser = Browser::new();
    let to_login = browser.authorize(&server, &authorize_params(None)).await;
    let to_rule = browser.log_in(&to_login, ALICE).await;
    assert_eq!(to_rule.status, 302, "{}", to_rule.body);
    let location = to_rule.location.clone().unwrap();
    assert!(
        location.starts_with("https://mfa.test/challenge?lang=en&state="),
        "{location}"
    );
    let state = to_rule.location_param("state").unwrap();

    // Silent authentication during the redirect: the rule would redirect again.
    let silent = browser
        .authorize(&server, &authorize_params(Some("none")))
        .await;
    assert_eq!(
        silent.location_param("error").as_deref(),
        Some("interaction_required")
    );

    let continue_url = format!(
        "{}?state={state}&otp=123456",
        server.url("acme", "continue")
    );
    let back = browser.get(&continue_url).await;
    assert_eq!(back.status, 302, "{}", back.body);
    assert!(
        back.location
            .as_deref()
            .unwrap()
            .starts_with(WEBAPP_CALLBACK)
    );
    let code = back
        .location_param("code")
        .expect("a code after the redirect");
    let tokens = exchange_webapp_code(&server, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(
        claims(&tokens.field("id_token"))["https://x.test/mfa"],
        "done"
    );

    let replay = browser.get(&continue_url).await;
    assert_eq!(replay.status, 400);
    assert!(replay.location.is_none());
    assert!(replay.body.contains("invalid_request"));
    let forged = browser
        .get(&format!("{}?state=forged", server.url("acme", "continue")))
        .await;
    assert_eq!(forged.status, 400);
}

#[tokio::test]
async fn a_rule_deny_goes_back_to_the_client_with_its_state() {
    let module = wat_rule(
        "",
        r#"{"deny":{"error":"unauthorized","description":"[00042] Not today."}}"#,
    );
    let server = TestServer::with_seed(&seed(DENY_RULE), &[("deny-webapp", module)]).await;
    let mut browser = Browser::new();
    let to_login = browser.authorize(&server, &authorize_params(None)).await;
    let back = browser.log_in(&to_login, ALICE).await;
    assert_eq!(back.status, 302, "{}", back.body);
    assert!(
        back.location
            .as_deref()
            .unwrap()
            .starts_with(WEBAPP_CALLBACK)
    );
    assert_eq!(
        back.location_param("error").as_deref(),
        Some("unauthorized")
    );
    assert_eq!(
        back.location_param("error_description").as_deref(),
        Some("[00042] Not today.")
    );
    assert_eq!(back.location_param("state").as_deref(), Some("st"));
    assert!(back.location_param("code").is_none());
}
