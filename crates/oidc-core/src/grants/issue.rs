//! The issuance path every user grant shares: rules, then tokens, then the writes.

use rules_abi::Protocol;

use crate::error::OAuthError;
use crate::grants::{TokenContext, TokenRequest, TokenResponse};
use crate::mint::{self, AccessToken, IdToken};
use crate::model::{Api, Client, User};
use crate::rules::{self, Applied, EventParts, Refusal};
use crate::scope;
use crate::secret::Entropy;
use crate::store::{Change, UserinfoWrite};

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
const USERINFO_TOKEN_LIFETIME_SECS: u64 = 86_400;

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
}

/// Runs the tenant's rules for `grant`, with a fresh seed for them.
pub(crate) fn run_rules(
    ctx: &TokenContext<'_>,
    request: &TokenRequest,
    grant: &Grant<'_>,
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
        params: &request.params,
        request: &request.info,
        refresh_token: grant.refresh_token.clone(),
        now: ctx.now,
        seed: u64::from_le_bytes(seed),
    });
    let api_scopes = grant.api.map_or(&[][..], |api| api.scopes.as_slice());
    rules::apply(ctx.rules, ctx.tenant, &input, &grant.scope, api_scopes)
}

/// Signs the access token and, when `openid` is granted, the ID token.
pub(crate) fn mint(
    ctx: &TokenContext<'_>,
    grant: &Grant<'_>,
    applied: &Applied,
    refresh_token: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let lifetime_secs = grant.api.map_or(USERINFO_TOKEN_LIFETIME_SECS, |api| {
        api.access_token_lifetime_secs
    });
    let access_token = mint::access_token(
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
    // The ID token follows the granted scope: a rule's change to the access-token scope
    // changes the access token only.
    let id_token = if scope::contains(&grant.scope, "openid") {
        let mut user = grant.user.clone();
        applied.metadata.apply(&mut user);
        Some(mint::id_token(
            ctx.keys,
            &IdToken {
                tenant: ctx.tenant,
                client: grant.client,
                user: &user,
                scope: &grant.scope,
                auth_time: grant.auth_time,
                custom: &applied.id_claims,
                now: ctx.now,
            },
        )?)
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
