//! The rule-running port, and the bridge between an issuance and a rule chain: the event the
//! rules see, and what their outcome does to the tokens.

use std::collections::BTreeMap;

use rules_abi::{DenyError, Protocol, RuleInput, RuleOutcome};

use crate::claims::{self, TokenKind};
use crate::error::OAuthError;
use crate::model::{Client, MetadataUpdate, Tenant, UnixMillis, User};
use crate::scope;

/// Runs a tenant's rule chain. The server implements it over `rules-host`.
pub trait RuleRunner: Send + Sync {
    fn run(&self, tenant: &Tenant, input: &RuleInput) -> Result<RuleOutcome, RuleRunError>;
    /// The configuration the chain's rules share (Auth0's `configuration`): it belongs to
    /// the tenant's rule set, which the runner was built from.
    fn configuration(&self) -> &BTreeMap<String, String>;
}

/// A chain that failed (a trap, a limit, bad output): what to tell the client, which names the
/// rule and the limit and nothing internal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRunError {
    pub description: String,
}

/// Who is asking and from where, as far as the rules may know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub hostname: Option<String>,
}

/// Request parameters never shown to rules: they are secrets.
const SECRET_PARAMETERS: [&str; 5] = [
    "password",
    "client_secret",
    "refresh_token",
    "client_assertion",
    "code_verifier",
];

/// Everything the event is built from.
#[derive(Debug)]
pub struct EventParts<'a> {
    pub tenant: &'a Tenant,
    pub configuration: &'a BTreeMap<String, String>,
    pub client: &'a Client,
    pub user: &'a User,
    pub protocol: Protocol,
    pub audience: Option<&'a str>,
    pub scope: &'a [String],
    pub params: &'a BTreeMap<String, String>,
    pub request: &'a RequestInfo,
    pub refresh_token: Option<rules_abi::RefreshTokenInfo>,
    /// The browser login the event belongs to; `None` on the token endpoint.
    pub interactive: Option<&'a Interactive>,
    pub now: UnixMillis,
    pub seed: u64,
}

/// What rules see of a browser login: the SSO session, how the user authenticated, the
/// `/authorize` query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interactive {
    pub session_id: String,
    pub sso: rules_abi::Sso,
    pub methods: Vec<rules_abi::AuthenticationMethod>,
    pub query: BTreeMap<String, String>,
    /// Set on `redirect-callback`: the protocol the login started with.
    pub original_protocol: Option<Protocol>,
}

/// The id rules see as `context.connectionID` for the tenant's database connection.
pub const DATABASE_CONNECTION_ID: &str = "con_database";
/// Its name, as Auth0 names the default database connection.
pub const DATABASE_CONNECTION: &str = "Username-Password-Authentication";

/// RFC 3339 with milliseconds, as Auth0 writes user timestamps.
fn rfc3339(at: UnixMillis) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(at);
    humantime::format_rfc3339_millis(time).to_string()
}

/// Builds the rule input in the Auth0 Rules shape.
pub fn event(parts: EventParts<'_>) -> RuleInput {
    let user = parts.user;
    let mut input = RuleInput {
        now: parts.now,
        seed: parts.seed,
        ..RuleInput::default()
    };
    input.configuration = parts.configuration.clone();
    input.user = rules_abi::User {
        user_id: user.user_id.clone(),
        email: user.email.clone(),
        email_verified: user.email_verified,
        username: user.username.clone(),
        name: user.name.clone(),
        nickname: user.nickname.clone(),
        given_name: user.given_name.clone(),
        family_name: user.family_name.clone(),
        picture: user.picture.clone(),
        logins_count: user.logins_count,
        blocked: user.blocked,
        app_metadata: user.app_metadata.clone(),
        user_metadata: user.user_metadata.clone(),
        created_at: Some(rfc3339(user.created_at)),
        updated_at: Some(rfc3339(user.updated_at)),
        last_login: user.last_login.map(rfc3339),
        last_ip: user.last_ip.clone(),
        identities: vec![rules_abi::Identity {
            connection: DATABASE_CONNECTION.into(),
            provider: "auth0".into(),
            user_id: user
                .user_id
                .strip_prefix("auth0|")
                .unwrap_or(&user.user_id)
                .to_owned(),
            is_social: false,
        }],
        ..rules_abi::User::default()
    };
    let context = &mut input.context;
    context.tenant = parts.tenant.id.clone();
    context.protocol = parts.protocol;
    context.client_id = parts.client.client_id.clone();
    context.client_name = parts.client.name.clone();
    context.client_metadata = parts.client.metadata.clone();
    context.connection = DATABASE_CONNECTION.into();
    context.connection_strategy = "auth0".into();
    context.connection_id = DATABASE_CONNECTION_ID.into();
    context.request.ip = parts.request.ip.clone();
    context.request.user_agent = parts.request.user_agent.clone();
    context.request.hostname = parts.request.hostname.clone();
    for (name, value) in parts.params {
        if !SECRET_PARAMETERS.contains(&name.as_str()) {
            context
                .request
                .body
                .insert(name.clone(), value.clone().into());
        }
    }
    context.stats.logins_count = user.logins_count;
    context.authorization.roles = user.roles.clone();
    context.audience = parts.audience.map(str::to_owned);
    context.scope = parts.scope.to_vec();
    context.refresh_token = parts.refresh_token;
    if let Some(login) = parts.interactive {
        context.session_id = Some(login.session_id.clone());
        context.sso = Some(login.sso.clone());
        context.authentication = Some(rules_abi::Authentication {
            methods: login.methods.clone(),
        });
        context.original_protocol = login.original_protocol.clone();
        for (name, value) in &login.query {
            context
                .request
                .query
                .insert(name.clone(), value.clone().into());
        }
    }
    input
}

/// What a rule's `redirect` may do where the chain runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirects {
    /// The token endpoint: no browser, so a redirect fails the request (Auth0's answer).
    Refused,
    /// A browser login: the redirect is returned in [`Applied::redirect`], tokens wait.
    Allowed,
    /// Back from a redirect (`redirect-callback`): one redirect per login, a second one is
    /// ignored, as Auth0 ignores `context.redirect` there.
    Ignored,
}

/// What a chain's outcome means for an issuance on the token endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub id_claims: rules_abi::Claims,
    pub access_claims: rules_abi::Claims,
    /// The access token's scope: the granted scope as the rules left it. It changes the access
    /// token only; the ID token and the refresh token follow the granted scope.
    pub access_scope: Vec<String>,
    pub metadata: MetadataUpdate,
    pub refresh_expires_at: Option<UnixMillis>,
    pub refresh_idle_expires_at: Option<UnixMillis>,
    /// Where a rule sent the user, when redirects are [`Redirects::Allowed`].
    pub redirect: Option<String>,
}

/// A refusal of the token endpoint caused by rules, and whether it revokes the family.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub error: OAuthError,
    pub revoke_family: Option<String>,
}

/// Runs the chain and turns its outcome into the issuance's claims, scope and metadata, or a
/// refusal. `granted` is the scope before rules; `api_scopes` the scopes the audience's API
/// defines, which a rule may add (Auth0's `accessToken.scope`, Actions' `addScope`).
pub fn apply(
    runner: &dyn RuleRunner,
    tenant: &Tenant,
    input: &RuleInput,
    granted: &[String],
    api_scopes: &[String],
    redirects: Redirects,
) -> Result<Applied, Refusal> {
    let refuse = |error| Refusal {
        error,
        revoke_family: None,
    };
    let outcome = runner
        .run(tenant, input)
        .map_err(|e| refuse(OAuthError::access_denied(e.description)))?;
    // A revocation is acted on only where a refresh token is being exchanged; elsewhere the
    // chain ignored it too and ran every rule after it (see `rules_host::chain`).
    if let Some(revoke) = outcome.revoke_refresh_token
        && input.context.protocol == Protocol::OAuth2RefreshToken
    {
        return Err(Refusal {
            error: OAuthError::access_denied(revoke.reason.clone()),
            revoke_family: Some(revoke.reason),
        });
    }
    if let Some(deny) = outcome.deny {
        return Err(refuse(match deny.error {
            DenyError::Unauthorized => OAuthError::unauthorized(deny.description),
            DenyError::AccessDenied => OAuthError::access_denied(deny.description),
        }));
    }
    let redirect = match (outcome.redirect, redirects) {
        (Some(_), Redirects::Refused) => {
            return Err(refuse(OAuthError::invalid_request(
                "Redirection is not available on /oauth/token endpoint.",
            )));
        }
        (Some(redirect), Redirects::Allowed) => Some(redirect.url),
        _ => None,
    };
    let access_scope = match outcome.access_token_scope {
        Some(wanted) => rule_scope(&wanted, granted, api_scopes),
        None => granted.to_vec(),
    };
    let too_big = |bytes: usize| {
        refuse(OAuthError::access_denied(format!(
            "Custom claims of {bytes} bytes exceed the {} byte limit per token.",
            claims::MAX_CUSTOM_CLAIM_BYTES
        )))
    };
    let id_claims = claims::filter(&outcome.id_token, TokenKind::Id, granted).map_err(too_big)?;
    let access_claims =
        claims::filter(&outcome.access_token, TokenKind::Access, &access_scope).map_err(too_big)?;
    Ok(Applied {
        id_claims,
        access_claims,
        access_scope,
        metadata: MetadataUpdate {
            app_metadata: outcome.app_metadata,
            user_metadata: outcome.user_metadata,
            login: None,
        },
        refresh_expires_at: outcome.refresh_token_expires_at,
        refresh_idle_expires_at: outcome.refresh_token_idle_expires_at,
        redirect,
    })
}

/// The access-token scope a rule asked for, kept to what it may have: any granted scope, and
/// any scope the audience's API defines. An OpenID scope that was not granted, or a scope of
/// no API, is dropped: a rule can never widen a token beyond its audience.
fn rule_scope(wanted: &[String], granted: &[String], api_scopes: &[String]) -> Vec<String> {
    let mut scope = Vec::new();
    for name in wanted {
        let allowed = scope::contains(granted, name) || scope::contains(api_scopes, name);
        if allowed && !scope::contains(&scope, name) {
            scope.push(name.clone());
        }
    }
    scope
}
