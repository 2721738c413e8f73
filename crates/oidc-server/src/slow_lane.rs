//! The slow lane: password logins run on threads of their own at a lower CPU priority.
//!
//! Argon2 is meant to be expensive (tens of milliseconds of a core per login), so a flood of
//! password guesses is a flood of CPU work. The fair scheduler already keeps a flooded tenant
//! to its share of the workers; the operating system still splits the cores evenly between
//! its threads and everyone else's (the reactor, other tenants' refreshes). On these threads
//! (`nice` 10) password hashing yields the CPU to everything else when it is contended, and
//! runs at full speed when it is not. They are dedicated because a thread may lower its own
//! priority but, without privileges, never raise it again.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// Niceness of the slow lane's threads (0 is normal, 19 the lowest priority). At 10 the lane
/// gets about a tenth of a contended core: a flood of guesses barely slows other work, and a
/// real login still completes in a fraction of a second under full load (at 19 it got 1.5%,
/// and logins took seconds).
const NICE: i32 = 10;

#[derive(Debug)]
pub(crate) struct SlowLane {
    jobs: Mutex<Sender<Job>>,
}

impl SlowLane {
    /// Starts `threads` low-priority threads.
    pub(crate) fn start(threads: usize) -> SlowLane {
        let (sender, receiver) = channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..threads.max(1) {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new()
                .name(format!("slow-lane-{index}"))
                .spawn(move || serve(&receiver));
            if let Err(error) = spawned {
                tracing::error!("cannot start a slow-lane thread: {error}");
            }
        }
        SlowLane {
            jobs: Mutex::new(sender),
        }
    }

    /// Runs `work` on a slow-lane thread. `None` if the lane is gone.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(job)
            .ok()?;
        result.await.ok()
    }
}

fn serve(receiver: &Mutex<Receiver<Job>>) {
    // `None`: this thread (Linux gives each thread its own niceness).
    if let Err(error) = rustix::process::setpriority_process(None, NICE) {
        tracing::warn!("the slow lane runs at normal priority: {error}");
    }
    loop {
        let job = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        match job {
            Ok(job) => job(),
            // The server is gone.
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_a_lower_priority_thread_and_returns_its_result() {
        let lane = SlowLane::start(1);
        let (name, priority) = lane
            .run(|| {
                (
                    std::thread::current().name().map(str::to_owned),
                    rustix::process::getpriority_process(None).unwrap(),
                )
            })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("slow-lane-0"));
        assert_eq!(priority, NICE);
    }
}
