//! Which tenant a request is for: `/t/{tenant}/…` in the path, or else the `Host` header.

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header;
use axum::http::request::Parts;
use oidc_core::{OAuthError, Store};

use crate::error::ApiError;
use crate::state::{AppState, TenantRuntime};

/// The tenant a request addresses.
#[derive(Debug, Clone)]
pub(crate) struct TenantCtx(pub(crate) Arc<TenantRuntime>);

impl FromRequestParts<AppState> for TenantCtx {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let unknown = || {
            ApiError(OAuthError::new(
                oidc_core::ErrorCode::InvalidRequest,
                404,
                "Unknown tenant.",
            ))
        };
        let from_path = RawPathParams::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|params| {
                params
                    .iter()
                    .find(|(name, _)| *name == "tenant")
                    .map(|(_, id)| id.to_owned())
            });
        let id = match from_path {
            Some(id) => id,
            None => {
                let host = parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or_default();
                let host = host.rsplit_once(':').map_or(host, |(name, _)| name);
                state
                    .store()
                    .tenant_for_host(host)
                    .map_err(|_| ApiError(OAuthError::server_error()))?
                    .ok_or_else(unknown)?
            }
        };
        match state.tenant(&id) {
            Ok(Some(runtime)) => Ok(TenantCtx(runtime)),
            Ok(None) => Err(unknown()),
            Err(error) => {
                tracing::error!("loading tenant {id} failed: {error}");
                Err(ApiError(OAuthError::server_error()))
            }
        }
    }
}
