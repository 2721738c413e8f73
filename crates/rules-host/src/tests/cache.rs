//! The compiled-module cache: bounded by its budget, least recently used out, and a module
//! evicted or never compiled in this process is compiled again from its stored bytes.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::ModuleHash;

fn host_with_budget(budget: usize) -> RuleHost {
    host_with(HostConfig {
        pool_slots: 4,
        compiled_budget_bytes: budget,
        ..HostConfig::default()
    })
}

/// The footprint of one small test module, measured by loading it alone.
fn footprint_of(wasm: &[u8]) -> usize {
    let host = host();
    host.load(wasm, &RuleLimits::default()).unwrap();
    host.cache_stats().bytes
}

#[test]
fn the_least_recently_used_module_leaves_when_the_budget_is_exceeded() {
    let [a, b, c] = [
        returning(r#"{"idToken":{"a":1}}"#),
        returning(r#"{"idToken":{"b":1}}"#),
        returning(r#"{"idToken":{"c":1}}"#),
    ];
    let one = footprint_of(&a);
    assert!(one > a.len(), "the footprint counts compiled code: {one}");
    // Room for two modules, not three.
    let host = host_with_budget(one * 2 + one / 2);
    let limits = RuleLimits::default();
    host.load(&a, &limits).unwrap();
    host.load(&b, &limits).unwrap();
    // `a` is used again, so `b` is now the least recently used.
    let fetch_never = || -> Result<Option<Vec<u8>>, String> { panic!("a is cached") };
    host.load_stored(ModuleHash::of(&a), &limits, fetch_never)
        .unwrap();
    host.load(&c, &limits).unwrap();

    let stats = host.cache_stats();
    assert_eq!((stats.modules, stats.evictions, stats.compiles), (2, 1, 3));
    assert!(stats.bytes <= stats.budget, "{stats:?}");
    let fetched = AtomicUsize::new(0);
    let fetch_b = || {
        fetched.fetch_add(1, Ordering::Relaxed);
        Ok::<_, String>(Some(b.clone()))
    };
    // `b` was evicted: it is read and compiled again, and still runs.
    let rule = host
        .load_stored(ModuleHash::of(&b), &limits, fetch_b)
        .unwrap();
    assert_eq!(fetched.load(Ordering::Relaxed), 1);
    assert_eq!(host.cache_stats().compiles, 4);
    let chain = [ChainRule {
        name: "b".into(),
        order: 1,
        enabled: true,
        module: rule,
    }];
    let outcome = host
        .run_chain(&chain, &RuleInput::default(), &limits)
        .unwrap();
    assert_eq!(outcome.outcome.id_token["b"], 1);
}

#[test]
fn a_module_larger_than_the_budget_is_still_served() {
    let host = host_with_budget(1);
    let limits = RuleLimits::default();
    let rule = host.load(&returning("{}"), &limits).unwrap();
    assert_eq!(host.cache_stats().modules, 1);
    let again = host.load(&returning("{}"), &limits).unwrap();
    assert!(std::sync::Arc::ptr_eq(&rule.0, &again.0));
}

#[test]
fn stored_bytes_that_do_not_match_their_hash_or_are_missing_are_refused() {
    let host = host();
    let limits = RuleLimits::default();
    let hash = ModuleHash::of(&returning("{}"));
    let other = returning(r#"{"idToken":{"x":1}}"#);
    let error = host
        .load_stored(hash, &limits, || Ok::<_, String>(Some(other.clone())))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        rejection_text("the stored module does not match its hash")
    );
    let error = host
        .load_stored(hash, &limits, || Ok::<_, String>(None))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        rejection_text("the stored module is missing")
    );
    let error = host
        .load_stored(hash, &limits, || Err("disk on fire"))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        rejection_text("the stored module cannot be read: disk on fire")
    );
    assert_eq!(host.cache_stats().modules, 0);
}

#[test]
fn concurrent_misses_on_one_module_compile_it_once() {
    let host = host();
    let limits = RuleLimits::default();
    let wasm = returning(r#"{"idToken":{"shared":1}}"#);
    let hash = ModuleHash::of(&wasm);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                host.load_stored(hash, &limits, || Ok::<_, String>(Some(wasm.clone())))
                    .unwrap()
            });
        }
    });
    let stats = host.cache_stats();
    assert_eq!((stats.compiles, stats.hits, stats.modules), (1, 7, 1));
}

fn rejection_text(message: &str) -> String {
    ValidationError::Invalid {
        message: message.into(),
    }
    .to_string()
}

#[test]
fn a_hash_reads_back_from_hex() {
    let hash = ModuleHash::of(b"module");
    assert_eq!(ModuleHash::from_hex(&hash.to_hex()), Some(hash));
    assert_eq!(
        ModuleHash::from_hex(&hash.to_hex().to_uppercase()),
        Some(hash)
    );
    assert_eq!(ModuleHash::from_hex("ab"), None);
    assert_eq!(ModuleHash::from_hex(&"zz".repeat(32)), None);
    assert_eq!(ModuleHash::from_hex(&"é".repeat(32)), None);
}
