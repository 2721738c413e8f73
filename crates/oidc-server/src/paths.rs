//! Endpoint paths, relative to a tenant's base URL. The router and the discovery document are
//! both built from these, so they cannot drift apart.

pub(crate) const TOKEN: &str = "oauth/token";
pub(crate) const REVOKE: &str = "oauth/revoke";
pub(crate) const USERINFO: &str = "userinfo";
pub(crate) const JWKS: &str = ".well-known/jwks.json";
pub(crate) const DISCOVERY: &str = ".well-known/openid-configuration";

/// The path form of tenancy: `/t/{tenant}/…`, for local use; hosts address tenants at `/…`.
pub(crate) const TENANT_PREFIX: &str = "/t/{tenant}";

/// A tenant's absolute endpoint URLs, from its issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub issuer: String,
    pub token: String,
    pub revoke: String,
    pub userinfo: String,
    pub jwks: String,
}

impl Paths {
    /// `issuer` ends with `/`, as every tenant's does.
    pub fn for_issuer(issuer: &str) -> Paths {
        Paths {
            issuer: issuer.to_owned(),
            token: format!("{issuer}{TOKEN}"),
            revoke: format!("{issuer}{REVOKE}"),
            userinfo: format!("{issuer}{USERINFO}"),
            jwks: format!("{issuer}{JWKS}"),
        }
    }
}
