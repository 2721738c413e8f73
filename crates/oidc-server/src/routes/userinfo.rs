//! `GET /userinfo` (and `POST`), with a bearer access token.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use oidc_core::OAuthError;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::state::{AppState, Lane};
use crate::tenancy::TenantCtx;

pub(crate) async fn userinfo(
    State(state): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    headers: HeaderMap,
) -> Result<Json<Map<String, Value>>, ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .ok_or_else(|| OAuthError::invalid_token("A bearer access token is required."))?
        .trim()
        .to_owned();
    let now = state.now();
    let worker = state.clone();
    let id = tenant.tenant.id.clone();
    let claims = state
        .run_blocking(&id, Lane::Normal, move || {
            oidc_core::userinfo(
                worker.store().as_ref(),
                &tenant.keys,
                &tenant.tenant,
                &tenant.paths.userinfo,
                &bearer,
                now,
            )
        })
        .await??;
    Ok(Json(claims))
}
