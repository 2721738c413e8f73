//! This tree's server against another build of it (by default main's, built by
//! `cargo xtask compare <rev>`), back to back, each in a process of its own on a fresh sled
//! directory, this process only generating load.
//!
//! Per binary and grant: req/s, p50, p99, and the server's CPU per request from its `/proc`
//! counters over the measured window, also as a multiple of the request's signing cost (ES256,
//! measured in the same run on both sides of each row's window: a refresh or password grant
//! signs two tokens, a client-credentials grant one). The grants: refresh (32 clients on rotating
//! chains, the add-roles, client-metadata-claims and scopes-by-role rules), client_credentials
//! (32 clients) and password (8 clients; Argon2id, then the rules). The binaries take turns,
//! `VERSIONS_ROUNDS` times (default 2), so a noisy moment of the machine falls on both; under
//! the table, this tree's CPU per request as a share of the baseline's, round by round.
//! Below that, each row's CPU per request by group of the server's threads (`domain`:
//! the lanes running rules, signing and the store; `tokio-rt-worker`: HTTP; `sled-io`,
//! `group-commit`, `claimsmith-logs`, ...) with their context switches: where the time goes,
//! and how often the threads hand work to each other; the machine's steal time in the window
//! (a hypervisor that stops the VM now and then shows in p99, whatever the server does); the
//! server's minor page faults per request (a count, which the cores' speed does not move); and
//! how the requests above p99 spread over time (many ending in one 5 ms window: everyone was
//! held up at once).
//!
//! `BASELINE_BINARY` is the other binary, `BASELINE_RULES` the directory of the example-rule
//! modules built with its SDK (`add_roles.wasm`, ...; an older server may not run this tree's
//! modules), `BASELINE_NAME` its name in the table. `LOAD_CLIENTS`, `LOAD_REQUESTS` (per
//! client, default 300) change the size; `VERSIONS_GRANTS` (a comma list, default
//! `refresh_token,client_credentials,password`) the grants measured.

use std::path::{Path, PathBuf};

use claimsmith_tests::load::{
    CLIENT_CREDENTIALS_GRANT, Figures, PASSWORD_GRANT, TAIL_WINDOW, refresh_load, refresh_tenant,
    repeat_load, run_chains, signing_cost_over, start_chains,
};
use claimsmith_tests::process::{
    Process, cpu_seconds, deployment_dir, minor_faults, steal_seconds, thread_usage,
};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// How long the signing cost is measured on each side of a row's window.
const YARDSTICK: std::time::Duration = std::time::Duration::from_millis(250);

/// A build of the server under comparison.
struct Build {
    name: String,
    binary: PathBuf,
    /// Where its example-rule modules are; `None`: this tree's.
    rules: Option<PathBuf>,
}

/// Starts one node of `build` on a fresh sled directory.
fn start(build: &Build) -> (tempfile::TempDir, Process) {
    let dir = deployment_dir(&refresh_tenant("es", "ES256"), "http://bench.test");
    if let Some(rules) = &build.rules {
        for (name, _) in claimsmith_tests::example_rules::ALL {
            let module = rules.join(format!("{}.wasm", name.replace('-', "_")));
            if module.exists() {
                std::fs::copy(
                    &module,
                    dir.path().join("rules").join(format!("{name}.wasm")),
                )
                .unwrap_or_else(|e| panic!("cannot copy {module:?}: {e}"));
            }
        }
    }
    let data = dir.path().join("data");
    let seed = dir.path().join("seed.toml");
    let node = Process::start(
        &build.binary,
        &[
            "--insecure-dev-key".as_ref(),
            "--no-brute-force-protection".as_ref(),
            "--store".as_ref(),
            format!("sled:{}", data.display()).as_ref(),
            "--seed".as_ref(),
            seed.as_os_str(),
        ],
    )
    .unwrap_or_else(|e| panic!("{} does not start: {e}", build.name));
    (dir, node)
}

/// One row of the table: which build, which grant, how many requests, how many signatures
/// each request costs.
struct Row<'a> {
    build: &'a str,
    grant: &'a str,
    clients: usize,
    requests: usize,
    signatures: f64,
}

/// What one row measured, for the notes under the table.
struct Measured {
    grant: String,
    cpu_us: f64,
    /// Where the server's CPU went, per request and by group of threads.
    by_thread: String,
}

/// Runs one grant's load on `node` and prints its row.
///
/// The signing cost is measured again for every row, on both sides of its window (the
/// server idle), for `YARDSTICK` each, and the row divides by their mean: on a shared VM a
/// core's speed changes for seconds at a time (the same signature loop has measured 13 and
/// 26 µs in one session, and one binary 142 and 244 µs per exchange in one run), so a
/// yardstick measured once per run, or for a few milliseconds before the window only, moved
/// the ratio with whichever speed that moment had.
async fn measure(row: Row<'_>, node: &Process, load: impl Future<Output = Figures>) -> Measured {
    let yardstick = || signing_cost_over(oidc_core::SigningAlg::ES256, YARDSTICK);
    let before_us = yardstick().as_secs_f64() * 1e6;
    let pid = node.child.id();
    let (before, threads_before, steal_before, faults_before) = (
        cpu_seconds(pid),
        thread_usage(pid),
        steal_seconds(),
        minor_faults(pid),
    );
    let figures = load.await;
    let (after, threads_after) = (cpu_seconds(pid), thread_usage(pid));
    let requests = row.requests as f64;
    let faults = minor_faults(pid).saturating_sub(faults_before) as f64 / requests;
    let steal_ms = (steal_seconds() - steal_before) * 1e3;
    let signature_us = (before_us + yardstick().as_secs_f64() * 1e6) / 2.0;
    let cpu_us = (after - before) / requests * 1e6;
    // Per group: what it spent in the window (a thread started in it counts from zero).
    let mut groups: Vec<(String, f64, f64)> = threads_after
        .into_iter()
        .map(|(name, now)| {
            let then = threads_before.get(&name).copied().unwrap_or_default();
            let cpu = (now.cpu_seconds - then.cpu_seconds).max(0.0) / requests * 1e6;
            let switches = now.switches.saturating_sub(then.switches) as f64 / requests;
            (name, cpu, switches)
        })
        .collect();
    let switches: f64 = groups.iter().map(|(_, _, switches)| switches).sum();
    groups.retain(|(_, cpu, switches)| *cpu >= 1.0 || *switches >= 0.05);
    groups.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!(
        "| {} | {} | {} | {:.0} | {:.2} ms | {:.2} ms | {cpu_us:.0} µs | {signature_us:.1} µs | {:.1}× | {switches:.1} |",
        row.build,
        row.grant,
        row.clients,
        figures.rate,
        figures.p50.as_secs_f64() * 1e3,
        figures.p99.as_secs_f64() * 1e3,
        cpu_us / (row.signatures * signature_us),
    );
    let by_thread: Vec<String> = groups
        .iter()
        .map(|(name, cpu, switches)| format!("{name} {cpu:.0} µs ({switches:.1} switches)"))
        .collect();
    Measured {
        grant: row.grant.to_owned(),
        cpu_us,
        by_thread: format!(
            "- {} {}: {}; the machine's steal time in the window {steal_ms:.0} ms; {faults:.2} page \
             faults per request; above p99: {} requests, ending in {} windows of {} ms, at most {} \
             in one",
            row.build,
            row.grant,
            by_thread.join(", "),
            figures.tail.slow,
            figures.tail.windows,
            TAIL_WINDOW.as_millis(),
            figures.tail.largest,
        ),
    }
}

/// Under the table: per grant, this tree's server CPU per request as a share of the
/// baseline's, round by round (each round runs the baseline, then this tree).
fn print_ratios(baseline: &[Measured], this_tree: &[Measured]) {
    for grant in ["refresh_token", "client_credentials", "password"] {
        let of = |rows: &[Measured]| -> Vec<f64> {
            rows.iter()
                .filter(|m| m.grant == grant)
                .map(|m| m.cpu_us)
                .collect()
        };
        let old = of(baseline);
        if old.is_empty() {
            continue;
        }
        let shares: Vec<String> = old
            .iter()
            .zip(of(this_tree))
            .map(|(old, new)| format!("{:.2}", new / old))
            .collect();
        println!(
            "- {grant}: this tree's server CPU per request in the baseline's, round by round: {}",
            shares.join(", ")
        );
    }
}

fn main() {
    let Some(baseline) = std::env::var_os("BASELINE_BINARY").map(PathBuf::from) else {
        eprintln!("BASELINE_BINARY is not set: run `cargo xtask compare <rev>`");
        std::process::exit(2);
    };
    let builds = [
        Build {
            name: std::env::var("BASELINE_NAME").unwrap_or_else(|_| "baseline".into()),
            binary: baseline,
            rules: std::env::var_os("BASELINE_RULES").map(PathBuf::from),
        },
        Build {
            name: "this tree".into(),
            binary: Path::new(env!("CARGO_BIN_EXE_claimsmith-under-test")).to_path_buf(),
            rules: None,
        },
    ];
    let clients = env_or("LOAD_CLIENTS", 32);
    let per_client = env_or("LOAD_REQUESTS", 300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "| build | grant | clients | req/s | p50 | p99 | server CPU / req | ES256 signature | in signing cost | context switches / req |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let grants = std::env::var("VERSIONS_GRANTS")
        .unwrap_or_else(|_| "refresh_token,client_credentials,password".into());
    let runs = |grant: &str| grants.split(',').any(|name| name.trim() == grant);
    // What each build measured, in order: [baseline, this tree].
    let mut measured: [Vec<Measured>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..env_or("VERSIONS_ROUNDS", 2) {
        for (which, build) in builds.iter().enumerate() {
            let measured = &mut measured[which];
            let (_dir, node) = start(build);
            let http = claimsmith_tests::http();
            let addr = vec![node.addr.clone()];
            runtime.block_on(async {
                // Warm up: compiled rules, caches, the allocator's pools.
                refresh_load(&http, &addr, 4, 50).await;
                repeat_load(&http, &node.addr, CLIENT_CREDENTIALS_GRANT, 4, 50).await;
                let build = build.name.as_str();
                // The chains' logins (Argon2id) stay out of the window: it holds exchanges only.
                if runs("refresh_token") {
                    let chains = start_chains(&http, &addr, clients).await;
                    let row = Row {
                        build,
                        grant: "refresh_token",
                        clients,
                        requests: clients * per_client,
                        signatures: 2.0,
                    };
                    let load = run_chains(&http, chains, per_client);
                    measured.push(measure(row, &node, load).await);
                }
                if runs("client_credentials") {
                    let row = Row {
                        build,
                        grant: "client_credentials",
                        clients,
                        requests: clients * per_client,
                        signatures: 1.0,
                    };
                    let load = repeat_load(
                        &http,
                        &node.addr,
                        CLIENT_CREDENTIALS_GRANT,
                        clients,
                        per_client,
                    );
                    measured.push(measure(row, &node, load).await);
                }
                if runs("password") {
                    let (clients, per_client) = (8, 25);
                    let row = Row {
                        build,
                        grant: "password",
                        clients,
                        requests: clients * per_client,
                        signatures: 2.0,
                    };
                    let load = repeat_load(&http, &node.addr, PASSWORD_GRANT, clients, per_client);
                    measured.push(measure(row, &node, load).await);
                }
            });
        }
    }
    println!(
        "\nES256 signature: `TenantKeys::sign` on one core, the mean of {} ms of signing just \
         before and as long just after each row's window (the server idle); a refresh and a \
         password grant sign two tokens, a client-credentials grant one.\n",
        YARDSTICK.as_millis()
    );
    print_ratios(&measured[0], &measured[1]);
    println!("\nServer CPU per request by group of threads, and their context switches:\n");
    let [baseline, this_tree] = measured;
    for row in baseline.iter().chain(&this_tree) {
        println!("{}", row.by_thread);
    }
}
