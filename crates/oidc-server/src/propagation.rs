//! Changes reach every node. Each node holds its tenants in memory (records, parsed keys,
//! rule sets); a change through one node's management or operator API reloads that node at
//! once and bumps the tenant's *epoch* in the store. Every node reads the epochs (one small
//! record) and reloads the tenants whose epoch moved: at once when the store announces a
//! change (PostgreSQL's `NOTIFY`, heard on a connection of the node's own), and on a timer,
//! once a second by default, for an announcement lost with a connection, and for engines
//! that announce nothing. On one node the watcher finds its own bumps and reloads once more,
//! cheaply.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use oidc_core::{Store, StoreError};
use tokio::sync::Notify;

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

/// Watches the epochs every `every` and on every announcement, from `seen` (the epochs when
/// the tenants were loaded).
pub(crate) fn watch(state: Weak<Inner>, every: Duration, seen: Epochs) -> Periodic {
    let seen = Arc::new(Mutex::new(seen));
    let nudge = Arc::new(Notify::new());
    let listening = Arc::new(AtomicBool::new(false));
    let round_nudge = Arc::clone(&nudge);
    Periodic::start_nudged(state, every, nudge, move |state, _| {
        let seen = Arc::clone(&seen);
        let nudge = Arc::downgrade(&round_nudge);
        let listening = Arc::clone(&listening);
        async move {
            let previous = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
            let polled = tokio::task::spawn_blocking(move || {
                // Listening starts before the read, so a change between the two is not missed.
                listen(&state, nudge, &listening, every);
                reload_changed(&state, &previous)
            })
            .await;
            match polled {
                Ok(Ok(now)) => *seen.lock().unwrap_or_else(PoisonError::into_inner) = now,
                Ok(Err(error)) => tracing::error!("watching tenant changes failed: {error}"),
                Err(error) => tracing::error!("watching tenant changes failed: {error}"),
            }
        }
    })
}

/// Starts the listener thread unless it runs: it nudges the watcher at every announcement,
/// ends with the watcher (its nudge gone) or when its connection breaks, and then nudges
/// once more: that round listens again and reads what was missed (a database that stays
/// down costs one failed connection per timer round, never a loop). Blocking (it connects).
fn listen(state: &AppState, nudge: Weak<Notify>, listening: &Arc<AtomicBool>, every: Duration) {
    if listening.load(Ordering::Acquire) {
        return;
    }
    let mut listener = match state.store().listen_meta() {
        Ok(Some(listener)) => listener,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!("cannot listen for changes, reading them on the timer: {error}");
            return;
        }
    };
    listening.store(true, Ordering::Release);
    let running = Arc::clone(listening);
    let spawned = std::thread::Builder::new()
        .name("claimsmith-changes".into())
        .spawn(move || {
            loop {
                let woke = listener.wait(every);
                let Some(nudge) = nudge.upgrade() else { break };
                match woke {
                    Ok(true) => nudge.notify_one(),
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!("stopped listening for changes, reconnecting: {error}");
                        // One round now: it listens again, then reads what was missed.
                        running.store(false, Ordering::Release);
                        nudge.notify_one();
                        return;
                    }
                }
            }
            running.store(false, Ordering::Release);
        });
    if let Err(error) = spawned {
        tracing::warn!("cannot start the change listener: {error}");
        listening.store(false, Ordering::Release);
    }
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
