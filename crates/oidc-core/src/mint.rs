//! Access and ID tokens in Auth0's profile.

use serde_json::{Map, Value, json};

use crate::error::OAuthError;
use crate::keys::TenantKeys;
use crate::model::{Client, Tenant, UnixMillis, User};
use crate::scope;

/// Everything an access token says.
#[derive(Debug)]
pub struct AccessToken<'a> {
    pub tenant: &'a Tenant,
    pub client: &'a Client,
    /// The user id, or `{client_id}@clients` for `client_credentials`.
    pub subject: &'a str,
    /// The API, if one was requested.
    pub audience: Option<&'a str>,
    /// Added to `aud` when `openid` is granted.
    pub userinfo_url: &'a str,
    pub scope: &'a [String],
    /// `password`, `client-credentials` or `refresh_token`.
    pub grant_type: &'a str,
    pub lifetime_secs: u64,
    pub custom: &'a Map<String, Value>,
    pub now: UnixMillis,
}

/// Signs an access token.
pub fn access_token(keys: &TenantKeys, token: &AccessToken<'_>) -> Result<String, OAuthError> {
    let iat = token.now / 1000;
    let openid = scope::contains(token.scope, "openid");
    let aud = match (token.audience, openid) {
        (Some(api), true) => json!([api, token.userinfo_url]),
        (Some(api), false) => json!(api),
        (None, _) => json!(token.userinfo_url),
    };
    let mut claims = token.custom.clone();
    let standard = json!({
        "iss": token.tenant.issuer,
        "sub": token.subject,
        "aud": aud,
        "azp": token.client.client_id,
        "iat": iat,
        "exp": iat + token.lifetime_secs,
        "scope": scope::join(token.scope),
        "gty": token.grant_type,
    });
    if let Value::Object(standard) = standard {
        claims.extend(standard);
    }
    keys.sign(&claims).map_err(|_| OAuthError::server_error())
}

/// Everything an ID token says.
#[derive(Debug)]
pub struct IdToken<'a> {
    pub tenant: &'a Tenant,
    pub client: &'a Client,
    pub user: &'a User,
    pub scope: &'a [String],
    /// Seconds since the epoch; kept across refreshes.
    pub auth_time: UnixMillis,
    pub custom: &'a Map<String, Value>,
    /// The authorization request's `nonce`, echoed (OIDC Core §3.1.3.6).
    pub nonce: Option<&'a str>,
    /// The SSO session the login belongs to.
    pub sid: Option<&'a str>,
    /// The access token issued with it, for `at_hash`.
    pub access_token: Option<&'a str>,
    pub now: UnixMillis,
}

/// Signs an ID token: standard claims, profile and email claims by scope, custom claims.
pub fn id_token(keys: &TenantKeys, token: &IdToken<'_>) -> Result<String, OAuthError> {
    let iat = token.now / 1000;
    let mut claims = profile_claims(token.user, token.scope);
    claims.extend(token.custom.clone());
    let standard = json!({
        "iss": token.tenant.issuer,
        "sub": token.user.user_id,
        "aud": token.client.client_id,
        "iat": iat,
        "exp": iat + token.client.id_token_lifetime_secs,
        "auth_time": token.auth_time / 1000,
    });
    if let Value::Object(standard) = standard {
        claims.extend(standard);
    }
    let mut put = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            claims.insert(name.to_owned(), Value::String(value));
        }
    };
    put("nonce", token.nonce.map(str::to_owned));
    put("sid", token.sid.map(str::to_owned));
    put(
        "at_hash",
        token
            .access_token
            .map(|access| half_hash(token.tenant.signing_alg, access)),
    );
    keys.sign(&claims).map_err(|_| OAuthError::server_error())
}

/// `at_hash` / `c_hash` (OIDC Core §3.1.3.6): the left half of the value's hash with the
/// hash function of the signing algorithm (SHA-512 for Ed25519), base64url.
pub fn half_hash(alg: crate::model::SigningAlg, value: &str) -> String {
    use crate::digest::{sha256, sha512};
    use base64::Engine as _;
    let encode = |half: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(half);
    match alg {
        crate::model::SigningAlg::EdDSA => encode(&sha512(value.as_bytes())[..32]),
        _ => encode(&sha256(value.as_bytes())[..16]),
    }
}

/// The standard claims of `user` that `scope` grants (OIDC Core §5.4).
pub fn profile_claims(user: &User, granted: &[String]) -> Map<String, Value> {
    let mut claims = Map::new();
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            claims.insert(name.to_owned(), value);
        }
    };
    if scope::contains(granted, "profile") {
        put("name", user.name.clone().map(Value::from));
        put("nickname", user.nickname.clone().map(Value::from));
        put("given_name", user.given_name.clone().map(Value::from));
        put("family_name", user.family_name.clone().map(Value::from));
        put("picture", user.picture.clone().map(Value::from));
        put("preferred_username", user.username.clone().map(Value::from));
        put("updated_at", Some(Value::from(user.updated_at / 1000)));
    }
    if scope::contains(granted, "email") {
        put("email", user.email.clone().map(Value::from));
        put("email_verified", Some(Value::from(user.email_verified)));
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::half_hash;
    use crate::model::SigningAlg;

    /// OpenID Connect Core's own examples (appendix A.3 and A.4), and SHA-512's half for
    /// Ed25519 (the left 32 bytes of SHA-512("abc"), FIPS 180-2).
    #[test]
    fn half_hash_matches_the_specifications_examples() {
        assert_eq!(
            half_hash(
                SigningAlg::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(
            half_hash(
                SigningAlg::ES256,
                "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk"
            ),
            "LDktKdoQak3Pk0cnXxCltA"
        );
        assert_eq!(
            half_hash(SigningAlg::EdDSA, "abc"),
            "3a81oZNherrMQXNJriBBMRLm-k6JqX6iCp7u5ktV05o"
        );
    }
}
