//! Typed access to flow records: the domain's structs as JSON bodies of the store's
//! [`FlowRecord`]s.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::UnixMillis;
use crate::secret::Secret;
use crate::store::{FlowKind, FlowRecord, FlowWrite, Store, StoreError};

/// A flow record read from the store, with the version a replacement must name.
#[derive(Debug, Clone)]
pub(crate) struct Stored<T> {
    pub(crate) version: u64,
    pub(crate) body: T,
}

/// The key of a record that stands for `secret`: its SHA-256, hex.
pub(crate) fn digest(secret: &Secret) -> String {
    secret.hash().to_hex()
}

/// Reads a record of `kind`, or `None` if there is none or it expired (the sweep may not have
/// deleted it yet).
pub(crate) fn read<T: DeserializeOwned>(
    store: &dyn Store,
    tenant: &str,
    kind: FlowKind,
    id: &str,
    now: UnixMillis,
) -> Result<Option<Stored<T>>, StoreError> {
    if crate::ids::validate(id).is_err() {
        return Ok(None);
    }
    let Some(record) = store.flow(tenant, kind, id)? else {
        return Ok(None);
    };
    if record.expires_at <= now {
        return Ok(None);
    }
    let body =
        serde_json::from_slice(&record.body).map_err(|e| StoreError::corrupt(kind.as_str(), e))?;
    Ok(Some(Stored {
        version: record.version,
        body,
    }))
}

fn record<T: Serialize>(
    kind: FlowKind,
    version: u64,
    expires_at: UnixMillis,
    body: &T,
) -> Result<FlowRecord, StoreError> {
    Ok(FlowRecord {
        version,
        expires_at,
        body: serde_json::to_vec(body).map_err(|e| StoreError::corrupt(kind.as_str(), e))?,
    })
}

/// Creates a record; `Ok(false)` if the id is taken.
pub(crate) fn create<T: Serialize>(
    store: &dyn Store,
    tenant: &str,
    kind: FlowKind,
    id: &str,
    expires_at: UnixMillis,
    body: &T,
) -> Result<bool, StoreError> {
    let record = record(kind, 1, expires_at, body)?;
    store.write_flow(tenant, kind, id, FlowWrite::Create(&record))
}

/// Replaces a record read at `version`; `Ok(false)` if it changed since.
pub(crate) fn replace<T: Serialize>(
    store: &dyn Store,
    tenant: &str,
    kind: FlowKind,
    id: &str,
    (version, expires_at): (u64, UnixMillis),
    body: &T,
) -> Result<bool, StoreError> {
    let record = record(kind, version + 1, expires_at, body)?;
    store.write_flow(
        tenant,
        kind,
        id,
        FlowWrite::Replace {
            expected_version: version,
            record: &record,
        },
    )
}

/// Deletes a record read at `version`: the one way to consume a single-use record.
/// `Ok(false)` if it changed or went since (someone else consumed it).
pub(crate) fn consume(
    store: &dyn Store,
    tenant: &str,
    kind: FlowKind,
    id: &str,
    version: u64,
) -> Result<bool, StoreError> {
    store.write_flow(
        tenant,
        kind,
        id,
        FlowWrite::Delete {
            expected_version: version,
        },
    )
}

/// A page of the sweep of one kind of flow record: up to `limit` records after `after` are
/// read and the expired ones deleted (by version, so a record written meanwhile stays).
/// Returns how many were deleted and where the next page starts (`None`: done).
pub fn sweep(
    store: &dyn Store,
    tenant: &str,
    kind: FlowKind,
    after: Option<&str>,
    limit: usize,
    now: UnixMillis,
) -> Result<(usize, Option<String>), StoreError> {
    let page = store.flow_page(tenant, kind, after, limit)?;
    let mut deleted = 0;
    for (id, record) in &page {
        if record.expires_at <= now && consume(store, tenant, kind, id, record.version)? {
            deleted += 1;
        }
    }
    let next = (page.len() == limit)
        .then(|| page.last().map(|(id, _)| id.clone()))
        .flatten();
    Ok((deleted, next))
}
