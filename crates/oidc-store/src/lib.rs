//! Claimsmith's durable store: oidc-core's [`Store`] port on sled, the only crate that knows
//! sled.
//!
//! Every record is JSON in a tree of its own, keyed by tenant first, so one tenant's data can
//! never be read through another's key. Writes that must not race (refresh-token rotation)
//! are a compare-and-swap on the family record after checking its version;
//! [`SledStore::flush`] makes every write so far durable, and the server calls it before
//! answering.

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

mod keys;
mod records;

use std::path::Path;

use oidc_core::refresh::RefreshFamily;
use oidc_core::{
    Api, Client, KeyMaterial, MetadataUpdate, RuleRecord, SecretHash, Store, StoreError, Tenant,
    UnixMillis, User, UserUpdate,
};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use keys::{family_key, login_key, tenant_key, token_key, user_family_key, user_family_prefix};
use records::{decode, encode};

/// The on-disk layout version. Bumped with a migration whenever a record or key changes.
pub const SCHEMA_VERSION: u32 = 1;

const META_SCHEMA: &[u8] = b"schema_version";
const META_SEAL_KEY: &[u8] = b"seal_key";

/// Where a refresh token hash points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct TokenEntry<'a> {
    family_id: &'a str,
    generation: u64,
}

/// The sled-backed store.
#[derive(Debug, Clone)]
pub struct SledStore {
    db: sled::Db,
    meta: sled::Tree,
    tenants: sled::Tree,
    hosts: sled::Tree,
    keys: sled::Tree,
    clients: sled::Tree,
    apis: sled::Tree,
    users: sled::Tree,
    logins: sled::Tree,
    rules: sled::Tree,
    modules: sled::Tree,
    families: sled::Tree,
    tokens: sled::Tree,
    user_families: sled::Tree,
    userinfo: sled::Tree,
}

/// The store could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the store: {0}")]
    Sled(#[from] sled::Error),
    #[error("the store has schema version {found}; this build reads version {SCHEMA_VERSION}")]
    Schema { found: u32 },
}

fn failed(error: impl std::fmt::Display) -> StoreError {
    StoreError(error.to_string())
}

fn tx_failed(error: TransactionError<StoreError>) -> StoreError {
    match error {
        TransactionError::Abort(error) => error,
        TransactionError::Storage(error) => failed(error),
    }
}

fn abort(error: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(error)
}

impl SledStore {
    /// Opens (or creates) the store in `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<SledStore, OpenError> {
        Self::from_db(sled::open(path)?)
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
                if found != SCHEMA_VERSION {
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
            rules: db.open_tree("rules")?,
            modules: db.open_tree("modules")?,
            families: db.open_tree("families")?,
            tokens: db.open_tree("tokens")?,
            user_families: db.open_tree("user_families")?,
            userinfo: db.open_tree("userinfo")?,
            meta,
            db,
        })
    }

    /// Makes every write so far durable (fsync).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(drop).map_err(failed)
    }

    /// A checksum of every record: tests use it to show a failed request changed nothing.
    pub fn checksum(&self) -> Result<u32, StoreError> {
        self.db.checksum().map_err(failed)
    }

    /// The deployment's sealing key, created on first use and kept.
    pub fn seal_key(&self, generate: impl FnOnce() -> [u8; 32]) -> Result<Vec<u8>, StoreError> {
        if let Some(key) = self.meta.get(META_SEAL_KEY).map_err(failed)? {
            return Ok(key.to_vec());
        }
        let key = generate();
        let previous = self
            .meta
            .compare_and_swap(META_SEAL_KEY, None as Option<&[u8]>, Some(&key[..]))
            .map_err(failed)?;
        match previous {
            Ok(()) => Ok(key.to_vec()),
            Err(current) => Ok(current.current.map(|k| k.to_vec()).unwrap_or_default()),
        }
    }

    pub fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        for host in &tenant.hosts {
            self.hosts
                .insert(host.to_ascii_lowercase().as_bytes(), tenant.id.as_bytes())
                .map_err(failed)?;
        }
        self.tenants
            .insert(tenant.id.as_bytes(), encode(tenant)?)
            .map(drop)
            .map_err(failed)
    }

    pub fn put_key(&self, tenant: &str, key: &KeyMaterial) -> Result<(), StoreError> {
        self.keys
            .insert(tenant_key(tenant, &key.kid), encode(key)?)
            .map(drop)
            .map_err(failed)
    }

    pub fn put_client(&self, tenant: &str, client: &Client) -> Result<(), StoreError> {
        self.clients
            .insert(tenant_key(tenant, &client.client_id), encode(client)?)
            .map(drop)
            .map_err(failed)
    }

    pub fn put_api(&self, tenant: &str, api: &Api) -> Result<(), StoreError> {
        self.apis
            .insert(tenant_key(tenant, &api.identifier), encode(api)?)
            .map(drop)
            .map_err(failed)
    }

    /// Stores a user and indexes its email and username for login.
    pub fn put_user(&self, tenant: &str, user: &User) -> Result<(), StoreError> {
        for login in user.email.iter().chain(user.username.iter()) {
            self.logins
                .insert(login_key(tenant, login), user.user_id.as_bytes())
                .map_err(failed)?;
        }
        self.users
            .insert(tenant_key(tenant, &user.user_id), encode(user)?)
            .map(drop)
            .map_err(failed)
    }

    /// Stores a rule; its module goes in once by content hash.
    pub fn put_rule(
        &self,
        tenant: &str,
        rule: &RuleRecord,
        module: &[u8],
    ) -> Result<(), StoreError> {
        self.modules
            .insert(rule.module_hash.as_bytes(), module)
            .map_err(failed)?;
        self.rules
            .insert(tenant_key(tenant, &rule.name), encode(rule)?)
            .map(drop)
            .map_err(failed)
    }

    pub fn module(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .modules
            .get(hash.as_bytes())
            .map_err(failed)?
            .map(|bytes| bytes.to_vec()))
    }

    fn get<T: serde::de::DeserializeOwned>(
        tree: &sled::Tree,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<T>, StoreError> {
        tree.get(key)
            .map_err(failed)?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    fn scan<T: serde::de::DeserializeOwned>(
        tree: &sled::Tree,
        tenant: &str,
    ) -> Result<Vec<T>, StoreError> {
        tree.scan_prefix(tenant_key(tenant, ""))
            .map(|entry| decode(&entry.map_err(failed)?.1))
            .collect()
    }

    /// Revokes the oldest live families of a user and client beyond `max_live`, and forgets
    /// dead ones. Not atomic with the insert: a brief excess is harmless.
    fn evict(
        &self,
        tenant: &str,
        user_id: &str,
        client_id: &str,
        max_live: usize,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        let mut live = Vec::new();
        for entry in self
            .user_families
            .scan_prefix(user_family_prefix(tenant, user_id, client_id))
        {
            let (key, family_id) = entry.map_err(failed)?;
            let family_id = String::from_utf8_lossy(&family_id).into_owned();
            match self.refresh_family(tenant, &family_id)? {
                Some(family) if family.is_live(now) => live.push(family),
                _ => {
                    self.user_families.remove(key).map_err(failed)?;
                }
            }
        }
        // Keys sort by creation time, so the oldest come first.
        let excess = live.len().saturating_sub(max_live);
        for family in live.into_iter().take(excess) {
            let revoked = family.revoke(
                "more than the allowed live refresh tokens per user and client",
                now,
            );
            self.refresh_replace(tenant, family.version, &revoked, None, None)?;
        }
        Ok(())
    }
}

fn apply_update(
    users: &TransactionalTree,
    tenant: &str,
    update: UserUpdate<'_>,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let Some((user_id, update)) = update else {
        return Ok(());
    };
    let key = tenant_key(tenant, user_id);
    let Some(bytes) = users.get(&key)? else {
        return Ok(());
    };
    let mut user: User = decode(&bytes).map_err(abort)?;
    update.apply(&mut user);
    users.insert(key, encode(&user).map_err(abort)?)?;
    Ok(())
}

impl Store for SledStore {
    fn tenant(&self, tenant: &str) -> Result<Option<Tenant>, StoreError> {
        Self::get(&self.tenants, tenant.as_bytes())
    }

    fn tenant_for_host(&self, host: &str) -> Result<Option<String>, StoreError> {
        let id = self
            .hosts
            .get(host.to_ascii_lowercase().as_bytes())
            .map_err(failed)?;
        Ok(id.map(|id| String::from_utf8_lossy(&id).into_owned()))
    }

    fn keys(&self, tenant: &str) -> Result<Vec<KeyMaterial>, StoreError> {
        Self::scan(&self.keys, tenant)
    }

    fn client(&self, tenant: &str, client_id: &str) -> Result<Option<Client>, StoreError> {
        Self::get(&self.clients, tenant_key(tenant, client_id))
    }

    fn api(&self, tenant: &str, identifier: &str) -> Result<Option<Api>, StoreError> {
        Self::get(&self.apis, tenant_key(tenant, identifier))
    }

    fn user(&self, tenant: &str, user_id: &str) -> Result<Option<User>, StoreError> {
        Self::get(&self.users, tenant_key(tenant, user_id))
    }

    fn user_by_login(&self, tenant: &str, login: &str) -> Result<Option<User>, StoreError> {
        let Some(user_id) = self.logins.get(login_key(tenant, login)).map_err(failed)? else {
            return Ok(None);
        };
        self.user(tenant, &String::from_utf8_lossy(&user_id))
    }

    fn rules(&self, tenant: &str) -> Result<Vec<RuleRecord>, StoreError> {
        Self::scan(&self.rules, tenant)
    }

    fn refresh_find(
        &self,
        tenant: &str,
        token: &SecretHash,
    ) -> Result<Option<(u64, RefreshFamily)>, StoreError> {
        let Some(entry) = self.tokens.get(token_key(tenant, token)).map_err(failed)? else {
            return Ok(None);
        };
        let entry: TokenEntry<'_> = decode(&entry)?;
        Ok(self
            .refresh_family(tenant, entry.family_id)?
            .map(|family| (entry.generation, family)))
    }

    fn refresh_family(
        &self,
        tenant: &str,
        family_id: &str,
    ) -> Result<Option<RefreshFamily>, StoreError> {
        Self::get(&self.families, family_key(tenant, family_id))
    }

    fn refresh_create(
        &self,
        tenant: &str,
        family: &RefreshFamily,
        token: &SecretHash,
        max_live: usize,
        update: UserUpdate<'_>,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        let family_bytes = encode(family)?;
        let entry = encode(&TokenEntry {
            family_id: &family.id,
            generation: family.generation,
        })?;
        let index_key = user_family_key(
            tenant,
            &family.user_id,
            &family.client_id,
            family.created_at,
            &family.id,
        );
        (
            &self.families,
            &self.tokens,
            &self.user_families,
            &self.users,
        )
            .transaction(|(families, tokens, user_families, users)| {
                families.insert(family_key(tenant, &family.id), family_bytes.as_slice())?;
                tokens.insert(token_key(tenant, token), entry.as_slice())?;
                user_families.insert(index_key.as_slice(), family.id.as_bytes())?;
                apply_update(users, tenant, update)
            })
            .map_err(tx_failed)?;
        self.evict(tenant, &family.user_id, &family.client_id, max_live, now)
    }

    fn refresh_replace(
        &self,
        tenant: &str,
        expected_version: u64,
        family: &RefreshFamily,
        new_token: Option<&SecretHash>,
        update: UserUpdate<'_>,
    ) -> Result<bool, StoreError> {
        let key = family_key(tenant, &family.id);
        let Some(current) = self.families.get(&key).map_err(failed)? else {
            return Ok(false);
        };
        let stored: RefreshFamily = decode(&current)?;
        // A revoked family is final, whatever version the writer saw.
        if stored.version != expected_version
            || (stored.revoked.is_some() && family.revoked.is_none())
        {
            return Ok(false);
        }
        // A single-key compare-and-swap, not a multi-tree transaction: it is what makes one
        // successor per parent, and it is several times cheaper on the hot path. The token
        // index and the metadata follow; a crash in between loses nothing a client was given,
        // because the server answers only after flushing all three.
        let swapped = self
            .families
            .compare_and_swap(&key, Some(current), Some(encode(family)?))
            .map_err(failed)?;
        if swapped.is_err() {
            return Ok(false);
        }
        if let Some(token) = new_token {
            let entry = encode(&TokenEntry {
                family_id: &family.id,
                generation: family.generation,
            })?;
            self.tokens
                .insert(token_key(tenant, token), entry)
                .map_err(failed)?;
        }
        if let Some((user_id, update)) = update {
            self.update_user_metadata(tenant, user_id, update)?;
        }
        Ok(true)
    }

    fn update_user_metadata(
        &self,
        tenant: &str,
        user_id: &str,
        update: &MetadataUpdate,
    ) -> Result<(), StoreError> {
        self.users
            .transaction(|users| apply_update(users, tenant, Some((user_id, update))))
            .map_err(tx_failed)
    }

    fn set_userinfo_claims(
        &self,
        tenant: &str,
        user_id: &str,
        claims: &rules_abi::Claims,
    ) -> Result<(), StoreError> {
        let key = tenant_key(tenant, user_id);
        let bytes = encode(claims)?;
        // Usually unchanged from the last issuance: skip the write, and the flush it costs.
        if self
            .userinfo
            .get(&key)
            .map_err(failed)?
            .is_some_and(|stored| stored == bytes.as_slice())
        {
            return Ok(());
        }
        self.userinfo.insert(key, bytes).map(drop).map_err(failed)
    }

    fn userinfo_claims(
        &self,
        tenant: &str,
        user_id: &str,
    ) -> Result<rules_abi::Claims, StoreError> {
        Ok(Self::get(&self.userinfo, tenant_key(tenant, user_id))?.unwrap_or_default())
    }

    fn flush(&self) -> Result<(), StoreError> {
        SledStore::flush(self)
    }
}

#[cfg(test)]
mod tests;
