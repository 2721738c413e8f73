//! The client-credentials grant: a machine token. No user, so no rules and no refresh token.

use crate::error::OAuthError;
use crate::grants::issue::Issued;
use crate::grants::{
    CLIENT_CREDENTIALS, TokenContext, TokenRequest, TokenResponse, authenticate_client,
};
use crate::mint::{self, AccessToken};
use crate::model::{Api, ClientType};
use crate::scope;

pub(super) fn grant(ctx: &TokenContext<'_>, request: &TokenRequest) -> Result<Issued, OAuthError> {
    let client = authenticate_client(ctx, &request.credentials)?;
    if client.client_type != ClientType::Confidential || !client.allows_grant(CLIENT_CREDENTIALS) {
        return Err(OAuthError::unauthorized_client(
            "Grant type 'client_credentials' not allowed for the client.",
        ));
    }
    let api = requested_api(ctx, request)?.ok_or_else(|| {
        OAuthError::access_denied(
            "No audience parameter was provided, and no default audience has been configured",
        )
    })?;
    let allowed = client.api_grants.get(&api.identifier).ok_or_else(|| {
        OAuthError::access_denied(format!(
            "Client is not authorized to access \"{}\". You need to create a client-grant associated to this API.",
            api.identifier
        ))
    })?;
    let scope = match request.param("scope") {
        None => allowed.clone(),
        Some(raw) => {
            let requested = scope::parse(raw)
                .ok_or_else(|| OAuthError::invalid_scope("The scope parameter is malformed."))?;
            if let Some(bad) = requested.iter().find(|s| !scope::contains(allowed, s)) {
                return Err(OAuthError::invalid_scope(format!(
                    "Client has not been granted scope '{bad}'."
                )));
            }
            requested
        }
    };
    let subject = format!("{}@clients", client.client_id);
    let access_token = mint::access_token(
        ctx.keys,
        &AccessToken {
            tenant: ctx.tenant,
            client: &client,
            subject: &subject,
            audience: Some(&api.identifier),
            userinfo_url: ctx.userinfo_url,
            scope: &scope,
            grant_type: "client-credentials",
            lifetime_secs: api.access_token_lifetime_secs,
            custom: &serde_json::Map::new(),
            now: ctx.now,
        },
    )?;
    let response = TokenResponse {
        access_token,
        id_token: None,
        refresh_token: None,
        token_type: "Bearer",
        expires_in: api.access_token_lifetime_secs,
        scope: scope::join(&scope),
    };
    Ok(Issued {
        response,
        wrote: false,
        user_id: None,
    })
}

/// The API named by `audience`, if any; an unknown one is refused as Auth0 does.
pub(super) fn requested_api(
    ctx: &TokenContext<'_>,
    request: &TokenRequest,
) -> Result<Option<Api>, OAuthError> {
    api_named(ctx, request.param("audience"))
}

/// The API `audience` names, if any; `access_denied` for an unknown one.
pub(crate) fn api_named(
    ctx: &TokenContext<'_>,
    audience: Option<&str>,
) -> Result<Option<Api>, OAuthError> {
    let Some(audience) = audience else {
        return Ok(None);
    };
    crate::ids::audience(audience)?;
    let api = ctx.store.api(&ctx.tenant.id, audience)?;
    api.map(Some)
        .ok_or_else(|| OAuthError::access_denied(format!("Service not found: {audience}")))
}
