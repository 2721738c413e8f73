//! `claimsmith`: the token service.

/// mimalloc: about 8% more refreshes per second than the system allocator under load
/// (BENCHMARKS.md), with less `madvise` churn across threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    oidc_server::cli::run().await
}
