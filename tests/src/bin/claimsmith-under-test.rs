//! The `claimsmith` server, built inside this package so the e2e tests can start it as a real
//! process and kill it (`CARGO_BIN_EXE_claimsmith-under-test`).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    oidc_server::cli::run().await
}
