//! The testkit: example rules built from source, a host, events, and a real server on a
//! socket with a real sled directory, shared by the e2e tests, the demo and the benchmarks.

pub mod load;

/// An HTTP client. reqwest's TLS here uses the process's rustls provider (the CLI's, on
/// aws-lc, like the server's cryptography), installed once.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::new()
}
/// The PostgreSQL the tests and benchmarks use: `CLAIMSMITH_TEST_POSTGRES`, or the machine's
/// `test` database on `127.0.0.1:5432`.
pub fn postgres_url() -> String {
    std::env::var("CLAIMSMITH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub mod process;
mod rules_kit;
pub mod server;

pub use rules_kit::{event, example_rules, host, hostile_uploads, rule, wat_rule, wat_rule_if};
