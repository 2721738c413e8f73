//! What a rule receives: the Auth0 Rules `user` and `context`, plus tenant configuration.
//!
//! Every struct here tolerates unknown fields and defaults missing ones, so a rule built
//! against this version keeps working when the host sends more.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Protocol;

// Defaults are left out of the wire: a rule parses less, and reads the same values back.
fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// A set of token claims: name to any JSON value.
pub type Claims = serde_json::Map<String, Value>;

/// The whole input of one rule call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleInput {
    /// The user tokens are being issued for.
    pub user: User,
    /// The issuance: protocol, client, request and the claims set so far.
    pub context: Context,
    /// The tenant's rule configuration (Auth0's `configuration` global): secrets and settings
    /// shared by all rules of the tenant, so none of them is compiled into a module.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub configuration: BTreeMap<String, String>,
    /// The host's clock in milliseconds since the Unix epoch. Rules have no clock import, so a
    /// rule run is reproducible from its input.
    pub now: u64,
    /// A fresh random value per call, for the same reason: rules have no entropy import.
    pub seed: u64,
}

/// The user, in the shape of Auth0's rule `user` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    /// The stable identifier, the `sub` of the tokens.
    pub user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub email_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub phone_verified: bool,
    /// RFC 3339 timestamps, as Auth0 sends them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_login: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ip: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub logins_count: u64,
    #[serde(skip_serializing_if = "is_false")]
    pub blocked: bool,
    /// Data the user cannot change (roles, plan, flags). Always an object, as in Actions.
    #[serde(skip_serializing_if = "Claims::is_empty")]
    pub app_metadata: Claims,
    /// Data the user may change (preferences).
    #[serde(skip_serializing_if = "Claims::is_empty")]
    pub user_metadata: Claims,
    /// The accounts the user signs in with; one per connection.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<Identity>,
}

/// One of the user's identities (Auth0's `user.identities[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Identity {
    pub connection: String,
    pub provider: String,
    /// The id within the provider, without the `provider|` prefix.
    pub user_id: String,
    #[serde(rename = "isSocial")]
    pub is_social: bool,
}

/// The issuance, in the shape of Auth0's rule `context` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Context {
    /// The tenant name.
    pub tenant: String,
    /// Which flow is issuing tokens.
    pub protocol: Protocol,
    #[serde(rename = "clientID")]
    pub client_id: String,
    pub client_name: String,
    /// The client's `client_metadata`: string keys to string values.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub client_metadata: BTreeMap<String, String>,
    /// The connection the user authenticated with, e.g. `Username-Password-Authentication`.
    pub connection: String,
    /// `auth0` for the database connection.
    pub connection_strategy: String,
    #[serde(rename = "connectionID", skip_serializing_if = "String::is_empty")]
    pub connection_id: String,
    /// The single sign-on session, in interactive flows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sso: Option<Sso>,
    /// On `redirect-callback`: the protocol the login started with.
    #[serde(rename = "original_protocol", skip_serializing_if = "Option::is_none")]
    pub original_protocol: Option<Protocol>,
    pub request: Request,
    pub stats: Stats,
    pub authorization: Authorization,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
    #[serde(rename = "sessionID", skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The API (`aud`) the access token is for, when one was requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The access-token scope as it stands, after any change by an earlier rule.
    pub scope: Vec<String>,
    /// Custom ID-token claims set by earlier rules in this chain.
    #[serde(skip_serializing_if = "Claims::is_empty")]
    pub id_token: Claims,
    /// Custom access-token claims set by earlier rules in this chain.
    #[serde(skip_serializing_if = "Claims::is_empty")]
    pub access_token: Claims,
    /// The refresh token being exchanged. Present only when `protocol` is
    /// `oauth2-refresh-token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshTokenInfo>,
}

/// The HTTP request that started the issuance. Secrets (passwords, client secrets, tokens)
/// are never copied into `query` or `body`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Request {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Claims::is_empty")]
    pub query: Claims,
    #[serde(skip_serializing_if = "Claims::is_empty")]
    pub body: Claims,
}

/// The SSO session a login belongs to (Auth0's `context.sso`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sso {
    /// The user came with a session and did not enter credentials.
    pub with_auth0: bool,
    /// The session was made by a database (password) login.
    pub with_dbconn: bool,
    /// Clients the session has logged in to so far.
    pub current_clients: Vec<String>,
}

/// Login statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Stats {
    pub logins_count: u64,
}

/// The user's RBAC data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Authorization {
    /// Role names.
    pub roles: Vec<String>,
}

/// How the user authenticated in this session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Authentication {
    pub methods: Vec<AuthenticationMethod>,
}

/// One authentication method, e.g. `pwd`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthenticationMethod {
    pub name: String,
    /// Milliseconds since the Unix epoch, as in Auth0's examples.
    pub timestamp: u64,
}

/// The refresh token being exchanged, with the field names of Auth0 Actions'
/// `event.refresh_token`. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RefreshTokenInfo {
    /// The family identifier: stable across rotations, never the token itself.
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_expires_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_exchanged_at: Option<u64>,
    pub rotating: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The scopes the token was granted.
    pub scope: Vec<String>,
}
