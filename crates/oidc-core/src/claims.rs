//! What rules may put in tokens: Auth0's restricted claim names and reserved namespaces are
//! dropped silently, profile claims follow their scope, and each token carries at most 100 KB
//! of custom claims.

use rules_abi::Claims;

use crate::scope;

/// Auth0's restricted claims: set by the server, never by a rule.
const RESTRICTED: [&str; 60] = [
    "acr",
    "act",
    "active",
    "amr",
    "at_hash",
    "ath",
    "attest",
    "aud",
    "auth_time",
    "authorization_details",
    "azp",
    "c_hash",
    "client_id",
    "cnf",
    "cty",
    "dest",
    "entitlements",
    "events",
    "exp",
    "groups",
    "gty",
    "htm",
    "htu",
    "iat",
    "internalService",
    "iss",
    "jcard",
    "jku",
    "jti",
    "jwe",
    "jwk",
    "kid",
    "may_act",
    "mky",
    "nbf",
    "nonce",
    "object_id",
    "org_id",
    "org_name",
    "orig",
    "origid",
    "permissions",
    "roles",
    "rph",
    "s_hash",
    "sid",
    "sip_callid",
    "sip_cseq_num",
    "sip_date",
    "sip_from_tag",
    "sip_via_branch",
    "sub",
    "sub_jwk",
    "toe",
    "txn",
    "typ",
    "uuid",
    "vot",
    "vtm",
    "x5t#S256",
];

/// Namespaces owned by Auth0 (and so by the platform): claims under them are dropped.
const RESERVED_HOSTS: [&str; 3] = ["auth0.com", "webtask.io", "webtask.run"];

/// The most custom-claim bytes (names plus JSON values) one token may carry.
pub const MAX_CUSTOM_CLAIM_BYTES: usize = 100 * 1024;

/// Which token the claims are for: profile claims may override on the ID token only, and
/// `scope` is the access token's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Id,
    Access,
}

/// The claims a rule may set, after filtering. `Err` with the size when over the cap: the
/// issuance then fails, as Auth0's does.
pub fn filter(claims: &Claims, kind: TokenKind, granted: &[String]) -> Result<Claims, usize> {
    let mut kept = Claims::new();
    let mut bytes = 0usize;
    for (name, value) in claims {
        if !allowed(name, kind, granted) {
            continue;
        }
        bytes += name.len() + value.to_string().len();
        kept.insert(name.clone(), value.clone());
    }
    if bytes > MAX_CUSTOM_CLAIM_BYTES {
        return Err(bytes);
    }
    Ok(kept)
}

fn allowed(name: &str, kind: TokenKind, granted: &[String]) -> bool {
    if RESTRICTED.contains(&name) || reserved_namespace(name) {
        return false;
    }
    if kind == TokenKind::Access && name == "scope" {
        return false;
    }
    match profile_scope(name) {
        Some(needed) => scope::contains(granted, needed),
        None => true,
    }
}

/// The scope an OIDC standard claim belongs to, if it is one.
fn profile_scope(name: &str) -> Option<&'static str> {
    match name {
        "name" | "family_name" | "given_name" | "middle_name" | "nickname"
        | "preferred_username" | "profile" | "picture" | "website" | "gender" | "birthdate"
        | "zoneinfo" | "locale" | "updated_at" => Some("profile"),
        "email" | "email_verified" => Some("email"),
        "phone_number" | "phone_number_verified" => Some("phone"),
        "address" => Some("address"),
        _ => None,
    }
}

/// Schemes and hosts are case-insensitive (RFC 3986 §3.1, §3.2.2), and so are URN namespace
/// identifiers (RFC 8141 §3.1): `HTTPS://X.AUTH0.COM/` and `URN:AUTH0:` are reserved too.
fn reserved_namespace(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    if name.starts_with("urn:auth0") {
        return true;
    }
    let Some(rest) = name
        .strip_prefix("https://")
        .or_else(|| name.strip_prefix("http://"))
    else {
        return false;
    };
    // The host follows any `userinfo@`; both sides are checked, so neither
    // `https://auth0.com@x/` nor `https://x@y.auth0.com/` slips through.
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.split('@').any(|part| {
        let host = part.split(':').next().unwrap_or_default();
        RESERVED_HOSTS
            .iter()
            .any(|reserved| host == *reserved || host.ends_with(&format!(".{reserved}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(claims: &Claims) -> Vec<&str> {
        claims.keys().map(String::as_str).collect()
    }

    #[test]
    fn restricted_and_reserved_claims_are_dropped() {
        let claims: Claims = serde_json::from_value(json!({
            "sub": "evil", "aud": "x", "roles": ["admin"], "permissions": [],
            "https://example.com/roles": ["admin"],
            "https://tenant.auth0.com/x": 1, "http://webtask.io/y": 1, "urn:auth0:z": 1,
            "https://notauth0.com/ok": 1, "plain": 1, "scope": "read"
        }))
        .unwrap();
        let granted = vec!["openid".to_owned()];
        assert_eq!(
            names(&filter(&claims, TokenKind::Access, &granted).unwrap()),
            [
                "https://example.com/roles",
                "https://notauth0.com/ok",
                "plain"
            ]
        );
        assert_eq!(
            names(&filter(&claims, TokenKind::Id, &granted).unwrap()),
            [
                "https://example.com/roles",
                "https://notauth0.com/ok",
                "plain",
                "scope"
            ]
        );
    }

    #[test]
    fn reserved_namespaces_match_in_any_case() {
        for name in [
            "HTTPS://x.auth0.com/roles",
            "https://X.AUTH0.COM/roles",
            "Http://Webtask.Run/x",
            "URN:AUTH0:thing",
            "urn:Auth0:thing",
            "https://user@tenant.auth0.com/x",
        ] {
            let claims: Claims = serde_json::from_value(json!({ name: 1 })).unwrap();
            assert!(
                filter(&claims, TokenKind::Access, &[]).unwrap().is_empty(),
                "{name} is reserved"
            );
        }
        let kept: Claims = serde_json::from_value(json!({"HTTPS://Example.com/roles": 1})).unwrap();
        assert_eq!(filter(&kept, TokenKind::Access, &[]).unwrap().len(), 1);
    }

    #[test]
    fn profile_claims_need_their_scope() {
        let claims: Claims = serde_json::from_value(json!({"email": "x@y", "name": "X"})).unwrap();
        let profile_only = vec!["openid".to_owned(), "profile".to_owned()];
        assert_eq!(
            names(&filter(&claims, TokenKind::Id, &profile_only).unwrap()),
            ["name"]
        );
    }

    #[test]
    fn more_than_100kb_fails() {
        let mut claims = Claims::new();
        claims.insert(
            "https://x.test/big".into(),
            json!("a".repeat(MAX_CUSTOM_CLAIM_BYTES)),
        );
        assert!(filter(&claims, TokenKind::Access, &[]).is_err());
    }
}
