//! Key layout: every key starts with the tenant id and a NUL, so a prefix scan of one tenant
//! never reaches another's records, and ids cannot collide across tenants.

use oidc_core::SecretHash;

pub(crate) fn tenant_key(tenant: &str, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(tenant.len() + 1 + id.len());
    key.extend_from_slice(tenant.as_bytes());
    key.push(0);
    key.extend_from_slice(id.as_bytes());
    key
}

pub(crate) fn login_key(tenant: &str, login: &str) -> Vec<u8> {
    tenant_key(tenant, &login.to_lowercase())
}

pub(crate) fn family_key(tenant: &str, family_id: &str) -> Vec<u8> {
    tenant_key(tenant, family_id)
}

pub(crate) fn token_key(tenant: &str, token: &SecretHash) -> Vec<u8> {
    let mut key = tenant_key(tenant, "");
    key.extend_from_slice(&token.0);
    key
}

pub(crate) fn user_family_prefix(tenant: &str, user_id: &str, client_id: &str) -> Vec<u8> {
    let mut key = tenant_key(tenant, user_id);
    key.push(0);
    key.extend_from_slice(client_id.as_bytes());
    key.push(0);
    key
}

/// Sorted by creation time within a user and client, oldest first.
pub(crate) fn user_family_key(
    tenant: &str,
    user_id: &str,
    client_id: &str,
    created_at: u64,
    family_id: &str,
) -> Vec<u8> {
    let mut key = user_family_prefix(tenant, user_id, client_id);
    key.extend_from_slice(&created_at.to_be_bytes());
    key.extend_from_slice(family_id.as_bytes());
    key
}
