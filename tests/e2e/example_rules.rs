//! Each example rule, on a login and on a refresh, through the real sandbox.

use claimsmith_tests::{event, example_rules, host, rule};
use expect_test::{Expect, expect};
use rules_abi::Protocol;
use rules_host::RuleLimits;

/// Runs one example rule on the testkit event for `protocol` and snapshots what it did.
fn check(
    name: &str,
    protocol: Protocol,
    change: impl FnOnce(&mut rules_abi::RuleInput),
    expect: Expect,
) {
    let host = host();
    let mut input = event(protocol);
    change(&mut input);
    let chain = host
        .run_chain(&[rule(&host, name, 1)], &input, &RuleLimits::default())
        .expect("the rule runs");
    let run = &chain.runs[0];
    assert!(run.fuel_used > 0);
    let report = serde_json::json!({ "outcome": chain.outcome, "log": run.log });
    expect.assert_eq(&serde_json::to_string_pretty(&report).unwrap());
}

fn unchanged(_: &mut rules_abi::RuleInput) {}

#[test]
fn every_example_passes_upload_validation_and_stays_small() {
    let host = host();
    for (name, wasm) in example_rules::ALL {
        host.load(wasm, &RuleLimits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(wasm.len() < 256 * 1024, "{name} is {} bytes", wasm.len());
    }
}

#[test]
fn add_roles() {
    check(
        "add-roles",
        Protocol::OAuth2Password,
        unchanged,
        expect![[r#"
        {
          "log": [
            "auth0|alice has 2 role(s)"
          ],
          "outcome": {
            "accessToken": {
              "https://claimsmith.example/roles": [
                "admin",
                "editor"
              ]
            },
            "idToken": {
              "https://claimsmith.example/roles": [
                "admin",
                "editor"
              ]
            }
          }
        }"#]],
    );
    check(
        "add-roles",
        Protocol::OAuth2RefreshToken,
        |input| {
            input
                .configuration
                .insert("CLAIMS_NAMESPACE".into(), "https://acme.test/".into());
        },
        expect![[r#"
        {
          "log": [
            "auth0|alice has 2 role(s)"
          ],
          "outcome": {
            "accessToken": {
              "https://acme.test/roles": [
                "admin",
                "editor"
              ]
            },
            "idToken": {
              "https://acme.test/roles": [
                "admin",
                "editor"
              ]
            }
          }
        }"#]],
    );
}

#[test]
fn deny_blocked_on_refresh() {
    let block = |input: &mut rules_abi::RuleInput| {
        input
            .user
            .app_metadata
            .insert("blocked".into(), true.into());
    };
    check(
        "deny-blocked-on-refresh",
        Protocol::OAuth2RefreshToken,
        block,
        expect![[r#"
        {
          "log": [
            "refused refresh for blocked user auth0|alice"
          ],
          "outcome": {
            "deny": {
              "description": "This account is blocked; sign in again.",
              "error": "access_denied"
            }
          }
        }"#]],
    );
    check(
        "deny-blocked-on-refresh",
        Protocol::OAuth2Password,
        block,
        expect![[r#"
        {
          "log": [],
          "outcome": {}
        }"#]],
    );
    check(
        "deny-blocked-on-refresh",
        Protocol::OAuth2RefreshToken,
        unchanged,
        expect![[r#"
        {
          "log": [],
          "outcome": {}
        }"#]],
    );
}

#[test]
fn redirect_to_terms() {
    check(
        "redirect-to-terms",
        Protocol::OidcBasicProfile,
        unchanged,
        expect![[r#"
        {
          "log": [],
          "outcome": {
            "redirect": {
              "url": "https://demo.claimsmith.test/terms"
            }
          }
        }"#]],
    );
    // Asked for on a refresh too: the token service refuses it there, because
    // `oauth2-refresh-token` has no user to redirect.
    check(
        "redirect-to-terms",
        Protocol::OAuth2RefreshToken,
        unchanged,
        expect![[r#"
        {
          "log": [
            "asking for a redirect on oauth2-refresh-token, where the host will refuse it"
          ],
          "outcome": {
            "redirect": {
              "url": "https://demo.claimsmith.test/terms"
            }
          }
        }"#]],
    );
    assert!(!Protocol::OAuth2RefreshToken.is_interactive());
}

#[test]
fn client_metadata_claims() {
    check(
        "client-metadata-claims",
        Protocol::OAuth2RefreshToken,
        unchanged,
        expect![[r#"
        {
          "log": [],
          "outcome": {
            "accessToken": {
              "https://claimsmith.example/client_metadata": {
                "region": "eu",
                "tier": "gold"
              },
              "https://claimsmith.example/client_name": "Demo App",
              "https://claimsmith.example/protocol": "oauth2-refresh-token"
            }
          }
        }"#]],
    );
}

#[test]
fn ip_allowlist() {
    check(
        "ip-allowlist",
        Protocol::OAuth2Password,
        unchanged,
        expect![[r#"
        {
          "log": [],
          "outcome": {}
        }"#]],
    );
    check(
        "ip-allowlist",
        Protocol::OAuth2Password,
        |input| {
            input.context.request.ip = Some("198.51.100.4".into());
        },
        expect![[r#"
        {
          "log": [
            "refused 198.51.100.4"
          ],
          "outcome": {
            "deny": {
              "description": "Access from 198.51.100.4 is not allowed.",
              "error": "access_denied"
            }
          }
        }"#]],
    );
}

#[test]
fn scopes_by_role() {
    check(
        "scopes-by-role",
        Protocol::OAuth2Password,
        unchanged,
        expect![[r#"
        {
          "log": [
            "narrowed scope from 6 to 5 entries"
          ],
          "outcome": {
            "accessTokenScope": [
              "openid",
              "profile",
              "email",
              "offline_access",
              "read:reports"
            ]
          }
        }"#]],
    );
}

#[test]
fn hello_wat() {
    check(
        "hello-wat",
        Protocol::OAuth2Password,
        unchanged,
        expect![[r#"
        {
          "log": [
            "hello from WAT"
          ],
          "outcome": {
            "accessToken": {
              "https://claimsmith.example/hello": "from WAT"
            }
          }
        }"#]],
    );
}
