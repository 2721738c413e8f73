//! Claimsmith's HTTP server: the only crate that knows HTTP.
//!
//! Handlers are thin: extract, call `oidc-core` on a blocking thread, map the result. The
//! server owns what the domain must not: the clock, the socket, tenancy by path or host, the
//! per-tenant caches (keys, rule chains), group commit before answering, and loading a seed
//! file into the store.

// No panic is reachable from a request or an uploaded module.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod bearer;
mod browser;
pub mod cli;
mod clock;
mod cors;
mod durability;
mod error;
mod fair;
mod journal;
mod log_writer;
mod manage;
mod metrics;
mod operator;
mod paths;
mod periodic;
mod propagation;
mod request_id;
mod routes;
mod rule_chain;
pub mod seed;
mod served_store;
mod state;
mod sweeper;
mod tenancy;

pub use clock::{Clock, ManualClock, SystemClock};
pub use fair::FairSettings;
pub use paths::Paths;
pub use routes::{app, parse_token_request};
pub use state::{AppState, Settings, StateError};

/// Serves `app(state)` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
