//! A counting semaphore with a deadline, sized to the instance pool.
//!
//! The pooling allocator fails instantiation outright when every slot is taken; callers wait
//! here instead, within their chain budget, so a burst queues rather than errors.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Instant;

#[derive(Debug)]
pub(crate) struct Permits {
    count: Mutex<Count>,
    freed: Condvar,
}

#[derive(Debug)]
struct Count {
    free: u32,
    /// Callers waiting for a slot. Giving one back wakes a waiter only if there is one: the
    /// wake-up is a system call even when nobody waits, and it was paid on every chain.
    waiting: u32,
}

/// Holding one means one pool slot is ours; dropping it gives the slot back.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    permits: &'a Permits,
}

impl Permits {
    pub(crate) fn new(count: u32) -> Permits {
        Permits {
            count: Mutex::new(Count {
                free: count,
                waiting: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free slot until `deadline`; `None` if none came free in time.
    pub(crate) fn acquire(&self, deadline: Instant) -> Option<Permit<'_>> {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        while count.free == 0 {
            let left = deadline.checked_duration_since(Instant::now())?;
            count.waiting += 1;
            count = self
                .freed
                .wait_timeout(count, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            count.waiting -= 1;
        }
        count.free -= 1;
        Some(Permit { permits: self })
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut count = self
            .permits
            .count
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        count.free += 1;
        if count.waiting > 0 {
            self.permits.freed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A waiter is woken when a slot comes back, now that giving one back wakes only where
    /// someone waits.
    #[test]
    fn a_slot_given_back_wakes_the_caller_waiting_for_it() {
        let permits = Permits::new(1);
        let held = permits.acquire(Instant::now()).expect("one is free");
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| {
                permits
                    .acquire(Instant::now() + Duration::from_secs(600))
                    .is_some()
            });
            // Give the slot back only once the other thread is waiting for it.
            while permits.count.lock().unwrap().waiting == 0 {
                std::thread::yield_now();
            }
            drop(held);
            assert!(waiter.join().unwrap(), "the waiter got the slot");
        });
        let count = permits.count.lock().unwrap();
        assert_eq!((count.free, count.waiting), (1, 0));
    }

    #[test]
    fn a_caller_gives_up_at_its_deadline_when_no_slot_comes_back() {
        let permits = Permits::new(1);
        let _held = permits.acquire(Instant::now()).expect("one is free");
        assert!(permits.acquire(Instant::now()).is_none());
        assert_eq!(permits.count.lock().unwrap().waiting, 0);
    }
}
