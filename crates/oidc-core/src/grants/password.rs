//! The resource-owner password grant (also Auth0's `password-realm`).

use rules_abi::Protocol;

use crate::audit::{LogEvent, codes};
use crate::error::OAuthError;
use crate::grants::issue::{self, Grant, Issued};
use crate::grants::{PASSWORD, REFRESH_TOKEN, TokenContext, TokenRequest, authenticate_for};
use crate::model::{Api, Client, ClientType, LoginStamp};
use crate::refresh::token::new_family_id;
use crate::scope;
use crate::secret::{self, Entropy, Secret};

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
    let Some(user) = check_password(ctx, username, &password, ip)? else {
        return Err(OAuthError::invalid_grant("Wrong email or password."));
    };
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
    let grant = Grant::token_endpoint(
        &client,
        &user,
        api.as_ref(),
        scope,
        Protocol::OAuth2Password,
        PASSWORD,
        ctx.now,
    );
    let mut applied =
        issue::run_rules(ctx, request, &grant, entropy).map_err(|refusal| refusal.error)?;
    // A password login counts, as a hosted-page login does (`stats.loginsCount`).
    applied.metadata.login = Some(LoginStamp {
        at: ctx.now,
        ip: request.info.ip.clone(),
    });

    let family_id = scope::contains(&grant.scope, "offline_access").then(|| new_family_id(entropy));
    issue::deliver_with_family(ctx, &grant, &applied, family_id, &request.info, entropy)
}

/// Checks a password against the tenant's user of that login, and tells the throttle. The
/// answer takes as long for an unknown user (a dummy hash is verified). `Ok(None)`: wrong.
pub(crate) fn check_password(
    ctx: &TokenContext<'_>,
    username: &str,
    password: &Secret,
    ip: &str,
) -> Result<Option<crate::model::User>, crate::store::StoreError> {
    let tenant = &ctx.tenant.id;
    let user = ctx.store.user_by_login(tenant, username)?;
    let hash = user
        .as_ref()
        .and_then(|u| u.password_hash.as_deref())
        .unwrap_or(DUMMY_HASH);
    let verified = secret::verify_password(password, hash);
    let Some(user) = user.filter(|_| verified) else {
        ctx.throttle.failed(tenant, username, ip, ctx.now);
        return Ok(None);
    };
    ctx.throttle.succeeded(tenant, username, ip);
    Ok(Some(user))
}

/// Refresh tokens need the grant on the client, offline access on the API, and for browser
/// apps rotation.
pub(crate) fn offline_allowed(client: &Client, api: Option<&Api>) -> bool {
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
    known_scopes(raw, api)
}

/// Parses `raw` and checks every scope is an OpenID scope or one of the API's.
pub(crate) fn known_scopes(raw: &str, api: Option<&Api>) -> Result<Vec<String>, OAuthError> {
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
