//! The interactive flows over HTTP: `/authorize`, the hosted login page, the session cookie,
//! codes exchanged at the token endpoint, rule redirects and `/continue`, with the example
//! rules in wasm and sled underneath. A small cookie-keeping browser follows nothing by
//! itself, so every redirect and cookie is checked.

mod browser;
mod code_flow;
mod cors;
mod device;
mod logout;
mod redirects;

use claimsmith_tests::server::{Reply, SEED, TestServer};

pub(crate) const WEBAPP_SECRET: &str = "webapp-secret-0123456789-0123456789-abcd";
pub(crate) const WEBAPP_CALLBACK: &str = "https://webapp.test/callback";
pub(crate) const SPA_CALLBACK: &str = "https://spa.test/callback";
pub(crate) const API: &str = "https://api.acme.test/";

/// The standard seed with two interactive clients in `acme`, and `extra_rules` (TOML) after
/// its rules.
pub(crate) fn seed(extra_rules: &str) -> String {
    let clients = format!(
        r#"
[[tenant.client]]
client_id = "webapp"
name = "Acme Webapp"
type = "confidential"
auth_method = "client_secret_post"
secret = "{WEBAPP_SECRET}"
grant_types = ["authorization_code", "implicit", "refresh_token"]
redirect_uris = ["{WEBAPP_CALLBACK}"]
allowed_logout_urls = ["https://webapp.test/bye"]
refresh_token = {{ rotating = true, overlap_secs = 0, absolute_lifetime_secs = 86400, idle_lifetime_secs = 3600 }}

[[tenant.client]]
client_id = "spa-app"
name = "Acme SPA"
type = "spa"
auth_method = "none"
grant_types = ["authorization_code", "refresh_token"]
redirect_uris = ["{SPA_CALLBACK}"]
web_origins = ["https://spa.test"]
refresh_token = {{ rotating = true, overlap_secs = 0, absolute_lifetime_secs = 86400, idle_lifetime_secs = 3600 }}

[[tenant.client]]
client_id = "tv"
name = "Acme TV"
type = "public"
auth_method = "none"
grant_types = ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]
refresh_token = {{ rotating = true, overlap_secs = 0, absolute_lifetime_secs = 86400, idle_lifetime_secs = 3600 }}

[[tenant.user]]
user_id = "auth0|alice""#
    );
    let seed = SEED.replacen("\n[[tenant.user]]\nuser_id = \"auth0|alice\"", &clients, 1);
    seed.replacen(
        "\n[[tenant]]\nid = \"globex\"",
        &format!("{extra_rules}\n[[tenant]]\nid = \"globex\""),
        1,
    )
}

pub(crate) async fn server() -> TestServer {
    TestServer::with_seed(&seed(""), &[]).await
}

/// The webapp's exchange of `code` at the token endpoint.
pub(crate) async fn exchange_webapp_code(server: &TestServer, code: &str) -> Reply {
    server
        .token(
            "acme",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "webapp"),
                ("client_secret", WEBAPP_SECRET),
                ("code", code),
                ("redirect_uri", WEBAPP_CALLBACK),
            ],
        )
        .await
}

/// The tenant's discovery document.
pub(crate) async fn discovery(server: &TestServer) -> serde_json::Value {
    server
        .send(
            server
                .http
                .get(server.url("acme", ".well-known/openid-configuration")),
        )
        .await
        .body
}
