//! Pooled connections that prepare each statement once and count their round trips.
//!
//! A statement sent as text is parsed and planned by the server and costs two round trips
//! (prepare, then execute); a connection here prepares each distinct statement on first use
//! and sends only its execution after that: one round trip, no parsing. Every round trip is
//! counted, so the metrics can say how many an exchange costs.
//!
//! Connections are not pinged when taken from the pool (that would be one more round trip per
//! store call): a connection the server closed fails the one call that meets it and is then
//! dropped by the pool, which reconnects.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use postgres::types::ToSql;
use postgres::{Client, Row, Statement};

use crate::tls::Target;

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// Opens the pool's connections.
#[derive(Debug)]
pub(crate) struct Manager {
    pub(crate) target: Target,
    pub(crate) round_trips: Arc<AtomicU64>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Session;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Session, postgres::Error> {
        let client = self.target.config.connect(self.target.tls.clone())?;
        Ok(Session {
            client,
            statements: HashMap::new(),
            round_trips: Arc::clone(&self.round_trips),
        })
    }

    fn is_valid(&self, session: &mut Session) -> Result<(), postgres::Error> {
        session.client.simple_query("").map(drop)
    }

    fn has_broken(&self, session: &mut Session) -> bool {
        session.client.is_closed()
    }
}

/// One connection with its prepared statements.
pub(crate) struct Session {
    client: Client,
    statements: HashMap<String, Statement>,
    round_trips: Arc<AtomicU64>,
}

/// The statement for `sql`, prepared on this connection at its first use.
fn prepared(
    statements: &mut HashMap<String, Statement>,
    round_trips: &AtomicU64,
    sql: &str,
    prepare: impl FnOnce(&str) -> Result<Statement, postgres::Error>,
) -> Result<Statement, postgres::Error> {
    if let Some(statement) = statements.get(sql) {
        return Ok(statement.clone());
    }
    round_trips.fetch_add(1, Ordering::Relaxed);
    let statement = prepare(sql)?;
    statements.insert(sql.to_owned(), statement.clone());
    Ok(statement)
}

impl Session {
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        let client = &mut self.client;
        prepared(&mut self.statements, &self.round_trips, sql, |sql| {
            client.prepare(sql)
        })
    }

    fn trip(&self) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn query(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = self.statement(sql)?;
        self.trip();
        self.client.query(&statement, params)
    }

    pub(crate) fn query_opt(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, postgres::Error> {
        let statement = self.statement(sql)?;
        self.trip();
        self.client.query_opt(&statement, params)
    }

    pub(crate) fn query_one(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Row, postgres::Error> {
        let statement = self.statement(sql)?;
        self.trip();
        self.client.query_one(&statement, params)
    }

    pub(crate) fn execute(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<u64, postgres::Error> {
        let statement = self.statement(sql)?;
        self.trip();
        self.client.execute(&statement, params)
    }

    /// Starts a transaction (`BEGIN`: one round trip).
    pub(crate) fn transaction(&mut self) -> Result<Tx<'_>, postgres::Error> {
        self.trip();
        let tx = self.client.transaction()?;
        Ok(Tx {
            tx,
            statements: &mut self.statements,
            round_trips: &self.round_trips,
        })
    }

    /// The bare client, for what runs once (migrations, schema checks): not counted.
    pub(crate) fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// A transaction on a [`Session`], with its prepared statements. Dropped without
/// [`commit`](Tx::commit), it rolls back.
pub(crate) struct Tx<'a> {
    tx: postgres::Transaction<'a>,
    statements: &'a mut HashMap<String, Statement>,
    round_trips: &'a AtomicU64,
}

impl Tx<'_> {
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        let tx = &mut self.tx;
        prepared(self.statements, self.round_trips, sql, |sql| {
            tx.prepare(sql)
        })
    }

    fn trip(&self) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn query_opt(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, postgres::Error> {
        let statement = self.statement(sql)?;
        self.trip();
        self.tx.query_opt(&statement, params)
    }

    pub(crate) fn execute(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<u64, postgres::Error> {
        let statement = self.statement(sql)?;
        self.trip();
        self.tx.execute(&statement, params)
    }

    /// `COMMIT`: one round trip.
    pub(crate) fn commit(self) -> Result<(), postgres::Error> {
        self.trip();
        self.tx.commit()
    }
}
