//! The one error type handlers return: an RFC 6749 JSON body with the right status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oidc_core::OAuthError;
use serde_json::json;

/// An OAuth error as an HTTP response.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) OAuthError);

impl From<OAuthError> for ApiError {
    fn from(error: OAuthError) -> Self {
        ApiError(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body =
            json!({ "error": self.0.error.as_str(), "error_description": self.0.description });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if status == StatusCode::UNAUTHORIZED {
            let challenge = match self.0.error {
                oidc_core::ErrorCode::InvalidToken => r#"Bearer error="invalid_token""#,
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
