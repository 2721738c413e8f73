//! The malicious-guest list: every module here must end in its own typed error, leave the
//! process standing, and leave the host able to run a good rule right after.

use std::sync::Arc;
use std::time::Instant;

use rules_abi::OutcomeError;

use super::*;

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let host = host();
    let wasm = wat(&rule_wat("(loop $l (br $l)) (call $out)", b"{}", ""));
    assert_eq!(
        failure(&host, &wasm, &RuleLimits::default()),
        RuleFailure::OutOfFuel { limit: 10_000_000 }
    );
    assert_good_rule_runs(&host);
}

#[test]
fn infinite_loop_hits_the_wall_clock_deadline() {
    let host = host();
    let wasm = wat(&rule_wat("(loop $l (br $l)) (call $out)", b"{}", ""));
    // Fuel high enough that only the clock can stop it.
    let limits = limits_with(|l| l.fuel = RuleLimits::default_ceiling().fuel);
    let started = Instant::now();
    assert_eq!(
        failure(&host, &wasm, &limits),
        RuleFailure::Deadline { limit_ms: 50 }
    );
    assert!(
        started.elapsed() < LONG,
        "the deadline must stop the loop promptly"
    );
    assert_good_rule_runs(&host);
}

#[test]
fn chain_deadline_is_reported_as_such() {
    let host = host();
    let wasm = wat(&rule_wat("(loop $l (br $l)) (call $out)", b"{}", ""));
    let limits = limits_with(|l| {
        l.fuel = RuleLimits::default_ceiling().fuel;
        l.chain_timeout = Duration::from_millis(20);
    });
    assert_eq!(
        failure(&host, &wasm, &limits),
        RuleFailure::ChainDeadline { limit_ms: 20 }
    );
    assert_good_rule_runs(&host);
}

#[test]
fn loop_calling_log_is_cut_off() {
    let host = host();
    let body = "(loop $l (call $log (i32.const 16) (i32.const 2)) (br $l)) (call $out)";
    let wasm = wat(&rule_wat(body, b"{}", ""));
    assert_eq!(
        failure(&host, &wasm, &RuleLimits::default()),
        RuleFailure::TooManyHostCalls {
            max: crate::MAX_HOST_CALLS
        }
    );
    assert_good_rule_runs(&host);
}

#[test]
fn log_outside_memory_is_refused() {
    let host = host();
    let body = "(call $log (i32.const -16) (i32.const 64)) (call $out)";
    let wasm = wat(&rule_wat(body, b"{}", ""));
    assert_eq!(
        failure(&host, &wasm, &RuleLimits::default()),
        RuleFailure::BadHostCall
    );
    assert_good_rule_runs(&host);
}

#[test]
fn log_is_captured_and_bounded() {
    let host = host();
    // One short line, then one huge line, then many lines past the byte budget.
    let body = r#"
        (call $log (i32.const 16) (i32.const 5))
        (call $log (i32.const 0) (i32.const 200000))
        (loop $l
          (call $log (i32.const 16) (i32.const 5))
          (global.set $n (i32.add (global.get $n) (i32.const 1)))
          (br_if $l (i32.lt_u (global.get $n) (i32.const 900))))
        (call $out)"#;
    let wasm = wat(&rule_wat(
        body,
        b"{ }  ",
        "(global $n (mut i32) (i32.const 0))",
    ));
    let rules = chain_of(&host, "logger", &wasm, &RuleLimits::default());
    let chain = host.run_chain(&rules, &RuleInput::default(), &RuleLimits::default());
    // The loop above stops once $n reaches 900; this asserts the sink, not the loop.
    let chain = chain.expect("runs");
    let run = &chain.runs[0];
    assert_eq!(run.log[0], "{ }  ");
    assert_eq!(
        run.log[1].chars().count(),
        256,
        "lines are cut at 256 characters"
    );
    let total: usize = run.log.iter().map(String::len).sum();
    assert!(total <= 4096, "log kept {total} bytes");
    assert!(run.log_truncated);
}

#[test]
fn unbounded_recursion_overflows_the_stack() {
    let host = host();
    let wasm = wat(&rule_wat(
        "(call $deep (i64.const 0))",
        b"{}",
        "(func $deep (param i64) (result i64) (call $deep (i64.add (local.get 0) (i64.const 1))))",
    ));
    assert_eq!(
        failure(&host, &wasm, &RuleLimits::default()),
        RuleFailure::StackOverflow
    );
    assert_good_rule_runs(&host);
}

#[test]
fn memory_grow_bomb_hits_the_memory_limit() {
    let host = host();
    let body = "(loop $l (drop (memory.grow (i32.const 16))) (br $l)) (call $out)";
    let wasm = wat(&rule_wat(body, b"{}", ""));
    assert_eq!(
        failure(&host, &wasm, &RuleLimits::default()),
        RuleFailure::MemoryLimit {
            limit_bytes: 16 * 1024 * 1024
        }
    );
    assert_good_rule_runs(&host);
}

#[test]
fn huge_declared_memory_is_refused_at_upload_and_at_instantiation() {
    let host = host();
    let source = rule_wat("(call $out)", b"{}", "");
    let huge = wat(&source.replace(
        r#"(memory (export "memory") 4)"#,
        r#"(memory (export "memory") 65536)"#,
    ));
    assert_eq!(
        rejection(&host, &huge),
        ValidationError::MemoryTooLarge {
            min_bytes: 1 << 32,
            max: 16 * 1024 * 1024
        }
    );
    // A module accepted under a generous limit, later run under a tighter one.
    let big = wat(&source.replace(
        r#"(memory (export "memory") 4)"#,
        r#"(memory (export "memory") 512)"#,
    ));
    let generous = limits_with(|l| l.memory_bytes = 64 * 1024 * 1024);
    let rules = chain_of(&host, "under-test", &big, &generous);
    let error = host
        .run_chain(&rules, &RuleInput::default(), &RuleLimits::default())
        .unwrap_err();
    assert_eq!(
        error,
        ChainError::Rule(crate::RuleError {
            rule: "under-test".into(),
            failure: RuleFailure::MemoryLimit {
                limit_bytes: 16 * 1024 * 1024
            }
        })
    );
    assert_good_rule_runs(&host);
}

#[test]
fn table_growth_hits_the_table_limit() {
    let host = host();
    let body =
        "(loop $l (drop (table.grow $t (ref.null func) (i32.const 1000))) (br $l)) (call $out)";
    let wasm = wat(&rule_wat(body, b"{}", "(table $t 1 funcref)"));
    assert_eq!(
        failure(&host, &wasm, &RuleLimits::default()),
        RuleFailure::TableLimit {
            limit_elements: 10_000
        }
    );
    assert_good_rule_runs(&host);
}

#[test]
fn output_pointer_out_of_bounds() {
    let host = host();
    let packed = rules_abi::pack_output(0xFFFF_0000, 10);
    let wasm = wat(&rule_wat(&format!("(i64.const {packed})"), b"{}", ""));
    assert_eq!(
        failure(&host, &wasm, &RuleLimits::default()),
        RuleFailure::OutputOutOfBounds {
            ptr: 0xFFFF_0000,
            len: 10
        }
    );
    // A range that wraps past 4 GiB is out of bounds too, not a panic.
    let packed = rules_abi::pack_output(u32::MAX, 65_535);
    let wasm = wat(&rule_wat(&format!("(i64.const {packed})"), b"{}", ""));
    assert!(matches!(
        failure(&host, &wasm, &RuleLimits::default()),
        RuleFailure::OutputOutOfBounds { .. }
    ));
    assert_good_rule_runs(&host);
}

#[test]
fn output_length_past_the_cap() {
    let host = host();
    let packed = rules_abi::pack_output(16, 65 * 1024);
    let wasm = wat(&rule_wat(&format!("(i64.const {packed})"), b"{}", ""));
    assert_eq!(
        failure(&host, &wasm, &RuleLimits::default()),
        RuleFailure::OutputTooLarge {
            len: 65 * 1024,
            max: 64 * 1024
        }
    );
    assert_good_rule_runs(&host);
}

#[test]
fn invalid_utf8_output() {
    let host = host();
    let wasm = wat(&rule_wat(
        "(call $out)",
        b"{\"idToken\":{\"a\":\"\xff\"}}",
        "",
    ));
    assert_eq!(
        failure(&host, &wasm, &RuleLimits::default()),
        RuleFailure::BadOutput(OutcomeError::InvalidUtf8 { valid_up_to: 17 })
    );
    assert_good_rule_runs(&host);
}

#[test]
fn invalid_json_output() {
    let host = host();
    let wasm = returning("{not json");
    let failure = failure(&host, &wasm, &RuleLimits::default());
    assert!(
        matches!(failure, RuleFailure::BadOutput(OutcomeError::Json(_))),
        "{failure}"
    );
    assert_good_rule_runs(&host);
}

#[test]
fn deeply_nested_json_output() {
    let host = host();
    let deep = format!(
        "{{\"idToken\":{{\"a\":{}{}}}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let wasm = returning(&deep);
    assert_eq!(
        failure(&host, &wasm, &RuleLimits::default()),
        RuleFailure::BadOutput(OutcomeError::TooDeep {
            max: rules_abi::MAX_OUTCOME_DEPTH
        })
    );
    assert_good_rule_runs(&host);
}

#[test]
fn traps_carry_their_message() {
    let host = host();
    let wasm = wat(&rule_wat("unreachable", b"{}", ""));
    let failure = failure(&host, &wasm, &RuleLimits::default());
    assert!(
        matches!(&failure, RuleFailure::Trap { message } if message.contains("unreachable")),
        "{failure}"
    );
    let divide = wat(&rule_wat(
        "(drop (i32.div_u (i32.const 1) (local.get $len))) (call $out)",
        b"{}",
        "",
    ));
    // The input is never empty, so this divides by a non-zero length: no trap.
    assert!(run(&host, &divide, &RuleLimits::default()).is_ok());
    let oob = wat(&rule_wat(
        "(drop (i32.load (i32.const -4))) (call $out)",
        b"{}",
        "",
    ));
    assert!(matches!(failure_of(&host, &oob), RuleFailure::Trap { .. }));
    assert_good_rule_runs(&host);
}

fn failure_of(host: &RuleHost, wasm: &[u8]) -> RuleFailure {
    failure(host, wasm, &RuleLimits::default())
}

#[test]
fn alloc_returning_a_bad_pointer() {
    let host = host();
    let source = rule_wat("(call $out)", b"{}", "");
    let wasm = wat(&source.replace("(local.get $p))", "(drop (local.get $p)) (i32.const -8))"));
    assert!(matches!(
        failure_of(&host, &wasm),
        RuleFailure::AllocOutOfBounds {
            ptr: 0xFFFF_FFF8,
            ..
        }
    ));
    assert_good_rule_runs(&host);
}

#[test]
fn oversized_input_is_refused_before_the_call() {
    let host = host();
    let limits = limits_with(|l| l.input_bytes = 10);
    let failure = failure(&host, &returning("{}"), &limits);
    assert!(
        matches!(failure, RuleFailure::InputTooLarge { max: 10, .. }),
        "{failure}"
    );
    assert_good_rule_runs(&host);
}

#[test]
fn compile_bombs_are_refused_before_compiling() {
    let host = host();
    let nested = format!("{}{}", "(block ".repeat(100_000), ")".repeat(100_000));
    let blocks = wat(&rule_wat(&format!("{nested} (call $out)"), b"{}", ""));
    assert!(matches!(
        rejection(&host, &blocks),
        ValidationError::FunctionBodyTooLarge { .. }
    ));
    // A single function of about 1 MB, just under the module size cap.
    let huge_body = format!("{} (call $out)", "(drop (i32.const 1)) ".repeat(340_000));
    let huge = wat(&rule_wat(&huge_body, b"{}", ""));
    assert!(
        huge.len() > 800_000 && huge.len() < 1024 * 1024,
        "{}",
        huge.len()
    );
    assert!(matches!(
        rejection(&host, &huge),
        ValidationError::FunctionBodyTooLarge { .. }
    ));
    // The largest nesting under the cap still compiles.
    let legal = format!("{}{}", "(block ".repeat(40_000), ")".repeat(40_000));
    let legal = wat(&rule_wat(&format!("{legal} (call $out)"), b"{}", ""));
    host.load(&legal, &RuleLimits::default())
        .expect("bounded module compiles");
    assert_good_rule_runs(&host);
}

#[test]
fn more_concurrent_calls_than_pool_slots_wait_for_a_slot() {
    let host = Arc::new(host_with(HostConfig {
        pool_slots: 2,
        ..HostConfig::default()
    }));
    // Burns some fuel so calls overlap.
    let body = r#"(local $i i32)
        (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
                 (br_if $l (i32.lt_u (local.get $i) (i32.const 200000))))
        (call $out)"#;
    let wasm = wat(&rule_wat(body, br#"{"idToken":{"n":1}}"#, ""));
    let rules = Arc::new(chain_of(&host, "busy", &wasm, &RuleLimits::default()));
    let threads: Vec<_> = (0..12)
        .map(|_| {
            let (host, rules) = (Arc::clone(&host), Arc::clone(&rules));
            std::thread::spawn(move || {
                (0..5)
                    .map(|_| host.run_chain(&rules, &RuleInput::default(), &RuleLimits::default()))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for thread in threads {
        for result in thread.join().expect("no panic") {
            assert_eq!(
                result.expect("every call gets a slot").outcome.id_token["n"],
                1
            );
        }
    }
    assert_good_rule_runs(&host);
}

#[test]
fn a_chain_that_cannot_get_a_slot_in_time_is_overloaded() {
    let host = host_with(HostConfig {
        pool_slots: 1,
        ..HostConfig::default()
    });
    let rules = chain_of(&host, "waits", &returning("{}"), &RuleLimits::default());
    let limits = limits_with(|l| l.chain_timeout = Duration::from_millis(5));
    let held = host
        .permits
        .acquire(Instant::now() + LONG)
        .expect("the only slot");
    let error = host
        .run_chain(&rules, &RuleInput::default(), &limits)
        .unwrap_err();
    assert!(matches!(error, ChainError::Overloaded { .. }), "{error}");
    drop(held);
    assert_good_rule_runs(&host);
}

#[test]
fn no_call_reads_what_an_earlier_call_left_in_memory() {
    let host = host_with(HostConfig {
        pool_slots: 1,
        ..HostConfig::default()
    });
    // Reports a leak if address 60000 or the table slot hold anything, then plants a secret
    // in both for the next call to find.
    let body = r#"
        (if (i32.or (i32.load (i32.const 60000))
                    (i32.eqz (ref.is_null (table.get $t (i32.const 0)))))
          (then (return (call $leak))))
        (i32.store (i32.const 60000) (i32.const 0x5ec2e7))
        (table.set $t (i32.const 0) (ref.func $leak))
        (call $out)"#;
    let leak = br#"{"idToken":{"leak":true}}"#;
    let extra = format!(
        r#"(table $t 1 funcref) (elem declare func $leak)
           (func $leak (result i64) (i64.const {}))
           (data (i32.const 4096) "{}")"#,
        rules_abi::pack_output(4096, leak.len() as u32),
        wat_bytes(leak),
    );
    let wasm = wat(&rule_wat(body, b"{}", &extra));
    for _ in 0..50 {
        let outcome = run(&host, &wasm, &RuleLimits::default()).expect("runs");
        assert!(
            outcome.id_token.is_empty(),
            "a call saw a previous call's memory or table"
        );
    }
}
