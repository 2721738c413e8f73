//! Fairness between tenants, with the release server in its own process: tenant `quiet`'s
//! refresh exchanges (8 clients, each following its own rotating chain, ES256, 3 rules) alone,
//! then while 16 clients flood tenant `flooded` with wrong passwords for unknown users.
//!
//! `cargo xtask bench` (or `cargo bench -p claimsmith-tests --bench fairness`). Each scenario
//! runs twice: with brute-force protection off (the fair scheduler alone stands between the
//! flood's Argon2 work and the quiet tenant) and on (the flood is answered 429 before any
//! Argon2). `FAIR_REQUESTS` sets the requests per quiet client (default 400);
//! `FAIR_SERVER_BIN` runs another build of the server, and `FAIR_SERVER_LEGACY=1` starts it
//! without the flags older builds lack (for before/after figures from one run).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use claimsmith_tests::load::{Figures, figures};
use claimsmith_tests::process::Process;

const SECRET: &str = "fair-secret-0123456789-0123456789-abcdef";
const API: &str = "https://api.fair.test/";
const QUIET_CLIENTS: usize = 8;
const FLOOD_CLIENTS: usize = 16;

fn tenant(id: &str) -> String {
    let mut seed = format!(
        r#"
[[tenant]]
id = "{id}"
issuer = "http://fair.test/t/{id}/"
signing_alg = "ES256"
rules_configuration = {{ SCOPES_BY_ROLE = '{{"admin": ["read:reports"]}}' }}
[[tenant.api]]
identifier = "{API}"
name = "Fair"
scopes = ["read:reports"]
allow_offline_access = true
[[tenant.client]]
client_id = "app"
name = "App"
type = "confidential"
auth_method = "client_secret_post"
secret = "{SECRET}"
grant_types = ["password", "refresh_token"]
metadata = {{ tier = "gold" }}
refresh_token = {{ rotating = true, overlap_secs = 0, absolute_lifetime_secs = 2592000, idle_lifetime_secs = 1296000 }}
[[tenant.user]]
user_id = "auth0|user"
email = "user@fair.test"
password = "fair test password"
roles = ["admin"]
"#
    );
    for (order, name) in ["add-roles", "client-metadata-claims", "scopes-by-role"]
        .iter()
        .enumerate()
    {
        seed.push_str(&format!(
            "[[tenant.rule]]\nname = \"{name}\"\norder = {order}\nmodule = \"rules/{name}.wasm\"\n"
        ));
    }
    seed
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    params: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let response = http.post(url).form(params).send().await.expect("answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// The quiet tenant's clients: each logs in, then follows its own chain.
async fn quiet_load(addr: &str, per_client: usize) -> Figures {
    let url = format!("{addr}/t/quiet/oauth/token");
    let http = claimsmith_tests::http();
    let mut chains = Vec::new();
    for _ in 0..QUIET_CLIENTS {
        let (status, body) = post(
            &http,
            &url,
            &[
                ("grant_type", "password"),
                ("client_id", "app"),
                ("client_secret", SECRET),
                ("username", "user@fair.test"),
                ("password", "fair test password"),
                ("audience", API),
                ("scope", "openid offline_access read:reports"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        chains.push(
            body["refresh_token"]
                .as_str()
                .expect("a refresh token")
                .to_owned(),
        );
    }
    let started = Instant::now();
    let workers: Vec<_> = chains
        .into_iter()
        .map(|mut token| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(per_client);
                for _ in 0..per_client {
                    let began = Instant::now();
                    let (status, body) = post(
                        &http,
                        &url,
                        &[
                            ("grant_type", "refresh_token"),
                            ("client_id", "app"),
                            ("client_secret", SECRET),
                            ("refresh_token", &token),
                        ],
                    )
                    .await;
                    samples.push(began.elapsed());
                    assert_eq!(status, 200, "{body}");
                    token = body["refresh_token"].as_str().expect("rotated").to_owned();
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await.expect("worker"));
    }
    figures(samples, started.elapsed())
}

/// Floods the other tenant with wrong passwords for unknown users until `stop`; counts the
/// answers by status.
fn flood(addr: &str, stop: Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<BTreeMap<u16, u64>>> {
    let url = format!("{addr}/t/flooded/oauth/token");
    let http = claimsmith_tests::http();
    let counter = Arc::new(AtomicU64::new(0));
    (0..FLOOD_CLIENTS)
        .map(|_| {
            let (http, url, stop, counter) = (
                http.clone(),
                url.clone(),
                Arc::clone(&stop),
                Arc::clone(&counter),
            );
            tokio::spawn(async move {
                let mut answers = BTreeMap::new();
                while !stop.load(Ordering::Relaxed) {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let username = format!("ghost{n}@fair.test");
                    let (status, _) = post(
                        &http,
                        &url,
                        &[
                            ("grant_type", "password"),
                            ("client_id", "app"),
                            ("client_secret", SECRET),
                            ("username", &username),
                            ("password", "guess"),
                        ],
                    )
                    .await;
                    *answers.entry(status).or_insert(0) += 1;
                }
                answers
            })
        })
        .collect()
}

fn start(binary: &Path, dir: &Path, protection: bool, legacy: bool) -> Process {
    let data = dir.join(format!("data-{}", if protection { "on" } else { "off" }));
    let mut args: Vec<String> = vec![
        "--data".into(),
        data.display().to_string(),
        "--seed".into(),
        dir.join("seed.toml").display().to_string(),
    ];
    if !legacy {
        args.push("--insecure-dev-key".into());
        if !protection {
            args.push("--no-brute-force-protection".into());
        }
    }
    Process::start(binary, &args).expect("the server starts")
}

fn row(scenario: &str, f: &Figures, flood: &str) {
    println!(
        "| {scenario} | {:.0} | {:.2} ms | {:.2} ms | {flood} |",
        f.rate,
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3
    );
}

fn main() {
    let per_client: usize = std::env::var("FAIR_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400);
    let binary: PathBuf = std::env::var_os("FAIR_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_claimsmith-under-test").into());
    let legacy = std::env::var("FAIR_SERVER_LEGACY").is_ok_and(|v| v == "1");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("rules")).expect("rules dir");
    for (name, wasm) in claimsmith_tests::example_rules::ALL {
        std::fs::write(dir.path().join("rules").join(format!("{name}.wasm")), wasm)
            .expect("module");
    }
    std::fs::write(
        dir.path().join("seed.toml"),
        tenant("quiet") + &tenant("flooded"),
    )
    .expect("seed");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("server: {}", binary.display());
    println!("| scenario | quiet req/s | quiet p50 | quiet p99 | flood answers |");
    println!("| --- | ---: | ---: | ---: | --- |");
    let modes: &[bool] = if legacy { &[false] } else { &[false, true] };
    for &protection in modes {
        let server = start(&binary, dir.path(), protection, legacy);
        let label = if protection {
            "brute-force protection on"
        } else {
            "brute-force protection off"
        };
        runtime.block_on(async {
            let _warm = quiet_load(&server.addr, 20).await;
            let alone = quiet_load(&server.addr, per_client).await;
            row(&format!("quiet alone ({label})"), &alone, "");
            let stop = Arc::new(AtomicBool::new(false));
            let flooders = flood(&server.addr, Arc::clone(&stop));
            let loaded = quiet_load(&server.addr, per_client).await;
            stop.store(true, Ordering::Relaxed);
            let mut answers: BTreeMap<u16, u64> = BTreeMap::new();
            for flooder in flooders {
                for (status, count) in flooder.await.expect("flooder") {
                    *answers.entry(status).or_insert(0) += count;
                }
            }
            let answers: Vec<String> = answers.iter().map(|(s, n)| format!("{n}× {s}")).collect();
            row(
                &format!("quiet while flooded ({label})"),
                &loaded,
                &answers.join(", "),
            );
            println!(
                "|  | p99 ratio {:.2} | | | |",
                loaded.p99.as_secs_f64() / alone.p99.as_secs_f64()
            );
        });
        server.kill();
    }
}
