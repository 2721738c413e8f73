//! Logins in progress. A *transaction* waits for the user's credentials on the hosted page;
//! a *pending* login waits for the user to come back from a rule's redirect. Both are bound to
//! the browser that started them (the hash of its `claimsmith_browser` cookie), so a link
//! or a form cannot be replayed from another browser, and both are consumed once.

use serde::{Deserialize, Serialize};

use super::authorize::AuthorizeRequest;
use crate::model::UnixMillis;
use crate::secret::{Secret, SecretHash};

/// The browser cookie: a random id per browser, set by `/authorize`.
pub const BROWSER_COOKIE: &str = "claimsmith_browser";
/// A login must be completed within this time (an hour; Auth0 recommends returning from a
/// redirect within one).
pub const LOGIN_LIFETIME_MS: u64 = 3_600_000;

/// A login waiting for credentials, under its public transaction id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub request: AuthorizeRequest,
    pub browser: SecretHash,
    /// The form's anti-forgery token, compared in constant time.
    pub csrf: String,
    pub created_at: UnixMillis,
}

/// A login a rule redirected, under the digest of the `state` it was sent out with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub request: AuthorizeRequest,
    pub browser: SecretHash,
    pub user_id: String,
    pub sid: String,
    /// The protocol the login started with (`context.original_protocol` on return).
    pub protocol: String,
}

/// Whether `browser` is the one a record was bound to.
pub(crate) fn same_browser(bound: &SecretHash, browser: &Secret) -> bool {
    bound.matches(browser)
}

/// Compares a submitted CSRF token in constant time.
pub(crate) fn csrf_matches(expected: &str, submitted: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
}
