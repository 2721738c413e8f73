//! A tenant's clients (Auth0 "applications") and their refresh-token policy in Auth0's shape.
//! A secret is generated here and shown once; only its hash is stored. A policy change
//! reaches live refresh tokens at their next exchange (see `RefreshFamily::under_policy`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ManageError;
use crate::model::{AuthMethod, Client, ClientType, RefreshPolicy};
use crate::secret::{self, Entropy, Secret};
use crate::store::Store;

/// The longest refresh-token lifetime Auth0 accepts: a year.
pub const MAX_LIFETIME_SECS: u64 = 31_557_600;

/// Auth0's `client.refresh_token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshTokenSettings {
    /// `rotating` or `non-rotating`.
    pub rotation_type: String,
    /// `expiring` or `non-expiring`.
    pub expiration_type: String,
    /// The rotation overlap, in seconds.
    #[serde(default)]
    pub leeway: u64,
    #[serde(default = "year")]
    pub token_lifetime: u64,
    #[serde(default)]
    pub infinite_token_lifetime: bool,
    #[serde(default = "thirty_days")]
    pub idle_token_lifetime: u64,
    #[serde(default)]
    pub infinite_idle_token_lifetime: bool,
}

fn year() -> u64 {
    MAX_LIFETIME_SECS
}

fn thirty_days() -> u64 {
    2_592_000
}

impl RefreshTokenSettings {
    /// Auth0's defaults: rotating and expiring for browser apps (30 days, 15 days idle),
    /// non-rotating and non-expiring otherwise.
    pub fn default_for(client_type: ClientType) -> RefreshTokenSettings {
        match client_type {
            ClientType::Spa => RefreshTokenSettings::from_policy(&RefreshPolicy::default()),
            _ => RefreshTokenSettings {
                rotation_type: "non-rotating".into(),
                expiration_type: "non-expiring".into(),
                leeway: 0,
                token_lifetime: MAX_LIFETIME_SECS,
                infinite_token_lifetime: true,
                idle_token_lifetime: 2_592_000,
                infinite_idle_token_lifetime: true,
            },
        }
    }

    pub fn from_policy(policy: &RefreshPolicy) -> RefreshTokenSettings {
        RefreshTokenSettings {
            rotation_type: if policy.rotating {
                "rotating"
            } else {
                "non-rotating"
            }
            .into(),
            expiration_type: if policy.absolute_lifetime_secs.is_some()
                || policy.idle_lifetime_secs.is_some()
            {
                "expiring"
            } else {
                "non-expiring"
            }
            .into(),
            leeway: policy.overlap_secs,
            token_lifetime: policy.absolute_lifetime_secs.unwrap_or(MAX_LIFETIME_SECS),
            infinite_token_lifetime: policy.absolute_lifetime_secs.is_none(),
            idle_token_lifetime: policy.idle_lifetime_secs.unwrap_or(2_592_000),
            infinite_idle_token_lifetime: policy.idle_lifetime_secs.is_none(),
        }
    }

    /// The policy these settings describe, checked as Auth0 checks them.
    pub fn to_policy(&self) -> Result<RefreshPolicy, ManageError> {
        let rotating = match self.rotation_type.as_str() {
            "rotating" => true,
            "non-rotating" => false,
            other => {
                return Err(ManageError::invalid(format!(
                    "rotation_type {other:?} is not 'rotating' or 'non-rotating'."
                )));
            }
        };
        let expiring = match self.expiration_type.as_str() {
            "expiring" => true,
            "non-expiring" => false,
            other => {
                return Err(ManageError::invalid(format!(
                    "expiration_type {other:?} is not 'expiring' or 'non-expiring'."
                )));
            }
        };
        if rotating && !expiring {
            return Err(ManageError::invalid(
                "Rotating refresh tokens must expire: set expiration_type to 'expiring'.",
            ));
        }
        for (name, value) in [
            ("token_lifetime", self.token_lifetime),
            ("idle_token_lifetime", self.idle_token_lifetime),
        ] {
            if !(1..=MAX_LIFETIME_SECS).contains(&value) {
                return Err(ManageError::invalid(format!(
                    "{name} must be between 1 and {MAX_LIFETIME_SECS} seconds."
                )));
            }
        }
        let absolute = (expiring && !self.infinite_token_lifetime).then_some(self.token_lifetime);
        let idle =
            (expiring && !self.infinite_idle_token_lifetime).then_some(self.idle_token_lifetime);
        if let (Some(absolute), Some(idle)) = (absolute, idle)
            && idle > absolute
        {
            return Err(ManageError::invalid(
                "idle_token_lifetime cannot be longer than token_lifetime.",
            ));
        }
        if self.leeway > 60 {
            return Err(ManageError::invalid("leeway is at most 60 seconds."));
        }
        Ok(RefreshPolicy {
            rotating,
            overlap_secs: if rotating { self.leeway } else { 0 },
            absolute_lifetime_secs: absolute,
            idle_lifetime_secs: idle,
        })
    }
}

/// Auth0's application types.
pub fn client_type(app_type: &str) -> Result<ClientType, ManageError> {
    match app_type {
        "regular_web" | "non_interactive" => Ok(ClientType::Confidential),
        "native" => Ok(ClientType::Public),
        "spa" => Ok(ClientType::Spa),
        other => Err(ManageError::invalid(format!(
            "app_type {other:?} is not one of regular_web, non_interactive, native, spa."
        ))),
    }
}

/// The Auth0 application type of a client.
pub fn app_type(client: &Client) -> &'static str {
    match client.client_type {
        ClientType::Spa => "spa",
        ClientType::Public => "native",
        ClientType::Confidential if client.grant_types == [crate::grants::CLIENT_CREDENTIALS] => {
            "non_interactive"
        }
        ClientType::Confidential => "regular_web",
    }
}

/// The fields a create or update may set; `None` keeps (on create: defaults).
#[derive(Debug, Clone, Default)]
pub struct ClientFields {
    pub name: Option<String>,
    pub app_type: Option<String>,
    pub token_endpoint_auth_method: Option<AuthMethod>,
    pub grant_types: Option<Vec<String>>,
    pub callbacks: Option<Vec<String>>,
    pub allowed_logout_urls: Option<Vec<String>>,
    pub web_origins: Option<Vec<String>>,
    pub logout_revokes_refresh_tokens: Option<bool>,
    pub client_metadata: Option<BTreeMap<String, String>>,
    pub refresh_token: Option<RefreshTokenSettings>,
    pub id_token_lifetime_secs: Option<u64>,
    pub api_grants: Option<BTreeMap<String, Vec<String>>>,
}

fn not_found(id: &str) -> ManageError {
    ManageError::NotFound(format!("The client {id:?} does not exist."))
}

pub fn list(store: &dyn Store, tenant: &str) -> Result<Vec<Client>, ManageError> {
    Ok(store.clients(tenant)?)
}

pub fn get(store: &dyn Store, tenant: &str, id: &str) -> Result<Client, ManageError> {
    crate::ids::validate(id).map_err(|_| not_found(id))?;
    store.client(tenant, id)?.ok_or_else(|| not_found(id))
}

/// Creates a client with Auth0's defaults; a confidential one gets a secret, returned once.
pub fn create(
    store: &dyn Store,
    tenant: &str,
    fields: ClientFields,
    entropy: &mut dyn Entropy,
) -> Result<(Client, Option<Secret>), ManageError> {
    let name = fields
        .name
        .clone()
        .ok_or_else(|| ManageError::invalid("A client needs a name."))?;
    let client_type = client_type(fields.app_type.as_deref().unwrap_or("regular_web"))?;
    let confidential = client_type == ClientType::Confidential;
    let secret = confidential.then(|| secret::new_token(entropy));
    let mut client = Client {
        client_id: new_client_id(entropy),
        name,
        client_type,
        auth_method: if confidential {
            AuthMethod::ClientSecretPost
        } else {
            AuthMethod::None
        },
        secret_hash: secret.as_ref().map(Secret::hash),
        grant_types: match client_type {
            ClientType::Confidential => {
                vec![
                    "authorization_code".into(),
                    "implicit".into(),
                    "refresh_token".into(),
                    "client_credentials".into(),
                ]
            }
            _ => vec![
                "authorization_code".into(),
                "implicit".into(),
                "refresh_token".into(),
            ],
        },
        redirect_uris: Vec::new(),
        allowed_logout_urls: Vec::new(),
        web_origins: Vec::new(),
        logout_revokes_refresh_tokens: false,
        metadata: BTreeMap::new(),
        refresh_token: RefreshTokenSettings::default_for(client_type).to_policy()?,
        id_token_lifetime_secs: 36_000,
        api_grants: BTreeMap::new(),
    };
    apply(&mut client, fields)?;
    store.put_client(tenant, &client)?;
    Ok((client, secret))
}

/// Changes a client. Its type cannot change (a public client has no secret to start from).
pub fn update(
    store: &dyn Store,
    tenant: &str,
    id: &str,
    fields: ClientFields,
) -> Result<Client, ManageError> {
    let mut client = get(store, tenant, id)?;
    if let Some(app_type) = &fields.app_type
        && client_type(app_type)? != client.client_type
    {
        return Err(ManageError::invalid(
            "A client's app_type cannot change between confidential and public.",
        ));
    }
    apply(&mut client, fields)?;
    store.put_client(tenant, &client)?;
    Ok(client)
}

/// A new secret for a confidential client, returned once; the old one stops working at once.
pub fn rotate_secret(
    store: &dyn Store,
    tenant: &str,
    id: &str,
    entropy: &mut dyn Entropy,
) -> Result<(Client, Secret), ManageError> {
    let mut client = get(store, tenant, id)?;
    if client.client_type != ClientType::Confidential {
        return Err(ManageError::invalid("A public client has no secret."));
    }
    let secret = secret::new_token(entropy);
    client.secret_hash = Some(secret.hash());
    store.put_client(tenant, &client)?;
    Ok((client, secret))
}

pub fn delete(store: &dyn Store, tenant: &str, id: &str) -> Result<(), ManageError> {
    crate::ids::validate(id).map_err(|_| not_found(id))?;
    if !store.delete_client(tenant, id)? {
        return Err(not_found(id));
    }
    Ok(())
}

/// 32 letters and digits, as Auth0's client ids. An identifier, not a secret: the slight
/// bias of the modulo does not matter.
fn new_client_id(entropy: &mut dyn Entropy) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 32];
    entropy.fill(&mut bytes);
    bytes
        .iter()
        .filter_map(|b| ALPHABET.get(usize::from(*b) % ALPHABET.len()))
        .map(|b| char::from(*b))
        .collect()
}

/// Redirect targets are absolute, without a fragment (RFC 6749 §3.1.2), and matched exactly.
fn check_uris(what: &str, uris: &[String]) -> Result<(), ManageError> {
    for uri in uris {
        let absolute =
            uri.starts_with("https://") || uri.starts_with("http://") || uri.contains(":/");
        if !absolute
            || uri.contains('#')
            || uri.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ManageError::invalid(format!(
                "The {what} {uri:?} must be an absolute URI without a fragment."
            )));
        }
    }
    Ok(())
}

/// An origin as a browser sends it in `Origin`: `scheme://host[:port]`, nothing after.
pub fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
}

const GRANT_TYPES: [&str; 7] = [
    "authorization_code",
    "implicit",
    "refresh_token",
    "client_credentials",
    "password",
    "http://auth0.com/oauth/grant-type/password-realm",
    "urn:ietf:params:oauth:grant-type:device_code",
];

fn apply(client: &mut Client, fields: ClientFields) -> Result<(), ManageError> {
    if let Some(name) = fields.name {
        if name.trim().is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
            return Err(ManageError::invalid(
                "A client name has 1 to 255 printable characters.",
            ));
        }
        client.name = name;
    }
    if let Some(method) = fields.token_endpoint_auth_method {
        let confidential = client.client_type == ClientType::Confidential;
        if confidential == (method == AuthMethod::None) {
            return Err(ManageError::invalid(
                "token_endpoint_auth_method 'none' is for public clients (native, spa) only, and \
                 public clients use only 'none'.",
            ));
        }
        client.auth_method = method;
    }
    if let Some(grants) = fields.grant_types {
        if let Some(unknown) = grants.iter().find(|g| !GRANT_TYPES.contains(&g.as_str())) {
            return Err(ManageError::invalid(format!(
                "Unknown grant type {unknown:?}."
            )));
        }
        if client.client_type != ClientType::Confidential
            && grants
                .iter()
                .any(|g| g == crate::grants::CLIENT_CREDENTIALS)
        {
            return Err(ManageError::invalid(
                "A public client cannot use client_credentials.",
            ));
        }
        client.grant_types = grants;
    }
    if let Some(callbacks) = fields.callbacks {
        check_uris("callback", &callbacks)?;
        client.redirect_uris = callbacks;
    }
    if let Some(urls) = fields.allowed_logout_urls {
        check_uris("logout URL", &urls)?;
        client.allowed_logout_urls = urls;
    }
    if let Some(origins) = fields.web_origins {
        for origin in &origins {
            if !is_origin(origin) {
                return Err(ManageError::invalid(format!(
                    "The web origin {origin:?} must be scheme://host[:port], without a path."
                )));
            }
        }
        client.web_origins = origins;
    }
    if let Some(revokes) = fields.logout_revokes_refresh_tokens {
        client.logout_revokes_refresh_tokens = revokes;
    }
    if let Some(metadata) = fields.client_metadata {
        if metadata.len() > 10 || metadata.iter().any(|(k, v)| k.len() > 255 || v.len() > 255) {
            return Err(ManageError::invalid(
                "client_metadata holds at most 10 keys, each key and value at most 255 characters.",
            ));
        }
        client.metadata = metadata;
    }
    if let Some(settings) = fields.refresh_token {
        client.refresh_token = settings.to_policy()?;
    }
    if let Some(lifetime) = fields.id_token_lifetime_secs {
        if !(1..=2_592_000).contains(&lifetime) {
            return Err(ManageError::invalid(
                "The ID token lifetime is 1 s to 30 days.",
            ));
        }
        client.id_token_lifetime_secs = lifetime;
    }
    if let Some(grants) = fields.api_grants {
        client.api_grants = grants;
    }
    Ok(())
}
