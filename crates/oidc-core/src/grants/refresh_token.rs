//! The refresh-token grant: rotation with reuse detection and an overlap window, or a
//! non-rotating token with a sliding idle expiry. Rules run on every exchange.

use rules_abi::Protocol;

use crate::error::OAuthError;
use crate::grants::issue::{self, Grant, Issued};
use crate::grants::{REFRESH_TOKEN, TokenContext, TokenRequest, authenticate_for};
use crate::refresh::{Exchange, RefreshFamily};
use crate::scope;
use crate::secret::{self, Entropy, Secret};

/// Compare-and-swap retries before giving up; each retry sees a newer family, and the
/// decision can only move towards "replay" or "reuse", so two or three suffice.
const MAX_ATTEMPTS: usize = 8;

pub(super) fn grant(
    ctx: &TokenContext<'_>,
    request: &TokenRequest,
    entropy: &mut dyn Entropy,
) -> Result<Issued, OAuthError> {
    let client = authenticate_for(ctx, &request.credentials, REFRESH_TOKEN)?;
    let presented = Secret::new(request.required("refresh_token")?);
    let hash = presented.hash();
    let tenant = &ctx.tenant.id;
    for _ in 0..MAX_ATTEMPTS {
        let (generation, family) = ctx
            .store
            .refresh_find(tenant, &hash)?
            .ok_or_else(OAuthError::unknown_refresh_token)?;
        if family.client_id != client.client_id {
            return Err(OAuthError::unknown_refresh_token());
        }
        let decision = family.decide(generation, ctx.now);
        match decision {
            Exchange::Dead => return Err(OAuthError::unknown_refresh_token()),
            Exchange::Reuse => {
                revoke_family(ctx, &family, "reuse of a rotated refresh token")?;
                return Err(OAuthError::unknown_refresh_token());
            }
            Exchange::Keep | Exchange::Rotate | Exchange::ReplaySuccessor => {}
        }
        let scope = narrowed_scope(request, &family)?;
        let user = ctx.store.user(tenant, &family.user_id)?.ok_or_else(|| {
            OAuthError::invalid_grant(
                "The refresh_token was generated for a user who doesn't exist anymore.",
            )
        })?;
        if user.blocked {
            return Err(OAuthError::invalid_grant("user is blocked"));
        }
        let api = match &family.audience {
            Some(audience) => Some(
                ctx.store
                    .api(tenant, audience)?
                    .ok_or_else(OAuthError::unknown_refresh_token)?,
            ),
            None => None,
        };
        let grant = Grant {
            client: &client,
            user: &user,
            api: api.as_ref(),
            scope,
            protocol: Protocol::OAuth2RefreshToken,
            grant_type: REFRESH_TOKEN,
            auth_time: family.auth_time,
            refresh_token: Some(family.rule_view()),
        };
        let mut seed = [0u8; 8];
        entropy.fill(&mut seed);
        let applied = match issue::run_rules(ctx, request, &grant, u64::from_le_bytes(seed)) {
            Ok(applied) => applied,
            Err(refusal) => {
                if let Some(reason) = &refusal.revoke_family {
                    revoke_family(ctx, &family, reason)?;
                }
                return Err(refusal.error);
            }
        };
        let update =
            (!applied.metadata.is_empty()).then_some((user.user_id.as_str(), &applied.metadata));
        let shorten = (applied.refresh_expires_at, applied.refresh_idle_expires_at);
        let response = match decision {
            Exchange::Keep => {
                let next = family.after_exchange(false, None, shorten, ctx.now);
                let response = issue::mint(ctx, &grant, &applied, None)?;
                if !ctx
                    .store
                    .refresh_replace(tenant, family.version, &next, None, update)?
                {
                    continue;
                }
                response
            }
            Exchange::Rotate => {
                let successor = secret::new_token(entropy);
                let sealed = (family.overlap_ms > 0)
                    .then(|| ctx.sealer.seal(&successor, &family.id, entropy));
                let next = family.after_exchange(true, sealed, shorten, ctx.now);
                let response =
                    issue::mint(ctx, &grant, &applied, Some(successor.expose().to_owned()))?;
                if !ctx.store.refresh_replace(
                    tenant,
                    family.version,
                    &next,
                    Some(&successor.hash()),
                    update,
                )? {
                    continue;
                }
                response
            }
            Exchange::ReplaySuccessor => {
                let sealed = family.sealed_successor.as_deref().unwrap_or_default();
                let Some(successor) = ctx.sealer.open(sealed, &family.id) else {
                    revoke_family(ctx, &family, "reuse of a rotated refresh token")?;
                    return Err(OAuthError::unknown_refresh_token());
                };
                let response =
                    issue::mint(ctx, &grant, &applied, Some(successor.expose().to_owned()))?;
                if let Some((user_id, update)) = update {
                    ctx.store.update_user_metadata(tenant, user_id, update)?;
                }
                response
            }
            Exchange::Dead | Exchange::Reuse => return Err(OAuthError::unknown_refresh_token()),
        };
        issue::remember_userinfo(ctx, &grant, &applied)?;
        return Ok(Issued {
            response,
            wrote: true,
        });
    }
    Err(OAuthError::new(
        crate::ErrorCode::TemporarilyUnavailable,
        503,
        "The refresh token is busy; retry.",
    ))
}

/// `scope` may only narrow what the family was granted (RFC 6749 §6).
fn narrowed_scope(
    request: &TokenRequest,
    family: &RefreshFamily,
) -> Result<Vec<String>, OAuthError> {
    let Some(raw) = request.param("scope") else {
        return Ok(family.scope.clone());
    };
    let requested = scope::parse(raw)
        .ok_or_else(|| OAuthError::invalid_scope("The scope parameter is malformed."))?;
    if let Some(extra) = requested
        .iter()
        .find(|s| !scope::contains(&family.scope, s))
    {
        return Err(OAuthError::invalid_scope(format!(
            "Scope '{extra}' was not granted to this refresh token; a refresh can only narrow the scope."
        )));
    }
    Ok(requested)
}

/// Revokes a family, retrying on concurrent writes; a family already revoked stays so.
pub(crate) fn revoke_family(
    ctx: &TokenContext<'_>,
    family: &RefreshFamily,
    reason: &str,
) -> Result<(), OAuthError> {
    let tenant = &ctx.tenant.id;
    let mut current = family.clone();
    for _ in 0..MAX_ATTEMPTS {
        if current.revoked.is_some() {
            return Ok(());
        }
        if ctx.store.refresh_replace(
            tenant,
            current.version,
            &current.revoke(reason, ctx.now),
            None,
            None,
        )? {
            return Ok(());
        }
        match ctx.store.refresh_family(tenant, &current.id)? {
            Some(latest) => current = latest,
            None => return Ok(()),
        }
    }
    Err(OAuthError::server_error())
}
