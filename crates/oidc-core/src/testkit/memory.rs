//! An in-memory [`Store`]: one lock around ordered maps. For unit tests of the domain, and as
//! the reference engine the conformance suite is written against.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::keys::StoredKey;
use crate::model::{Api, Client, RuleSet, Tenant, User};
use crate::refresh::RefreshFamily;
use crate::store::{
    Change, FlowKind, FlowRecord, FlowWrite, Store, StoreError, checked_id, checked_rule_set,
};

type Keyed<T> = BTreeMap<(String, String), T>;

#[derive(Debug, Default)]
struct Inner {
    tenants: BTreeMap<String, Tenant>,
    hosts: BTreeMap<String, String>,
    keys: Keyed<StoredKey>,
    clients: Keyed<Client>,
    apis: Keyed<Api>,
    users: Keyed<User>,
    logins: Keyed<String>,
    rule_sets: BTreeMap<String, RuleSet>,
    modules: Keyed<Vec<u8>>,
    families: Keyed<RefreshFamily>,
    userinfo: BTreeMap<(String, String, String), rules_abi::Claims>,
    logs: Keyed<crate::audit::LogEvent>,
    flows: BTreeMap<(String, FlowKind, String), FlowRecord>,
    meta: BTreeMap<String, Vec<u8>>,
}

/// The in-memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

fn key(tenant: &str, id: &str) -> (String, String) {
    (tenant.to_owned(), id.to_owned())
}

fn of_tenant<'a, T>(map: &'a Keyed<T>, tenant: &'a str) -> impl Iterator<Item = (&'a str, &'a T)> {
    map.range(key(tenant, "")..)
        .take_while(move |((t, _), _)| t == tenant)
        .map(|((_, id), value)| (id.as_str(), value))
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
        Ok(self.lock().tenants.get(id).cloned())
    }

    fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        Ok(self.lock().tenants.values().cloned().collect())
    }

    fn tenant_for_host(&self, host: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().hosts.get(&host.to_ascii_lowercase()).cloned())
    }

    fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        crate::ids::validate_tenant(&tenant.id).map_err(|reason| StoreError::InvalidId {
            id: tenant.id.clone(),
            reason,
        })?;
        let mut inner = self.lock();
        let hosts: Vec<String> = tenant
            .hosts
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        for host in &hosts {
            if let Some(owner) = inner.hosts.get(host)
                && owner != &tenant.id
            {
                return Err(StoreError::Conflict(format!(
                    "host {host} belongs to tenant {owner}"
                )));
            }
        }
        inner
            .hosts
            .retain(|host, owner| owner != &tenant.id || hosts.contains(host));
        for host in hosts {
            inner.hosts.insert(host, tenant.id.clone());
        }
        inner.tenants.insert(tenant.id.clone(), tenant.clone());
        Ok(())
    }

    fn delete_tenant(&self, id: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.tenants.remove(id);
        inner.hosts.retain(|_, owner| owner != id);
        let mine = |(tenant, _): &(String, String)| tenant != id;
        inner.keys.retain(|k, _| mine(k));
        inner.clients.retain(|k, _| mine(k));
        inner.apis.retain(|k, _| mine(k));
        inner.users.retain(|k, _| mine(k));
        inner.logins.retain(|k, _| mine(k));
        inner.rule_sets.remove(id);
        inner.modules.retain(|k, _| mine(k));
        inner.families.retain(|k, _| mine(k));
        inner.logs.retain(|k, _| mine(k));
        inner.userinfo.retain(|(tenant, _, _), _| tenant != id);
        inner.flows.retain(|(tenant, _, _), _| tenant != id);
        Ok(())
    }

    fn keys(&self, tenant: &str) -> Result<Vec<StoredKey>, StoreError> {
        Ok(of_tenant(&self.lock().keys, tenant)
            .map(|(_, k)| k.clone())
            .collect())
    }

    fn put_key(&self, tenant: &str, stored: &StoredKey) -> Result<(), StoreError> {
        checked_id(tenant)?;
        checked_id(&stored.kid)?;
        self.lock()
            .keys
            .insert(key(tenant, &stored.kid), stored.clone());
        Ok(())
    }

    fn client(&self, tenant: &str, client_id: &str) -> Result<Option<Client>, StoreError> {
        Ok(self.lock().clients.get(&key(tenant, client_id)).cloned())
    }

    fn put_client(&self, tenant: &str, client: &Client) -> Result<(), StoreError> {
        checked_id(tenant)?;
        checked_id(&client.client_id)?;
        self.lock()
            .clients
            .insert(key(tenant, &client.client_id), client.clone());
        Ok(())
    }

    fn api(&self, tenant: &str, identifier: &str) -> Result<Option<Api>, StoreError> {
        Ok(self.lock().apis.get(&key(tenant, identifier)).cloned())
    }

    fn put_api(&self, tenant: &str, api: &Api) -> Result<(), StoreError> {
        checked_id(tenant)?;
        checked_id(&api.identifier)?;
        self.lock()
            .apis
            .insert(key(tenant, &api.identifier), api.clone());
        Ok(())
    }

    fn user(&self, tenant: &str, user_id: &str) -> Result<Option<User>, StoreError> {
        Ok(self.lock().users.get(&key(tenant, user_id)).cloned())
    }

    fn user_by_login(&self, tenant: &str, login: &str) -> Result<Option<User>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .logins
            .get(&key(tenant, &login.to_lowercase()))
            .and_then(|user_id| inner.users.get(&key(tenant, user_id)))
            .cloned())
    }

    fn put_user(&self, tenant: &str, user: &User) -> Result<(), StoreError> {
        checked_id(tenant)?;
        checked_id(&user.user_id)?;
        let logins: Vec<String> = user
            .email
            .iter()
            .chain(user.username.iter())
            .map(|login| checked_id(login).map(str::to_lowercase))
            .collect::<Result<_, _>>()?;
        let mut inner = self.lock();
        for login in &logins {
            if let Some(owner) = inner.logins.get(&key(tenant, login))
                && owner != &user.user_id
            {
                return Err(StoreError::Conflict(format!(
                    "login {login} belongs to another user"
                )));
            }
        }
        inner.logins.retain(|(t, login), owner| {
            t != tenant || owner != &user.user_id || logins.contains(login)
        });
        for login in logins {
            inner
                .logins
                .insert(key(tenant, &login), user.user_id.clone());
        }
        inner.users.insert(key(tenant, &user.user_id), user.clone());
        Ok(())
    }

    fn delete_key(&self, tenant: &str, kid: &str) -> Result<bool, StoreError> {
        Ok(self.lock().keys.remove(&key(tenant, kid)).is_some())
    }

    fn clients(&self, tenant: &str) -> Result<Vec<Client>, StoreError> {
        Ok(of_tenant(&self.lock().clients, tenant)
            .map(|(_, c)| c.clone())
            .collect())
    }

    fn delete_client(&self, tenant: &str, client_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .clients
            .remove(&key(tenant, client_id))
            .is_some())
    }

    fn apis(&self, tenant: &str) -> Result<Vec<Api>, StoreError> {
        Ok(of_tenant(&self.lock().apis, tenant)
            .map(|(_, a)| a.clone())
            .collect())
    }

    fn delete_api(&self, tenant: &str, identifier: &str) -> Result<bool, StoreError> {
        Ok(self.lock().apis.remove(&key(tenant, identifier)).is_some())
    }

    fn append_logs(
        &self,
        tenant: &str,
        events: &[crate::audit::LogEvent],
    ) -> Result<(), StoreError> {
        checked_id(tenant)?;
        for event in events {
            checked_id(&event.id)?;
        }
        let mut inner = self.lock();
        for event in events {
            inner.logs.insert(key(tenant, &event.id), event.clone());
        }
        Ok(())
    }

    fn logs(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
        newest_first: bool,
    ) -> Result<Vec<crate::audit::LogEvent>, StoreError> {
        let inner = self.lock();
        let mine = of_tenant(&inner.logs, tenant);
        Ok(if newest_first {
            let all: Vec<_> = mine
                .filter(|(id, _)| after.is_none_or(|after| *id < after))
                .map(|(_, e)| e.clone())
                .collect();
            all.into_iter().rev().take(limit).collect()
        } else {
            mine.filter(|(id, _)| after.is_none_or(|after| *id > after))
                .take(limit)
                .map(|(_, e)| e.clone())
                .collect()
        })
    }

    fn log(&self, tenant: &str, id: &str) -> Result<Option<crate::audit::LogEvent>, StoreError> {
        Ok(self.lock().logs.get(&key(tenant, id)).cloned())
    }

    fn trim_logs(&self, tenant: &str, keep: usize, before: &str) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        let ids: Vec<String> = of_tenant(&inner.logs, tenant)
            .map(|(id, _)| id.to_owned())
            .collect();
        let excess = ids.len().saturating_sub(keep);
        let doomed: Vec<&String> = ids
            .iter()
            .enumerate()
            .filter(|(i, id)| *i < excess || id.as_str() < before)
            .map(|(_, id)| id)
            .collect();
        for id in &doomed {
            inner.logs.remove(&key(tenant, id));
        }
        Ok(doomed.len())
    }

    fn users_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        Ok(of_tenant(&self.lock().users, tenant)
            .filter(|(id, _)| after.is_none_or(|after| *id > after))
            .take(limit)
            .map(|(_, user)| user.clone())
            .collect())
    }

    fn delete_user(&self, tenant: &str, user_id: &str) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let existed = inner.users.remove(&key(tenant, user_id)).is_some();
        inner
            .logins
            .retain(|(t, _), owner| t != tenant || owner != user_id);
        inner
            .userinfo
            .retain(|(t, user, _), _| t != tenant || user != user_id);
        Ok(existed)
    }

    fn rule_set(&self, tenant: &str) -> Result<RuleSet, StoreError> {
        Ok(self
            .lock()
            .rule_sets
            .get(tenant)
            .cloned()
            .unwrap_or_default())
    }

    fn put_rule_set(
        &self,
        tenant: &str,
        expected_version: u64,
        set: &RuleSet,
        modules: &[(&str, &[u8])],
    ) -> Result<bool, StoreError> {
        checked_rule_set(tenant, set, modules)?;
        let mut inner = self.lock();
        let stored = inner.rule_sets.get(tenant).map_or(0, |set| set.version);
        if stored != expected_version {
            return Ok(false);
        }
        for (hash, module) in modules {
            inner.modules.insert(key(tenant, hash), module.to_vec());
        }
        let named: Vec<&str> = set.module_hashes().collect();
        inner
            .modules
            .retain(|(t, hash), _| t != tenant || named.contains(&hash.as_str()));
        inner.rule_sets.insert(tenant.to_owned(), set.clone());
        Ok(true)
    }

    fn module(&self, tenant: &str, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().modules.get(&key(tenant, hash)).cloned())
    }

    fn refresh_family(
        &self,
        tenant: &str,
        family_id: &str,
    ) -> Result<Option<RefreshFamily>, StoreError> {
        Ok(self.lock().families.get(&key(tenant, family_id)).cloned())
    }

    fn refresh_families(
        &self,
        tenant: &str,
        user_id: &str,
        client_id: Option<&str>,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        Ok(of_tenant(&self.lock().families, tenant)
            .map(|(_, family)| family)
            .filter(|family| {
                family.user_id == user_id && client_id.is_none_or(|c| family.client_id == c)
            })
            .cloned()
            .collect())
    }

    fn refresh_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        Ok(of_tenant(&self.lock().families, tenant)
            .filter(|(id, _)| after.is_none_or(|after| *id > after))
            .take(limit)
            .map(|(_, family)| family.clone())
            .collect())
    }

    fn refresh_delete(
        &self,
        tenant: &str,
        family_id: &str,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let k = key(tenant, family_id);
        match inner.families.get(&k) {
            Some(stored) if stored.version == expected_version => {
                inner.families.remove(&k);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn apply(&self, tenant: &str, change: &Change<'_>) -> Result<bool, StoreError> {
        // Every check before the first write: all of the change, or none of it.
        crate::store::checked_change(tenant, change)?;
        let mut inner = self.lock();
        if let Some(write) = &change.family {
            let family = write.family();
            if !write.applies_to(inner.families.get(&key(tenant, &family.id))) {
                return Ok(false);
            }
            inner
                .families
                .insert(key(tenant, &family.id), family.clone());
        }
        if let Some((user_id, update)) = change.metadata
            && let Some(user) = inner.users.get_mut(&key(tenant, user_id))
        {
            update.apply(user);
        }
        if let Some(userinfo) = change.userinfo {
            inner.userinfo.insert(
                (
                    tenant.to_owned(),
                    userinfo.user_id.to_owned(),
                    userinfo.client_id.to_owned(),
                ),
                userinfo.claims.clone(),
            );
        }
        Ok(true)
    }

    fn userinfo_claims(
        &self,
        tenant: &str,
        user_id: &str,
        client_id: &str,
    ) -> Result<rules_abi::Claims, StoreError> {
        Ok(self
            .lock()
            .userinfo
            .get(&(tenant.to_owned(), user_id.to_owned(), client_id.to_owned()))
            .cloned()
            .unwrap_or_default())
    }

    fn flow(
        &self,
        tenant: &str,
        kind: FlowKind,
        id: &str,
    ) -> Result<Option<FlowRecord>, StoreError> {
        let key = (tenant.to_owned(), kind, id.to_owned());
        Ok(self.lock().flows.get(&key).cloned())
    }

    fn write_flow(
        &self,
        tenant: &str,
        kind: FlowKind,
        id: &str,
        write: FlowWrite<'_>,
    ) -> Result<bool, StoreError> {
        let key = (
            checked_id(tenant)?.to_owned(),
            kind,
            checked_id(id)?.to_owned(),
        );
        let mut inner = self.lock();
        if !write.applies_to(inner.flows.get(&key)) {
            return Ok(false);
        }
        match write {
            FlowWrite::Create(record) | FlowWrite::Replace { record, .. } => {
                inner.flows.insert(key, record.clone());
            }
            FlowWrite::Delete { .. } => {
                inner.flows.remove(&key);
            }
        }
        Ok(true)
    }

    fn flow_page(
        &self,
        tenant: &str,
        kind: FlowKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, FlowRecord)>, StoreError> {
        let start = (
            tenant.to_owned(),
            kind,
            after.unwrap_or_default().to_owned(),
        );
        Ok(self
            .lock()
            .flows
            .range(start..)
            .take_while(|((t, k, _), _)| t == tenant && *k == kind)
            .filter(|((_, _, id), _)| after.is_none_or(|after| id.as_str() > after))
            .take(limit)
            .map(|((_, _, id), record)| (id.clone(), record.clone()))
            .collect())
    }

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().meta.get(name).cloned())
    }

    fn meta_swap(
        &self,
        name: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if inner.meta.get(name).map(Vec::as_slice) != expected {
            return Ok(false);
        }
        inner.meta.insert(name.to_owned(), value.to_vec());
        Ok(true)
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
