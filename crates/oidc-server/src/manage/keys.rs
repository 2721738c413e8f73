//! `/api/v2/keys/signing`: list, rotate and revoke the tenant's signing keys. A rotation or
//! revocation reloads the tenant, so the next token is signed (and the JWKS published) with
//! the new set.

use super::Problem;
use axum::Json;
use axum::extract::{Path, State};
use oidc_core::SystemEntropy;
use oidc_core::manage::keys::{self, KeyInfo};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{MgmtError, Target, iso_date};
use crate::state::AppState;

fn view(key: &KeyInfo) -> Value {
    json!({
        "kid": key.kid,
        "alg": key.alg.as_str(),
        "created_at": iso_date(key.created_at),
        "current": key.current,
        "previous": !key.current,
    })
}

/// The `{kid}` of a key path.
#[derive(Debug, Deserialize)]
pub(crate) struct Kid {
    kid: String,
}

#[utoipa::path(
    operation_id = "list_signing_keys",
    get,
    path = "/keys/signing",
    tag = "signing-keys",
    security(("bearer" = ["read:signing_keys"])),
    responses((status = 200, description = "The signing keys.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    target: Target,
) -> Result<Json<Value>, MgmtError> {
    super::read(&state, target, "read:signing_keys", move |call| {
        let all = keys::list(call.store(), &call.tenant.tenant)
            .map_err(MgmtError::managing("signing_key"))?;
        Ok(all.iter().map(view).collect())
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "rotate_signing_key",
    post,
    path = "/keys/signing/rotate",
    tag = "signing-keys",
    security(("bearer" = ["create:signing_keys"])),
    responses((status = 200, description = "The new current key.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn rotate(
    State(state): State<AppState>,
    target: Target,
) -> Result<Json<Value>, MgmtError> {
    super::write_runtime(&state, target, "create:signing_keys", move |call| {
        keys::rotate(
            call.store(),
            call.state.operator_key(),
            &call.tenant.tenant,
            call.now,
            &mut SystemEntropy,
        )
        .map(|key| view(&key))
        .map_err(MgmtError::managing("signing_key"))
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "revoke_signing_key",
    put,
    path = "/keys/signing/{kid}/revoke",
    tag = "signing-keys",
    params(("kid" = String, Path, description = "The key id.")),
    security(("bearer" = ["update:signing_keys"])),
    responses((status = 200, description = "The revoked key.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    target: Target,
    Path(Kid { kid }): Path<Kid>,
) -> Result<Json<Value>, MgmtError> {
    super::write_runtime(&state, target, "update:signing_keys", move |call| {
        keys::revoke(call.store(), &call.tenant.tenant, &kid)
            .map(|()| json!({ "kid": kid, "revoked": true }))
            .map_err(MgmtError::managing("signing_key"))
    })
    .await
    .map(Json)
}
