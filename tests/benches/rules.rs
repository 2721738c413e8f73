//! Rule-call latency and throughput with the production configuration and allocator.
//!
//! `cargo xtask bench` (or `cargo bench -p claimsmith-tests --bench rules`). Each figure is a
//! whole `run_chain`: a permit, a fresh store and instance per rule, input serialization,
//! the call, outcome parsing and aggregation. `BENCH_CALLS` changes the sample size.

use std::sync::Arc;
use std::time::{Duration, Instant};

use claimsmith_tests::{event, example_rules, host, rule};
use rules_abi::Protocol;
use rules_host::{ChainRule, RuleHost, RuleLimits};

/// The server's allocator, so that a rule call costs here what it costs in the server.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let calls: usize = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let host = Arc::new(host());
    let limits = RuleLimits::default();
    let input = event(Protocol::OAuth2Password);

    // Warm the CPU, the pool slots and the caches before any figure counts.
    let warm = [rule(&host, "add-roles", 1)];
    for _ in 0..calls {
        host.run_chain(&warm, &input, &limits).expect("runs");
    }
    println!("| what | p50 | p99 | fuel per call |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, _) in example_rules::ALL {
        let chain = [rule(&host, name, 1)];
        report(name, &host, &chain, &input, &limits, calls);
    }
    let three = [
        rule(&host, "add-roles", 1),
        rule(&host, "client-metadata-claims", 2),
        rule(&host, "scopes-by-role", 3),
    ];
    report("3-rule chain", &host, &three, &input, &limits, calls / 2);

    let threads = 2;
    let per_thread = calls;
    let chain = Arc::new([rule(&host, "add-roles", 1)]);
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (host, chain, input, limits) = (
                Arc::clone(&host),
                Arc::clone(&chain),
                input.clone(),
                limits.clone(),
            );
            std::thread::spawn(move || {
                for _ in 0..per_thread {
                    host.run_chain(&chain[..], &input, &limits).expect("runs");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("no panic");
    }
    let rate = (threads * per_thread) as f64 / started.elapsed().as_secs_f64();
    println!("\nthroughput, add-roles on {threads} threads: {rate:.0} calls/s");

    println!("\n| compile (validate + Cranelift) | time | module bytes |");
    println!("| --- | ---: | ---: |");
    for (name, wasm) in example_rules::ALL {
        let fresh = rules_host::ModuleHash::of(wasm);
        host.evict(&fresh);
        let started = Instant::now();
        host.load(wasm, &limits).expect("loads");
        println!("| {name} | {} | {} |", ms(started.elapsed()), wasm.len());
    }
    let nested = format!("{}{}", "(block ".repeat(40_000), ")".repeat(40_000));
    let bomb = wat::parse_str(format!(
        r#"(module (import "claimsmith" "log" (func (param i32 i32))) (memory (export "memory") 1)
           (func (export "claimsmith_rule_abi_v1")) (func (export "alloc") (param i32) (result i32) (i32.const 0))
           (func (export "on_token") (param i32 i32) (result i64) {nested} (i64.const 0)))"#
    ))
    .expect("valid WAT");
    let started = Instant::now();
    host.load(&bomb, &limits).expect("just under the body cap");
    println!(
        "| 40,000 nested blocks (largest body allowed) | {} | {} |",
        ms(started.elapsed()),
        bomb.len()
    );
}

/// Measures in 5 rounds and reports the median round's p50 and p99: this machine is a shared
/// VM, and one noisy round should not decide the figure.
fn report(
    name: &str,
    host: &RuleHost,
    chain: &[ChainRule],
    input: &rules_abi::RuleInput,
    limits: &RuleLimits,
    calls: usize,
) {
    const ROUNDS: usize = 5;
    for _ in 0..calls / 10 {
        host.run_chain(chain, input, limits).expect("runs");
    }
    let (mut p50s, mut p99s, mut fuel) = (Vec::new(), Vec::new(), 0u64);
    for _ in 0..ROUNDS {
        let mut samples = Vec::with_capacity(calls / ROUNDS);
        for _ in 0..calls / ROUNDS {
            let started = Instant::now();
            let outcome = host.run_chain(chain, input, limits).expect("runs");
            samples.push(started.elapsed());
            fuel = outcome.runs.iter().map(|run| run.fuel_used).sum::<u64>();
        }
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
        p50s.push(at(0.50));
        p99s.push(at(0.99));
    }
    p50s.sort_unstable();
    p99s.sort_unstable();
    println!(
        "| {name} | {} | {} | {fuel} |",
        us(p50s[ROUNDS / 2]),
        us(p99s[ROUNDS / 2])
    );
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}
