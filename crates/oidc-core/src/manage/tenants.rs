//! Tenants: created by the operator with their signing key and a management client, so a new
//! tenant can manage itself at once; deleted with everything they hold.

use std::collections::BTreeMap;

use super::ManageError;
use crate::ids;
use crate::keys::{self, StoredKey};
use crate::model::UnixMillis;
use crate::model::{Api, AuthMethod, Client, ClientType, RefreshPolicy, SigningAlg, Tenant};
use crate::secret::{self, Entropy, Secret};
use crate::store::{Store, StoreError};
use crate::vault::OperatorKey;

/// The scopes of the management API, with Auth0's names. A management client is granted all.
pub const MANAGEMENT_SCOPES: &[&str] = &[
    "read:rules",
    "create:rules",
    "update:rules",
    "delete:rules",
    "read:rules_configs",
    "update:rules_configs",
    "delete:rules_configs",
    "read:users",
    "create:users",
    "update:users",
    "delete:users",
    "read:clients",
    "create:clients",
    "update:clients",
    "delete:clients",
    "read:client_keys",
    "update:client_keys",
    "read:resource_servers",
    "create:resource_servers",
    "update:resource_servers",
    "delete:resource_servers",
    "read:refresh_tokens",
    "delete:refresh_tokens",
    "read:device_credentials",
    "delete:device_credentials",
    "read:logs",
    "read:signing_keys",
    "create:signing_keys",
    "update:signing_keys",
];

/// The management API's audience for a tenant: `{issuer}api/v2/`, as Auth0's.
pub fn management_audience(issuer: &str) -> String {
    format!("{issuer}api/v2/")
}

/// A tenant to create.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub id: String,
    /// `https://…/` (or `http://` for local use), with the trailing slash.
    pub issuer: String,
    pub hosts: Vec<String>,
    pub signing_alg: SigningAlg,
}

/// A created tenant and the credentials of its management client, shown once.
#[derive(Debug)]
pub struct CreatedTenant {
    pub tenant: Tenant,
    pub management_client_id: String,
    pub management_client_secret: Secret,
}

/// Checks a tenant's id, issuer and host names.
pub fn validate(new: &NewTenant) -> Result<(), ManageError> {
    ids::validate_tenant(&new.id)
        .map_err(|e| ManageError::invalid(format!("The tenant id {:?} {e}.", new.id)))?;
    let scheme_ok = new.issuer.starts_with("https://") || new.issuer.starts_with("http://");
    if !scheme_ok || !new.issuer.ends_with('/') || new.issuer.chars().any(char::is_whitespace) {
        return Err(ManageError::invalid(format!(
            "The issuer {:?} must be an http(s) URL ending in '/'.",
            new.issuer
        )));
    }
    for host in &new.hosts {
        let valid = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b':');
        if !valid {
            return Err(ManageError::invalid(format!(
                "The host name {host:?} is invalid."
            )));
        }
    }
    Ok(())
}

/// Creates the tenant, its first signing key, its management API and a management client
/// granted every management scope. The tenant record is written last: until it exists,
/// nothing serves the tenant, and a failed creation leaves nothing a retry trips on.
pub fn create(
    store: &dyn Store,
    operator: &OperatorKey,
    new: NewTenant,
    now: UnixMillis,
    entropy: &mut dyn Entropy,
) -> Result<CreatedTenant, ManageError> {
    validate(&new)?;
    if store.tenant(&new.id)?.is_some() {
        return Err(ManageError::Conflict(format!(
            "A tenant with id {:?} already exists.",
            new.id
        )));
    }
    // Leftovers of a creation that failed half-way belong to nobody: start clean.
    store.delete_tenant(&new.id)?;
    ensure_signing_key(store, operator, &new.id, new.signing_alg, now, entropy)?;
    let audience = management_audience(&new.issuer);
    ensure_management_api(store, &new.id, &new.issuer)?;
    let secret = secret::new_token(entropy);
    let client = management_client(secret::new_id("cli", entropy), &secret, &audience);
    store.put_client(&new.id, &client)?;
    let tenant = Tenant {
        id: new.id,
        issuer: new.issuer,
        hosts: new.hosts,
        signing_alg: new.signing_alg,
    };
    match store.put_tenant(&tenant) {
        Ok(()) => {}
        Err(StoreError::Conflict(message)) => {
            store.delete_tenant(&tenant.id)?;
            return Err(ManageError::Conflict(format!("{message}.")));
        }
        Err(error) => return Err(error.into()),
    }
    Ok(CreatedTenant {
        tenant,
        management_client_id: client.client_id,
        management_client_secret: secret,
    })
}

/// Generates a signing key for `alg` unless the tenant has one: the seed's way, so keys stay
/// across restarts and tokens stay valid.
pub fn ensure_signing_key(
    store: &dyn Store,
    operator: &OperatorKey,
    tenant: &str,
    alg: SigningAlg,
    now: UnixMillis,
    entropy: &mut dyn Entropy,
) -> Result<(), ManageError> {
    if store.keys(tenant)?.iter().any(|key| key.alg == alg) {
        return Ok(());
    }
    let kid = secret::new_id("key", entropy);
    let material =
        keys::generate(alg, kid, now).map_err(|e| ManageError::Internal(e.to_string()))?;
    store.put_key(
        tenant,
        &StoredKey::wrap(&material, tenant, operator, entropy),
    )?;
    Ok(())
}

/// Writes the tenant's management API (the audience of management tokens, with every
/// management scope): at creation, and for seeded tenants, whose clients may then be granted
/// management scopes in the seed.
pub fn ensure_management_api(
    store: &dyn Store,
    tenant: &str,
    issuer: &str,
) -> Result<(), ManageError> {
    let api = management_api(&management_audience(issuer));
    if store.api(tenant, &api.identifier)?.as_ref() != Some(&api) {
        store.put_api(tenant, &api)?;
    }
    Ok(())
}

/// Deletes the tenant and everything it holds; `NotFound` if there is none.
pub fn delete(store: &dyn Store, id: &str) -> Result<(), ManageError> {
    if store.tenant(id)?.is_none() {
        return Err(ManageError::NotFound(format!(
            "The tenant {id:?} does not exist."
        )));
    }
    store.delete_tenant(id)?;
    Ok(())
}

fn management_api(audience: &str) -> Api {
    Api {
        identifier: audience.to_owned(),
        name: "Management API".into(),
        scopes: MANAGEMENT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        allow_offline_access: false,
        access_token_lifetime_secs: 86_400,
    }
}

fn management_client(client_id: String, secret: &Secret, audience: &str) -> Client {
    Client {
        client_id,
        name: "Management client".into(),
        client_type: ClientType::Confidential,
        auth_method: AuthMethod::ClientSecretPost,
        secret_hash: Some(secret.hash()),
        grant_types: vec![crate::grants::CLIENT_CREDENTIALS.to_owned()],
        redirect_uris: Vec::new(),
        allowed_logout_urls: Vec::new(),
        web_origins: Vec::new(),
        logout_revokes_refresh_tokens: false,
        metadata: BTreeMap::new(),
        refresh_token: RefreshPolicy::default(),
        id_token_lifetime_secs: 36_000,
        api_grants: BTreeMap::from([(
            audience.to_owned(),
            MANAGEMENT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        )]),
    }
}
