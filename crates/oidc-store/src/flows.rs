//! Flow records (codes, sessions, logins, device codes) in their own tree, keyed
//! `tenant NUL kind NUL id`. A value is the version and the expiry (8 bytes each, big-endian)
//! followed by the domain's JSON body; a write is one compare-and-swap on the whole value, so
//! two redemptions of one code cannot both win.

use oidc_core::store::checked_id;
use oidc_core::{FlowKind, FlowRecord, FlowWrite, StoreError};

use crate::keys::key;
use crate::{SledStore, failed};

const HEADER: usize = 16;

fn flow_key(tenant: &str, kind: FlowKind, id: &str) -> Result<Vec<u8>, StoreError> {
    Ok(key(checked_id(tenant)?, &[kind.as_str(), checked_id(id)?]))
}

fn kind_prefix(tenant: &str, kind: FlowKind) -> Vec<u8> {
    let mut prefix = key(tenant, &[kind.as_str()]);
    prefix.push(0);
    prefix
}

fn encode(record: &FlowRecord) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER + record.body.len());
    bytes.extend_from_slice(&record.version.to_be_bytes());
    bytes.extend_from_slice(&record.expires_at.to_be_bytes());
    bytes.extend_from_slice(&record.body);
    bytes
}

fn decode(bytes: &[u8]) -> Result<FlowRecord, StoreError> {
    let corrupt = || StoreError::corrupt("flows", "a record shorter than its header");
    let (version, rest) = bytes.split_first_chunk::<8>().ok_or_else(corrupt)?;
    let (expires_at, body) = rest.split_first_chunk::<8>().ok_or_else(corrupt)?;
    Ok(FlowRecord {
        version: u64::from_be_bytes(*version),
        expires_at: u64::from_be_bytes(*expires_at),
        body: body.to_vec(),
    })
}

pub(crate) fn get(
    store: &SledStore,
    tenant: &str,
    kind: FlowKind,
    id: &str,
) -> Result<Option<FlowRecord>, StoreError> {
    store
        .flows
        .get(flow_key(tenant, kind, id)?)
        .map_err(failed("flows"))?
        .map(|bytes| decode(&bytes))
        .transpose()
}

pub(crate) fn write(
    store: &SledStore,
    tenant: &str,
    kind: FlowKind,
    id: &str,
    write: FlowWrite<'_>,
) -> Result<bool, StoreError> {
    let key = flow_key(tenant, kind, id)?;
    let old = store.flows.get(&key).map_err(failed("flows"))?;
    let stored = old.as_deref().map(decode).transpose()?;
    if !write.applies_to(stored.as_ref()) {
        return Ok(false);
    }
    let new = match write {
        FlowWrite::Create(record) | FlowWrite::Replace { record, .. } => Some(encode(record)),
        FlowWrite::Delete { .. } => None,
    };
    // The swap fails if anything was written since the read: that writer won.
    Ok(store
        .flows
        .compare_and_swap(&key, old, new)
        .map_err(failed("flows"))?
        .is_ok())
}

pub(crate) fn page(
    store: &SledStore,
    tenant: &str,
    kind: FlowKind,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, FlowRecord)>, StoreError> {
    let prefix = kind_prefix(checked_id(tenant)?, kind);
    let start = match after {
        // The smallest key after `after`'s: its key with a NUL appended.
        Some(after) => {
            let mut start = flow_key(tenant, kind, after)?;
            start.push(0);
            start
        }
        None => prefix.clone(),
    };
    let mut page = Vec::new();
    for entry in store.flows.range(start..) {
        let (key, value) = entry.map_err(failed("flows"))?;
        let Some(id) = key.strip_prefix(prefix.as_slice()) else {
            break;
        };
        let id = String::from_utf8(id.to_vec()).map_err(|e| StoreError::corrupt("flows", e))?;
        page.push((id, decode(&value)?));
        if page.len() == limit {
            break;
        }
    }
    Ok(page)
}
