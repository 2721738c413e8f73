//! Tenant log events, written in batches by one thread. A request hands its events over and
//! goes on; the writer gathers what arrives over [`GATHER`] (or until [`GATHER_EVENTS`] are
//! queued), then stores it per tenant, one store call each: one statement and one commit for
//! many requests instead of one each, on any engine.
//!
//! A log write never fails a request (as before), and events are no more durable than before
//! (they never waited for a commit): a crash can lose the last batch, never a token. Reads of
//! the log on this node first wait for what was queued before them ([`LogWriter::settle`]), so
//! the tenant's own log shows its last request. If the store cannot keep up, the queue stops
//! at [`MAX_QUEUED`] events and drops the rest with a warning, so memory stays bounded.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use oidc_core::Store;
use oidc_core::audit::LogEvent;

/// Events held at most while the store is slow or down.
pub(crate) const MAX_QUEUED: usize = 100_000;

/// How long the writer gathers events after the first one arrives.
const GATHER: Duration = Duration::from_millis(5);

/// Enough events to write at once, gathered or not.
const GATHER_EVENTS: usize = 256;

#[derive(Debug, Default)]
struct Queue {
    pending: Vec<(String, Vec<LogEvent>)>,
    events: usize,
    /// Hand-overs so far, and how many of them are written (or given up on).
    handed: u64,
    written: u64,
    dropped: u64,
    stopping: bool,
    /// The writer is gathering: a new event need not wake it (unless there are enough).
    gathering: bool,
    /// A reader waits: write what is queued now.
    urgent: bool,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// The writer waits here for events.
    work: Condvar,
    /// Readers wait here for the writer to catch up.
    caught_up: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Owns the writer thread; dropping it writes what is queued and stops the thread.
#[derive(Debug)]
pub(crate) struct LogWriter {
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl LogWriter {
    /// Starts the writer thread for `store`.
    pub(crate) fn start(store: Arc<dyn Store>) -> LogWriter {
        let shared = Arc::new(Shared::default());
        let writer = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("claimsmith-logs".into())
            .spawn(move || write_batches(&writer, store.as_ref()))
            .map_err(|error| tracing::error!("cannot start the log writer: {error}"))
            .ok();
        LogWriter {
            shared,
            thread: Mutex::new(thread),
        }
    }

    /// Queues `events` of `tenant`. Never blocks on the store.
    pub(crate) fn append(&self, tenant: &str, events: Vec<LogEvent>) {
        if events.is_empty() {
            return;
        }
        let mut queue = self.shared.lock();
        if queue.stopping || queue.events + events.len() > MAX_QUEUED {
            queue.dropped += events.len() as u64;
            tracing::warn!(
                tenant,
                dropped = queue.dropped,
                "the tenant log cannot keep up: dropped {} event(s)",
                events.len()
            );
            return;
        }
        queue.events += events.len();
        queue.handed += 1;
        queue.pending.push((tenant.to_owned(), events));
        if !queue.gathering || queue.events >= GATHER_EVENTS {
            self.shared.work.notify_one();
        }
    }

    /// Waits until every event queued before this call is written. Blocking.
    pub(crate) fn settle(&self) {
        let mut queue = self.shared.lock();
        let ticket = queue.handed;
        if queue.written < ticket {
            queue.urgent = true;
            self.shared.work.notify_one();
        }
        while queue.written < ticket && !queue.stopping {
            queue = self
                .shared
                .caught_up
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Events dropped since start because the store could not keep up.
    pub(crate) fn dropped(&self) -> u64 {
        self.shared.lock().dropped
    }

    /// Writes what is queued and stops the thread. Blocking (briefly: one last batch).
    pub(crate) fn stop(&self) {
        self.shared.lock().stopping = true;
        self.shared.work.notify_one();
        self.shared.caught_up.notify_all();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The writer thread: takes everything queued, writes it grouped by tenant, repeats; after a
/// stop, writes what is left and ends.
fn write_batches(shared: &Shared, store: &dyn Store) {
    loop {
        let (batch, target, last) = {
            let mut queue = shared.lock();
            while queue.pending.is_empty() && !queue.stopping {
                queue = shared
                    .work
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            let deadline = Instant::now() + GATHER;
            queue.gathering = true;
            while queue.events < GATHER_EVENTS && !queue.stopping && !queue.urgent {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                queue = shared
                    .work
                    .wait_timeout(queue, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            queue.gathering = false;
            queue.urgent = false;
            queue.events = 0;
            (
                std::mem::take(&mut queue.pending),
                queue.handed,
                queue.stopping,
            )
        };
        let mut by_tenant: BTreeMap<String, Vec<LogEvent>> = BTreeMap::new();
        for (tenant, events) in batch {
            by_tenant.entry(tenant).or_default().extend(events);
        }
        for (tenant, events) in by_tenant {
            if let Err(error) = store.append_logs(&tenant, &events) {
                tracing::warn!(
                    tenant,
                    "cannot store {} log event(s): {error}",
                    events.len()
                );
            }
        }
        shared.lock().written = target;
        shared.caught_up.notify_all();
        if last {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use oidc_core::testkit::MemoryStore;

    use super::*;

    fn event(id: u64) -> LogEvent {
        let mut event = LogEvent::new("sertft", "refreshed", 1);
        event.id = LogEvent::make_id(1, id);
        event
    }

    #[test]
    fn events_from_many_threads_are_all_written_per_tenant_and_in_order() {
        let store = Arc::new(MemoryStore::new());
        let writer = LogWriter::start(store.clone());
        std::thread::scope(|scope| {
            for tenant in ["acme", "globex"] {
                let writer = &writer;
                scope.spawn(move || {
                    for n in 0..200 {
                        writer.append(tenant, vec![event(n)]);
                    }
                });
            }
        });
        writer.settle();
        for tenant in ["acme", "globex"] {
            let stored = store.logs(tenant, None, 1000, false).unwrap();
            let ids: Vec<String> = stored.into_iter().map(|e| e.id).collect();
            let expected: Vec<String> = (0..200).map(|n| event(n).id).collect();
            assert_eq!(ids, expected);
        }
        assert_eq!(writer.dropped(), 0);
    }

    #[test]
    fn stopping_writes_what_is_queued_and_refuses_the_rest() {
        let store = Arc::new(MemoryStore::new());
        let writer = LogWriter::start(store.clone());
        writer.append("acme", vec![event(1), event(2)]);
        writer.stop();
        assert_eq!(store.logs("acme", None, 10, false).unwrap().len(), 2);
        writer.append("acme", vec![event(3)]);
        writer.settle();
        assert_eq!(store.logs("acme", None, 10, false).unwrap().len(), 2);
        assert_eq!(writer.dropped(), 1);
    }

    #[test]
    fn a_full_queue_drops_new_events_instead_of_growing() {
        // No writer thread: nothing drains, so the queue fills.
        let writer = LogWriter {
            shared: Arc::new(Shared::default()),
            thread: Mutex::new(None),
        };
        writer.append("acme", (0..MAX_QUEUED as u64).map(event).collect());
        writer.append("acme", vec![event(u64::MAX >> 2)]);
        assert_eq!(writer.dropped(), 1);
        assert_eq!(writer.shared.lock().events, MAX_QUEUED);
    }
}
