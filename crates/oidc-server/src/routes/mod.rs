//! The router: every endpoint group in its own module, mounted at `/t/{tenant}/…` and at the
//! root (for tenants addressed by host name).

mod device;
mod discovery;
pub(crate) mod form;
mod health;

pub use form::parse_token_request;
mod revoke;
mod token;
mod userinfo;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use oidc_core::{OAuthError, TokenContext};

use crate::rule_chain::TenantRules;
use crate::state::{Lane, TenantRuntime};

use crate::paths::{DEVICE_CODE, DISCOVERY, JWKS, REVOKE, TENANT_PREFIX, TOKEN, USERINFO};
use crate::state::AppState;

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    // Endpoints a browser app on another origin calls (CORS by the clients' web_origins).
    let api_routes = Router::new()
        .route(&format!("/{TOKEN}"), post(token::token))
        .route(&format!("/{REVOKE}"), post(revoke::revoke))
        .route(&format!("/{DEVICE_CODE}"), post(device::device_code))
        .route(
            &format!("/{USERINFO}"),
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::cors::cors,
        ));
    let tenant_routes = Router::new()
        .merge(api_routes)
        .route(
            &format!("/{DISCOVERY}"),
            get(discovery::openid_configuration),
        )
        .route(&format!("/{JWKS}"), get(discovery::jwks))
        .merge(crate::browser::routes())
        .merge(
            crate::manage::routes().layer(axum::extract::DefaultBodyLimit::max(
                crate::manage::body_limit(&state),
            )),
        );
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::metrics::expose))
        .merge(crate::operator::routes())
        .nest(TENANT_PREFIX, tenant_routes.clone())
        .merge(tenant_routes)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .layer(axum::middleware::from_fn(crate::request_id::request_id))
        .with_state(state)
}

/// Runs `work` with the tenant's token context on a blocking thread, when the fair scheduler
/// gives the tenant a worker: the domain is synchronous, and rules, Argon2 and the store are
/// CPU- and disk-bound.
pub(crate) async fn with_token_context<T: Send + 'static>(
    state: &AppState,
    tenant: Arc<TenantRuntime>,
    lane: Lane,
    work: impl FnOnce(&TokenContext<'_>) -> T + Send + 'static,
) -> Result<T, OAuthError> {
    with_token_context_then(state, tenant, lane, work, |output, reply| {
        reply.send(output)
    })
    .await
}

/// [`with_token_context`], with `deliver` handing the work's output over from the lane's
/// thread: at once, or once what it wrote is durable.
pub(crate) async fn with_token_context_then<T: Send + 'static, U: Send + 'static>(
    state: &AppState,
    tenant: Arc<TenantRuntime>,
    lane: Lane,
    work: impl FnOnce(&TokenContext<'_>) -> T + Send + 'static,
    deliver: impl FnOnce(T, crate::fair::Reply<U>) + Send + 'static,
) -> Result<U, OAuthError> {
    let now = state.now();
    let worker = state.clone();
    let id = tenant.tenant.id.clone();
    state
        .run_then(
            &id,
            lane,
            move || {
                let state = worker;
                let rules = TenantRules {
                    host: state.host(),
                    store: state.store().as_ref(),
                    tenant: &tenant,
                    limits: state.limits(),
                    report: std::sync::Mutex::default(),
                };
                let recorder = oidc_core::audit::Recorder::default();
                let ctx = TokenContext {
                    store: state.store().as_ref(),
                    rules: &rules,
                    keys: &tenant.keys,
                    refresh_keys: state.refresh_keys(),
                    tenant: &tenant.tenant,
                    userinfo_url: &tenant.paths.userinfo,
                    throttle: state.throttle(),
                    audit: &recorder,
                    now,
                };
                let out = work(&ctx);
                crate::journal::store(
                    &state,
                    &tenant.tenant.id,
                    recorder.take(),
                    rules.take_report(),
                );
                out
            },
            deliver,
        )
        .await
}
