//! Claimsmith's store on PostgreSQL: oidc-core's [`Store`] port for several nodes on one
//! database, the only crate that knows PostgreSQL.
//!
//! The driver is the synchronous `postgres` crate (tokio-postgres underneath) with an `r2d2`
//! pool: the port is synchronous, and the server calls it from blocking workers, so a
//! blocking client is the direct fit (no runtime bridged per call). Every table is keyed by
//! tenant first; identifiers compare byte for byte (`COLLATE "C"`), so order and equality
//! match the embedded store. Records are the same JSON as there. Every write that must be
//! atomic is one transaction; a compare-and-swap reads its row `FOR UPDATE` first, so two
//! nodes exchanging one refresh token get one winner. A committed transaction is durable
//! (`synchronous_commit` is left on), so [`Store::flush`] has nothing to do.

// No panic is reachable from a request.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod issuance;
mod listen;
mod port;
mod schema;
mod session;
#[cfg(test)]
mod tests;
mod tls;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use oidc_core::audit::LogEvent;
use oidc_core::refresh::RefreshFamily;
use oidc_core::store::{checked_id, checked_rule_set};
use oidc_core::{
    Api, Change, Client, FlowKind, FlowRecord, FlowWrite, MetaListener, PoolUse, RuleSet, Store,
    StoreError, StoredKey, Tenant, User,
};
use postgres::types::ToSql;

pub use schema::SCHEMA_VERSION;

type Pool = r2d2::Pool<session::Manager>;
type Connection = r2d2::PooledConnection<session::Manager>;

/// The store could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the database URL is not valid: {0}")]
    Url(String),
    #[error("cannot reach PostgreSQL: {0}")]
    Connect(String),
    #[error(
        "the database has schema version {found}; this build reads version {SCHEMA_VERSION}: \
         upgrade Claimsmith before it serves this database"
    )]
    Newer { found: i32 },
    #[error("cannot migrate the database: {0}")]
    Migration(String),
}

/// Pool settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections at most: bounded, so a burst waits rather than exhausts the server.
    pub max_connections: u32,
    /// How long a caller waits for a connection (and the start for the first one).
    pub connect_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// How to open a connection outside the pool (the change listener's).
    target: tls::Target,
    /// The channel meta changes are announced on: one per schema, so deployments sharing a
    /// database do not wake each other.
    channel: String,
    /// Round trips to the database since the pool opened, for the metrics.
    round_trips: Arc<AtomicU64>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("connections", &self.pool.state().connections)
            .finish()
    }
}

fn failed(context: &'static str) -> impl Fn(postgres::Error) -> StoreError {
    move |error| StoreError::backend(context, error)
}

fn encode<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::corrupt("encoding", e))
}

fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::corrupt(what, e))
}

/// An error with its causes (`error performing TLS handshake: invalid peer certificate: …`):
/// the driver's own message leaves out the reason an operator needs.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// Whether a failed statement broke a uniqueness rule: a concurrent writer won.
fn is_unique_violation(error: &postgres::Error) -> bool {
    error.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
}

/// A schema name becomes part of statements: plain identifiers only.
fn checked_schema(schema: &str) -> Result<(), OpenError> {
    if schema.is_empty()
        || !schema
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(OpenError::Url(format!(
            "schema {schema:?} is not a plain identifier"
        )));
    }
    Ok(())
}

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn as_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…`), applies the migrations this build knows, and
    /// refuses a database whose schema is newer.
    pub fn open(url: &str, settings: PoolSettings) -> Result<PostgresStore, OpenError> {
        PostgresStore::with_target(tls::target(url)?, settings)
    }

    /// As [`open`](Self::open), with every table in `schema` (created if absent): one
    /// database can hold several deployments, and tests one schema each.
    pub fn open_in_schema(
        url: &str,
        schema: &str,
        settings: PoolSettings,
    ) -> Result<PostgresStore, OpenError> {
        checked_schema(schema)?;
        let mut target = tls::target(url)?;
        {
            let mut client = target
                .config
                .clone()
                .connect_timeout(settings.connect_timeout)
                .connect(target.tls.clone())
                .map_err(|e| OpenError::Connect(with_causes(&e)))?;
            client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .map_err(|e| OpenError::Migration(e.to_string()))?;
        }
        target.config.options(&format!("-c search_path={schema}"));
        PostgresStore::with_target(target, settings)
    }

    /// Drops `schema` and everything in it: the end of a deployment made with
    /// [`open_in_schema`](Self::open_in_schema) (tests make one each).
    pub fn drop_schema(url: &str, schema: &str) -> Result<(), OpenError> {
        checked_schema(schema)?;
        let target = tls::target(url)?;
        let mut client = target
            .config
            .connect(target.tls)
            .map_err(|e| OpenError::Connect(with_causes(&e)))?;
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .map_err(|e| OpenError::Migration(e.to_string()))
    }

    fn with_target(
        mut target: tls::Target,
        settings: PoolSettings,
    ) -> Result<PostgresStore, OpenError> {
        if target.config.get_connect_timeout().is_none() {
            target.config.connect_timeout(settings.connect_timeout);
        }
        if target.config.get_application_name().is_none() {
            target.config.application_name("claimsmith");
        }
        let round_trips = Arc::new(AtomicU64::new(0));
        let manager = session::Manager {
            target: target.clone(),
            round_trips: Arc::clone(&round_trips),
        };
        let pool = r2d2::Pool::builder()
            .max_size(settings.max_connections)
            .min_idle(Some(1))
            .connection_timeout(settings.connect_timeout)
            // No ping per checkout: it would be one more round trip per store call (a closed
            // connection fails its one call instead, and the pool drops it).
            .test_on_check_out(false)
            .build(manager)
            .map_err(|e| OpenError::Connect(with_causes(&e)))?;
        let mut connection = pool
            .get()
            .map_err(|e| OpenError::Connect(with_causes(&e)))?;
        schema::migrate(connection.client())?;
        // The schema the tables are in, however it was chosen (a `search_path` in the URL's
        // options, `open_in_schema`, the default): deployments in other schemas of the same
        // database announce on other channels.
        let schema: Option<String> = connection
            .client()
            .query_one("SELECT current_schema()", &[])
            .map_err(|e| OpenError::Migration(e.to_string()))?
            .get(0);
        let schema = schema.unwrap_or_else(|| "public".into());
        drop(connection);
        Ok(PostgresStore {
            pool,
            target,
            channel: listen::channel_for(&schema),
            round_trips,
        })
    }

    fn connection(&self) -> Result<Connection, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::backend("connection pool", e))
    }

    fn one<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<T>, StoreError> {
        let row = self
            .connection()?
            .query_opt(sql, params)
            .map_err(failed(what))?;
        row.map(|row| decode(what, row.get::<_, &[u8]>(0)))
            .transpose()
    }

    fn all<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<T>, StoreError> {
        self.connection()?
            .query(sql, params)
            .map_err(failed(what))?
            .iter()
            .map(|row| decode(what, row.get::<_, &[u8]>(0)))
            .collect()
    }

    fn execute(
        &self,
        what: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        self.connection()?
            .execute(sql, params)
            .map_err(failed(what))
    }

    /// How many rows a statement returned.
    fn rows(
        &self,
        what: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<usize, StoreError> {
        Ok(self
            .connection()?
            .query(sql, params)
            .map_err(failed(what))?
            .len())
    }

    /// Creates or replaces a record of a table keyed `(tenant, <id column>)`.
    fn upsert(
        &self,
        table: &'static str,
        column: &'static str,
        tenant: &str,
        id: &str,
        record: &[u8],
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO {table} (tenant, {column}, record) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant, {column}) DO UPDATE SET record = EXCLUDED.record"
        );
        self.execute(
            table,
            &sql,
            &[&checked_id(tenant)?, &checked_id(id)?, &record],
        )
        .map(drop)
    }

    fn remove(
        &self,
        table: &'static str,
        column: &'static str,
        tenant: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let sql = format!("DELETE FROM {table} WHERE tenant = $1 AND {column} = $2");
        Ok(self.execute(table, &sql, &[&tenant, &id])? > 0)
    }
}
