//! The `claimsmith` command line: open the store, apply the seed, serve.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::seed::Seed;
use crate::{AppState, Clock, SystemClock};
use anyhow::Context as _;
use clap::Parser;
use oidc_store::SledStore;
use rules_host::{HostConfig, RuleHost};

/// Claimsmith: an OAuth 2.0 / OpenID Connect token service with WebAssembly rules.
#[derive(Debug, Parser)]
#[command(name = "claimsmith", version, about)]
pub struct Args {
    /// Directory of the embedded store (created if missing).
    #[arg(long, default_value = "claimsmith-data")]
    data: PathBuf,
    /// A seed file of tenants, clients, APIs, users and rules, applied at start.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

/// Runs the server with the process's arguments until Ctrl-C. Prints
/// `listening on http://ADDR` once the socket is bound.
pub async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let store = Arc::new(
        SledStore::open(&args.data).with_context(|| format!("opening {}", args.data.display()))?,
    );
    let host = Arc::new(RuleHost::new(HostConfig::default()).context("starting the rule host")?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if let Some(path) = &args.seed {
        let seed = Seed::load(path)?;
        seed.apply(&store, &host, clock.now())?;
        tracing::info!(
            "applied seed {} ({} tenants)",
            path.display(),
            seed.tenants.len()
        );
    }
    let state = AppState::new(store, host, clock)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    // On stdout too, for scripts and tests that start the server on port 0.
    println!("listening on http://{}", listener.local_addr()?);
    crate::serve(listener, state.clone(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    if state.close().await.is_err() {
        tracing::warn!("requests were still in flight at shutdown");
    }
    Ok(())
}
