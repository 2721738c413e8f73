//! Which tenant a request is for: `/t/{tenant}/…` in the path, or else the `Host` header.
//! Both are looked up in memory (tenants are loaded with the state): finding a tenant never
//! touches the store on the reactor.

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::header;
use axum::http::request::Parts;
use oidc_core::OAuthError;

use crate::error::ApiError;
use crate::paths::TENANT_PREFIX;
use crate::state::{AppState, TenantRuntime};

/// The tenant a request addresses.
#[derive(Debug, Clone)]
pub(crate) struct TenantCtx(pub(crate) Arc<TenantRuntime>);

fn unknown() -> ApiError {
    ApiError(OAuthError::not_found("Unknown tenant."))
}

impl FromRequestParts<AppState> for TenantCtx {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let by_path = parts
            .extensions
            .get::<MatchedPath>()
            .is_some_and(|matched| matched.as_str().starts_with(TENANT_PREFIX));
        let runtime = if by_path {
            // The path names the tenant: it must be readable, and it is never replaced by
            // the Host header.
            let params = RawPathParams::from_request_parts(parts, state)
                .await
                .map_err(|_| {
                    OAuthError::invalid_request("The tenant in the path is not valid UTF-8.")
                })?;
            let id = params
                .iter()
                .find(|(name, _)| *name == "tenant")
                .map(|(_, id)| id)
                .ok_or_else(unknown)?;
            state.tenant(id)
        } else {
            let host = parts
                .headers
                .get(header::HOST)
                .map(|h| h.to_str())
                .transpose()
                .map_err(|_| OAuthError::invalid_request("The Host header is not valid."))?
                .unwrap_or_default();
            let host = host.rsplit_once(':').map_or(host, |(name, _)| name);
            state.tenant_for_host(host)
        };
        runtime.map(TenantCtx).ok_or_else(unknown)
    }
}
