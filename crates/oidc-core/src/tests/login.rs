//! The interactive flows as data: `/authorize`, the hosted login, codes with PKCE, SSO,
//! rules at login with their redirects, on the in-memory store.

use base64::Engine as _;
use rules_abi::{Deny, DenyError, Protocol, Redirect, RuleOutcome};
use serde_json::Value;

use crate::login::{Answer, AuthorizeError, ClientRedirect, LoginFailure, Step};
use crate::store::Store as _;
use crate::testkit::fixtures::{API, PASSWORD, callback};
use crate::testkit::{Harness, TestBrowser};

/// A verifier and its S256 challenge (`base64url(sha256(verifier))`, computed apart).
const VERIFIER: &str = "claimsmith-test-verifier-0123456789-abcdefghijklmnop";
const CHALLENGE: &str = "wWqoRaH4dGItjQX-DQVibSK2AUYtxjkg0xRN14UFDQg";

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWS");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

fn code_request<'a>(
    client: &'a str,
    redirect_uri: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![
        ("client_id", client),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("scope", "openid profile offline_access read:things"),
        ("audience", API),
        ("state", "st-1"),
        ("nonce", "n-1"),
    ];
    params.extend_from_slice(extra);
    params
}

fn to_client(answer: &Answer) -> &ClientRedirect {
    match &answer.step {
        Step::Client(redirect) => redirect,
        other => panic!("expected a redirect to the client, got {other:?}"),
    }
}

fn param<'a>(redirect: &'a ClientRedirect, name: &str) -> Option<&'a str> {
    redirect
        .params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A fresh browser logs alice in to `spa` with PKCE; returns the code.
fn login_for_code(harness: &mut Harness, browser: &mut TestBrowser) -> String {
    let cb = callback("spa");
    let answer = harness
        .authorize(
            browser,
            &code_request(
                "spa",
                &cb,
                &[
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "S256"),
                ],
            ),
        )
        .expect("the login page");
    let done = harness.login_as_alice(browser, &answer).expect("logged in");
    let redirect = to_client(&done);
    assert_eq!(redirect.redirect_uri, cb);
    assert_eq!(param(redirect, "state"), Some("st-1"));
    param(redirect, "code").expect("a code").to_owned()
}

fn exchange(
    harness: &mut Harness,
    code: &str,
    verifier: Option<&str>,
) -> Result<crate::TokenResponse, crate::OAuthError> {
    let cb = callback("spa");
    let mut params = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", cb.as_str()),
    ];
    if let Some(verifier) = verifier {
        params.push(("code_verifier", verifier));
    }
    harness.token("spa", &params)
}

#[test]
fn code_with_pkce_gives_tokens_bound_to_the_login() {
    let mut harness = Harness::default();
    let mut browser = TestBrowser::new("a");
    let code = login_for_code(&mut harness, &mut browser);
    let tokens = exchange(&mut harness, &code, Some(VERIFIER)).expect("tokens");
    assert!(
        tokens.refresh_token.is_some(),
        "offline_access on a rotating SPA"
    );
    let id = payload(tokens.id_token.as_deref().expect("an ID token"));
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["sub"], "auth0|alice");
    assert_eq!(id["aud"], "spa");
    assert_eq!(id["auth_time"], harness.now / 1000);
    let sid = id["sid"].as_str().expect("sid");
    assert!(
        browser
            .session
            .as_deref()
            .expect("a session cookie")
            .starts_with(sid)
    );
    let at_hash = crate::mint::half_hash(crate::SigningAlg::ES256, &tokens.access_token);
    assert_eq!(id["at_hash"], at_hash.as_str());
    // The family remembers the session, and rotates as any other.
    let refreshed = harness
        .refresh("spa", tokens.refresh_token.as_deref().unwrap())
        .expect("a refresh");
    assert_eq!(payload(refreshed.id_token.as_deref().unwrap())["sid"], sid);
}

#[test]
fn a_wrong_or_missing_verifier_fails_and_the_code_stays_unused() {
    let mut harness = Harness::default();
    let code = login_for_code(&mut harness, &mut TestBrowser::new("a"));
    let missing = exchange(&mut harness, &code, None).unwrap_err();
    assert_eq!(missing.error.as_str(), "invalid_request");
    let wrong = exchange(&mut harness, &code, Some(&"x".repeat(43))).unwrap_err();
    assert_eq!(
        (wrong.error.as_str(), wrong.description.as_str()),
        ("invalid_grant", "Failed to verify code verifier")
    );
    assert!(
        exchange(&mut harness, &code, Some(VERIFIER)).is_ok(),
        "failures do not burn the code"
    );
}

#[test]
fn a_reused_code_fails_and_revokes_what_the_first_use_issued() {
    let mut harness = Harness::default();
    let code = login_for_code(&mut harness, &mut TestBrowser::new("a"));
    let first = exchange(&mut harness, &code, Some(VERIFIER)).expect("tokens");
    let again = exchange(&mut harness, &code, Some(VERIFIER)).unwrap_err();
    assert_eq!(
        (again.error.as_str(), again.description.as_str()),
        ("invalid_grant", "Invalid authorization code")
    );
    let refresh = harness
        .refresh("spa", first.refresh_token.as_deref().unwrap())
        .unwrap_err();
    assert_eq!(
        refresh.error.as_str(),
        "invalid_grant",
        "the first exchange's family is revoked"
    );
}

#[test]
fn a_code_is_the_clients_own_and_lives_sixty_seconds() {
    let mut harness = Harness::default();
    let code = login_for_code(&mut harness, &mut TestBrowser::new("a"));
    let foreign = harness
        .token(
            "web",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &callback("spa")),
            ],
        )
        .unwrap_err();
    assert_eq!(foreign.error.as_str(), "invalid_grant");
    let other_uri = harness
        .token(
            "spa",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://evil.test/cb"),
                ("code_verifier", VERIFIER),
            ],
        )
        .unwrap_err();
    assert_eq!(other_uri.error.as_str(), "invalid_grant");
    harness.advance_secs(60);
    let late = exchange(&mut harness, &code, Some(VERIFIER)).unwrap_err();
    assert_eq!(late.description, "Invalid authorization code");
}

#[test]
fn an_unregistered_redirect_uri_or_unknown_client_is_shown_never_redirected_to() {
    let mut harness = Harness::default();
    let mut browser = TestBrowser::new("a");
    for (client, uri) in [
        ("spa", "https://evil.test/callback"),
        ("spa", "https://spa.app.test/callback/"),
        ("spa", "https://spa.app.test/callback?x=1"),
        ("nobody", "https://spa.app.test/callback"),
    ] {
        let error = harness
            .authorize(&mut browser, &code_request(client, uri, &[]))
            .unwrap_err();
        assert!(
            matches!(error, AuthorizeError::Page(_)),
            "{client} {uri}: {error:?}"
        );
    }
}

#[test]
fn errors_after_the_redirect_uri_is_proven_go_to_the_client_with_state() {
    let mut harness = Harness::default();
    let mut browser = TestBrowser::new("a");
    let cb = callback("spa");
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[], "invalid_request"), // a public client without PKCE
        (
            &[
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (
            &[
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("scope", "openid delete:everything"),
            ],
            "invalid_scope",
        ),
    ];
    for (extra, expected) in cases {
        let mut params = code_request("spa", &cb, &[]);
        for (name, value) in extra {
            params.retain(|(n, _)| n != name);
            params.push((name, value));
        }
        let Err(AuthorizeError::Client(redirect)) = harness.authorize(&mut browser, &params) else {
            panic!("{extra:?}: expected an error for the client");
        };
        assert_eq!(param(&redirect, "error"), Some(expected), "{extra:?}");
        assert_eq!(param(&redirect, "state"), Some("st-1"));
    }
}

#[test]
fn implicit_never_yields_a_refresh_token() {
    let mut harness = Harness::default();
    let mut browser = TestBrowser::new("a");
    let cb = callback("web");
    let answer = harness
        .authorize(
            &mut browser,
            &[
                ("client_id", "web"),
                ("redirect_uri", &cb),
                ("response_type", "id_token token"),
                ("scope", "openid offline_access read:things"),
                ("audience", API),
                ("nonce", "n-2"),
            ],
        )
        .unwrap();
    let done = harness.login_as_alice(&mut browser, &answer).unwrap();
    let redirect = to_client(&done);
    assert_eq!(redirect.mode, crate::login::ResponseMode::Fragment);
    assert!(param(redirect, "refresh_token").is_none());
    let access = param(redirect, "access_token").expect("an access token");
    assert!(
        !payload(access)["scope"]
            .as_str()
            .unwrap()
            .contains("offline_access")
    );
    let id = payload(param(redirect, "id_token").unwrap());
    assert_eq!(id["nonce"], "n-2");
    assert_eq!(
        id["at_hash"],
        crate::mint::half_hash(crate::SigningAlg::ES256, access).as_str()
    );
    assert!(redirect.location().unwrap().starts_with(&format!("{cb}#")));
}

#[test]
fn prompt_none_answers_from_the_session_or_says_login_required() {
    let mut harness = Harness::default();
    let mut browser = TestBrowser::new("a");
    let cb = callback("web");
    let silent = code_request("web", &cb, &[("prompt", "none")]);
    let Err(AuthorizeError::Client(redirect)) = harness.authorize(&mut browser, &silent) else {
        panic!("expected login_required");
    };
    assert_eq!(param(&redirect, "error"), Some("login_required"));

    let answer = harness
        .authorize(&mut browser, &code_request("web", &cb, &[]))
        .unwrap();
    harness.login_as_alice(&mut browser, &answer).unwrap();
    harness.advance_secs(30);
    let answer = harness
        .authorize(&mut browser, &silent)
        .expect("a code from the session");
    assert!(param(to_client(&answer), "code").is_some());
    assert!(
        answer.session_cookie.is_none(),
        "silent authentication keeps the cookie"
    );

    // max_age shorter than the session's age asks for a login again; prompt=none then fails.
    let Err(AuthorizeError::Client(redirect)) = harness.authorize(
        &mut browser,
        &code_request("web", &cb, &[("prompt", "none"), ("max_age", "10")]),
    ) else {
        panic!("expected login_required for max_age");
    };
    assert_eq!(param(&redirect, "error"), Some("login_required"));
    // Another browser has no session.
    let Err(AuthorizeError::Client(_)) = harness.authorize(&mut TestBrowser::new("b"), &silent)
    else {
        panic!("a browser without the cookie has no session");
    };
}

#[test]
fn logins_count_counts_password_logins_only() {
    let mut harness = Harness::default();
    let mut browser = TestBrowser::new("a");
    let cb = callback("web");
    let count = |harness: &Harness| harness.store_user("auth0|alice").logins_count;
    let answer = harness
        .authorize(&mut browser, &code_request("web", &cb, &[]))
        .unwrap();
    harness.login_as_alice(&mut browser, &answer).unwrap();
    assert_eq!(count(&harness), 1);
    // Silent authentication: rules see the count, it does not move.
    harness
        .authorize(
            &mut browser,
            &code_request("web", &cb, &[("prompt", "none")]),
        )
        .unwrap();
    let seen = harness.rules.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.context.stats.logins_count, 1);
    assert_eq!(
        seen.context.sso.as_ref().map(|sso| sso.with_auth0),
        Some(true)
    );
    assert_eq!(count(&harness), 1);
    // The password grant counts; a refresh does not.
    let tokens = harness.login("web", "openid offline_access").unwrap();
    assert_eq!(count(&harness), 2);
    harness
        .refresh("web", tokens.refresh_token.as_deref().unwrap())
        .unwrap();
    assert_eq!(count(&harness), 2);
    assert_eq!(
        harness.store_user("auth0|alice").last_ip.as_deref(),
        Some("203.0.113.7")
    );
}

#[test]
fn rules_at_login_see_the_auth0_context() {
    let mut harness = Harness::default();
    let mut browser = TestBrowser::new("a");
    let cb = callback("web");
    let answer = harness
        .authorize(&mut browser, &code_request("web", &cb, &[]))
        .unwrap();
    harness.login_as_alice(&mut browser, &answer).unwrap();
    let seen = harness.rules.seen.lock().unwrap().last().cloned().unwrap();
    let context = &seen.context;
    assert_eq!(context.protocol, Protocol::OidcBasicProfile);
    assert!(
        context
            .session_id
            .as_deref()
            .is_some_and(|sid| sid.starts_with("sid_"))
    );
    let sso = context.sso.as_ref().unwrap();
    assert!(!sso.with_auth0 && sso.with_dbconn);
    let methods = &context.authentication.as_ref().unwrap().methods;
    assert_eq!(
        (methods[0].name.as_str(), methods[0].timestamp),
        ("pwd", harness.now)
    );
    assert_eq!(context.request.query["state"], "st-1");
    assert_eq!(context.connection_id, "con_database");
    assert_eq!(seen.user.identities[0].provider, "auth0");
    assert_eq!(seen.user.identities[0].user_id, "alice");
    assert!(
        seen.user
            .created_at
            .as_deref()
            .is_some_and(|at| at.starts_with("2026-11-27T12:00:00"))
    );
}

#[test]
fn a_rule_deny_goes_to_the_client_with_state() {
    let mut harness = Harness::default();
    harness.rules.set(RuleOutcome {
        deny: Some(Deny {
            error: DenyError::Unauthorized,
            description: "[00043] office hours only".into(),
        }),
        ..RuleOutcome::default()
    });
    let mut browser = TestBrowser::new("a");
    let cb = callback("web");
    let answer = harness
        .authorize(&mut browser, &code_request("web", &cb, &[]))
        .unwrap();
    let done = harness
        .login_as_alice(&mut browser, &answer)
        .expect("the session stands");
    let redirect = to_client(&done);
    assert_eq!(param(redirect, "error"), Some("unauthorized"));
    assert_eq!(
        param(redirect, "error_description"),
        Some("[00043] office hours only")
    );
    assert_eq!(param(redirect, "state"), Some("st-1"));
    assert!(browser.session.is_some());
}

#[test]
fn a_rule_redirect_resumes_once_at_continue_from_the_same_browser() {
    let mut harness = Harness::default();
    harness.rules.set(RuleOutcome {
        redirect: Some(Redirect {
            url: "https://mfa.example/step?x=1".into(),
        }),
        ..RuleOutcome::default()
    });
    let mut browser = TestBrowser::new("a");
    let cb = callback("web");
    let answer = harness
        .authorize(&mut browser, &code_request("web", &cb, &[]))
        .unwrap();
    let done = harness.login_as_alice(&mut browser, &answer).unwrap();
    let Step::Rule { url } = &done.step else {
        panic!("expected the rule's redirect, got {done:?}");
    };
    let state = url
        .strip_prefix("https://mfa.example/step?x=1&state=")
        .expect("the state appended");
    assert!(
        browser.session.is_some(),
        "the session exists during the redirect"
    );

    // Another browser cannot use the state.
    let stolen = harness
        .resume(&mut TestBrowser::new("b"), state)
        .unwrap_err();
    assert!(matches!(stolen, AuthorizeError::Page(_)));

    // The chain runs again with redirect-callback; a redirect now is ignored.
    let back = harness.resume(&mut browser, state).expect("resumed");
    assert!(param(to_client(&back), "code").is_some());
    let seen = harness.rules.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.context.protocol, Protocol::RedirectCallback);
    assert_eq!(
        seen.context.original_protocol,
        Some(Protocol::OidcBasicProfile)
    );

    // Replayed: refused.
    let replay = harness.resume(&mut browser, state).unwrap_err();
    let AuthorizeError::Page(error) = replay else {
        panic!("a replay is shown on a page");
    };
    assert_eq!(error.error.as_str(), "invalid_request");
    // Logins: one, the password one.
    assert_eq!(harness.store_user("auth0|alice").logins_count, 1);
}

#[test]
fn with_prompt_none_a_rule_redirect_is_interaction_required() {
    let mut harness = Harness::default();
    let mut browser = TestBrowser::new("a");
    let cb = callback("web");
    let answer = harness
        .authorize(&mut browser, &code_request("web", &cb, &[]))
        .unwrap();
    harness.login_as_alice(&mut browser, &answer).unwrap();
    harness.rules.set(RuleOutcome {
        redirect: Some(Redirect {
            url: "https://mfa.example/step".into(),
        }),
        ..RuleOutcome::default()
    });
    let Err(AuthorizeError::Client(redirect)) = harness.authorize(
        &mut browser,
        &code_request("web", &cb, &[("prompt", "none")]),
    ) else {
        panic!("expected interaction_required");
    };
    assert_eq!(param(&redirect, "error"), Some("interaction_required"));
}

#[test]
fn a_login_form_without_its_csrf_token_or_from_another_browser_is_refused() {
    let mut harness = Harness::default();
    let mut browser = TestBrowser::new("a");
    let cb = callback("web");
    let answer = harness
        .authorize(&mut browser, &code_request("web", &cb, &[]))
        .unwrap();
    let Step::Login { transaction } = &answer.step else {
        panic!("expected the login page");
    };
    let page = harness.login_page(&browser, transaction).unwrap();
    let alice = ("alice@acme.test", PASSWORD);
    for (csrf, who) in [
        (None, "a"),
        (Some("forged"), "a"),
        (Some(page.csrf.as_str()), "b"),
    ] {
        let mut as_browser = TestBrowser::new(who);
        let refused = harness
            .submit_login(&mut as_browser, transaction, csrf, alice)
            .unwrap_err();
        assert!(
            matches!(refused, LoginFailure::Page(ref e) if e.error.as_str() == "access_denied"),
            "{csrf:?} {who}: {refused:?}"
        );
    }
    assert!(
        harness
            .login_page(&TestBrowser::new("b"), transaction)
            .is_err()
    );
    // A wrong password shows the form again with one generic message…
    let wrong = harness
        .submit_login(
            &mut browser,
            transaction,
            Some(&page.csrf),
            ("alice@acme.test", "nope"),
        )
        .unwrap_err();
    let LoginFailure::Retry {
        page: again,
        status,
    } = wrong
    else {
        panic!("expected the form again");
    };
    assert_eq!(
        (again.error.as_deref(), status),
        (Some("Wrong email or password."), 401)
    );
    let unknown = harness
        .submit_login(
            &mut browser,
            transaction,
            Some(&page.csrf),
            ("nobody@acme.test", "nope"),
        )
        .unwrap_err();
    assert!(matches!(unknown, LoginFailure::Retry { page, .. } if page.error == again.error));
    // …and the right one logs in, once.
    harness
        .submit_login(&mut browser, transaction, Some(&page.csrf), alice)
        .unwrap();
    let twice = harness
        .submit_login(&mut browser, transaction, Some(&page.csrf), alice)
        .unwrap_err();
    assert!(matches!(twice, LoginFailure::Page(_)));
}

#[test]
fn the_hosted_login_shares_brute_force_protection_with_the_password_grant() {
    let mut harness = Harness::default();
    for _ in 0..harness.throttle.settings().max_attempts {
        let _ = harness.token(
            "web",
            &[
                ("grant_type", "password"),
                ("username", "alice@acme.test"),
                ("password", "wrong"),
            ],
        );
    }
    let mut browser = TestBrowser::new("a");
    let answer = harness
        .authorize(&mut browser, &code_request("web", &callback("web"), &[]))
        .unwrap();
    let blocked = harness.login_as_alice(&mut browser, &answer).unwrap_err();
    assert!(
        matches!(blocked, LoginFailure::Retry { status: 429, .. }),
        "{blocked:?}"
    );
}

#[test]
fn the_sweep_deletes_expired_flow_records_and_keeps_live_ones() {
    use crate::store::FlowKind;
    let mut harness = Harness::default();
    let mut browser = TestBrowser::new("a");
    let cb = callback("web");
    let answer = harness
        .authorize(&mut browser, &code_request("web", &cb, &[]))
        .unwrap();
    harness.login_as_alice(&mut browser, &answer).unwrap();
    // A second login left at its page: a transaction that lives an hour.
    harness
        .authorize(&mut TestBrowser::new("b"), &code_request("web", &cb, &[]))
        .unwrap();
    let sweep = |harness: &Harness, kind| {
        let mut deleted = 0;
        let mut after = None;
        loop {
            let (n, next) = crate::login::records::sweep(
                &harness.store,
                "acme",
                kind,
                after.as_deref(),
                1,
                harness.now,
            )
            .unwrap();
            deleted += n;
            match next {
                Some(next) => after = Some(next),
                None => return deleted,
            }
        }
    };
    let count = |harness: &Harness, kind| {
        harness
            .store
            .flow_page("acme", kind, None, 100)
            .unwrap()
            .len()
    };
    assert_eq!(count(&harness, FlowKind::AuthorizationCode), 1);
    harness.advance_secs(11 * 60);
    assert_eq!(
        sweep(&harness, FlowKind::AuthorizationCode),
        1,
        "the code's record has lapsed"
    );
    assert_eq!(
        sweep(&harness, FlowKind::Login),
        0,
        "the pending login has an hour"
    );
    assert_eq!(sweep(&harness, FlowKind::Session), 0);
    assert_eq!(count(&harness, FlowKind::Login), 1);
    harness.advance_secs(3600);
    assert_eq!(sweep(&harness, FlowKind::Login), 1);
    harness.advance_secs(3 * 86_400);
    assert_eq!(sweep(&harness, FlowKind::Session), 1, "idle for three days");
    assert_eq!(count(&harness, FlowKind::Session), 0);
}

/// Alice logged in to `web` through the code flow with offline access; returns the tokens.
fn logged_in_with_tokens(harness: &mut Harness, browser: &mut TestBrowser) -> crate::TokenResponse {
    let cb = callback("web");
    let answer = harness
        .authorize(browser, &code_request("web", &cb, &[]))
        .unwrap();
    let done = harness.login_as_alice(browser, &answer).unwrap();
    let code = param(to_client(&done), "code").unwrap().to_owned();
    harness
        .token(
            "web",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &cb),
            ],
        )
        .expect("tokens")
}

#[test]
fn logout_ends_the_session_and_returns_only_to_allowed_urls() {
    let mut harness = Harness::default();
    let mut client = harness.store.client("acme", "web").unwrap().unwrap();
    client.allowed_logout_urls = vec!["https://web.app.test/bye".into()];
    harness.store.put_client("acme", &client).unwrap();
    let mut browser = TestBrowser::new("a");
    let tokens = logged_in_with_tokens(&mut harness, &mut browser);

    let refused = harness
        .logout(
            &browser,
            &[("client_id", "web"), ("returnTo", "https://evil.test/")],
            false,
        )
        .unwrap_err();
    assert_eq!(refused.error.as_str(), "invalid_request");
    let unnamed = harness.logout(&browser, &[("returnTo", "https://web.app.test/bye")], false);
    assert!(unnamed.is_err(), "returnTo needs its client");

    let done = harness
        .logout(
            &browser,
            &[
                ("client_id", "web"),
                ("returnTo", "https://web.app.test/bye"),
            ],
            false,
        )
        .unwrap();
    assert_eq!(done.redirect.as_deref(), Some("https://web.app.test/bye"));
    assert!(done.ended);
    let Err(AuthorizeError::Client(redirect)) = harness.authorize(
        &mut browser,
        &code_request("web", &callback("web"), &[("prompt", "none")]),
    ) else {
        panic!("the session is gone");
    };
    assert_eq!(param(&redirect, "error"), Some("login_required"));
    // Refresh tokens outlive the session by default, as Auth0's do.
    assert!(
        harness
            .refresh("web", tokens.refresh_token.as_deref().unwrap())
            .is_ok()
    );
    assert!(
        !harness.logout(&browser, &[], false).unwrap().ended,
        "nothing left to end"
    );
}

#[test]
fn oidc_logout_trusts_a_signed_hint_and_a_client_can_revoke_its_tokens_with_the_session() {
    let mut harness = Harness::default();
    let mut client = harness.store.client("acme", "web").unwrap().unwrap();
    client.allowed_logout_urls = vec!["https://web.app.test/bye".into()];
    client.logout_revokes_refresh_tokens = true;
    harness.store.put_client("acme", &client).unwrap();
    let mut browser = TestBrowser::new("a");
    let tokens = logged_in_with_tokens(&mut harness, &mut browser);
    let hint = tokens.id_token.clone().unwrap();
    // A password-grant token of the same client, outside the session: it stays.
    let outside = harness.login("web", "openid offline_access").unwrap();

    let forged = format!("{}x", &hint[..hint.len() - 1]);
    let bad = harness.logout(
        &browser,
        &[
            ("id_token_hint", &forged),
            ("post_logout_redirect_uri", "https://web.app.test/bye"),
        ],
        true,
    );
    assert!(bad.is_err(), "a hint with a broken signature is refused");
    let mismatch = harness.logout(
        &browser,
        &[("id_token_hint", &hint), ("client_id", "spa")],
        true,
    );
    assert!(mismatch.is_err());

    harness.advance_secs(86_400 * 2); // the hint has expired: still accepted
    let done = harness
        .logout(
            &browser,
            &[
                ("id_token_hint", &hint),
                ("post_logout_redirect_uri", "https://web.app.test/bye"),
                ("state", "s 1"),
            ],
            true,
        )
        .unwrap();
    assert_eq!(
        done.redirect.as_deref(),
        Some("https://web.app.test/bye?state=s+1")
    );
    assert!(
        harness
            .refresh("web", tokens.refresh_token.as_deref().unwrap())
            .is_err(),
        "revoked with the session"
    );
    assert!(
        harness
            .refresh("web", outside.refresh_token.as_deref().unwrap())
            .is_ok()
    );
}

#[test]
fn the_tenant_log_records_logins_silent_authentication_and_logout() {
    let mut harness = Harness::default();
    let mut browser = TestBrowser::new("a");
    let cb = callback("web");
    let kinds = |harness: &Harness| -> Vec<(String, Option<String>)> {
        harness
            .audit
            .take()
            .into_iter()
            .map(|event| (event.kind, event.user_id))
            .collect()
    };
    let silent = code_request("web", &cb, &[("prompt", "none")]);
    let _ = harness.authorize(&mut browser, &silent);
    assert_eq!(kinds(&harness), [("fsa".to_owned(), None)]);

    let answer = harness
        .authorize(&mut browser, &code_request("web", &cb, &[]))
        .unwrap();
    let Step::Login { transaction } = &answer.step else {
        panic!("expected the login page");
    };
    let page = harness.login_page(&browser, transaction).unwrap();
    let _ = harness.submit_login(
        &mut browser,
        transaction,
        Some(&page.csrf),
        ("alice@acme.test", "wrong"),
    );
    assert_eq!(kinds(&harness), [("f".to_owned(), None)]);
    harness
        .submit_login(
            &mut browser,
            transaction,
            Some(&page.csrf),
            ("alice@acme.test", crate::testkit::fixtures::PASSWORD),
        )
        .unwrap();
    let alice = Some("auth0|alice".to_owned());
    assert_eq!(kinds(&harness), [("s".to_owned(), alice.clone())]);
    harness.authorize(&mut browser, &silent).unwrap();
    assert_eq!(kinds(&harness), [("ssa".to_owned(), alice.clone())]);
    harness.logout(&browser, &[], false).unwrap();
    assert_eq!(kinds(&harness), [("slo".to_owned(), alice)]);
}

#[test]
fn a_replay_racing_the_first_exchange_still_kills_its_tokens() {
    use crate::store::FlowKind;
    use crate::testkit::{FailingStore, MemoryStore};
    let mut harness = Harness::with_store(FailingStore::new(MemoryStore::new()));
    let mut browser = TestBrowser::new("a");
    let cb = callback("web");
    let answer = harness
        .authorize(&mut browser, &code_request("web", &cb, &[]))
        .unwrap();
    let done = harness.login_as_alice(&mut browser, &answer).unwrap();
    let code = param(to_client(&done), "code").unwrap().to_owned();
    let id = crate::login::records::digest(&crate::Secret::new(code.clone()));
    // The exchange writes the redemption, then the family. A replay lands between the two:
    // it marks the code, and finds no family to revoke yet.
    harness.store.interleave(1, move |inner: &MemoryStore| {
        let stored = inner
            .flow("acme", FlowKind::AuthorizationCode, &id)
            .unwrap()
            .unwrap();
        let mut record: crate::login::code::CodeRecord =
            serde_json::from_slice(&stored.body).unwrap();
        record
            .redeemed
            .as_mut()
            .expect("redeemed by the first exchange")
            .replayed = true;
        let replaced = crate::FlowRecord {
            version: stored.version + 1,
            body: serde_json::to_vec(&record).unwrap(),
            ..stored.clone()
        };
        let write = crate::FlowWrite::Replace {
            expected_version: stored.version,
            record: &replaced,
        };
        assert!(
            inner
                .write_flow("acme", FlowKind::AuthorizationCode, &id, write)
                .unwrap()
        );
    });
    let first = harness.token(
        "web",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &cb),
        ],
    );
    assert_eq!(first.unwrap_err().description, "Invalid authorization code");
    let families = harness
        .store
        .refresh_families("acme", "auth0|alice", Some("web"))
        .unwrap();
    assert_eq!(families.len(), 1, "the first exchange made its family");
    assert!(
        families[0].revoked.is_some(),
        "and revoked it on seeing the replay"
    );
}
