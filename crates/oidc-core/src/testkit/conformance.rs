//! The store conformance suite: the [`Store`] contract as checks any engine must pass.
//!
//! An engine's crate runs it with [`store_conformance!`](crate::store_conformance), giving an
//! expression that makes a fresh, empty store; each check becomes one test.

use crate::keys::StoredKey;
use crate::model::{MetadataUpdate, SigningAlg};
use crate::refresh::RefreshFamily;
use crate::store::{
    Change, FamilyWrite, FlowKind, FlowRecord, FlowWrite, Store, StoreError, UserinfoWrite,
};
use crate::testkit::fixtures::{self, T0};

/// One test per check, over stores made by `$make`. With `@deref`, `$make` makes a guard
/// that dereferences to the store (and cleans up after it, such as a database schema).
#[macro_export]
macro_rules! store_conformance {
    (@deref $make:expr) => {
        $crate::store_conformance!(@list guarded $make);
    };
    ($make:expr) => {
        $crate::store_conformance!(@list plain $make);
    };
    (@list $mode:ident $make:expr) => {
        $crate::store_conformance!(@$mode $make;
            a_family_compare_and_swap_has_exactly_one_winner,
            a_revoked_family_is_never_written_back_to_live,
            a_refused_family_write_writes_nothing_else,
            creating_an_existing_family_is_refused,
            families_are_listed_by_user_and_client_and_paged_by_id,
            deleting_a_family_is_a_compare_and_swap,
            records_of_one_tenant_are_invisible_to_another,
            a_rule_set_is_swapped_whole_and_keeps_only_the_modules_it_names,
            hosts_are_claimed_once_and_released_when_dropped,
            logins_are_unique_per_tenant_and_follow_the_user,
            users_are_paged_by_id_and_deleted_with_their_logins_and_claims,
            clients_apis_and_keys_are_listed_and_deleted_per_tenant,
            logs_are_kept_in_time_order_and_trimmed,
            deleting_a_tenant_deletes_all_of_it_and_nothing_else,
            userinfo_claims_are_kept_per_user_and_client,
            metadata_updates_merge_top_level_keys,
            meta_is_a_compare_and_swap,
            a_flow_record_is_created_once_and_swapped_by_version,
            flow_records_are_paged_per_tenant_and_kind,
            identifiers_that_could_split_a_key_are_refused
        );
    };
    (@plain $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let store = $make;
                $crate::testkit::conformance::$check(&store);
            }
        )*
    };
    (@guarded $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let guard = $make;
                $crate::testkit::conformance::$check(&*guard);
            }
        )*
    };
}

fn create(store: &dyn Store, tenant: &str, family: &RefreshFamily) {
    assert!(
        store
            .apply(tenant, &Change::family(FamilyWrite::Create(family)))
            .unwrap()
    );
}

fn replace(store: &dyn Store, tenant: &str, expected: u64, family: &RefreshFamily) -> bool {
    let write = FamilyWrite::Replace {
        expected_version: expected,
        family,
    };
    store.apply(tenant, &Change::family(write)).unwrap()
}

pub fn a_family_compare_and_swap_has_exactly_one_winner(store: &dyn Store) {
    let first = fixtures::family("rtf_cas", "u", "app", T0);
    create(store, "acme", &first);
    let winners: usize = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..16u8)
            .map(|i| {
                let first = &first;
                scope.spawn(move || {
                    let mut next = first.after_exchange(None, (None, None), T0 + 1);
                    next.scope = vec![format!("writer-{i}")];
                    usize::from(replace(store, "acme", first.version, &next))
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    assert_eq!(winners, 1);
    let stored = store.refresh_family("acme", "rtf_cas").unwrap().unwrap();
    assert_eq!(stored.version, first.version + 1);
    assert!(stored.scope[0].starts_with("writer-"));
}

pub fn a_revoked_family_is_never_written_back_to_live(store: &dyn Store) {
    let first = fixtures::family("rtf_r", "u", "app", T0);
    create(store, "acme", &first);
    let revoked = first.revoke("stolen", T0 + 1);
    assert!(replace(store, "acme", first.version, &revoked));
    let mut revived = revoked.clone();
    revived.revoked = None;
    revived.version += 1;
    assert!(!replace(store, "acme", revoked.version, &revived));
    let again = revoked.revoke("again", T0 + 2);
    assert!(
        replace(store, "acme", revoked.version, &again),
        "a revoked family may be written as revoked"
    );
    let stored = store.refresh_family("acme", "rtf_r").unwrap().unwrap();
    assert_eq!(stored.revoked.unwrap().reason, "again");
}

pub fn a_refused_family_write_writes_nothing_else(store: &dyn Store) {
    store
        .put_user("acme", &fixtures::user("u", "u@x.test"))
        .unwrap();
    let first = fixtures::family("rtf_a", "u", "app", T0);
    create(store, "acme", &first);
    let next = first.after_exchange(None, (None, None), T0 + 1);
    let mut update = MetadataUpdate::default();
    update.app_metadata.insert("seen".into(), true.into());
    let claims: rules_abi::Claims = [("https://x.test/c".to_owned(), 1.into())]
        .into_iter()
        .collect();
    let stale = Change {
        family: Some(FamilyWrite::Replace {
            expected_version: first.version + 7,
            family: &next,
        }),
        metadata: Some(("u", &update)),
        userinfo: Some(UserinfoWrite {
            user_id: "u",
            client_id: "app",
            claims: &claims,
        }),
    };
    assert!(!store.apply("acme", &stale).unwrap());
    assert_eq!(
        store.refresh_family("acme", "rtf_a").unwrap().unwrap(),
        first
    );
    assert!(
        store
            .user("acme", "u")
            .unwrap()
            .unwrap()
            .app_metadata
            .is_empty()
    );
    assert!(
        store
            .userinfo_claims("acme", "u", "app")
            .unwrap()
            .is_empty()
    );
    let fresh = Change {
        family: Some(FamilyWrite::Replace {
            expected_version: first.version,
            family: &next,
        }),
        ..stale
    };
    assert!(store.apply("acme", &fresh).unwrap());
    assert_eq!(
        store.user("acme", "u").unwrap().unwrap().app_metadata["seen"],
        true
    );
    assert_eq!(store.userinfo_claims("acme", "u", "app").unwrap(), claims);
}

pub fn creating_an_existing_family_is_refused(store: &dyn Store) {
    let first = fixtures::family("rtf_dup", "u", "app", T0);
    create(store, "acme", &first);
    let mut other = fixtures::family("rtf_dup", "v", "app", T0 + 5);
    other.scope = vec!["x".into()];
    assert!(
        !store
            .apply("acme", &Change::family(FamilyWrite::Create(&other)))
            .unwrap()
    );
    assert_eq!(
        store.refresh_family("acme", "rtf_dup").unwrap().unwrap(),
        first
    );
    let missing = fixtures::family("rtf_missing", "u", "app", T0);
    assert!(!replace(store, "acme", 0, &missing), "nothing to replace");
    assert_eq!(store.refresh_family("acme", "rtf_missing").unwrap(), None);
}

pub fn families_are_listed_by_user_and_client_and_paged_by_id(store: &dyn Store) {
    for (id, user, client) in [
        ("rtf_3", "u", "app"),
        ("rtf_1", "u", "app"),
        ("rtf_2", "u", "other"),
        ("rtf_4", "v", "app"),
        ("rtf_5", "u", "app"),
    ] {
        create(store, "acme", &fixtures::family(id, user, client, T0));
    }
    create(store, "globex", &fixtures::family("rtf_0", "u", "app", T0));
    let mut mine: Vec<String> = store
        .refresh_families("acme", "u", Some("app"))
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    mine.sort();
    assert_eq!(mine, ["rtf_1", "rtf_3", "rtf_5"]);
    let mut all_clients: Vec<String> = store
        .refresh_families("acme", "u", None)
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    all_clients.sort();
    assert_eq!(all_clients, ["rtf_1", "rtf_2", "rtf_3", "rtf_5"]);
    let ids = |page: Vec<RefreshFamily>| page.into_iter().map(|f| f.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.refresh_page("acme", None, 2).unwrap()),
        ["rtf_1", "rtf_2"]
    );
    assert_eq!(
        ids(store.refresh_page("acme", Some("rtf_2"), 2).unwrap()),
        ["rtf_3", "rtf_4"]
    );
    assert_eq!(
        ids(store.refresh_page("acme", Some("rtf_4"), 10).unwrap()),
        ["rtf_5"]
    );
    assert!(
        store
            .refresh_page("acme", Some("rtf_5"), 10)
            .unwrap()
            .is_empty()
    );
}

pub fn deleting_a_family_is_a_compare_and_swap(store: &dyn Store) {
    let first = fixtures::family("rtf_d", "u", "app", T0);
    create(store, "acme", &first);
    assert!(
        !store
            .refresh_delete("acme", "rtf_d", first.version + 1)
            .unwrap()
    );
    assert!(
        store
            .refresh_delete("acme", "rtf_d", first.version)
            .unwrap()
    );
    assert_eq!(store.refresh_family("acme", "rtf_d").unwrap(), None);
    assert!(
        store
            .refresh_families("acme", "u", Some("app"))
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .refresh_delete("acme", "rtf_d", first.version)
            .unwrap()
    );
}

pub fn records_of_one_tenant_are_invisible_to_another(store: &dyn Store) {
    store.put_tenant(&fixtures::tenant("acme")).unwrap();
    store
        .put_user("acme", &fixtures::user("u", "u@x.test"))
        .unwrap();
    store
        .put_client(
            "acme",
            &fixtures::client("app", crate::ClientType::Confidential, 0),
        )
        .unwrap();
    store.put_api("acme", &fixtures::api()).unwrap();
    create(store, "acme", &fixtures::family("rtf_i", "u", "app", T0));
    let rules = fixtures::rule_set(1, &["abc"]);
    assert!(
        store
            .put_rule_set("acme", 0, &rules, &[("abc", b"\0asm")])
            .unwrap()
    );
    // A tenant whose id extends the other's must not see its records through a prefix.
    for other in ["globex", "acm", "acme2", "acme\u{1}"] {
        assert_eq!(store.user(other, "u").unwrap(), None);
        assert_eq!(store.user_by_login(other, "u@x.test").unwrap(), None);
        assert_eq!(store.client(other, "app").unwrap(), None);
        assert_eq!(store.api(other, fixtures::API).unwrap(), None);
        assert_eq!(store.refresh_family(other, "rtf_i").unwrap(), None);
        assert_eq!(store.rule_set(other).unwrap(), Default::default());
        assert_eq!(store.module(other, "abc").unwrap(), None);
        assert!(store.refresh_page(other, None, 10).unwrap().is_empty());
    }
    assert_eq!(store.module("acme", "abc").unwrap().unwrap(), b"\0asm");
    assert_eq!(store.rule_set("acme").unwrap(), rules);
}

pub fn a_rule_set_is_swapped_whole_and_keeps_only_the_modules_it_names(store: &dyn Store) {
    assert_eq!(store.rule_set("acme").unwrap(), Default::default());
    let first = fixtures::rule_set(1, &["aaa", "bbb"]);
    let modules: [(&str, &[u8]); 2] = [("aaa", b"module a"), ("bbb", b"module b")];
    assert!(store.put_rule_set("acme", 0, &first, &modules).unwrap());
    assert_eq!(store.rule_set("acme").unwrap(), first);
    // A writer that read version 0 lost the race: nothing of its write lands.
    let stale = fixtures::rule_set(1, &["ccc"]);
    assert!(
        !store
            .put_rule_set("acme", 0, &stale, &[("ccc", b"module c")])
            .unwrap()
    );
    assert_eq!(store.rule_set("acme").unwrap(), first);
    assert_eq!(store.module("acme", "ccc").unwrap(), None);
    // Replacing `aaa` by `ccc` drops module `aaa` and keeps `bbb`, which the set still names.
    let second = fixtures::rule_set(2, &["ccc", "bbb"]);
    assert!(
        store
            .put_rule_set("acme", 1, &second, &[("ccc", b"module c")])
            .unwrap()
    );
    assert_eq!(store.rule_set("acme").unwrap(), second);
    assert_eq!(store.module("acme", "aaa").unwrap(), None);
    assert_eq!(store.module("acme", "bbb").unwrap().unwrap(), b"module b");
    assert_eq!(store.module("acme", "ccc").unwrap().unwrap(), b"module c");
    // An empty set keeps no module.
    let empty = crate::model::RuleSet {
        version: 3,
        ..Default::default()
    };
    assert!(store.put_rule_set("acme", 2, &empty, &[]).unwrap());
    assert_eq!(store.module("acme", "bbb").unwrap(), None);
    assert_eq!(store.module("acme", "ccc").unwrap(), None);
    assert_eq!(store.rule_set("acme").unwrap().version, 3);
}

pub fn users_are_paged_by_id_and_deleted_with_their_logins_and_claims(store: &dyn Store) {
    for (id, email) in [("u3", "c@x.test"), ("u1", "a@x.test"), ("u2", "b@x.test")] {
        store.put_user("acme", &fixtures::user(id, email)).unwrap();
    }
    store
        .put_user("acme2", &fixtures::user("u0", "a@x.test"))
        .unwrap();
    let ids = |page: Vec<crate::User>| page.into_iter().map(|u| u.user_id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.users_page("acme", None, 2).unwrap()),
        ["u1", "u2"]
    );
    assert_eq!(
        ids(store.users_page("acme", Some("u2"), 2).unwrap()),
        ["u3"]
    );
    assert!(store.users_page("acme", Some("u3"), 2).unwrap().is_empty());
    let claims: rules_abi::Claims = [("c".to_owned(), 1.into())].into_iter().collect();
    let change = Change {
        userinfo: Some(UserinfoWrite {
            user_id: "u1",
            client_id: "app",
            claims: &claims,
        }),
        ..Change::default()
    };
    assert!(store.apply("acme", &change).unwrap());
    assert!(store.delete_user("acme", "u1").unwrap());
    assert!(!store.delete_user("acme", "u1").unwrap());
    assert_eq!(store.user("acme", "u1").unwrap(), None);
    assert_eq!(store.user_by_login("acme", "a@x.test").unwrap(), None);
    assert!(
        store
            .userinfo_claims("acme", "u1", "app")
            .unwrap()
            .is_empty()
    );
    // The login is free again, and nothing else moved.
    store
        .put_user("acme", &fixtures::user("u9", "a@x.test"))
        .unwrap();
    assert_eq!(
        ids(store.users_page("acme", None, 10).unwrap()),
        ["u2", "u3", "u9"]
    );
    assert!(store.user_by_login("acme2", "a@x.test").unwrap().is_some());
}

pub fn clients_apis_and_keys_are_listed_and_deleted_per_tenant(store: &dyn Store) {
    use crate::ClientType;
    for id in ["b", "a"] {
        store
            .put_client("acme", &fixtures::client(id, ClientType::Public, 0))
            .unwrap();
    }
    store
        .put_client("acme2", &fixtures::client("a", ClientType::Public, 0))
        .unwrap();
    let ids =
        |clients: Vec<crate::Client>| clients.into_iter().map(|c| c.client_id).collect::<Vec<_>>();
    assert_eq!(ids(store.clients("acme").unwrap()), ["a", "b"]);
    assert!(store.delete_client("acme", "a").unwrap());
    assert!(!store.delete_client("acme", "a").unwrap());
    assert_eq!(ids(store.clients("acme").unwrap()), ["b"]);
    assert_eq!(ids(store.clients("acme2").unwrap()), ["a"]);

    store.put_api("acme", &fixtures::api()).unwrap();
    assert_eq!(store.apis("acme").unwrap(), [fixtures::api()]);
    assert!(store.apis("acme2").unwrap().is_empty());
    assert!(store.delete_api("acme", fixtures::API).unwrap());
    assert!(!store.delete_api("acme", fixtures::API).unwrap());
    assert!(store.apis("acme").unwrap().is_empty());

    let key = StoredKey {
        kid: "k1".into(),
        alg: SigningAlg::ES256,
        created_at: T0,
        wrapped_private: vec![1],
    };
    store.put_key("acme", &key).unwrap();
    store.put_key("acme2", &key).unwrap();
    assert!(store.delete_key("acme", "k1").unwrap());
    assert!(!store.delete_key("acme", "k1").unwrap());
    assert!(store.keys("acme").unwrap().is_empty());
    assert_eq!(store.keys("acme2").unwrap(), [key]);
}

pub fn logs_are_kept_in_time_order_and_trimmed(store: &dyn Store) {
    use crate::audit::LogEvent;
    let event = |date: u64, n: u64| {
        let mut event = LogEvent::new("s", format!("event {n}"), date);
        event.id = LogEvent::make_id(date, n);
        event
    };
    let events: Vec<LogEvent> = (0..5).map(|n| event(T0 + n * 1000, n)).collect();
    store.append_logs("acme", &events[2..]).unwrap();
    store.append_logs("acme", &events[..2]).unwrap();
    store.append_logs("acme2", &[event(T0, 9)]).unwrap();
    let descriptions = |events: Vec<LogEvent>| {
        events
            .into_iter()
            .map(|e| e.description)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        descriptions(store.logs("acme", None, 3, false).unwrap()),
        ["event 0", "event 1", "event 2"]
    );
    assert_eq!(
        descriptions(store.logs("acme", Some(&events[2].id), 10, false).unwrap()),
        ["event 3", "event 4"]
    );
    assert_eq!(
        descriptions(store.logs("acme", None, 2, true).unwrap()),
        ["event 4", "event 3"]
    );
    assert_eq!(
        descriptions(store.logs("acme", Some(&events[3].id), 2, true).unwrap()),
        ["event 2", "event 1"]
    );
    assert_eq!(
        store.log("acme", &events[1].id).unwrap(),
        Some(events[1].clone())
    );
    assert_eq!(store.log("acme2", &events[1].id).unwrap(), None);
    // Keep the newest three, and nothing before event 2's date: events 0 and 1 go.
    let before = format!("{:013}", T0 + 1500);
    assert_eq!(store.trim_logs("acme", 3, &before).unwrap(), 2);
    assert_eq!(
        descriptions(store.logs("acme", None, 10, false).unwrap()),
        ["event 2", "event 3", "event 4"]
    );
    assert_eq!(store.trim_logs("acme", 1, "0").unwrap(), 2);
    assert_eq!(
        descriptions(store.logs("acme", None, 10, false).unwrap()),
        ["event 4"]
    );
    assert_eq!(store.logs("acme2", None, 10, false).unwrap().len(), 1);
    store.delete_tenant("acme").unwrap();
    assert!(store.logs("acme", None, 10, false).unwrap().is_empty());
}

pub fn hosts_are_claimed_once_and_released_when_dropped(store: &dyn Store) {
    let mut acme = fixtures::tenant("acme");
    acme.hosts = vec!["Login.Acme.test".into(), "old.acme.test".into()];
    store.put_tenant(&acme).unwrap();
    assert_eq!(
        store.tenant_for_host("login.acme.TEST").unwrap().as_deref(),
        Some("acme")
    );
    let mut thief = fixtures::tenant("thief");
    thief.hosts = vec!["login.acme.test".into()];
    assert!(matches!(
        store.put_tenant(&thief),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.tenant("thief").unwrap(), None, "nothing was written");
    acme.hosts = vec!["login.acme.test".into()];
    store.put_tenant(&acme).unwrap();
    assert_eq!(
        store.tenant_for_host("old.acme.test").unwrap(),
        None,
        "released"
    );
    thief.hosts = vec!["old.acme.test".into()];
    store.put_tenant(&thief).unwrap();
    assert_eq!(
        store.tenant_for_host("old.acme.test").unwrap().as_deref(),
        Some("thief")
    );
    let mut ids: Vec<String> = store.tenants().unwrap().into_iter().map(|t| t.id).collect();
    ids.sort();
    assert_eq!(ids, ["acme", "thief"]);
}

pub fn logins_are_unique_per_tenant_and_follow_the_user(store: &dyn Store) {
    let mut alice = fixtures::user("alice", "Alice@X.test");
    alice.username = Some("alice".into());
    store.put_user("acme", &alice).unwrap();
    assert_eq!(
        store
            .user_by_login("acme", "ALICE@x.test")
            .unwrap()
            .unwrap()
            .user_id,
        "alice"
    );
    let mallory = fixtures::user("mallory", "alice@x.test");
    assert!(matches!(
        store.put_user("acme", &mallory),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.user("acme", "mallory").unwrap(), None);
    store.put_user("globex", &mallory).unwrap();
    alice.email = Some("new@x.test".into());
    store.put_user("acme", &alice).unwrap();
    assert_eq!(store.user_by_login("acme", "alice@x.test").unwrap(), None);
    assert_eq!(
        store
            .user_by_login("acme", "new@x.test")
            .unwrap()
            .unwrap()
            .user_id,
        "alice"
    );
    assert_eq!(
        store
            .user_by_login("acme", "alice")
            .unwrap()
            .unwrap()
            .user_id,
        "alice"
    );
}

pub fn deleting_a_tenant_deletes_all_of_it_and_nothing_else(store: &dyn Store) {
    for id in ["acme", "acme2"] {
        let mut tenant = fixtures::tenant(id);
        tenant.hosts = vec![format!("{id}.test")];
        store.put_tenant(&tenant).unwrap();
        store
            .put_user(id, &fixtures::user("u", "u@x.test"))
            .unwrap();
        store
            .put_client(
                id,
                &fixtures::client("app", crate::ClientType::Confidential, 0),
            )
            .unwrap();
        store.put_api(id, &fixtures::api()).unwrap();
        store
            .put_key(
                id,
                &StoredKey {
                    kid: "k".into(),
                    alg: SigningAlg::ES256,
                    created_at: T0,
                    wrapped_private: vec![1, 2, 3],
                },
            )
            .unwrap();
        let rules = fixtures::rule_set(1, &["abc"]);
        assert!(
            store
                .put_rule_set(id, 0, &rules, &[("abc", b"module")])
                .unwrap()
        );
        assert!(
            store
                .write_flow(
                    id,
                    FlowKind::Session,
                    "s",
                    FlowWrite::Create(&flow(1, b"{}"))
                )
                .unwrap()
        );
        let family = fixtures::family("rtf_t", "u", "app", T0);
        let claims: rules_abi::Claims = [("c".to_owned(), 1.into())].into_iter().collect();
        store
            .apply(
                id,
                &Change {
                    family: Some(FamilyWrite::Create(&family)),
                    metadata: None,
                    userinfo: Some(UserinfoWrite {
                        user_id: "u",
                        client_id: "app",
                        claims: &claims,
                    }),
                },
            )
            .unwrap();
    }
    store.delete_tenant("acme").unwrap();
    store.delete_tenant("acme").unwrap();
    assert_eq!(store.tenant("acme").unwrap(), None);
    assert_eq!(store.tenant_for_host("acme.test").unwrap(), None);
    assert_eq!(store.user("acme", "u").unwrap(), None);
    assert_eq!(store.user_by_login("acme", "u@x.test").unwrap(), None);
    assert_eq!(store.client("acme", "app").unwrap(), None);
    assert_eq!(store.api("acme", fixtures::API).unwrap(), None);
    assert!(store.keys("acme").unwrap().is_empty());
    assert_eq!(store.rule_set("acme").unwrap(), Default::default());
    assert_eq!(store.module("acme", "abc").unwrap(), None);
    assert_eq!(store.refresh_family("acme", "rtf_t").unwrap(), None);
    assert_eq!(store.flow("acme", FlowKind::Session, "s").unwrap(), None);
    assert!(
        store
            .userinfo_claims("acme", "u", "app")
            .unwrap()
            .is_empty()
    );
    // The tenant whose id extends the deleted one's keeps everything.
    assert!(store.tenant("acme2").unwrap().is_some());
    assert_eq!(
        store.tenant_for_host("acme2.test").unwrap().as_deref(),
        Some("acme2")
    );
    assert!(store.user_by_login("acme2", "u@x.test").unwrap().is_some());
    assert_eq!(store.keys("acme2").unwrap().len(), 1);
    assert!(store.module("acme2", "abc").unwrap().is_some());
    assert!(store.refresh_family("acme2", "rtf_t").unwrap().is_some());
    assert!(
        store
            .flow("acme2", FlowKind::Session, "s")
            .unwrap()
            .is_some()
    );
    assert_eq!(store.userinfo_claims("acme2", "u", "app").unwrap().len(), 1);
}

pub fn userinfo_claims_are_kept_per_user_and_client(store: &dyn Store) {
    let claims =
        |n: i32| -> rules_abi::Claims { [("n".to_owned(), n.into())].into_iter().collect() };
    for (user, client, n) in [("u", "a", 1), ("u", "b", 2), ("v", "a", 3), ("u", "a", 4)] {
        let c = claims(n);
        let change = Change {
            userinfo: Some(UserinfoWrite {
                user_id: user,
                client_id: client,
                claims: &c,
            }),
            ..Change::default()
        };
        assert!(store.apply("acme", &change).unwrap());
    }
    assert_eq!(store.userinfo_claims("acme", "u", "a").unwrap(), claims(4));
    assert_eq!(store.userinfo_claims("acme", "u", "b").unwrap(), claims(2));
    assert_eq!(store.userinfo_claims("acme", "v", "a").unwrap(), claims(3));
    assert!(store.userinfo_claims("acme", "v", "b").unwrap().is_empty());
}

pub fn metadata_updates_merge_top_level_keys(store: &dyn Store) {
    let mut user = fixtures::user("u", "u@x.test");
    user.app_metadata.insert("keep".into(), 1.into());
    user.app_metadata.insert("replace".into(), 1.into());
    store.put_user("acme", &user).unwrap();
    let mut update = MetadataUpdate::default();
    update.app_metadata.insert("replace".into(), 2.into());
    update.user_metadata.insert("theme".into(), "dark".into());
    let change = Change {
        metadata: Some(("u", &update)),
        ..Change::default()
    };
    assert!(store.apply("acme", &change).unwrap());
    let stored = store.user("acme", "u").unwrap().unwrap();
    assert_eq!(stored.app_metadata["keep"], 1);
    assert_eq!(stored.app_metadata["replace"], 2);
    assert_eq!(stored.user_metadata["theme"], "dark");
    let ghost = Change {
        metadata: Some(("nobody", &update)),
        ..Change::default()
    };
    assert!(
        store.apply("acme", &ghost).unwrap(),
        "a vanished user is skipped"
    );
    assert_eq!(store.user("acme", "nobody").unwrap(), None);
}

pub fn meta_is_a_compare_and_swap(store: &dyn Store) {
    assert_eq!(store.meta("secret").unwrap(), None);
    assert!(store.meta_swap("secret", None, b"one").unwrap());
    assert!(!store.meta_swap("secret", None, b"two").unwrap());
    assert!(!store.meta_swap("secret", Some(b"zzz"), b"two").unwrap());
    assert!(store.meta_swap("secret", Some(b"one"), b"two").unwrap());
    assert_eq!(store.meta("secret").unwrap().unwrap(), b"two");
}

pub fn identifiers_that_could_split_a_key_are_refused(store: &dyn Store) {
    let invalid = |result: Result<(), StoreError>| {
        assert!(
            matches!(result, Err(StoreError::InvalidId { .. })),
            "{result:?}"
        );
    };
    invalid(store.put_user("acme", &fixtures::user("a\0b", "x@x.test")));
    invalid(store.put_user("acme", &fixtures::user("a", "x\0@x.test")));
    invalid(store.put_user("ac\0me", &fixtures::user("a", "x@x.test")));
    invalid(store.put_client(
        "acme",
        &fixtures::client("c\0", crate::ClientType::Public, 0),
    ));
    invalid(store.put_tenant(&fixtures::tenant("")));
    for (set, modules) in [
        (fixtures::rule_set(1, &["a\0b"]), vec![]),
        (fixtures::rule_set(1, &["ab"]), vec![("a\0b", &b"m"[..])]),
    ] {
        invalid(store.put_rule_set("acme", 0, &set, &modules).map(drop));
    }
    assert_eq!(store.rule_set("acme").unwrap().version, 0);
    let family = fixtures::family("rtf_x", "u\0v", "app", T0);
    for bad in [
        family.clone(),
        fixtures::family("rtf\0x", "u", "app", T0),
        fixtures::family("rtf_y", "u", "a\0pp", T0),
    ] {
        assert!(matches!(
            store.apply("acme", &Change::family(FamilyWrite::Create(&bad))),
            Err(StoreError::InvalidId { .. })
        ));
    }
    let claims = rules_abi::Claims::new();
    let change = Change {
        family: Some(FamilyWrite::Create(&fixtures::family(
            "rtf_ok", "u", "app", T0,
        ))),
        metadata: None,
        userinfo: Some(UserinfoWrite {
            user_id: &family.user_id,
            client_id: "app",
            claims: &claims,
        }),
    };
    assert!(matches!(
        store.apply("acme", &change),
        Err(StoreError::InvalidId { .. })
    ));
    assert_eq!(
        store.refresh_family("acme", "rtf_ok").unwrap(),
        None,
        "refused before anything was written"
    );
}

fn flow(version: u64, body: &[u8]) -> FlowRecord {
    FlowRecord {
        version,
        expires_at: T0 + 60_000,
        body: body.to_vec(),
    }
}

pub fn a_flow_record_is_created_once_and_swapped_by_version(store: &dyn Store) {
    let code = FlowKind::AuthorizationCode;
    assert!(
        store
            .write_flow(
                "acme",
                code,
                "c1",
                FlowWrite::Create(&flow(1, b"{\"a\":1}"))
            )
            .unwrap()
    );
    assert!(
        !store
            .write_flow("acme", code, "c1", FlowWrite::Create(&flow(1, b"{}")))
            .unwrap(),
        "a second creation is refused"
    );
    assert_eq!(
        store.flow("acme", code, "c1").unwrap(),
        Some(flow(1, b"{\"a\":1}"))
    );
    // The same id in another kind is another record.
    assert_eq!(store.flow("acme", FlowKind::Login, "c1").unwrap(), None);

    // Two redemptions that both read version 1: exactly one wins.
    let redeemed = flow(2, b"{\"redeemed\":true}");
    let swap = |record| FlowWrite::Replace {
        expected_version: 1,
        record,
    };
    assert!(
        store
            .write_flow("acme", code, "c1", swap(&redeemed))
            .unwrap()
    );
    assert!(
        !store
            .write_flow("acme", code, "c1", swap(&redeemed))
            .unwrap()
    );
    assert_eq!(
        store.flow("acme", code, "c1").unwrap(),
        Some(redeemed.clone())
    );

    // A delete is a compare-and-swap too; replacing or deleting a missing record is refused.
    let stale = FlowWrite::Delete {
        expected_version: 1,
    };
    assert!(!store.write_flow("acme", code, "c1", stale).unwrap());
    let current = FlowWrite::Delete {
        expected_version: 2,
    };
    assert!(store.write_flow("acme", code, "c1", current).unwrap());
    assert_eq!(store.flow("acme", code, "c1").unwrap(), None);
    assert!(!store.write_flow("acme", code, "c1", current).unwrap());
    assert!(
        !store
            .write_flow("acme", code, "c1", swap(&flow(2, b"{}")))
            .unwrap()
    );
    assert!(matches!(
        store.write_flow("acme", code, "a\0b", FlowWrite::Create(&flow(1, b"{}"))),
        Err(StoreError::InvalidId { .. })
    ));
}

pub fn flow_records_are_paged_per_tenant_and_kind(store: &dyn Store) {
    for tenant in ["acme", "acme2"] {
        for id in ["s3", "s1", "s2"] {
            let record = flow(1, id.as_bytes());
            assert!(
                store
                    .write_flow(tenant, FlowKind::Session, id, FlowWrite::Create(&record))
                    .unwrap()
            );
        }
    }
    let device = flow(1, b"d");
    assert!(
        store
            .write_flow(
                "acme",
                FlowKind::DeviceCode,
                "s0",
                FlowWrite::Create(&device)
            )
            .unwrap()
    );
    let ids = |after, limit| -> Vec<String> {
        store
            .flow_page("acme", FlowKind::Session, after, limit)
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    };
    assert_eq!(ids(None, 10), ["s1", "s2", "s3"]);
    assert_eq!(ids(None, 2), ["s1", "s2"]);
    assert_eq!(ids(Some("s2"), 10), ["s3"]);
    assert!(ids(Some("s3"), 10).is_empty());
    let page = store.flow_page("acme", FlowKind::Session, None, 1).unwrap();
    assert_eq!(page, [("s1".to_owned(), flow(1, b"s1"))]);
    assert_eq!(
        store
            .flow_page("acme", FlowKind::DeviceCode, None, 10)
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .flow_page("acme", FlowKind::Login, None, 10)
            .unwrap()
            .is_empty()
    );
}
