//! The router: every endpoint group in its own module, mounted at `/t/{tenant}/…` and at the
//! root (for tenants addressed by host name).

mod discovery;
mod form;
mod revoke;
mod token;
mod userinfo;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use oidc_core::{OAuthError, TokenContext};

use crate::rule_chain::TenantRules;
use crate::state::TenantRuntime;

use crate::paths::{DISCOVERY, JWKS, REVOKE, TENANT_PREFIX, TOKEN, USERINFO};
use crate::state::AppState;

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let tenant_routes = Router::new()
        .route(&format!("/{TOKEN}"), post(token::token))
        .route(&format!("/{REVOKE}"), post(revoke::revoke))
        .route(
            &format!("/{USERINFO}"),
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route(
            &format!("/{DISCOVERY}"),
            get(discovery::openid_configuration),
        )
        .route(&format!("/{JWKS}"), get(discovery::jwks));
    Router::new()
        .nest(TENANT_PREFIX, tenant_routes.clone())
        .merge(tenant_routes)
        .with_state(state)
}

/// Runs `work` with the tenant's token context on a blocking thread: the domain is
/// synchronous, and rules and the store are CPU- and disk-bound.
async fn with_token_context<T: Send + 'static>(
    state: &AppState,
    tenant: Arc<TenantRuntime>,
    work: impl FnOnce(&TokenContext<'_>) -> T + Send + 'static,
) -> Result<T, OAuthError> {
    let now = state.now();
    let worker = state.clone();
    state
        .run_blocking(move || {
            let state = worker;
            let rules = TenantRules {
                host: state.host(),
                chain: &tenant.chain,
                limits: state.limits(),
            };
            let ctx = TokenContext {
                store: state.store().as_ref(),
                rules: &rules,
                keys: &tenant.keys,
                sealer: state.sealer(),
                tenant: &tenant.tenant,
                userinfo_url: &tenant.paths.userinfo,
                now,
            };
            work(&ctx)
        })
        .await
}
