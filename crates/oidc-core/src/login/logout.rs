//! Ending the SSO session: Auth0's `/v2/logout` and OpenID Connect RP-Initiated Logout
//! (`/oidc/logout`). The browser goes back only to a URL the client allow-lists, exactly.
//! Refresh tokens keep their own lifetime, as Auth0's do, unless the client asks for them to
//! die with the session.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::session;
use crate::audit::{LogEvent, codes};
use crate::error::OAuthError;
use crate::grants::TokenContext;
use crate::model::Client;
use crate::refresh::lifecycle::revoke_family;

/// What a logout did, and where the browser goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logout {
    /// The allow-listed URL to send the browser to (with `state` for OIDC); `None`: show the
    /// "logged out" page.
    pub redirect: Option<String>,
    /// Whether a session ended (and the store was written).
    pub ended: bool,
}

fn param<'a>(params: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

fn client(ctx: &TokenContext<'_>, client_id: &str) -> Result<Client, OAuthError> {
    crate::ids::client_id(client_id)?;
    ctx.store
        .client(&ctx.tenant.id, client_id)?
        .ok_or_else(|| OAuthError::invalid_request("Unknown client."))
}

fn allowed(client: &Client, url: &str) -> Result<(), OAuthError> {
    if client
        .allowed_logout_urls
        .iter()
        .any(|allowed| allowed == url)
    {
        Ok(())
    } else {
        Err(OAuthError::invalid_request(
            "The URL to return to is not in the client's allowed_logout_urls (exact match required).",
        ))
    }
}

/// `GET {issuer}v2/logout?client_id=…&returnTo=…`.
pub fn logout(
    ctx: &TokenContext<'_>,
    params: &BTreeMap<String, String>,
    cookie: Option<&str>,
) -> Result<Logout, OAuthError> {
    let redirect = match param(params, "returnTo") {
        Some(url) => {
            let client_id = param(params, "client_id").ok_or_else(|| {
                OAuthError::invalid_request(
                    "returnTo needs the client_id whose allowed_logout_urls list it.",
                )
            })?;
            allowed(&client(ctx, client_id)?, url)?;
            Some(url.to_owned())
        }
        None => None,
    };
    let ended = end_session(ctx, cookie)?;
    Ok(Logout { redirect, ended })
}

/// The claims of an `id_token_hint` that logout reads.
#[derive(Debug, Deserialize)]
struct Hint {
    aud: serde_json::Value,
}

/// `GET/POST {issuer}oidc/logout` (OpenID Connect RP-Initiated Logout 1.0).
pub fn oidc_logout(
    ctx: &TokenContext<'_>,
    params: &BTreeMap<String, String>,
    cookie: Option<&str>,
) -> Result<Logout, OAuthError> {
    let hinted = match param(params, "id_token_hint") {
        Some(hint) => {
            // Expired hints are accepted (§2): they still name their client. Time 0 makes the
            // verifier skip the expiry; the signature and the issuer are checked.
            let claims: Hint = ctx
                .keys
                .verify(hint, &ctx.tenant.issuer, 0)
                .ok_or_else(|| {
                    OAuthError::invalid_request(
                        "The id_token_hint is not an ID token of this tenant.",
                    )
                })?;
            match claims.aud {
                serde_json::Value::String(aud) => Some(aud),
                _ => {
                    return Err(OAuthError::invalid_request(
                        "The id_token_hint has no single audience.",
                    ));
                }
            }
        }
        None => None,
    };
    let client_id = match (param(params, "client_id"), hinted.as_deref()) {
        (Some(given), Some(hinted)) if given != hinted => {
            return Err(OAuthError::invalid_request(
                "client_id does not match the id_token_hint.",
            ));
        }
        (given, hinted) => given.or(hinted),
    };
    let redirect = match param(params, "post_logout_redirect_uri") {
        Some(uri) => {
            let client_id = client_id.ok_or_else(|| {
                OAuthError::invalid_request(
                    "post_logout_redirect_uri needs an id_token_hint or a client_id.",
                )
            })?;
            allowed(&client(ctx, client_id)?, uri)?;
            Some(match param(params, "state") {
                Some(state) => {
                    let separator = if uri.contains('?') { '&' } else { '?' };
                    let query = form_urlencoded::Serializer::new(String::new())
                        .append_pair("state", state)
                        .finish();
                    format!("{uri}{separator}{query}")
                }
                None => uri.to_owned(),
            })
        }
        None => None,
    };
    let ended = end_session(ctx, cookie)?;
    Ok(Logout { redirect, ended })
}

/// Ends the cookie's session and revokes the refresh tokens it issued to clients that ask
/// for it.
fn end_session(ctx: &TokenContext<'_>, cookie: Option<&str>) -> Result<bool, OAuthError> {
    let Some(ended) = session::end(ctx, cookie)? else {
        return Ok(false);
    };
    let tenant = &ctx.tenant.id;
    let session = ended.session();
    for client_id in &session.clients {
        let revokes = ctx
            .store
            .client(tenant, client_id)?
            .is_some_and(|client| client.logout_revokes_refresh_tokens);
        if !revokes {
            continue;
        }
        for family in ctx
            .store
            .refresh_families(tenant, &session.user_id, Some(client_id))?
        {
            if family.session_id.as_deref() == Some(ended.sid.as_str()) && family.revoked.is_none()
            {
                revoke_family::<OAuthError>(
                    ctx.store,
                    tenant,
                    &family.id,
                    "session ended",
                    ctx.now,
                )?;
            }
        }
    }
    ctx.audit.record(
        LogEvent::new(codes::SUCCESS_LOGOUT, "Successful logout", ctx.now).user(&session.user_id),
    );
    Ok(true)
}
