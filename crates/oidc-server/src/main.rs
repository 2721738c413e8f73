//! `claimsmith`: the token service.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    oidc_server::cli::run().await
}
