//! The `claimsmith` command line: open the store, check the operator key, apply the seed,
//! serve; or make an operator key, or rotate it; or, as a thin client of a running server's
//! operator and management APIs, manage tenants, rules, users and the rest (`manage.rs`).

mod manage;
mod remote;
mod store;

pub use store::STORE_ENV;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use oidc_core::vault::{self, OperatorKey};
use oidc_core::{SystemEntropy, ThrottleSettings};
use rules_host::{HostConfig, RuleHost};

use crate::seed::Seed;
use crate::{AppState, Clock, Settings, SystemClock};

/// The environment variable that may hold the operator key itself.
pub const KEY_ENV: &str = "CLAIMSMITH_OPERATOR_KEY";

/// The environment variable that may hold the operator API's credential itself.
pub const OPERATOR_TOKEN_ENV: &str = "CLAIMSMITH_OPERATOR_TOKEN";

/// The operator credential must be at least this long: it is compared by SHA-256, which is
/// safe only for a high-entropy secret.
pub const MIN_OPERATOR_TOKEN_LEN: usize = 32;

/// Claimsmith: an OAuth 2.0 / OpenID Connect token service with WebAssembly rules.
#[derive(Debug, Parser)]
#[command(
    name = "claimsmith",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Serve,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve (what `claimsmith` does without a command).
    Serve(Serve),
    /// Tenants, through the operator API.
    Tenants {
        #[command(subcommand)]
        command: manage::Tenants,
        #[command(flatten)]
        connection: remote::Connection,
    },
    /// Rules: deploy a module, list, enable, disable, delete, try.
    Rules {
        #[command(subcommand)]
        command: manage::Rules,
        #[command(flatten)]
        connection: remote::Connection,
    },
    /// The configuration rules share (rules-configs).
    Config {
        #[command(subcommand)]
        command: manage::Config,
        #[command(flatten)]
        connection: remote::Connection,
    },
    /// The tenant's log: the newest events, or `--follow` them.
    Logs {
        #[arg(long)]
        follow: bool,
        /// Only events of this type (s, f, sertft, fertft, ferrt, srrt, …).
        #[arg(long = "type")]
        kind: Option<String>,
        /// Only events of this user.
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        connection: remote::Connection,
    },
    /// Refresh tokens: list a user's, revoke.
    Tokens {
        #[command(subcommand)]
        command: manage::Tokens,
        #[command(flatten)]
        connection: remote::Connection,
    },
    /// Signing keys: list, rotate, revoke.
    Keys {
        #[command(subcommand)]
        command: manage::Keys,
        #[command(flatten)]
        connection: remote::Connection,
    },
    /// Clients (applications).
    Clients {
        #[command(subcommand)]
        command: manage::Clients,
        #[command(flatten)]
        connection: remote::Connection,
    },
    /// APIs (resource servers).
    Apis {
        #[command(subcommand)]
        command: manage::Apis,
        #[command(flatten)]
        connection: remote::Connection,
    },
    /// Users.
    Users {
        #[command(subcommand)]
        command: manage::Users,
        #[command(flatten)]
        connection: remote::Connection,
    },
    /// Any management API call, for what the other commands do not cover; prints the JSON
    /// answer. `claimsmith api patch clients/ID --data '{"client_metadata":{"tier":"gold"}}'`
    Api {
        /// get, post, put, patch or delete.
        method: String,
        /// The path under `{issuer}api/v2/`, e.g. `clients` or `users/auth0%7C42`.
        path: String,
        /// The JSON body; `@FILE` reads it from a file, `-` from stdin.
        #[arg(long)]
        data: Option<String>,
        #[command(flatten)]
        connection: remote::Connection,
    },
    /// Print a new operator key (32 random bytes, base64) for a key file.
    Keygen,
    /// Apply the store's migrations and exit (`--store postgres://…`: before rolling out a
    /// new version to the nodes).
    Migrate {
        #[arg(long, env = STORE_ENV)]
        store: String,
    },
    /// Copy a whole deployment into an empty store (`--from sled:DIR --to postgres://…`), with
    /// the source's server stopped. Records move as they are, still encrypted: nodes started
    /// on the copy with the same operator key accept every token, session and code issued
    /// before.
    Copy {
        /// The store to copy: `sled:DIR` or `postgres://…`.
        #[arg(long)]
        from: String,
        /// The store to fill (migrated first); it must hold no tenant.
        #[arg(long)]
        to: String,
    },
    /// Re-encrypt every secret at rest under a new operator key. Run it with the server
    /// stopped; if it stops halfway, run it again with the same two keys.
    Rekey {
        /// Directory of the embedded store.
        #[arg(long)]
        data: PathBuf,
        /// The key file the store is encrypted under now.
        #[arg(long)]
        key_file: PathBuf,
        /// The key file to encrypt it under from now on.
        #[arg(long)]
        new_key_file: PathBuf,
    },
}

/// Serving (the default).
#[derive(Debug, Args)]
struct Serve {
    /// Directory of the embedded store (created if missing, private to its owner).
    #[arg(long, default_value = "claimsmith-data")]
    data: PathBuf,
    /// The store: `sled:DIR`, or `postgres://USER@HOST/DATABASE` for several nodes on one
    /// database (migrated at start). Default: the `--data` directory.
    #[arg(long, env = STORE_ENV)]
    store: Option<String>,
    /// A seed file of tenants, clients, APIs, users and rules, applied at start.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    key: KeySource,
    /// Turn off brute-force protection of password logins. For load tests only.
    #[arg(long)]
    no_brute_force_protection: bool,
    /// Seconds between sweeps of dead refresh-token families.
    #[arg(long, default_value_t = 60)]
    sweep_every_secs: u64,
    /// Seconds between reads of the tenants' change marks. On PostgreSQL every change is
    /// announced to every node at once; this read catches one lost with a connection.
    #[arg(long, default_value_t = 1)]
    watch_every_secs: u64,
    /// A file holding the operator API's credential (at least 32 characters, e.g. from
    /// `claimsmith keygen`). `CLAIMSMITH_OPERATOR_TOKEN` may hold it instead. Without either,
    /// the operator API (creating and deleting tenants) is off.
    #[arg(long)]
    operator_token_file: Option<PathBuf>,
    /// Memory, in MiB, the compiled rule modules of all tenants may take. Modules are compiled
    /// at upload and at first use; the least recently used leave the cache beyond this and
    /// are compiled again when next used (a Rust example rule: about 1.9 MiB, 0.25 s to compile).
    #[arg(long, default_value_t = 512)]
    rule_cache_mib: usize,
}

/// The operator API's credential, from its file or the environment, hashed.
fn operator_token(file: Option<&Path>) -> anyhow::Result<Option<oidc_core::SecretHash>> {
    let from_env = std::env::var(OPERATOR_TOKEN_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let token = match (file, from_env) {
        (Some(_), Some(_)) => {
            bail!("give one operator token: --operator-token-file or {OPERATOR_TOKEN_ENV}")
        }
        (Some(path), None) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the operator token file {}", path.display()))?,
        (None, Some(token)) => token,
        (None, None) => return Ok(None),
    };
    let token = token.trim();
    if token.len() < MIN_OPERATOR_TOKEN_LEN {
        bail!("the operator token must be at least {MIN_OPERATOR_TOKEN_LEN} characters");
    }
    Ok(Some(oidc_core::Secret::new(token).hash()))
}

/// Where the operator key comes from: exactly one of a key file, the environment, or the
/// development key.
#[derive(Debug, Args)]
struct KeySource {
    /// A file holding the operator key that encrypts signing keys and the deployment secret
    /// at rest (make one with `claimsmith keygen`). `CLAIMSMITH_OPERATOR_KEY` may hold the
    /// key itself instead.
    #[arg(long, conflicts_with = "insecure_dev_key")]
    key_file: Option<PathBuf>,
    /// Use the well-known development key: anyone can decrypt the store. For demos only.
    #[arg(long)]
    insecure_dev_key: bool,
}

impl KeySource {
    fn resolve(&self) -> anyhow::Result<OperatorKey> {
        let from_env = std::env::var(KEY_ENV).ok().filter(|v| !v.trim().is_empty());
        match (&self.key_file, from_env, self.insecure_dev_key) {
            (Some(path), None, false) => read_key(path),
            (None, Some(text), false) => {
                OperatorKey::parse(&text).with_context(|| format!("the operator key in {KEY_ENV}"))
            }
            (None, None, true) => {
                tracing::warn!(
                    "using the insecure development operator key: the data directory's secrets \
                     are readable by anyone; never do this in production"
                );
                Ok(OperatorKey::insecure_dev())
            }
            (None, None, false) => bail!(
                "no operator key: pass --key-file FILE (make one with `claimsmith keygen > FILE`), \
                 set {KEY_ENV}, or pass --insecure-dev-key for a local demo"
            ),
            _ => bail!("give one operator key: --key-file, {KEY_ENV} or --insecure-dev-key"),
        }
    }
}

fn read_key(path: &Path) -> anyhow::Result<OperatorKey> {
    use std::os::unix::fs::PermissionsExt;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the operator key file {}", path.display()))?;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            "the operator key file {} is readable by others (mode {:o}); chmod 600 it",
            path.display(),
            mode & 0o777
        );
    }
    OperatorKey::parse(&text).with_context(|| format!("the operator key in {}", path.display()))
}

/// Runs the command line with the process's arguments.
pub async fn run() -> anyhow::Result<()> {
    logging();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Keygen) => {
            println!("{}", OperatorKey::generate(&mut SystemEntropy));
            Ok(())
        }
        Some(Command::Rekey {
            data,
            key_file,
            new_key_file,
        }) => rekey(&data, &key_file, &new_key_file),
        Some(Command::Migrate { store }) => {
            let spec = store::StoreSpec::parse(Some(&store), Path::new(""))?;
            // The database client blocks: off the reactor.
            let shown = spec.to_string();
            tokio::task::spawn_blocking(move || spec.open().map(drop))
                .await
                .context("migrating")??;
            println!("{shown} is at the current schema");
            Ok(())
        }
        Some(Command::Copy { from, to }) => {
            let from = store::StoreSpec::parse(Some(&from), Path::new(""))?;
            let to = store::StoreSpec::parse(Some(&to), Path::new(""))?;
            if from == to {
                anyhow::bail!("--from and --to name the same store ({from})");
            }
            // The database client blocks: off the reactor.
            let copied = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let (source, target) = (from.open()?, to.open()?);
                let report = oidc_core::copy::copy(source.as_ref(), target.as_ref())
                    .with_context(|| format!("copying {from} to {to}"))?;
                Ok((report, from, to))
            })
            .await
            .context("copying")??;
            let (report, from, to) = copied;
            println!("copied {from} to {to}: {report}");
            Ok(())
        }
        Some(Command::Serve(args)) => serve(args).await,
        Some(remote_command) => {
            if let Err(failure) = remote(remote_command).await {
                // The code is the script's to read (see `remote::exit`).
                std::process::exit(failure.report());
            }
            Ok(())
        }
        None => serve(cli.serve).await,
    }
}

/// Runs a remote command.
async fn remote(command: Command) -> Result<(), remote::Failure> {
    match command {
        Command::Tenants {
            command,
            connection,
        } => manage::tenants(connection.resolve()?, command).await,
        Command::Rules {
            command,
            connection,
        } => manage::rules(connection.resolve()?, command).await,
        Command::Config {
            command,
            connection,
        } => manage::config(connection.resolve()?, command).await,
        Command::Logs {
            follow,
            kind,
            user,
            connection,
        } => manage::logs(connection.resolve()?, follow, kind, user).await,
        Command::Tokens {
            command,
            connection,
        } => manage::tokens(connection.resolve()?, command).await,
        Command::Keys {
            command,
            connection,
        } => manage::keys(connection.resolve()?, command).await,
        Command::Clients {
            command,
            connection,
        } => manage::clients(connection.resolve()?, command).await,
        Command::Apis {
            command,
            connection,
        } => manage::apis(connection.resolve()?, command).await,
        Command::Users {
            command,
            connection,
        } => manage::users(connection.resolve()?, command).await,
        Command::Api {
            method,
            path,
            data,
            connection,
        } => manage::api(connection.resolve()?, &method, &path, data).await,
        Command::Keygen
        | Command::Rekey { .. }
        | Command::Migrate { .. }
        | Command::Copy { .. }
        | Command::Serve(_) => Ok(()),
    }
}

fn rekey(data: &Path, old: &Path, new: &Path) -> anyhow::Result<()> {
    let (old, new) = (read_key(old)?, read_key(new)?);
    let store = store::StoreSpec::Sled(data.to_owned()).open()?;
    let done = vault::rewrap(store.as_ref(), &old, &new, &mut SystemEntropy)
        .context("re-encrypting under the new operator key")?;
    store.flush()?;
    println!(
        "re-encrypted {} signing key(s){} under operator key {}",
        done.keys,
        if done.deployment_secret {
            " and the deployment secret"
        } else {
            ""
        },
        new.id_hex()
    );
    Ok(())
}

/// Logs on stderr: for a person at a terminal, coloured text; otherwise (a file, a pipe, a
/// log collector) one JSON object per line, with the request's span (its `request_id`) on
/// every line of a request, and no colour codes. `RUST_LOG` filters (default `info`).
fn logging() {
    use std::io::IsTerminal as _;
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    if std::io::stderr().is_terminal() {
        logs.init();
    } else {
        logs.json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    }
}

/// Everything before the socket: the operator key and credential, the store (checked
/// against the key), the rule host, the seed, the tenants. Blocking.
fn prepare(args: Serve) -> anyhow::Result<AppState> {
    let operator = args.key.resolve()?;
    let operator_token = operator_token(args.operator_token_file.as_deref())?;
    let spec = store::StoreSpec::parse(args.store.as_deref(), &args.data)?;
    let store = spec.open()?;
    // Check the key against the store before the seed writes anything under it.
    vault::deployment_secret(store.as_ref(), &operator, &mut SystemEntropy)
        .with_context(|| format!("opening {spec} with operator key {}", operator.id_hex()))?;
    let host = Arc::new(
        RuleHost::new(HostConfig {
            compiled_budget_bytes: args.rule_cache_mib.saturating_mul(1024 * 1024),
            ..HostConfig::default()
        })
        .context("starting the rule host")?,
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if let Some(path) = &args.seed {
        let seed = Seed::load(path)?;
        seed.apply(store.as_ref(), &host, &operator, clock.now())?;
        tracing::info!(
            "applied seed {} ({} tenants)",
            path.display(),
            seed.tenants.len()
        );
    }
    let settings = Settings {
        throttle: ThrottleSettings {
            enabled: !args.no_brute_force_protection,
            ..ThrottleSettings::default()
        },
        sweep_every: Duration::from_secs(args.sweep_every_secs.max(1)),
        propagate_every: Duration::from_secs(args.watch_every_secs.max(1)),
        operator_token,
        ..Settings::default()
    };
    Ok(AppState::new(store, host, clock, operator, settings)?)
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM (what an orchestrator or `systemctl stop` sends).
async fn stop_requested() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(error) => {
            tracing::warn!("cannot watch for SIGTERM ({error}); stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("stopping: no new connections, answering the requests in flight");
}

/// Serves until Ctrl-C or SIGTERM, then drains. Prints `listening on http://ADDR` once the
/// socket is bound.
async fn serve(args: Serve) -> anyhow::Result<()> {
    let listen = args.listen;
    // Opening the store, the seed and loading the tenants block (a database client blocks
    // on its own runtime): they run on a blocking thread, never on the reactor.
    let state = tokio::task::spawn_blocking(move || prepare(args))
        .await
        .context("starting")??;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    // On stdout too, for scripts and tests that start the server on port 0.
    println!("listening on http://{}", listener.local_addr()?);
    crate::serve(listener, state.clone(), stop_requested()).await?;
    tracing::info!("stopped: in-flight requests answered, the log written, the store flushed");
    if state.close().await.is_err() {
        tracing::warn!("requests were still in flight at shutdown");
    }
    Ok(())
}
