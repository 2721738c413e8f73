//! Example rules built from source, a rule host, and rule events.

use rules_abi::{Protocol, RuleInput};
use rules_host::{ChainRule, HostConfig, RuleHost, RuleLimits};

/// The example rules as modules, compiled by `build.rs` from `example-rules/`.
pub mod example_rules {
    include!(concat!(env!("OUT_DIR"), "/example_rules.rs"));
}

/// A host with the production configuration.
pub fn host() -> RuleHost {
    RuleHost::new(HostConfig::default()).expect("the production configuration is valid")
}

/// Loads an example rule by name into a one-rule chain entry.
pub fn rule(host: &RuleHost, name: &str, order: i64) -> ChainRule {
    let (_, wasm) = example_rules::ALL
        .iter()
        .find(|(rule, _)| *rule == name)
        .unwrap_or_else(|| panic!("no example rule {name}"));
    let module = host
        .load(wasm, &RuleLimits::default())
        .expect("example rules validate");
    ChainRule {
        name: name.to_owned(),
        order,
        enabled: true,
        module,
    }
}

/// A realistic event: the demo tenant's user `alice`, an admin and editor, logging in to the
/// demo app from 10.1.2.3 with `openid profile email offline_access read:reports write:reports`.
pub fn event(protocol: Protocol) -> RuleInput {
    let input = serde_json::json!({
        "user": {
            "user_id": "auth0|alice",
            "email": "alice@example.com",
            "email_verified": true,
            "name": "Alice Example",
            "logins_count": 12,
            "app_metadata": { "roles": ["admin"], "plan": "gold" },
            "user_metadata": { "theme": "dark" }
        },
        "context": {
            "tenant": "demo",
            "protocol": protocol.as_str(),
            "clientID": "demo-app",
            "clientName": "Demo App",
            "clientMetadata": { "tier": "gold", "region": "eu" },
            "connection": "Username-Password-Authentication",
            "connectionStrategy": "auth0",
            "request": { "ip": "10.1.2.3", "userAgent": "curl/8", "hostname": "demo.claimsmith.test" },
            "stats": { "loginsCount": 12 },
            "authorization": { "roles": ["editor"] },
            "audience": "https://api.demo.test/",
            "scope": ["openid", "profile", "email", "offline_access", "read:reports", "write:reports"]
        },
        "configuration": {
            "ALLOWED_CIDRS": "10.0.0.0/8, 2001:db8::/32",
            "SCOPES_BY_ROLE": "{\"editor\":[\"read:reports\"]}",
            "TERMS_URL": "https://demo.claimsmith.test/terms"
        },
        "now": 1_764_236_400_000u64,
        "seed": 1
    });
    let mut input: RuleInput = serde_json::from_value(input).expect("the event is well formed");
    if protocol == Protocol::OAuth2RefreshToken {
        input.context.refresh_token = Some(rules_abi::RefreshTokenInfo {
            id: "rtf_demo".into(),
            client_id: "demo-app".into(),
            user_id: "auth0|alice".into(),
            created_at: input.now - 3_600_000,
            rotating: true,
            scope: input.context.scope.clone(),
            ..rules_abi::RefreshTokenInfo::default()
        });
    }
    input
}

/// What every hand-written test rule starts with: the log import, memory, the ABI marker and
/// a bump allocator.
const PREAMBLE: &str = r#"(import "claimsmith" "log" (func $log (param i32 i32)))
          (memory (export "memory") 4)
          (global $bump (mut i32) (i32.const 65536))
          (func (export "claimsmith_rule_abi_v1"))
          (func (export "alloc") (param $len i32) (result i32)
            (local $p i32) (local.set $p (global.get $bump))
            (global.set $bump (i32.add (global.get $bump) (local.get $len))) (local.get $p))"#;

/// A hand-written rule module whose `on_token` runs `body` (WAT instructions) and then
/// returns `output` verbatim: for tests that need a rule to say something exact.
pub fn wat_rule(body: &str, output: &str) -> Vec<u8> {
    let data: String = output.bytes().map(|b| format!("\\{b:02x}")).collect();
    let text = format!(
        r#"(module
          {PREAMBLE}
          (func (export "on_token") (param i32 i32) (result i64)
            {body}
            (i64.const {packed}))
          (data (i32.const 16) "{data}"))"#,
        packed = rules_abi::pack_output(16, output.len() as u32),
    );
    wat::parse_str(text).expect("test WAT is valid")
}

/// A WAT rule that answers `then` when its input contains `needle`, else `otherwise`: enough
/// to make a rule behave per client or per user without building a Rust rule.
pub fn wat_rule_if(needle: &str, then: &str, otherwise: &str) -> Vec<u8> {
    let hex = |text: &str| -> String { text.bytes().map(|b| format!("\\{b:02x}")).collect() };
    let needle_at = 16u32;
    let then_at = needle_at + needle.len() as u32;
    let otherwise_at = then_at + then.len() as u32;
    let text = format!(
        r#"(module
          {PREAMBLE}
          (func (export "on_token") (param $ptr i32) (param $len i32) (result i64)
            (local $p i32) (local $k i32) (local $last i32)
            (local.set $p (local.get $ptr))
            (local.set $last (i32.sub (i32.add (local.get $ptr) (local.get $len)) (i32.const {n})))
            (block $miss
              (loop $outer
                (br_if $miss (i32.gt_s (local.get $p) (local.get $last)))
                (local.set $k (i32.const 0))
                (block $next
                  (loop $inner
                    (br_if $next (i32.ne
                      (i32.load8_u (i32.add (local.get $p) (local.get $k)))
                      (i32.load8_u (i32.add (i32.const {needle_at}) (local.get $k)))))
                    (local.set $k (i32.add (local.get $k) (i32.const 1)))
                    (if (i32.eq (local.get $k) (i32.const {n}))
                      (then (return (i64.const {then_packed}))))
                    (br $inner)))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (br $outer)))
            (i64.const {otherwise_packed}))
          (data (i32.const {needle_at}) "{data}"))"#,
        n = needle.len(),
        then_packed = rules_abi::pack_output(then_at, then.len() as u32),
        otherwise_packed = rules_abi::pack_output(otherwise_at, otherwise.len() as u32),
        data = hex(needle) + &hex(then) + &hex(otherwise),
    );
    wat::parse_str(text).expect("test WAT is valid")
}

/// Modules the engine must refuse at upload, each with a phrase of the reason it gives: the
/// hostile modules a tenant could try to store.
pub fn hostile_uploads() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let module = |extra: &str| -> Vec<u8> {
        wat::parse_str(format!(
            r#"(module {PREAMBLE}
              (func $on (export "on_token") (param i32 i32) (result i64) (i64.const 0))
              {extra})"#
        ))
        .expect("test WAT is valid")
    };
    let many_functions: String = (0..20_000).map(|_| "(func)").collect();
    vec![
        ("text", b"(module)".to_vec(), "not a WebAssembly binary"),
        ("empty", Vec::new(), "not a WebAssembly binary"),
        (
            "component",
            wat::parse_str("(component)").expect("valid"),
            "is a component",
        ),
        (
            "precompiled",
            b"\x7fELF\x02\x01\x01\0".to_vec(),
            "precompiled artifact",
        ),
        (
            "wasi import",
            wat::parse_str(format!(
                r#"(module
                  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
                  {PREAMBLE}
                  (func (export "on_token") (param i32 i32) (result i64) (i64.const 0)))"#
            ))
            .expect("valid"),
            "wasi_snapshot_preview1::fd_write is not allowed",
        ),
        ("start function", module("(start $on_start) (func $on_start)"), "start function"),
        (
            "no entry point",
            wat::parse_str(format!("(module {PREAMBLE})")).expect("valid"),
            "does not export on_token",
        ),
        (
            "huge memory",
            wat::parse_str(
                format!("(module {PREAMBLE} (func (export \"on_token\") (param i32 i32) (result i64) (i64.const 0)))")
                    .replace("(memory (export \"memory\") 4)", "(memory (export \"memory\") 60000)"),
            )
            .expect("valid"),
            "memory declares a minimum",
        ),
        ("compile bomb", module(&many_functions), "functions, more than"),
        (
            "too large",
            module(&format!(
                "(data (i32.const 70000) \"{}\")",
                "\\00".repeat(1_100_000)
            )),
            "more than the 1048576 allowed",
        ),
    ]
}
