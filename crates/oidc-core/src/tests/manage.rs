//! Changing a tenant: rules, their configuration, tenants; what is refused writes nothing.

use crate::manage::ManageError;
use crate::manage::rules::{self, DeclaredRule, ModuleCheck, NewRule, RuleUpdate};
use crate::manage::tenants::{self, NewTenant};
use crate::store::Store;
use crate::testkit::MemoryStore;
use crate::testkit::fixtures::T0;
use crate::{OperatorKey, SigningAlg, SystemEntropy};

/// Accepts modules that start with the wasm magic, as far as these tests need an engine.
struct MagicCheck;

impl ModuleCheck for MagicCheck {
    fn check(&self, wasm: &[u8]) -> Result<u32, String> {
        if wasm.starts_with(b"\0asm") {
            Ok(1)
        } else {
            Err("not a WebAssembly binary".into())
        }
    }
}

fn new_rule<'a>(name: &'a str, order: Option<i64>, module: &'a [u8]) -> NewRule<'a> {
    NewRule {
        name,
        order,
        enabled: true,
        module,
    }
}

fn create(store: &MemoryStore, rule: NewRule<'_>) -> Result<crate::RuleRecord, ManageError> {
    rules::create(store, &MagicCheck, "acme", rule, T0, &mut SystemEntropy)
}

#[test]
fn a_rule_without_an_order_runs_last_and_the_set_stays_sorted() {
    let store = MemoryStore::new();
    let a = create(&store, new_rule("a", Some(10), b"\0asm a")).unwrap();
    let b = create(&store, new_rule("b", None, b"\0asm b")).unwrap();
    let c = create(&store, new_rule("c", Some(3), b"\0asm c")).unwrap();
    assert_eq!(b.order, 11);
    assert!(a.id.starts_with("rul_") && a.id != b.id);
    let names: Vec<_> = rules::list(&store, "acme")
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["c", "a", "b"]);
    assert_eq!(rules::get(&store, "acme", &c.id).unwrap().module_size, 6);
    assert_eq!(store.rule_set("acme").unwrap().version, 3);
}

#[test]
fn refused_rules_write_nothing_and_say_why() {
    let store = MemoryStore::new();
    create(&store, new_rule("taken", Some(1), b"\0asm")).unwrap();
    let before = store.rule_set("acme").unwrap();
    let cases: [(NewRule<'_>, &str); 6] = [
        (new_rule("bad", None, b"text"), "not a WebAssembly binary"),
        (new_rule("-dash", None, b"\0asm"), "is invalid"),
        (new_rule("semi;colon", None, b"\0asm"), "is invalid"),
        (new_rule("", None, b"\0asm"), "is invalid"),
        (new_rule("other", Some(1), b"\0asm"), "already has order 1"),
        (new_rule("neg", Some(-1), b"\0asm"), "0 or more"),
    ];
    for (rule, reason) in cases {
        let error = create(&store, rule).unwrap_err();
        assert!(matches!(error, ManageError::Invalid(_)), "{error:?}");
        assert!(error.to_string().contains(reason), "{error}");
    }
    let duplicate = create(&store, new_rule("taken", Some(2), b"\0asm 2")).unwrap_err();
    assert!(
        matches!(duplicate, ManageError::Conflict(_)),
        "{duplicate:?}"
    );
    assert_eq!(store.rule_set("acme").unwrap(), before);
    assert_eq!(
        store
            .module("acme", &rules::module_hash(b"\0asm 2"))
            .unwrap(),
        None
    );
}

#[test]
fn a_tenant_has_at_most_twenty_rules() {
    let store = MemoryStore::new();
    for i in 0..rules::MAX_RULES {
        create(&store, new_rule(&format!("r{i}"), None, b"\0asm")).unwrap();
    }
    let error = create(&store, new_rule("one too many", None, b"\0asm")).unwrap_err();
    assert!(error.to_string().contains("at most 20 rules"), "{error}");
}

#[test]
fn an_update_replaces_the_module_and_drops_the_old_one() {
    let store = MemoryStore::new();
    let rule = create(&store, new_rule("r", Some(1), b"\0asm v1")).unwrap();
    let updated = rules::update(
        &store,
        &MagicCheck,
        "acme",
        &rule.id,
        RuleUpdate {
            module: Some(b"\0asm v2"),
            enabled: Some(false),
            name: Some("renamed"),
            ..RuleUpdate::default()
        },
        T0 + 1,
    )
    .unwrap();
    assert_eq!(updated.module_hash, rules::module_hash(b"\0asm v2"));
    assert_eq!((updated.created_at, updated.updated_at), (T0, T0 + 1));
    assert!(!updated.enabled);
    assert_eq!(updated.name, "renamed");
    assert_eq!(store.module("acme", &rule.module_hash).unwrap(), None);
    assert!(
        store
            .module("acme", &updated.module_hash)
            .unwrap()
            .is_some()
    );
    let missing = rules::update(
        &store,
        &MagicCheck,
        "acme",
        "rul_nope",
        RuleUpdate::default(),
        T0,
    );
    assert!(matches!(missing, Err(ManageError::NotFound(_))));
    let refused = rules::update(
        &store,
        &MagicCheck,
        "acme",
        &rule.id,
        RuleUpdate {
            module: Some(b"not wasm"),
            ..RuleUpdate::default()
        },
        T0 + 2,
    );
    assert!(matches!(refused, Err(ManageError::Invalid(_))));
    assert_eq!(rules::get(&store, "acme", &rule.id).unwrap(), updated);
}

#[test]
fn deleting_a_rule_deletes_its_module_unless_another_runs_it() {
    let store = MemoryStore::new();
    let first = create(&store, new_rule("first", None, b"\0asm shared")).unwrap();
    let second = create(&store, new_rule("second", None, b"\0asm shared")).unwrap();
    rules::delete(&store, "acme", &first.id).unwrap();
    assert!(store.module("acme", &second.module_hash).unwrap().is_some());
    rules::delete(&store, "acme", &second.id).unwrap();
    assert_eq!(store.module("acme", &second.module_hash).unwrap(), None);
    assert!(matches!(
        rules::delete(&store, "acme", &second.id),
        Err(ManageError::NotFound(_))
    ));
}

#[test]
fn configuration_keys_are_listed_without_values() {
    let store = MemoryStore::new();
    rules::set_config(&store, "acme", "API_KEY", "s3cret").unwrap();
    rules::set_config(&store, "acme", "OTHER", "v").unwrap();
    assert_eq!(
        rules::config_keys(&store, "acme").unwrap(),
        ["API_KEY", "OTHER"]
    );
    assert_eq!(
        store.rule_set("acme").unwrap().configuration["API_KEY"],
        "s3cret"
    );
    rules::unset_config(&store, "acme", "OTHER").unwrap();
    assert!(matches!(
        rules::unset_config(&store, "acme", "OTHER"),
        Err(ManageError::NotFound(_))
    ));
    for (key, value, reason) in [
        ("bad key", "v", "is invalid"),
        ("", "v", "is invalid"),
        ("K", "", "must not be empty"),
    ] {
        let error = rules::set_config(&store, "acme", key, value).unwrap_err();
        assert!(error.to_string().contains(reason), "{error}");
    }
    let big = "x".repeat(rules::MAX_CONFIG_BYTES);
    let error = rules::set_config(&store, "acme", "BIG", &big).unwrap_err();
    assert!(
        error.to_string().contains("every rule call carries it"),
        "{error}"
    );
    assert_eq!(rules::config_keys(&store, "acme").unwrap(), ["API_KEY"]);
}

/// Counts the modules it is asked to check.
#[derive(Default)]
struct CountingCheck(std::sync::atomic::AtomicUsize);

impl ModuleCheck for CountingCheck {
    fn check(&self, wasm: &[u8]) -> Result<u32, String> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        MagicCheck.check(wasm)
    }
}

#[test]
fn a_declared_set_checks_only_the_modules_the_tenant_does_not_run_yet() {
    let store = MemoryStore::new();
    let rule = |name: &str, module: &[u8]| DeclaredRule {
        name: name.to_owned(),
        order: 1 + i64::from(name == "b"),
        enabled: true,
        module: module.to_vec(),
    };
    let check = CountingCheck::default();
    let apply = |rules: &[DeclaredRule]| {
        rules::replace_all(&store, &check, "acme", rules, T0, &mut SystemEntropy).unwrap();
        check.0.swap(0, std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(apply(&[rule("a", b"\0asm a"), rule("b", b"\0asm b")]), 2);
    // A restart with the same seed: nothing to check, so nothing compiled at start.
    assert_eq!(apply(&[rule("a", b"\0asm a"), rule("b", b"\0asm b")]), 0);
    // A new version of one rule: only it is checked.
    assert_eq!(apply(&[rule("a", b"\0asm a"), rule("b", b"\0asm b2")]), 1);
}

#[test]
fn a_declared_set_keeps_ids_by_name_and_deletes_what_it_no_longer_declares() {
    let store = MemoryStore::new();
    let declared = |names: &[(&str, &[u8])]| -> Vec<DeclaredRule> {
        names
            .iter()
            .zip(1..)
            .map(|((name, module), order)| DeclaredRule {
                name: (*name).to_owned(),
                order,
                enabled: true,
                module: module.to_vec(),
            })
            .collect()
    };
    let replace = |rules: &[DeclaredRule], now| {
        rules::replace_all(&store, &MagicCheck, "acme", rules, now, &mut SystemEntropy)
    };
    replace(&declared(&[("keep", b"\0asm k"), ("drop", b"\0asm d")]), T0).unwrap();
    let kept = rules::list(&store, "acme").unwrap()[0].clone();
    replace(&declared(&[("keep", b"\0asm k")]), T0 + 5).unwrap();
    let now = rules::list(&store, "acme").unwrap();
    assert_eq!(
        now,
        std::slice::from_ref(&kept),
        "unchanged: same id, same timestamps"
    );
    assert_eq!(
        store
            .module("acme", &rules::module_hash(b"\0asm d"))
            .unwrap(),
        None
    );
    let refused = replace(&declared(&[("keep", b"\0asm k"), ("bad", b"text")]), T0 + 6);
    assert!(refused.unwrap_err().to_string().contains("\"bad\""));
    assert_eq!(rules::list(&store, "acme").unwrap(), [kept]);
}

fn new_tenant(id: &str) -> NewTenant {
    NewTenant {
        id: id.into(),
        issuer: format!("https://{id}.test/"),
        hosts: vec![format!("{id}.test")],
        signing_alg: SigningAlg::ES256,
    }
}

#[test]
fn a_new_tenant_can_manage_itself_at_once() {
    let store = MemoryStore::new();
    let operator = OperatorKey::insecure_dev();
    let created = tenants::create(
        &store,
        &operator,
        new_tenant("acme"),
        T0,
        &mut SystemEntropy,
    )
    .unwrap();
    let client = store
        .client("acme", &created.management_client_id)
        .unwrap()
        .unwrap();
    assert!(
        client
            .secret_hash
            .unwrap()
            .matches(&created.management_client_secret)
    );
    let audience = "https://acme.test/api/v2/";
    assert_eq!(
        client.api_grants[audience].len(),
        tenants::MANAGEMENT_SCOPES.len()
    );
    assert!(store.api("acme", audience).unwrap().is_some());
    let keys = store.keys("acme").unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].unwrap("acme", &operator).is_ok());
    assert_eq!(
        store.tenant_for_host("ACME.test").unwrap().as_deref(),
        Some("acme")
    );
    let again = tenants::create(
        &store,
        &operator,
        new_tenant("acme"),
        T0,
        &mut SystemEntropy,
    );
    assert!(matches!(again, Err(ManageError::Conflict(_))));
}

#[test]
fn a_refused_tenant_leaves_nothing_behind() {
    let store = MemoryStore::new();
    let operator = OperatorKey::insecure_dev();
    tenants::create(
        &store,
        &operator,
        new_tenant("acme"),
        T0,
        &mut SystemEntropy,
    )
    .unwrap();
    let mut thief = new_tenant("thief");
    thief.hosts = vec!["acme.test".into()];
    let error = tenants::create(&store, &operator, thief, T0, &mut SystemEntropy).unwrap_err();
    assert!(matches!(error, ManageError::Conflict(_)), "{error:?}");
    assert!(store.keys("thief").unwrap().is_empty());
    assert!(
        store
            .api("thief", "https://thief.test/api/v2/")
            .unwrap()
            .is_none()
    );
    for (id, issuer, reason) in [
        ("a/b", "https://x.test/", "letters, digits"),
        ("ok", "https://x.test", "ending in '/'"),
        ("ok", "ftp://x.test/", "http(s) URL"),
    ] {
        let mut bad = new_tenant(id);
        bad.issuer = issuer.into();
        bad.hosts.clear();
        let error = tenants::create(&store, &operator, bad, T0, &mut SystemEntropy).unwrap_err();
        assert!(error.to_string().contains(reason), "{error}");
    }
    assert_eq!(store.tenants().unwrap().len(), 1);
    tenants::delete(&store, "acme").unwrap();
    assert!(matches!(
        tenants::delete(&store, "acme"),
        Err(ManageError::NotFound(_))
    ));
    assert!(store.keys("acme").unwrap().is_empty());
}
