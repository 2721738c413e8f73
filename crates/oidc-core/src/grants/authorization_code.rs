//! `grant_type=authorization_code`: a code from `/authorize`, once, by the client it was
//! issued to, with the redirect URI and the PKCE verifier it was bound to.

use rules_abi::Protocol;

use crate::audit::{LogEvent, codes};
use crate::error::OAuthError;
use crate::grants::issue::{self, Grant, Issued};
use crate::grants::password::offline_allowed;
use crate::grants::{AUTHORIZATION_CODE, TokenContext, TokenRequest, authenticate_for};
use crate::login::authorize::verifier_matches;
use crate::login::code::{CodeRecord, Redeemed};
use crate::login::records::{self, Stored};
use crate::refresh::lifecycle::revoke_family;
use crate::refresh::token::new_family_id;
use crate::scope;
use crate::secret::{Entropy, Secret};
use crate::store::FlowKind;

/// One answer for an unknown, expired, foreign or reused code: a probe learns nothing.
fn invalid_code() -> OAuthError {
    OAuthError::invalid_grant("Invalid authorization code")
}

pub(super) fn grant(
    ctx: &TokenContext<'_>,
    request: &TokenRequest,
    entropy: &mut dyn Entropy,
) -> Result<Issued, OAuthError> {
    let client = authenticate_for(ctx, &request.credentials, AUTHORIZATION_CODE)?;
    let code = Secret::new(request.required("code")?);
    let tenant = &ctx.tenant.id;
    let id = records::digest(&code);
    let Some(Stored {
        version,
        body: record,
    }) = records::read::<CodeRecord>(ctx.store, tenant, FlowKind::AuthorizationCode, &id, ctx.now)?
    else {
        return Err(invalid_code());
    };
    if record.client_id != client.client_id {
        return Err(invalid_code());
    }
    if record.redeemed.is_some() {
        return Err(reused(ctx, request, &id));
    }
    if ctx.now >= record.valid_until {
        return Err(invalid_code());
    }
    match request.param("redirect_uri") {
        Some(uri) if uri != record.redirect_uri => {
            return Err(OAuthError::invalid_grant(
                "The redirect_uri does not match the one of the authorization request.",
            ));
        }
        None if record.redirect_uri_given => {
            return Err(OAuthError::invalid_request(
                "Missing required parameter: redirect_uri",
            ));
        }
        _ => {}
    }
    match (&record.code_challenge, request.param("code_verifier")) {
        (Some(challenge), Some(verifier)) if verifier_matches(challenge, verifier) => {}
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_grant("Failed to verify code verifier"));
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_request(
                "Missing required parameter: code_verifier",
            ));
        }
        // A verifier for a code without a challenge: a downgrade, or a confused client.
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "The authorization request had no code_challenge.",
            ));
        }
        (None, None) => {}
    }
    let user = ctx
        .store
        .user(tenant, &record.user_id)?
        .ok_or_else(invalid_code)?;
    if user.blocked {
        return Err(OAuthError::invalid_grant("user is blocked"));
    }
    let api = super::client_credentials::api_named(ctx, record.audience.as_deref())
        .map_err(|_| invalid_code())?;

    // The client or the API may have lost offline access since the login.
    let offline =
        scope::contains(&record.scope, "offline_access") && offline_allowed(&client, api.as_ref());
    let family_id = offline.then(|| new_family_id(entropy));
    let redeemed = CodeRecord {
        redeemed: Some(Redeemed {
            at: ctx.now,
            family_id: family_id.clone(),
            replayed: false,
        }),
        ..record.clone()
    };
    let expires_at = ctx
        .now
        .saturating_add(crate::login::code::CODE_RECORD_LIFETIME_MS);
    if !records::replace(
        ctx.store,
        tenant,
        FlowKind::AuthorizationCode,
        &id,
        (version, expires_at),
        &redeemed,
    )? {
        // Another exchange of the same code got there first: this one is the reuse.
        return Err(reused(ctx, request, &id));
    }

    let grant = Grant {
        nonce: record.nonce.as_deref(),
        sid: Some(&record.sid),
        ..Grant::token_endpoint(
            &client,
            &user,
            api.as_ref(),
            record.scope.clone(),
            Protocol::OidcBasicProfile,
            AUTHORIZATION_CODE,
            record.auth_time,
        )
    };
    let applied = record.decided.applied();
    let issued =
        issue::deliver_with_family(ctx, &grant, &applied, family_id, &request.info, entropy)?;
    // A replay that came while the family was being made marked the code: the family exists
    // now, so revoke it here, and hand nothing out.
    if let Some(Stored {
        body: now_stored, ..
    }) =
        records::read::<CodeRecord>(ctx.store, tenant, FlowKind::AuthorizationCode, &id, ctx.now)?
        && now_stored.redeemed.as_ref().is_some_and(|r| r.replayed)
    {
        if let Some(family_id) = now_stored.redeemed.and_then(|r| r.family_id) {
            revoke_family::<OAuthError>(ctx.store, tenant, &family_id, REUSED, ctx.now)?;
        }
        return Err(invalid_code());
    }
    // The code's redemption was written, whatever else the grant wrote.
    Ok(Issued {
        wrote: true,
        ..issued
    })
}

/// Why a family dies when its code comes back.
const REUSED: &str = "authorization code reused";

/// A code presented again: it is marked replayed, the family its first exchange created is
/// revoked (if that exchange has not created it yet, it sees the mark and revokes it itself),
/// and the tenant's log says why.
fn reused(ctx: &TokenContext<'_>, request: &TokenRequest, id: &str) -> OAuthError {
    match mark_replayed(ctx, id) {
        Ok(Some(record)) => {
            let event = LogEvent::new(
                codes::REUSE_DETECTED,
                "An authorization code was used twice; what its first exchange issued is revoked",
                ctx.now,
            )
            .client(&record.client_id)
            .user(&record.user_id)
            .from(&request.info);
            ctx.audit.record(event);
            invalid_code()
        }
        Ok(None) => invalid_code(),
        Err(error) => error,
    }
}

/// Sets `replayed` on a redeemed code (retrying against concurrent writers), then revokes its
/// family. `Ok(None)`: the record is gone.
fn mark_replayed(ctx: &TokenContext<'_>, id: &str) -> Result<Option<CodeRecord>, OAuthError> {
    let tenant = &ctx.tenant.id;
    loop {
        let Some(Stored { version, body }) = records::read::<CodeRecord>(
            ctx.store,
            tenant,
            FlowKind::AuthorizationCode,
            id,
            ctx.now,
        )?
        else {
            return Ok(None);
        };
        let Some(redeemed) = &body.redeemed else {
            return Ok(None);
        };
        let family_id = redeemed.family_id.clone();
        if !redeemed.replayed {
            let mut marked = body.clone();
            if let Some(redeemed) = &mut marked.redeemed {
                redeemed.replayed = true;
            }
            let expires_at = ctx
                .now
                .saturating_add(crate::login::code::CODE_RECORD_LIFETIME_MS);
            if !records::replace(
                ctx.store,
                tenant,
                FlowKind::AuthorizationCode,
                id,
                (version, expires_at),
                &marked,
            )? {
                continue;
            }
        }
        if let Some(family_id) = family_id {
            revoke_family::<OAuthError>(ctx.store, tenant, &family_id, REUSED, ctx.now)?;
        }
        return Ok(Some(body));
    }
}
