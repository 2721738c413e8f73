//! `POST /oauth/token`: client authentication and one module per grant type, sharing one
//! issuance path.

mod authorization_code;
pub(crate) mod client_credentials;
mod device_code;
pub(crate) mod issue;
pub mod password;
mod refresh_token;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::OAuthError;
use crate::keys::TenantKeys;
use crate::model::{AuthMethod, Client, ClientType, Tenant, UnixMillis};
use crate::refresh::token::RefreshKeys;
use crate::rules::{RequestInfo, RuleRunner};
use crate::secret::{Entropy, Secret};
use crate::store::Store;
use crate::throttle::LoginThrottle;

pub use issue::Issued;

/// The grant types the token endpoint knows.
pub const PASSWORD: &str = "password";
pub const PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";
pub const CLIENT_CREDENTIALS: &str = "client_credentials";
pub const REFRESH_TOKEN: &str = "refresh_token";
pub const AUTHORIZATION_CODE: &str = "authorization_code";
/// Not a token-endpoint grant: what a client needs enabled for `response_type=id_token`.
pub const IMPLICIT: &str = "implicit";

/// Everything a grant needs from around it.
pub struct TokenContext<'a> {
    pub store: &'a dyn Store,
    pub rules: &'a dyn RuleRunner,
    pub keys: &'a TenantKeys,
    pub refresh_keys: &'a RefreshKeys,
    /// Brute-force protection for password logins.
    pub throttle: &'a LoginThrottle,
    /// Where the events only the domain sees are recorded (reuse, revocation, eviction).
    pub audit: &'a dyn crate::audit::Audit,
    pub tenant: &'a Tenant,
    /// `{issuer}userinfo`: an audience of every token that grants `openid`.
    pub userinfo_url: &'a str,
    pub now: UnixMillis,
}

impl std::fmt::Debug for TokenContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenContext")
            .field("tenant", &self.tenant.id)
            .field("now", &self.now)
            .finish()
    }
}

/// How the client presented its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCredentials {
    /// HTTP Basic: `client_secret_basic`.
    Basic { client_id: String, secret: Secret },
    /// In the body: `client_secret_post`, or just `client_id` for public clients.
    Post {
        client_id: String,
        secret: Option<Secret>,
    },
    /// Nothing at all.
    Missing,
}

/// A parsed token request: parameters (without client credentials), credentials, and
/// request facts for the rules.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub params: BTreeMap<String, String>,
    pub credentials: ClientCredentials,
    pub info: RequestInfo,
}

impl TokenRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.param(name).ok_or_else(|| {
            OAuthError::invalid_request(format!("Missing required parameter: {name}"))
        })
    }
}

/// The token response (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
}

/// Handles a token request of any grant type.
pub fn exchange(
    ctx: &TokenContext<'_>,
    request: &TokenRequest,
    entropy: &mut dyn Entropy,
) -> Result<Issued, OAuthError> {
    let grant_type = request.required("grant_type")?;
    match grant_type {
        PASSWORD | PASSWORD_REALM => password::grant(ctx, request, entropy),
        CLIENT_CREDENTIALS => client_credentials::grant(ctx, request),
        REFRESH_TOKEN => refresh_token::grant(ctx, request, entropy),
        AUTHORIZATION_CODE => authorization_code::grant(ctx, request, entropy),
        crate::login::device::DEVICE_CODE_GRANT => device_code::grant(ctx, request, entropy),
        other => Err(OAuthError::unsupported_grant_type(format!(
            "Unsupported grant type: {other}"
        ))),
    }
}

/// Refuses, before any work is scheduled, a request that brute-force protection blocks: a
/// blocked password guess then costs a lookup, not a worker and an Argon2 run. The grant
/// checks again (this is an early answer, not the only guard).
pub fn admit(
    throttle: &LoginThrottle,
    tenant: &str,
    request: &TokenRequest,
    now: UnixMillis,
) -> Result<(), OAuthError> {
    let password = matches!(request.param("grant_type"), Some(PASSWORD | PASSWORD_REALM));
    match request.param("username") {
        Some(username) if password => throttle.check(
            tenant,
            username,
            request.info.ip.as_deref().unwrap_or_default(),
            now,
        ),
        _ => Ok(()),
    }
}

/// Authenticates the client and checks it may use `grant_type`, with Auth0's message.
pub(crate) fn authenticate_for(
    ctx: &TokenContext<'_>,
    credentials: &ClientCredentials,
    grant_type: &str,
) -> Result<Client, OAuthError> {
    let client = authenticate_client(ctx, credentials)?;
    if !client.allows_grant(grant_type) {
        return Err(OAuthError::unauthorized_client(format!(
            "Grant type '{grant_type}' not allowed for the client."
        )));
    }
    Ok(client)
}

/// Authenticates the client. A confidential client proves itself with its secret, in HTTP
/// Basic or in the body, whichever method it registered: RFC 6749 §2.3.1 says a server MUST
/// accept Basic from any client issued a secret, and client libraries pick one or the other
/// (authlib's `revoke_token` sends Basic). A confidential client never gets in without a
/// secret, and a public client never sends one. The secret is compared in constant time
/// against its stored hash, and every failure looks the same.
pub fn authenticate_client(
    ctx: &TokenContext<'_>,
    credentials: &ClientCredentials,
) -> Result<Client, OAuthError> {
    let failed = || OAuthError::invalid_client("Client authentication failed.");
    let (client_id, secret) = match credentials {
        ClientCredentials::Basic { client_id, secret } => (client_id, Some(secret)),
        ClientCredentials::Post { client_id, secret } => (client_id, secret.as_ref()),
        ClientCredentials::Missing => {
            return Err(OAuthError::invalid_request(
                "Missing required parameter: client_id",
            ));
        }
    };
    crate::ids::client_id(client_id)?;
    let client = ctx
        .store
        .client(&ctx.tenant.id, client_id)?
        .ok_or_else(failed)?;
    let confidential = client.client_type == ClientType::Confidential;
    match (secret, &client.secret_hash) {
        (None, None) if !confidential && client.auth_method == AuthMethod::None => Ok(client),
        (Some(secret), Some(hash)) if confidential && hash.matches(secret) => Ok(client),
        _ => Err(failed()),
    }
}
