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
mod port;
mod schema;
#[cfg(test)]
mod tests;

use std::time::Duration;

use oidc_core::audit::LogEvent;
use oidc_core::refresh::RefreshFamily;
use oidc_core::store::{checked_id, checked_rule_set};
use oidc_core::{
    Api, Change, Client, FlowKind, FlowRecord, FlowWrite, RuleSet, Store, StoreError, StoredKey,
    Tenant, User,
};
use postgres::NoTls;
use postgres::types::ToSql;
use r2d2_postgres::PostgresConnectionManager;

pub use schema::SCHEMA_VERSION;

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;
type Connection = r2d2::PooledConnection<PostgresConnectionManager<NoTls>>;

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
        let config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| OpenError::Url(e.to_string()))?;
        PostgresStore::with_config(config, settings)
    }

    /// As [`open`](Self::open), with every table in `schema` (created if absent): one
    /// database can hold several deployments, and tests one schema each.
    pub fn open_in_schema(
        url: &str,
        schema: &str,
        settings: PoolSettings,
    ) -> Result<PostgresStore, OpenError> {
        checked_schema(schema)?;
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| OpenError::Url(e.to_string()))?;
        {
            let mut client = config
                .clone()
                .connect_timeout(settings.connect_timeout)
                .connect(NoTls)
                .map_err(|e| OpenError::Connect(e.to_string()))?;
            client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .map_err(|e| OpenError::Migration(e.to_string()))?;
        }
        config.options(&format!("-c search_path={schema}"));
        PostgresStore::with_config(config, settings)
    }

    /// Drops `schema` and everything in it: the end of a deployment made with
    /// [`open_in_schema`](Self::open_in_schema) (tests make one each).
    pub fn drop_schema(url: &str, schema: &str) -> Result<(), OpenError> {
        checked_schema(schema)?;
        let mut client =
            postgres::Client::connect(url, NoTls).map_err(|e| OpenError::Connect(e.to_string()))?;
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .map_err(|e| OpenError::Migration(e.to_string()))
    }

    fn with_config(
        mut config: postgres::Config,
        settings: PoolSettings,
    ) -> Result<PostgresStore, OpenError> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(settings.connect_timeout);
        }
        let manager = PostgresConnectionManager::new(config, NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(settings.max_connections)
            .min_idle(Some(1))
            .connection_timeout(settings.connect_timeout)
            .build(manager)
            .map_err(|e| OpenError::Connect(e.to_string()))?;
        let store = PostgresStore { pool };
        let mut connection = store
            .pool
            .get()
            .map_err(|e| OpenError::Connect(e.to_string()))?;
        schema::migrate(&mut *connection)?;
        Ok(store)
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
