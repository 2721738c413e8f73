//! The device flow (RFC 8628) as data: the code pair, the activation page with and without a
//! session, every polling answer, and the tokens once.

use rules_abi::{Deny, DenyError, Protocol, RuleOutcome};

use crate::login::{Step, device};
use crate::testkit::fixtures::API;
use crate::testkit::{Harness, TestBrowser};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn poll(
    harness: &mut Harness,
    device_code: &str,
) -> Result<crate::TokenResponse, crate::OAuthError> {
    harness.token(
        "spa",
        &[("grant_type", GRANT), ("device_code", device_code)],
    )
}

fn error_of(result: Result<crate::TokenResponse, crate::OAuthError>) -> String {
    result.expect_err("an error").error.as_str().to_owned()
}

#[test]
fn the_device_flow_goes_through_every_polling_state() {
    let mut harness = Harness::default();
    let started = harness
        .device_start(
            "spa",
            &[
                ("scope", "openid offline_access read:things"),
                ("audience", API),
            ],
        )
        .expect("a code pair");
    assert_eq!((started.expires_in, started.interval), (900, 5));
    assert_eq!(
        started.verification_uri,
        "https://acme.fixture.test/activate"
    );
    assert_eq!(
        started.verification_uri_complete,
        format!(
            "https://acme.fixture.test/activate?user_code={}",
            started.user_code
        )
    );
    let code = device::normalise(&started.user_code).expect("a well-formed user code");
    assert!(code.bytes().all(|b| b"BCDFGHJKLMNPQRSTVWXZ".contains(&b)));

    assert_eq!(
        error_of(poll(&mut harness, &started.device_code)),
        "authorization_pending"
    );
    assert_eq!(
        error_of(poll(&mut harness, &started.device_code)),
        "slow_down"
    );
    harness.advance_secs(10);
    assert_eq!(
        error_of(poll(&mut harness, &started.device_code)),
        "authorization_pending",
        "the interval grew to 10 s"
    );

    // The user enters the code (typed loosely), logs in, and confirms.
    let mut browser = TestBrowser::new("a");
    let typed = started.user_code.to_lowercase().replace('-', " ");
    let to_login = harness.activate(&mut browser, &typed, None).unwrap();
    assert!(matches!(to_login.step, Step::Login { .. }), "{to_login:?}");
    let confirm = harness.login_as_alice(&mut browser, &to_login).unwrap();
    let Step::ConfirmDevice {
        user_code,
        client_name,
        scope,
    } = &confirm.step
    else {
        panic!("expected the confirmation, got {confirm:?}");
    };
    assert_eq!(
        (user_code.as_str(), client_name.as_str()),
        (started.user_code.as_str(), "Fixture spa")
    );
    assert!(scope.contains(&"offline_access".to_owned()));
    assert_eq!(
        harness.store_user("auth0|alice").logins_count,
        1,
        "the login on the activation page counts"
    );
    let done = harness
        .activate(&mut browser, &started.user_code, Some(true))
        .unwrap();
    assert_eq!(
        done.step,
        Step::DeviceDone {
            approved: true,
            client_name: "Fixture spa".into()
        }
    );
    let seen = harness.rules.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.context.protocol, Protocol::OAuth2DeviceCode);

    harness.advance_secs(10);
    let tokens = poll(&mut harness, &started.device_code).expect("tokens");
    assert!(tokens.refresh_token.is_some());
    assert!(tokens.id_token.is_some());
    assert!(
        harness
            .refresh("spa", tokens.refresh_token.as_deref().unwrap())
            .is_ok()
    );
    // Once: a second exchange fails.
    harness.advance_secs(10);
    assert_eq!(
        error_of(poll(&mut harness, &started.device_code)),
        "invalid_grant"
    );
    // The code is used up: entering it again is refused.
    let again = harness
        .activate(&mut browser, &started.user_code, Some(true))
        .unwrap();
    assert!(matches!(again.step, Step::EnterCode { error: Some(_), .. }));
}

#[test]
fn a_cancel_or_a_rule_deny_is_access_denied_and_a_lapsed_code_expired_token() {
    let mut harness = Harness::default();
    let mut browser = TestBrowser::new("a");
    // A session first, through the code flow's login.
    let first = harness.device_start("spa", &[("scope", "openid")]).unwrap();
    let to_login = harness
        .activate(&mut browser, &first.user_code, None)
        .unwrap();
    harness.login_as_alice(&mut browser, &to_login).unwrap();
    let cancelled = harness
        .activate(&mut browser, &first.user_code, Some(false))
        .unwrap();
    assert_eq!(
        cancelled.step,
        Step::DeviceDone {
            approved: false,
            client_name: "Fixture spa".into()
        }
    );
    let error = poll(&mut harness, &first.device_code).unwrap_err();
    assert_eq!(
        (error.error.as_str(), error.description.as_str()),
        ("access_denied", "The user cancelled the device login.")
    );

    // With the session, the page asks to confirm straight away; a rule then denies.
    let second = harness.device_start("spa", &[("scope", "openid")]).unwrap();
    let confirm = harness
        .activate(&mut browser, &second.user_code, None)
        .unwrap();
    assert!(matches!(confirm.step, Step::ConfirmDevice { .. }));
    harness.rules.set(RuleOutcome {
        deny: Some(Deny {
            error: DenyError::AccessDenied,
            description: "No TVs on weekdays.".into(),
        }),
        ..RuleOutcome::default()
    });
    assert!(
        harness
            .activate(&mut browser, &second.user_code, Some(true))
            .is_err()
    );
    let error = poll(&mut harness, &second.device_code).unwrap_err();
    assert_eq!(
        (error.error.as_str(), error.description.as_str()),
        ("access_denied", "No TVs on weekdays.")
    );

    let third = harness.device_start("spa", &[("scope", "openid")]).unwrap();
    harness.advance_secs(900);
    assert_eq!(
        error_of(poll(&mut harness, &third.device_code)),
        "expired_token"
    );
    let other_client = harness
        .token(
            "web",
            &[("grant_type", GRANT), ("device_code", &second.device_code)],
        )
        .unwrap_err();
    assert_eq!(other_client.error.as_str(), "invalid_grant");
}

#[test]
fn wrong_user_codes_are_throttled_and_forms_need_their_csrf_token() {
    let mut harness = Harness::default();
    let mut browser = TestBrowser::new("a");
    let started = harness.device_start("spa", &[]).unwrap();
    let wrong = harness.activate(&mut browser, "BCDF-GHJK", None).unwrap();
    let Step::EnterCode {
        error: Some(message),
        ..
    } = &wrong.step
    else {
        panic!("expected the form again, got {wrong:?}");
    };
    assert!(message.contains("not valid"));
    for _ in 0..harness.throttle.settings().max_attempts {
        let _ = harness.activate(&mut browser, "BCDF-GHJK", None);
    }
    // Even the right code is refused while the IP is blocked.
    let blocked = harness
        .activate(&mut browser, &started.user_code, None)
        .unwrap();
    let Step::EnterCode {
        error: Some(message),
        ..
    } = &blocked.step
    else {
        panic!("expected the block, got {blocked:?}");
    };
    assert!(!message.contains("not valid"), "{message}");

    let mut other = TestBrowser::new("b");
    for csrf in [None, Some("forged")] {
        let forged = harness.activate_with(&mut other, (&started.user_code, csrf), Some(true));
        assert!(forged.is_err(), "{csrf:?}");
    }
    let someone_elses = crate::login::activation_csrf(&browser.id);
    let forged =
        harness.activate_with(&mut other, (&started.user_code, Some(&someone_elses)), None);
    assert!(forged.is_err(), "a token of another browser");
}
