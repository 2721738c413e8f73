//! The refresh grant: rotation, the overlap window, reuse, revocation, and what happens when a
//! write fails or another writer slips in.

use rules_abi::RuleOutcome;

use crate::refresh::lifecycle::{enforce_cap, revoke_family};
use crate::store::Store;
use crate::testkit::fixtures::T0;
use crate::testkit::{FailingStore, Failure, Harness, MemoryStore};
use crate::{OAuthError, TokenResponse};

const OFFLINE: &str = "openid offline_access read:things";

fn unknown() -> OAuthError {
    OAuthError::unknown_refresh_token()
}

fn token(response: &TokenResponse) -> String {
    response.refresh_token.clone().expect("a refresh token")
}

#[test]
fn rotation_replay_and_reuse() {
    let mut h = Harness::default();
    let t0 = token(&h.login("web", OFFLINE).unwrap());
    let t1 = token(&h.refresh("web", &t0).unwrap());
    assert_ne!(t0, t1);
    h.advance_secs(5);
    assert_eq!(
        token(&h.refresh("web", &t0).unwrap()),
        t1,
        "inside the window the previous token gets the same successor"
    );
    let t2 = token(&h.refresh("web", &t1).unwrap());
    assert_eq!(
        h.refresh("web", &t0).unwrap_err(),
        unknown(),
        "only the immediately previous token may be replayed"
    );
    assert_eq!(
        h.refresh("web", &t2).unwrap_err(),
        unknown(),
        "reuse killed it"
    );
}

#[test]
fn outside_the_window_the_previous_token_is_reuse() {
    let mut h = Harness::default();
    let t0 = token(&h.login("web", OFFLINE).unwrap());
    let t1 = token(&h.refresh("web", &t0).unwrap());
    h.advance_secs(11);
    assert_eq!(h.refresh("web", &t0).unwrap_err(), unknown());
    assert_eq!(h.refresh("web", &t1).unwrap_err(), unknown());
}

#[test]
fn tokens_are_bound_to_their_client_and_tenant() {
    let mut h = Harness::default();
    let t0 = token(&h.login("web", OFFLINE).unwrap());
    assert_eq!(h.refresh("other", &t0).unwrap_err(), unknown());
    // Another tenant with a client of the same id and secret knows nothing of the token.
    let web = h.store.client("acme", "web").unwrap().unwrap();
    h.store.put_client("globex", &web).unwrap();
    h.tenant.id = "globex".into();
    assert_eq!(h.refresh("web", &t0).unwrap_err(), unknown());
    h.tenant.id = "acme".into();
    assert!(
        h.refresh("web", &t0).is_ok(),
        "the wrong client revoked nothing"
    );
}

#[test]
fn non_rotating_tokens_stay_the_same() {
    let mut h = Harness::default();
    let t0 = token(&h.login("legacy", OFFLINE).unwrap());
    let again = h.refresh("legacy", &t0).unwrap();
    assert_eq!(again.refresh_token, None, "the same token stays valid");
    assert!(h.refresh("legacy", &t0).is_ok());
}

/// Auth0: a client's policy reaches live refresh tokens at their next exchange.
#[test]
fn a_client_policy_change_reaches_live_tokens_at_their_next_exchange() {
    let mut h = Harness::default();
    let t0 = token(&h.login("legacy", OFFLINE).unwrap());
    let family_id = h.refresh_keys.parse("acme", &t0).unwrap().family_id;
    let mut client = h.store.client("acme", "legacy").unwrap().unwrap();
    client.refresh_token.rotating = true;
    client.refresh_token.overlap_secs = 0;
    client.refresh_token.idle_lifetime_secs = Some(60);
    h.store.put_client("acme", &client).unwrap();
    // Rotation turned on: the next exchange rotates, and the old token is then reuse.
    let t1 = token(&h.refresh("legacy", &t0).unwrap());
    assert_ne!(t1, t0);
    let family = h.store.refresh_family("acme", &family_id).unwrap().unwrap();
    assert!(family.rotating);
    assert_eq!(
        family.idle_expires_at,
        Some(h.now + 60_000),
        "idle follows the setting"
    );
    // Rotation turned off again: the live token stays, and no new one is issued.
    client.refresh_token.rotating = false;
    h.store.put_client("acme", &client).unwrap();
    assert_eq!(h.refresh("legacy", &t1).unwrap().refresh_token, None);
    assert!(h.refresh("legacy", &t1).is_ok());
    assert_eq!(
        h.refresh("legacy", &t0).unwrap_err(),
        unknown(),
        "t0 was rotated away"
    );
}

/// A non-expiring family becomes expiring once its client sets an absolute lifetime.
#[test]
fn configuring_an_expiration_makes_non_expiring_tokens_expire() {
    let mut h = Harness::default();
    let mut client = h.store.client("acme", "legacy").unwrap().unwrap();
    client.refresh_token.absolute_lifetime_secs = None;
    client.refresh_token.idle_lifetime_secs = None;
    h.store.put_client("acme", &client).unwrap();
    let t0 = token(&h.login("legacy", OFFLINE).unwrap());
    let family_id = h.refresh_keys.parse("acme", &t0).unwrap().family_id;
    assert_eq!(
        h.store
            .refresh_family("acme", &family_id)
            .unwrap()
            .unwrap()
            .expires_at,
        None
    );
    client.refresh_token.absolute_lifetime_secs = Some(100);
    h.store.put_client("acme", &client).unwrap();
    h.refresh("legacy", &t0).unwrap();
    let family = h.store.refresh_family("acme", &family_id).unwrap().unwrap();
    assert_eq!(family.expires_at, Some(h.now + 100_000));
    h.advance_secs(101);
    assert_eq!(h.refresh("legacy", &t0).unwrap_err(), unknown());
}

/// A replay that read the family before a revocation must not answer after it (defect 5).
#[test]
fn a_replay_is_ordered_against_a_revocation() {
    let mut h = Harness::with_store(FailingStore::new(MemoryStore::new()));
    let t0 = token(&h.login("web", OFFLINE).unwrap());
    token(&h.refresh("web", &t0).unwrap());
    let family_id = h.refresh_keys.parse("acme", &t0).unwrap().family_id;
    // The revocation lands between the replay's read of the family and its write.
    h.store.interleave(0, move |inner: &MemoryStore| {
        assert!(revoke_family::<OAuthError>(inner, "acme", &family_id, "revoked", T0).unwrap());
    });
    assert_eq!(h.refresh("web", &t0).unwrap_err(), unknown());
}

/// A rule's shortening holds on a replay too.
#[test]
fn a_replay_keeps_a_rules_lifetime_shortening() {
    let mut h = Harness::default();
    let t0 = token(&h.login("web", OFFLINE).unwrap());
    token(&h.refresh("web", &t0).unwrap());
    h.rules.set(RuleOutcome {
        refresh_token_expires_at: Some(T0 + 60_000),
        ..RuleOutcome::default()
    });
    let t1 = token(&h.refresh("web", &t0).unwrap());
    let family_id = h.refresh_keys.parse("acme", &t0).unwrap().family_id;
    let family = h.store.refresh_family("acme", &family_id).unwrap().unwrap();
    assert_eq!(family.expires_at, Some(T0 + 60_000));
    h.rules.set(RuleOutcome::default());
    h.advance_secs(61);
    assert_eq!(h.refresh("web", &t1).unwrap_err(), unknown());
}

/// Every write a rotation makes is one atomic step: wherever a write fails, or succeeds and
/// then reports failure, the client's retry with the token it still holds works and the family
/// lives (defect 6).
#[test]
fn a_failed_write_never_loses_a_token_nor_kills_a_family() {
    for overlap_client in ["web", "strict"] {
        for failure in [Failure::Before(0), Failure::After(0)] {
            let mut h = Harness::with_store(FailingStore::new(MemoryStore::new()));
            let t0 = token(&h.login(overlap_client, OFFLINE).unwrap());
            let before = h.store.writes();
            h.store.fail(failure);
            let failed = h.refresh(overlap_client, &t0).unwrap_err();
            assert_eq!(failed, OAuthError::server_error());
            assert_eq!(h.store.writes(), before + 1, "one write per exchange");
            let retried = h.refresh(overlap_client, &t0);
            match (failure, overlap_client) {
                // Nothing was written: the retry is a fresh rotation.
                (Failure::Before(_), _) => assert!(retried.is_ok()),
                // The rotation committed but its answer was lost: inside an overlap window the
                // retry gets the same successor; without one, the token was used, as Auth0's.
                (Failure::After(_), "web") => {
                    let successor = token(&retried.unwrap());
                    assert!(h.refresh("web", &successor).is_ok(), "and it works");
                }
                (Failure::After(_), _) => assert_eq!(retried.unwrap_err(), unknown()),
            }
        }
    }
}

#[test]
fn a_failed_login_write_stores_nothing() {
    let mut h = Harness::with_store(FailingStore::new(MemoryStore::new()));
    h.rules.set(RuleOutcome {
        app_metadata: [("seen".to_owned(), true.into())].into_iter().collect(),
        ..RuleOutcome::default()
    });
    h.store.fail(Failure::Before(0));
    assert_eq!(
        h.login("web", OFFLINE).unwrap_err(),
        OAuthError::server_error()
    );
    assert!(h.store.refresh_page("acme", None, 10).unwrap().is_empty());
    let alice = h.store.user("acme", "auth0|alice").unwrap().unwrap();
    assert!(
        alice.app_metadata.is_empty(),
        "metadata goes with the tokens or not at all"
    );
}

#[test]
fn revocation_kills_the_family_for_its_client_only() {
    let mut h = Harness::default();
    let t0 = token(&h.login("web", OFFLINE).unwrap());
    h.revoke("other", &t0).unwrap();
    h.revoke("web", "not a token").unwrap();
    let t1 = token(&h.refresh("web", &t0).unwrap());
    h.revoke("web", &t1).unwrap();
    assert_eq!(h.refresh("web", &t1).unwrap_err(), unknown());
    assert_eq!(
        h.refresh("web", &t0).unwrap_err(),
        unknown(),
        "inside the window too"
    );
}

/// `/userinfo` serves each client only what rules added for it (defect 4).
#[test]
fn userinfo_claims_are_per_client() {
    let mut h = Harness::default();
    h.rules.set(RuleOutcome {
        id_token: [("https://x.test/web-only".to_owned(), 1.into())]
            .into_iter()
            .collect(),
        ..RuleOutcome::default()
    });
    let web = h.login("web", "openid read:things").unwrap();
    h.rules.set(RuleOutcome::default());
    let other = h.login("other", "openid read:things").unwrap();
    let info = |h: &Harness, response: &TokenResponse| {
        crate::userinfo(
            &h.store,
            &h.keys,
            &h.tenant,
            "https://acme.fixture.test/userinfo",
            &response.access_token,
            h.now,
        )
        .unwrap()
    };
    assert_eq!(info(&h, &web)["https://x.test/web-only"], 1);
    assert!(info(&h, &other).get("https://x.test/web-only").is_none());
}

/// The 200 cap holds even when an eviction loses its race (defect 8).
#[test]
fn the_cap_retries_an_eviction_that_lost_its_race() {
    let h = Harness::with_store(FailingStore::new(MemoryStore::new()));
    for i in 0..4u64 {
        let family = crate::testkit::fixtures::family(&format!("rtf_{i}"), "u", "web", T0 + i);
        assert!(
            h.store
                .apply(
                    "acme",
                    &crate::Change::family(crate::FamilyWrite::Create(&family))
                )
                .unwrap()
        );
    }
    // Another request rewrites the oldest family just before the eviction's write.
    h.store.interleave(0, |inner: &MemoryStore| {
        let oldest = inner.refresh_family("acme", "rtf_0").unwrap().unwrap();
        let touched = oldest.after_exchange(None, (None, None), T0 + 10);
        let write = crate::FamilyWrite::Replace {
            expected_version: oldest.version,
            family: &touched,
        };
        assert!(inner.apply("acme", &crate::Change::family(write)).unwrap());
    });
    let revoked = enforce_cap::<OAuthError>(&h.store, "acme", "u", "web", 2, T0 + 20).unwrap();
    assert_eq!(revoked, 2);
    let live: Vec<String> = h
        .store
        .refresh_families("acme", "u", Some("web"))
        .unwrap()
        .into_iter()
        .filter(|f| f.is_live(T0 + 20))
        .map(|f| f.id)
        .collect();
    assert_eq!(
        live,
        ["rtf_2", "rtf_3"],
        "the two oldest went, the race notwithstanding"
    );
}

/// Concurrent retries of one token all write (a replay is a versioned write); one that loses
/// to another replay redoes only its write, not its rules and signatures, so a steady crowd of
/// retries cannot starve it.
#[test]
fn a_replay_that_loses_to_another_replay_redoes_only_its_write() {
    let mut h = Harness::with_store(FailingStore::new(MemoryStore::new()));
    let t0 = token(&h.login("web", OFFLINE).unwrap());
    let t1 = token(&h.refresh("web", &t0).unwrap());
    let family_id = h.refresh_keys.parse("acme", &t0).unwrap().family_id;
    // Another replay lands between this one's read and its write.
    h.store.interleave(0, move |inner: &MemoryStore| {
        let family = inner.refresh_family("acme", &family_id).unwrap().unwrap();
        let bumped = family.after_exchange(None, (None, None), T0 + 1);
        let write = crate::FamilyWrite::Replace {
            expected_version: family.version,
            family: &bumped,
        };
        assert!(inner.apply("acme", &crate::Change::family(write)).unwrap());
    });
    let rules_before = h.rules.seen.lock().unwrap().len();
    assert_eq!(token(&h.refresh("web", &t0).unwrap()), t1);
    assert_eq!(
        h.rules.seen.lock().unwrap().len(),
        rules_before + 1,
        "the rules ran once"
    );
}
