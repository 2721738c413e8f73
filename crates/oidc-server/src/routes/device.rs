//! `POST {issuer}oauth/device/code`: a device asks for its code pair (RFC 8628 §3.1, §3.2).

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use oidc_core::{SystemEntropy, TokenRequest};

use super::form;
use crate::error::ApiError;
use crate::state::{AppState, Lane};
use crate::tenancy::TenantCtx;

pub(crate) async fn device_code(
    State(state): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = form::read_body(body).await?;
    let (params, credentials) = form::parse_token_request(&headers, &body)?;
    let request = TokenRequest {
        params,
        credentials,
        info: form::request_info(&headers, peer),
    };
    let activate = tenant.paths.activate.clone();
    let started = super::with_token_context(&state, tenant, Lane::Normal, move |ctx| {
        oidc_core::login::device::start(ctx, &request, &activate, &mut SystemEntropy)
    })
    .await??;
    state.commit().await?;
    let mut response = Json(started).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
