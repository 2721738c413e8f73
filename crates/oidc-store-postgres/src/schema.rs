//! Versioned migrations, applied at start under an advisory lock (several nodes may start
//! together). A database whose schema is newer than this build is refused: an old node must
//! not write records it does not understand.

use postgres::GenericClient;

use crate::OpenError;

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: i32 = 2;

/// Migration `n` takes the schema from version `n` to `n + 1`.
const MIGRATIONS: [&str; 2] = [include_str!("schema.sql"), include_str!("schema_2.sql")];

/// Any constant: every node takes the same advisory lock while it migrates.
const MIGRATION_LOCK: i64 = 0x636c_6169_6d73_6d31;

pub(crate) fn migrate(client: &mut impl GenericClient) -> Result<(), OpenError> {
    let failed = |e: postgres::Error| OpenError::Migration(e.to_string());
    let mut tx = client.transaction().map_err(failed)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(failed)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS claimsmith_schema (version integer NOT NULL)")
        .map_err(failed)?;
    let found: i32 = tx
        .query_opt("SELECT version FROM claimsmith_schema", &[])
        .map_err(failed)?
        .map_or(0, |row| row.get(0));
    if found > SCHEMA_VERSION {
        return Err(OpenError::Newer { found });
    }
    for (from, migration) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.batch_execute(migration)
            .map_err(|e| OpenError::Migration(format!("to version {}: {e}", from + 1)))?;
    }
    if found == 0 {
        tx.execute(
            "INSERT INTO claimsmith_schema (version) VALUES ($1)",
            &[&SCHEMA_VERSION],
        )
        .map_err(failed)?;
    } else {
        tx.execute(
            "UPDATE claimsmith_schema SET version = $1",
            &[&SCHEMA_VERSION],
        )
        .map_err(failed)?;
    }
    tx.commit().map_err(failed)
}
