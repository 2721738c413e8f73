//! `POST /oauth/revoke` (RFC 7009).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use oidc_core::OAuthError;

use super::form;
use crate::error::ApiError;
use crate::state::{AppState, Lane};
use crate::tenancy::TenantCtx;

pub(crate) async fn revoke(
    State(state): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let body = form::read_body(body).await?;
    let mut params = form::params(&headers, &body)?;
    let credentials = form::credentials(&headers, &mut params)?;
    let token = params
        .remove("token")
        .filter(|token| !token.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: token"))?;
    super::with_token_context(&state, tenant, Lane::Normal, move |ctx| {
        oidc_core::revoke(ctx, &credentials, &token)
    })
    .await??;
    state.commit().await?;
    Ok(StatusCode::OK)
}
