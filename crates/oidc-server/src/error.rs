//! The one error type handlers return: an RFC 6749 JSON body, with the status the error code
//! implies, `Retry-After` where the client should come back, and the internal cause logged
//! once (inside the request's span, so with its request id), never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oidc_core::{ErrorCode, OAuthError, StoreError};
use serde_json::json;

/// An OAuth error as an HTTP response.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) OAuthError);

impl From<OAuthError> for ApiError {
    fn from(error: OAuthError) -> Self {
        ApiError(error)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError(OAuthError::from(error))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self.0;
        if let Some(cause) = &error.cause {
            tracing::error!(cause = %cause, "request failed");
        }
        let status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({ "error": error.error.as_str(), "error_description": error.description });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(secs) = error.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            let challenge = match error.error {
                ErrorCode::InvalidToken => r#"Bearer error="invalid_token""#,
                _ => r#"Basic realm="claimsmith""#,
            };
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}
