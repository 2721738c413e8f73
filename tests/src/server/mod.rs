//! A Claimsmith server for tests: real HTTP on a loopback socket, a real sled directory, the
//! example rules built from source, and a clock the test moves by hand.

mod seed;

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oidc_core::OperatorKey;
use oidc_server::seed::Seed;
use oidc_server::{AppState, ManualClock, Settings};
use oidc_store::SledStore;
use rules_host::{HostConfig, RuleHost};
use serde_json::Value;
use tokio::sync::oneshot;

pub use seed::SEED;

/// 2026-11-27T12:00:00Z, the start of every test's clock.
pub const START: u64 = 1_795_780_800_000;

/// One rule host per test process: compiled modules are cached by content hash, so servers
/// after the first start fast.
pub fn shared_host() -> Arc<RuleHost> {
    static HOST: OnceLock<Arc<RuleHost>> = OnceLock::new();
    Arc::clone(
        HOST.get_or_init(|| Arc::new(RuleHost::new(HostConfig::default()).expect("host starts"))),
    )
}

/// A running server.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:PORT`, where it listens now.
    pub addr: String,
    /// The base its tenants' issuers were written with (kept across restarts).
    pub issuer_base: String,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    /// The store the state serves from, as its concrete engine (checksums, flushes, files).
    pub store: Arc<SledStore>,
    pub http: reqwest::Client,
    dir: Arc<tempfile::TempDir>,
    seed: String,
    settings: Settings,
    /// `Some`: the state gets a rule host of its own, new at each (re)start, as a process
    /// would; `None`: the test process's shared host.
    host_config: Option<HostConfig>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// `(error, error_description)` of an OAuth error body.
    pub fn error(&self) -> (u16, &str, &str) {
        (
            self.status,
            self.body["error"].as_str().unwrap_or_default(),
            self.body["error_description"].as_str().unwrap_or_default(),
        )
    }

    pub fn field(&self, name: &str) -> String {
        self.body[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            .to_owned()
    }
}

/// Opens the sled directory, waiting (at most 10 s) for a store that was just closed in this
/// process to release its lock: sled finishes some background work and deferred frees on
/// other threads after the last handle is dropped, so an in-process restart can find the lock
/// still held for a moment (a process restart cannot: the lock goes with the process).
fn open_released(path: &std::path::Path) -> SledStore {
    let started = std::time::Instant::now();
    loop {
        match SledStore::open(path) {
            Ok(store) => return store,
            Err(error)
                if error.to_string().contains("could not acquire lock")
                    && started.elapsed() < std::time::Duration::from_secs(10) =>
            {
                std::thread::yield_now();
            }
            Err(error) => panic!("open store: {error:?}"),
        }
    }
}

/// The claims of a JWT, unverified (tests verify signatures separately).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
        .expect("JSON claims")
}

impl TestServer {
    /// Starts a server with the standard test seed.
    pub async fn start() -> TestServer {
        TestServer::with_seed(SEED, &[]).await
    }

    /// Starts a server with `seed` (`{base}` becomes the server's address) and extra modules
    /// written beside the example rules as `rules/{name}.wasm`.
    pub async fn with_seed(seed: &str, extra_modules: &[(&str, Vec<u8>)]) -> TestServer {
        TestServer::with_settings(seed, extra_modules, Settings::default()).await
    }

    /// As `with_seed`, with server settings (brute-force protection, fairness, sweeps).
    pub async fn with_settings(
        seed: &str,
        extra_modules: &[(&str, Vec<u8>)],
        settings: Settings,
    ) -> TestServer {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let rules = dir.path().join("rules");
        std::fs::create_dir_all(&rules).expect("rules dir");
        for (name, wasm) in crate::example_rules::ALL {
            std::fs::write(rules.join(format!("{name}.wasm")), wasm).expect("write module");
        }
        for (name, wasm) in extra_modules {
            std::fs::write(rules.join(format!("{name}.wasm")), wasm).expect("write module");
        }
        let clock = Arc::new(ManualClock::new(START));
        Self::boot(dir, seed.to_owned(), None, clock, settings, None).await
    }

    /// As `with_seed`, with a rule host of the server's own, built from `config` and new at
    /// each restart (an empty compiled-module cache, as after a process restart). The seed is
    /// still validated with the shared host.
    pub async fn with_own_host(seed: &str, config: HostConfig) -> TestServer {
        let mut server = TestServer::with_seed("", &[]).await;
        server.host_config = Some(config);
        server.restart_with_seed(seed).await
    }

    async fn boot(
        dir: Arc<tempfile::TempDir>,
        seed: String,
        issuer_base: Option<String>,
        clock: Arc<ManualClock>,
        settings: Settings,
        host_config: Option<HostConfig>,
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = format!("http://{}", listener.local_addr().expect("bound"));
        let issuer_base = issuer_base.unwrap_or_else(|| addr.clone());
        let seed_path = dir.path().join("seed.toml");
        std::fs::write(&seed_path, seed.replace("{base}", &issuer_base)).expect("write seed");
        let store = Arc::new(open_released(&dir.path().join("data")));
        let host = shared_host();
        let own_host = host_config
            .clone()
            .map(|config| Arc::new(RuleHost::new(config).expect("host starts")));
        Seed::load(&seed_path)
            .expect("seed parses")
            .apply(
                store.as_ref(),
                &host,
                &OperatorKey::insecure_dev(),
                oidc_server::Clock::now(&*clock),
            )
            .expect("seed applies");
        let state = AppState::new(
            Arc::clone(&store) as Arc<dyn oidc_core::Store>,
            own_host.unwrap_or(host),
            Arc::clone(&clock) as Arc<dyn oidc_server::Clock>,
            OperatorKey::insecure_dev(),
            settings.clone(),
        )
        .expect("state");
        let (shutdown, stop) = oneshot::channel::<()>();
        let serving = state.clone();
        let task = tokio::spawn(async move {
            oidc_server::serve(listener, serving, async {
                let _ = stop.await;
            })
            .await
            .expect("server runs");
        });
        TestServer {
            addr,
            issuer_base,
            clock,
            state,
            store,
            settings,
            http: crate::http(),
            dir,
            seed,
            host_config,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// Stops the server, closes the store, and starts again on the same directory.
    pub async fn restart(self) -> TestServer {
        let seed = self.seed.clone();
        self.restart_with_seed(&seed).await
    }

    /// As `restart`, applying `seed` (`""`: none) instead of the first one.
    pub async fn restart_with_seed(mut self, seed: &str) -> TestServer {
        self.seed = seed.to_owned();
        self.stop().await;
        let (dir, seed, issuer_base, clock, settings, host_config) = (
            Arc::clone(&self.dir),
            self.seed.clone(),
            self.issuer_base.clone(),
            Arc::clone(&self.clock),
            self.settings.clone(),
            self.host_config.clone(),
        );
        let state = self.state.clone();
        drop(self);
        // Closing the state releases the store, so the new one can open the directory.
        state.close().await.expect("no request is in flight");
        Self::boot(dir, seed, Some(issuer_base), clock, settings, host_config).await
    }

    async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server stops cleanly");
        }
    }

    /// The data directory (for tests that inspect the files).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// `{addr}/t/{tenant}/{path}`.
    pub fn url(&self, tenant: &str, path: &str) -> String {
        format!("{}/t/{tenant}/{path}", self.addr)
    }

    /// The issuer a tenant's tokens carry.
    pub fn issuer(&self, tenant: &str) -> String {
        format!("{}/t/{tenant}/", self.issuer_base)
    }

    /// POSTs form parameters to a tenant's token endpoint.
    pub async fn token(&self, tenant: &str, params: &[(&str, &str)]) -> Reply {
        self.post_form(&self.url(tenant, "oauth/token"), params)
            .await
    }

    pub async fn post_form(&self, url: &str, params: &[(&str, &str)]) -> Reply {
        let body = form(params);
        self.send(
            self.http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            body,
            headers,
        }
    }
}

/// Encodes form parameters.
pub fn form(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
