//! Fair scheduling of the domain work across tenants.
//!
//! Domain work (Argon2, rule chains, signing, the store) runs on a few blocking threads, one
//! per core: more would only add context switches. Who gets a free thread is decided here,
//! not by arrival order, so that one tenant cannot starve the others: a tenant flooded with
//! password guesses (40 ms of Argon2 each) must not make another tenant's refreshes (a third
//! of a millisecond) wait behind it.
//!
//! - Each tenant has its own bounded queue. A full queue, or a wait past the budget, is
//!   answered at once with 503 and `Retry-After`: the flood is shed where it arrives.
//! - A freed thread goes to the next tenant in round-robin order that holds less than its
//!   share (the threads divided by the tenants that want one); when every waiting tenant has
//!   its share, the one holding fewest gets it, so no thread idles while work waits.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
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

#[derive(Debug)]
struct Waiter {
    ticket: u64,
    wake: oneshot::Sender<()>,
}

#[derive(Debug, Default)]
struct Tenant {
    running: usize,
    waiting: VecDeque<Waiter>,
}

#[derive(Debug)]
struct State {
    free: usize,
    tenants: HashMap<String, Tenant>,
    /// Tenants in the order they are served; the front is served next.
    ring: VecDeque<String>,
    next_ticket: u64,
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

    /// Hands free workers to waiting tenants, fairly. Returns nothing: the woken tasks run.
    fn dispatch(&mut self, workers: usize) {
        while self.free > 0 {
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
                });
            let Some(index) = chosen else { return };
            let Some(id) = self.ring.remove(index) else {
                return;
            };
            self.ring.push_back(id.clone());
            let Some(tenant) = self.tenants.get_mut(&id) else {
                return;
            };
            let Some(waiter) = tenant.waiting.pop_front() else {
                continue;
            };
            if waiter.wake.send(()).is_ok() {
                tenant.running += 1;
                self.free -= 1;
            }
        }
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

/// The scheduler. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Fair {
    settings: FairSettings,
    state: Arc<Mutex<State>>,
}

/// A worker held for one tenant; dropping it frees the worker for the next in line.
#[derive(Debug)]
pub(crate) struct FairPermit {
    fair: Fair,
    tenant: String,
}

impl Drop for FairPermit {
    fn drop(&mut self) {
        let mut state = self.fair.lock();
        state.free += 1;
        if let Some(tenant) = state.tenants.get_mut(&self.tenant) {
            tenant.running = tenant.running.saturating_sub(1);
        }
        state.dispatch(self.fair.settings.workers);
        state.forget_idle();
    }
}

impl Fair {
    pub(crate) fn new(settings: FairSettings) -> Fair {
        let workers = settings.workers.max(1);
        Fair {
            settings: FairSettings {
                workers,
                ..settings
            },
            state: Arc::new(Mutex::new(State {
                free: workers,
                tenants: HashMap::new(),
                ring: VecDeque::new(),
                next_ticket: 0,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a worker for `tenant`, within the tenant's queue bound and the wait budget.
    pub(crate) async fn acquire(&self, tenant: &str) -> Result<FairPermit, Overloaded> {
        let permit = || FairPermit {
            fair: self.clone(),
            tenant: tenant.to_owned(),
        };
        let (ticket, woken) = {
            let mut state = self.lock();
            if !state.tenants.contains_key(tenant) {
                state.tenants.insert(tenant.to_owned(), Tenant::default());
                state.ring.push_back(tenant.to_owned());
            }
            let share = state.share(self.settings.workers);
            let others_waiting = state
                .tenants
                .iter()
                .any(|(id, t)| id != tenant && !t.waiting.is_empty());
            let free = state.free;
            let Some(entry) = state.tenants.get_mut(tenant) else {
                return Err(Overloaded::QueueFull);
            };
            if free > 0 && entry.waiting.is_empty() && (entry.running < share || !others_waiting) {
                entry.running += 1;
                state.free -= 1;
                return Ok(permit());
            }
            if entry.waiting.len() >= self.settings.queue_per_tenant {
                return Err(Overloaded::QueueFull);
            }
            let (wake, woken) = oneshot::channel();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            if let Some(entry) = state.tenants.get_mut(tenant) {
                entry.waiting.push_back(Waiter { ticket, wake });
            }
            state.dispatch(self.settings.workers);
            (ticket, woken)
        };
        let mut pending = Pending {
            fair: self,
            tenant,
            ticket,
            woken: Some(woken),
        };
        let woken = pending.woken.as_mut().ok_or(Overloaded::WaitedTooLong)?;
        match tokio::time::timeout(self.settings.max_wait, woken).await {
            Ok(Ok(())) => {
                pending.woken = None;
                Ok(permit())
            }
            // Dropping `pending` takes the waiter out of the queue, and hands back a worker
            // dispatched just as the budget ran out.
            Ok(Err(_)) | Err(_) => Err(Overloaded::WaitedTooLong),
        }
    }
}

/// A waiter in a queue. Dropped unfinished (the budget ran out, or the client went away and
/// axum dropped the request), it leaves the queue, and gives back a worker dispatched to it
/// in the meantime: nothing leaks.
struct Pending<'a> {
    fair: &'a Fair,
    tenant: &'a str,
    ticket: u64,
    /// `None` once the wait is over and its outcome taken.
    woken: Option<oneshot::Receiver<()>>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        let mut state = self.fair.lock();
        if let Some(tenant) = state.tenants.get_mut(self.tenant) {
            tenant.waiting.retain(|w| w.ticket != self.ticket);
        }
        let dispatched = self
            .woken
            .as_mut()
            .is_some_and(|woken| woken.try_recv().is_ok());
        if dispatched {
            state.free += 1;
            if let Some(tenant) = state.tenants.get_mut(self.tenant) {
                tenant.running = tenant.running.saturating_sub(1);
            }
            state.dispatch(self.fair.settings.workers);
        }
        state.forget_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fair(workers: usize, queue: usize) -> Fair {
        Fair::new(FairSettings {
            workers,
            queue_per_tenant: queue,
            max_wait: Duration::from_secs(2),
        })
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

    #[tokio::test]
    async fn a_flooding_tenant_holds_no_more_than_its_share_while_another_waits() {
        let fair = fair(2, 16);
        let flood_a = fair.acquire("flood").await.unwrap();
        let flood_b = fair.acquire("flood").await.unwrap();
        let mut flood_waiting = Box::pin(fair.acquire("flood"));
        assert!(poll_once(&mut flood_waiting).is_none());
        let mut quiet = Box::pin(fair.acquire("quiet"));
        assert!(poll_once(&mut quiet).is_none(), "both workers are busy");
        drop(flood_a);
        let quiet_permit = poll_once(&mut quiet)
            .expect("quiet is served first")
            .unwrap();
        assert!(poll_once(&mut flood_waiting).is_none());
        // The flood holds one worker, quiet one: quiet's next request gets quiet's freed
        // worker back, not the flood, which already has its share.
        let mut quiet_again = Box::pin(fair.acquire("quiet"));
        assert!(poll_once(&mut quiet_again).is_none());
        drop(quiet_permit);
        let _quiet_again = poll_once(&mut quiet_again).expect("its share").unwrap();
        assert!(poll_once(&mut flood_waiting).is_none());
        drop(flood_b);
        assert!(
            poll_once(&mut flood_waiting)
                .expect("work conserving")
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_and_other_tenants_still_queue() {
        let fair = fair(1, 2);
        let _running = fair.acquire("flood").await.unwrap();
        let mut queued: Vec<_> = (0..2).map(|_| Box::pin(fair.acquire("flood"))).collect();
        for waiting in &mut queued {
            assert!(poll_once(waiting).is_none());
        }
        assert_eq!(
            fair.acquire("flood").await.unwrap_err(),
            Overloaded::QueueFull
        );
        let mut other = Box::pin(fair.acquire("other"));
        assert!(poll_once(&mut other).is_none(), "queued, not refused");
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_past_the_budget_is_refused() {
        let fair = fair(1, 8);
        let running = fair.acquire("t").await.unwrap();
        let started = tokio::time::Instant::now();
        assert_eq!(
            fair.acquire("t").await.unwrap_err(),
            Overloaded::WaitedTooLong
        );
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        drop(running);
        assert!(
            fair.acquire("t").await.is_ok(),
            "the timed-out waiter left the queue"
        );
        assert!(fair.lock().tenants.is_empty(), "idle tenants are forgotten");
    }

    #[tokio::test]
    async fn an_abandoned_waiter_does_not_leak_a_worker() {
        let fair = fair(1, 8);
        let running = fair.acquire("t").await.unwrap();
        let mut abandoned = Box::pin(fair.acquire("t"));
        assert!(poll_once(&mut abandoned).is_none());
        drop(abandoned);
        drop(running);
        assert_eq!(fair.lock().free, 1);
        assert!(fair.acquire("u").await.is_ok());
    }
}
