//! What every handler shares: the store, the rule host, the clock, the deployment's keys,
//! brute-force protection, the fair scheduler, and every tenant loaded and ready.
//!
//! Tenants (records, parsed keys, rule sets, host names) are loaded when the state is built,
//! so a request never touches the store to find its tenant, and a tenant that cannot load
//! stops the start instead of failing its first request. Rule modules are not compiled then:
//! a chain takes its compiled modules from the rule host's cache, bounded by a memory budget,
//! and compiles a module at its first use (start-up cost and memory do not grow with the
//! number of tenants' rules).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use oidc_core::vault::{self, DeploymentError};
use oidc_core::{
    LoginThrottle, OperatorKey, RefreshKeys, RuleRecord, RuleSet, Store, SystemEntropy, Tenant,
    TenantKeys, ThrottleSettings,
};
use rules_host::{ChainRule, ModuleHash, RuleHost, RuleLimits};

use crate::clock::Clock;
use crate::durability::GroupCommit;
use crate::fair::{Fair, FairSettings, Overloaded, Reply};
use crate::paths::Paths;
use crate::periodic::Periodic;

/// Why the server state could not be built or a tenant not loaded.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("store: {0}")]
    Store(#[from] oidc_core::StoreError),
    #[error("operator key: {0}")]
    Deployment(#[from] DeploymentError),
    #[error("tenant {tenant}: {reason}")]
    Tenant { tenant: String, reason: String },
}

/// Settings of a server process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub fair: FairSettings,
    pub throttle: ThrottleSettings,
    /// How often the background sweep of dead refresh-token families runs.
    pub sweep_every: Duration,
    /// How long a request refused by brute-force protection waits before its 429: a guesser
    /// in a loop then costs a sleeping connection, not a core.
    pub tarpit: Duration,
    /// The operator API's credential, hashed; `None` turns the operator API off.
    pub operator_token: Option<oidc_core::SecretHash>,
    /// How often a node looks for tenants changed through another node.
    pub propagate_every: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            fair: FairSettings::default(),
            throttle: ThrottleSettings::default(),
            sweep_every: Duration::from_secs(60),
            tarpit: Duration::from_millis(500),
            operator_token: None,
            propagate_every: Duration::from_secs(1),
        }
    }
}

/// Where blocking work runs: the normal lane, or the low-priority slow lane (password
/// hashing).
///
/// Password hashing is meant to be expensive (tens of milliseconds of a core per login), so a
/// flood of guesses is a flood of CPU work. The fair scheduler keeps a flooded tenant to its
/// share of a lane; the slow lane's threads also run at `nice` [`SLOW_LANE_NICE`], so the
/// operating system gives hashing what the rest (the reactor, other tenants' refreshes)
/// leaves over when the cores are contended, and full speed when they are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    Normal,
    Slow,
}

/// Niceness of the slow lane's threads (0 is normal, 19 the lowest priority). At 10 the lane
/// gets about a tenth of a contended core: a flood of guesses barely slows other work, and a
/// real login still completes in a fraction of a second under full load (at 19 it got 1.5%,
/// and logins took seconds).
const SLOW_LANE_NICE: i32 = 10;

/// A tenant ready to serve: its record, parsed keys, endpoint URLs and rule set.
#[derive(Debug)]
pub(crate) struct TenantRuntime {
    pub(crate) tenant: Tenant,
    pub(crate) keys: TenantKeys,
    pub(crate) paths: Paths,
    /// The rules the chain runs (its configuration goes into every call).
    pub(crate) rules: RuleSet,
    /// Every client's `web_origins`: the origins CORS lets call the token, revoke and
    /// userinfo endpoints (a preflight does not say which client is asking).
    pub(crate) web_origins: std::collections::BTreeSet<String>,
}

impl TenantRuntime {
    /// The rules `pick` selects, in the set's order, with their compiled modules: from the
    /// host's cache, or read from the store and compiled on a miss. Blocking.
    ///
    /// `Err` names the first rule that could not be loaded: the caller fails closed.
    pub(crate) fn chain(
        &self,
        host: &RuleHost,
        store: &dyn Store,
        limits: &RuleLimits,
        pick: impl Fn(&RuleRecord) -> bool,
    ) -> Result<Vec<ChainRule>, String> {
        let tenant = &self.tenant.id;
        self.rules
            .rules
            .iter()
            .filter(|rule| pick(rule))
            .map(|rule| {
                let module = ModuleHash::from_hex(&rule.module_hash)
                    .ok_or_else(|| "malformed module hash".to_owned())
                    .and_then(|hash| {
                        host.load_stored(hash, limits, || store.module(tenant, &rule.module_hash))
                            .map_err(|e| e.to_string())
                    });
                match module {
                    Ok(module) => Ok(ChainRule {
                        name: rule.name.clone(),
                        order: rule.order,
                        enabled: rule.enabled,
                        module,
                    }),
                    Err(error) => {
                        tracing::error!(%tenant, rule = %rule.name, "rule cannot be loaded: {error}");
                        Err(format!("Rule '{}' could not be loaded.", rule.name))
                    }
                }
            })
            .collect()
    }
}

#[derive(Debug, Default)]
struct Tenants {
    by_id: HashMap<String, Arc<TenantRuntime>>,
    by_host: HashMap<String, String>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    store: Arc<dyn Store>,
    host: Arc<RuleHost>,
    clock: Arc<dyn Clock>,
    operator: OperatorKey,
    refresh_keys: RefreshKeys,
    throttle: LoginThrottle,
    /// One scheduler per lane: the slow lane's low-priority threads yield the CPU, so they do
    /// not take workers from the normal lane, and each lane is fair across tenants.
    fair: Fair,
    fair_slow: Fair,
    commit: GroupCommit,
    sweeper: Periodic,
    watcher: Periodic,
    tarpit: Duration,
    limits: RuleLimits,
    operator_token: Option<oidc_core::SecretHash>,
    metrics: crate::metrics::Metrics,
    /// The store as `store` serves it, for dropping its cache when a tenant changes.
    served: Arc<crate::served_store::ServedStore>,
    logs: crate::log_writer::LogWriter,
    tenants: RwLock<Tenants>,
}

/// The server's shared state. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// Builds the state: opens the deployment secret with the operator key, loads every
    /// tenant, and starts the group-commit and sweep tasks (so call it inside a tokio
    /// runtime). Blocking: it reads the store and compiles rules.
    pub fn new(
        store: Arc<dyn Store>,
        host: Arc<RuleHost>,
        clock: Arc<dyn Clock>,
        operator: OperatorKey,
        settings: Settings,
    ) -> Result<AppState, StateError> {
        let metrics = crate::metrics::Metrics::default();
        let served = Arc::new(crate::served_store::ServedStore::new(
            store,
            metrics.store_latency(),
        ));
        let store: Arc<dyn Store> = Arc::clone(&served) as Arc<dyn Store>;
        let secret = vault::deployment_secret(store.as_ref(), &operator, &mut SystemEntropy)?;
        let limits = RuleLimits::default();
        // The epochs before the tenants: a change landing in between is reloaded once more.
        let epochs = crate::propagation::read(store.as_ref())?;
        let tenants = load_tenants(store.as_ref(), &operator)?;
        let commit = GroupCommit::start(Arc::clone(&store), settings.fair.workers);
        let logs = crate::log_writer::LogWriter::start(Arc::clone(&store));
        let inner = Arc::new_cyclic(|weak| Inner {
            refresh_keys: RefreshKeys::derive(&secret),
            throttle: LoginThrottle::new(settings.throttle),
            fair: Fair::start(settings.fair.clone(), "domain", None),
            // Waits are longer on the slow lane: its threads yield to everything else. Half
            // the cores: Argon2 streams 19 MiB per hash through the caches every other thread
            // relies on, and a low priority does not protect a cache.
            fair_slow: Fair::start(
                FairSettings {
                    workers: settings.fair.workers.div_ceil(2),
                    max_wait: settings.fair.max_wait * 4,
                    ..settings.fair.clone()
                },
                "slow-lane",
                Some(SLOW_LANE_NICE),
            ),
            commit,
            sweeper: crate::sweeper::start(weak.clone(), settings.sweep_every),
            watcher: crate::propagation::watch(weak.clone(), settings.propagate_every, epochs),
            tarpit: settings.tarpit,
            operator_token: settings.operator_token,
            metrics,
            served,
            logs,
            limits,
            tenants: RwLock::new(tenants),
            store,
            host,
            clock,
            operator,
        });
        Ok(AppState(inner))
    }

    /// Stops background work, flushes, and releases the store, so the directory can be opened
    /// again. Gives the state back if other clones are still alive (a request in flight).
    pub async fn close(self) -> Result<(), AppState> {
        self.0.sweeper.stop().await;
        self.0.watcher.stop().await;
        let mut inner = Arc::try_unwrap(self.0).map_err(AppState)?;
        // The last log events, before the last flush (the writer lets go of the store).
        let logs = inner.logs;
        let _ = tokio::task::spawn_blocking(move || logs.stop()).await;
        inner.commit.stop().await;
        if let Err(error) = inner.store.flush() {
            tracing::error!("final flush failed: {error}");
        }
        Ok(())
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> AppState {
        AppState(inner)
    }

    pub(crate) fn log_writer(&self) -> &crate::log_writer::LogWriter {
        &self.0.logs
    }

    /// Waits until the log events of every request answered so far are stored: a read of
    /// the tenant log sees them. Blocking.
    pub fn settle_logs(&self) {
        self.0.logs.settle();
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.0.store
    }

    pub(crate) fn host(&self) -> &RuleHost {
        &self.0.host
    }

    pub(crate) fn metrics(&self) -> &crate::metrics::Metrics {
        &self.0.metrics
    }

    /// What the compiled-rule cache holds and did.
    pub fn rule_cache(&self) -> rules_host::CacheStats {
        self.0.host.cache_stats()
    }

    pub(crate) fn now(&self) -> oidc_core::UnixMillis {
        self.0.clock.now()
    }

    pub(crate) fn refresh_keys(&self) -> &RefreshKeys {
        &self.0.refresh_keys
    }

    pub(crate) fn throttle(&self) -> &LoginThrottle {
        &self.0.throttle
    }

    pub(crate) fn limits(&self) -> &RuleLimits {
        &self.0.limits
    }

    /// Runs synchronous domain work (rules, the store, signing) for `tenant` on a thread of
    /// `lane`, when the fair scheduler gives the tenant one; 503 with `Retry-After` when its
    /// queue is full or its wait too long.
    pub(crate) async fn run_blocking<T: Send + 'static>(
        &self,
        tenant: &str,
        lane: Lane,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, oidc_core::OAuthError> {
        answered(self.lane(lane).run(tenant, work).await)
    }

    /// [`AppState::run_blocking`], with `deliver` handing the work's output over from the
    /// lane's thread (see [`Fair::run_then`]).
    pub(crate) async fn run_then<T: Send + 'static, U: Send + 'static>(
        &self,
        tenant: &str,
        lane: Lane,
        work: impl FnOnce() -> T + Send + 'static,
        deliver: impl FnOnce(T, Reply<U>) + Send + 'static,
    ) -> Result<U, oidc_core::OAuthError> {
        answered(self.lane(lane).run_then(tenant, work, deliver).await)
    }

    fn lane(&self, lane: Lane) -> &Fair {
        match lane {
            Lane::Normal => &self.0.fair,
            Lane::Slow => &self.0.fair_slow,
        }
    }

    /// How long a request refused by brute-force protection waits for its answer.
    pub(crate) fn tarpit(&self) -> Duration {
        self.0.tarpit
    }

    /// Waits until every write so far is durable.
    pub(crate) async fn commit(&self) -> Result<(), oidc_core::StoreError> {
        self.0.commit.commit().await
    }

    /// Notes a token request about to run in the domain lanes: a flush under load waits for
    /// it to ask for its commit (or to drop what this returns, having written nothing).
    pub(crate) fn expect_commit(&self) -> crate::durability::Expected {
        self.0.commit.expect()
    }

    /// What a lane hands a token request's result to, once it is durable (see
    /// [`crate::durability::Committer::when_durable`]); it does not keep this state alive.
    pub(crate) fn committer(&self) -> crate::durability::Committer {
        self.0.commit.committer()
    }

    /// [`AppState::commit`] for a request [`AppState::expect_commit`] noted.
    pub(crate) async fn commit_expected(
        &self,
        expected: crate::durability::Expected,
    ) -> Result<(), oidc_core::StoreError> {
        self.0.commit.commit_expected(expected).await
    }

    /// Sweeps every tenant's dead refresh-token families once, now (the background task
    /// does it on a timer and at start).
    pub async fn sweep_now(
        &self,
    ) -> Result<oidc_core::refresh::lifecycle::Swept, oidc_core::StoreError> {
        crate::sweeper::sweep_all(self).await
    }

    /// The tenant with this id, if it exists.
    pub(crate) fn tenant(&self, id: &str) -> Option<Arc<TenantRuntime>> {
        self.read_tenants().by_id.get(id).cloned()
    }

    /// The tenant a host name addresses, if any.
    pub(crate) fn tenant_for_host(&self, host: &str) -> Option<Arc<TenantRuntime>> {
        let tenants = self.read_tenants();
        let id = tenants.by_host.get(&host.to_ascii_lowercase())?;
        tenants.by_id.get(id).cloned()
    }

    /// Ids of every loaded tenant.
    pub(crate) fn tenant_ids(&self) -> Vec<String> {
        self.read_tenants().by_id.keys().cloned().collect()
    }

    fn read_tenants(&self) -> std::sync::RwLockReadGuard<'_, Tenants> {
        self.0
            .tenants
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn operator_key(&self) -> &OperatorKey {
        &self.0.operator
    }

    /// Whether `token` is the operator API's credential (compared in constant time); always
    /// false when the operator API is off.
    pub(crate) fn is_operator(&self, token: &oidc_core::Secret) -> bool {
        self.0
            .operator_token
            .as_ref()
            .is_some_and(|hash| hash.matches(token))
    }

    pub(crate) fn operator_api_enabled(&self) -> bool {
        self.0.operator_token.is_some()
    }

    /// Reloads one tenant after a change: its record, keys and rule set (compiled modules
    /// stay in the host's cache). A tenant gone from the store is dropped.
    /// Blocking.
    ///
    /// Two changes racing each reload; the one that read the newer rule set wins, so an
    /// older reload never replaces a newer chain.
    pub(crate) fn reload_tenant(&self, id: &str) -> Result<(), StateError> {
        self.load_tenant(id)
    }

    /// Reloads a tenant after a change made here, and tells the other nodes. Blocking.
    pub(crate) fn changed_tenant(&self, id: &str) -> Result<(), StateError> {
        self.load_tenant(id)?;
        crate::propagation::bump(self.0.store.as_ref(), id)?;
        Ok(())
    }

    fn load_tenant(&self, id: &str) -> Result<(), StateError> {
        let inner = &self.0;
        // Whatever changed (here or on another node), the cached clients and APIs go too.
        inner.served.forget(id);
        let loaded = match inner.store.tenant(id)? {
            Some(tenant) => Some(load(inner.store.as_ref(), &inner.operator, tenant)?),
            None => None,
        };
        let mut tenants = inner
            .tenants
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let current = tenants.by_id.get(id).cloned();
        if let (Some(current), Some(loaded)) = (&current, &loaded)
            && current.rules.version > loaded.rules.version
        {
            return Ok(());
        }
        tenants.by_host.retain(|_, owner| owner != id);
        match loaded {
            Some(runtime) => {
                for name in &runtime.tenant.hosts {
                    tenants
                        .by_host
                        .insert(name.to_ascii_lowercase(), id.to_owned());
                }
                tenants.by_id.insert(id.to_owned(), Arc::new(runtime));
            }
            None => {
                tenants.by_id.remove(id);
            }
        }
        Ok(())
    }

    /// Loads every tenant from the store, replacing what was loaded. Blocking.
    pub fn reload_tenants(&self) -> Result<(), StateError> {
        let inner = &self.0;
        inner.served.forget_all();
        let loaded = load_tenants(inner.store.as_ref(), &inner.operator)?;
        *inner
            .tenants
            .write()
            .unwrap_or_else(PoisonError::into_inner) = loaded;
        Ok(())
    }
}

fn load_tenants(store: &dyn Store, operator: &OperatorKey) -> Result<Tenants, StateError> {
    let mut loaded = Tenants::default();
    for tenant in store.tenants()? {
        for name in &tenant.hosts {
            loaded
                .by_host
                .insert(name.to_ascii_lowercase(), tenant.id.clone());
        }
        let id = tenant.id.clone();
        loaded
            .by_id
            .insert(id, Arc::new(load(store, operator, tenant)?));
    }
    Ok(loaded)
}

fn load(
    store: &dyn Store,
    operator: &OperatorKey,
    tenant: Tenant,
) -> Result<TenantRuntime, StateError> {
    let failed = |reason: String| StateError::Tenant {
        tenant: tenant.id.clone(),
        reason,
    };
    let materials = store
        .keys(&tenant.id)?
        .iter()
        .map(|stored| {
            stored
                .unwrap(&tenant.id, operator)
                .map_err(|e| failed(format!("signing key {}: {e}", stored.kid)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let keys =
        TenantKeys::new(&materials, tenant.signing_alg).map_err(|e| failed(e.to_string()))?;
    let web_origins = store
        .clients(&tenant.id)?
        .into_iter()
        .flat_map(|client| client.web_origins)
        .collect();
    Ok(TenantRuntime {
        paths: Paths::for_issuer(&tenant.issuer),
        keys,
        rules: store.rule_set(&tenant.id)?,
        web_origins,
        tenant,
    })
}

/// A lane's answer as a request sees it: 500 if the work panicked or its result was lost, 503
/// with `Retry-After` if the lane refused it.
fn answered<T>(result: Result<Option<T>, Overloaded>) -> Result<T, oidc_core::OAuthError> {
    match result {
        Ok(result) => result.ok_or_else(oidc_core::OAuthError::server_error),
        Err(overloaded) => {
            let reason = match overloaded {
                Overloaded::QueueFull => "Too many requests are waiting for this tenant.",
                Overloaded::WaitedTooLong => "The server is busy.",
            };
            Err(oidc_core::OAuthError::unavailable(
                format!("{reason} Retry later."),
                1,
            ))
        }
    }
}
