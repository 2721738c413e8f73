//! Changing a tenant: the one way its records change, whoever asks (the operator and
//! management APIs, the seed file; the CLI goes through the API). Each operation validates
//! its input, says exactly what is wrong, and writes nothing when it refuses.

pub mod access;
pub mod apis;
pub mod clients;
pub mod keys;
pub mod refresh_tokens;
pub mod rules;
pub mod tenants;
pub mod users;

use crate::store::StoreError;

/// Why a management operation was refused. The server maps each kind to its HTTP status.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ManageError {
    /// The named record does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The input is wrong; the message says what to fix (400).
    #[error("{0}")]
    Invalid(String),
    /// The input collides with an existing record (409).
    #[error("{0}")]
    Conflict(String),
    /// Other writers kept changing the same records; retrying later may succeed (503).
    #[error("{0}")]
    Busy(String),
    /// Something internal failed, such as key generation (500; for the operator's log).
    #[error("{0}")]
    Internal(String),
    /// The store failed (500; the cause is for the operator's log).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ManageError {
    pub(crate) fn invalid(message: impl Into<String>) -> ManageError {
        ManageError::Invalid(message.into())
    }
}

/// How many times a compare-and-swap is retried against concurrent writers.
const ATTEMPTS: usize = 16;
