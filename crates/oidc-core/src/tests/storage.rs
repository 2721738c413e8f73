//! What stays stored: dead families go, sealed successors go when their window closes, and
//! storage does not grow with rotations.

use crate::refresh::lifecycle::sweep;
use crate::store::Store;
use crate::testkit::Harness;
use crate::{RefreshKeys, Secret};

const OFFLINE: &str = "openid offline_access read:things";

fn sweep_all(h: &Harness) -> crate::refresh::lifecycle::Swept {
    let mut total = crate::refresh::lifecycle::Swept::default();
    let mut after: Option<String> = None;
    loop {
        let step = sweep(&h.store, "acme", after.as_deref(), 2, h.now).unwrap();
        total.scanned += step.scanned;
        total.deleted += step.deleted;
        total.unsealed += step.unsealed;
        match step.next {
            Some(next) => after = Some(next),
            None => return total,
        }
    }
}

#[test]
fn rotations_rewrite_one_record_and_leave_no_trail() {
    let mut h = Harness::default();
    let mut current = h.login("strict", OFFLINE).unwrap().refresh_token.unwrap();
    for _ in 0..500 {
        current = h
            .refresh("strict", &current)
            .unwrap()
            .refresh_token
            .unwrap();
    }
    let families = h.store.refresh_page("acme", None, 10).unwrap();
    assert_eq!(families.len(), 1);
    assert_eq!(families[0].generation, 500);
}

#[test]
fn the_sweep_deletes_dead_families_and_keeps_live_ones() {
    let mut h = Harness::default();
    let revoked = h.login("web", OFFLINE).unwrap().refresh_token.unwrap();
    h.revoke("web", &revoked).unwrap();
    let reused = h.login("strict", OFFLINE).unwrap().refresh_token.unwrap();
    h.refresh("strict", &reused).unwrap();
    h.refresh("strict", &reused).unwrap_err();
    let live = h.login("web", OFFLINE).unwrap().refresh_token.unwrap();
    let idle = h.login("legacy", OFFLINE).unwrap().refresh_token.unwrap();
    h.advance_secs(1_296_000 + 1); // past the default idle lifetime
    let live = h.refresh("web", &live);
    assert!(live.is_err(), "idle too, by now");
    let mut h2 = Harness::default();
    let kept = h2.login("web", OFFLINE).unwrap().refresh_token.unwrap();
    let swept = sweep_all(&h2);
    assert_eq!((swept.scanned, swept.deleted), (1, 0));
    assert!(h2.refresh("web", &kept).is_ok());

    let swept = sweep_all(&h);
    assert_eq!(swept.scanned, 4);
    assert_eq!(
        swept.deleted, 4,
        "revoked, reused and idle-expired families go"
    );
    assert!(h.store.refresh_page("acme", None, 10).unwrap().is_empty());
    assert!(
        h.store
            .refresh_families("acme", "auth0|alice", Some("web"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        h.refresh("legacy", &idle).unwrap_err(),
        crate::OAuthError::unknown_refresh_token(),
        "a deleted family's token gets the same answer as before"
    );
}

/// The successor is kept only sealed for the previous token, and only for the window
/// (defect 2): with the deployment secret alone nothing opens; after the window no record
/// holds a sealed token at all.
#[test]
fn a_sealed_successor_opens_only_for_the_previous_token_and_goes_with_the_window() {
    let mut h = Harness::default();
    let t0 = h.login("web", OFFLINE).unwrap().refresh_token.unwrap();
    let t1 = h.refresh("web", &t0).unwrap().refresh_token.unwrap();
    let family = h
        .store
        .refresh_page("acme", None, 10)
        .unwrap()
        .pop()
        .unwrap();
    let sealed = family
        .sealed_successor
        .clone()
        .expect("sealed inside the window");
    // Whoever holds the deployment secret but not the previous token opens nothing.
    let keys = RefreshKeys::derive(&[42u8; 32]);
    for guess in [String::new(), t1.clone(), family.id.clone()] {
        assert_eq!(keys.open(&sealed, &Secret::new(guess), &family.id), None);
    }
    assert_eq!(
        keys.open(&sealed, &Secret::new(t0.clone()), &family.id),
        Some(Secret::new(t1.clone()))
    );

    h.advance_secs(11);
    let swept = sweep_all(&h);
    assert_eq!(swept.unsealed, 1);
    for family in h.store.refresh_page("acme", None, 10).unwrap() {
        assert_eq!(family.sealed_successor, None);
    }
    assert!(h.refresh("web", &t1).is_ok(), "the live token is untouched");
}
