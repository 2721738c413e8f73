//! `claimsmith copy`: a deployment copied through the port is the same deployment, and its
//! refresh tokens keep working on the copy.

use crate::audit::LogEvent;
use crate::copy::{CopyError, copy};
use crate::store::{Change, FlowKind, FlowRecord, FlowWrite, Store, UserinfoWrite};
use crate::testkit::fixtures::{self, T0};
use crate::testkit::{Harness, MemoryStore};
use crate::vault::DEPLOYMENT_SECRET;

const OFFLINE: &str = "openid offline_access read:things";

/// Everything the port can read of a store, as text: two stores with equal snapshots hold
/// the same deployment.
fn snapshot(store: &dyn Store) -> String {
    let mut out = format!("meta {:?}\n", store.meta(DEPLOYMENT_SECRET).unwrap());
    for tenant in store.tenants().unwrap() {
        let t = tenant.id.as_str();
        out += &format!("{tenant:?}\n{:?}\n", store.keys(t).unwrap());
        let clients = store.clients(t).unwrap();
        out += &format!("{clients:?}\n{:?}\n", store.apis(t).unwrap());
        for user in store.users_page(t, None, usize::MAX).unwrap() {
            out += &format!("{user:?}\n");
            for client in &clients {
                let claims = store.userinfo_claims(t, &user.user_id, &client.client_id);
                out += &format!("userinfo {} {:?}\n", client.client_id, claims.unwrap());
            }
        }
        let rules = store.rule_set(t).unwrap();
        for hash in rules.module_hashes() {
            out += &format!("module {hash} {:?}\n", store.module(t, hash).unwrap());
        }
        out += &format!("{rules:?}\n");
        out += &format!("{:?}\n", store.refresh_page(t, None, usize::MAX).unwrap());
        out += &format!("{:?}\n", store.logs(t, None, usize::MAX, false).unwrap());
        for kind in FlowKind::ALL {
            out += &format!(
                "{:?}\n",
                store.flow_page(t, kind, None, usize::MAX).unwrap()
            );
        }
    }
    out
}

/// A deployment with one of everything: families from real grants, a rule set with its
/// module, userinfo claims, log events, a session, the wrapped deployment secret.
fn populated() -> (Harness, String) {
    let mut h = Harness::default();
    let first = h.login("web", OFFLINE).unwrap().refresh_token.unwrap();
    let live = h.refresh("web", &first).unwrap().refresh_token.unwrap();
    h.login("strict", OFFLINE).unwrap();
    let store = &h.store;
    let module = b"\0asm\x01\0\0\0";
    let hash = crate::manage::rules::module_hash(module);
    let set = fixtures::rule_set(3, &[&hash]);
    assert!(
        store
            .put_rule_set("acme", 0, &set, &[(&hash, module)])
            .unwrap()
    );
    let claims = serde_json::json!({"https://acme.test/roles": ["admin"]});
    let claims = claims.as_object().unwrap();
    let userinfo = UserinfoWrite {
        user_id: "auth0|alice",
        client_id: "web",
        claims,
    };
    let change = Change {
        userinfo: Some(userinfo),
        ..Change::default()
    };
    store.apply("acme", &change).unwrap();
    let mut event = LogEvent::new("sertft", "refreshed", T0);
    event.id = "90020261128000000000000001".into();
    store.append_logs("acme", &[event]).unwrap();
    let session = FlowRecord {
        version: 1,
        expires_at: T0 + 60_000,
        body: br#"{"user":"auth0|alice"}"#.to_vec(),
    };
    assert!(
        store
            .write_flow(
                "acme",
                FlowKind::Session,
                "sid-1",
                FlowWrite::Create(&session)
            )
            .unwrap()
    );
    assert!(
        store
            .meta_swap(DEPLOYMENT_SECRET, None, b"wrapped")
            .unwrap()
    );
    (h, live)
}

#[test]
fn a_copy_holds_every_record_and_its_refresh_tokens_keep_working() {
    let (source, live) = populated();
    let target = MemoryStore::new();
    let report = copy(&source.store, &target).unwrap();
    assert_eq!(snapshot(&target), snapshot(&source.store));
    assert_eq!(
        (report.tenants, report.refresh_families, report.rule_sets),
        (1, 2, 1)
    );
    assert_eq!((report.userinfo_claims, report.flow_records), (1, 1));
    assert!(report.log_events >= 1 && report.users == 1 && report.clients == 5);

    // The same domain (same refresh keys) over the copy: the live token rotates, and the
    // token it replaced is reuse there as it would have been on the source.
    let mut on_copy = Harness {
        store: target,
        ..Harness::default()
    };
    let next = on_copy.refresh("web", &live).unwrap();
    assert!(next.refresh_token.is_some());
}

#[test]
fn a_copy_never_merges_into_a_deployment() {
    let (source, _) = populated();
    let occupied = MemoryStore::new();
    occupied.put_tenant(&fixtures::tenant("other")).unwrap();
    let refused = copy(&source.store, &occupied).unwrap_err();
    assert!(
        matches!(&refused, CopyError::NotEmpty(t) if t == "other"),
        "{refused}"
    );
    assert_eq!(occupied.tenants().unwrap().len(), 1);

    let started = MemoryStore::new();
    assert!(
        started
            .meta_swap(DEPLOYMENT_SECRET, None, b"its own")
            .unwrap()
    );
    let refused = copy(&source.store, &started).unwrap_err();
    assert!(matches!(refused, CopyError::OtherDeployment), "{refused}");
    assert!(started.tenants().unwrap().is_empty());
}
