//! RFC 6749 errors. The HTTP status is derived from the code in one place (`ErrorCode::status`),
//! with Auth0's choices where they differ from the RFC's (403 for `invalid_grant`).

use std::sync::Arc;

use crate::store::StoreError;

/// The `error` code of an OAuth error response, and with it the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    /// Auth0 Rules' `UnauthorizedError`.
    Unauthorized,
    InvalidToken,
    /// Brute-force protection: Auth0's 429 `too_many_attempts`.
    TooManyAttempts,
    /// The addressed tenant does not exist: `invalid_request` with 404.
    NotFound,
    /// The request body is over the limit: `invalid_request` with 413.
    PayloadTooLarge,
    ServerError,
    /// Overload or contention: 503, with `Retry-After`.
    TemporarilyUnavailable,
    /// `/authorize` with a `response_type` the server or the client does not support.
    UnsupportedResponseType,
    /// `prompt=none` without a usable session (OIDC Core §3.1.2.6).
    LoginRequired,
    /// `prompt=none` where the login would need the user (a rule redirect).
    InteractionRequired,
    /// Device flow polling (RFC 8628 §3.5): not approved yet.
    AuthorizationPending,
    /// Device flow polling faster than the interval.
    SlowDown,
    /// The device code expired.
    ExpiredToken,
}

impl ErrorCode {
    /// The wire value of `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest | ErrorCode::NotFound | ErrorCode::PayloadTooLarge => {
                "invalid_request"
            }
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::TooManyAttempts => "too_many_attempts",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
        }
    }

    /// The HTTP status this code is answered with.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest
            | ErrorCode::UnsupportedGrantType
            | ErrorCode::InvalidScope
            | ErrorCode::UnsupportedResponseType
            | ErrorCode::LoginRequired
            | ErrorCode::InteractionRequired
            | ErrorCode::AuthorizationPending
            | ErrorCode::SlowDown
            | ErrorCode::ExpiredToken => 400,
            // RFC 6749 §5.2 for `invalid_client`; Rules' UnauthorizedError; RFC 6750 §3.1.
            ErrorCode::InvalidClient | ErrorCode::Unauthorized | ErrorCode::InvalidToken => 401,
            // Auth0 answers these with 403.
            ErrorCode::InvalidGrant | ErrorCode::UnauthorizedClient | ErrorCode::AccessDenied => {
                403
            }
            ErrorCode::NotFound => 404,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::TooManyAttempts => 429,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
        }
    }
}

/// An OAuth error: what the client sees, and, for server errors, the internal cause the server
/// logs once (never sent).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} ({}): {description}", error.as_str(), error.status())]
pub struct OAuthError {
    pub error: ErrorCode,
    pub description: String,
    /// Seconds a client should wait before retrying (`Retry-After`), for 429 and 503.
    pub retry_after_secs: Option<u64>,
    /// What broke, for the operator's log; `None` for errors the client caused.
    pub cause: Option<Arc<StoreError>>,
}

impl PartialEq for OAuthError {
    /// Two errors are the same answer when the client would see the same thing.
    fn eq(&self, other: &Self) -> bool {
        self.error == other.error
            && self.description == other.description
            && self.retry_after_secs == other.retry_after_secs
    }
}

impl OAuthError {
    pub fn new(error: ErrorCode, description: impl Into<String>) -> OAuthError {
        OAuthError {
            error,
            description: description.into(),
            retry_after_secs: None,
            cause: None,
        }
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> u16 {
        self.error.status()
    }

    pub fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_client(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidClient, description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidGrant, description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::UnauthorizedClient, description)
    }

    pub fn unsupported_grant_type(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::UnsupportedGrantType, description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidScope, description)
    }

    pub fn access_denied(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::AccessDenied, description)
    }

    pub fn unauthorized(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::Unauthorized, description)
    }

    pub fn invalid_token(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidToken, description)
    }

    pub fn not_found(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::NotFound, description)
    }

    pub fn payload_too_large(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::PayloadTooLarge, description)
    }

    /// Brute-force protection tripped; retry after `retry_after_secs`.
    pub fn too_many_attempts(description: impl Into<String>, retry_after_secs: u64) -> OAuthError {
        OAuthError {
            retry_after_secs: Some(retry_after_secs),
            ..OAuthError::new(ErrorCode::TooManyAttempts, description)
        }
    }

    /// Overloaded or contended; retry after `retry_after_secs`.
    pub fn unavailable(description: impl Into<String>, retry_after_secs: u64) -> OAuthError {
        OAuthError {
            retry_after_secs: Some(retry_after_secs),
            ..OAuthError::new(ErrorCode::TemporarilyUnavailable, description)
        }
    }

    /// Something broke on our side. The description is generic on purpose: internals never
    /// reach a client (the server logs `cause`).
    pub fn server_error() -> OAuthError {
        OAuthError::new(
            ErrorCode::ServerError,
            "The server could not complete the request.",
        )
    }

    /// The refresh token is unknown, revoked, expired, reused or not the client's: one answer
    /// for all, so a probe learns nothing.
    pub fn unknown_refresh_token() -> OAuthError {
        OAuthError::invalid_grant("Unknown or invalid refresh token.")
    }
}

impl From<StoreError> for OAuthError {
    fn from(error: StoreError) -> Self {
        OAuthError {
            cause: Some(Arc::new(error)),
            ..OAuthError::server_error()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_the_code_and_store_causes_stay_internal() {
        assert_eq!(OAuthError::invalid_grant("x").status(), 403);
        assert_eq!(OAuthError::not_found("x").error.as_str(), "invalid_request");
        assert_eq!(OAuthError::not_found("x").status(), 404);
        assert_eq!(OAuthError::payload_too_large("x").status(), 413);
        assert_eq!(OAuthError::too_many_attempts("x", 5).status(), 429);
        let error = OAuthError::from(StoreError::corrupt("families", "bad JSON at line 1"));
        assert_eq!(error, OAuthError::server_error());
        assert!(!error.description.contains("JSON"));
        assert!(error.cause.unwrap().to_string().contains("bad JSON"));
    }
}
