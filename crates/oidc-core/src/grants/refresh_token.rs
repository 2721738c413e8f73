//! The refresh-token grant: rotation with reuse detection and an overlap window, or a
//! non-rotating token with a sliding idle expiry. Rules run on every exchange.
//!
//! In three layers: the decision is pure (`RefreshFamily::decide`), one attempt reads the
//! family, runs the rules, mints and writes everything in one compare-and-swap, and
//! `with_retries` repeats the attempt when another writer got there first.

use rules_abi::Protocol;

use crate::audit::{LogEvent, codes};
use crate::error::OAuthError;
use crate::grants::issue::{self, Grant, Issued};
use crate::grants::{REFRESH_TOKEN, TokenContext, TokenRequest, authenticate_for};
use crate::model::Client;
use crate::refresh::lifecycle::{Attempt, MAX_ATTEMPTS, revoke_family, with_retries};
use crate::refresh::token::TokenId;
use crate::refresh::{Exchange, RefreshFamily, Rotation};
use crate::scope;
use crate::secret::{Entropy, Secret};
use crate::store::{Change, FamilyWrite};

/// Why a family is revoked when an old token comes back.
pub(crate) const REUSED: &str = "reuse of a rotated refresh token";

pub(super) fn grant(
    ctx: &TokenContext<'_>,
    request: &TokenRequest,
    entropy: &mut dyn Entropy,
) -> Result<Issued, OAuthError> {
    let client = authenticate_for(ctx, &request.credentials, REFRESH_TOKEN)?;
    let presented = Secret::new(request.required("refresh_token")?);
    let id = ctx
        .refresh_keys
        .parse(&ctx.tenant.id, presented.expose())
        .ok_or_else(OAuthError::unknown_refresh_token)?;
    let exchange = Presented {
        client: &client,
        token: &presented,
        id: &id,
    };
    with_retries(|| attempt(ctx, request, &exchange, entropy))
}

/// What the client presented, authenticated.
struct Presented<'a> {
    client: &'a Client,
    token: &'a Secret,
    id: &'a TokenId,
}

/// One exchange against the family as it is now.
fn attempt(
    ctx: &TokenContext<'_>,
    request: &TokenRequest,
    presented: &Presented<'_>,
    entropy: &mut dyn Entropy,
) -> Result<Attempt<Issued>, OAuthError> {
    let tenant = &ctx.tenant.id;
    let family = ctx
        .store
        .refresh_family(tenant, &presented.id.family_id)?
        .filter(|family| family.client_id == presented.client.client_id)
        .ok_or_else(OAuthError::unknown_refresh_token)?
        .under_policy(&presented.client.refresh_token, ctx.now);
    let decision = family.decide(presented.id.generation, &presented.token.hash(), ctx.now);
    let replayed = match decision {
        Exchange::Dead | Exchange::Unknown => return Err(OAuthError::unknown_refresh_token()),
        Exchange::Reuse => return Err(reuse(ctx, request, &family)?),
        Exchange::ReplaySuccessor => {
            let sealed = family.sealed_successor.as_deref().unwrap_or_default();
            match ctx.refresh_keys.open(sealed, presented.token, &family.id) {
                Some(successor) => Some(successor),
                // An authentic token of the previous generation that is not the previous
                // token: only whoever holds the token key can make one. Treat it as reuse.
                None => return Err(reuse(ctx, request, &family)?),
            }
        }
        Exchange::Rotate | Exchange::Keep => None,
    };

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
        refresh_token: Some(family.rule_view()),
        sid: family.session_id.as_deref(),
        ..Grant::token_endpoint(
            presented.client,
            &user,
            api.as_ref(),
            scope,
            Protocol::OAuth2RefreshToken,
            REFRESH_TOKEN,
            family.auth_time,
        )
    };
    let applied = match issue::run_rules(ctx, request, &grant, entropy) {
        Ok(applied) => applied,
        Err(refusal) => {
            if let Some(reason) = &refusal.revoke_family {
                revoke_family::<OAuthError>(ctx.store, tenant, &family.id, reason, ctx.now)?;
            }
            return Err(refusal.error);
        }
    };
    let shorten = (applied.refresh_expires_at, applied.refresh_idle_expires_at);

    // The token to return, and the family to write: the same successor on a replay, a new one
    // on a rotation, the same token when the family does not rotate. A replay writes too (a
    // version bump), so it is ordered against a revocation that answered before it.
    let (returned, next) = match (decision, replayed) {
        (Exchange::Rotate, _) => {
            let successor = ctx
                .refresh_keys
                .mint(tenant, &family.id, family.generation + 1, entropy)
                .ok_or_else(OAuthError::server_error)?;
            let rotation = Rotation {
                token_hash: successor.hash(),
                sealed_successor: (family.overlap_ms > 0).then(|| {
                    ctx.refresh_keys
                        .seal(&successor, presented.token, &family.id, entropy)
                }),
            };
            let next = family.after_exchange(Some(rotation), shorten, ctx.now);
            (Some(successor), next)
        }
        (Exchange::ReplaySuccessor, Some(successor)) => (
            Some(successor),
            family.after_exchange(None, shorten, ctx.now),
        ),
        _ => (None, family.after_exchange(None, shorten, ctx.now)),
    };
    let mut next = next;
    next.device.seen(&request.info);
    let response = issue::mint(
        ctx,
        &grant,
        &applied,
        returned.map(|token| token.expose().to_owned()),
    )?;
    let (mut base, mut next) = (family.clone(), next);
    for _ in 0..MAX_ATTEMPTS {
        let change = Change {
            family: Some(FamilyWrite::Replace {
                expected_version: base.version,
                family: &next,
            }),
            ..issue::change(&grant, &applied)
        };
        if ctx.store.apply(tenant, &change)? {
            return Ok(Attempt::Done(Issued {
                response,
                wrote: true,
                user_id: Some(family.user_id.clone()),
            }));
        }
        // Another exchange wrote first. A replay or a non-rotating exchange stays valid as
        // long as the family still means the same for the presented token (same generation,
        // same sealed successor): only the write is redone on the newer record, so that a
        // crowd of concurrent retries cannot starve one of them. Anything else starts over.
        let Some(latest) = ctx.store.refresh_family(tenant, &family.id)? else {
            return Ok(Attempt::Conflict);
        };
        let latest = latest.under_policy(&presented.client.refresh_token, ctx.now);
        let same = matches!(decision, Exchange::ReplaySuccessor | Exchange::Keep)
            && latest.decide(presented.id.generation, &presented.token.hash(), ctx.now) == decision
            && latest.generation == family.generation
            && latest.sealed_successor == family.sealed_successor;
        if !same {
            return Ok(Attempt::Conflict);
        }
        next = latest.after_exchange(None, shorten, ctx.now);
        next.device.seen(&request.info);
        base = latest;
    }
    Ok(Attempt::Conflict)
}

/// An old token came back: the family is presumed stolen and dies (Auth0's reuse detection).
fn reuse(
    ctx: &TokenContext<'_>,
    request: &TokenRequest,
    family: &RefreshFamily,
) -> Result<OAuthError, OAuthError> {
    revoke_family::<OAuthError>(ctx.store, &ctx.tenant.id, &family.id, REUSED, ctx.now)?;
    ctx.audit.record(
        LogEvent::new(
            codes::REUSE_DETECTED,
            "Unsuccessful Refresh Token exchange, reused refresh token detected",
            ctx.now,
        )
        .client(&family.client_id)
        .user(&family.user_id)
        .from(&request.info),
    );
    Ok(OAuthError::unknown_refresh_token())
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
