//! Group commit: a response that carries a token waits until the token is on disk, and
//! concurrent requests share one fsync instead of paying one each.
//!
//! Under load a flush waits for token requests still in the domain lanes to ask too, for at
//! most [`GATHER`] after the previous flush: a flush of sled seals and writes its log buffer
//! and wakes its IO threads, so flushing for every second request cost as much CPU as the log
//! writes themselves. "Under load" means more such requests than the lanes have threads, so
//! some are queued and the CPU is what they wait for; below that, a flush starts at once and
//! costs no latency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use oidc_core::{Store, StoreError};

#[derive(Debug)]
struct Shared {
    /// The store commits every write before it returns: there is nothing to wait for.
    durable_on_write: bool,
    requested: AtomicU64,
    /// What the flusher thread is asked to do, under the lock its condition variable needs.
    asked: Mutex<Asked>,
    kick: Condvar,
}

/// What runs once the writes made before it was handed over are durable, or with why they
/// cannot be: on the flusher's thread, right after the flush.
pub(crate) type WhenDurable = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// Callbacks waiting for a flush, each with its ticket.
#[derive(Default)]
struct Callbacks(Vec<(u64, WhenDurable)>);

impl std::fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} callback(s)", self.0.len())
    }
}

impl Callbacks {
    /// Takes out those a flush covering every ticket up to `target` makes durable.
    fn take_covered(&mut self, target: u64) -> Vec<WhenDurable> {
        self.0
            .extract_if(.., |(ticket, _)| *ticket <= target)
            .map(|(_, then)| then)
            .collect()
    }
}

/// The longest a flush waits, after the previous one, for requests still in the lanes.
pub(crate) const GATHER: Duration = Duration::from_millis(2);

#[derive(Debug, Default)]
struct Asked {
    flush: bool,
    stop: bool,
    /// Token requests in the domain lanes that have not asked for their commit yet.
    expected: usize,
    /// How many expected requests a flush does not wait for: the lanes' threads (that many run
    /// at once; more means some are queued for the CPU).
    expected_at_ease: usize,
    /// The flusher waits while more are expected: an ask wakes it only when it ends that.
    gathering: bool,
    /// Handed over by [`Committer::when_durable`]: the flusher runs them.
    callbacks: Callbacks,
}

impl Shared {
    /// Changes what the flusher is asked, and wakes it if `change` says it has something to
    /// do now: a wake-up for nothing costs two context switches.
    fn ask(&self, change: impl FnOnce(&mut Asked) -> bool) {
        let mut asked = self.asked.lock().unwrap_or_else(PoisonError::into_inner);
        let wake = change(&mut asked);
        drop(asked);
        if wake {
            self.kick.notify_one();
        }
    }
}

impl Asked {
    /// One expected request fewer; whether the flusher was waiting for the last of them.
    fn forget_one(&mut self) -> bool {
        self.expected = self.expected.saturating_sub(1);
        self.gathering && !self.loaded()
    }

    /// More requests are on their way to a commit than the lanes run at once.
    fn loaded(&self) -> bool {
        self.expected > self.expected_at_ease
    }
}

/// A token request in the domain lanes that may ask for a commit. While more of them exist
/// than the lanes have threads, a flush waits for them (see [`GATHER`]). Dropped, or given to
/// [`GroupCommit::commit_expected`], it is no longer waited for.
#[derive(Debug)]
pub(crate) struct Expected {
    shared: Option<Arc<Shared>>,
}

impl Drop for Expected {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.ask(Asked::forget_one);
        }
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
        self.shared.ask(|asked| {
            asked.stop = true;
            true
        });
    }
}

impl GroupCommit {
    /// Starts the flusher thread for `store`, whose token requests run on `lane_threads`.
    pub(crate) fn start(store: Arc<dyn Store>, lane_threads: usize) -> GroupCommit {
        GroupCommit::gathering_for(store, GATHER, lane_threads)
    }

    /// [`GroupCommit::start`] with another gathering time than [`GATHER`]; a flush waits while
    /// more than `at_ease` requests are expected.
    fn gathering_for(store: Arc<dyn Store>, gather: Duration, at_ease: usize) -> GroupCommit {
        let shared = Arc::new(Shared {
            durable_on_write: store.durable_on_write(),
            requested: AtomicU64::new(0),
            asked: Mutex::new(Asked {
                expected_at_ease: at_ease,
                ..Asked::default()
            }),
            kick: Condvar::new(),
        });
        let flusher = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || flush_when_asked(&flusher, store.as_ref(), gather))
            .map_err(|error| tracing::error!("cannot start the group-commit thread: {error}"))
            .ok();
        GroupCommit { shared, thread }
    }

    /// Stops the flusher thread and waits until it has let go of the store: a flush in
    /// progress finishes first.
    pub(crate) async fn stop(&mut self) {
        self.shared.ask(|asked| {
            asked.stop = true;
            true
        });
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    /// Notes a token request entering the domain lanes, which a flush may wait for.
    pub(crate) fn expect(&self) -> Expected {
        if self.shared.durable_on_write {
            return Expected { shared: None };
        }
        // More expected never ends a wait: no wake-up.
        self.shared.ask(|asked| {
            asked.expected += 1;
            false
        });
        Expected {
            shared: Some(Arc::clone(&self.shared)),
        }
    }

    /// A handle for handing results over ([`Committer::when_durable`]).
    pub(crate) fn committer(&self) -> Committer {
        Committer {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Returns once every write made before the call is durable.
    pub(crate) async fn commit(&self) -> Result<(), StoreError> {
        self.commit_expected(Expected { shared: None }).await
    }

    /// [`GroupCommit::commit`] for the request `expected` noted: it asks and stops being
    /// waited for in one step, so a flush that waited for it covers it.
    pub(crate) async fn commit_expected(&self, expected: Expected) -> Result<(), StoreError> {
        let (sender, durable) = tokio::sync::oneshot::channel();
        let then: WhenDurable = Box::new(move |result| {
            let _ = sender.send(result);
        });
        self.committer().when_durable(expected, then);
        // The flusher runs every callback, with an error if it stops: a lost sender means it
        // is gone.
        durable
            .await
            .unwrap_or_else(|_| Err(StoreError::backend("group commit", Stopped)))
    }
}

/// The group commit as a lane holds it while handing a token request's result over: only
/// the flusher's shared state, never the server's. (A lane that held the server's state could
/// still hold it when the flusher, on another thread, had already answered the request: a
/// client that then shut the server down found it still in use.)
#[derive(Debug, Clone)]
pub(crate) struct Committer {
    shared: Arc<Shared>,
}

impl Committer {
    /// Runs `then` once every write made before the call is durable, on the flusher's thread
    /// (at once if the store commits every write itself), for the request `expected` noted.
    /// The one way a commit is asked for: [`GroupCommit::commit_expected`] waits on it.
    ///
    /// Why: a lane that finished a token request would otherwise wake the request's task,
    /// which would ask for the commit and sleep again until the flusher wakes it. Handing the
    /// result over here wakes the task once, when its answer can leave.
    pub(crate) fn when_durable(&self, mut expected: Expected, then: WhenDurable) {
        let shared = &self.shared;
        if shared.durable_on_write {
            return then(Ok(()));
        }
        let was_expected = expected.shared.take().is_some();
        let mut asked = shared.asked.lock().unwrap_or_else(PoisonError::into_inner);
        if asked.stop {
            drop(asked);
            return then(Err(StoreError::backend("group commit", Stopped)));
        }
        // Under the lock: a flusher that read a target this ticket is within takes the
        // callbacks after it flushed, under the same lock, so it finds this one.
        let ticket = shared.requested.fetch_add(1, Ordering::SeqCst) + 1;
        asked.callbacks.0.push((ticket, then));
        asked.flush = true;
        let last = was_expected && asked.forget_one();
        // While gathering, only the last request expected ends the wait.
        let wake = !asked.gathering || last;
        drop(asked);
        if wake {
            shared.kick.notify_one();
        }
    }
}

/// The flusher thread: one flush covers every commit asked for before it starts; commits
/// asked for during a flush get the next one.
fn flush_when_asked(shared: &Shared, store: &dyn Store, gather: Duration) {
    let mut last_flush = Instant::now();
    loop {
        {
            let asked = shared.asked.lock().unwrap_or_else(PoisonError::into_inner);
            let mut asked = shared
                .kick
                .wait_while(asked, |asked| !asked.flush && !asked.stop)
                .unwrap_or_else(PoisonError::into_inner);
            // Requests still in the lanes will ask in a moment: one flush for all of them,
            // within the gathering time after the last flush.
            let until = last_flush + gather;
            let now = Instant::now();
            if asked.loaded() && now < until {
                asked.gathering = true;
                asked = shared
                    .kick
                    .wait_timeout_while(asked, until - now, |asked| asked.loaded() && !asked.stop)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                asked.gathering = false;
            }
            if asked.stop {
                let waiting = std::mem::take(&mut asked.callbacks);
                drop(asked);
                for (_, then) in waiting.0 {
                    then(Err(StoreError::backend("group commit", Stopped)));
                }
                return;
            }
            asked.flush = false;
        }
        // Every write whose ticket is at most `target` happened before this point, so one
        // flush now covers them all.
        let target = shared.requested.load(Ordering::SeqCst);
        let flushed = store.flush();
        last_flush = Instant::now();
        if let Err(error) = &flushed {
            tracing::error!("flushing the store failed: {error}");
        }
        let covered = shared
            .asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .callbacks
            .take_covered(target);
        for then in covered {
            then(match &flushed {
                Ok(()) => Ok(()),
                Err(_) => Err(StoreError::backend("group commit", FlushFailed)),
            });
        }
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

#[cfg(test)]
mod tests {
    use std::future::Future;

    use oidc_core::testkit::{FailingStore, MemoryStore};

    use super::*;

    /// Long enough that a test would hang, not pass by luck, if a flush waited for it.
    const FOREVER: Duration = Duration::from_secs(3600);

    /// A group commit whose flushes wait for every expected request.
    fn started() -> (Arc<GroupCommit>, Arc<FailingStore<MemoryStore>>) {
        started_at_ease(0)
    }

    fn started_at_ease(at_ease: usize) -> (Arc<GroupCommit>, Arc<FailingStore<MemoryStore>>) {
        let store = Arc::new(FailingStore::new(MemoryStore::new()));
        let commit =
            GroupCommit::gathering_for(Arc::clone(&store) as Arc<dyn Store>, FOREVER, at_ease);
        (Arc::new(commit), store)
    }

    /// Fails the test instead of hanging it if `future` never finishes.
    async fn finishes<T>(future: impl Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(60), future)
            .await
            .expect("the commit was never flushed")
    }

    #[tokio::test]
    async fn a_commit_with_nothing_expected_is_flushed_at_once() {
        let (commit, store) = started();
        finishes(commit.commit()).await.unwrap();
        assert_eq!(store.flushes(), 1);
    }

    #[tokio::test]
    async fn no_more_requests_expected_than_the_lanes_run_is_no_load_to_wait_for() {
        let (commit, store) = started_at_ease(2);
        let _running = [commit.expect(), commit.expect()];
        finishes(commit.commit()).await.unwrap();
        assert_eq!(store.flushes(), 1);
    }

    #[tokio::test]
    async fn a_flush_waits_for_the_requests_in_the_lanes_and_covers_them_all() {
        let (commit, store) = started();
        let (first, second) = (commit.expect(), commit.expect());
        let early = tokio::spawn({
            let commit = Arc::clone(&commit);
            async move { commit.commit_expected(first).await }
        });
        // The second request asks last: one flush covers both, however long the first one
        // had to wait (with a gathering time of an hour, it waited for the second).
        finishes(commit.commit_expected(second)).await.unwrap();
        finishes(early).await.unwrap().unwrap();
        assert_eq!(store.flushes(), 1);
    }

    #[tokio::test]
    async fn a_request_that_wrote_nothing_stops_being_waited_for() {
        let (commit, store) = started();
        let idle = commit.expect();
        let waiting = tokio::spawn({
            let commit = Arc::clone(&commit);
            async move { commit.commit().await }
        });
        drop(idle);
        finishes(waiting).await.unwrap().unwrap();
        assert_eq!(store.flushes(), 1);
    }

    /// A callback that reports what it was given on a channel, and the channel.
    fn reporting() -> (WhenDurable, std::sync::mpsc::Receiver<Result<(), String>>) {
        let (sender, received) = std::sync::mpsc::channel();
        let then: WhenDurable = Box::new(move |durable: Result<(), StoreError>| {
            let _ = sender.send(durable.map_err(|error| error.to_string()));
        });
        (then, received)
    }

    fn heard(received: &std::sync::mpsc::Receiver<Result<(), String>>) -> Result<(), String> {
        received
            .recv_timeout(Duration::from_secs(60))
            .expect("the result handed over never came back")
    }

    #[test]
    fn a_result_handed_over_comes_back_after_the_flush_that_covers_it() {
        let (commit, store) = started();
        let (then, received) = reporting();
        commit.committer().when_durable(commit.expect(), then);
        assert_eq!(heard(&received), Ok(()));
        assert_eq!(store.flushes(), 1);
    }

    #[tokio::test]
    async fn a_flush_waiting_for_the_lanes_covers_results_handed_over_and_commits_alike() {
        let (commit, store) = started();
        let (first, second) = (commit.expect(), commit.expect());
        let (then, received) = reporting();
        commit.committer().when_durable(first, then);
        // The second request is still expected: with a gathering time of an hour, nothing
        // flushes until it asks; then one flush answers both.
        finishes(commit.commit_expected(second)).await.unwrap();
        assert_eq!(heard(&received), Ok(()));
        assert_eq!(store.flushes(), 1);
    }

    #[test]
    fn a_failed_flush_is_what_a_result_handed_over_hears() {
        let (commit, store) = started();
        store.fail_flushes(true);
        let (then, received) = reporting();
        commit.committer().when_durable(commit.expect(), then);
        assert_eq!(
            heard(&received),
            Err("group commit: the flush failed".into())
        );
        store.fail_flushes(false);
        let (then, received) = reporting();
        commit.committer().when_durable(commit.expect(), then);
        assert_eq!(heard(&received), Ok(()));
    }

    #[tokio::test]
    async fn results_handed_over_to_a_stopped_group_commit_hear_that_it_stopped() {
        let (commit, _store) = started();
        let mut commit = Arc::into_inner(commit).expect("the only handle");
        commit.stop().await;
        let (then, received) = reporting();
        commit.committer().when_durable(commit.expect(), then);
        assert_eq!(
            heard(&received),
            Err("group commit: the flusher has stopped".into())
        );
    }
}
