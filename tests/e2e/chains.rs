//! Chains of example rules: order, visibility of earlier results, and the first deny.

use claimsmith_tests::{event, host, rule};
use rules_abi::Protocol;
use rules_host::RuleLimits;
use serde_json::json;

#[test]
fn three_rules_enrich_and_narrow_one_token() {
    let host = host();
    let rules = [
        rule(&host, "scopes-by-role", 30),
        rule(&host, "add-roles", 10),
        rule(&host, "client-metadata-claims", 20),
    ];
    let chain = host
        .run_chain(
            &rules,
            &event(Protocol::OAuth2Password),
            &RuleLimits::default(),
        )
        .unwrap();
    let order: Vec<&str> = chain.runs.iter().map(|run| run.rule.as_str()).collect();
    assert_eq!(
        order,
        ["add-roles", "client-metadata-claims", "scopes-by-role"]
    );
    let token = &chain.outcome.access_token;
    assert_eq!(
        token["https://claimsmith.example/roles"],
        json!(["admin", "editor"])
    );
    assert_eq!(
        token["https://claimsmith.example/protocol"],
        json!("oauth2-password")
    );
    assert_eq!(
        chain.outcome.access_token_scope.as_deref().unwrap(),
        [
            "openid",
            "profile",
            "email",
            "offline_access",
            "read:reports"
        ]
    );
}

#[test]
fn a_deny_stops_the_chain_before_later_rules() {
    let host = host();
    let mut input = event(Protocol::OAuth2RefreshToken);
    input
        .user
        .app_metadata
        .insert("blocked".into(), true.into());
    let rules = [
        rule(&host, "deny-blocked-on-refresh", 1),
        rule(&host, "add-roles", 2),
    ];
    let chain = host
        .run_chain(&rules, &input, &RuleLimits::default())
        .unwrap();
    assert_eq!(chain.stopped_by.as_deref(), Some("deny-blocked-on-refresh"));
    assert_eq!(chain.runs.len(), 1);
    assert!(chain.outcome.access_token.is_empty());
}

#[test]
fn each_rule_sees_what_earlier_rules_set() {
    // scopes-by-role narrows `context.scope`; a second copy of it later in the chain sees the
    // narrowed scope and has nothing left to remove, so it logs nothing.
    let host = host();
    let rules = [
        rule(&host, "scopes-by-role", 1),
        rule(&host, "scopes-by-role", 2),
    ];
    let chain = host
        .run_chain(
            &rules,
            &event(Protocol::OAuth2Password),
            &RuleLimits::default(),
        )
        .unwrap();
    assert_eq!(chain.runs[0].log, ["narrowed scope from 6 to 5 entries"]);
    assert!(chain.runs[1].log.is_empty(), "{:?}", chain.runs[1].log);
}

#[test]
fn every_rule_reports_fuel_and_time() {
    let host = host();
    let rules = [rule(&host, "add-roles", 1), rule(&host, "hello-wat", 2)];
    let chain = host
        .run_chain(
            &rules,
            &event(Protocol::OAuth2Password),
            &RuleLimits::default(),
        )
        .unwrap();
    for run in &chain.runs {
        assert!(
            run.fuel_used > 0 && run.fuel_used < RuleLimits::default().fuel,
            "{run:?}"
        );
        assert!(!run.duration.is_zero());
    }
    assert_eq!(chain.runs[1].log, ["hello from WAT"]);
}
