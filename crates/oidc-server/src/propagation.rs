//! Changes reach every node. Each node holds its tenants in memory (records, parsed keys,
//! rule sets); a change through one node's management or operator API reloads that node at
//! once and bumps the tenant's *epoch* in the store. Every node reads the epochs (one small
//! record) on a timer, once a second by default, and reloads the tenants whose epoch moved:
//! nodes on one database converge within the period, whatever the engine. On one node the
//! timer finds its own bumps, and reloads once more, cheaply.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use oidc_core::{Store, StoreError};

use crate::periodic::Periodic;
use crate::state::{AppState, Inner};

/// The record of every tenant's epoch (`{tenant: n}`, JSON), in the store's `meta`.
const EPOCHS: &str = "tenant_epochs";

type Epochs = BTreeMap<String, u64>;

/// The epochs as stored; none yet is an empty map.
pub(crate) fn read(store: &dyn Store) -> Result<Epochs, StoreError> {
    match store.meta(EPOCHS)? {
        Some(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| StoreError::corrupt("tenant epochs", e))
        }
        None => Ok(Epochs::new()),
    }
}

/// Bumps `tenant`'s epoch (compare-and-swap, retried against other nodes' bumps). Blocking.
pub(crate) fn bump(store: &dyn Store, tenant: &str) -> Result<(), StoreError> {
    loop {
        let current = store.meta(EPOCHS)?;
        let mut epochs: Epochs = match &current {
            Some(bytes) => serde_json::from_slice(bytes)
                .map_err(|e| StoreError::corrupt("tenant epochs", e))?,
            None => Epochs::new(),
        };
        *epochs.entry(tenant.to_owned()).or_default() += 1;
        let next =
            serde_json::to_vec(&epochs).map_err(|e| StoreError::corrupt("tenant epochs", e))?;
        if store.meta_swap(EPOCHS, current.as_deref(), &next)? {
            return Ok(());
        }
    }
}

/// Watches the epochs every `every`, from `seen` (the epochs when the tenants were loaded).
pub(crate) fn watch(state: Weak<Inner>, every: Duration, seen: Epochs) -> Periodic {
    let seen = Arc::new(Mutex::new(seen));
    Periodic::start(state, every, move |state, _| {
        let seen = Arc::clone(&seen);
        async move {
            let previous = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
            let polled =
                tokio::task::spawn_blocking(move || reload_changed(&state, &previous)).await;
            match polled {
                Ok(Ok(now)) => *seen.lock().unwrap_or_else(PoisonError::into_inner) = now,
                Ok(Err(error)) => tracing::error!("watching tenant changes failed: {error}"),
                Err(error) => tracing::error!("watching tenant changes failed: {error}"),
            }
        }
    })
}

/// Reloads the tenants whose epoch differs from `seen`; returns the epochs now. Blocking.
fn reload_changed(state: &AppState, seen: &Epochs) -> Result<Epochs, crate::state::StateError> {
    let now = read(state.store().as_ref())?;
    for (tenant, epoch) in &now {
        if seen.get(tenant) != Some(epoch) {
            state.reload_tenant(tenant)?;
            tracing::info!(tenant, epoch, "reloaded a tenant changed elsewhere");
        }
    }
    Ok(now)
}
