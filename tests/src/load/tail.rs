//! How a run's slowest requests spread over time: a p99 that jumps between rounds of one
//! binary means little until it is known whether everyone stopped at once or a few were
//! unlucky.

use std::collections::BTreeMap;
use std::time::Duration;

/// The width of the windows slow requests are counted in.
pub const WINDOW: Duration = Duration::from_millis(5);

/// One request of a run: when it ended (since the run began) and how long it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timed {
    pub ended: Duration,
    pub took: Duration,
}

/// The requests slower than the run's p99, by the [`WINDOW`] they ended in. Many ending in
/// one window means something stopped every client at once (the server, or the machine); one
/// or two per window means single requests were unlucky (a queue, the load generator's own
/// threads on the same cores).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tail {
    /// Requests slower than the p99.
    pub slow: usize,
    /// The distinct windows they ended in.
    pub windows: usize,
    /// The most that ended in one window.
    pub largest: usize,
}

/// The [`Tail`] of `samples` above `p99`.
pub(super) fn tail(samples: &[Timed], p99: Duration) -> Tail {
    let mut by_window = BTreeMap::<u128, usize>::new();
    for sample in samples.iter().filter(|sample| sample.took > p99) {
        *by_window
            .entry(sample.ended.as_micros() / WINDOW.as_micros())
            .or_default() += 1;
    }
    Tail {
        slow: by_window.values().sum(),
        windows: by_window.len(),
        largest: by_window.values().copied().max().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timed(ended_ms: u64, took_ms: u64) -> Timed {
        Timed {
            ended: Duration::from_millis(ended_ms),
            took: Duration::from_millis(took_ms),
        }
    }

    #[test]
    fn slow_requests_ending_together_share_a_window() {
        let samples = [
            timed(1, 4),
            timed(12, 30),
            timed(13, 31),
            timed(14, 29),
            timed(40, 25),
            timed(41, 10),
            timed(52, 5),
        ];
        let found = tail(&samples, Duration::from_millis(10));
        assert_eq!(
            found,
            Tail {
                slow: 4,
                windows: 2,
                largest: 3
            }
        );
    }

    #[test]
    fn no_request_above_the_p99_is_no_tail() {
        let samples = [timed(1, 4), timed(2, 5)];
        assert_eq!(tail(&samples, Duration::from_millis(5)), Tail::default());
    }
}
