//! Group commit: a response that carries a token waits until the token is on disk, and
//! concurrent requests share one fsync instead of paying one each.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use oidc_core::{Store, StoreError};
use tokio::sync::{Notify, watch};

#[derive(Debug)]
struct Shared {
    /// The store commits every write before it returns: there is nothing to wait for.
    durable_on_write: bool,
    requested: AtomicU64,
    kick: Notify,
    flushed: watch::Sender<u64>,
    /// The last flush failed: until one succeeds, nothing can be promised durable.
    failed: AtomicBool,
}

/// Owns the flusher task; dropping it stops the task and releases the store.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GroupCommit {
    /// Starts the flusher task for `store`.
    pub(crate) fn start(store: Arc<dyn Store>) -> GroupCommit {
        let shared = Arc::new(Shared {
            durable_on_write: store.durable_on_write(),
            requested: AtomicU64::new(0),
            kick: Notify::new(),
            flushed: watch::channel(0).0,
            failed: AtomicBool::new(false),
        });
        let flusher = Arc::clone(&shared);
        let (stop, mut stopping) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = flusher.kick.notified() => {}
                    _ = stopping.changed() => return,
                }
                // Every write whose ticket is at most `target` happened before this point, so
                // one flush now covers them all.
                let target = flusher.requested.load(Ordering::SeqCst);
                let store = Arc::clone(&store);
                let flushed = tokio::task::spawn_blocking(move || store.flush()).await;
                let ok = matches!(flushed, Ok(Ok(())));
                if !ok {
                    tracing::error!("flushing the store failed: {flushed:?}");
                }
                flusher.failed.store(!ok, Ordering::SeqCst);
                flusher
                    .flushed
                    .send_modify(|done| *done = (*done).max(target));
            }
        });
        GroupCommit { shared, task, stop }
    }

    /// Stops the flusher task and waits until it has let go of the store: a flush in
    /// progress finishes first (aborting the task would leave its blocking flush running,
    /// still holding the store, after this returns).
    pub(crate) async fn stop(&mut self) {
        let _ = self.stop.send(true);
        let _ = (&mut self.task).await;
    }

    /// Returns once every write made before the call is durable.
    pub(crate) async fn commit(&self) -> Result<(), StoreError> {
        let shared = &self.shared;
        if shared.durable_on_write {
            return Ok(());
        }
        let ticket = shared.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut flushed = shared.flushed.subscribe();
        shared.kick.notify_one();
        if flushed.wait_for(|done| *done >= ticket).await.is_err() {
            return Err(StoreError::backend("group commit", Stopped));
        }
        if shared.failed.load(Ordering::SeqCst) {
            return Err(StoreError::backend("group commit", FlushFailed));
        }
        Ok(())
    }
}

/// The flusher task is gone (the server is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the flusher has stopped")]
struct Stopped;

/// The flush covering this write failed (its cause is logged by the flusher).
#[derive(Debug, thiserror::Error)]
#[error("the flush failed")]
struct FlushFailed;
