//! The [`Api`] a rule changes the tokens through, named after Auth0 Actions' `api` object.

use rules_abi::{Deny, DenyError, Protocol, Redirect, RevokeRefreshToken, RuleOutcome};
use serde_json::Value;

use crate::{Event, Lazy};

/// Collects what a rule wants changed. Nothing takes effect until every rule has run; a
/// deny from any rule refuses the whole issuance.
#[derive(Debug, Clone)]
pub struct Api {
    outcome: RuleOutcome,
    /// The event's scope, decoded only if the rule reads or changes the scope, and then once
    /// for the rule and the `Api` alike.
    granted_scope: &'static Lazy<Vec<String>>,
    protocol: &'static Lazy<Protocol>,
}

impl Api {
    /// An `Api` for `event`, changing nothing yet. The event lives as long as the call's
    /// instance (nothing is freed in an instance thrown away after one call).
    pub fn new(event: &'static Event) -> Api {
        Api {
            outcome: RuleOutcome::default(),
            granted_scope: &event.context.scope,
            protocol: &event.context.protocol,
        }
    }

    /// The ID token's custom claims.
    pub fn id_token(&mut self) -> IdTokenApi<'_> {
        IdTokenApi { api: self }
    }

    /// The access token's custom claims and scope.
    pub fn access_token(&mut self) -> AccessTokenApi<'_> {
        AccessTokenApi { api: self }
    }

    /// Refusing the issuance.
    pub fn access(&mut self) -> AccessApi<'_> {
        AccessApi { api: self }
    }

    /// Sending the user to a page before tokens are issued.
    pub fn redirect(&mut self) -> RedirectApi<'_> {
        RedirectApi { api: self }
    }

    /// The user's metadata.
    pub fn user(&mut self) -> UserApi<'_> {
        UserApi { api: self }
    }

    /// The refresh token being exchanged.
    pub fn refresh_token(&mut self) -> RefreshTokenApi<'_> {
        RefreshTokenApi { api: self }
    }

    /// Everything asked for so far, as the host will receive it.
    pub fn into_outcome(self) -> RuleOutcome {
        self.outcome
    }
}

/// See [`Api::id_token`].
#[derive(Debug)]
pub struct IdTokenApi<'a> {
    api: &'a mut Api,
}

impl IdTokenApi<'_> {
    /// Sets a claim on the ID token. Use a namespaced name (`https://example.com/roles`):
    /// restricted names (`sub`, `iss`, `aud`, …) and Auth0 namespaces are dropped by the host.
    pub fn set_custom_claim(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.api.outcome.id_token.insert(name.into(), value.into());
    }
}

/// See [`Api::access_token`].
#[derive(Debug)]
pub struct AccessTokenApi<'a> {
    api: &'a mut Api,
}

impl AccessTokenApi<'_> {
    /// Sets a claim on the access token; the same naming rules as for the ID token apply.
    pub fn set_custom_claim(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.api
            .outcome
            .access_token
            .insert(name.into(), value.into());
    }

    /// The scope as it stands, with this rule's changes.
    pub fn scope(&self) -> &[String] {
        match &self.api.outcome.access_token_scope {
            Some(changed) => changed,
            None => self.api.granted_scope,
        }
    }

    /// Adds a scope if it is not there yet. The host keeps it if the token's API defines it
    /// (or it was granted) and drops anything else: a rule cannot widen a token beyond its
    /// audience. The scope changes the access token only, never the ID or refresh token.
    pub fn add_scope(&mut self, scope: impl Into<String>) {
        let scope = scope.into();
        let current = self.changed();
        if !current.contains(&scope) {
            current.push(scope);
        }
    }

    /// Removes a scope if present.
    pub fn remove_scope(&mut self, scope: &str) {
        self.changed().retain(|s| s != scope);
    }

    /// Replaces the scope.
    pub fn set_scope<S: Into<String>>(&mut self, scopes: impl IntoIterator<Item = S>) {
        *self.changed() = scopes.into_iter().map(Into::into).collect();
    }

    /// The scope this rule is changing, started from the event's on the first change.
    fn changed(&mut self) -> &mut Vec<String> {
        let granted = self.api.granted_scope;
        self.api
            .outcome
            .access_token_scope
            .get_or_insert_with(|| Lazy::force(granted).clone())
    }
}

/// See [`Api::access`].
#[derive(Debug)]
pub struct AccessApi<'a> {
    api: &'a mut Api,
}

impl AccessApi<'_> {
    /// Refuses the issuance with `access_denied` (HTTP 403 on the token endpoint) and
    /// `description` as the `error_description`.
    pub fn deny(&mut self, description: impl Into<String>) {
        self.refuse(DenyError::AccessDenied, description.into());
    }

    /// Refuses the issuance with `unauthorized` (HTTP 401), Auth0's `UnauthorizedError`.
    pub fn unauthorized(&mut self, description: impl Into<String>) {
        self.refuse(DenyError::Unauthorized, description.into());
    }

    fn refuse(&mut self, error: DenyError, description: String) {
        self.api.outcome.deny = Some(Deny { error, description });
    }
}

/// See [`Api::redirect`].
#[derive(Debug)]
pub struct RedirectApi<'a> {
    api: &'a mut Api,
}

impl RedirectApi<'_> {
    /// Whether a user is present to be redirected. Where none is (refresh-token exchange,
    /// password grant), the host refuses a redirect with `invalid_request`.
    pub fn can_redirect(&self) -> bool {
        self.api.protocol.is_interactive()
    }

    /// Sends the user to `url` once all rules have run.
    pub fn send_user_to(&mut self, url: impl Into<String>) {
        self.api.outcome.redirect = Some(Redirect { url: url.into() });
    }
}

/// See [`Api::user`].
#[derive(Debug)]
pub struct UserApi<'a> {
    api: &'a mut Api,
}

impl UserApi<'_> {
    /// Sets a key of the user's `app_metadata`; saved only if tokens are issued.
    pub fn set_app_metadata(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.api
            .outcome
            .app_metadata
            .insert(key.into(), value.into());
    }

    /// Sets a key of the user's `user_metadata`; saved only if tokens are issued.
    pub fn set_user_metadata(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.api
            .outcome
            .user_metadata
            .insert(key.into(), value.into());
    }
}

/// See [`Api::refresh_token`].
#[derive(Debug)]
pub struct RefreshTokenApi<'a> {
    api: &'a mut Api,
}

impl RefreshTokenApi<'_> {
    /// Revokes the refresh token being exchanged (and its family); the exchange fails with
    /// `access_denied` and `reason`. Only meaningful on `oauth2-refresh-token`.
    pub fn revoke(&mut self, reason: impl Into<String>) {
        self.api.outcome.revoke_refresh_token = Some(RevokeRefreshToken {
            reason: reason.into(),
        });
    }

    /// Shortens the absolute lifetime to `at` (milliseconds since the Unix epoch). A later
    /// time than the current one has no effect: lifetimes only shrink.
    pub fn set_expires_at(&mut self, at: u64) {
        let current = self.api.outcome.refresh_token_expires_at.get_or_insert(at);
        *current = (*current).min(at);
    }

    /// Shortens the idle lifetime to `at` (milliseconds since the Unix epoch).
    pub fn set_idle_expires_at(&mut self, at: u64) {
        let current = self
            .api
            .outcome
            .refresh_token_idle_expires_at
            .get_or_insert(at);
        *current = (*current).min(at);
    }
}
