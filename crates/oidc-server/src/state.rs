//! What every handler shares: the store, the rule host, the clock, and per-tenant caches.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use oidc_core::{Entropy as _, Sealer, Store, SystemEntropy, Tenant, TenantKeys};
use oidc_store::SledStore;
use rules_host::{ChainRule, RuleHost, RuleLimits};

use crate::clock::Clock;
use crate::durability::GroupCommit;
use crate::paths::Paths;

/// Why the server state could not be built or a tenant not loaded.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("store: {0}")]
    Store(#[from] oidc_core::StoreError),
    #[error("tenant {tenant}: {reason}")]
    Tenant { tenant: String, reason: String },
}

/// A tenant ready to serve: its record, parsed keys, endpoint URLs and compiled rule chain.
#[derive(Debug)]
pub(crate) struct TenantRuntime {
    pub(crate) tenant: Tenant,
    pub(crate) keys: TenantKeys,
    pub(crate) paths: Paths,
    /// `Err` names a rule that could not be loaded: then every issuance fails closed.
    pub(crate) chain: Result<Vec<ChainRule>, String>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<SledStore>,
    host: Arc<RuleHost>,
    clock: Arc<dyn Clock>,
    sealer: Sealer,
    commit: GroupCommit,
    limits: RuleLimits,
    tenants: RwLock<HashMap<String, Arc<TenantRuntime>>>,
    /// Bounds the domain work running at once to the cores: dozens of blocking threads
    /// contending for two cores cost more in context switches than they gain.
    workers: tokio::sync::Semaphore,
}

/// The server's shared state. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// Builds the state; starts the group-commit task, so call it inside a tokio runtime.
    pub fn new(
        store: Arc<SledStore>,
        host: Arc<RuleHost>,
        clock: Arc<dyn Clock>,
    ) -> Result<AppState, StateError> {
        let key = store.seal_key(|| {
            let mut key = [0u8; 32];
            SystemEntropy.fill(&mut key);
            key
        })?;
        let sealer = Sealer::new(&key).ok_or_else(|| StateError::Tenant {
            tenant: "*".into(),
            reason: "the stored sealing key is not 32 bytes".into(),
        })?;
        let commit = GroupCommit::start(Arc::clone(&store) as Arc<dyn Store>);
        Ok(AppState(Arc::new(Inner {
            store,
            host,
            clock,
            sealer,
            commit,
            limits: RuleLimits::default(),
            tenants: RwLock::new(HashMap::new()),
            workers: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, usize::from),
            ),
        })))
    }

    /// Stops background work, flushes, and releases the store, so the directory can be opened
    /// again. Gives the state back if other clones are still alive (a request in flight).
    pub async fn close(self) -> Result<(), AppState> {
        let mut inner = Arc::try_unwrap(self.0).map_err(AppState)?;
        inner.commit.stop().await;
        if let Err(error) = inner.store.flush() {
            tracing::error!("final flush failed: {error}");
        }
        Ok(())
    }

    pub fn store(&self) -> &Arc<SledStore> {
        &self.0.store
    }

    pub(crate) fn host(&self) -> &RuleHost {
        &self.0.host
    }

    pub(crate) fn now(&self) -> oidc_core::UnixMillis {
        self.0.clock.now()
    }

    pub(crate) fn sealer(&self) -> &Sealer {
        &self.0.sealer
    }

    pub(crate) fn limits(&self) -> &RuleLimits {
        &self.0.limits
    }

    /// Runs synchronous domain work (rules, the store, signing) on a blocking thread, at most
    /// one per core at a time.
    pub(crate) async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, oidc_core::OAuthError> {
        let _permit = self
            .0
            .workers
            .acquire()
            .await
            .map_err(|_| oidc_core::OAuthError::server_error())?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| oidc_core::OAuthError::server_error())
    }

    /// Waits until every write so far is durable.
    pub(crate) async fn commit(&self) -> Result<(), ()> {
        self.0.commit.commit().await
    }

    /// The tenant's runtime, loaded on first use and cached.
    pub(crate) fn tenant(&self, id: &str) -> Result<Option<Arc<TenantRuntime>>, StateError> {
        if let Some(runtime) = self
            .0
            .tenants
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
        {
            return Ok(Some(Arc::clone(runtime)));
        }
        let Some(tenant) = self.0.store.tenant(id)? else {
            return Ok(None);
        };
        let runtime = Arc::new(self.load(tenant)?);
        let mut tenants = self
            .0
            .tenants
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(Some(Arc::clone(
            tenants.entry(id.to_owned()).or_insert(runtime),
        )))
    }

    fn load(&self, tenant: Tenant) -> Result<TenantRuntime, StateError> {
        let failed = |reason: String| StateError::Tenant {
            tenant: tenant.id.clone(),
            reason,
        };
        let keys = TenantKeys::new(&self.0.store.keys(&tenant.id)?, tenant.signing_alg)
            .map_err(|e| failed(e.to_string()))?;
        let mut chain = Vec::new();
        let mut broken = None;
        for rule in self.0.store.rules(&tenant.id)? {
            let module = self.0.store.module(&rule.module_hash)?.unwrap_or_default();
            match self.0.host.load(&module, &self.0.limits) {
                Ok(module) => chain.push(ChainRule {
                    name: rule.name,
                    order: rule.order,
                    enabled: rule.enabled,
                    module,
                }),
                Err(error) => {
                    tracing::error!(tenant = %tenant.id, rule = %rule.name, "rule cannot be loaded: {error}");
                    broken.get_or_insert(format!("Rule '{}' could not be loaded.", rule.name));
                }
            }
        }
        Ok(TenantRuntime {
            paths: Paths::for_issuer(&tenant.issuer),
            keys,
            chain: broken.map_or(Ok(chain), Err),
            tenant,
        })
    }
}
