//! Sandbox tests with inline WAT, in the style of wasmtime's `tests/all/limits.rs`: one module
//! per failure mode, each asserting the exact typed error, and that the host still runs a good
//! rule afterwards.

mod cache;
mod chain;
mod hostile;
mod validation;

use std::time::Duration;

use rules_abi::{RuleInput, RuleOutcome};

use crate::{
    ChainError, ChainRule, HostConfig, RuleFailure, RuleHost, RuleLimits, ValidationError,
};

/// A small pool keeps each test's host cheap; the semantics are the same.
fn host() -> RuleHost {
    host_with(HostConfig {
        pool_slots: 4,
        ..HostConfig::default()
    })
}

fn host_with(config: HostConfig) -> RuleHost {
    RuleHost::new(config).expect("host starts")
}

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("test WAT parses")
}

/// Escapes bytes for a WAT string literal.
fn wat_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// A module following the ABI, with `body` as the `on_token` body. `$out` is a data segment
/// at offset 16 holding `output`; `$out_len` is its length.
fn rule_wat(body: &str, output: &[u8], extra: &str) -> String {
    format!(
        r#"(module
  (import "claimsmith" "log" (func $log (param i32 i32)))
  (memory (export "memory") 4)
  (global $bump (mut i32) (i32.const 65536))
  (func (export "claimsmith_rule_abi_v1"))
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (global.get $bump) (local.get $len)))
    (local.get $p))
  (func $out (result i64) (i64.const {packed}))
  (func (export "on_token") (param $ptr i32) (param $len i32) (result i64)
    {body})
  {extra}
  (data (i32.const 16) "{data}"))"#,
        packed = rules_abi::pack_output(16, output.len() as u32),
        data = wat_bytes(output),
    )
}

/// A rule that returns `output` verbatim.
fn returning(output: &str) -> Vec<u8> {
    wat(&rule_wat("(call $out)", output.as_bytes(), ""))
}

fn chain_of(host: &RuleHost, name: &str, wasm: &[u8], limits: &RuleLimits) -> Vec<ChainRule> {
    let module = host.load(wasm, limits).expect("module loads");
    vec![ChainRule {
        name: name.into(),
        order: 1,
        enabled: true,
        module,
    }]
}

fn run(host: &RuleHost, wasm: &[u8], limits: &RuleLimits) -> Result<RuleOutcome, ChainError> {
    let rules = chain_of(host, "under-test", wasm, limits);
    host.run_chain(&rules, &RuleInput::default(), limits)
        .map(|chain| chain.outcome)
}

/// The failure of a rule that must fail.
fn failure(host: &RuleHost, wasm: &[u8], limits: &RuleLimits) -> RuleFailure {
    match run(host, wasm, limits) {
        Err(ChainError::Rule(error)) => {
            assert_eq!(error.rule, "under-test");
            error.failure
        }
        other => panic!("expected a rule failure, got {other:?}"),
    }
}

fn rejection(host: &RuleHost, wasm: &[u8]) -> ValidationError {
    match host.load(wasm, &RuleLimits::default()) {
        Err(error) => error,
        Ok(_) => panic!("module was accepted"),
    }
}

/// After any hostile module, the same host must still run a good rule correctly.
fn assert_good_rule_runs(host: &RuleHost) {
    let good = returning(r#"{"idToken":{"https://example.test/ok":true}}"#);
    let outcome = run(host, &good, &RuleLimits::default()).expect("good rule runs");
    assert_eq!(
        outcome.id_token["https://example.test/ok"],
        serde_json::json!(true)
    );
}

fn limits_with(change: impl FnOnce(&mut RuleLimits)) -> RuleLimits {
    let mut limits = RuleLimits::default();
    change(&mut limits);
    limits
}

const LONG: Duration = Duration::from_secs(5);
