//! A tenant's signing keys: listed, rotated (a new key signs from now on; the previous ones
//! stay in the JWKS, so tokens they signed stay verifiable), revoked (removed from the JWKS;
//! never the key that signs now).

use super::ManageError;
use super::tenants::ensure_signing_key;
use crate::keys::{self, StoredKey};
use crate::model::{Tenant, UnixMillis};
use crate::secret::{self, Entropy};
use crate::store::Store;
use crate::vault::OperatorKey;

/// A key as listed: which one signs now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: crate::SigningAlg,
    pub created_at: UnixMillis,
    pub current: bool,
}

/// Every key of the tenant, newest first; the newest of the tenant's algorithm signs.
pub fn list(store: &dyn Store, tenant: &Tenant) -> Result<Vec<KeyInfo>, ManageError> {
    let mut stored = store.keys(&tenant.id)?;
    stored.sort_by(|a, b| (b.created_at, &b.kid).cmp(&(a.created_at, &a.kid)));
    let current = current_kid(&stored, tenant);
    Ok(stored
        .into_iter()
        .map(|key| KeyInfo {
            current: Some(&key.kid) == current.as_ref(),
            kid: key.kid,
            alg: key.alg,
            created_at: key.created_at,
        })
        .collect())
}

fn current_kid(stored: &[StoredKey], tenant: &Tenant) -> Option<String> {
    stored
        .iter()
        .filter(|key| key.alg == tenant.signing_alg)
        .max_by_key(|key| key.created_at)
        .map(|key| key.kid.clone())
}

/// Generates the next key of the tenant's algorithm: it signs from now on.
pub fn rotate(
    store: &dyn Store,
    operator: &OperatorKey,
    tenant: &Tenant,
    now: UnixMillis,
    entropy: &mut dyn Entropy,
) -> Result<KeyInfo, ManageError> {
    ensure_signing_key(
        store,
        operator,
        &tenant.id,
        tenant.signing_alg,
        now,
        entropy,
    )?;
    // The new key must be the newest: it signs.
    let newest = store
        .keys(&tenant.id)?
        .iter()
        .map(|key| key.created_at)
        .max()
        .unwrap_or(0);
    let created_at = now.max(newest.saturating_add(1));
    let kid = secret::new_id("key", entropy);
    let material = keys::generate(tenant.signing_alg, kid, created_at)
        .map_err(|e| ManageError::Internal(e.to_string()))?;
    store.put_key(
        &tenant.id,
        &StoredKey::wrap(&material, &tenant.id, operator, entropy),
    )?;
    Ok(KeyInfo {
        kid: material.kid,
        alg: material.alg,
        created_at,
        current: true,
    })
}

/// Revokes a previous key: tokens it signed no longer verify. The signing key cannot be
/// revoked (rotate first).
pub fn revoke(store: &dyn Store, tenant: &Tenant, kid: &str) -> Result<(), ManageError> {
    let stored = store.keys(&tenant.id)?;
    if !stored.iter().any(|key| key.kid == kid) {
        return Err(ManageError::NotFound(format!(
            "The signing key {kid:?} does not exist."
        )));
    }
    if current_kid(&stored, tenant).as_deref() == Some(kid) {
        return Err(ManageError::invalid(
            "The key that signs now cannot be revoked: rotate first.",
        ));
    }
    store.delete_key(&tenant.id, kid)?;
    Ok(())
}
