//! What happens to families besides an exchange: revocation, the per-user cap, and the sweep
//! that deletes dead families and drops sealed successors whose window has closed. Every
//! write is a compare-and-swap, retried on conflict by one helper.

use crate::error::OAuthError;
use crate::model::UnixMillis;
use crate::refresh::RefreshFamily;
use crate::store::{Change, FamilyWrite, Store, StoreError};

/// Compare-and-swap attempts before giving up. Each retry reads a newer family, and every
/// decision moves one way (towards replay, reuse or revocation), so two or three suffice.
pub const MAX_ATTEMPTS: usize = 8;

/// The reason recorded when the cap evicts a family.
pub const EVICTED: &str = "more than the allowed live refresh tokens per user and client";

/// One try of a compare-and-swap step.
#[derive(Debug)]
pub enum Attempt<T> {
    Done(T),
    /// Someone wrote first: read again and retry.
    Conflict,
}

/// Runs `attempt` until it is done, at most [`MAX_ATTEMPTS`] times; then the record is too busy
/// and the client should retry (503).
pub fn with_retries<T, E: From<Busy>>(
    mut attempt: impl FnMut() -> Result<Attempt<T>, E>,
) -> Result<T, E> {
    for _ in 0..MAX_ATTEMPTS {
        if let Attempt::Done(value) = attempt()? {
            return Ok(value);
        }
    }
    Err(E::from(Busy))
}

/// A record stayed contended through every attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl From<Busy> for OAuthError {
    fn from(_: Busy) -> Self {
        OAuthError::unavailable("The refresh token is busy; retry.", 1)
    }
}

impl From<Busy> for StoreError {
    fn from(_: Busy) -> Self {
        StoreError::Conflict("a refresh-token family stayed contended".into())
    }
}

/// Revokes a family; a family already revoked or gone stays so. Returns whether this call
/// revoked it.
pub fn revoke_family<E: From<StoreError> + From<Busy>>(
    store: &dyn Store,
    tenant: &str,
    family_id: &str,
    reason: &str,
    now: UnixMillis,
) -> Result<bool, E> {
    with_retries(|| {
        let Some(current) = store.refresh_family(tenant, family_id)? else {
            return Ok(Attempt::Done(false));
        };
        if current.revoked.is_some() {
            return Ok(Attempt::Done(false));
        }
        let revoked = current.revoke(reason, now);
        let write = FamilyWrite::Replace {
            expected_version: current.version,
            family: &revoked,
        };
        Ok(if store.apply(tenant, &Change::family(write))? {
            Attempt::Done(true)
        } else {
            Attempt::Conflict
        })
    })
}

/// Keeps at most `max_live` live families for a user and client by revoking the oldest, as
/// Auth0 does. Lost races are retried per family, so the cap holds under concurrent logins
/// (a brief excess while two logins race is harmless). Returns how many it revoked.
pub fn enforce_cap<E: From<StoreError> + From<Busy>>(
    store: &dyn Store,
    tenant: &str,
    user_id: &str,
    client_id: &str,
    max_live: usize,
    now: UnixMillis,
) -> Result<usize, E> {
    let mut live: Vec<RefreshFamily> = store
        .refresh_families(tenant, user_id, Some(client_id))?
        .into_iter()
        .filter(|family| family.is_live(now))
        .collect();
    let excess = live.len().saturating_sub(max_live);
    if excess == 0 {
        return Ok(0);
    }
    live.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let mut revoked = 0;
    for family in live.iter().take(excess) {
        if revoke_family::<E>(store, tenant, &family.id, EVICTED, now)? {
            revoked += 1;
        }
    }
    Ok(revoked)
}

/// What one sweep step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    pub scanned: usize,
    /// Revoked or expired families deleted, with their index entries.
    pub deleted: usize,
    /// Live families whose sealed successor was dropped because its window had closed.
    pub unsealed: usize,
    /// Where the next step starts; `None` when the tenant's families are done.
    pub next: Option<String>,
    /// Log events past the tenant's retention, deleted.
    pub logs_trimmed: usize,
    /// Expired flow records (codes, sessions, logins, device codes), deleted.
    pub flows_deleted: usize,
}

/// Sweeps up to `limit` families of a tenant after `after`: a dead family (revoked or
/// expired) is deleted, since a token of it gets the same answer whether it exists or not; a
/// sealed successor outside its window is dropped. Bounded work per call, so the server can
/// run it in the background without starving requests; a lost race is left for the next pass.
pub fn sweep(
    store: &dyn Store,
    tenant: &str,
    after: Option<&str>,
    limit: usize,
    now: UnixMillis,
) -> Result<Swept, StoreError> {
    let page = store.refresh_page(tenant, after, limit)?;
    let mut swept = Swept {
        scanned: page.len(),
        next: (page.len() == limit)
            .then(|| page.last().map(|family| family.id.clone()))
            .flatten(),
        ..Swept::default()
    };
    for family in &page {
        if !family.is_live(now) {
            if store.refresh_delete(tenant, &family.id, family.version)? {
                swept.deleted += 1;
            }
        } else if family.sealed_successor.is_some() && !family.in_window(now) {
            let write = FamilyWrite::Replace {
                expected_version: family.version,
                family: &family.unsealed(),
            };
            if store.apply(tenant, &Change::family(write))? {
                swept.unsealed += 1;
            }
        }
    }
    Ok(swept)
}
