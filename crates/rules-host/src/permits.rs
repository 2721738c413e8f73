//! A counting semaphore with a deadline, sized to the instance pool.
//!
//! The pooling allocator fails instantiation outright when every slot is taken; callers wait
//! here instead, within their chain budget, so a burst queues rather than errors.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Instant;

#[derive(Debug)]
pub(crate) struct Permits {
    free: Mutex<u32>,
    freed: Condvar,
}

/// Holding one means one pool slot is ours; dropping it gives the slot back.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    permits: &'a Permits,
}

impl Permits {
    pub(crate) fn new(count: u32) -> Permits {
        Permits {
            free: Mutex::new(count),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free slot until `deadline`; `None` if none came free in time.
    pub(crate) fn acquire(&self, deadline: Instant) -> Option<Permit<'_>> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            let left = deadline.checked_duration_since(Instant::now())?;
            free = self
                .freed
                .wait_timeout(free, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *free -= 1;
        Some(Permit { permits: self })
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut free = self
            .permits
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *free += 1;
        self.permits.freed.notify_one();
    }
}
