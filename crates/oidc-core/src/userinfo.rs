//! `GET /userinfo`: the profile claims an access token's scope grants, plus the custom
//! ID-token claims of the latest issuance to the token's own client: what rules added for one
//! application never reaches another's tokens.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::OAuthError;
use crate::keys::TenantKeys;
use crate::model::{Tenant, UnixMillis};
use crate::store::Store;
use crate::{mint, scope};

#[derive(Deserialize)]
struct AccessClaims {
    sub: String,
    /// The client the token was issued to.
    azp: String,
    aud: Audience,
    #[serde(default)]
    scope: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Audience::One(aud) => aud == wanted,
            Audience::Many(auds) => auds.iter().any(|aud| aud == wanted),
        }
    }
}

/// Answers `/userinfo` for a bearer token.
pub fn userinfo(
    store: &dyn Store,
    keys: &TenantKeys,
    tenant: &Tenant,
    userinfo_url: &str,
    bearer: &str,
    now: UnixMillis,
) -> Result<Map<String, Value>, OAuthError> {
    let invalid = || OAuthError::invalid_token("The access token is invalid or has expired.");
    let claims: AccessClaims = keys
        .verify(bearer, &tenant.issuer, now / 1000)
        .ok_or_else(invalid)?;
    if !claims.aud.contains(userinfo_url) {
        return Err(invalid());
    }
    let user = store.user(&tenant.id, &claims.sub)?.ok_or_else(invalid)?;
    let granted = scope::parse(&claims.scope).unwrap_or_default();
    let mut out = Map::new();
    out.insert("sub".into(), Value::from(user.user_id.clone()));
    out.extend(mint::profile_claims(&user, &granted));
    out.extend(store.userinfo_claims(&tenant.id, &user.user_id, &claims.azp)?);
    Ok(out)
}
