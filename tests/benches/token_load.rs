//! Load on the token endpoint: N virtual clients on loopback, each following its own rotating
//! refresh-token chain, with 3 rules, rotation and durable (fsynced, group-committed) writes.
//!
//! `cargo xtask bench` (or `cargo bench -p claimsmith-tests --bench token_load`). Server and
//! generator share this process and the machine's 2 cores, as the issue asks.
//! `LOAD_CLIENTS` (default 32) and `LOAD_REQUESTS` (per client, default 300) change the size;
//! `LOAD_RULES` (0 to 3) how many rules run; `LOAD_ONLY=refresh` runs the ES256 refresh alone.

use std::sync::Arc;

/// The allocator the `claimsmith` binary uses, so the in-process server behaves like it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use claimsmith_tests::load::{
    CLIENT_CREDENTIALS_GRANT, Figures, PASSWORD_GRANT, SECRET, figures, refresh_tenant as tenant,
    signing_cost as signing_floor,
};
use claimsmith_tests::server::{Reply, TestServer};

fn row(name: &str, clients: usize, f: &Figures) {
    println!(
        "| {name} | {clients} | {:.0} | {:.2} ms | {:.2} ms |",
        f.rate,
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3
    );
}

/// Waits for every virtual client and turns their latencies into figures.
async fn gather(workers: Vec<tokio::task::JoinHandle<Vec<Duration>>>, started: Instant) -> Figures {
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await.expect("worker"));
    }
    figures(samples, started.elapsed())
}

async fn token(server: &TestServer, tenant: &str, params: &[(&str, &str)]) -> (Reply, Duration) {
    let started = Instant::now();
    let reply = server.token(tenant, params).await;
    (reply, started.elapsed())
}

async fn login(server: &TestServer, tenant: &str) -> (Reply, Duration) {
    token(server, tenant, PASSWORD_GRANT).await
}

/// Each virtual client logs in once, then follows its own rotation chain.
async fn refresh_load(
    server: &Arc<TestServer>,
    tenant: &'static str,
    clients: usize,
    per_client: usize,
) -> Figures {
    let mut chains = Vec::new();
    for _ in 0..clients {
        chains.push(login(server, tenant).await.0.field("refresh_token"));
    }
    let started = Instant::now();
    let workers: Vec<_> = chains
        .into_iter()
        .map(|mut refresh_token| {
            let server = Arc::clone(server);
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(per_client);
                for _ in 0..per_client {
                    let params = [
                        ("grant_type", "refresh_token"),
                        ("client_id", "load"),
                        ("client_secret", SECRET),
                        ("refresh_token", refresh_token.as_str()),
                    ];
                    let (reply, took) = token(&server, tenant, &params).await;
                    assert_eq!(reply.status, 200, "{}", reply.body);
                    refresh_token = reply.field("refresh_token");
                    samples.push(took);
                }
                samples
            })
        })
        .collect();
    gather(workers, started).await
}

async fn simple_load(
    server: &Arc<TestServer>,
    tenant: &'static str,
    clients: usize,
    per_client: usize,
    params: &'static [(&'static str, &'static str)],
) -> Figures {
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let server = Arc::clone(server);
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(per_client);
                for _ in 0..per_client {
                    let (reply, took) = token(&server, tenant, params).await;
                    assert_eq!(reply.status, 200, "{}", reply.body);
                    samples.push(took);
                }
                samples
            })
        })
        .collect();
    gather(workers, started).await
}

fn main() {
    let clients: usize = std::env::var("LOAD_CLIENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(32);
    let per_client: usize = std::env::var("LOAD_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        // `LOAD_ONLY=refresh` measures the ES256 refresh scenario alone (for profiling).
        let only_refresh = std::env::var("LOAD_ONLY").is_ok_and(|only| only == "refresh");
        let seed = if only_refresh {
            tenant("es", "ES256")
        } else {
            tenant("es", "ES256") + &tenant("rs", "RS256")
        };
        let server = Arc::new(TestServer::with_seed(&seed, &[]).await);
        println!("| scenario | clients | req/s | p50 | p99 |");
        println!("| --- | ---: | ---: | ---: | ---: |");
        for (tenant, alg) in [("es", "ES256"), ("rs", "RS256")] {
            // Warm up: compile paths, connection pool, pool slots.
            let _ = refresh_load(&server, tenant, 4, 50).await;
            let figures = refresh_load(&server, tenant, clients, per_client).await;
            row(
                &format!("refresh_token, {alg}, 3 rules, rotation, fsync"),
                clients,
                &figures,
            );
            if only_refresh {
                return;
            }
            let figures = simple_load(
                &server,
                tenant,
                clients,
                per_client,
                CLIENT_CREDENTIALS_GRANT,
            )
            .await;
            row(&format!("client_credentials, {alg}"), clients, &figures);
            let figures = simple_load(&server, tenant, 8, 10, PASSWORD_GRANT).await;
            row(
                &format!("password (Argon2id), {alg}, 3 rules, fsync"),
                8,
                &figures,
            );
        }
    });
    println!();
    for alg in [oidc_core::SigningAlg::ES256, oidc_core::SigningAlg::RS256] {
        let sign = signing_floor(alg);
        println!(
            "signing floor {}: {:.1} µs per signature; a refresh signs 2 tokens, so 2 cores cap it at {:.0} req/s",
            alg.as_str(),
            sign.as_secs_f64() * 1e6,
            2.0 / (2.0 * sign.as_secs_f64())
        );
    }
}
