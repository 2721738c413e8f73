//! Compiled rules live in a cache bounded by memory: nothing is compiled at start, a tenant's
//! modules are compiled at their first use, and a module evicted under the budget is compiled
//! again, from the store, when next used, with the same claims.

use claimsmith_tests::server::{SEED, TestServer, claims};
use rules_host::HostConfig;
use serde_json::json;

use super::*;

/// The acme tenant's enabled rules in the test seed.
const ACME_RULES: u64 = 4;

fn config(budget: usize) -> HostConfig {
    HostConfig {
        pool_slots: 4,
        compiled_budget_bytes: budget,
        ..HostConfig::default()
    }
}

fn roles(reply: &claimsmith_tests::server::Reply) -> serde_json::Value {
    assert_eq!(reply.status, 200, "{}", reply.body);
    claims(&reply.field("access_token"))["https://claimsmith.example/roles"].clone()
}

#[tokio::test]
async fn rules_are_compiled_at_first_use_not_at_start_and_again_after_a_restart() {
    let server = TestServer::with_own_host(SEED, config(512 << 20)).await;
    assert_eq!(
        server.state.rule_cache().compiles,
        0,
        "nothing compiled at start"
    );

    let first = login(&server, &WEB, OFFLINE).await;
    assert_eq!(roles(&first), json!(["editor", "admin"]));
    let stats = server.state.rule_cache();
    assert_eq!(
        (stats.compiles, stats.modules),
        (ACME_RULES, ACME_RULES as usize)
    );

    // The next issuance finds them compiled.
    let refreshed = refresh(&server, &WEB, &first.field("refresh_token")).await;
    assert_eq!(roles(&refreshed), json!(["editor", "admin"]));
    let stats = server.state.rule_cache();
    assert_eq!(stats.compiles, ACME_RULES);
    assert!(stats.hits >= ACME_RULES, "{stats:?}");

    // A restart starts with an empty cache; the first exchange compiles, and runs, the rules.
    let server = server.restart().await;
    assert_eq!(server.state.rule_cache().compiles, 0);
    let after = refresh(&server, &WEB, &refreshed.field("refresh_token")).await;
    assert_eq!(roles(&after), json!(["editor", "admin"]));
    assert_eq!(server.state.rule_cache().compiles, ACME_RULES);
}

#[tokio::test]
async fn a_module_evicted_under_the_budget_is_compiled_again_and_gives_the_same_claims() {
    // A budget of one byte holds a single module: every chain evicts its own earlier rules
    // (a call holds its modules until it ends), so each issuance compiles them all again.
    let server = TestServer::with_own_host(SEED, config(1)).await;
    let first = login(&server, &WEB, OFFLINE).await;
    assert_eq!(roles(&first), json!(["editor", "admin"]));
    let refreshed = refresh(&server, &WEB, &first.field("refresh_token")).await;
    assert_eq!(roles(&refreshed), json!(["editor", "admin"]));
    assert_eq!(
        claims(&refreshed.field("access_token"))["https://claimsmith.example/protocol"],
        "oauth2-refresh-token"
    );
    let stats = server.state.rule_cache();
    assert_eq!(stats.compiles, 2 * ACME_RULES, "{stats:?}");
    assert_eq!(stats.modules, 1);
    assert_eq!(stats.evictions, 2 * ACME_RULES - 1);
}
