//! Fair scheduling of the domain work across tenants, on threads that run it.
//!
//! Domain work (Argon2, rule chains, signing, the store) runs on a few threads of a lane, one
//! per core: more would only add context switches. Who gets a free thread is decided here,
//! not by arrival order, so that one tenant cannot starve the others: a tenant flooded with
//! password guesses (40 ms of Argon2 each) must not make another tenant's refreshes (a third
//! of a millisecond) wait behind it.
//!
//! - Each tenant has its own bounded queue of work. A full queue, or a wait past the budget,
//!   is answered at once with 503 and `Retry-After`: the flood is shed where it arrives.
//! - A thread that finishes takes the next tenant's work in round-robin order from the
//!   tenants that hold less than their share (the threads divided by the tenants that want
//!   one); when every waiting tenant has its share, the one holding fewest gets it, so no
//!   thread idles while work waits.
//!
//! The queue holds the work itself, and a thread that finishes takes the next piece at once
//! under one lock: under load a thread never sleeps between requests, and a request costs
//! one hand-off to a thread and one back. (When the queue held permits, a finished request
//! had to travel back to its task, which woke the next task, which handed its work to a
//! blocking thread that had gone to sleep meanwhile: four wake-ups instead of two.)

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

/// How much work may run and wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FairSettings {
    /// Domain work running at once, over all tenants: the cores.
    pub workers: usize,
    /// Requests of one tenant waiting for a worker; beyond it, 503.
    pub queue_per_tenant: usize,
    /// The longest a request waits for a worker; beyond it, 503.
    pub max_wait: Duration,
}

impl Default for FairSettings {
    fn default() -> Self {
        FairSettings {
            workers: std::thread::available_parallelism().map_or(2, usize::from),
            queue_per_tenant: 64,
            max_wait: Duration::from_secs(2),
        }
    }
}

/// No worker for this tenant now: answer 503 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overloaded {
    QueueFull,
    WaitedTooLong,
}

/// Where a lane's result goes: to the request that queued the work. Whoever holds it may
/// send later, from any thread (the group commit, once a token is durable), so that the
/// request's task is woken once, with everything it waits for.
#[derive(Debug)]
pub(crate) struct Reply<T>(oneshot::Sender<T>);

impl<T> Reply<T> {
    /// Hands `value` to the request; nothing happens if it is gone (its client left).
    pub(crate) fn send(self, value: T) {
        let _ = self.0.send(value);
    }
}

/// A piece of work: it runs, and returns how to hand its result over. The thread hands it
/// over after it has counted the work as finished, so whoever receives a result sees the
/// scheduler without it.
type Job = Box<dyn FnOnce() -> Deliver + Send>;
type Deliver = Box<dyn FnOnce() + Send>;

struct Waiter {
    ticket: u64,
    job: Job,
}

#[derive(Default)]
struct Tenant {
    running: usize,
    waiting: VecDeque<Waiter>,
}

struct State {
    tenants: HashMap<String, Tenant>,
    /// Tenants in the order they are served; the front is served next.
    ring: VecDeque<String>,
    next_ticket: u64,
    /// Threads waiting for work.
    idle: usize,
    stopping: bool,
}

impl State {
    /// Tenants that hold or want a worker.
    fn active(&self) -> usize {
        self.tenants
            .values()
            .filter(|t| t.running > 0 || !t.waiting.is_empty())
            .count()
            .max(1)
    }

    fn share(&self, workers: usize) -> usize {
        (workers / self.active()).max(1)
    }

    /// The work a free thread takes next, fairly, counted as running for its tenant.
    fn next_job(&mut self, workers: usize) -> Option<(String, Job)> {
        let share = self.share(workers);
        let waiting = |t: &Tenant| !t.waiting.is_empty();
        // The next tenant in ring order under its share; else the waiting tenant holding
        // fewest workers.
        let chosen = self
            .ring
            .iter()
            .position(|id| {
                self.tenants
                    .get(id)
                    .is_some_and(|t| waiting(t) && t.running < share)
            })
            .or_else(|| {
                self.ring
                    .iter()
                    .enumerate()
                    .filter_map(|(i, id)| {
                        self.tenants
                            .get(id)
                            .filter(|t| waiting(t))
                            .map(|t| (t.running, i))
                    })
                    .min()
                    .map(|(_, i)| i)
            })?;
        let id = self.ring.remove(chosen)?;
        self.ring.push_back(id.clone());
        let tenant = self.tenants.get_mut(&id)?;
        let waiter = tenant.waiting.pop_front()?;
        tenant.running += 1;
        Some((id, waiter.job))
    }

    fn finished(&mut self, tenant: &str) {
        if let Some(entry) = self.tenants.get_mut(tenant) {
            entry.running = entry.running.saturating_sub(1);
        }
        self.forget_idle();
    }

    fn forget_idle(&mut self) {
        let idle: Vec<String> = self
            .tenants
            .iter()
            .filter(|(_, t)| t.running == 0 && t.waiting.is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        for id in idle {
            self.tenants.remove(&id);
            self.ring.retain(|r| r != &id);
        }
    }
}

struct Shared {
    settings: FairSettings,
    state: Mutex<State>,
    /// Idle threads wait here for work.
    work: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A lane: the scheduler and its threads. Dropping it stops the threads once they finish
/// what they run; work still queued is dropped, and its requests answer 500.
pub(crate) struct Fair {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Fair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fair")
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

impl Drop for Fair {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.stopping = true;
        // Queued work holds what it captured (the server's state among it): let it go.
        for tenant in state.tenants.values_mut() {
            tenant.waiting.clear();
        }
        drop(state);
        self.shared.work.notify_all();
    }
}

impl Fair {
    /// Starts `settings.workers` threads named `name-N`, at niceness `nice` if given (a
    /// thread may lower its own priority but, without privileges, never raise it again).
    pub(crate) fn start(settings: FairSettings, name: &str, nice: Option<i32>) -> Fair {
        let workers = settings.workers.max(1);
        let shared = Arc::new(Shared {
            settings: FairSettings {
                workers,
                ..settings
            },
            state: Mutex::new(State {
                tenants: HashMap::new(),
                ring: VecDeque::new(),
                next_ticket: 0,
                idle: 0,
                stopping: false,
            }),
            work: Condvar::new(),
        });
        for index in 0..workers {
            let serving = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || serve(&serving, nice));
            if let Err(error) = spawned {
                tracing::error!("cannot start a {name} thread: {error}");
            }
        }
        Fair { shared }
    }

    /// Runs `work` for `tenant` on a thread of the lane, when the scheduler gives the tenant
    /// one, within the tenant's queue bound and the wait budget. `Ok(None)`: the work
    /// panicked, or the lane stopped before running it.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        tenant: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Option<T>, Overloaded> {
        self.run_then(tenant, work, |output, reply| reply.send(output))
            .await
    }

    /// [`Fair::run`], with `deliver` handing the work's output over, on the lane's thread once
    /// the work counts as finished: at once, or by passing `reply` on to whoever sends later.
    /// `Ok(None)` also when `reply` is dropped unsent.
    pub(crate) async fn run_then<T: Send + 'static, U: Send + 'static>(
        &self,
        tenant: &str,
        work: impl FnOnce() -> T + Send + 'static,
        deliver: impl FnOnce(T, Reply<U>) + Send + 'static,
    ) -> Result<Option<U>, Overloaded> {
        let (done, mut result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let output = work();
            Box::new(move || deliver(output, Reply(done)))
        });
        let ticket = {
            let mut state = self.shared.lock();
            if !state.tenants.contains_key(tenant) {
                state.tenants.insert(tenant.to_owned(), Tenant::default());
                state.ring.push_back(tenant.to_owned());
            }
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            let Some(entry) = state.tenants.get_mut(tenant) else {
                return Err(Overloaded::QueueFull);
            };
            if entry.waiting.len() >= self.shared.settings.queue_per_tenant {
                return Err(Overloaded::QueueFull);
            }
            entry.waiting.push_back(Waiter { ticket, job });
            if state.idle > 0 {
                self.shared.work.notify_one();
            }
            ticket
        };
        let mut queued = Queued {
            shared: &self.shared,
            tenant,
            ticket,
            armed: true,
        };
        if let Ok(received) = tokio::time::timeout(self.shared.settings.max_wait, &mut result).await
        {
            queued.armed = false;
            return Ok(received.ok());
        }
        // The budget ran out: refuse if the work is still queued; once running, it finishes
        // (it may be writing a rotation the client must hear about).
        if queued.leave() {
            return Err(Overloaded::WaitedTooLong);
        }
        Ok(result.await.ok())
    }
}

/// Work in a queue. Dropped while still queued (the client went away and axum dropped the
/// request), it leaves the queue: nothing runs for nobody.
struct Queued<'a> {
    shared: &'a Shared,
    tenant: &'a str,
    ticket: u64,
    armed: bool,
}

impl Queued<'_> {
    /// Takes the work out of its queue; `false` if a thread has it already.
    fn leave(&mut self) -> bool {
        self.armed = false;
        let mut state = self.shared.lock();
        let Some(entry) = state.tenants.get_mut(self.tenant) else {
            return false;
        };
        let before = entry.waiting.len();
        entry.waiting.retain(|w| w.ticket != self.ticket);
        let left = entry.waiting.len() < before;
        state.forget_idle();
        left
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.leave();
        }
    }
}

/// A lane's thread: takes the next work fairly, runs it, counts it finished, hands its
/// result over, and takes the next without sleeping while work waits.
fn serve(shared: &Shared, nice: Option<i32>) {
    if let Some(nice) = nice {
        // `None`: this thread (Linux gives each thread its own niceness).
        if let Err(error) = rustix::process::setpriority_process(None, nice) {
            tracing::warn!("a low-priority lane runs at normal priority: {error}");
        }
    }
    let workers = shared.settings.workers;
    let mut state = shared.lock();
    loop {
        if state.stopping {
            return;
        }
        let Some((tenant, job)) = state.next_job(workers) else {
            state.idle += 1;
            state = shared
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.idle -= 1;
            continue;
        };
        drop(state);
        // A panic drops the result's sender: its request answers 500, and the thread goes on.
        let deliver = std::panic::catch_unwind(AssertUnwindSafe(job)).ok();
        state = shared.lock();
        state.finished(&tenant);
        if let Some(deliver) = deliver {
            drop(state);
            // Handing over may hand the result to another part of the server: a panic there
            // drops the result's sender too, and the thread goes on.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(deliver));
            state = shared.lock();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    fn fair(workers: usize, queue: usize) -> Fair {
        Fair::start(
            FairSettings {
                workers,
                queue_per_tenant: queue,
                max_wait: Duration::from_secs(2),
            },
            "fair-test",
            None,
        )
    }

    /// Polls `future` once: whether it finished, and its output if it did.
    fn poll_once<F: std::future::Future + Unpin>(future: &mut F) -> Option<F::Output> {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        match std::pin::Pin::new(future).poll(&mut context) {
            std::task::Poll::Ready(output) => Some(output),
            std::task::Poll::Pending => None,
        }
    }

    /// Work that says when it starts (with its name) and holds its thread until released.
    fn held(
        name: &'static str,
        started: &mpsc::Sender<&'static str>,
    ) -> (
        impl FnOnce() -> &'static str + Send + 'static,
        mpsc::Sender<()>,
    ) {
        let (release, released) = mpsc::channel::<()>();
        let started = started.clone();
        let work = move || {
            started.send(name).unwrap();
            let _ = released.recv();
            name
        };
        (work, release)
    }

    type Running<'a> =
        std::pin::Pin<Box<dyn Future<Output = Result<Option<&'static str>, Overloaded>> + 'a>>;

    /// Work of `tenant` that has started on the lane's only thread and holds it until
    /// released.
    fn occupy<'a>(fair: &'a Fair, tenant: &'a str) -> (Running<'a>, mpsc::Sender<()>) {
        let (started, starts) = mpsc::channel();
        let (work, release) = held("running", &started);
        let mut running: Running<'a> = Box::pin(fair.run(tenant, work));
        assert!(poll_once(&mut running).is_none());
        assert_eq!(starts.recv().unwrap(), "running");
        (running, release)
    }

    /// Work that only notes that it ran, and the note.
    fn noted() -> (
        impl FnOnce() + Send + 'static,
        Arc<std::sync::atomic::AtomicBool>,
    ) {
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let work = move || flag.store(true, std::sync::atomic::Ordering::SeqCst);
        (work, ran)
    }

    #[tokio::test]
    async fn a_flooding_tenant_holds_no_more_than_its_share_while_another_waits() {
        let fair = fair(2, 16);
        let (started, starts) = mpsc::channel();
        let (flood_a, release_a) = held("flood a", &started);
        let (flood_b, release_b) = held("flood b", &started);
        let mut flood_a = Box::pin(fair.run("flood", flood_a));
        let mut flood_b = Box::pin(fair.run("flood", flood_b));
        assert!(poll_once(&mut flood_a).is_none());
        assert!(poll_once(&mut flood_b).is_none());
        let mut both: Vec<_> = (0..2).map(|_| starts.recv().unwrap()).collect();
        both.sort_unstable();
        assert_eq!(both, ["flood a", "flood b"]);

        let (flood_c, release_c) = held("flood c", &started);
        let mut flood_c = Box::pin(fair.run("flood", flood_c));
        assert!(poll_once(&mut flood_c).is_none());
        let (quiet, release_quiet) = held("quiet", &started);
        let mut quiet = Box::pin(fair.run("quiet", quiet));
        assert!(poll_once(&mut quiet).is_none(), "both workers are busy");
        release_a.send(()).unwrap();
        assert_eq!(starts.recv().unwrap(), "quiet", "quiet is served first");
        assert_eq!(flood_a.await, Ok(Some("flood a")));

        // The flood holds one worker, quiet one: quiet's next request gets quiet's freed
        // worker back, not the flood, which already has its share.
        let (quiet_again, release_quiet_again) = held("quiet again", &started);
        let mut quiet_again = Box::pin(fair.run("quiet", quiet_again));
        assert!(poll_once(&mut quiet_again).is_none());
        release_quiet.send(()).unwrap();
        assert_eq!(starts.recv().unwrap(), "quiet again", "its share");
        assert_eq!(quiet.await, Ok(Some("quiet")));
        release_b.send(()).unwrap();
        assert_eq!(starts.recv().unwrap(), "flood c", "work conserving");
        release_quiet_again.send(()).unwrap();
        release_c.send(()).unwrap();
        assert_eq!(quiet_again.await, Ok(Some("quiet again")));
        assert_eq!(flood_b.await, Ok(Some("flood b")));
        assert_eq!(flood_c.await, Ok(Some("flood c")));
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_and_other_tenants_still_queue() {
        let fair = fair(1, 2);
        let (running, release) = occupy(&fair, "flood");
        let mut queued: Vec<_> = (0..2).map(|_| Box::pin(fair.run("flood", || ()))).collect();
        for waiting in &mut queued {
            assert!(poll_once(waiting).is_none());
        }
        assert_eq!(
            fair.run("flood", || ()).await.unwrap_err(),
            Overloaded::QueueFull
        );
        let mut other = Box::pin(fair.run("other", || "other"));
        assert!(poll_once(&mut other).is_none(), "queued, not refused");
        release.send(()).unwrap();
        assert_eq!(running.await, Ok(Some("running")));
        assert_eq!(other.await, Ok(Some("other")));
        for waiting in queued {
            assert_eq!(waiting.await, Ok(Some(())));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_past_the_budget_is_refused_and_leaves_the_queue() {
        let fair = fair(1, 8);
        let (running, release) = occupy(&fair, "t");
        let (work, ran) = noted();
        let waited = tokio::time::Instant::now();
        let refused = fair.run("t", work);
        assert_eq!(refused.await.unwrap_err(), Overloaded::WaitedTooLong);
        assert_eq!(waited.elapsed(), Duration::from_secs(2));
        // Real time from here: a paused clock jumps past the budget whenever this task waits
        // for a thread.
        tokio::time::resume();
        release.send(()).unwrap();
        assert_eq!(running.await, Ok(Some("running")));
        assert_eq!(fair.run("t", || 7).await, Ok(Some(7)));
        assert!(
            !ran.load(std::sync::atomic::Ordering::SeqCst),
            "the refused work never ran"
        );
        assert!(
            fair.shared.lock().tenants.is_empty(),
            "idle tenants are forgotten"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn work_that_started_within_the_budget_is_waited_for() {
        let fair = fair(1, 8);
        let (mut slow, release) = occupy(&fair, "t");
        // Past the budget while running: its answer is still awaited, not refused.
        tokio::time::advance(Duration::from_secs(3)).await;
        assert!(poll_once(&mut slow).is_none());
        release.send(()).unwrap();
        assert_eq!(slow.await, Ok(Some("running")));
    }

    #[tokio::test]
    async fn abandoned_work_leaves_the_queue_without_running() {
        let fair = fair(1, 8);
        let (running, release) = occupy(&fair, "t");
        let (work, ran) = noted();
        let mut abandoned = Box::pin(fair.run("t", work));
        assert!(poll_once(&mut abandoned).is_none());
        drop(abandoned);
        release.send(()).unwrap();
        assert_eq!(running.await, Ok(Some("running")));
        assert_eq!(fair.run("u", || "u").await, Ok(Some("u")));
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_panic_answers_none_and_the_thread_goes_on() {
        let fair = fair(1, 8);
        let panicked: Result<Option<()>, _> = fair.run("t", || panic!("a bug")).await;
        assert_eq!(panicked, Ok(None));
        assert_eq!(fair.run("t", || 1).await, Ok(Some(1)));
    }

    #[tokio::test]
    async fn a_lane_runs_on_named_threads_at_its_priority() {
        let lane = Fair::start(FairSettings::default(), "slow-lane", Some(10));
        let (name, priority) = lane
            .run("t", || {
                (
                    std::thread::current().name().map(str::to_owned),
                    rustix::process::getpriority_process(None).unwrap(),
                )
            })
            .await
            .unwrap()
            .unwrap();
        assert!(name.is_some_and(|name| name.starts_with("slow-lane-")));
        assert_eq!(priority, 10);
    }

    /// A result handed over later, from another thread (as the group commit does once a token
    /// is durable), reaches its request; one dropped unsent answers as a panic does.
    #[tokio::test]
    async fn a_result_can_be_handed_over_later_from_another_thread() {
        let fair = fair(1, 4);
        let later = fair.run_then(
            "t",
            || 20,
            |output, reply: Reply<i32>| {
                std::thread::spawn(move || reply.send(output + 1));
            },
        );
        assert_eq!(later.await, Ok(Some(21)));
        let dropped = fair.run_then("t", || 1, |_, reply: Reply<i32>| drop(reply));
        assert_eq!(dropped.await, Ok(None));
        let panicked = fair.run_then("t", || 1, |_, _: Reply<i32>| panic!("a bug"));
        assert_eq!(panicked.await, Ok(None));
        assert_eq!(fair.run("t", || 2).await, Ok(Some(2)), "the lane goes on");
    }
}
