//! Identifiers that become part of a store key: tenant, client, user and login names.
//!
//! Stores build keys by joining identifiers with a separator (sled uses NUL), so an identifier
//! holding one could make a key of one record the prefix of another's. Every identifier is
//! checked where it enters (a request, the seed, the management API), with a clear error, and
//! stores refuse what slips past.

use crate::error::OAuthError;

/// The longest identifier accepted, in bytes.
pub const MAX_ID_BYTES: usize = 255;

/// Why an identifier was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("is empty")]
    Empty,
    #[error("is longer than {MAX_ID_BYTES} bytes")]
    TooLong,
    #[error("contains a control character")]
    ControlCharacter,
    #[error("may hold only letters, digits, '-' and '_'")]
    NotASlug,
}

/// Any identifier: 1 to 255 bytes of UTF-8, no control characters (NUL included).
pub fn validate(value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty);
    }
    if value.len() > MAX_ID_BYTES {
        return Err(IdError::TooLong);
    }
    if value.chars().any(char::is_control) {
        return Err(IdError::ControlCharacter);
    }
    Ok(())
}

/// A tenant id: it also appears in URLs (`/t/{id}/`), so ASCII letters, digits, `-`, `_`.
pub fn validate_tenant(value: &str) -> Result<(), IdError> {
    validate(value)?;
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(IdError::NotASlug);
    }
    Ok(())
}

fn checked(kind: &str, value: &str) -> Result<(), OAuthError> {
    validate(value).map_err(|e| OAuthError::invalid_request(format!("The {kind} {e}.")))
}

/// A `client_id` from a request.
pub fn client_id(value: &str) -> Result<(), OAuthError> {
    checked("client_id", value)
}

/// An `audience` from a request.
pub fn audience(value: &str) -> Result<(), OAuthError> {
    checked("audience", value)
}

/// A `username` from a request.
pub fn username(value: &str) -> Result<(), OAuthError> {
    checked("username", value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_control_characters_and_oversized_ids_are_refused() {
        assert_eq!(validate("auth0|alice"), Ok(()));
        assert_eq!(validate("ünïcode ok"), Ok(()));
        assert_eq!(validate(""), Err(IdError::Empty));
        assert_eq!(validate("a\0b"), Err(IdError::ControlCharacter));
        assert_eq!(validate("a\nb"), Err(IdError::ControlCharacter));
        assert_eq!(validate("a\u{85}b"), Err(IdError::ControlCharacter));
        assert_eq!(validate(&"x".repeat(256)), Err(IdError::TooLong));
        assert_eq!(validate_tenant("acme-1_b"), Ok(()));
        assert_eq!(validate_tenant("a/b"), Err(IdError::NotASlug));
        assert_eq!(
            client_id("we\0b").unwrap_err().description,
            "The client_id contains a control character."
        );
    }
}
