//! `GET /userinfo` (and `POST`), with a bearer access token.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
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
    let bearer = crate::bearer::token(&headers)
        .ok_or_else(|| OAuthError::invalid_token("A bearer access token is required."))?;
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
