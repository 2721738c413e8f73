//! A tenant's APIs (Auth0 "resource servers"): audiences for access tokens, their scopes,
//! whether they allow offline access, and their token lifetime. The management API itself
//! is one of them and cannot be changed or deleted.

use super::ManageError;
use super::tenants::management_audience;
use crate::model::{Api, Tenant};
use crate::store::Store;

/// The longest access-token lifetime Auth0 accepts: 30 days.
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 2_592_000;

/// The fields a create or update may set.
#[derive(Debug, Clone, Default)]
pub struct ApiFields {
    pub identifier: Option<String>,
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub allow_offline_access: Option<bool>,
    pub token_lifetime: Option<u64>,
}

fn not_found(id: &str) -> ManageError {
    ManageError::NotFound(format!("The resource server {id:?} does not exist."))
}

pub fn list(store: &dyn Store, tenant: &str) -> Result<Vec<Api>, ManageError> {
    Ok(store.apis(tenant)?)
}

pub fn get(store: &dyn Store, tenant: &str, identifier: &str) -> Result<Api, ManageError> {
    crate::ids::validate(identifier).map_err(|_| not_found(identifier))?;
    store
        .api(tenant, identifier)?
        .ok_or_else(|| not_found(identifier))
}

pub fn create(store: &dyn Store, tenant: &Tenant, fields: ApiFields) -> Result<Api, ManageError> {
    let identifier = fields
        .identifier
        .clone()
        .ok_or_else(|| ManageError::invalid("A resource server needs an identifier."))?;
    crate::ids::validate(&identifier)
        .map_err(|e| ManageError::invalid(format!("The identifier {e}.")))?;
    if identifier.chars().any(char::is_whitespace) {
        return Err(ManageError::invalid("The identifier holds no spaces."));
    }
    if store.api(&tenant.id, &identifier)?.is_some() {
        return Err(ManageError::Conflict(format!(
            "A resource server with identifier {identifier:?} already exists."
        )));
    }
    let mut api = Api {
        name: identifier.clone(),
        identifier,
        scopes: Vec::new(),
        allow_offline_access: false,
        access_token_lifetime_secs: 86_400,
    };
    apply(
        &mut api,
        ApiFields {
            identifier: None,
            ..fields
        },
    )?;
    store.put_api(&tenant.id, &api)?;
    Ok(api)
}

pub fn update(
    store: &dyn Store,
    tenant: &Tenant,
    identifier: &str,
    fields: ApiFields,
) -> Result<Api, ManageError> {
    guard(tenant, identifier)?;
    let mut api = get(store, &tenant.id, identifier)?;
    if fields
        .identifier
        .as_deref()
        .is_some_and(|new| new != identifier)
    {
        return Err(ManageError::invalid(
            "A resource server's identifier cannot change.",
        ));
    }
    apply(&mut api, fields)?;
    store.put_api(&tenant.id, &api)?;
    Ok(api)
}

pub fn delete(store: &dyn Store, tenant: &Tenant, identifier: &str) -> Result<(), ManageError> {
    guard(tenant, identifier)?;
    crate::ids::validate(identifier).map_err(|_| not_found(identifier))?;
    if !store.delete_api(&tenant.id, identifier)? {
        return Err(not_found(identifier));
    }
    Ok(())
}

/// The management API is the tenant's own: changing it could lock the tenant out.
fn guard(tenant: &Tenant, identifier: &str) -> Result<(), ManageError> {
    if identifier == management_audience(&tenant.issuer) {
        return Err(ManageError::invalid(
            "The management API cannot be changed or deleted.",
        ));
    }
    Ok(())
}

fn apply(api: &mut Api, fields: ApiFields) -> Result<(), ManageError> {
    if let Some(name) = fields.name {
        if name.trim().is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
            return Err(ManageError::invalid(
                "A name has 1 to 255 printable characters.",
            ));
        }
        api.name = name;
    }
    if let Some(scopes) = fields.scopes {
        if let Some(bad) = scopes.iter().find(|s| {
            s.is_empty() || s.len() > 280 || s.chars().any(|c| c.is_whitespace() || c.is_control())
        }) {
            return Err(ManageError::invalid(format!(
                "The scope {bad:?} is invalid: 1 to 280 characters, no spaces."
            )));
        }
        api.scopes = scopes;
    }
    if let Some(allow) = fields.allow_offline_access {
        api.allow_offline_access = allow;
    }
    if let Some(lifetime) = fields.token_lifetime {
        if !(1..=MAX_TOKEN_LIFETIME_SECS).contains(&lifetime) {
            return Err(ManageError::invalid(format!(
                "token_lifetime is 1 to {MAX_TOKEN_LIFETIME_SECS} seconds."
            )));
        }
        api.access_token_lifetime_secs = lifetime;
    }
    Ok(())
}
