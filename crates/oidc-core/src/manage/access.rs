//! Who may call a tenant's management API: a client of that tenant holding an access token
//! it got through `client_credentials` for the management audience, with Auth0's scope per
//! action. A user's token never manages a tenant, whatever its audience says.

use serde::Deserialize;

use super::tenants::management_audience;
use crate::keys::TenantKeys;
use crate::model::{Tenant, UnixMillis};
use crate::store::{Store, StoreError};

/// Why a management call was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AccessError {
    /// No bearer token (401).
    #[error("Missing authentication")]
    Missing,
    /// Not a token of this tenant's management API: another tenant's, expired, tampered,
    /// a user's, or of a client that lost its grant (401).
    #[error("Invalid token")]
    Invalid,
    /// A valid token without the scope the action needs (403).
    #[error("Insufficient scope, expected any of: {expected}")]
    InsufficientScope { expected: &'static str },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An authenticated management caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client_id: String,
    pub scopes: Vec<String>,
}

impl Caller {
    /// Refuses the call unless the token carries `scope`.
    pub fn require(&self, scope: &'static str) -> Result<(), AccessError> {
        if self.scopes.iter().any(|granted| granted == scope) {
            Ok(())
        } else {
            Err(AccessError::InsufficientScope { expected: scope })
        }
    }
}

#[derive(Deserialize)]
struct ManagementClaims {
    aud: serde_json::Value,
    azp: String,
    gty: Option<String>,
    #[serde(default)]
    scope: String,
}

/// A token whose signature, issuer, audience, grant type and lifetime hold: what can be
/// checked without the store, before a request body is read.
#[derive(Debug, Clone)]
pub struct Presented {
    client_id: String,
    scopes: Vec<String>,
}

/// Checks a bearer token against the tenant's keys, issuer, management audience and clock.
/// Pure CPU, so it runs before anything else of a request (an unauthenticated caller gets
/// 401 before its body is read or parsed).
pub fn verify(
    keys: &TenantKeys,
    tenant: &Tenant,
    bearer: Option<&str>,
    now: UnixMillis,
) -> Result<Presented, AccessError> {
    let bearer = bearer.ok_or(AccessError::Missing)?;
    let claims: ManagementClaims = keys
        .verify(bearer, &tenant.issuer, now / 1000)
        .ok_or(AccessError::Invalid)?;
    let audience = management_audience(&tenant.issuer);
    let for_management = match &claims.aud {
        serde_json::Value::String(aud) => *aud == audience,
        serde_json::Value::Array(auds) => auds.iter().any(|aud| *aud == *audience),
        _ => false,
    };
    if !for_management || claims.gty.as_deref() != Some("client-credentials") {
        return Err(AccessError::Invalid);
    }
    Ok(Presented {
        client_id: claims.azp,
        scopes: claims.scope.split(' ').map(str::to_owned).collect(),
    })
}

/// Admits a verified token if its client still exists and still holds a grant for the
/// management API (a deleted client's or a revoked grant's tokens stop working at once).
pub fn admit(
    store: &dyn Store,
    tenant: &Tenant,
    presented: Presented,
) -> Result<Caller, AccessError> {
    let audience = management_audience(&tenant.issuer);
    let granted = store
        .client(&tenant.id, &presented.client_id)?
        .is_some_and(|client| client.api_grants.contains_key(&audience));
    if !granted {
        return Err(AccessError::Invalid);
    }
    Ok(Caller {
        client_id: presented.client_id,
        scopes: presented.scopes,
    })
}

/// Both checks: [`verify`], then [`admit`].
pub fn authenticate(
    store: &dyn Store,
    keys: &TenantKeys,
    tenant: &Tenant,
    bearer: Option<&str>,
    now: UnixMillis,
) -> Result<Caller, AccessError> {
    admit(store, tenant, verify(keys, tenant, bearer, now)?)
}
