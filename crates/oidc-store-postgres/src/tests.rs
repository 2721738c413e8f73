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
        Scratch::at(&url())
    }

    /// A scratch schema reached through `url` (another host name, TLS settings).
    pub(crate) fn at(url: &str) -> Scratch {
        Scratch::try_at(url).unwrap_or_else(|e| {
            panic!("these tests need PostgreSQL at {url} (set CLAIMSMITH_TEST_POSTGRES): {e}")
        })
    }

    pub(crate) fn try_at(url: &str) -> Result<Scratch, crate::OpenError> {
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
        let store = PostgresStore::open_in_schema(url, &schema, settings)?;
        Ok(Scratch { store, schema })
    }

    /// Whether this store's connections are encrypted, as the server sees them.
    fn encrypted(&self) -> bool {
        self.store
            .connection()
            .unwrap()
            .client()
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0)
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

#[test]
fn a_meta_change_through_one_node_wakes_the_listener_of_another() {
    use oidc_core::Store as _;
    use std::time::Duration;
    let scratch = Scratch::new();
    let other_node =
        PostgresStore::open_in_schema(&url(), &scratch.schema, PoolSettings::default()).unwrap();
    let mut listener = other_node
        .listen_meta()
        .unwrap()
        .expect("PostgreSQL announces");
    // A deployment in another schema of the same database is not this one's business.
    let neighbour = Scratch::new();
    assert!(neighbour.meta_swap("tenant_epochs", None, b"{}").unwrap());

    assert!(
        scratch
            .meta_swap("tenant_epochs", None, b"{\"acme\":1}")
            .unwrap()
    );
    // Bounded by a timeout, never a hang: the announcement arrives long before it.
    assert!(listener.wait(Duration::from_secs(30)).unwrap());
    assert_eq!(
        other_node.meta("tenant_epochs").unwrap().as_deref(),
        Some(&b"{\"acme\":1}"[..])
    );
    // A refused swap changes nothing and announces nothing; the next change is announced.
    assert!(
        !scratch
            .meta_swap("tenant_epochs", Some(b"stale"), b"x")
            .unwrap()
    );
    assert!(
        scratch
            .meta_swap("tenant_epochs", Some(b"{\"acme\":1}"), b"{\"acme\":2}")
            .unwrap()
    );
    assert!(listener.wait(Duration::from_secs(30)).unwrap());
    assert_eq!(
        other_node.meta("tenant_epochs").unwrap().as_deref(),
        Some(&b"{\"acme\":2}"[..])
    );
}

/// The server's certificate, as the server names it (Debian's self-signed `snakeoil` one for
/// `localhost`), and the test URL aimed at that name.
fn server_certificate() -> (String, String) {
    let mut client = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    let ssl: String = client.query_one("SHOW ssl", &[]).unwrap().get(0);
    assert_eq!(
        ssl, "on",
        "these tests need a server with ssl = on (Debian's default)"
    );
    let file: String = client.query_one("SHOW ssl_cert_file", &[]).unwrap().get(0);
    (file, url().replace("@127.0.0.1", "@localhost"))
}

#[test]
fn sslmode_means_what_it_means_to_libpq() {
    let (certificate, url) = server_certificate();
    let with = |query: &str| format!("{url}?{query}");
    // The default, `prefer`: encrypted when the server offers it, the certificate unchecked.
    assert!(Scratch::at(&url).encrypted());
    assert!(Scratch::at(&with("sslmode=require")).encrypted());
    assert!(!Scratch::at(&with("sslmode=disable")).encrypted());
    // Verified: the chain ends at the named root and the certificate names the host.
    let verified = with(&format!("sslmode=verify-full&sslrootcert={certificate}"));
    assert!(Scratch::at(&verified).encrypted());
    // Another root (a public CA's) does not vouch for it: refused, with the reason.
    let other_root = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/isrg-root-x1.pem");
    let refused = Scratch::try_at(&with(&format!(
        "sslmode=verify-ca&sslrootcert={other_root}"
    )))
    .unwrap_err();
    assert!(matches!(refused, crate::OpenError::Connect(_)), "{refused}");
    assert!(refused.to_string().contains("certificate"), "{refused}");
    // A host the certificate does not name is refused even with the right root.
    let wrong_host = verified.replace("@localhost", "@127.0.0.1");
    let refused = Scratch::try_at(&wrong_host).unwrap_err();
    assert!(refused.to_string().contains("certificate"), "{refused}");
    // Unknown modes and unreadable roots are errors in the URL, before any connection.
    let unknown = Scratch::try_at(&with("sslmode=allow")).unwrap_err();
    assert!(matches!(unknown, crate::OpenError::Url(_)), "{unknown}");
    let missing = Scratch::try_at(&with("sslmode=verify-full&sslrootcert=/nonexistent.pem"));
    assert!(
        matches!(missing.unwrap_err(), crate::OpenError::Url(m) if m.contains("/nonexistent.pem"))
    );
}

#[test]
fn an_exchange_costs_a_bounded_number_of_round_trips_once_its_statements_are_prepared() {
    use oidc_core::testkit::fixtures::{self, T0};
    use oidc_core::{Change, FamilyWrite, Store as _};
    let scratch = Scratch::new();
    // One connection, so every call meets the statements the earlier ones prepared.
    let one = PoolSettings {
        max_connections: 1,
        ..PoolSettings::default()
    };
    let store = PostgresStore::open_in_schema(&url(), &scratch.schema, one).unwrap();
    let trips = || store.pool().expect("a pool").round_trips;
    let mut family = fixtures::family("rtf_trips", "u", "app", T0);
    assert!(
        store
            .apply("acme", &Change::family(FamilyWrite::Create(&family)))
            .unwrap()
    );
    let mut rotate = || {
        let expected_version = family.version;
        family.version += 1;
        family.generation += 1;
        let write = FamilyWrite::Replace {
            expected_version,
            family: &family,
        };
        let before = trips();
        assert!(store.apply("acme", &Change::family(write)).unwrap());
        let read = trips();
        assert!(store.refresh_family("acme", "rtf_trips").unwrap().is_some());
        (read - before, trips() - read)
    };
    // The first rotation prepares its statement; every later one only executes it: a
    // rotation is one conditional statement, a read one round trip.
    let (first, _) = rotate();
    assert_eq!(rotate(), (1, 1));
    assert_eq!(rotate(), (1, 1));
    assert_eq!(first, 2);
}

#[test]
fn version_two_learns_which_families_are_revoked_from_their_records() {
    use oidc_core::testkit::fixtures::{self, T0};
    use oidc_core::{Change, FamilyWrite, Store as _};
    let scratch = Scratch::new();
    let live = fixtures::family("rtf_live", "u", "app", T0);
    let mut revoked = fixtures::family("rtf_revoked", "u", "app", T0);
    revoked.revoked = live.revoke("test", T0).revoked;
    for family in [&live, &revoked] {
        assert!(
            scratch
                .apply("acme", &Change::family(FamilyWrite::Create(family)))
                .unwrap()
        );
    }
    // Back to a version-1 database (no `revoked` column), then opened by this build.
    let mut client = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    client
        .batch_execute(&format!(
            "ALTER TABLE {0}.families DROP COLUMN revoked; \
             UPDATE {0}.claimsmith_schema SET version = 1",
            scratch.schema
        ))
        .unwrap();
    let store =
        PostgresStore::open_in_schema(&url(), &scratch.schema, PoolSettings::default()).unwrap();
    // The revoked family stays revoked: a live write over it is refused; the live one rotates.
    let mut back_to_live = revoked.clone();
    back_to_live.revoked = None;
    back_to_live.version = 1;
    let write = FamilyWrite::Replace {
        expected_version: 0,
        family: &back_to_live,
    };
    assert!(!store.apply("acme", &Change::family(write)).unwrap());
    let mut next = live.clone();
    next.version = 1;
    let write = FamilyWrite::Replace {
        expected_version: 0,
        family: &next,
    };
    assert!(store.apply("acme", &Change::family(write)).unwrap());
}
