//! Every grant as data: a request in, the response or the error out.

use rules_abi::{Deny, DenyError, Redirect, RevokeRefreshToken, RuleOutcome};

use crate::testkit::Harness;
use crate::testkit::fixtures::{API, PASSWORD};
use crate::{OAuthError, TokenResponse};

/// What a case expects: the granted scope and which tokens come back, or the error.
#[derive(Debug)]
enum Expect {
    Tokens {
        scope: &'static str,
        id_token: bool,
        refresh_token: bool,
    },
    Error(u16, &'static str, &'static str),
}

fn check(harness: &mut Harness, name: &str, client: &str, params: &[(&str, &str)], expect: Expect) {
    let result = harness.token(client, params);
    match (expect, result) {
        (
            Expect::Tokens {
                scope,
                id_token,
                refresh_token,
            },
            Ok(response),
        ) => {
            assert_eq!(response.scope, scope, "{name}");
            assert_eq!(response.id_token.is_some(), id_token, "{name}: id_token");
            assert_eq!(
                response.refresh_token.is_some(),
                refresh_token,
                "{name}: refresh_token"
            );
        }
        (Expect::Error(status, error, description), Err(got)) => {
            assert_eq!(
                (got.status(), got.error.as_str(), got.description.as_str()),
                (status, error, description),
                "{name}"
            );
        }
        (expect, got) => panic!("{name}: expected {expect:?}, got {got:?}"),
    }
}

fn password<'a>(scope: &'a str, audience: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "password"),
        ("username", "alice@acme.test"),
        ("password", PASSWORD),
        ("audience", audience),
        ("scope", scope),
    ]
}

#[test]
fn password_grant_cases() {
    use Expect::*;
    let mut h = Harness::default();
    let full = "openid profile offline_access read:things";
    check(
        &mut h,
        "offline access gives a refresh token",
        "web",
        &password(full, API),
        Tokens {
            scope: full,
            id_token: true,
            refresh_token: true,
        },
    );
    check(
        &mut h,
        "no offline_access, no refresh token",
        "web",
        &password("openid read:things", API),
        Tokens {
            scope: "openid read:things",
            id_token: true,
            refresh_token: false,
        },
    );
    check(
        &mut h,
        "no openid, no ID token",
        "web",
        &password("read:things", API),
        Tokens {
            scope: "read:things",
            id_token: false,
            refresh_token: false,
        },
    );
    check(
        &mut h,
        "no scope at all: every scope of the API (implied trust)",
        "web",
        &[
            ("grant_type", "password"),
            ("username", "alice@acme.test"),
            ("password", PASSWORD),
            ("audience", API),
        ],
        Tokens {
            scope: "read:things write:things",
            id_token: false,
            refresh_token: false,
        },
    );
    check(
        &mut h,
        "public clients log in without a secret",
        "spa",
        &password(full, API),
        Tokens {
            scope: full,
            id_token: true,
            refresh_token: true,
        },
    );
    check(
        &mut h,
        "a scope the API does not define",
        "web",
        &password("openid delete:all", API),
        Error(
            400,
            "invalid_scope",
            "Scope 'delete:all' is not defined for the requested audience.",
        ),
    );
    check(
        &mut h,
        "an unknown audience",
        "web",
        &password("openid", "https://nowhere.test/"),
        Error(
            403,
            "access_denied",
            "Service not found: https://nowhere.test/",
        ),
    );
    let mut wrong = password("openid", API);
    wrong[2] = ("password", "not it");
    check(
        &mut h,
        "a wrong password",
        "web",
        &wrong,
        Error(403, "invalid_grant", "Wrong email or password."),
    );
    wrong[1] = ("username", "nobody@acme.test");
    check(
        &mut h,
        "an unknown user looks the same",
        "web",
        &wrong,
        Error(403, "invalid_grant", "Wrong email or password."),
    );
    check(
        &mut h,
        "an audience that could split a key",
        "web",
        &password("openid", "https://x\0/"),
        Error(
            400,
            "invalid_request",
            "The audience contains a control character.",
        ),
    );
    wrong[1] = ("username", "no\0body");
    check(
        &mut h,
        "a username that could split a key",
        "web",
        &wrong,
        Error(
            400,
            "invalid_request",
            "The username contains a control character.",
        ),
    );
    check(
        &mut h,
        "an unknown grant type",
        "web",
        &[("grant_type", "urn:x")],
        Error(
            400,
            "unsupported_grant_type",
            "Unsupported grant type: urn:x",
        ),
    );
    check(
        &mut h,
        "an unknown client",
        "ghost",
        &password("openid", API),
        Error(401, "invalid_client", "Client authentication failed."),
    );
}

#[test]
fn client_credentials_cases() {
    use Expect::*;
    let mut h = Harness::default();
    let grant = |audience| vec![("grant_type", "client_credentials"), ("audience", audience)];
    check(
        &mut h,
        "a machine token with the client grant's scopes",
        "web",
        &grant(API),
        Tokens {
            scope: "read:things",
            id_token: false,
            refresh_token: false,
        },
    );
    let mut wider = grant(API);
    wider.push(("scope", "write:things"));
    check(
        &mut h,
        "a scope the client grant lacks",
        "web",
        &wider,
        Error(
            400,
            "invalid_scope",
            "Client has not been granted scope 'write:things'.",
        ),
    );
    check(
        &mut h,
        "public clients cannot",
        "spa",
        &grant(API),
        Error(
            403,
            "unauthorized_client",
            "Grant type 'client_credentials' not allowed for the client.",
        ),
    );
    check(
        &mut h,
        "no audience",
        "web",
        &[("grant_type", "client_credentials")],
        Error(
            403,
            "access_denied",
            "No audience parameter was provided, and no default audience has been configured",
        ),
    );
    assert!(
        h.rules.seen.lock().unwrap().is_empty(),
        "no user, so no rules"
    );
}

fn rules_answer(h: &mut Harness, outcome: RuleOutcome) -> Result<TokenResponse, OAuthError> {
    h.rules.set(outcome);
    h.login("web", "openid offline_access read:things")
}

#[test]
fn rule_outcomes_on_a_login() {
    let mut h = Harness::default();
    let deny = |error| Deny {
        error,
        description: "no".into(),
    };
    // A revocation request outside a refresh exchange is ignored; the deny after it is not.
    let revoke_then_deny = RuleOutcome {
        revoke_refresh_token: Some(RevokeRefreshToken {
            reason: "lost".into(),
        }),
        deny: Some(deny(DenyError::AccessDenied)),
        ..RuleOutcome::default()
    };
    assert_eq!(
        rules_answer(&mut h, revoke_then_deny).unwrap_err(),
        OAuthError::access_denied("no")
    );
    let revoke_only = RuleOutcome {
        revoke_refresh_token: Some(RevokeRefreshToken {
            reason: "lost".into(),
        }),
        ..RuleOutcome::default()
    };
    assert!(rules_answer(&mut h, revoke_only).is_ok());
    assert_eq!(
        rules_answer(
            &mut h,
            RuleOutcome {
                deny: Some(deny(DenyError::Unauthorized)),
                ..RuleOutcome::default()
            }
        )
        .unwrap_err(),
        OAuthError::unauthorized("no")
    );
    assert_eq!(
        rules_answer(
            &mut h,
            RuleOutcome {
                redirect: Some(Redirect {
                    url: "https://x.test/".into()
                }),
                ..RuleOutcome::default()
            }
        )
        .unwrap_err(),
        OAuthError::invalid_request("Redirection is not available on /oauth/token endpoint.")
    );
    h.rules.fail("Rule 'x' failed: the rule trapped.");
    assert_eq!(
        h.login("web", "openid").unwrap_err(),
        OAuthError::access_denied("Rule 'x' failed: the rule trapped.")
    );
}

#[test]
fn rules_may_add_api_scopes_to_the_access_token_only() {
    let mut h = Harness::default();
    let wanted = ["read:things", "write:things", "delete:all", "profile"]
        .map(str::to_owned)
        .to_vec();
    let response = rules_answer(
        &mut h,
        RuleOutcome {
            access_token_scope: Some(wanted),
            ..RuleOutcome::default()
        },
    )
    .unwrap();
    assert_eq!(
        response.scope, "read:things write:things",
        "an API scope is added; one of no API and an OpenID scope not granted are not"
    );
    assert!(
        response.id_token.is_some(),
        "the ID token follows the granted scope"
    );
    assert!(response.refresh_token.is_some());
    let family = h
        .store
        .refresh_page("acme", None, 10)
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        family.scope,
        ["openid", "offline_access", "read:things"],
        "the refresh token keeps the granted scope; rules run again on each exchange"
    );
    let refreshed = h
        .refresh("web", response.refresh_token.as_deref().unwrap())
        .unwrap();
    assert_eq!(refreshed.scope, "read:things write:things");
}

use crate::Store as _;
