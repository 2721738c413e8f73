//! RFC 6749 errors, with the HTTP status Claimsmith answers them with (Auth0's where it
//! differs from the RFC's defaults, e.g. 403 for `invalid_grant`).

/// The `error` code of an OAuth error response.
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
    ServerError,
    TemporarilyUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

/// An OAuth error: what the client sees, and nothing more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({status}): {description}", error.as_str())]
pub struct OAuthError {
    pub error: ErrorCode,
    pub description: String,
    /// The HTTP status of the response.
    pub status: u16,
}

impl OAuthError {
    pub fn new(error: ErrorCode, status: u16, description: impl Into<String>) -> OAuthError {
        OAuthError {
            error,
            status,
            description: description.into(),
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidRequest, 400, description)
    }

    /// Client authentication failed (RFC 6749 §5.2: 401).
    pub fn invalid_client(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidClient, 401, description)
    }

    /// Auth0 answers `invalid_grant` with 403.
    pub fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidGrant, 403, description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::UnauthorizedClient, 403, description)
    }

    pub fn unsupported_grant_type(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::UnsupportedGrantType, 400, description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidScope, 400, description)
    }

    pub fn access_denied(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::AccessDenied, 403, description)
    }

    pub fn unauthorized(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::Unauthorized, 401, description)
    }

    pub fn invalid_token(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidToken, 401, description)
    }

    /// Something broke on our side. The description is generic on purpose: internals never
    /// reach a client (the caller logs the cause).
    pub fn server_error() -> OAuthError {
        OAuthError::new(
            ErrorCode::ServerError,
            500,
            "The server could not complete the request.",
        )
    }

    /// The refresh token is unknown, revoked, expired, reused or not the client's: one answer
    /// for all, so a probe learns nothing.
    pub fn unknown_refresh_token() -> OAuthError {
        OAuthError::invalid_grant("Unknown or invalid refresh token.")
    }
}

impl From<crate::StoreError> for OAuthError {
    fn from(_: crate::StoreError) -> Self {
        OAuthError::server_error()
    }
}
