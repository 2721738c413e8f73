//! The port as the server serves it: every call timed by operation for the operator's
//! metrics, whatever the engine (wrapping the port rather than instrumenting each engine
//! times exactly what the domain waits for, pool waits included), and each tenant's clients
//! and APIs cached in memory, since every token request reads them and they change rarely.
//!
//! The cache is filled on first read (only what exists: an unknown client id costs a read,
//! never memory) and dropped per tenant on every write through it and whenever the tenant is
//! reloaded, which is how a change made on another node arrives (`propagation.rs`). A read
//! that raced a change never caches what it read (a generation count guards the fill).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use oidc_core::refresh::RefreshFamily;
use oidc_core::{
    Api, Change, Client, FlowKind, FlowRecord, FlowWrite, MetaListener, PoolUse, RuleSet, Store,
    StoreError, StoredKey, Tenant, User,
};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use crate::metrics::StoreLabels;

/// One tenant's cached records.
#[derive(Debug, Default)]
struct Cached {
    clients: HashMap<String, Client>,
    apis: HashMap<String, Api>,
}

/// The port, timed and with clients and APIs cached.
pub(crate) struct ServedStore {
    inner: Arc<dyn Store>,
    latency: Family<StoreLabels, Histogram, fn() -> Histogram>,
    cache: RwLock<HashMap<String, Cached>>,
    /// Moves at every invalidation: a fill started before one is not kept.
    generation: AtomicU64,
}

impl std::fmt::Debug for ServedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ServedStore").field(&self.inner).finish()
    }
}

impl ServedStore {
    pub(crate) fn new(
        inner: Arc<dyn Store>,
        latency: Family<StoreLabels, Histogram, fn() -> Histogram>,
    ) -> ServedStore {
        ServedStore {
            inner,
            latency,
            cache: RwLock::default(),
            generation: AtomicU64::new(0),
        }
    }

    fn observe(&self, operation: &'static str, started: Instant) {
        self.latency
            .get_or_create(&StoreLabels { operation })
            .observe(started.elapsed().as_secs_f64());
    }

    fn timed<T>(&self, operation: &'static str, call: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = call();
        self.observe(operation, started);
        result
    }

    /// Drops what is cached of `tenant`: after a write here, or a reload for a change made
    /// anywhere.
    pub(crate) fn forget(&self, tenant: &str) {
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        cache.remove(tenant);
    }

    /// Drops everything cached.
    pub(crate) fn forget_all(&self) {
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        cache.clear();
    }

    /// `pick` from the cache, or `read` from the engine (timed as `operation`) and cached
    /// with `keep` unless an invalidation came in between.
    fn cached<T: Clone>(
        &self,
        operation: &'static str,
        tenant: &str,
        pick: impl Fn(&Cached) -> Option<&T>,
        keep: impl FnOnce(&mut Cached, T),
        read: impl FnOnce() -> Result<Option<T>, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        {
            let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(hit) = cache.get(tenant).and_then(&pick) {
                return Ok(Some(hit.clone()));
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let read = self.timed(operation, read)?;
        if let Some(record) = &read {
            let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
            if self.generation.load(Ordering::Acquire) == generation {
                keep(cache.entry(tenant.to_owned()).or_default(), record.clone());
            }
        }
        Ok(read)
    }

    /// A write that changes what is cached of `tenant`: timed, then the tenant forgotten
    /// (after the write, so no read can cache what it replaced).
    fn changing<T>(&self, operation: &'static str, tenant: &str, write: impl FnOnce() -> T) -> T {
        let result = self.timed(operation, write);
        self.forget(tenant);
        result
    }
}

/// Forwards each method to the engine and times it under the method's name.
macro_rules! timed {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
        impl Store for ServedStore {
            $(fn $name(&self $(, $arg: $ty)*) -> $ret {
                self.timed(stringify!($name), || self.inner.$name($($arg),*))
            })*

            fn client(&self, tenant: &str, client_id: &str) -> Result<Option<Client>, StoreError> {
                self.cached(
                    "client",
                    tenant,
                    |cached| cached.clients.get(client_id),
                    |cached, client| {
                        cached.clients.insert(client_id.to_owned(), client);
                    },
                    || self.inner.client(tenant, client_id),
                )
            }

            fn api(&self, tenant: &str, identifier: &str) -> Result<Option<Api>, StoreError> {
                self.cached(
                    "api",
                    tenant,
                    |cached| cached.apis.get(identifier),
                    |cached, api| {
                        cached.apis.insert(identifier.to_owned(), api);
                    },
                    || self.inner.api(tenant, identifier),
                )
            }

            fn put_client(&self, tenant: &str, client: &Client) -> Result<(), StoreError> {
                self.changing("put_client", tenant, || self.inner.put_client(tenant, client))
            }

            fn delete_client(&self, tenant: &str, client_id: &str) -> Result<bool, StoreError> {
                self.changing("delete_client", tenant, || {
                    self.inner.delete_client(tenant, client_id)
                })
            }

            fn put_api(&self, tenant: &str, api: &Api) -> Result<(), StoreError> {
                self.changing("put_api", tenant, || self.inner.put_api(tenant, api))
            }

            fn delete_api(&self, tenant: &str, identifier: &str) -> Result<bool, StoreError> {
                self.changing("delete_api", tenant, || {
                    self.inner.delete_api(tenant, identifier)
                })
            }

            fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
                self.changing("put_tenant", &tenant.id, || self.inner.put_tenant(tenant))
            }

            fn delete_tenant(&self, id: &str) -> Result<(), StoreError> {
                self.changing("delete_tenant", id, || self.inner.delete_tenant(id))
            }

            fn pool(&self) -> Option<PoolUse> {
                self.inner.pool()
            }

            fn durable_on_write(&self) -> bool {
                self.inner.durable_on_write()
            }
        }
    };
}

timed! {
    fn tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError>;
    fn tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    fn tenant_for_host(&self, host: &str) -> Result<Option<String>, StoreError>;
    fn keys(&self, tenant: &str) -> Result<Vec<StoredKey>, StoreError>;
    fn put_key(&self, tenant: &str, key: &StoredKey) -> Result<(), StoreError>;
    fn delete_key(&self, tenant: &str, kid: &str) -> Result<bool, StoreError>;
    fn clients(&self, tenant: &str) -> Result<Vec<Client>, StoreError>;
    fn apis(&self, tenant: &str) -> Result<Vec<Api>, StoreError>;
    fn user(&self, tenant: &str, user_id: &str) -> Result<Option<User>, StoreError>;
    fn user_by_login(&self, tenant: &str, login: &str) -> Result<Option<User>, StoreError>;
    fn put_user(&self, tenant: &str, user: &User) -> Result<(), StoreError>;
    fn users_page(&self, tenant: &str, after: Option<&str>, limit: usize) -> Result<Vec<User>, StoreError>;
    fn delete_user(&self, tenant: &str, user_id: &str) -> Result<bool, StoreError>;
    fn rule_set(&self, tenant: &str) -> Result<RuleSet, StoreError>;
    fn put_rule_set(&self, tenant: &str, expected_version: u64, set: &RuleSet, modules: &[(&str, &[u8])]) -> Result<bool, StoreError>;
    fn module(&self, tenant: &str, hash: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn refresh_family(&self, tenant: &str, family_id: &str) -> Result<Option<RefreshFamily>, StoreError>;
    fn refresh_families(&self, tenant: &str, user_id: &str, client_id: Option<&str>) -> Result<Vec<RefreshFamily>, StoreError>;
    fn refresh_page(&self, tenant: &str, after: Option<&str>, limit: usize) -> Result<Vec<RefreshFamily>, StoreError>;
    fn refresh_delete(&self, tenant: &str, family_id: &str, expected_version: u64) -> Result<bool, StoreError>;
    fn apply(&self, tenant: &str, change: &Change<'_>) -> Result<bool, StoreError>;
    fn userinfo_claims(&self, tenant: &str, user_id: &str, client_id: &str) -> Result<rules_abi::Claims, StoreError>;
    fn append_logs(&self, tenant: &str, events: &[oidc_core::audit::LogEvent]) -> Result<(), StoreError>;
    fn logs(&self, tenant: &str, after: Option<&str>, limit: usize, newest_first: bool) -> Result<Vec<oidc_core::audit::LogEvent>, StoreError>;
    fn log(&self, tenant: &str, id: &str) -> Result<Option<oidc_core::audit::LogEvent>, StoreError>;
    fn trim_logs(&self, tenant: &str, keep: usize, before: &str) -> Result<usize, StoreError>;
    fn flow(&self, tenant: &str, kind: FlowKind, id: &str) -> Result<Option<FlowRecord>, StoreError>;
    fn write_flow(&self, tenant: &str, kind: FlowKind, id: &str, write: FlowWrite<'_>) -> Result<bool, StoreError>;
    fn flow_page(&self, tenant: &str, kind: FlowKind, after: Option<&str>, limit: usize) -> Result<Vec<(String, FlowRecord)>, StoreError>;
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn meta_swap(&self, name: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool, StoreError>;
    fn flush(&self) -> Result<(), StoreError>;
    fn listen_meta(&self) -> Result<Option<Box<dyn MetaListener>>, StoreError>;
}
