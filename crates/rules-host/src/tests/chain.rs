use serde_json::json;

use super::*;

fn rule(host: &RuleHost, name: &str, order: i64, output: &str) -> ChainRule {
    ChainRule {
        name: name.into(),
        order,
        enabled: true,
        module: host
            .load(&returning(output), &RuleLimits::default())
            .unwrap(),
    }
}

#[test]
fn rules_run_in_ascending_order_and_disabled_ones_are_skipped() {
    let host = host();
    let mut disabled = rule(&host, "disabled", 0, r#"{"idToken":{"who":"disabled"}}"#);
    disabled.enabled = false;
    let rules = vec![
        rule(&host, "third", 30, r#"{"idToken":{"who":"third"}}"#),
        rule(&host, "first", 10, r#"{"idToken":{"who":"first","a":1}}"#),
        disabled,
        rule(&host, "second", 20, r#"{"idToken":{"who":"second","b":2}}"#),
    ];
    let chain = host
        .run_chain(&rules, &RuleInput::default(), &RuleLimits::default())
        .unwrap();
    let order: Vec<&str> = chain.runs.iter().map(|run| run.rule.as_str()).collect();
    assert_eq!(order, ["first", "second", "third"]);
    assert_eq!(
        chain.outcome.id_token["who"],
        json!("third"),
        "later rules win"
    );
    assert_eq!(chain.outcome.id_token["a"], json!(1));
    assert_eq!(chain.outcome.id_token["b"], json!(2));
    assert!(chain.runs.iter().all(|run| run.fuel_used > 0));
}

#[test]
fn the_first_deny_stops_the_chain() {
    let host = host();
    let rules = vec![
        rule(&host, "claims", 1, r#"{"accessToken":{"x":1}}"#),
        rule(
            &host,
            "gate",
            2,
            r#"{"deny":{"error":"unauthorized","description":"no"}}"#,
        ),
        rule(&host, "never", 3, r#"{"accessToken":{"never":true}}"#),
    ];
    let chain = host
        .run_chain(&rules, &RuleInput::default(), &RuleLimits::default())
        .unwrap();
    assert_eq!(chain.stopped_by.as_deref(), Some("gate"));
    assert_eq!(chain.runs.len(), 2);
    assert!(!chain.outcome.access_token.contains_key("never"));
    assert_eq!(chain.outcome.deny.unwrap().description, "no");
}

#[test]
fn refresh_token_expiry_keeps_the_earliest_and_revoke_stops() {
    let host = host();
    let rules = vec![
        rule(
            &host,
            "a",
            1,
            r#"{"refreshTokenExpiresAt":2000,"refreshTokenIdleExpiresAt":900}"#,
        ),
        rule(&host, "b", 2, r#"{"refreshTokenExpiresAt":1000}"#),
        rule(
            &host,
            "c",
            3,
            r#"{"revokeRefreshToken":{"reason":"lost device"}}"#,
        ),
        rule(&host, "d", 4, r#"{}"#),
    ];
    let mut input = RuleInput::default();
    input.context.protocol = rules_abi::Protocol::OAuth2RefreshToken;
    let chain = host
        .run_chain(&rules, &input, &RuleLimits::default())
        .unwrap();
    assert_eq!(chain.outcome.refresh_token_expires_at, Some(1000));
    assert_eq!(chain.outcome.refresh_token_idle_expires_at, Some(900));
    assert_eq!(chain.stopped_by.as_deref(), Some("c"));
    assert_eq!(chain.runs.len(), 3);
}

#[test]
fn a_revocation_outside_a_refresh_exchange_skips_no_rule() {
    let host = host();
    let rules = vec![
        rule(
            &host,
            "revoker",
            1,
            r#"{"revokeRefreshToken":{"reason":"lost device"}}"#,
        ),
        rule(
            &host,
            "gate",
            2,
            r#"{"deny":{"error":"access_denied","description":"not from here"}}"#,
        ),
    ];
    for protocol in [
        rules_abi::Protocol::OAuth2Password,
        rules_abi::Protocol::OidcBasicProfile,
        rules_abi::Protocol::OAuth2DeviceCode,
    ] {
        let mut input = RuleInput::default();
        input.context.protocol = protocol.clone();
        let chain = host
            .run_chain(&rules, &input, &RuleLimits::default())
            .unwrap();
        assert_eq!(chain.runs.len(), 2, "{protocol:?}: the deny still runs");
        assert_eq!(chain.stopped_by.as_deref(), Some("gate"));
        assert_eq!(chain.outcome.revoke_refresh_token, None);
        assert_eq!(chain.outcome.deny.unwrap().description, "not from here");
    }
}

#[test]
fn too_many_rules_are_refused() {
    let host = host();
    let rules: Vec<ChainRule> = (0..3).map(|i| rule(&host, "r", i, "{}")).collect();
    let limits = limits_with(|l| l.rules_per_chain = 2);
    assert_eq!(
        host.run_chain(&rules, &RuleInput::default(), &limits)
            .unwrap_err(),
        ChainError::TooManyRules { count: 3, max: 2 }
    );
}

#[test]
fn an_empty_chain_changes_nothing() {
    let host = host();
    let chain = host
        .run_chain(&[], &RuleInput::default(), &RuleLimits::default())
        .unwrap();
    assert_eq!(chain.outcome, RuleOutcome::default());
    assert!(chain.runs.is_empty());
}

#[test]
fn public_descriptions_name_the_rule_and_the_limit_only() {
    let error = ChainError::Rule(crate::RuleError {
        rule: "add-roles".into(),
        failure: RuleFailure::Trap {
            message: "wasm trap: internal detail at 0x1234".into(),
        },
    });
    assert_eq!(
        error.public_description(),
        "Rule 'add-roles' failed: the rule trapped."
    );
    let fuel = crate::RuleError {
        rule: "x".into(),
        failure: RuleFailure::OutOfFuel { limit: 5 },
    };
    assert_eq!(
        fuel.public_description(),
        "Rule 'x' failed: fuel limit of 5 exceeded."
    );
}

/// A rule (ABI v1, whose input is the event's JSON alone) that logs its whole input and
/// returns `output`.
fn logging_input(host: &RuleHost, name: &str, order: i64, output: &str) -> ChainRule {
    let wasm = wat(&rule_wat(
        "(call $log (local.get $ptr) (local.get $len)) (call $out)",
        output.as_bytes(),
        "",
    ));
    ChainRule {
        name: name.into(),
        order,
        enabled: true,
        module: host.load(&wasm, &RuleLimits::default()).unwrap(),
    }
}

/// The chain copies the event only when a rule changes something: whatever it copies or
/// not, every later rule must see every change of the earlier ones, and a seed of its own.
#[test]
fn later_rules_see_what_earlier_ones_changed_and_a_seed_of_their_own() {
    let host = host();
    let limits = limits_with(|limits| limits.log_line_chars = 4096);
    let rules = vec![
        rule(
            &host,
            "changer",
            1,
            r#"{"idToken":{"https://x.test/a":1},"accessToken":{"https://x.test/b":2},
                "accessTokenScope":["openid","read"],"appMetadata":{"plan":"gold"},
                "userMetadata":{"theme":"dark"}}"#,
        ),
        logging_input(&host, "reader", 2, "{}"),
        logging_input(&host, "last", 3, r#"{"idToken":{"https://x.test/c":3}}"#),
    ];
    let mut input = RuleInput::default();
    input.user.user_id = "u1".into();
    input.context.scope = vec!["openid".into()];
    input.seed = 42;
    let chain = host.run_chain(&rules, &input, &limits).unwrap();
    let seen: Vec<serde_json::Value> = chain.runs[1..]
        .iter()
        .map(|run| serde_json::from_str(&run.log[0]).expect("the input, logged whole"))
        .collect();
    for event in &seen {
        assert_eq!(event["context"]["idToken"], json!({"https://x.test/a": 1}));
        assert_eq!(
            event["context"]["accessToken"],
            json!({"https://x.test/b": 2})
        );
        assert_eq!(event["context"]["scope"], json!(["openid", "read"]));
        assert_eq!(event["user"]["app_metadata"], json!({"plan": "gold"}));
        assert_eq!(event["user"]["user_metadata"], json!({"theme": "dark"}));
        assert_eq!(event["user"]["user_id"], json!("u1"));
    }
    let seeds: Vec<u64> = seen.iter().map(|e| e["seed"].as_u64().unwrap()).collect();
    assert_ne!(seeds[0], seeds[1], "each rule has a seed of its own");
    assert!(
        !seeds.contains(&42),
        "derived from the caller's, not equal to it"
    );
    // The last rule's change is in the outcome, though no rule reads it.
    assert_eq!(chain.outcome.id_token["https://x.test/c"], json!(3));
    // The same chain on the same input gives every rule the same seed again.
    let again = host.run_chain(&rules, &input, &limits).unwrap();
    assert_eq!(again.runs[1].log, chain.runs[1].log);
}

/// A rule that changes nothing leaves the next rule the caller's event as it was.
#[test]
fn a_rule_that_changes_nothing_passes_the_event_on_unchanged() {
    let host = host();
    let limits = limits_with(|limits| limits.log_line_chars = 4096);
    let rules = vec![
        rule(&host, "quiet", 1, "{}"),
        logging_input(&host, "reader", 2, "{}"),
    ];
    let mut input = RuleInput::default();
    input.user.app_metadata.insert("plan".into(), json!("free"));
    input
        .context
        .id_token
        .insert("https://x.test/a".into(), json!(0));
    let chain = host.run_chain(&rules, &input, &limits).unwrap();
    let mut seen: RuleInput = serde_json::from_str(&chain.runs[1].log[0]).unwrap();
    assert_ne!(seen.seed, input.seed);
    seen.seed = input.seed;
    assert_eq!(seen, input);
}
