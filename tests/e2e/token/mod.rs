//! The token service, over HTTP.

mod at_rest;
mod durability;
mod errors;
mod nodes;
mod password;
mod refresh;
mod rule_cache;
mod rules;
mod tenancy;

use claimsmith_tests::server::{Reply, TestServer};

pub(crate) const WEB: [(&str, &str); 2] = [
    ("client_id", "web"),
    ("client_secret", "web-secret-0123456789-0123456789-abcdef"),
];
pub(crate) const LEGACY: [(&str, &str); 2] = [
    ("client_id", "legacy"),
    ("client_secret", "legacy-secret-0123456789-0123456789-abc"),
];
pub(crate) const ALICE: [(&str, &str); 2] = [
    ("username", "alice@acme.test"),
    ("password", "correct horse battery staple"),
];
pub(crate) const API: &str = "https://api.acme.test/";

/// A password grant for alice with `client` and `scope`, at the reports API.
pub(crate) async fn login(server: &TestServer, client: &[(&str, &str)], scope: &str) -> Reply {
    let mut params = vec![
        ("grant_type", "password"),
        ("audience", API),
        ("scope", scope),
    ];
    params.extend_from_slice(client);
    params.extend_from_slice(&ALICE);
    server.token("acme", &params).await
}

/// Exchanges `refresh_token` with `client`.
pub(crate) async fn refresh(
    server: &TestServer,
    client: &[(&str, &str)],
    refresh_token: &str,
) -> Reply {
    let mut params = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    params.extend_from_slice(client);
    server.token("acme", &params).await
}

pub(crate) const OFFLINE: &str = "openid profile email offline_access read:reports";
