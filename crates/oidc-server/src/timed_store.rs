//! Store latency for the operator's metrics: every call through the port is timed, by
//! operation, whatever the engine. Wrapping the port (rather than instrumenting each engine)
//! times exactly what the domain waits for, pool waits and retries included.

use std::sync::Arc;
use std::time::Instant;

use oidc_core::refresh::RefreshFamily;
use oidc_core::{
    Api, Change, Client, FlowKind, FlowRecord, FlowWrite, MetaListener, PoolUse, RuleSet, Store,
    StoreError, StoredKey, Tenant, User,
};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use crate::metrics::StoreLabels;

/// The port, timed.
pub(crate) struct TimedStore {
    inner: Arc<dyn Store>,
    latency: Family<StoreLabels, Histogram, fn() -> Histogram>,
}

impl std::fmt::Debug for TimedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TimedStore").field(&self.inner).finish()
    }
}

impl TimedStore {
    pub(crate) fn new(
        inner: Arc<dyn Store>,
        latency: Family<StoreLabels, Histogram, fn() -> Histogram>,
    ) -> TimedStore {
        TimedStore { inner, latency }
    }

    fn observe(&self, operation: &'static str, started: Instant) {
        self.latency
            .get_or_create(&StoreLabels { operation })
            .observe(started.elapsed().as_secs_f64());
    }
}

/// Forwards each method to the engine and times it under the method's name.
macro_rules! timed {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
        impl Store for TimedStore {
            $(fn $name(&self $(, $arg: $ty)*) -> $ret {
                let started = Instant::now();
                let result = self.inner.$name($($arg),*);
                self.observe(stringify!($name), started);
                result
            })*

            fn pool(&self) -> Option<PoolUse> {
                self.inner.pool()
            }
        }
    };
}

timed! {
    fn tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError>;
    fn tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    fn tenant_for_host(&self, host: &str) -> Result<Option<String>, StoreError>;
    fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    fn delete_tenant(&self, id: &str) -> Result<(), StoreError>;
    fn keys(&self, tenant: &str) -> Result<Vec<StoredKey>, StoreError>;
    fn put_key(&self, tenant: &str, key: &StoredKey) -> Result<(), StoreError>;
    fn delete_key(&self, tenant: &str, kid: &str) -> Result<bool, StoreError>;
    fn client(&self, tenant: &str, client_id: &str) -> Result<Option<Client>, StoreError>;
    fn put_client(&self, tenant: &str, client: &Client) -> Result<(), StoreError>;
    fn api(&self, tenant: &str, identifier: &str) -> Result<Option<Api>, StoreError>;
    fn put_api(&self, tenant: &str, api: &Api) -> Result<(), StoreError>;
    fn clients(&self, tenant: &str) -> Result<Vec<Client>, StoreError>;
    fn delete_client(&self, tenant: &str, client_id: &str) -> Result<bool, StoreError>;
    fn apis(&self, tenant: &str) -> Result<Vec<Api>, StoreError>;
    fn delete_api(&self, tenant: &str, identifier: &str) -> Result<bool, StoreError>;
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
