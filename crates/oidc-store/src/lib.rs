//! Claimsmith's durable store: oidc-core's [`Store`] port on sled, the only crate that knows
//! sled.
//!
//! Every record is JSON in a tree of its own, keyed by tenant first, so one tenant's data can
//! never be read through another's key. An issuance (a refresh-token family, its index entry,
//! the `/userinfo` claims and the user's metadata) is one sled transaction: all of it lands,
//! or none. [`SledStore::flush`] makes every write so far durable; the server calls it before
//! answering. The data directory is private to its owner (0700, files 0600).

// No panic is reachable from a request or an uploaded module.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod flows;
mod issuance;
mod keys;
mod migrate;
mod records;

use std::path::Path;
use std::sync::Arc;

use oidc_core::refresh::RefreshFamily;
use oidc_core::store::{checked_id, checked_rule_set};
use oidc_core::{Api, Change, Client, RuleSet, Store, StoreError, StoredKey, Tenant, User};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use keys::{key, login_key, tenant_prefix};
use records::{decode, encode};

/// The on-disk layout version. Bumped whenever a record or key changes.
/// 2: refresh tokens name their family (no token index), keys and the deployment secret are
/// wrapped under the operator key, modules are per tenant, userinfo claims per client.
/// 3: a tenant's rules and their configuration are one record (`rule_sets`), rules have ids;
/// a version 2 store is migrated when it opens.
pub const SCHEMA_VERSION: u32 = 3;

const META_SCHEMA: &[u8] = b"schema_version";

/// The sled-backed store.
#[derive(Debug, Clone)]
pub struct SledStore {
    db: sled::Db,
    /// sled's data file, synced after each flush of sled (see [`SledStore::flush`]); `None`
    /// for a temporary store.
    file: Option<Arc<std::fs::File>>,
    meta: sled::Tree,
    tenants: sled::Tree,
    hosts: sled::Tree,
    keys: sled::Tree,
    clients: sled::Tree,
    apis: sled::Tree,
    users: sled::Tree,
    logins: sled::Tree,
    /// One record per tenant: its rules and their configuration.
    rule_sets: sled::Tree,
    modules: sled::Tree,
    /// Families, their per-user index and `/userinfo` claims: what an issuance writes.
    issuance: sled::Tree,
    /// Tenant log events, by time-ordered id.
    logs: sled::Tree,
    /// Records of the interactive flows (see `flows`).
    flows: sled::Tree,
}

/// The store could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the store: {0}")]
    Sled(#[from] sled::Error),
    #[error("cannot make the data directory private: {0}")]
    Permissions(#[from] std::io::Error),
    #[error("cannot open and sync the store's data file: {0}")]
    DataFile(std::io::Error),
    #[error(
        "the store has schema version {found}; this build reads version {SCHEMA_VERSION}. \
         Version 1 stores (signing keys in the clear, refresh tokens of the old format) cannot \
         be upgraded: start on a new directory and log users in again"
    )]
    Schema { found: u32 },
    #[error("cannot migrate the store from schema version 2: {0}")]
    Migration(StoreError),
}

pub(crate) fn failed(context: &'static str) -> impl Fn(sled::Error) -> StoreError {
    move |error| StoreError::backend(context, error)
}

fn tx_failed(context: &'static str) -> impl Fn(TransactionError<StoreError>) -> StoreError {
    move |error| match error {
        TransactionError::Abort(error) => error,
        TransactionError::Storage(error) => StoreError::backend(context, error),
    }
}

pub(crate) fn abort(error: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(error)
}

impl SledStore {
    /// Opens (or creates) the store in `path`, private to its owner.
    pub fn open(path: impl AsRef<Path>) -> Result<SledStore, OpenError> {
        let path = path.as_ref();
        make_private_dir(path)?;
        let mut store = Self::from_db(sled::open(path)?)?;
        make_private_files(path)?;
        // sled 0.34 keeps its log and pages in this one file (`Config::db_path`). Flushed and
        // synced once now, so what opening wrote (the schema version, a migration) is durable.
        store.db.flush()?;
        let file = std::fs::File::open(path.join("db")).map_err(OpenError::DataFile)?;
        file.sync_data().map_err(OpenError::DataFile)?;
        store.file = Some(Arc::new(file));
        Ok(store)
    }

    /// A store in a temporary directory, removed on drop: for tests.
    pub fn temporary() -> Result<SledStore, OpenError> {
        Self::from_db(sled::Config::new().temporary(true).open()?)
    }

    fn from_db(db: sled::Db) -> Result<SledStore, OpenError> {
        let meta = db.open_tree("meta")?;
        match meta.get(META_SCHEMA)? {
            None => {
                meta.insert(META_SCHEMA, &SCHEMA_VERSION.to_be_bytes())?;
            }
            Some(bytes) => {
                let found = bytes
                    .as_ref()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .unwrap_or(0);
                if found == 2 {
                    migrate::from_v2(&db).map_err(OpenError::Migration)?;
                    meta.insert(META_SCHEMA, &SCHEMA_VERSION.to_be_bytes())?;
                    db.flush()?;
                } else if found != SCHEMA_VERSION {
                    return Err(OpenError::Schema { found });
                }
            }
        }
        Ok(SledStore {
            tenants: db.open_tree("tenants")?,
            hosts: db.open_tree("hosts")?,
            keys: db.open_tree("keys")?,
            clients: db.open_tree("clients")?,
            apis: db.open_tree("apis")?,
            users: db.open_tree("users")?,
            logins: db.open_tree("logins")?,
            rule_sets: db.open_tree("rule_sets")?,
            modules: db.open_tree("modules")?,
            issuance: db.open_tree("issuance")?,
            logs: db.open_tree("logs")?,
            flows: db.open_tree("flows")?,
            meta,
            db,
            file: None,
        })
    }

    /// Makes every write so far durable (fdatasync).
    ///
    /// sled's own flush is not enough on Linux: it ends with `sync_file_range`, which puts the
    /// data on the device but neither flushes the drive's write cache nor records the file's
    /// new length, so a power cut could lose what it flushed (sled's background thread calls
    /// `fsync` only every 500 ms). `fdatasync` on the same file does both; a process killed
    /// after sled's flush lost nothing either way.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(failed("flush"))?;
        if let Some(file) = &self.file {
            file.sync_data()
                .map_err(|error| StoreError::backend("flush", error))?;
        }
        Ok(())
    }

    /// A checksum of every record but the tenant log (which records failed requests too):
    /// tests use it to show a failed request changed nothing else.
    pub fn checksum(&self) -> Result<u32, StoreError> {
        let mut sum = 0u32;
        for tree in [
            &self.meta,
            &self.tenants,
            &self.hosts,
            &self.keys,
            &self.clients,
            &self.apis,
            &self.users,
            &self.logins,
            &self.rule_sets,
            &self.modules,
            &self.issuance,
            &self.flows,
        ] {
            sum = sum.rotate_left(5) ^ tree.checksum().map_err(failed("checksum"))?;
        }
        Ok(sum)
    }

    /// Bytes the store occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(failed("size on disk"))
    }

    fn get<T: serde::de::DeserializeOwned>(
        tree: &sled::Tree,
        what: &'static str,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<T>, StoreError> {
        tree.get(key)
            .map_err(failed(what))?
            .map(|bytes| decode(what, &bytes))
            .transpose()
    }

    fn scan<T: serde::de::DeserializeOwned>(
        tree: &sled::Tree,
        what: &'static str,
        tenant: &str,
    ) -> Result<Vec<T>, StoreError> {
        tree.scan_prefix(tenant_prefix(tenant))
            .map(|entry| decode(what, &entry.map_err(failed(what))?.1))
            .collect()
    }

    fn remove(
        tree: &sled::Tree,
        what: &'static str,
        tenant: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        tree.remove(key(checked_id(tenant)?, &[checked_id(id)?]))
            .map(|old| old.is_some())
            .map_err(failed(what))
    }

    fn put<T: serde::Serialize>(
        tree: &sled::Tree,
        what: &'static str,
        tenant: &str,
        id: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        tree.insert(key(checked_id(tenant)?, &[checked_id(id)?]), encode(value)?)
            .map(drop)
            .map_err(failed(what))
    }
}

fn make_private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

/// Files sled made before (or despite) the process umask: 0600, directories 0700.
fn make_private_files(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let mode = if entry.file_type()?.is_dir() {
            make_private_files(&entry.path())?;
            0o700
        } else {
            0o600
        };
        std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

impl Store for SledStore {
    fn tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
        Self::get(&self.tenants, "tenants", id.as_bytes())
    }

    fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.tenants
            .iter()
            .map(|entry| decode("tenants", &entry.map_err(failed("tenants"))?.1))
            .collect()
    }

    fn tenant_for_host(&self, host: &str) -> Result<Option<String>, StoreError> {
        let id = self
            .hosts
            .get(host.to_ascii_lowercase().as_bytes())
            .map_err(failed("hosts"))?;
        Ok(id.map(|id| String::from_utf8_lossy(&id).into_owned()))
    }

    fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let id = oidc_core::ids::validate_tenant(&tenant.id)
            .map_err(|reason| StoreError::InvalidId {
                id: tenant.id.clone(),
                reason,
            })
            .map(|()| tenant.id.as_str())?;
        let hosts: Vec<String> = tenant
            .hosts
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let record = encode(tenant)?;
        (&self.tenants, &self.hosts)
            .transaction(|(tenants, host_index)| {
                for host in &hosts {
                    if let Some(owner) = host_index.get(host.as_bytes())?
                        && owner != id.as_bytes()
                    {
                        return Err(abort(StoreError::Conflict(format!(
                            "host {host} belongs to tenant {}",
                            String::from_utf8_lossy(&owner)
                        ))));
                    }
                }
                if let Some(old) = tenants.get(id.as_bytes())? {
                    let old: Tenant = decode("tenants", &old).map_err(abort)?;
                    for host in old.hosts.iter().map(|h| h.to_ascii_lowercase()) {
                        if !hosts.contains(&host) {
                            host_index.remove(host.as_bytes())?;
                        }
                    }
                }
                for host in &hosts {
                    host_index.insert(host.as_bytes(), id.as_bytes())?;
                }
                tenants.insert(id.as_bytes(), record.as_slice())?;
                Ok(())
            })
            .map_err(tx_failed("put tenant"))
    }

    fn delete_tenant(&self, id: &str) -> Result<(), StoreError> {
        // The tenant record first: from then on nothing serves it, whatever remains.
        self.tenants
            .remove(id.as_bytes())
            .map_err(failed("tenants"))?;
        self.rule_sets
            .remove(id.as_bytes())
            .map_err(failed("rule sets"))?;
        for entry in self.hosts.iter() {
            let (host, owner) = entry.map_err(failed("hosts"))?;
            if owner == id.as_bytes() {
                self.hosts.remove(host).map_err(failed("hosts"))?;
            }
        }
        let prefix = tenant_prefix(id);
        for tree in [
            &self.keys,
            &self.clients,
            &self.apis,
            &self.users,
            &self.logins,
            &self.modules,
            &self.issuance,
            &self.logs,
            &self.flows,
        ] {
            for entry in tree.scan_prefix(&prefix).keys() {
                tree.remove(entry.map_err(failed("delete tenant"))?)
                    .map_err(failed("delete tenant"))?;
            }
        }
        Ok(())
    }

    fn keys(&self, tenant: &str) -> Result<Vec<StoredKey>, StoreError> {
        Self::scan(&self.keys, "keys", tenant)
    }

    fn put_key(&self, tenant: &str, stored: &StoredKey) -> Result<(), StoreError> {
        Self::put(&self.keys, "keys", tenant, &stored.kid, stored)
    }

    fn client(&self, tenant: &str, client_id: &str) -> Result<Option<Client>, StoreError> {
        Self::get(&self.clients, "clients", key(tenant, &[client_id]))
    }

    fn put_client(&self, tenant: &str, client: &Client) -> Result<(), StoreError> {
        Self::put(&self.clients, "clients", tenant, &client.client_id, client)
    }

    fn api(&self, tenant: &str, identifier: &str) -> Result<Option<Api>, StoreError> {
        Self::get(&self.apis, "apis", key(tenant, &[identifier]))
    }

    fn put_api(&self, tenant: &str, api: &Api) -> Result<(), StoreError> {
        Self::put(&self.apis, "apis", tenant, &api.identifier, api)
    }

    fn user(&self, tenant: &str, user_id: &str) -> Result<Option<User>, StoreError> {
        Self::get(&self.users, "users", key(tenant, &[user_id]))
    }

    fn user_by_login(&self, tenant: &str, login: &str) -> Result<Option<User>, StoreError> {
        let Some(user_id) = self
            .logins
            .get(login_key(tenant, login))
            .map_err(failed("logins"))?
        else {
            return Ok(None);
        };
        self.user(tenant, &String::from_utf8_lossy(&user_id))
    }

    fn put_user(&self, tenant: &str, user: &User) -> Result<(), StoreError> {
        checked_id(tenant)?;
        let user_id = checked_id(&user.user_id)?;
        let logins: Vec<Vec<u8>> = user
            .email
            .iter()
            .chain(user.username.iter())
            .map(|login| checked_id(login).map(|login| login_key(tenant, login)))
            .collect::<Result<_, _>>()?;
        let record = encode(user)?;
        let user_key = key(tenant, &[user_id]);
        (&self.users, &self.logins)
            .transaction(|(users, login_index)| {
                for login in &logins {
                    if let Some(owner) = login_index.get(login)?
                        && owner != user_id.as_bytes()
                    {
                        return Err(abort(StoreError::Conflict(
                            "a login of this user belongs to another user".into(),
                        )));
                    }
                }
                if let Some(old) = users.get(&user_key)? {
                    let old: User = decode("users", &old).map_err(abort)?;
                    for login in old.email.iter().chain(old.username.iter()) {
                        let old_key = login_key(tenant, login);
                        if !logins.contains(&old_key) {
                            login_index.remove(old_key)?;
                        }
                    }
                }
                for login in &logins {
                    login_index.insert(login.as_slice(), user_id.as_bytes())?;
                }
                users.insert(user_key.as_slice(), record.as_slice())?;
                Ok(())
            })
            .map_err(tx_failed("put user"))
    }

    fn delete_key(&self, tenant: &str, kid: &str) -> Result<bool, StoreError> {
        Self::remove(&self.keys, "keys", tenant, kid)
    }

    fn clients(&self, tenant: &str) -> Result<Vec<Client>, StoreError> {
        Self::scan(&self.clients, "clients", tenant)
    }

    fn delete_client(&self, tenant: &str, client_id: &str) -> Result<bool, StoreError> {
        Self::remove(&self.clients, "clients", tenant, client_id)
    }

    fn apis(&self, tenant: &str) -> Result<Vec<Api>, StoreError> {
        Self::scan(&self.apis, "apis", tenant)
    }

    fn delete_api(&self, tenant: &str, identifier: &str) -> Result<bool, StoreError> {
        Self::remove(&self.apis, "apis", tenant, identifier)
    }

    fn append_logs(
        &self,
        tenant: &str,
        events: &[oidc_core::audit::LogEvent],
    ) -> Result<(), StoreError> {
        checked_id(tenant)?;
        let records = events
            .iter()
            .map(|event| Ok((key(tenant, &[checked_id(&event.id)?]), encode(event)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        // One insert per event, not a `sled::Batch`: sled applies a batch under its global
        // write lock, which stops every other read and write of the database (the lanes' token
        // requests among them) until the whole batch is in; events need no atomicity with each
        // other, and each insert is atomic by itself.
        for (key, record) in records {
            self.logs.insert(key, record).map_err(failed("logs"))?;
        }
        Ok(())
    }

    fn logs(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
        newest_first: bool,
    ) -> Result<Vec<oidc_core::audit::LogEvent>, StoreError> {
        use std::ops::Bound;
        let prefix = tenant_prefix(tenant);
        let decode_entry = |entry: sled::Result<(sled::IVec, sled::IVec)>| {
            decode("logs", &entry.map_err(failed("logs"))?.1)
        };
        if newest_first {
            let end = match after {
                Some(after) => key(tenant, &[after]),
                // Just past the tenant's keys: `tenant NUL` becomes `tenant 0x01`.
                None => {
                    let mut end = prefix.clone();
                    end.pop();
                    end.push(1);
                    end
                }
            };
            let end = Bound::Excluded(end);
            self.logs
                .range((Bound::Included(prefix.clone()), end))
                .rev()
                .take_while(|entry| entry.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
                .take(limit)
                .map(decode_entry)
                .collect()
        } else {
            let start = match after {
                Some(after) => Bound::Excluded(key(tenant, &[after])),
                None => Bound::Included(prefix.clone()),
            };
            self.logs
                .range((start, Bound::Unbounded))
                .take_while(|entry| entry.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
                .take(limit)
                .map(decode_entry)
                .collect()
        }
    }

    fn log(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<oidc_core::audit::LogEvent>, StoreError> {
        Self::get(&self.logs, "logs", key(tenant, &[id]))
    }

    fn trim_logs(&self, tenant: &str, keep: usize, before: &str) -> Result<usize, StoreError> {
        let prefix = tenant_prefix(tenant);
        let cutoff = key(tenant, &[before]);
        // Newest first: everything past the first `keep`, or older than the cutoff, goes.
        let mut doomed = Vec::new();
        for (i, entry) in self.logs.scan_prefix(&prefix).keys().rev().enumerate() {
            let log_key = entry.map_err(failed("logs"))?;
            if i >= keep || log_key.as_ref() < cutoff.as_slice() {
                doomed.push(log_key);
            }
        }
        // One removal per event, as in `append_logs`: a batch would stop the database for as
        // long as it takes, and a trim cut short by an error is still a trim.
        for log_key in &doomed {
            self.logs.remove(log_key).map_err(failed("logs"))?;
        }
        Ok(doomed.len())
    }

    fn users_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        let prefix = tenant_prefix(tenant);
        let start = match after {
            Some(after) => std::ops::Bound::Excluded(key(tenant, &[after])),
            None => std::ops::Bound::Included(prefix.clone()),
        };
        self.users
            .range((start, std::ops::Bound::Unbounded))
            .take_while(|entry| entry.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
            .take(limit)
            .map(|entry| decode("users", &entry.map_err(failed("users"))?.1))
            .collect()
    }

    fn delete_user(&self, tenant: &str, user_id: &str) -> Result<bool, StoreError> {
        let user_key = key(checked_id(tenant)?, &[checked_id(user_id)?]);
        let claims: Vec<sled::IVec> = self
            .issuance
            .scan_prefix(keys::userinfo_prefix(tenant, user_id))
            .keys()
            .collect::<Result<_, _>>()
            .map_err(failed("userinfo"))?;
        (&self.users, &self.logins, &self.issuance)
            .transaction(|(users, logins, issuance)| {
                let Some(old) = users.remove(user_key.as_slice())? else {
                    return Ok(false);
                };
                let old: User = decode("users", &old).map_err(abort)?;
                for login in old.email.iter().chain(old.username.iter()) {
                    let login_key = login_key(tenant, login);
                    if logins.get(&login_key)?.as_deref() == Some(user_id.as_bytes()) {
                        logins.remove(login_key)?;
                    }
                }
                for claim in &claims {
                    issuance.remove(claim)?;
                }
                Ok(true)
            })
            .map_err(tx_failed("delete user"))
    }

    fn rule_set(&self, tenant: &str) -> Result<RuleSet, StoreError> {
        Ok(Self::get(&self.rule_sets, "rule sets", tenant.as_bytes())?.unwrap_or_default())
    }

    fn put_rule_set(
        &self,
        tenant: &str,
        expected_version: u64,
        set: &RuleSet,
        modules: &[(&str, &[u8])],
    ) -> Result<bool, StoreError> {
        checked_rule_set(tenant, set, modules)?;
        let record = encode(set)?;
        let named: Vec<&str> = set.module_hashes().collect();
        (&self.rule_sets, &self.modules)
            .transaction(|(rule_sets, stored_modules)| {
                let current: RuleSet = match rule_sets.get(tenant.as_bytes())? {
                    Some(bytes) => decode("rule sets", &bytes).map_err(abort)?,
                    None => RuleSet::default(),
                };
                if current.version != expected_version {
                    return Ok(false);
                }
                for hash in current.module_hashes() {
                    if !named.contains(&hash) {
                        stored_modules.remove(key(tenant, &[hash]))?;
                    }
                }
                for (hash, module) in modules.iter().filter(|(h, _)| named.contains(h)) {
                    stored_modules.insert(key(tenant, &[hash]), *module)?;
                }
                rule_sets.insert(tenant.as_bytes(), record.as_slice())?;
                Ok(true)
            })
            .map_err(tx_failed("put rule set"))
    }

    fn module(&self, tenant: &str, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .modules
            .get(key(tenant, &[hash]))
            .map_err(failed("modules"))?
            .map(|bytes| bytes.to_vec()))
    }

    fn refresh_family(
        &self,
        tenant: &str,
        family_id: &str,
    ) -> Result<Option<RefreshFamily>, StoreError> {
        Self::get(
            &self.issuance,
            "families",
            keys::family_key(tenant, family_id),
        )
    }

    fn refresh_families(
        &self,
        tenant: &str,
        user_id: &str,
        client_id: Option<&str>,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        issuance::families_of(self, tenant, user_id, client_id)
    }

    fn refresh_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        issuance::page(self, tenant, after, limit)
    }

    fn refresh_delete(
        &self,
        tenant: &str,
        family_id: &str,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        issuance::delete(self, tenant, family_id, expected_version)
    }

    fn apply(&self, tenant: &str, change: &Change<'_>) -> Result<bool, StoreError> {
        issuance::apply(self, tenant, change)
    }

    fn userinfo_claims(
        &self,
        tenant: &str,
        user_id: &str,
        client_id: &str,
    ) -> Result<rules_abi::Claims, StoreError> {
        Ok(Self::get(
            &self.issuance,
            "userinfo",
            keys::userinfo_key(tenant, user_id, client_id),
        )?
        .unwrap_or_default())
    }

    fn flow(
        &self,
        tenant: &str,
        kind: oidc_core::FlowKind,
        id: &str,
    ) -> Result<Option<oidc_core::FlowRecord>, StoreError> {
        flows::get(self, tenant, kind, id)
    }

    fn write_flow(
        &self,
        tenant: &str,
        kind: oidc_core::FlowKind,
        id: &str,
        write: oidc_core::FlowWrite<'_>,
    ) -> Result<bool, StoreError> {
        flows::write(self, tenant, kind, id, write)
    }

    fn flow_page(
        &self,
        tenant: &str,
        kind: oidc_core::FlowKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, oidc_core::FlowRecord)>, StoreError> {
        flows::page(self, tenant, kind, after, limit)
    }

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .meta
            .get(name.as_bytes())
            .map_err(failed("meta"))?
            .map(|bytes| bytes.to_vec()))
    }

    fn meta_swap(
        &self,
        name: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, StoreError> {
        Ok(self
            .meta
            .compare_and_swap(name.as_bytes(), expected, Some(value))
            .map_err(failed("meta"))?
            .is_ok())
    }

    fn flush(&self) -> Result<(), StoreError> {
        SledStore::flush(self)
    }
}

#[cfg(test)]
mod tests;
