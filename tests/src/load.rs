//! Figures of a load run, shared by the benchmarks.

use std::time::{Duration, Instant};

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
    let key = oidc_core::keys::generate(alg, "k".into(), 0).expect("key");
    let keys = oidc_core::TenantKeys::new(&[key], alg).expect("keys");
    let claims = serde_json::json!({"iss": "https://x/", "sub": "auth0|load", "aud": API, "exp": 1, "scope": "openid"});
    let rounds = 2_000;
    let started = Instant::now();
    for _ in 0..rounds {
        keys.sign(&claims).expect("signs");
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
