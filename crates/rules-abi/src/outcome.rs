//! What a rule returns. Parsed strictly: a rule module is untrusted, so its output is too.

use serde::{Deserialize, Serialize};

use crate::Claims;

/// How deep the outcome JSON may nest. Claims are data for tokens, not trees.
pub const MAX_OUTCOME_DEPTH: usize = 32;

/// Longest deny description or revoke reason kept, in bytes.
const MAX_MESSAGE_BYTES: usize = 1024;
/// Longest redirect URL accepted, in bytes.
const MAX_URL_BYTES: usize = 2048;

/// The outcome of one rule call. Every field is optional on the wire; an empty object means
/// "no change".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleOutcome {
    /// Custom claims to set on the ID token.
    #[serde(skip_serializing_if = "Claims::is_empty")]
    pub id_token: Claims,
    /// Custom claims to set on the access token.
    #[serde(skip_serializing_if = "Claims::is_empty")]
    pub access_token: Claims,
    /// Replaces the access-token scope (Auth0's `context.accessToken.scope`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_scope: Option<Vec<String>>,
    /// Stops the chain and refuses the issuance.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "object_only"
    )]
    pub deny: Option<Deny>,
    /// Sends the user to a page before tokens are issued. Refused where no user is present.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "object_only"
    )]
    pub redirect: Option<Redirect>,
    /// Keys to set in the user's `app_metadata`, persisted only if the issuance succeeds.
    #[serde(skip_serializing_if = "Claims::is_empty")]
    pub app_metadata: Claims,
    /// Keys to set in the user's `user_metadata`, persisted only if the issuance succeeds.
    #[serde(skip_serializing_if = "Claims::is_empty")]
    pub user_metadata: Claims,
    /// Revokes the refresh token being exchanged, and its family.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "object_only"
    )]
    pub revoke_refresh_token: Option<RevokeRefreshToken>,
    /// Shortens the refresh token's absolute lifetime (milliseconds since the Unix epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_at: Option<u64>,
    /// Shortens the refresh token's idle lifetime (milliseconds since the Unix epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_idle_expires_at: Option<u64>,
}

/// Reads an optional member that must be a JSON object (or null): serde would also take a
/// struct written as an array, which the wire format does not allow.
fn object_only<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Option::<Claims>::deserialize(deserializer)? {
        None => Ok(None),
        Some(fields) => T::deserialize(serde_json::Value::Object(fields))
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// A refusal: the OAuth error and the description the client sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deny {
    pub error: DenyError,
    pub description: String,
}

/// The two errors a rule may answer with, as in Auth0 Rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DenyError {
    /// `UnauthorizedError`: HTTP 401 on the token endpoint.
    #[serde(rename = "unauthorized")]
    Unauthorized,
    /// Any other refusal: HTTP 403.
    #[serde(rename = "access_denied")]
    AccessDenied,
}

impl DenyError {
    /// The OAuth `error` code.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyError::Unauthorized => "unauthorized",
            DenyError::AccessDenied => "access_denied",
        }
    }
}

/// A redirect request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    /// An absolute `https` (or `http`) URL.
    pub url: String,
}

/// A request to revoke the refresh token being exchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRefreshToken {
    /// Becomes the `error_description` of the 403 `access_denied` answer.
    pub reason: String,
}

/// Why a rule's output was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeError {
    TooLarge { len: usize, max: usize },
    InvalidUtf8 { valid_up_to: usize },
    TooDeep { max: usize },
    Json(String),
    Invalid(String),
}

impl std::fmt::Display for OutcomeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutcomeError::TooLarge { len, max } => {
                write!(f, "output is {len} bytes, more than the {max} allowed")
            }
            OutcomeError::InvalidUtf8 { valid_up_to } => {
                write!(
                    f,
                    "output is not UTF-8 (invalid byte at offset {valid_up_to})"
                )
            }
            OutcomeError::TooDeep { max } => write!(f, "output nests deeper than {max} levels"),
            OutcomeError::Json(message) => write!(f, "output is not a valid outcome: {message}"),
            OutcomeError::Invalid(message) => write!(f, "output is invalid: {message}"),
        }
    }
}

impl std::error::Error for OutcomeError {}

/// Parses a rule's output: at most `max_bytes`, UTF-8, nested at most [`MAX_OUTCOME_DEPTH`]
/// levels, no unknown fields, and values that make sense.
pub fn decode_outcome(bytes: &[u8], max_bytes: usize) -> Result<RuleOutcome, OutcomeError> {
    if bytes.len() > max_bytes {
        return Err(OutcomeError::TooLarge {
            len: bytes.len(),
            max: max_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| OutcomeError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    if nesting_depth(text) > MAX_OUTCOME_DEPTH {
        return Err(OutcomeError::TooDeep {
            max: MAX_OUTCOME_DEPTH,
        });
    }
    // Most outputs are well-formed: read them in one pass. Any error is read again the slow
    // way below, so the answer (and its message) is exactly the slow way's.
    if text.trim_start().starts_with('{')
        && let Ok(outcome) = serde_json::from_str::<RuleOutcome>(text)
    {
        outcome.check()?;
        return Ok(outcome);
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| OutcomeError::Json(e.to_string()))?;
    // serde accepts a struct written as an array; the wire format is objects only.
    let objects = value.as_object().is_some_and(|fields| {
        ["deny", "redirect", "revokeRefreshToken"]
            .iter()
            .all(|name| {
                fields
                    .get(*name)
                    .is_none_or(|v| v.is_object() || v.is_null())
            })
    });
    if !objects {
        return Err(OutcomeError::Json(
            "the outcome and its deny, redirect and revokeRefreshToken must be JSON objects".into(),
        ));
    }
    let outcome: RuleOutcome =
        serde_json::from_value(value).map_err(|e| OutcomeError::Json(e.to_string()))?;
    outcome.check()?;
    Ok(outcome)
}

impl RuleOutcome {
    /// Checks what the types alone cannot say.
    fn check(&self) -> Result<(), OutcomeError> {
        let invalid = |message: String| Err(OutcomeError::Invalid(message));
        for name in self.id_token.keys().chain(self.access_token.keys()) {
            if name.is_empty() {
                return invalid("a claim name is empty".into());
            }
        }
        for name in self.app_metadata.keys().chain(self.user_metadata.keys()) {
            if name.is_empty() || name.contains('.') {
                return invalid(format!("metadata key {name:?} is empty or contains '.'"));
            }
        }
        let scopes = self.access_token_scope.iter().flatten();
        if let Some(bad) = scopes.into_iter().find(|s| !is_scope_token(s)) {
            return invalid(format!("scope {bad:?} is not a valid scope token"));
        }
        if let Some(deny) = &self.deny {
            check_message("deny description", &deny.description)?;
        }
        if let Some(revoke) = &self.revoke_refresh_token {
            check_message("revoke reason", &revoke.reason)?;
        }
        if let Some(redirect) = &self.redirect {
            let url = &redirect.url;
            let absolute = url.starts_with("https://") || url.starts_with("http://");
            if !absolute || url.len() > MAX_URL_BYTES || url.chars().any(char::is_whitespace) {
                return invalid(format!(
                    "redirect url must be an absolute http(s) URL of at most {MAX_URL_BYTES} bytes"
                ));
            }
        }
        Ok(())
    }
}

fn check_message(what: &str, message: &str) -> Result<(), OutcomeError> {
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(OutcomeError::Invalid(format!(
            "{what} is longer than {MAX_MESSAGE_BYTES} bytes"
        )));
    }
    Ok(())
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// The deepest nesting of arrays and objects, found without building anything, so a hostile
/// `[[[[…` never reaches the recursive parser.
fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}
