//! The resource-owner password grant (also Auth0's `password-realm`).

use rules_abi::Protocol;

use crate::audit::{LogEvent, codes};
use crate::error::OAuthError;
use crate::grants::issue::{self, Grant, Issued};
use crate::grants::{PASSWORD, REFRESH_TOKEN, TokenContext, TokenRequest, authenticate_for};
use crate::model::{Api, Client, ClientType};
use crate::refresh::lifecycle::enforce_cap;
use crate::refresh::token::new_family_id;
use crate::refresh::{MAX_LIVE_PER_USER_AND_CLIENT, RefreshFamily};
use crate::scope;
use crate::secret::{self, Entropy, Secret};
use crate::store::{Change, FamilyWrite};

/// Auth0's `limit_wc`: a login refused by brute-force protection.
pub fn blocked_event(
    blocked: &OAuthError,
    client_id: &str,
    username: &str,
    request: &TokenRequest,
    now: crate::UnixMillis,
) -> LogEvent {
    let mut event = LogEvent::new(codes::BLOCKED_ACCOUNT, blocked.description.clone(), now)
        .client(client_id)
        .from(&request.info);
    event.user_name = Some(username.to_owned());
    event
}

/// An Argon2id hash of a random password, verified when the user does not exist so that the
/// answer takes as long either way.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$wXvBy8NFDyL1h1dWm7C5S+2ZJcrBnDNsMMEnPrM5Qhk";

pub(super) fn grant(
    ctx: &TokenContext<'_>,
    request: &TokenRequest,
    entropy: &mut dyn Entropy,
) -> Result<Issued, OAuthError> {
    let login = verify(ctx, request)?;
    issue(ctx, request, login, entropy)
}

/// A password login whose password checked out: what the issuance needs, owned, so that a
/// server can verify on one thread (Argon2, at low priority) and issue on another (rules,
/// signing, at normal priority, within their deadlines).
#[derive(Debug, Clone)]
pub struct VerifiedLogin {
    client: Client,
    user: crate::model::User,
    api: Option<Api>,
    scope: Vec<String>,
}

/// The first half of a password grant: the client, the throttle, the user and the password.
pub fn verify(ctx: &TokenContext<'_>, request: &TokenRequest) -> Result<VerifiedLogin, OAuthError> {
    let client = authenticate_for(ctx, &request.credentials, PASSWORD)?;
    let username = request.required("username")?;
    crate::ids::username(username)?;
    let password = Secret::new(request.required("password")?);
    let api = super::client_credentials::requested_api(ctx, request)?;
    if api.as_ref().is_some_and(|api| {
        api.identifier == crate::manage::tenants::management_audience(&ctx.tenant.issuer)
    }) {
        // Its scopes would otherwise be granted to any user by implied trust.
        return Err(OAuthError::access_denied(
            "The management API is for client credentials only.",
        ));
    }
    let requested = requested_scope(request, api.as_ref())?;

    let tenant = &ctx.tenant.id;
    let ip = request.info.ip.as_deref().unwrap_or_default();
    if let Err(blocked) = ctx.throttle.check(tenant, username, ip, ctx.now) {
        ctx.audit.record(blocked_event(
            &blocked,
            &client.client_id,
            username,
            request,
            ctx.now,
        ));
        return Err(blocked);
    }
    let user = ctx.store.user_by_login(tenant, username)?;
    let hash = user
        .as_ref()
        .and_then(|u| u.password_hash.as_deref())
        .unwrap_or(DUMMY_HASH);
    let verified = secret::verify_password(&password, hash);
    let Some(user) = user.filter(|_| verified) else {
        ctx.throttle.failed(tenant, username, ip, ctx.now);
        return Err(OAuthError::invalid_grant("Wrong email or password."));
    };
    ctx.throttle.succeeded(tenant, username, ip);
    if user.blocked {
        return Err(OAuthError::unauthorized("user is blocked"));
    }
    let offline = offline_allowed(&client, api.as_ref());
    let scope: Vec<String> = requested
        .into_iter()
        .filter(|s| s != "offline_access" || offline)
        .collect();
    Ok(VerifiedLogin {
        client,
        user,
        api,
        scope,
    })
}

/// The second half: the rules, the tokens, and the one write.
pub fn issue(
    ctx: &TokenContext<'_>,
    request: &TokenRequest,
    login: VerifiedLogin,
    entropy: &mut dyn Entropy,
) -> Result<Issued, OAuthError> {
    let VerifiedLogin {
        client,
        user,
        api,
        scope,
    } = login;
    let tenant = &ctx.tenant.id;
    let grant = Grant {
        client: &client,
        user: &user,
        api: api.as_ref(),
        scope,
        protocol: Protocol::OAuth2Password,
        grant_type: PASSWORD,
        auth_time: ctx.now,
        refresh_token: None,
    };
    let applied =
        issue::run_rules(ctx, request, &grant, entropy).map_err(|refusal| refusal.error)?;

    let refresh = if scope::contains(&grant.scope, "offline_access") {
        // Auth0 keeps 200 live refresh tokens per user and client: make room first, so a
        // failure here creates nothing.
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
            .from(&request.info);
            event.details = serde_json::json!({ "revoked": evicted });
            ctx.audit.record(event);
        }
        let family_id = new_family_id(entropy);
        let token = ctx
            .refresh_keys
            .mint(tenant, &family_id, 0, entropy)
            .ok_or_else(OAuthError::server_error)?;
        let mut family = RefreshFamily::new(
            family_id,
            token.hash(),
            &client.client_id,
            &user.user_id,
            api.as_ref().map(|api| api.identifier.clone()),
            grant.scope.clone(),
            &client.refresh_token,
            ctx.now,
        );
        family.shorten(applied.refresh_expires_at, applied.refresh_idle_expires_at);
        family.device = crate::refresh::Device::first(&request.info);
        Some((token, family))
    } else {
        None
    };
    let response = issue::mint(
        ctx,
        &grant,
        &applied,
        refresh.as_ref().map(|(token, _)| token.expose().to_owned()),
    )?;
    let change = Change {
        family: refresh
            .as_ref()
            .map(|(_, family)| FamilyWrite::Create(family)),
        ..issue::change(&grant, &applied)
    };
    if !change.is_empty() && !ctx.store.apply(tenant, &change)? {
        // Only a family id drawn twice from 128 random bits refuses a creation.
        return Err(OAuthError::server_error());
    }
    Ok(Issued {
        response,
        wrote: !change.is_empty(),
        user_id: Some(user.user_id.clone()),
    })
}

/// Refresh tokens need the grant on the client, offline access on the API, and for browser
/// apps rotation.
fn offline_allowed(client: &Client, api: Option<&Api>) -> bool {
    client.allows_grant(REFRESH_TOKEN)
        && api.is_none_or(|api| api.allow_offline_access)
        && (client.client_type != ClientType::Spa || client.refresh_token.rotating)
}

/// The requested scope: OpenID scopes and the API's own; anything else is `invalid_scope`.
/// With no `scope` at all, every scope of the API is granted (Auth0's implied trust for the
/// password grant).
fn requested_scope(request: &TokenRequest, api: Option<&Api>) -> Result<Vec<String>, OAuthError> {
    let Some(raw) = request.param("scope") else {
        return Ok(api.map(|api| api.scopes.clone()).unwrap_or_default());
    };
    let scopes = scope::parse(raw)
        .ok_or_else(|| OAuthError::invalid_scope("The scope parameter is malformed."))?;
    for requested in &scopes {
        let known = scope::OPENID_SCOPES.contains(&requested.as_str())
            || api.is_some_and(|api| scope::contains(&api.scopes, requested));
        if !known {
            return Err(OAuthError::invalid_scope(format!(
                "Scope '{requested}' is not defined for the requested audience."
            )));
        }
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_a_real_argon2_hash_so_unknown_users_cost_the_same() {
        use argon2::password_hash::PasswordHash;
        let parsed = PasswordHash::new(DUMMY_HASH).expect("a valid PHC string");
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert!(!secret::verify_password(
            &Secret::new("anything"),
            DUMMY_HASH
        ));
    }
}
