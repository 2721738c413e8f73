//! Endpoint paths, relative to a tenant's base URL. The router and the discovery document are
//! both built from these, so they cannot drift apart.

pub(crate) const TOKEN: &str = "oauth/token";
pub(crate) const REVOKE: &str = "oauth/revoke";
pub(crate) const USERINFO: &str = "userinfo";
pub(crate) const JWKS: &str = ".well-known/jwks.json";
pub(crate) const DISCOVERY: &str = ".well-known/openid-configuration";
pub(crate) const AUTHORIZE: &str = "authorize";
pub(crate) const LOGIN: &str = "u/login";
pub(crate) const CONTINUE: &str = "continue";
pub(crate) const LOGOUT: &str = "v2/logout";
pub(crate) const DEVICE_CODE: &str = "oauth/device/code";
pub(crate) const ACTIVATE: &str = "activate";
pub(crate) const OIDC_LOGOUT: &str = "oidc/logout";

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
    pub authorize: String,
    pub login: String,
    pub continue_: String,
    pub end_session: String,
    pub device_code: String,
    pub activate: String,
    /// The path of the issuer (`/` or `/t/{tenant}/`): the scope of the tenant's cookies.
    pub cookie_path: String,
    /// Whether the issuer is https: cookies are then `Secure`.
    pub secure: bool,
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
            authorize: format!("{issuer}{AUTHORIZE}"),
            login: format!("{issuer}{LOGIN}"),
            continue_: format!("{issuer}{CONTINUE}"),
            end_session: format!("{issuer}{OIDC_LOGOUT}"),
            device_code: format!("{issuer}{DEVICE_CODE}"),
            activate: format!("{issuer}{ACTIVATE}"),
            cookie_path: issuer
                .split_once("://")
                .and_then(|(_, rest)| rest.find('/').map(|at| rest[at..].to_owned()))
                .unwrap_or_else(|| "/".to_owned()),
            secure: issuer.starts_with("https://"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Paths;

    #[test]
    fn cookies_are_scoped_to_the_issuers_path() {
        let path = Paths::for_issuer("http://127.0.0.1:8080/t/acme/");
        assert_eq!(
            (path.cookie_path.as_str(), path.secure),
            ("/t/acme/", false)
        );
        let host = Paths::for_issuer("https://login.acme.test/");
        assert_eq!((host.cookie_path.as_str(), host.secure), ("/", true));
        assert_eq!(host.authorize, "https://login.acme.test/authorize");
    }
}
