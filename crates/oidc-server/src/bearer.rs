//! `Authorization: Bearer …` (RFC 6750), shared by `/userinfo`, the management API and the
//! operator API.

use axum::http::{HeaderMap, header};

/// The bearer token of a request, if it presents one.
pub(crate) fn token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}
