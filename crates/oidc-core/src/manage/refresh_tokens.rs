//! A tenant's refresh tokens as the management API shows them: one per live family (the
//! family is what a refresh token stands for across rotations), revoked by id, or all of a
//! user's, of one client or all.

use super::ManageError;
use crate::model::UnixMillis;
use crate::refresh::RefreshFamily;
use crate::refresh::lifecycle::{Busy, revoke_family};
use crate::store::Store;

/// The revocation reason recorded when the management API revokes.
pub const REVOKED_BY_API: &str = "revoked through the management API";

impl From<Busy> for ManageError {
    fn from(_: Busy) -> Self {
        ManageError::Busy("The refresh token is busy; retry.".into())
    }
}

/// The live refresh tokens of a user, of one client or all, oldest first.
pub fn of_user(
    store: &dyn Store,
    tenant: &str,
    user_id: &str,
    client_id: Option<&str>,
    now: UnixMillis,
) -> Result<Vec<RefreshFamily>, ManageError> {
    let mut live: Vec<RefreshFamily> = store
        .refresh_families(tenant, user_id, client_id)?
        .into_iter()
        .filter(|family| family.is_live(now))
        .collect();
    live.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(live)
}

/// One live refresh token, or `NotFound` (revoked and expired ones are gone to the API, as
/// they are to a client).
pub fn get(
    store: &dyn Store,
    tenant: &str,
    id: &str,
    now: UnixMillis,
) -> Result<RefreshFamily, ManageError> {
    crate::ids::validate(id).map_err(|_| not_found(id))?;
    store
        .refresh_family(tenant, id)?
        .filter(|family| family.is_live(now))
        .ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> ManageError {
    ManageError::NotFound(format!("The refresh token {id:?} does not exist."))
}

/// Revokes one refresh token (its whole family); `NotFound` if it is not live.
pub fn revoke(
    store: &dyn Store,
    tenant: &str,
    id: &str,
    now: UnixMillis,
) -> Result<(), ManageError> {
    get(store, tenant, id, now)?;
    revoke_family::<ManageError>(store, tenant, id, REVOKED_BY_API, now)?;
    Ok(())
}

/// Revokes every live refresh token of a user (of one client, or all) with `reason`; returns
/// how many it revoked.
pub fn revoke_all(
    store: &dyn Store,
    tenant: &str,
    user_id: &str,
    client_id: Option<&str>,
    reason: &str,
    now: UnixMillis,
) -> Result<usize, ManageError> {
    let mut revoked = 0;
    for family in of_user(store, tenant, user_id, client_id, now)? {
        if revoke_family::<ManageError>(store, tenant, &family.id, reason, now)? {
            revoked += 1;
        }
    }
    Ok(revoked)
}
