//! `/.well-known/openid-configuration` and `/.well-known/jwks.json`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::tenancy::TenantCtx;

pub(crate) async fn openid_configuration(TenantCtx(tenant): TenantCtx) -> Response {
    let paths = &tenant.paths;
    let document = Json(json!({
        "issuer": paths.issuer,
        "authorization_endpoint": paths.authorize,
        "token_endpoint": paths.token,
        "revocation_endpoint": paths.revoke,
        "userinfo_endpoint": paths.userinfo,
        "jwks_uri": paths.jwks,
        "end_session_endpoint": paths.end_session,
        "device_authorization_endpoint": paths.device_code,
        "grant_types_supported": [
            oidc_core::grants::PASSWORD,
            oidc_core::grants::PASSWORD_REALM,
            oidc_core::grants::CLIENT_CREDENTIALS,
            oidc_core::grants::REFRESH_TOKEN,
            oidc_core::grants::AUTHORIZATION_CODE,
            oidc_core::grants::IMPLICIT,
            oidc_core::login::device::DEVICE_CODE_GRANT,
        ],
        "response_types_supported": oidc_core::login::ResponseType::SUPPORTED,
        "response_modes_supported": oidc_core::login::ResponseMode::SUPPORTED,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [tenant.tenant.signing_alg.as_str()],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": oidc_core::scope::OPENID_SCOPES,
        "claims_supported": [
            "aud", "auth_time", "email", "email_verified", "exp", "family_name", "given_name", "iat",
            "iss", "name", "nickname", "picture", "preferred_username", "sub", "updated_at",
            "nonce", "sid", "at_hash"
        ],
    }));
    crate::cors::public(document.into_response())
}

pub(crate) async fn jwks(TenantCtx(tenant): TenantCtx) -> Response {
    crate::cors::public(Json(tenant.keys.jwks().clone()).into_response())
}
