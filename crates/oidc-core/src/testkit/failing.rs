//! A [`Store`] wrapper that fails on purpose: the n-th write from now fails before it is
//! applied (an IO error), or is applied and then reported failed (a crash or a lost reply
//! right after the commit), or another writer slips in just before it (`interleave`). Reads
//! pass through. It proves that a request writes in one atomic step, that a retry after any
//! failure neither loses a token nor kills a family, and that a write is ordered against a
//! concurrent one.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::keys::StoredKey;
use crate::model::{Api, Client, RuleSet, Tenant, User};
use crate::refresh::RefreshFamily;
use crate::store::{Change, Store, StoreError};

/// When the planned failure strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The n-th write (0 = the next one) fails and writes nothing.
    Before(usize),
    /// The n-th write is applied, then reported failed.
    After(usize),
}

/// The failure a test injected.
#[derive(Debug, thiserror::Error)]
#[error("injected failure")]
pub struct Injected;

type Hook<S> = Box<dyn FnOnce(&S) + Send>;

/// Wraps `inner`, failing as planned.
pub struct FailingStore<S> {
    pub inner: S,
    writes: AtomicUsize,
    flushes: AtomicUsize,
    /// Flushes fail (the disk is gone) while set.
    flush_fails: std::sync::atomic::AtomicBool,
    plan: Mutex<Option<(Failure, usize)>>,
    interleaved: Mutex<Option<(usize, Hook<S>)>>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for FailingStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailingStore")
            .field("inner", &self.inner)
            .field("writes", &self.writes)
            .finish_non_exhaustive()
    }
}

impl<S: Store> FailingStore<S> {
    pub fn new(inner: S) -> FailingStore<S> {
        FailingStore {
            inner,
            writes: AtomicUsize::new(0),
            flushes: AtomicUsize::new(0),
            flush_fails: std::sync::atomic::AtomicBool::new(false),
            plan: Mutex::new(None),
            interleaved: Mutex::new(None),
        }
    }

    /// Runs `hook` on the inner store just before the n-th write from now (0 = the next), as
    /// a concurrent request that wrote between this one's read and its write.
    pub fn interleave(&self, n: usize, hook: impl FnOnce(&S) + Send + 'static) {
        let now = self.writes.load(Ordering::SeqCst);
        *self.interleaved.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((now + n, Box::new(hook)));
    }

    /// Plans one failure, counted from the next write.
    pub fn fail(&self, failure: Failure) {
        let now = self.writes.load(Ordering::SeqCst);
        *self.plan.lock().unwrap_or_else(|e| e.into_inner()) = Some((failure, now));
    }

    /// Makes every flush from now on fail (`true`) or work again (`false`).
    pub fn fail_flushes(&self, fail: bool) {
        self.flush_fails.store(fail, Ordering::SeqCst);
    }

    /// Flushes so far.
    pub fn flushes(&self) -> usize {
        self.flushes.load(Ordering::SeqCst)
    }

    /// Writes attempted so far (failed ones included).
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    fn write<T>(&self, apply: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        let index = self.writes.fetch_add(1, Ordering::SeqCst);
        let hook = {
            let mut interleaved = self.interleaved.lock().unwrap_or_else(|e| e.into_inner());
            match interleaved.take() {
                Some((at, hook)) if at == index => Some(hook),
                other => {
                    *interleaved = other;
                    None
                }
            }
        };
        if let Some(hook) = hook {
            hook(&self.inner);
        }
        let planned = *self.plan.lock().unwrap_or_else(|e| e.into_inner());
        let injected = || StoreError::backend("injected", Injected);
        match planned {
            Some((Failure::Before(n), from)) if index == from + n => Err(injected()),
            Some((Failure::After(n), from)) if index == from + n => {
                apply()?;
                Err(injected())
            }
            _ => apply(),
        }
    }
}

impl<S: Store> Store for FailingStore<S> {
    fn tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
        self.inner.tenant(id)
    }
    fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.inner.tenants()
    }
    fn tenant_for_host(&self, host: &str) -> Result<Option<String>, StoreError> {
        self.inner.tenant_for_host(host)
    }
    fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.write(|| self.inner.put_tenant(tenant))
    }
    fn delete_tenant(&self, id: &str) -> Result<(), StoreError> {
        self.write(|| self.inner.delete_tenant(id))
    }
    fn keys(&self, tenant: &str) -> Result<Vec<StoredKey>, StoreError> {
        self.inner.keys(tenant)
    }
    fn put_key(&self, tenant: &str, key: &StoredKey) -> Result<(), StoreError> {
        self.write(|| self.inner.put_key(tenant, key))
    }
    fn client(&self, tenant: &str, client_id: &str) -> Result<Option<Client>, StoreError> {
        self.inner.client(tenant, client_id)
    }
    fn put_client(&self, tenant: &str, client: &Client) -> Result<(), StoreError> {
        self.write(|| self.inner.put_client(tenant, client))
    }
    fn api(&self, tenant: &str, identifier: &str) -> Result<Option<Api>, StoreError> {
        self.inner.api(tenant, identifier)
    }
    fn put_api(&self, tenant: &str, api: &Api) -> Result<(), StoreError> {
        self.write(|| self.inner.put_api(tenant, api))
    }
    fn delete_key(&self, tenant: &str, kid: &str) -> Result<bool, StoreError> {
        self.write(|| self.inner.delete_key(tenant, kid))
    }
    fn clients(&self, tenant: &str) -> Result<Vec<Client>, StoreError> {
        self.inner.clients(tenant)
    }
    fn delete_client(&self, tenant: &str, client_id: &str) -> Result<bool, StoreError> {
        self.write(|| self.inner.delete_client(tenant, client_id))
    }
    fn apis(&self, tenant: &str) -> Result<Vec<Api>, StoreError> {
        self.inner.apis(tenant)
    }
    fn delete_api(&self, tenant: &str, identifier: &str) -> Result<bool, StoreError> {
        self.write(|| self.inner.delete_api(tenant, identifier))
    }
    fn append_logs(
        &self,
        tenant: &str,
        events: &[crate::audit::LogEvent],
    ) -> Result<(), StoreError> {
        self.write(|| self.inner.append_logs(tenant, events))
    }
    fn logs(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
        newest_first: bool,
    ) -> Result<Vec<crate::audit::LogEvent>, StoreError> {
        self.inner.logs(tenant, after, limit, newest_first)
    }
    fn log(&self, tenant: &str, id: &str) -> Result<Option<crate::audit::LogEvent>, StoreError> {
        self.inner.log(tenant, id)
    }
    fn trim_logs(&self, tenant: &str, keep: usize, before: &str) -> Result<usize, StoreError> {
        self.write(|| self.inner.trim_logs(tenant, keep, before))
    }
    fn user(&self, tenant: &str, user_id: &str) -> Result<Option<User>, StoreError> {
        self.inner.user(tenant, user_id)
    }
    fn user_by_login(&self, tenant: &str, login: &str) -> Result<Option<User>, StoreError> {
        self.inner.user_by_login(tenant, login)
    }
    fn put_user(&self, tenant: &str, user: &User) -> Result<(), StoreError> {
        self.write(|| self.inner.put_user(tenant, user))
    }
    fn users_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        self.inner.users_page(tenant, after, limit)
    }
    fn delete_user(&self, tenant: &str, user_id: &str) -> Result<bool, StoreError> {
        self.write(|| self.inner.delete_user(tenant, user_id))
    }
    fn rule_set(&self, tenant: &str) -> Result<RuleSet, StoreError> {
        self.inner.rule_set(tenant)
    }
    fn put_rule_set(
        &self,
        tenant: &str,
        expected_version: u64,
        set: &RuleSet,
        modules: &[(&str, &[u8])],
    ) -> Result<bool, StoreError> {
        self.write(|| {
            self.inner
                .put_rule_set(tenant, expected_version, set, modules)
        })
    }
    fn module(&self, tenant: &str, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.module(tenant, hash)
    }
    fn refresh_family(
        &self,
        tenant: &str,
        family_id: &str,
    ) -> Result<Option<RefreshFamily>, StoreError> {
        self.inner.refresh_family(tenant, family_id)
    }
    fn refresh_families(
        &self,
        tenant: &str,
        user_id: &str,
        client_id: Option<&str>,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        self.inner.refresh_families(tenant, user_id, client_id)
    }
    fn refresh_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        self.inner.refresh_page(tenant, after, limit)
    }
    fn refresh_delete(
        &self,
        tenant: &str,
        family_id: &str,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        self.write(|| {
            self.inner
                .refresh_delete(tenant, family_id, expected_version)
        })
    }
    fn apply(&self, tenant: &str, change: &Change<'_>) -> Result<bool, StoreError> {
        self.write(|| self.inner.apply(tenant, change))
    }
    fn userinfo_claims(
        &self,
        tenant: &str,
        user_id: &str,
        client_id: &str,
    ) -> Result<rules_abi::Claims, StoreError> {
        self.inner.userinfo_claims(tenant, user_id, client_id)
    }
    fn flow(
        &self,
        tenant: &str,
        kind: crate::FlowKind,
        id: &str,
    ) -> Result<Option<crate::FlowRecord>, StoreError> {
        self.inner.flow(tenant, kind, id)
    }
    fn write_flow(
        &self,
        tenant: &str,
        kind: crate::FlowKind,
        id: &str,
        write: crate::FlowWrite<'_>,
    ) -> Result<bool, StoreError> {
        self.write(|| self.inner.write_flow(tenant, kind, id, write))
    }
    fn flow_page(
        &self,
        tenant: &str,
        kind: crate::FlowKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, crate::FlowRecord)>, StoreError> {
        self.inner.flow_page(tenant, kind, after, limit)
    }
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.meta(name)
    }
    fn meta_swap(
        &self,
        name: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, StoreError> {
        self.write(|| self.inner.meta_swap(name, expected, value))
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        if self.flush_fails.load(Ordering::SeqCst) {
            return Err(StoreError::backend("flush", Injected));
        }
        self.inner.flush()
    }

    fn listen_meta(&self) -> Result<Option<Box<dyn crate::MetaListener>>, StoreError> {
        self.inner.listen_meta()
    }

    fn pool(&self) -> Option<crate::PoolUse> {
        self.inner.pool()
    }

    fn durable_on_write(&self) -> bool {
        self.inner.durable_on_write()
    }
}
