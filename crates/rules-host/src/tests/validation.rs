use expect_test::expect;

use super::*;

#[test]
fn a_valid_module_loads_and_is_cached_by_content() {
    let host = host();
    let wasm = returning("{}");
    let first = host.load(&wasm, &RuleLimits::default()).unwrap();
    let second = host.load(&wasm, &RuleLimits::default()).unwrap();
    assert_eq!(first.hash(), second.hash());
    assert!(std::sync::Arc::ptr_eq(&first.0, &second.0));
    assert_eq!(first.hash().to_hex().len(), 64);
}

#[test]
fn oversized_module() {
    let host = host();
    let limits = limits_with(|l| l.module_bytes = 100);
    let error = host.load(&returning("{}"), &limits).unwrap_err();
    assert!(
        matches!(error, ValidationError::TooLarge { max: 100, .. }),
        "{error}"
    );
}

#[test]
fn text_and_garbage_are_not_wasm() {
    let host = host();
    assert_eq!(rejection(&host, b"(module)"), ValidationError::NotWasm);
    assert_eq!(rejection(&host, b""), ValidationError::NotWasm);
    assert_eq!(
        rejection(&host, b"\0asm"),
        ValidationError::Invalid {
            message: "unexpected end-of-file (at offset 0x4)".into()
        }
    );
}

#[test]
fn components_are_refused() {
    let host = host();
    assert_eq!(
        rejection(&host, &wat("(component)")),
        ValidationError::Component
    );
}

#[test]
fn precompiled_artifacts_are_refused() {
    let host = host();
    let compiled = host.engine.precompile_module(&returning("{}")).unwrap();
    assert_eq!(rejection(&host, &compiled), ValidationError::Precompiled);
    assert_eq!(
        rejection(&host, b"\x7fELF\x02\x01\x01\0"),
        ValidationError::Precompiled
    );
}

#[test]
fn forbidden_imports() {
    let host = host();
    let wasi = wat(&rule_wat("(call $out)", b"{}", "").replace(
        "(memory",
        r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
           (memory"#,
    ));
    expect![[r#"import wasi_snapshot_preview1::fd_write is not allowed; a rule may import only the function claimsmith::log"#]]
        .assert_eq(&rejection(&host, &wasi).to_string());
    let memory = wat(r#"(module (import "claimsmith" "memory" (memory 1)))"#);
    assert!(matches!(
        rejection(&host, &memory),
        ValidationError::ForbiddenImport { .. }
    ));
    let global = wat(r#"(module (import "claimsmith" "log" (global i32)))"#);
    assert!(matches!(
        rejection(&host, &global),
        ValidationError::ForbiddenImport { .. }
    ));
    let mistyped = wat(&rule_wat("(call $out)", b"{}", "").replace(
        r#"(func $log (param i32 i32))"#,
        r#"(func $log (param i64))"#,
    ));
    expect![[r#"import log has type (i64) -> (), expected (i32, i32) -> ()"#]]
        .assert_eq(&rejection(&host, &mistyped).to_string());
}

#[test]
fn missing_or_mistyped_exports() {
    let host = host();
    let source = rule_wat("(call $out)", b"{}", "");
    let no_entry = wat(&source.replace(r#"(export "on_token")"#, ""));
    assert_eq!(
        rejection(&host, &no_entry),
        ValidationError::MissingExport { name: "on_token" }
    );
    let mistyped = wat(&source.replace(
        r#"(func (export "on_token") (param $ptr i32) (param $len i32) (result i64)
    (call $out))"#,
        r#"(func (export "on_token") (param $ptr i32) (result i32) (i32.const 0))"#,
    ));
    expect![[r#"export on_token has type a function (i32) -> i32, expected (i32, i32) -> i64"#]]
        .assert_eq(&rejection(&host, &mistyped).to_string());
    let no_memory_export = wat(&source.replace(r#"(memory (export "memory") 4)"#, "(memory 4)"));
    assert_eq!(
        rejection(&host, &no_memory_export),
        ValidationError::MissingExport { name: "memory" }
    );
    let no_alloc = wat(&source.replace(r#"(export "alloc")"#, ""));
    assert_eq!(
        rejection(&host, &no_alloc),
        ValidationError::MissingExport { name: "alloc" }
    );
}

#[test]
fn abi_marker_is_required_and_versioned() {
    let host = host();
    let source = rule_wat("(call $out)", b"{}", "");
    let unmarked = wat(&source.replace(r#"(export "claimsmith_rule_abi_v1")"#, ""));
    assert_eq!(
        rejection(&host, &unmarked),
        ValidationError::MissingExport {
            name: "claimsmith_rule_abi_v2"
        }
    );
    let future = wat(&source.replace("claimsmith_rule_abi_v1", "claimsmith_rule_abi_v3"));
    expect![[r#"module was built for rule ABI "3"; this host supports "1, 2""#]]
        .assert_eq(&rejection(&host, &future).to_string());
    let limits = RuleLimits::default();
    assert_eq!(host.load(&wat(&source), &limits).unwrap().abi_version(), 1);
    let v2 = wat(&source.replace("claimsmith_rule_abi_v1", "claimsmith_rule_abi_v2"));
    assert_eq!(host.load(&v2, &limits).unwrap().abi_version(), 2);
}

/// A version-1 module still receives plain JSON; a version-2 module receives the same JSON
/// after its 4-byte length, followed by the member table. Each rule logs 9 input bytes from
/// where its version's JSON starts.
#[test]
fn each_abi_version_receives_its_own_encoding() {
    let host = host();
    let limits = RuleLimits::default();
    let logging_from = |offset: u32| {
        rule_wat(
            &format!(
                "(call $log (i32.add (local.get $ptr) (i32.const {offset})) (i32.const 9)) (call $out)"
            ),
            b"{}",
            "",
        )
    };
    let v1 = wat(&logging_from(0));
    let v2 = wat(&logging_from(4).replace("claimsmith_rule_abi_v1", "claimsmith_rule_abi_v2"));
    let mut input = RuleInput::default();
    input.user.user_id = "u".into();
    for (wasm, version) in [(v1, 1), (v2, 2)] {
        let rules = chain_of(&host, "logger", &wasm, &limits);
        let chain = host.run_chain(&rules, &input, &limits).unwrap();
        assert_eq!(chain.runs[0].log, [r#"{"user":{"#], "version {version}");
    }
    let encoded = rules_abi::members::encode(&input).unwrap();
    let (document, table) = rules_abi::members::decode(&encoded).unwrap();
    assert_eq!(document, serde_json::to_vec(&input).unwrap());
    assert!(table.iter().any(|member| member.key == "user_id"));
}

#[test]
fn start_functions_are_refused() {
    let host = host();
    let wasm = wat(&rule_wat(
        "(call $out)",
        b"{}",
        "(func $init) (start $init)",
    ));
    assert_eq!(rejection(&host, &wasm), ValidationError::StartFunction);
}

#[test]
fn memory_shape_is_enforced() {
    let host = host();
    let two = wat(r#"(module (memory 1) (memory 1))"#);
    // Multi-memory is disabled, so the engine's own validation refuses it first or the count
    // check does; either way it never loads.
    assert!(matches!(
        rejection(&host, &two),
        ValidationError::MemoryCount { count: 2 } | ValidationError::Invalid { .. }
    ));
    let none = wat(r#"(module)"#);
    assert_eq!(
        rejection(&host, &none),
        ValidationError::MemoryCount { count: 0 }
    );
    let shared = wat(r#"(module (memory 1 1 shared))"#);
    assert_eq!(rejection(&host, &shared), ValidationError::MemoryKind);
}

#[test]
fn disabled_proposals_are_refused_at_upload() {
    let host = host();
    let tail_call = wat(&rule_wat(
        "(call $out)",
        b"{}",
        "(func $f (result i64) (return_call $f))",
    ));
    let error = rejection(&host, &tail_call);
    assert!(
        matches!(&error, ValidationError::Invalid { message } if message.contains("tail call")),
        "{error}"
    );
}

#[test]
fn structure_caps() {
    let host = host();
    let many_functions = wat(&rule_wat("(call $out)", b"{}", &"(func)".repeat(10_001)));
    assert!(matches!(
        rejection(&host, &many_functions),
        ValidationError::TooManyFunctions { .. }
    ));
    let two_tables = wat(&rule_wat(
        "(call $out)",
        b"{}",
        "(table 1 funcref) (table 1 funcref)",
    ));
    assert!(matches!(
        rejection(&host, &two_tables),
        ValidationError::TooManyTables { count: 2 } | ValidationError::Invalid { .. }
    ));
    let big_table = wat(&rule_wat("(call $out)", b"{}", "(table 1000000 funcref)"));
    assert_eq!(
        rejection(&host, &big_table),
        ValidationError::TableTooLarge {
            initial: 1_000_000,
            max: 10_000
        }
    );
    let custom = wat(&rule_wat(
        "(call $out)",
        b"{}",
        &format!(r#"(@custom "junk" "{}")"#, "x".repeat(70_000)),
    ));
    assert!(matches!(
        rejection(&host, &custom),
        ValidationError::CustomSectionsTooLarge { .. }
    ));
}

#[test]
fn tenant_limits_above_the_ceiling_are_refused() {
    let ceiling = RuleLimits::default_ceiling();
    assert_eq!(RuleLimits::default().check_within(&ceiling), Ok(()));
    let greedy = limits_with(|l| l.memory_bytes = 1 << 30);
    let error = greedy.check_within(&ceiling).unwrap_err();
    assert_eq!(error.field, "memory_bytes");
    let zero = limits_with(|l| l.fuel = 0);
    assert!(zero.check_within(&ceiling).is_err());
}
