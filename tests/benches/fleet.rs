//! The refresh scenario of `token_load` (32 virtual clients each following its own rotating
//! chain; ES256; the add-roles, client-metadata-claims and scopes-by-role rules; durable
//! writes) against real `claimsmith` processes: the release binary in processes of its own,
//! this process only generating load. Three deployments: one node on sled, one node on
//! PostgreSQL, two nodes on PostgreSQL (the chains split between them).
//!
//! For each: req/s, p50, p99; the CPU the nodes spent per exchange (their `/proc` counters
//! over the measured window) and the CPU PostgreSQL spent (every `postgres` process); store
//! calls and database round trips per exchange (from the nodes' `/metrics`); and, once, the
//! commit latency of the database. The nodes' CPU is also given as a multiple of the exchange's
//! signing cost (two ES256 signatures, measured in the same run).
//!
//! `cargo xtask bench` (or `cargo bench -p claimsmith-tests --bench fleet`). `LOAD_CLIENTS`
//! (default 32) and `LOAD_REQUESTS` (per client, default 300) change the size;
//! `CLAIMSMITH_TEST_POSTGRES` names the database (default the machine's `test`);
//! `FLEET_ONLY=postgres` leaves out the embedded store.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use claimsmith_tests::load::{
    refresh_load, refresh_tenant, run_chains, signing_cost, start_chains,
};
use claimsmith_tests::postgres_url;
use claimsmith_tests::process::{Process, cpu_seconds, deployment_dir};

const OPERATOR_TOKEN: &str = "fleet-bench-operator-token-0123456789-0123";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds of every PostgreSQL process of this machine.
fn postgres_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "postgres")
        })
        .map(cpu_seconds)
        .sum()
}

/// Every sample of `name` in `node`'s metrics, by its labels (`""` for none).
async fn samples(http: &reqwest::Client, node: &str, name: &str) -> Vec<(String, f64)> {
    let text = http
        .get(format!("{node}/metrics"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (labels, value) = rest.rsplit_once(' ')?;
            if !(labels.is_empty() || labels.starts_with('{')) {
                return None;
            }
            Some((labels.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// What the nodes report, summed over them.
#[derive(Debug, Clone, Default)]
struct Counters {
    /// Store calls by operation.
    store_calls: BTreeMap<String, f64>,
    round_trips: f64,
}

async fn counters(http: &reqwest::Client, nodes: &[Process]) -> Counters {
    let mut total = Counters::default();
    for node in nodes {
        let calls = "claimsmith_store_operation_duration_seconds_count";
        for (labels, count) in samples(http, &node.addr, calls).await {
            let operation = labels
                .trim_start_matches("{operation=\"")
                .trim_end_matches("\"}")
                .to_owned();
            *total.store_calls.entry(operation).or_default() += count;
        }
        let trips = samples(http, &node.addr, "claimsmith_store_round_trips_total").await;
        total.round_trips += trips.iter().map(|(_, n)| n).sum::<f64>();
    }
    total
}

/// One deployment under load.
struct Scenario<'a> {
    name: &'a str,
    /// `--store` of its nodes; empty: a fresh embedded store in the deployment's directory.
    store: String,
    nodes: usize,
}

async fn run(
    scenario: &Scenario<'_>,
    clients: usize,
    per_client: usize,
    signature: Duration,
    breakdown: &mut Vec<String>,
) {
    let dir = deployment_dir(&refresh_tenant("es", "ES256"), "http://bench.test");
    let token_file = dir.path().join("operator-token");
    std::fs::write(&token_file, OPERATOR_TOKEN).expect("operator token");
    let binary = Path::new(env!("CARGO_BIN_EXE_claimsmith-under-test"));
    let seed = dir.path().join("seed.toml");
    let store = if scenario.store.is_empty() {
        format!("sled:{}", dir.path().join("data").display())
    } else {
        scenario.store.clone()
    };
    let nodes: Vec<Process> = (0..scenario.nodes)
        .map(|_| {
            Process::start(
                binary,
                &[
                    "--insecure-dev-key".as_ref(),
                    "--no-brute-force-protection".as_ref(),
                    "--store".as_ref(),
                    store.as_ref(),
                    "--seed".as_ref(),
                    seed.as_os_str(),
                    "--operator-token-file".as_ref(),
                    token_file.as_os_str(),
                ],
            )
            .expect("the node starts")
        })
        .collect();
    let http = claimsmith_tests::http();
    // Warm up: compiled rules, connection pools, the database's caches.
    let addrs: Vec<String> = nodes.iter().map(|node| node.addr.clone()).collect();
    refresh_load(&http, &addrs, 4, 50).await;

    // The chains' logins (Argon2id) stay out of the measured window: it holds exchanges only.
    let chains = start_chains(&http, &addrs, clients).await;
    let before = counters(&http, &nodes).await;
    let node_cpu = || nodes.iter().map(|n| cpu_seconds(n.child.id())).sum::<f64>();
    let (cpu_before, db_before) = (node_cpu(), postgres_cpu_seconds());
    let figures = run_chains(&http, chains, per_client).await;
    let (cpu_after, db_after) = (node_cpu(), postgres_cpu_seconds());
    let after = counters(&http, &nodes).await;
    let requests = (clients * per_client) as f64;
    let per_request = |seconds: f64| seconds / requests * 1e6;
    let calls = |c: &Counters| c.store_calls.values().sum::<f64>();
    println!(
        "| {} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.0} µs | {:.1}× | {:.0} µs | {:.1} | {:.1} |",
        scenario.name,
        clients,
        figures.rate,
        figures.p50.as_secs_f64() * 1e3,
        figures.p99.as_secs_f64() * 1e3,
        per_request(cpu_after - cpu_before),
        // An exchange signs two tokens: its signing cost is two signatures.
        per_request(cpu_after - cpu_before) / (2.0 * signature.as_secs_f64() * 1e6),
        per_request(db_after - db_before),
        (calls(&after) - calls(&before)) / requests,
        (after.round_trips - before.round_trips) / requests,
    );
    let by_operation: Vec<String> = after
        .store_calls
        .iter()
        .map(|(operation, n)| {
            let was = before
                .store_calls
                .get(operation)
                .copied()
                .unwrap_or_default();
            (operation, (n - was) / requests)
        })
        .filter(|(_, per)| *per >= 0.01)
        .map(|(operation, per)| format!("{operation} {per:.2}"))
        .collect();
    breakdown.push(format!("{}: {}", scenario.name, by_operation.join(", ")));
}

/// Commit latency of the database: a one-row insert committed, alone, 500 times.
fn commit_latency(url: &str, schema: &str) -> (Duration, Duration) {
    let mut db = postgres::Client::connect(url, postgres::NoTls).expect("PostgreSQL");
    db.batch_execute(&format!(
        "CREATE TABLE {schema}.commits (n integer); SET synchronous_commit = on"
    ))
    .expect("table");
    let insert = db
        .prepare(&format!("INSERT INTO {schema}.commits VALUES ($1)"))
        .expect("prepared");
    let mut samples: Vec<Duration> = (0..500)
        .map(|n: i32| {
            let started = Instant::now();
            db.execute(&insert, &[&n]).expect("committed");
            started.elapsed()
        })
        .collect();
    samples.sort_unstable();
    (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    )
}

fn main() {
    let clients = env_or("LOAD_CLIENTS", 32);
    let per_client = env_or("LOAD_REQUESTS", 300);
    let url = postgres_url();
    let schema = format!("claimsmith_fleet_bench_{}", std::process::id());
    let mut setup = postgres::Client::connect(&url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("this benchmark needs PostgreSQL at {url}: {e}"));
    setup
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("schema");
    let store = format!("{url}?options=-c%20search_path%3D{schema}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Measured first, on a quiet machine: the unit of the node's CPU column.
    let signature = signing_cost(oidc_core::SigningAlg::ES256);
    println!(
        "| deployment | clients | req/s | p50 | p99 | node CPU / req | in signing cost | PostgreSQL CPU / req | store calls / req | round trips / req |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let sled = Scenario {
        name: "1 node, sled",
        store: String::new(),
        nodes: 1,
    };
    let mut breakdown = Vec::new();
    // `FLEET_ONLY=postgres` skips the embedded store (for profiling the database path).
    let only_postgres = std::env::var("FLEET_ONLY").is_ok_and(|only| only == "postgres");
    // The deployments take turns, `FLEET_ROUNDS` times (default 2): what the machine's disk
    // and caches carry from one run to the next falls on each of them alike.
    for _ in 0..env_or("FLEET_ROUNDS", 2) {
        if !only_postgres {
            runtime.block_on(run(&sled, clients, per_client, signature, &mut breakdown));
        }
        for nodes in [1, 2] {
            // A fresh schema per deployment, so each starts from the same state. (The
            // database client blocks: outside the runtime.)
            setup
                .batch_execute(&format!(
                    "DROP SCHEMA {schema} CASCADE; CREATE SCHEMA {schema}"
                ))
                .expect("fresh schema");
            let name = format!(
                "{nodes} node{}, PostgreSQL",
                if nodes > 1 { "s" } else { "" }
            );
            let postgres = Scenario {
                name: &name,
                store: store.clone(),
                nodes,
            };
            runtime.block_on(run(
                &postgres,
                clients,
                per_client,
                signature,
                &mut breakdown,
            ));
        }
    }
    println!(
        "\nES256 signature (`TenantKeys::sign`, one core, this run): {:.1} µs; an exchange signs two",
        signature.as_secs_f64() * 1e6
    );
    println!("\nstore calls per request, by operation:");
    for line in breakdown {
        println!("- {line}");
    }
    let (p50, p99) = commit_latency(&url, &schema);
    println!(
        "\ncommit latency of the database (a one-row insert, synchronous_commit on): p50 {:.0} µs, p99 {:.0} µs",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
    setup
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .expect("dropped");
}
