//! Figures of a load run, shared by the benchmarks.

use std::time::Duration;

/// Throughput and latency percentiles of a run.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub rate: f64,
    pub p50: Duration,
    pub p99: Duration,
}

/// The figures of `samples` (one latency per request) over `elapsed`.
pub fn figures(mut samples: Vec<Duration>, elapsed: Duration) -> Figures {
    samples.sort_unstable();
    let at = |q: f64| {
        samples
            .get(((samples.len() as f64 * q) as usize).min(samples.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Figures {
        rate: samples.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
    }
}
