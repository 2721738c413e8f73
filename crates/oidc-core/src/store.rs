//! The storage port. `oidc-store` implements it on sled; the domain only sees this trait.
//!
//! Writes that must not race take the version they expect and report a conflict instead of
//! overwriting: that is how two concurrent exchanges of one refresh token yield exactly one
//! successor.

use crate::keys::KeyMaterial;
use crate::model::{Api, Client, MetadataUpdate, RuleRecord, Tenant, User};
use crate::refresh::RefreshFamily;
use crate::secret::SecretHash;

/// The store failed (IO, corruption). Never shown to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

/// A metadata update tied to a user, written in the same transaction as the tokens.
pub type UserUpdate<'a> = Option<(&'a str, &'a MetadataUpdate)>;

pub trait Store: Send + Sync {
    fn tenant(&self, tenant: &str) -> Result<Option<Tenant>, StoreError>;
    /// The tenant addressed by a `Host` header, if any claims it.
    fn tenant_for_host(&self, host: &str) -> Result<Option<String>, StoreError>;
    fn keys(&self, tenant: &str) -> Result<Vec<KeyMaterial>, StoreError>;
    fn client(&self, tenant: &str, client_id: &str) -> Result<Option<Client>, StoreError>;
    fn api(&self, tenant: &str, identifier: &str) -> Result<Option<Api>, StoreError>;
    fn user(&self, tenant: &str, user_id: &str) -> Result<Option<User>, StoreError>;
    /// By email or username, case-insensitively.
    fn user_by_login(&self, tenant: &str, login: &str) -> Result<Option<User>, StoreError>;
    fn rules(&self, tenant: &str) -> Result<Vec<RuleRecord>, StoreError>;

    /// The family and generation a refresh token hash was issued to.
    fn refresh_find(
        &self,
        tenant: &str,
        token: &SecretHash,
    ) -> Result<Option<(u64, RefreshFamily)>, StoreError>;

    fn refresh_family(
        &self,
        tenant: &str,
        family_id: &str,
    ) -> Result<Option<RefreshFamily>, StoreError>;

    /// Stores a new family with its first token and applies `update`, atomically; then keeps
    /// at most `max_live` live families for the user and client, revoking the oldest.
    fn refresh_create(
        &self,
        tenant: &str,
        family: &RefreshFamily,
        token: &SecretHash,
        max_live: usize,
        update: UserUpdate<'_>,
        now: crate::UnixMillis,
    ) -> Result<(), StoreError>;

    /// Replaces the family if its stored version is still `expected_version` (a
    /// compare-and-swap; a revoked family is never replaced by a live one), then indexes
    /// `new_token` at the family's generation and applies `update`. `Ok(false)`: someone else
    /// wrote first; nothing was changed.
    fn refresh_replace(
        &self,
        tenant: &str,
        expected_version: u64,
        family: &RefreshFamily,
        new_token: Option<&SecretHash>,
        update: UserUpdate<'_>,
    ) -> Result<bool, StoreError>;

    fn update_user_metadata(
        &self,
        tenant: &str,
        user_id: &str,
        update: &MetadataUpdate,
    ) -> Result<(), StoreError>;

    /// Custom ID-token claims from the latest issuance, served by `/userinfo`.
    fn set_userinfo_claims(
        &self,
        tenant: &str,
        user_id: &str,
        claims: &rules_abi::Claims,
    ) -> Result<(), StoreError>;
    fn userinfo_claims(&self, tenant: &str, user_id: &str)
    -> Result<rules_abi::Claims, StoreError>;

    /// Makes every write so far durable. The domain never calls it; the server does, before
    /// it answers, so nothing returned to a client can be lost.
    fn flush(&self) -> Result<(), StoreError>;
}
