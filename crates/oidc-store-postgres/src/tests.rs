//! The PostgreSQL store passes the suite every engine must pass, on the machine's server
//! (`CLAIMSMITH_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`), each test
//! in a schema of its own, dropped after it.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::{PoolSettings, PostgresStore};

oidc_core::store_conformance!(@deref Scratch::new());

fn url() -> String {
    std::env::var("CLAIMSMITH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A store in a fresh schema; the schema is dropped with it.
#[derive(Debug)]
pub(crate) struct Scratch {
    store: PostgresStore,
    schema: String,
}

impl Scratch {
    pub(crate) fn new() -> Scratch {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let schema = format!(
            "claimsmith_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let settings = PoolSettings {
            max_connections: 4,
            connect_timeout: std::time::Duration::from_secs(5),
        };
        let store = PostgresStore::open_in_schema(&url(), &schema, settings).unwrap_or_else(|e| {
            panic!(
                "these tests need PostgreSQL at {} (set CLAIMSMITH_TEST_POSTGRES): {e}",
                url()
            )
        });
        Scratch { store, schema }
    }
}

impl std::ops::Deref for Scratch {
    type Target = PostgresStore;
    fn deref(&self) -> &PostgresStore {
        &self.store
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = PostgresStore::drop_schema(&url(), &self.schema);
    }
}

#[test]
fn concurrent_exchanges_of_one_family_on_separate_connections_have_one_winner() {
    use oidc_core::testkit::fixtures::{self, T0};
    use oidc_core::{Change, FamilyWrite, Store as _};
    let scratch = Scratch::new();
    let family = fixtures::family("rtf_race", "u", "app", T0);
    assert!(
        scratch
            .apply("acme", &Change::family(FamilyWrite::Create(&family)))
            .unwrap()
    );
    let winners: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8u64)
            .map(|n| {
                let store = &scratch.store;
                let mut next = family.clone();
                next.version = 1;
                next.generation = n + 1;
                scope.spawn(move || {
                    let write = FamilyWrite::Replace {
                        expected_version: 0,
                        family: &next,
                    };
                    usize::from(store.apply("acme", &Change::family(write)).unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(winners, 1);
    assert_eq!(
        scratch
            .refresh_family("acme", "rtf_race")
            .unwrap()
            .unwrap()
            .version,
        1
    );
}

#[test]
fn migrations_run_once_and_a_newer_schema_is_refused() {
    let scratch = Scratch::new();
    // A second node on the same schema finds it current.
    let settings = PoolSettings::default();
    PostgresStore::open_in_schema(&url(), &scratch.schema, settings).expect("reopens");
    let mut client = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    client
        .batch_execute(&format!(
            "UPDATE {}.claimsmith_schema SET version = 99",
            scratch.schema
        ))
        .unwrap();
    let refused = PostgresStore::open_in_schema(&url(), &scratch.schema, settings).unwrap_err();
    assert!(
        matches!(refused, crate::OpenError::Newer { found: 99 }),
        "{refused}"
    );
    assert!(refused.to_string().contains("upgrade Claimsmith"));
}

#[test]
fn an_unreachable_server_is_a_clear_error_not_a_hang() {
    let settings = PoolSettings {
        max_connections: 2,
        connect_timeout: std::time::Duration::from_secs(2),
    };
    // Port 9 (discard) is closed on loopback: the connection is refused at once.
    let error = PostgresStore::open("postgres://postgres@127.0.0.1:9/test", settings).unwrap_err();
    assert!(matches!(error, crate::OpenError::Connect(_)), "{error}");
    assert!(error.to_string().starts_with("cannot reach PostgreSQL"));
    let bad = PostgresStore::open("not a url", settings).unwrap_err();
    assert!(matches!(bad, crate::OpenError::Url(_)), "{bad}");
}
