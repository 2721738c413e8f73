//! Key layout: every key starts with the tenant id and a NUL, so a prefix scan of one tenant
//! never reaches another's records, and ids cannot collide across tenants. Identifiers are
//! checked (`oidc_core::store::checked_id`) before they become part of a key, so none holds
//! the NUL separator.

/// `tenant NUL part NUL part …`.
pub(crate) fn key(tenant: &str, parts: &[&str]) -> Vec<u8> {
    let len = tenant.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>();
    let mut key = Vec::with_capacity(len);
    key.extend_from_slice(tenant.as_bytes());
    for part in parts {
        key.push(0);
        key.extend_from_slice(part.as_bytes());
    }
    key
}

/// The prefix of every key of `tenant`.
pub(crate) fn tenant_prefix(tenant: &str) -> Vec<u8> {
    let mut prefix = key(tenant, &[]);
    prefix.push(0);
    prefix
}

pub(crate) fn login_key(tenant: &str, login: &str) -> Vec<u8> {
    key(tenant, &[&login.to_lowercase()])
}

/// Record kinds sharing the `issuance` tree (so one transaction covers a whole issuance).
pub(crate) const FAMILY: &str = "f";
pub(crate) const USER_FAMILY: &str = "u";
pub(crate) const USERINFO: &str = "c";

pub(crate) fn family_key(tenant: &str, family_id: &str) -> Vec<u8> {
    key(tenant, &[FAMILY, family_id])
}

/// Families of a user, of every client.
pub(crate) fn user_prefix(tenant: &str, user_id: &str) -> Vec<u8> {
    let mut prefix = key(tenant, &[USER_FAMILY, user_id]);
    prefix.push(0);
    prefix
}

/// The `/userinfo` claims of a user, for every client.
pub(crate) fn userinfo_prefix(tenant: &str, user_id: &str) -> Vec<u8> {
    let mut prefix = key(tenant, &[USERINFO, user_id]);
    prefix.push(0);
    prefix
}

/// Families of a user and client, for the cap: the index entry's key names the family.
pub(crate) fn user_family_prefix(tenant: &str, user_id: &str, client_id: &str) -> Vec<u8> {
    let mut prefix = key(tenant, &[USER_FAMILY, user_id, client_id]);
    prefix.push(0);
    prefix
}

pub(crate) fn user_family_key(
    tenant: &str,
    user_id: &str,
    client_id: &str,
    family_id: &str,
) -> Vec<u8> {
    key(tenant, &[USER_FAMILY, user_id, client_id, family_id])
}

pub(crate) fn userinfo_key(tenant: &str, user_id: &str, client_id: &str) -> Vec<u8> {
    key(tenant, &[USERINFO, user_id, client_id])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_prefix_never_matches_a_longer_tenant_id() {
        let acme = tenant_prefix("acme");
        assert!(key("acme", &["x"]).starts_with(&acme));
        assert!(!key("acme2", &["x"]).starts_with(&acme));
        assert!(!key("acm", &["ex"]).starts_with(&acme));
    }
}
