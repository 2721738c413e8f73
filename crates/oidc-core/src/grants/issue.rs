//! The issuance path every user grant shares: rules, then tokens, then the writes.

use rules_abi::Protocol;

use crate::error::OAuthError;
use crate::grants::{TokenContext, TokenRequest, TokenResponse};
use crate::mint::{self, AccessToken, IdToken};
use crate::model::{Api, Client, User};
use std::collections::BTreeMap;

use crate::audit::{LogEvent, codes};
use crate::refresh::lifecycle::enforce_cap;
use crate::refresh::{Device, MAX_LIVE_PER_USER_AND_CLIENT, RefreshFamily};
use crate::rules::{self, Applied, EventParts, Redirects, Refusal, RequestInfo};
use crate::scope;
use crate::secret::{Entropy, Secret};
use crate::store::{Change, FamilyWrite, UserinfoWrite};

/// A successful token response, and whether the store was written (the caller must make the
/// writes durable before answering).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub response: TokenResponse,
    pub wrote: bool,
    /// Whom the tokens are for (none for `client_credentials`): for the tenant's log.
    pub user_id: Option<String>,
}

/// Access-token lifetime when no API was requested (a `/userinfo` token), as Auth0's.
pub(crate) const USERINFO_TOKEN_LIFETIME_SECS: u64 = 86_400;

/// What a user grant has established before rules run.
#[derive(Debug)]
pub(crate) struct Grant<'a> {
    pub(crate) client: &'a Client,
    pub(crate) user: &'a User,
    pub(crate) api: Option<&'a Api>,
    pub(crate) scope: Vec<String>,
    pub(crate) protocol: Protocol,
    pub(crate) grant_type: &'static str,
    pub(crate) auth_time: crate::UnixMillis,
    pub(crate) refresh_token: Option<rules_abi::RefreshTokenInfo>,
    /// A browser login's session, methods and query; `None` on the token endpoint.
    pub(crate) interactive: Option<&'a crate::rules::Interactive>,
    pub(crate) nonce: Option<&'a str>,
    /// The SSO session, for the ID token's `sid`.
    pub(crate) sid: Option<&'a str>,
}

impl<'a> Grant<'a> {
    /// A grant on the token endpoint, before rules run.
    pub(crate) fn token_endpoint(
        client: &'a Client,
        user: &'a User,
        api: Option<&'a Api>,
        scope: Vec<String>,
        protocol: Protocol,
        grant_type: &'static str,
        auth_time: crate::UnixMillis,
    ) -> Grant<'a> {
        Grant {
            client,
            user,
            api,
            scope,
            protocol,
            grant_type,
            auth_time,
            refresh_token: None,
            interactive: None,
            nonce: None,
            sid: None,
        }
    }
}

/// Runs the tenant's rules for `grant`, with a fresh seed for them.
pub(crate) fn run_rules(
    ctx: &TokenContext<'_>,
    request: &TokenRequest,
    grant: &Grant<'_>,
    entropy: &mut dyn Entropy,
) -> Result<Applied, Refusal> {
    run_rules_for(
        ctx,
        (&request.params, &request.info),
        grant,
        Redirects::Refused,
        entropy,
    )
}

/// Runs the tenant's rules for `grant` on a request's parameters (secrets are dropped) and
/// facts, with `redirects` deciding what a rule's redirect does.
pub(crate) fn run_rules_for(
    ctx: &TokenContext<'_>,
    (params, info): (&BTreeMap<String, String>, &RequestInfo),
    grant: &Grant<'_>,
    redirects: Redirects,
    entropy: &mut dyn Entropy,
) -> Result<Applied, Refusal> {
    let mut seed = [0u8; 8];
    entropy.fill(&mut seed);
    let input = rules::event(EventParts {
        tenant: ctx.tenant,
        configuration: ctx.rules.configuration(),
        client: grant.client,
        user: grant.user,
        protocol: grant.protocol.clone(),
        audience: grant.api.map(|api| api.identifier.as_str()),
        scope: &grant.scope,
        params,
        request: info,
        refresh_token: grant.refresh_token.clone(),
        interactive: grant.interactive,
        now: ctx.now,
        seed: u64::from_le_bytes(seed),
    });
    let api_scopes = grant.api.map_or(&[][..], |api| api.scopes.as_slice());
    rules::apply(
        ctx.rules,
        ctx.tenant,
        &input,
        &grant.scope,
        api_scopes,
        redirects,
    )
}

/// A new refresh-token family for `grant`, under `family_id`, with its first token. Auth0
/// keeps 200 live refresh tokens per user and client: room is made first (the oldest are
/// revoked, and the tenant's log says so), so a failure here creates nothing.
pub(crate) fn new_family(
    ctx: &TokenContext<'_>,
    grant: &Grant<'_>,
    applied: &Applied,
    family_id: String,
    info: &RequestInfo,
    entropy: &mut dyn Entropy,
) -> Result<(Secret, RefreshFamily), OAuthError> {
    let (client, user) = (grant.client, grant.user);
    let tenant = &ctx.tenant.id;
    let evicted = enforce_cap::<OAuthError>(
        ctx.store,
        tenant,
        &user.user_id,
        &client.client_id,
        MAX_LIVE_PER_USER_AND_CLIENT - 1,
        ctx.now,
    )?;
    if evicted > 0 {
        let mut event = LogEvent::new(
            codes::TOKEN_EXCESS,
            "Refresh token excess warning: the oldest refresh tokens were revoked",
            ctx.now,
        )
        .client(&client.client_id)
        .user(&user.user_id)
        .from(info);
        event.details = serde_json::json!({ "revoked": evicted });
        ctx.audit.record(event);
    }
    let token = ctx
        .refresh_keys
        .mint(tenant, &family_id, 0, entropy)
        .ok_or_else(OAuthError::server_error)?;
    let mut family = RefreshFamily::new(
        family_id,
        token.hash(),
        &client.client_id,
        &user.user_id,
        grant.api.map(|api| api.identifier.clone()),
        grant.scope.clone(),
        &client.refresh_token,
        ctx.now,
    );
    family.auth_time = grant.auth_time;
    family.session_id = grant.sid.map(str::to_owned);
    family.shorten(applied.refresh_expires_at, applied.refresh_idle_expires_at);
    family.device = Device::first(info);
    Ok((token, family))
}

/// [`deliver`], with a new refresh-token family under `family_id` when there is one.
pub(crate) fn deliver_with_family(
    ctx: &TokenContext<'_>,
    grant: &Grant<'_>,
    applied: &Applied,
    family_id: Option<String>,
    info: &RequestInfo,
    entropy: &mut dyn Entropy,
) -> Result<Issued, OAuthError> {
    let refresh = match family_id {
        Some(family_id) => Some(new_family(ctx, grant, applied, family_id, info, entropy)?),
        None => None,
    };
    deliver(ctx, grant, applied, refresh)
}

/// Signs the tokens of a new grant and writes it (the family, the rules' metadata, the
/// `/userinfo` claims) in one change.
pub(crate) fn deliver(
    ctx: &TokenContext<'_>,
    grant: &Grant<'_>,
    applied: &Applied,
    refresh: Option<(Secret, RefreshFamily)>,
) -> Result<Issued, OAuthError> {
    let response = mint(
        ctx,
        grant,
        applied,
        refresh.as_ref().map(|(token, _)| token.expose().to_owned()),
    )?;
    let change = Change {
        family: refresh
            .as_ref()
            .map(|(_, family)| FamilyWrite::Create(family)),
        ..change(grant, applied)
    };
    if !change.is_empty() && !ctx.store.apply(&ctx.tenant.id, &change)? {
        // Only a family id drawn twice from 128 random bits refuses a creation.
        return Err(OAuthError::server_error());
    }
    Ok(Issued {
        response,
        wrote: !change.is_empty(),
        user_id: Some(grant.user.user_id.clone()),
    })
}

/// Signs the access token and, when `openid` is granted, the ID token.
pub(crate) fn mint(
    ctx: &TokenContext<'_>,
    grant: &Grant<'_>,
    applied: &Applied,
    refresh_token: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let (access_token, lifetime_secs) = mint_access(ctx, grant, applied)?;
    // The ID token follows the granted scope: a rule's change to the access-token scope
    // changes the access token only.
    let id_token = if scope::contains(&grant.scope, "openid") {
        Some(mint_id(ctx, grant, applied, Some(&access_token))?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        id_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: lifetime_secs,
        scope: scope::join(&applied.access_scope),
    })
}

/// Signs the access token; returns it with its lifetime.
pub(crate) fn mint_access(
    ctx: &TokenContext<'_>,
    grant: &Grant<'_>,
    applied: &Applied,
) -> Result<(String, u64), OAuthError> {
    let lifetime_secs = grant.api.map_or(USERINFO_TOKEN_LIFETIME_SECS, |api| {
        api.access_token_lifetime_secs
    });
    let token = mint::access_token(
        ctx.keys,
        &AccessToken {
            tenant: ctx.tenant,
            client: grant.client,
            subject: &grant.user.user_id,
            audience: grant.api.map(|api| api.identifier.as_str()),
            userinfo_url: ctx.userinfo_url,
            scope: &applied.access_scope,
            grant_type: grant.grant_type,
            lifetime_secs,
            custom: &applied.access_claims,
            now: ctx.now,
        },
    )?;
    Ok((token, lifetime_secs))
}

/// Signs the ID token, with the user as the rules left its metadata, and `at_hash` of the
/// access token issued with it, if any.
pub(crate) fn mint_id(
    ctx: &TokenContext<'_>,
    grant: &Grant<'_>,
    applied: &Applied,
    access_token: Option<&str>,
) -> Result<String, OAuthError> {
    let mut user = grant.user.clone();
    applied.metadata.apply(&mut user);
    mint::id_token(
        ctx.keys,
        &IdToken {
            tenant: ctx.tenant,
            client: grant.client,
            user: &user,
            scope: &grant.scope,
            auth_time: grant.auth_time,
            custom: &applied.id_claims,
            nonce: grant.nonce,
            sid: grant.sid,
            access_token,
            now: ctx.now,
        },
    )
}

/// What an issuance writes besides a refresh-token family: the metadata rules set, and the
/// custom ID-token claims `/userinfo` serves to this client's tokens. The caller adds the
/// family write and applies it all at once.
pub(crate) fn change<'a>(grant: &'a Grant<'_>, applied: &'a Applied) -> Change<'a> {
    Change {
        family: None,
        metadata: (!applied.metadata.is_empty())
            .then_some((grant.user.user_id.as_str(), &applied.metadata)),
        userinfo: scope::contains(&grant.scope, "openid").then_some(UserinfoWrite {
            user_id: &grant.user.user_id,
            client_id: &grant.client.client_id,
            claims: &applied.id_claims,
        }),
    }
}
