//! What an issuance writes, as one sled transaction: the family (created, or replaced after a
//! version check), its index entry, the `/userinfo` claims, and the user's metadata. The
//! `issuance` tree holds the first three, so the common case is a single-tree transaction;
//! the `users` tree joins only when rules changed metadata.

use std::ops::Bound;

use oidc_core::refresh::RefreshFamily;
use oidc_core::store::checked_id;
use oidc_core::{Change, FamilyWrite, StoreError, StoredFamilyState, User};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use crate::keys::{
    FAMILY, family_key, key, user_family_key, user_family_prefix, user_prefix, userinfo_key,
};
use crate::records::{decode, encode};
use crate::{SledStore, abort, failed};

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// A change with its keys built and its records encoded, before the transaction starts (a
/// transaction may run several times).
struct Prepared<'a> {
    family: Option<PreparedFamily<'a>>,
    userinfo: Option<(Vec<u8>, Vec<u8>)>,
    metadata: Option<(Vec<u8>, &'a oidc_core::MetadataUpdate)>,
}

/// A family write with its key, record and index key.
struct PreparedFamily<'a> {
    key: Vec<u8>,
    record: Vec<u8>,
    index_key: Vec<u8>,
    write: &'a FamilyWrite<'a>,
}

fn prepare<'a>(tenant: &str, change: &'a Change<'a>) -> Result<Prepared<'a>, StoreError> {
    checked_id(tenant)?;
    let family = match &change.family {
        Some(write) => {
            let family = write.family();
            checked_id(&family.id)?;
            let index = user_family_key(
                tenant,
                checked_id(&family.user_id)?,
                checked_id(&family.client_id)?,
                &family.id,
            );
            Some(PreparedFamily {
                key: family_key(tenant, &family.id),
                record: encode(family)?,
                index_key: index,
                write,
            })
        }
        None => None,
    };
    let userinfo = match change.userinfo {
        Some(write) => Some((
            userinfo_key(
                tenant,
                checked_id(write.user_id)?,
                checked_id(write.client_id)?,
            ),
            encode(write.claims)?,
        )),
        None => None,
    };
    let metadata = match change.metadata {
        Some((user_id, update)) => Some((key(tenant, &[checked_id(user_id)?]), update)),
        None => None,
    };
    Ok(Prepared {
        family,
        userinfo,
        metadata,
    })
}

/// The transaction body: `Ok(false)` when the family write is refused (nothing written).
fn write(
    issuance: &TransactionalTree,
    users: Option<&TransactionalTree>,
    prepared: &Prepared<'_>,
) -> TxResult<bool> {
    if let Some(PreparedFamily {
        key: family_key,
        record,
        index_key,
        write,
    }) = &prepared.family
    {
        let stored = issuance
            .get(family_key)?
            .map(|bytes| decode::<RefreshFamily>("families", &bytes))
            .transpose()
            .map_err(abort)?;
        if !write.applies_to(stored.as_ref()) {
            return Ok(false);
        }
        issuance.insert(family_key.as_slice(), record.as_slice())?;
        if matches!(write, FamilyWrite::Create(_)) {
            issuance.insert(index_key.as_slice(), &[][..])?;
        }
    }
    if let Some((userinfo_key, claims)) = &prepared.userinfo
        // Usually unchanged since the last issuance: skip the write and what it costs.
        && issuance.get(userinfo_key)?.as_deref() != Some(claims.as_slice())
    {
        issuance.insert(userinfo_key.as_slice(), claims.as_slice())?;
    }
    if let (Some((user_key, update)), Some(users)) = (&prepared.metadata, users)
        && let Some(bytes) = users.get(user_key)?
    {
        let mut user: User = decode("users", &bytes).map_err(abort)?;
        update.apply(&mut user);
        users.insert(user_key.as_slice(), encode(&user).map_err(abort)?)?;
    }
    Ok(true)
}

fn tx_error(error: TransactionError<StoreError>) -> StoreError {
    match error {
        TransactionError::Abort(error) => error,
        TransactionError::Storage(error) => StoreError::backend("issuance", error),
    }
}

pub(crate) fn apply(
    store: &SledStore,
    tenant: &str,
    change: &Change<'_>,
) -> Result<bool, StoreError> {
    let prepared = prepare(tenant, change)?;
    if let Some(applied) = replace_alone(store, &prepared)? {
        return Ok(applied);
    }
    if prepared.metadata.is_some() {
        (&store.issuance, &store.users)
            .transaction(|(issuance, users)| write(issuance, Some(users), &prepared))
            .map_err(tx_error)
    } else {
        store
            .issuance
            .transaction(|issuance| write(issuance, None, &prepared))
            .map_err(tx_error)
    }
}

/// The common case of a refresh exchange, without a transaction: a family replaced, no
/// metadata, and `/userinfo` claims as stored already. The one write is then a single-key
/// compare-and-swap, atomic by itself and several times cheaper (a sled transaction takes a
/// lock that stops every other reader and writer of the database). sled orders it against
/// transactions: they validate their reads under that lock. `None`: not this case.
fn replace_alone(store: &SledStore, prepared: &Prepared<'_>) -> Result<Option<bool>, StoreError> {
    let Some(family) = &prepared.family else {
        return Ok(None);
    };
    if prepared.metadata.is_some() || matches!(family.write, FamilyWrite::Create(_)) {
        return Ok(None);
    }
    if let Some((userinfo_key, claims)) = &prepared.userinfo {
        let stored = store
            .issuance
            .get(userinfo_key)
            .map_err(failed("userinfo"))?;
        if stored.as_deref() != Some(claims.as_slice()) {
            return Ok(None);
        }
    }
    let Some(current) = store
        .issuance
        .get(&family.key)
        .map_err(failed("families"))?
    else {
        return Ok(Some(false));
    };
    let stored: FamilyGuard = decode("families", &current)?;
    if !family.write.applies_to_state(Some(stored.state())) {
        return Ok(Some(false));
    }
    let swapped = store
        .issuance
        .compare_and_swap(&family.key, Some(current), Some(family.record.as_slice()))
        .map_err(failed("families"))?;
    Ok(Some(swapped.is_ok()))
}

/// The two fields of a stored family that decide whether a replacement applies. Decoding only
/// these skips building every string and map of a record the exchange has just read whole.
#[derive(serde::Deserialize)]
struct FamilyGuard {
    version: u64,
    #[serde(default)]
    revoked: Option<serde::de::IgnoredAny>,
}

impl FamilyGuard {
    fn state(&self) -> StoredFamilyState {
        StoredFamilyState {
            version: self.version,
            revoked: self.revoked.is_some(),
        }
    }
}

pub(crate) fn families_of(
    store: &SledStore,
    tenant: &str,
    user_id: &str,
    client_id: Option<&str>,
) -> Result<Vec<RefreshFamily>, StoreError> {
    let prefix = match client_id {
        Some(client_id) => user_family_prefix(tenant, user_id, client_id),
        None => user_prefix(tenant, user_id),
    };
    let mut families = Vec::new();
    for entry in store.issuance.scan_prefix(&prefix).keys() {
        let index_key = entry.map_err(failed("families"))?;
        // The family id is the last part of the key (`… client NUL family`).
        let rest = index_key.get(prefix.len()..).unwrap_or_default();
        let id_start = rest.iter().rposition(|b| *b == 0).map_or(0, |at| at + 1);
        let family_id = String::from_utf8_lossy(rest.get(id_start..).unwrap_or_default());
        if let Some(family) = store.refresh_family_record(tenant, &family_id)? {
            families.push(family);
        }
    }
    Ok(families)
}

pub(crate) fn page(
    store: &SledStore,
    tenant: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<RefreshFamily>, StoreError> {
    let mut prefix = key(tenant, &[FAMILY]);
    prefix.push(0);
    let start = match after {
        Some(after) => Bound::Excluded(family_key(tenant, after)),
        None => Bound::Included(prefix.clone()),
    };
    store
        .issuance
        .range((start, Bound::Unbounded))
        .take_while(|entry| entry.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
        .take(limit)
        .map(|entry| decode("families", &entry.map_err(failed("families"))?.1))
        .collect()
}

pub(crate) fn delete(
    store: &SledStore,
    tenant: &str,
    family_id: &str,
    expected_version: u64,
) -> Result<bool, StoreError> {
    let family_key = family_key(tenant, family_id);
    store
        .issuance
        .transaction(|issuance| {
            let Some(bytes) = issuance.get(&family_key)? else {
                return Ok(false);
            };
            let family: RefreshFamily = decode("families", &bytes).map_err(abort)?;
            if family.version != expected_version {
                return Ok(false);
            }
            issuance.remove(family_key.as_slice())?;
            issuance.remove(user_family_key(
                tenant,
                &family.user_id,
                &family.client_id,
                &family.id,
            ))?;
            Ok(true)
        })
        .map_err(tx_error)
}

impl SledStore {
    fn refresh_family_record(
        &self,
        tenant: &str,
        family_id: &str,
    ) -> Result<Option<RefreshFamily>, StoreError> {
        self.issuance
            .get(family_key(tenant, family_id))
            .map_err(failed("families"))?
            .map(|bytes| decode("families", &bytes))
            .transpose()
    }
}
