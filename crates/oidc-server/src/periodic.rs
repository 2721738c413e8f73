//! A background task on a timer (and, for the change watcher, on a nudge) that stops
//! cleanly: the sweep and the change watcher. Each
//! round gets the state if it still lives (the task never keeps it alive) and a receiver that
//! turns true when the server stops, so long rounds can stop between steps.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::state::{AppState, Inner};

/// Owns a periodic task.
#[derive(Debug)]
pub(crate) struct Periodic {
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    stop: watch::Sender<bool>,
}

impl Periodic {
    /// Runs `round` now and then every `every`, for as long as the state lives.
    pub(crate) fn start<F, Fut>(state: Weak<Inner>, every: Duration, round: F) -> Periodic
    where
        F: FnMut(AppState, watch::Receiver<bool>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        Periodic::start_nudged(state, every, Arc::new(Notify::new()), round)
    }

    /// As [`start`](Self::start), and also as soon as `nudge` is notified (a notification
    /// during a round is kept, so the round after it sees what prompted it).
    pub(crate) fn start_nudged<F, Fut>(
        state: Weak<Inner>,
        every: Duration,
        nudge: Arc<Notify>,
        mut round: F,
    ) -> Periodic
    where
        F: FnMut(AppState, watch::Receiver<bool>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let (stop, mut stopping) = watch::channel(false);
        let task = tokio::spawn(async move {
            // The first tick is now: the round at start is the same code path as the timer's.
            let mut timer = tokio::time::interval(every);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = timer.tick() => {}
                    _ = nudge.notified() => {}
                    _ = stopping.changed() => return,
                }
                let Some(inner) = state.upgrade() else { return };
                round(AppState::from_inner(inner), stopping.clone()).await;
            }
        });
        Periodic {
            task: Mutex::new(Some(task)),
            stop,
        }
    }

    /// Stops the task and waits until it has let go of the state: a round in progress
    /// finishes (rounds are bounded), so nothing still holds the store once this returns.
    pub(crate) async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
