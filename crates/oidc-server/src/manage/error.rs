//! The management and operator APIs' error body, Auth0's: `{statusCode, error, message,
//! errorCode}`. Internal causes are logged (with the request id), never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oidc_core::StoreError;
use oidc_core::manage::ManageError;
use oidc_core::manage::access::AccessError;

/// The error body, as sent (and as the OpenAPI document describes it).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Problem {
    /// The HTTP status, repeated.
    status_code: u16,
    /// The status's reason phrase.
    error: &'static str,
    /// What went wrong and what to fix, for a person.
    message: String,
    /// A stable code for a program: `invalid_body`, `insufficient_scope`,
    /// `inexistent_rule`, ….
    error_code: &'static str,
}

/// A management API error as an HTTP response.
#[derive(Debug)]
pub(crate) struct MgmtError {
    status: StatusCode,
    message: String,
    code: &'static str,
    /// Logged, never sent.
    cause: Option<String>,
}

impl MgmtError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        MgmtError {
            status,
            message: message.into(),
            code,
            cause: None,
        }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        MgmtError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        MgmtError {
            cause: Some(cause.to_string()),
            ..MgmtError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal error.",
            )
        }
    }

    /// A domain refusal about a resource (`rule`, `tenant`, …): a missing one is
    /// `inexistent_{resource}`, as Auth0 names it.
    pub(crate) fn managing(resource: &'static str) -> impl Fn(ManageError) -> MgmtError {
        move |error| match error {
            ManageError::NotFound(message) => {
                MgmtError::new(StatusCode::NOT_FOUND, inexistent(resource), message)
            }
            ManageError::Invalid(message) => MgmtError::bad_request("invalid_body", message),
            ManageError::Conflict(message) => {
                MgmtError::new(StatusCode::CONFLICT, "conflict", message)
            }
            ManageError::Busy(message) => MgmtError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                message,
            ),
            ManageError::Internal(cause) => MgmtError::internal(cause),
            ManageError::Store(error) => MgmtError::internal(error),
        }
    }
}

fn inexistent(resource: &'static str) -> &'static str {
    match resource {
        "rule" => "inexistent_rule",
        "rules_config" => "inexistent_rules_config",
        "tenant" => "inexistent_tenant",
        "user" => "inexistent_user",
        "client" => "inexistent_client",
        "resource_server" => "inexistent_resource_server",
        "refresh_token" => "inexistent_refresh_token",
        "log" => "inexistent_log",
        "signing_key" => "inexistent_signing_key",
        _ => "inexistent_resource",
    }
}

impl From<AccessError> for MgmtError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::Missing => MgmtError::new(
                StatusCode::UNAUTHORIZED,
                "missing_authentication",
                error.to_string(),
            ),
            AccessError::Invalid => {
                MgmtError::new(StatusCode::UNAUTHORIZED, "invalid_token", error.to_string())
            }
            AccessError::InsufficientScope { .. } => MgmtError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                error.to_string(),
            ),
            AccessError::Store(error) => MgmtError::internal(error),
        }
    }
}

impl From<StoreError> for MgmtError {
    fn from(error: StoreError) -> Self {
        MgmtError::internal(error)
    }
}

impl From<oidc_core::OAuthError> for MgmtError {
    /// The fair scheduler's 503 (or a failed blocking task), in this API's shape.
    fn from(error: oidc_core::OAuthError) -> Self {
        let status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        MgmtError {
            cause: error.cause.as_ref().map(ToString::to_string),
            ..MgmtError::new(status, error.error.as_str(), error.description)
        }
    }
}

impl IntoResponse for MgmtError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            tracing::error!(cause = %cause, "management request failed");
        }
        let body = Problem {
            status_code: self.status.as_u16(),
            error: self.status.canonical_reason().unwrap_or("Error"),
            message: self.message,
            error_code: self.code,
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="management""#),
            );
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(1));
        }
        response
    }
}
