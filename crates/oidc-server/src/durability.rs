//! Group commit: a response that carries a token waits until the token is on disk, and
//! concurrent requests share one fsync instead of paying one each.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use oidc_core::{Store, StoreError};
use tokio::sync::watch;

#[derive(Debug)]
struct Shared {
    /// The store commits every write before it returns: there is nothing to wait for.
    durable_on_write: bool,
    requested: AtomicU64,
    /// What the flusher thread is asked to do, under the lock its condition variable needs.
    asked: Mutex<Asked>,
    kick: Condvar,
    flushed: watch::Sender<u64>,
    /// The last flush failed: until one succeeds, nothing can be promised durable.
    failed: AtomicBool,
}

#[derive(Debug, Default)]
struct Asked {
    flush: bool,
    stop: bool,
}

impl Shared {
    fn ask(&self, change: impl FnOnce(&mut Asked)) {
        change(&mut self.asked.lock().unwrap_or_else(PoisonError::into_inner));
        self.kick.notify_one();
    }
}

/// Owns the flusher thread; dropping it stops the thread (which lets go of the store).
///
/// The flusher is a thread of its own, not a task that hands each flush to the blocking
/// pool: a commit wakes one thread, which flushes at once, instead of waking a task that
/// wakes a blocking thread that wakes the task again.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shared.ask(|asked| asked.stop = true);
    }
}

impl GroupCommit {
    /// Starts the flusher thread for `store`.
    pub(crate) fn start(store: Arc<dyn Store>) -> GroupCommit {
        let shared = Arc::new(Shared {
            durable_on_write: store.durable_on_write(),
            requested: AtomicU64::new(0),
            asked: Mutex::new(Asked::default()),
            kick: Condvar::new(),
            flushed: watch::channel(0).0,
            failed: AtomicBool::new(false),
        });
        let flusher = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || flush_when_asked(&flusher, store.as_ref()))
            .map_err(|error| tracing::error!("cannot start the group-commit thread: {error}"))
            .ok();
        GroupCommit { shared, thread }
    }

    /// Stops the flusher thread and waits until it has let go of the store: a flush in
    /// progress finishes first.
    pub(crate) async fn stop(&mut self) {
        self.shared.ask(|asked| asked.stop = true);
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    /// Returns once every write made before the call is durable.
    pub(crate) async fn commit(&self) -> Result<(), StoreError> {
        let shared = &self.shared;
        if shared.durable_on_write {
            return Ok(());
        }
        let ticket = shared.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut flushed = shared.flushed.subscribe();
        shared.ask(|asked| asked.flush = true);
        if flushed.wait_for(|done| *done >= ticket).await.is_err() {
            return Err(StoreError::backend("group commit", Stopped));
        }
        if shared.failed.load(Ordering::SeqCst) {
            return Err(StoreError::backend("group commit", FlushFailed));
        }
        Ok(())
    }
}

/// The flusher thread: one flush covers every commit asked for before it starts; commits
/// asked for during a flush get the next one.
fn flush_when_asked(shared: &Shared, store: &dyn Store) {
    loop {
        {
            let asked = shared.asked.lock().unwrap_or_else(PoisonError::into_inner);
            let mut asked = shared
                .kick
                .wait_while(asked, |asked| !asked.flush && !asked.stop)
                .unwrap_or_else(PoisonError::into_inner);
            if asked.stop {
                return;
            }
            asked.flush = false;
        }
        // Every write whose ticket is at most `target` happened before this point, so one
        // flush now covers them all.
        let target = shared.requested.load(Ordering::SeqCst);
        let flushed = store.flush();
        if let Err(error) = &flushed {
            tracing::error!("flushing the store failed: {error}");
        }
        shared.failed.store(flushed.is_err(), Ordering::SeqCst);
        shared
            .flushed
            .send_modify(|done| *done = (*done).max(target));
    }
}

/// The flusher thread is gone (the server is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the flusher has stopped")]
struct Stopped;

/// The flush covering this write failed (its cause is logged by the flusher).
#[derive(Debug, thiserror::Error)]
#[error("the flush failed")]
struct FlushFailed;
