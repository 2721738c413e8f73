//! Many tenants, many rules: 1,000 tenants with 3 distinct rule modules each (3,000 modules),
//! served by the `claimsmith` binary in its own process.
//!
//! `cargo xtask bench` (or `cargo bench -p claimsmith-tests --bench many_tenants`). Reports
//! start-up time and resident memory after a restart, the first refresh exchange of a tenant
//! after the restart (its rules compiled then), and steady-state exchanges once compiled.
//! `BENCH_TENANTS` (default 1000) and `BENCH_TOUCHED` (tenants exchanged, default 30) change
//! the size; `BENCH_CACHE_MIB` sets the server's `--rule-cache-mib` (default: its default).
//!
//! The store is written directly through the management domain, without compiling (the
//! modules are the example rules, valid by construction, each made distinct by a custom
//! section naming its tenant), so the set-up costs seconds instead of the 3,000 compiles an
//! upload of each would; the server compiles whatever it runs, as it would after a restart.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use claimsmith_tests::example_rules;
use claimsmith_tests::load::figures;
use claimsmith_tests::process::Process;
use oidc_core::manage::rules::{DeclaredRule, ModuleCheck};
use oidc_core::manage::{apis, clients, rules, tenants};
use oidc_core::{
    AuthMethod, OperatorKey, Secret, SigningAlg, Store, SystemEntropy, UnixMillis, User,
};
use oidc_store::SledStore;
use serde_json::Value;

const API: &str = "https://api.bench.test/";
const PASSWORD: &str = "bench user password";
const RULES: [(&str, &[u8]); 3] = [
    ("add-roles", example_rules::ADD_ROLES),
    (
        "client-metadata-claims",
        example_rules::CLIENT_METADATA_CLAIMS,
    ),
    ("scopes-by-role", example_rules::SCOPES_BY_ROLE),
];

/// Accepts every module: the bench writes known-good example rules, and the server validates
/// and compiles each at its first use anyway.
struct Trusted;

impl ModuleCheck for Trusted {
    fn check(&self, _wasm: &[u8]) -> Result<u32, String> {
        Ok(rules_abi::ABI_VERSION)
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `wasm` with a custom section holding `tag`: a module of its own (its own hash, its own
/// compiled code) that behaves as the original.
fn distinct(wasm: &[u8], tag: &str) -> Vec<u8> {
    const NAME: &[u8] = b"claimsmith-bench";
    let mut payload = vec![NAME.len() as u8];
    payload.extend_from_slice(NAME);
    payload.extend_from_slice(tag.as_bytes());
    let mut module = wasm.to_vec();
    module.push(0);
    let mut size = payload.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        module.push(if size == 0 { byte } else { byte | 0x80 });
        if size == 0 {
            break;
        }
    }
    module.extend_from_slice(&payload);
    module
}

/// Writes `count` tenants, each with an API, a client, a user and 3 distinct rules; returns
/// each tenant's client id and secret.
fn populate(data: &Path, count: usize) -> Vec<(String, String)> {
    let store = SledStore::open(data).expect("open store");
    let operator = OperatorKey::insecure_dev();
    let now: UnixMillis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let mut entropy = SystemEntropy;
    // One Argon2id hash shared by every user: hashing 1,000 passwords would dominate set-up.
    let password_hash =
        oidc_core::secret::hash_password(&Secret::new(PASSWORD), &mut entropy).expect("hash");
    let mut credentials = Vec::with_capacity(count);
    for index in 0..count {
        let id = format!("t{index:04}");
        let created = tenants::create(
            &store,
            &operator,
            tenants::NewTenant {
                id: id.clone(),
                issuer: format!("http://bench.invalid/t/{id}/"),
                hosts: Vec::new(),
                signing_alg: SigningAlg::ES256,
            },
            now,
            &mut entropy,
        )
        .expect("tenant");
        apis::create(
            &store,
            &created.tenant,
            apis::ApiFields {
                identifier: Some(API.into()),
                name: Some("Bench".into()),
                scopes: Some(vec!["read:reports".into()]),
                allow_offline_access: Some(true),
                token_lifetime: None,
            },
        )
        .expect("api");
        let (client, secret) = clients::create(
            &store,
            &id,
            clients::ClientFields {
                name: Some("Bench".into()),
                app_type: Some("regular_web".into()),
                token_endpoint_auth_method: Some(AuthMethod::ClientSecretPost),
                grant_types: Some(vec!["password".into(), "refresh_token".into()]),
                client_metadata: Some(BTreeMap::from([("tier".into(), "gold".into())])),
                api_grants: Some(BTreeMap::from([(API.into(), vec!["read:reports".into()])])),
                // Rotating chains, as the token-endpoint benchmark follows.
                refresh_token: Some(clients::RefreshTokenSettings {
                    rotation_type: "rotating".into(),
                    expiration_type: "expiring".into(),
                    leeway: 0,
                    token_lifetime: 2_592_000,
                    infinite_token_lifetime: false,
                    idle_token_lifetime: 1_296_000,
                    infinite_idle_token_lifetime: false,
                }),
                ..clients::ClientFields::default()
            },
            &mut entropy,
        )
        .expect("client");
        store
            .put_user(
                &id,
                &User {
                    user_id: "auth0|bench".into(),
                    email: Some("bench@bench.test".into()),
                    email_verified: true,
                    username: None,
                    name: None,
                    nickname: None,
                    given_name: None,
                    family_name: None,
                    picture: None,
                    password_hash: Some(password_hash.clone()),
                    app_metadata: serde_json::Map::new(),
                    user_metadata: serde_json::Map::new(),
                    roles: vec!["admin".into()],
                    blocked: false,
                    logins_count: 0,
                    last_login: None,
                    last_ip: None,
                    created_at: now,
                    updated_at: now,
                },
            )
            .expect("user");
        let declared: Vec<DeclaredRule> = RULES
            .iter()
            .enumerate()
            .map(|(order, (name, wasm))| DeclaredRule {
                name: (*name).into(),
                order: order as i64,
                enabled: true,
                module: distinct(wasm, &id),
            })
            .collect();
        rules::replace_all(&store, &Trusted, &id, &declared, now, &mut entropy).expect("rules");
        let secret = secret.expect("a confidential client has a secret");
        credentials.push((client.client_id, secret.expose().to_owned()));
    }
    store.flush().expect("flush");
    credentials
}

fn rss_mib(process: &Process) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", process.child.id()))
        .expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

const OPERATOR_TOKEN: &str = "bench-operator-token-0123456789-0123456789";

fn start(binary: &Path, data: &Path) -> (Process, Duration) {
    let token_file = data.with_file_name("operator.token");
    std::fs::write(&token_file, OPERATOR_TOKEN).expect("token file");
    let mut args = vec![
        "--data".to_owned(),
        data.display().to_string(),
        "--insecure-dev-key".into(),
        "--no-brute-force-protection".into(),
        "--operator-token-file".into(),
        token_file.display().to_string(),
    ];
    if let Ok(mib) = std::env::var("BENCH_CACHE_MIB") {
        args.extend(["--rule-cache-mib".into(), mib]);
    }
    let started = Instant::now();
    let process = Process::start(binary, &args).expect("server starts");
    (process, started.elapsed())
}

async fn token(http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (Value, Duration) {
    let started = Instant::now();
    let reply = http.post(url).form(form).send().await.expect("request");
    let status = reply.status();
    let body: Value = reply.json().await.expect("json");
    let took = started.elapsed();
    assert!(status.is_success(), "{status}: {body}");
    (body, took)
}

/// The server's compiled-rule cache: modules held and their estimated MiB.
async fn cache(http: &reqwest::Client, addr: &str) -> (u64, f64, u64) {
    let stats: Value = http
        .get(format!("{addr}/operator/v1/rule-cache"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let number = |field: &str| stats[field].as_u64().expect("a number");
    (
        number("modules"),
        number("bytes") as f64 / (1024.0 * 1024.0),
        number("compiles"),
    )
}

/// Exchanges tenant `index`'s refresh token at `addr`: its successor and the latency.
async fn refresh(
    http: &reqwest::Client,
    addr: &str,
    (client_id, secret): &(String, String),
    index: usize,
    refresh_token: &str,
) -> (String, Duration) {
    let url = format!("{addr}/t/t{index:04}/oauth/token");
    let (body, took) = token(
        http,
        &url,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("refresh_token", refresh_token),
        ],
    )
    .await;
    let successor = body["refresh_token"].as_str().expect("rt").to_owned();
    (successor, took)
}

/// One refresh exchange for each sampled tenant, each following its own chain: the latencies.
async fn round(
    http: &reqwest::Client,
    addr: &str,
    credentials: &[(String, String)],
    sample: &[usize],
    refresh_tokens: &mut BTreeMap<usize, String>,
) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(sample.len());
    for &index in sample {
        let (successor, took) = refresh(
            http,
            addr,
            &credentials[index],
            index,
            &refresh_tokens[&index],
        )
        .await;
        latencies.push(took);
        refresh_tokens.insert(index, successor);
    }
    latencies
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let tenants = env("BENCH_TENANTS", 1000);
    let touched = env("BENCH_TOUCHED", 30).min(tenants);
    let binary = Path::new(env!("CARGO_BIN_EXE_claimsmith-under-test"));
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");

    let began = Instant::now();
    let credentials = populate(&data, tenants);
    println!(
        "set-up: {tenants} tenants, {} distinct modules, written in {:.1} s",
        tenants * RULES.len(),
        began.elapsed().as_secs_f64()
    );
    let http = claimsmith_tests::http();
    // Every `tenants / touched`-th tenant, so the sample spans the key space.
    let sample: Vec<usize> = (0..touched).map(|i| i * tenants / touched).collect();

    // First run: a password grant per sampled tenant, for a refresh token to exchange later.
    let (first, first_start) = start(binary, &data);
    let mut refresh_tokens = BTreeMap::new();
    for &index in &sample {
        let (client_id, secret) = &credentials[index];
        let url = format!("{}/t/t{index:04}/oauth/token", first.addr);
        let (body, _) = token(
            &http,
            &url,
            &[
                ("grant_type", "password"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("username", "bench@bench.test"),
                ("password", PASSWORD),
                ("audience", API),
                ("scope", "openid offline_access read:reports"),
            ],
        )
        .await;
        refresh_tokens.insert(
            index,
            body["refresh_token"].as_str().expect("rt").to_owned(),
        );
    }
    first.kill();

    // The measured run: a restart on the same data.
    let (server, startup) = start(binary, &data);
    let idle_rss = rss_mib(&server);
    let first_requests = round(
        &http,
        &server.addr,
        &credentials,
        &sample,
        &mut refresh_tokens,
    )
    .await;
    let warm_rss = rss_mib(&server);
    let (warm_modules, warm_mib, _) = cache(&http, &server.addr).await;
    let rounds = env("BENCH_ROUNDS", 20);
    let mut steady = Vec::new();
    let steady_began = Instant::now();
    for _ in 0..rounds {
        steady.extend(
            round(
                &http,
                &server.addr,
                &credentials,
                &sample,
                &mut refresh_tokens,
            )
            .await,
        );
    }
    let steady = figures(steady, steady_began.elapsed());
    let steady_rss = rss_mib(&server);
    let (modules, cached_mib, compiles) = cache(&http, &server.addr).await;
    let first = figures(first_requests, Duration::from_secs(1));
    println!();
    println!("| what | figure |");
    println!("| --- | ---: |");
    println!(
        "| start-up, first run (process start to listening) | {} |",
        ms(first_start)
    );
    println!("| start-up after the restart | {} |", ms(startup));
    println!("| resident memory after start-up | {idle_rss:.0} MiB |");
    println!(
        "| first refresh exchange of a tenant after the restart (3 modules compiled), p50 / p99 over {touched} tenants | {} / {} |",
        ms(first.p50),
        ms(first.p99)
    );
    println!(
        "| resident memory with {touched} tenants' rules compiled ({} modules; {warm_modules} cached, {warm_mib:.0} MiB estimated) | {warm_rss:.0} MiB |",
        touched * RULES.len()
    );
    println!(
        "| steady-state refresh exchange (rules compiled), p50 / p99 over {} requests | {} / {} |",
        rounds * touched,
        ms(steady.p50),
        ms(steady.p99)
    );
    println!(
        "| after the steady state: modules cached, estimated size, compiles since the restart, resident memory | {modules}, {cached_mib:.0} MiB, {compiles}, {steady_rss:.0} MiB |"
    );
    server.kill();
}
