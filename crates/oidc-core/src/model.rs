//! The records a tenant is made of: the tenant itself, its clients, APIs and users.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::secret::SecretHash;

/// Milliseconds since the Unix epoch. The domain never reads a clock: callers pass `now`.
pub type UnixMillis = u64;

/// A tenant: its own issuer, keys, clients, APIs, users and rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    /// Short name, unique per deployment; the path form addresses it as `/t/{id}/`.
    pub id: String,
    /// The `iss` of its tokens, with a trailing slash, as Auth0 writes it.
    pub issuer: String,
    /// Host names that address this tenant (`Host:` header); may be empty.
    pub hosts: Vec<String>,
    /// Algorithm new tokens are signed with.
    pub signing_alg: SigningAlg,
}

/// The JWS algorithms a tenant can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlg {
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// Public clients (native, SPA): no secret.
    None,
}

/// Auth0's application types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    Confidential,
    Public,
    /// A browser app: a public client that gets refresh tokens only with rotation.
    Spa,
}

/// A client (Auth0 "application").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub client_type: ClientType,
    pub auth_method: AuthMethod,
    /// SHA-256 of the client secret; `None` for public clients.
    pub secret_hash: Option<SecretHash>,
    /// Grant types the client may use, e.g. `password`, `refresh_token`.
    pub grant_types: Vec<String>,
    /// Exact redirect URIs, for the interactive flows.
    pub redirect_uris: Vec<String>,
    /// Where logout may send the browser back to (exact match): Auth0's
    /// `allowed_logout_urls`, also the allowed `post_logout_redirect_uri`s.
    #[serde(default)]
    pub allowed_logout_urls: Vec<String>,
    /// Origins a browser app may call the token, revoke and userinfo endpoints from (CORS):
    /// Auth0's `web_origins`.
    #[serde(default)]
    pub web_origins: Vec<String>,
    /// Whether ending an SSO session revokes the refresh tokens its logins issued to this
    /// client. Off, as Auth0's refresh tokens outlive the session.
    #[serde(default)]
    pub logout_revokes_refresh_tokens: bool,
    /// `client_metadata`: what rules see as `context.clientMetadata`.
    pub metadata: BTreeMap<String, String>,
    pub refresh_token: RefreshPolicy,
    pub id_token_lifetime_secs: u64,
    /// For `client_credentials`: the APIs this client may call and with which scopes
    /// (Auth0's client grants).
    pub api_grants: BTreeMap<String, Vec<String>>,
}

impl Client {
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|allowed| allowed == grant_type)
    }
}

/// A client's refresh-token settings (Auth0's `client.refresh_token`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshPolicy {
    /// Rotating: every exchange returns a new token and retires the old one.
    pub rotating: bool,
    /// Rotation overlap ("leeway"): for this long after a rotation, the immediately previous
    /// token may be presented again and yields the same successor.
    pub overlap_secs: u64,
    /// Absolute lifetime, fixed when the token family is created; `None` never expires.
    pub absolute_lifetime_secs: Option<u64>,
    /// Idle lifetime, sliding with every exchange; `None` never expires.
    pub idle_lifetime_secs: Option<u64>,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            rotating: true,
            overlap_secs: 0,
            absolute_lifetime_secs: Some(2_592_000),
            idle_lifetime_secs: Some(1_296_000),
        }
    }
}

/// An API (Auth0 "resource server"): an audience for access tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Api {
    /// The audience identifier, e.g. `https://api.example.com/`.
    pub identifier: String,
    pub name: String,
    /// Scopes the API defines.
    pub scopes: Vec<String>,
    /// Whether refresh tokens may be issued for it ("Allow Offline Access").
    pub allow_offline_access: bool,
    pub access_token_lifetime_secs: u64,
}

/// A user of the tenant's database connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub user_id: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub username: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    /// Argon2id, PHC string format.
    pub password_hash: Option<String>,
    pub app_metadata: serde_json::Map<String, serde_json::Value>,
    pub user_metadata: serde_json::Map<String, serde_json::Value>,
    /// RBAC role names.
    pub roles: Vec<String>,
    pub blocked: bool,
    /// Interactive and password logins; silent authentication and refresh do not count.
    pub logins_count: u64,
    #[serde(default)]
    pub last_login: Option<UnixMillis>,
    #[serde(default)]
    pub last_ip: Option<String>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// A tenant's rules and the configuration they share: one record, replaced as a whole by
/// compare-and-swap on `version`, so rule names and orders stay unique under concurrent
/// writers, and a node knows from one number whether its compiled chain is current.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSet {
    /// 0 for a tenant that never had rules; every write adds one.
    pub version: u64,
    /// In ascending `order`.
    pub rules: Vec<RuleRecord>,
    /// Auth0's rule `configuration`: secrets shared by every rule of the tenant. Never
    /// returned by the management API and never logged.
    pub configuration: BTreeMap<String, String>,
}

impl RuleSet {
    pub fn rule(&self, id: &str) -> Option<&RuleRecord> {
        self.rules.iter().find(|rule| rule.id == id)
    }

    /// The module hashes the set names: the modules a store keeps for it.
    pub fn module_hashes(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|rule| rule.module_hash.as_str())
    }
}

/// One rule of a tenant. Its module is stored beside the set, by content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRecord {
    /// `rul_` and 16 random characters, as Auth0 writes rule ids.
    pub id: String,
    pub name: String,
    pub order: i64,
    pub enabled: bool,
    /// SHA-256 of the module, hex.
    pub module_hash: String,
    pub module_size: u64,
    /// The rule ABI the module was validated against.
    pub abi_version: u32,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// Changes to a user that an issuance saves, and only with it: the metadata rules asked for,
/// and the login that started it. Stores apply it to the user as stored, inside the
/// issuance's transaction, so concurrent logins each count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetadataUpdate {
    pub app_metadata: serde_json::Map<String, serde_json::Value>,
    pub user_metadata: serde_json::Map<String, serde_json::Value>,
    pub login: Option<LoginStamp>,
}

/// A login by password, on the hosted page or at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginStamp {
    pub at: UnixMillis,
    pub ip: Option<String>,
}

impl MetadataUpdate {
    pub fn is_empty(&self) -> bool {
        self.app_metadata.is_empty() && self.user_metadata.is_empty() && self.login.is_none()
    }

    /// Applies the update to `user`: top-level keys are replaced; a login is counted.
    pub fn apply(&self, user: &mut User) {
        if let Some(login) = &self.login {
            user.logins_count = user.logins_count.saturating_add(1);
            user.last_login = Some(login.at);
            user.last_ip.clone_from(&login.ip);
        }
        for (key, value) in &self.app_metadata {
            user.app_metadata.insert(key.clone(), value.clone());
        }
        for (key, value) in &self.user_metadata {
            user.user_metadata.insert(key.clone(), value.clone());
        }
    }
}
