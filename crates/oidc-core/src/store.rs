//! The storage port. `oidc-store` implements it on sled; the domain only sees this trait.
//!
//! A store holds no policy: which families live, what eviction revokes, when a record expires
//! and what a sweep deletes are decided in this crate. A store reads, writes atomically, and
//! compares-and-swaps. Every record but the deployment's own (`meta`) belongs to one tenant,
//! and nothing of one tenant is reachable through another's id.
//!
//! The contract is executable: `testkit::conformance` runs the same checks against every
//! engine (the in-memory one, sled, and whatever comes next).

use std::error::Error;
use std::sync::Arc;

use crate::keys::StoredKey;
use crate::model::{Api, Client, MetadataUpdate, RuleSet, Tenant, UnixMillis, User};
use crate::refresh::RefreshFamily;

/// The store failed. Never shown to a client: the server logs it once, with the request id.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The engine failed (IO, a lost connection); the cause is kept.
    #[error("{context}: {source}")]
    Backend {
        context: &'static str,
        #[source]
        source: Arc<dyn Error + Send + Sync>,
    },
    /// A record could not be decoded.
    #[error("corrupt record in {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// The write would break a uniqueness rule (a host name or login of another record).
    #[error("conflict: {0}")]
    Conflict(String),
    /// An identifier that cannot be part of a key (see `ids`): refused before any write.
    #[error("invalid identifier {id:?}: {reason}")]
    InvalidId {
        id: String,
        reason: crate::ids::IdError,
    },
}

impl StoreError {
    pub fn backend(context: &'static str, source: impl Error + Send + Sync + 'static) -> Self {
        StoreError::Backend {
            context,
            source: Arc::new(source),
        }
    }

    pub fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> Self {
        StoreError::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }
}

/// Checks that `id` may be part of a key; stores call it on every identifier they write.
pub fn checked_id(id: &str) -> Result<&str, StoreError> {
    crate::ids::validate(id).map_err(|reason| StoreError::InvalidId {
        id: id.chars().take(64).collect(),
        reason,
    })?;
    Ok(id)
}

/// Checks every identifier a rule-set write puts into keys: stores call it before writing.
pub fn checked_rule_set(
    tenant: &str,
    set: &RuleSet,
    modules: &[(&str, &[u8])],
) -> Result<(), StoreError> {
    checked_id(tenant)?;
    for rule in &set.rules {
        checked_id(&rule.id)?;
        checked_id(&rule.module_hash)?;
    }
    for (hash, _) in modules {
        checked_id(hash)?;
    }
    Ok(())
}

/// Checks every identifier a change puts into keys: stores call it before the first write,
/// so a change is refused whole.
pub fn checked_change(tenant: &str, change: &Change<'_>) -> Result<(), StoreError> {
    checked_id(tenant)?;
    if let Some(write) = &change.family {
        let family = write.family();
        checked_id(&family.id)?;
        checked_id(&family.user_id)?;
        checked_id(&family.client_id)?;
    }
    if let Some((user_id, _)) = change.metadata {
        checked_id(user_id)?;
    }
    if let Some(userinfo) = change.userinfo {
        checked_id(userinfo.user_id)?;
        checked_id(userinfo.client_id)?;
    }
    Ok(())
}

/// A write to a refresh-token family.
#[derive(Debug, Clone, Copy)]
pub enum FamilyWrite<'a> {
    /// A new family; refused if one with its id exists.
    Create(&'a RefreshFamily),
    /// Replaces the family if its stored version is still `expected_version`. Refused if the
    /// family is gone, its version moved on, or it is revoked and `family` is not: a revoked
    /// family is never written back to live, whatever the writer saw.
    Replace {
        expected_version: u64,
        family: &'a RefreshFamily,
    },
}

impl FamilyWrite<'_> {
    pub fn family(&self) -> &RefreshFamily {
        match self {
            FamilyWrite::Create(family) | FamilyWrite::Replace { family, .. } => family,
        }
    }

    /// Whether the write may go ahead on what is `stored`: the contract every engine applies
    /// inside its transaction (or expresses as its conditional statement).
    pub fn applies_to(&self, stored: Option<&RefreshFamily>) -> bool {
        self.applies_to_state(stored.map(|stored| StoredFamilyState {
            version: stored.version,
            revoked: stored.revoked.is_some(),
        }))
    }

    /// [`FamilyWrite::applies_to`] on the only two facts of the stored family it depends on,
    /// for an engine that reads them without decoding the whole record.
    pub fn applies_to_state(&self, stored: Option<StoredFamilyState>) -> bool {
        match (self, stored) {
            (FamilyWrite::Create(_), None) => true,
            (
                FamilyWrite::Replace {
                    expected_version,
                    family,
                },
                Some(stored),
            ) => {
                stored.version == *expected_version && (!stored.revoked || family.revoked.is_some())
            }
            _ => false,
        }
    }
}

/// What a replacement of a family is decided on: its stored version, and whether it is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredFamilyState {
    pub version: u64,
    pub revoked: bool,
}

/// Custom ID-token claims of the latest issuance to one client, served by `/userinfo` to that
/// client's tokens only.
#[derive(Debug, Clone, Copy)]
pub struct UserinfoWrite<'a> {
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub claims: &'a rules_abi::Claims,
}

/// Everything one request writes, applied atomically: all of it, or (when the family write is
/// refused, or the engine fails) none of it. A crash or an IO error can never leave a returned
/// token unknown, or a rotation half-written so that a retry looks like reuse.
#[derive(Debug, Clone, Copy, Default)]
pub struct Change<'a> {
    pub family: Option<FamilyWrite<'a>>,
    /// Metadata rules set on the user; skipped if the user no longer exists.
    pub metadata: Option<(&'a str, &'a MetadataUpdate)>,
    pub userinfo: Option<UserinfoWrite<'a>>,
}

impl<'a> Change<'a> {
    pub fn family(write: FamilyWrite<'a>) -> Change<'a> {
        Change {
            family: Some(write),
            ..Change::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.family.is_none() && self.metadata.is_none() && self.userinfo.is_none()
    }
}

/// The short-lived records of the interactive flows, each kind its own keyspace. Their ids
/// are SHA-256 digests of the secrets they stand for (a code, a cookie, a device code), so a
/// copy of the store yields nothing a browser or a device could present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlowKind {
    /// An authorization code, from its issue to its expiry (redeemed or not).
    AuthorizationCode,
    /// An SSO session, by its public id (`sid`).
    Session,
    /// A login in progress: the authorize request it serves, a rule redirect it waits for.
    Login,
    /// A device authorization, by the digest of its device code.
    DeviceCode,
    /// The index from a user code to its device code.
    UserCode,
}

impl FlowKind {
    pub const ALL: [FlowKind; 5] = [
        FlowKind::AuthorizationCode,
        FlowKind::Session,
        FlowKind::Login,
        FlowKind::DeviceCode,
        FlowKind::UserCode,
    ];

    /// A stable name, part of a store key.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::AuthorizationCode => "code",
            FlowKind::Session => "session",
            FlowKind::Login => "login",
            FlowKind::DeviceCode => "device",
            FlowKind::UserCode => "user_code",
        }
    }
}

/// One flow record. The store reads only `version` (for its compare-and-swap) and keeps
/// `expires_at` for the sweep; `body` is the domain's (JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    /// 1 when created; every replacement adds one.
    pub version: u64,
    pub expires_at: UnixMillis,
    pub body: Vec<u8>,
}

/// A write to one flow record.
#[derive(Debug, Clone, Copy)]
pub enum FlowWrite<'a> {
    /// Refused if a record with the id exists.
    Create(&'a FlowRecord),
    /// Refused unless the stored version is still `expected_version`.
    Replace {
        expected_version: u64,
        record: &'a FlowRecord,
    },
    /// Refused unless the stored version is still `expected_version`.
    Delete { expected_version: u64 },
}

impl FlowWrite<'_> {
    /// Whether the write may go ahead on what is `stored`: the contract every engine applies.
    pub fn applies_to(&self, stored: Option<&FlowRecord>) -> bool {
        match (self, stored) {
            (FlowWrite::Create(_), None) => true,
            (
                FlowWrite::Replace {
                    expected_version, ..
                }
                | FlowWrite::Delete { expected_version },
                Some(stored),
            ) => stored.version == *expected_version,
            _ => false,
        }
    }
}

pub trait Store: Send + Sync + std::fmt::Debug {
    // Tenants.
    fn tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError>;
    fn tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    /// The tenant that claims a host name (matched case-insensitively).
    fn tenant_for_host(&self, host: &str) -> Result<Option<String>, StoreError>;
    /// Creates or replaces a tenant, atomically claiming its hosts and releasing the hosts it
    /// no longer lists. `Conflict` if another tenant claims one of them: nothing is written.
    fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// Deletes the tenant and every record of it (keys, clients, APIs, users, rules,
    /// modules, refresh tokens, userinfo claims, flow records, host claims). Idempotent.
    fn delete_tenant(&self, id: &str) -> Result<(), StoreError>;

    // Signing keys, wrapped under the operator key.
    fn keys(&self, tenant: &str) -> Result<Vec<StoredKey>, StoreError>;
    fn put_key(&self, tenant: &str, key: &StoredKey) -> Result<(), StoreError>;
    /// `Ok(false)`: there was no such key.
    fn delete_key(&self, tenant: &str, kid: &str) -> Result<bool, StoreError>;

    // Clients and APIs.
    fn client(&self, tenant: &str, client_id: &str) -> Result<Option<Client>, StoreError>;
    fn put_client(&self, tenant: &str, client: &Client) -> Result<(), StoreError>;
    fn api(&self, tenant: &str, identifier: &str) -> Result<Option<Api>, StoreError>;
    fn put_api(&self, tenant: &str, api: &Api) -> Result<(), StoreError>;
    /// Every client of the tenant, in id order.
    fn clients(&self, tenant: &str) -> Result<Vec<Client>, StoreError>;
    /// `Ok(false)`: there was no such client.
    fn delete_client(&self, tenant: &str, client_id: &str) -> Result<bool, StoreError>;
    /// Every API of the tenant, in identifier order.
    fn apis(&self, tenant: &str) -> Result<Vec<Api>, StoreError>;
    /// `Ok(false)`: there was no such API.
    fn delete_api(&self, tenant: &str, identifier: &str) -> Result<bool, StoreError>;

    // Users.
    fn user(&self, tenant: &str, user_id: &str) -> Result<Option<User>, StoreError>;
    /// By email or username, case-insensitively.
    fn user_by_login(&self, tenant: &str, login: &str) -> Result<Option<User>, StoreError>;
    /// Creates or replaces a user with its login index (email and username), releasing logins
    /// it no longer has. `Conflict` if another user of the tenant has one of its logins.
    fn put_user(&self, tenant: &str, user: &User) -> Result<(), StoreError>;
    /// Up to `limit` users with ids after `after`, in id order.
    fn users_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError>;
    /// Deletes a user with its logins and `/userinfo` claims (its refresh-token families are
    /// the domain's to revoke first). `Ok(false)`: there was none.
    fn delete_user(&self, tenant: &str, user_id: &str) -> Result<bool, StoreError>;

    // Rules: one set per tenant, and their modules by content hash.
    /// The tenant's rule set; an empty one at version 0 if it never had one.
    fn rule_set(&self, tenant: &str) -> Result<RuleSet, StoreError>;
    /// Replaces the rule set if the stored version is still `expected_version` (0: none
    /// stored), atomically storing `modules` (SHA-256 hex, bytes) and deleting every module
    /// the new set no longer names. `Ok(false)`: the set moved on; nothing was written.
    fn put_rule_set(
        &self,
        tenant: &str,
        expected_version: u64,
        set: &RuleSet,
        modules: &[(&str, &[u8])],
    ) -> Result<bool, StoreError>;
    fn module(&self, tenant: &str, hash: &str) -> Result<Option<Vec<u8>>, StoreError>;

    // Refresh-token families.
    fn refresh_family(
        &self,
        tenant: &str,
        family_id: &str,
    ) -> Result<Option<RefreshFamily>, StoreError>;
    /// Every family of a user, of one client or of all, live or not.
    fn refresh_families(
        &self,
        tenant: &str,
        user_id: &str,
        client_id: Option<&str>,
    ) -> Result<Vec<RefreshFamily>, StoreError>;
    /// Up to `limit` families of the tenant with ids after `after`, in id order: a cursor for
    /// the sweep.
    fn refresh_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RefreshFamily>, StoreError>;
    /// Deletes the family if its stored version is still `expected_version`. `Ok(false)`:
    /// gone already, or written since; nothing was changed.
    fn refresh_delete(
        &self,
        tenant: &str,
        family_id: &str,
        expected_version: u64,
    ) -> Result<bool, StoreError>;

    /// Applies `change` atomically. `Ok(false)`: its family write was refused (see
    /// [`FamilyWrite`]), and nothing was written.
    fn apply(&self, tenant: &str, change: &Change<'_>) -> Result<bool, StoreError>;

    /// Custom ID-token claims of the latest issuance of `user_id` to `client_id`.
    fn userinfo_claims(
        &self,
        tenant: &str,
        user_id: &str,
        client_id: &str,
    ) -> Result<rules_abi::Claims, StoreError>;

    // Log events, keyed by their time-ordered ids.
    fn append_logs(
        &self,
        tenant: &str,
        events: &[crate::audit::LogEvent],
    ) -> Result<(), StoreError>;
    /// Up to `limit` events after `after` in id order (oldest first), or, `newest_first`,
    /// before `after` from the newest.
    fn logs(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
        newest_first: bool,
    ) -> Result<Vec<crate::audit::LogEvent>, StoreError>;
    fn log(&self, tenant: &str, id: &str) -> Result<Option<crate::audit::LogEvent>, StoreError>;
    /// Deletes every event but the newest `keep`, and every event with an id before
    /// `before` (a date prefix). Returns how many it deleted.
    fn trim_logs(&self, tenant: &str, keep: usize, before: &str) -> Result<usize, StoreError>;

    // Records of the interactive flows (see [`FlowKind`]).
    fn flow(
        &self,
        tenant: &str,
        kind: FlowKind,
        id: &str,
    ) -> Result<Option<FlowRecord>, StoreError>;
    /// Applies `write` atomically. `Ok(false)`: refused (see [`FlowWrite::applies_to`]);
    /// nothing was written.
    fn write_flow(
        &self,
        tenant: &str,
        kind: FlowKind,
        id: &str,
        write: FlowWrite<'_>,
    ) -> Result<bool, StoreError>;
    /// Up to `limit` records of one kind with ids after `after`, in id order: the sweep's
    /// cursor.
    fn flow_page(
        &self,
        tenant: &str,
        kind: FlowKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, FlowRecord)>, StoreError>;

    // The deployment's own records (its wrapped secret), outside every tenant.
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets `name` to `value` if it still holds `expected` (`None`: absent).
    fn meta_swap(
        &self,
        name: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, StoreError>;

    /// Makes every write so far durable. The domain never calls it; the server does, before
    /// it answers, so nothing returned to a client can be lost.
    fn flush(&self) -> Result<(), StoreError>;

    /// Whether every write is durable once it returns (a database that commits each one), so
    /// [`flush`](Self::flush) has nothing to do and nobody need wait for it.
    fn durable_on_write(&self) -> bool {
        false
    }

    /// Announcements of meta records changed by *other* processes sharing this store, where
    /// the engine has them (PostgreSQL's `LISTEN`/`NOTIFY`). `None`: the engine has none (an
    /// embedded store has one process), so a node that cares reads the records on a timer.
    fn listen_meta(&self) -> Result<Option<Box<dyn MetaListener>>, StoreError> {
        Ok(None)
    }

    /// The engine's connection pool, where it has one: for the operator's metrics.
    fn pool(&self) -> Option<PoolUse> {
        None
    }
}

/// What a store's connection pool holds right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections open, busy or idle.
    pub open: u32,
    /// Of those, idle.
    pub idle: u32,
    /// The most it opens.
    pub max: u32,
    /// Round trips to the database since the pool opened.
    pub round_trips: u64,
}

/// A feed of meta-record changes, on a connection of its own. Announcements are hints, not
/// a log: one can be lost (a dropped connection), so a listener also reads on a timer.
pub trait MetaListener: Send {
    /// Blocks until a meta record may have changed (`Ok(true)`) or `timeout` passes
    /// (`Ok(false)`). An error means the feed broke: open another.
    fn wait(&mut self, timeout: std::time::Duration) -> Result<bool, StoreError>;
}
