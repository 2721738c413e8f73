use std::sync::Arc;

use oidc_core::refresh::RefreshFamily;
use oidc_core::{RefreshPolicy, Secret, Store};

use super::*;

fn family(id: &str, user: &str, created_at: u64) -> RefreshFamily {
    RefreshFamily::new(
        id.into(),
        "app",
        user,
        None,
        vec!["openid".into()],
        &RefreshPolicy::default(),
        created_at,
    )
}

fn user(id: &str, email: &str) -> User {
    User {
        user_id: id.into(),
        email: Some(email.into()),
        email_verified: true,
        username: None,
        name: None,
        nickname: None,
        given_name: None,
        family_name: None,
        picture: None,
        password_hash: None,
        app_metadata: Default::default(),
        user_metadata: Default::default(),
        roles: vec![],
        blocked: false,
        logins_count: 0,
        created_at: 0,
        updated_at: 0,
    }
}

#[test]
fn users_are_found_by_login_within_their_tenant_only() {
    let store = SledStore::temporary().unwrap();
    store
        .put_user("acme", &user("auth0|a", "Alice@Example.com"))
        .unwrap();
    assert_eq!(
        store
            .user_by_login("acme", "alice@example.com")
            .unwrap()
            .unwrap()
            .user_id,
        "auth0|a"
    );
    assert!(
        store
            .user_by_login("other", "alice@example.com")
            .unwrap()
            .is_none()
    );
    assert!(store.user("other", "auth0|a").unwrap().is_none());
}

#[test]
fn refresh_tokens_belong_to_one_tenant() {
    let store = SledStore::temporary().unwrap();
    let token = Secret::new("t1").hash();
    store
        .refresh_create("acme", &family("rtf_1", "u", 1), &token, 200, None, 1)
        .unwrap();
    let (generation, found) = store.refresh_find("acme", &token).unwrap().unwrap();
    assert_eq!((generation, found.id.as_str()), (0, "rtf_1"));
    assert!(store.refresh_find("other", &token).unwrap().is_none());
}

#[test]
fn replace_is_a_compare_and_swap_with_exactly_one_winner() {
    let store = Arc::new(SledStore::temporary().unwrap());
    let first = family("rtf_1", "u", 1);
    store
        .refresh_create("acme", &first, &Secret::new("t0").hash(), 200, None, 1)
        .unwrap();
    let winners: usize = (0..16)
        .map(|i| {
            let (store, first) = (Arc::clone(&store), first.clone());
            std::thread::spawn(move || {
                let next = first.after_exchange(true, None, (None, None), 2);
                let token = Secret::new(format!("t1-{i}")).hash();
                store
                    .refresh_replace("acme", first.version, &next, Some(&token), None)
                    .unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|thread| usize::from(thread.join().unwrap()))
        .sum();
    assert_eq!(winners, 1);
}

#[test]
fn a_revoked_family_cannot_be_revived() {
    let store = SledStore::temporary().unwrap();
    let first = family("rtf_1", "u", 1);
    store
        .refresh_create("acme", &first, &Secret::new("t0").hash(), 200, None, 1)
        .unwrap();
    let revoked = first.revoke("stolen", 2);
    assert!(
        store
            .refresh_replace("acme", first.version, &revoked, None, None)
            .unwrap()
    );
    // A writer that read the revoked family and somehow built a live successor is refused.
    let mut revived = revoked.clone();
    revived.revoked = None;
    revived.version += 1;
    assert!(
        !store
            .refresh_replace("acme", revoked.version, &revived, None, None)
            .unwrap()
    );
    assert!(
        store
            .refresh_family("acme", "rtf_1")
            .unwrap()
            .unwrap()
            .revoked
            .is_some()
    );
}

#[test]
fn at_most_max_live_families_per_user_and_client() {
    let store = SledStore::temporary().unwrap();
    for i in 0..5u64 {
        let token = Secret::new(format!("t{i}")).hash();
        store
            .refresh_create(
                "acme",
                &family(&format!("rtf_{i}"), "u", 10 + i),
                &token,
                3,
                None,
                20,
            )
            .unwrap();
    }
    let live: Vec<bool> = (0..5)
        .map(|i| {
            store
                .refresh_family("acme", &format!("rtf_{i}"))
                .unwrap()
                .unwrap()
                .is_live(20)
        })
        .collect();
    assert_eq!(
        live,
        [false, false, true, true, true],
        "the oldest are evicted"
    );
}

#[test]
fn metadata_updates_ride_along_with_the_token_write() {
    let store = SledStore::temporary().unwrap();
    store.put_user("acme", &user("auth0|a", "a@x")).unwrap();
    let mut update = MetadataUpdate::default();
    update.app_metadata.insert("seen".into(), true.into());
    store
        .refresh_create(
            "acme",
            &family("rtf_1", "auth0|a", 1),
            &Secret::new("t").hash(),
            200,
            Some(("auth0|a", &update)),
            1,
        )
        .unwrap();
    assert_eq!(
        store.user("acme", "auth0|a").unwrap().unwrap().app_metadata["seen"],
        true
    );
}

#[test]
fn data_survives_a_reopen_and_the_schema_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let token = Secret::new("durable").hash();
    {
        let store = SledStore::open(dir.path()).unwrap();
        store
            .refresh_create("acme", &family("rtf_1", "u", 1), &token, 200, None, 1)
            .unwrap();
        store.flush().unwrap();
    }
    {
        let store = SledStore::open(dir.path()).unwrap();
        assert!(store.refresh_find("acme", &token).unwrap().is_some());
        store
            .meta
            .insert(META_SCHEMA, &99u32.to_be_bytes())
            .unwrap();
        store.flush().unwrap();
    }
    assert!(matches!(
        SledStore::open(dir.path()),
        Err(OpenError::Schema { found: 99 })
    ));
}

#[test]
fn the_seal_key_is_created_once() {
    let store = SledStore::temporary().unwrap();
    let first = store.seal_key(|| [1; 32]).unwrap();
    let second = store.seal_key(|| [2; 32]).unwrap();
    assert_eq!(first, second);
    assert_eq!(first.len(), 32);
}
