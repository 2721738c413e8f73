//! Figures of a load run, shared by the benchmarks.

use std::time::{Duration, Instant};

mod tail;

pub use tail::{Tail, Timed, WINDOW as TAIL_WINDOW};

/// Throughput and latency percentiles of a run.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub rate: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// How the requests above the p99 spread over time; empty where the run did not note
    /// when each request ended.
    pub tail: Tail,
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
        tail: Tail::default(),
    }
}

/// [`figures`] of requests that noted when they ended, with their [`Tail`].
pub fn timed_figures(samples: Vec<Timed>, elapsed: Duration) -> Figures {
    let mut figures = figures(samples.iter().map(|sample| sample.took).collect(), elapsed);
    figures.tail = tail::tail(&samples, figures.p99);
    figures
}

/// The client secret of the load scenarios' client `load`.
pub const SECRET: &str = "load-secret-0123456789-0123456789-abcdef";
/// The API the load scenarios' tokens are for.
pub const API: &str = "https://api.load.test/";

/// The seed of a load tenant `id` signing with `alg`: an API, the client `load` (rotating
/// refresh tokens, no overlap), the user `load@load.test` with the role `admin`, and the
/// add-roles, client-metadata-claims and scopes-by-role rules (`LOAD_RULES=N` keeps the
/// first N, to see what rules cost).
pub fn refresh_tenant(id: &str, alg: &str) -> String {
    format!(
        r#"
[[tenant]]
id = "{id}"
issuer = "{{base}}/t/{id}/"
signing_alg = "{alg}"
rules_configuration = {{ SCOPES_BY_ROLE = '{{"admin": ["read:reports"]}}' }}
[[tenant.api]]
identifier = "{API}"
name = "Load"
scopes = ["read:reports", "write:reports"]
allow_offline_access = true
[[tenant.client]]
client_id = "load"
name = "Load"
type = "confidential"
auth_method = "client_secret_post"
secret = "{SECRET}"
grant_types = ["password", "refresh_token", "client_credentials"]
metadata = {{ tier = "gold" }}
api_grants = {{ "{API}" = ["read:reports"] }}
refresh_token = {{ rotating = true, overlap_secs = 0, absolute_lifetime_secs = 2592000, idle_lifetime_secs = 1296000 }}
[[tenant.user]]
user_id = "auth0|load"
email = "load@load.test"
password = "load test password"
roles = ["admin"]
"#
    ) + &rules()
}

/// The 3 rules of every scenario.
fn rules() -> String {
    let count: usize = std::env::var("LOAD_RULES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    ["add-roles", "client-metadata-claims", "scopes-by-role"]
        .iter()
        .take(count)
        .enumerate()
        .map(|(order, name)| format!("[[tenant.rule]]\nname = \"{name}\"\norder = {order}\nmodule = \"rules/{name}.wasm\"\n"))
        .collect()
}

/// What one signature costs on one core with `alg` (`TenantKeys::sign`): the floor under
/// every issuance (a refresh signs two tokens).
pub fn signing_cost(alg: oidc_core::SigningAlg) -> Duration {
    signing_cost_over(alg, Duration::ZERO)
}

/// [`signing_cost`], signing for at least `span` (and at least 2,000 times): on a VM whose
/// cores change speed for seconds at a time, a yardstick of a few milliseconds reads whichever
/// speed that moment had.
pub fn signing_cost_over(alg: oidc_core::SigningAlg, span: Duration) -> Duration {
    let key = oidc_core::keys::generate(alg, "k".into(), 0).expect("key");
    let keys = oidc_core::TenantKeys::new(&[key], alg).expect("keys");
    let claims = serde_json::json!({"iss": "https://x/", "sub": "auth0|load", "aud": API, "exp": 1, "scope": "openid"});
    let started = Instant::now();
    let mut rounds = 0u32;
    while rounds < 2_000 || started.elapsed() < span {
        keys.sign(&claims).expect("signs");
        rounds += 1;
    }
    started.elapsed() / rounds
}

/// A password grant for the load tenant's user with offline access: the start of each chain.
pub const PASSWORD_GRANT: &[(&str, &str)] = &[
    ("grant_type", "password"),
    ("client_id", "load"),
    ("client_secret", SECRET),
    ("username", "load@load.test"),
    ("password", "load test password"),
    ("audience", API),
    ("scope", "openid offline_access read:reports"),
];

/// A token request to the load tenant `es` at `node`, which must succeed; its answer and
/// how long it took.
pub async fn token(
    http: &reqwest::Client,
    node: &str,
    params: &[(&str, &str)],
) -> (serde_json::Value, Duration) {
    let started = Instant::now();
    let response = http
        .post(format!("{node}/t/es/oauth/token"))
        .form(params)
        .send()
        .await
        .expect("the node answers");
    let status = response.status();
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(status, 200, "{body}");
    (body, started.elapsed())
}

/// A refresh token from a password grant: the start of a chain.
pub async fn login(http: &reqwest::Client, node: &str) -> String {
    let (body, _) = token(http, node, PASSWORD_GRANT).await;
    body["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}

/// `clients` chains, spread round-robin over `nodes`, each rotating `per_client` times: every
/// request presents the token the previous answer returned.
pub async fn refresh_load(
    http: &reqwest::Client,
    nodes: &[String],
    clients: usize,
    per_client: usize,
) -> Figures {
    let chains = start_chains(http, nodes, clients).await;
    run_chains(http, chains, per_client).await
}

/// The start of `clients` chains, spread round-robin over `nodes`: a refresh token each and
/// the node it is presented to.
#[derive(Debug)]
pub struct Chains(Vec<(String, String)>);

/// Logs in once per chain (a password grant: Argon2id, the rules, two signatures).
///
/// Apart from [`run_chains`] so a benchmark can leave the logins out of the window it
/// measures a refresh exchange's CPU over: 32 logins cost as much CPU as a few thousand
/// exchanges.
pub async fn start_chains(http: &reqwest::Client, nodes: &[String], clients: usize) -> Chains {
    let mut chains = Vec::new();
    for n in 0..clients {
        let node = nodes[n % nodes.len()].clone();
        chains.push((login(http, &node).await, node));
    }
    Chains(chains)
}

/// Rotates every chain `per_client` times, the chains in parallel: every request presents the
/// token the previous answer returned.
pub async fn run_chains(http: &reqwest::Client, chains: Chains, per_client: usize) -> Figures {
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for (mut refresh_token, node) in chains.0 {
        let http = http.clone();
        workers.spawn(async move {
            let mut samples = Vec::with_capacity(per_client);
            for _ in 0..per_client {
                let params = [
                    ("grant_type", "refresh_token"),
                    ("client_id", "load"),
                    ("client_secret", SECRET),
                    ("refresh_token", refresh_token.as_str()),
                ];
                let (body, took) = token(&http, &node, &params).await;
                refresh_token = body["refresh_token"].as_str().expect("rotated").to_owned();
                let ended = started.elapsed();
                samples.push(Timed { ended, took });
            }
            samples
        });
    }
    let samples = workers.join_all().await.into_iter().flatten().collect();
    timed_figures(samples, started.elapsed())
}

/// `clients` clients each sending the same grant `per_client` times, one request at a time.
pub async fn repeat_load(
    http: &reqwest::Client,
    node: &str,
    params: &'static [(&'static str, &'static str)],
    clients: usize,
    per_client: usize,
) -> Figures {
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (http, node) = (http.clone(), node.to_owned());
        workers.spawn(async move {
            let mut samples = Vec::with_capacity(per_client);
            for _ in 0..per_client {
                let took = token(&http, &node, params).await.1;
                let ended = started.elapsed();
                samples.push(Timed { ended, took });
            }
            samples
        });
    }
    let samples = workers.join_all().await.into_iter().flatten().collect();
    timed_figures(samples, started.elapsed())
}

/// A client-credentials grant of the load client for the load API.
pub const CLIENT_CREDENTIALS_GRANT: &[(&str, &str)] = &[
    ("grant_type", "client_credentials"),
    ("client_id", "load"),
    ("client_secret", SECRET),
    ("audience", API),
];
