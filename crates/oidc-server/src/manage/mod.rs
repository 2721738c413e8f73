//! The management API, Auth0's v2 under `{issuer}api/v2/`: a tenant manages itself with
//! access tokens it issues to its own management clients. Every call authenticates the token,
//! requires Auth0's scope for the action, runs the domain (`oidc_core::manage`) on a worker of
//! the tenant's fair share, and after a change reloads the tenant's runtime and waits for the
//! change to be durable before it answers, so the next request already sees it.

mod apis;
mod clients;
mod error;
mod keys;
mod logs;
mod refresh_tokens;
mod rules;
mod rules_configs;
mod rules_try;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::routing::get;
use oidc_core::manage::access::{self, Caller};
use oidc_core::{Secret, UnixMillis};
use serde::Deserialize;
use serde_json::{Value, json};

pub(crate) use error::MgmtError;
pub(crate) use rules::body_limit;

use crate::state::{AppState, Lane, TenantRuntime};
use crate::tenancy::TenantCtx;

/// Where the management API lives, relative to a tenant's base URL.
pub(crate) const PREFIX: &str = "api/v2";

/// The management API's routes, to be mounted under a tenant's base.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            &format!("/{PREFIX}/rules"),
            get(rules::list).post(rules::create),
        )
        .route(
            &format!("/{PREFIX}/rules/try"),
            axum::routing::post(rules_try::chain),
        )
        .route(
            &format!("/{PREFIX}/rules/{{id}}/try"),
            axum::routing::post(rules_try::one),
        )
        .route(
            &format!("/{PREFIX}/rules/{{id}}"),
            get(rules::get).patch(rules::update).delete(rules::delete),
        )
        .route(
            &format!("/{PREFIX}/rules-configs"),
            get(rules_configs::list),
        )
        .route(
            &format!("/{PREFIX}/rules-configs/{{key}}"),
            axum::routing::put(rules_configs::set).delete(rules_configs::unset),
        )
        .route(
            &format!("/{PREFIX}/users"),
            get(users::list).post(users::create),
        )
        .route(
            &format!("/{PREFIX}/users/{{id}}"),
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route(&format!("/{PREFIX}/users-by-email"), get(users::by_email))
        .route(
            &format!("/{PREFIX}/users/{{id}}/refresh-tokens"),
            get(refresh_tokens::of_user).delete(refresh_tokens::revoke_of_user),
        )
        .route(
            &format!("/{PREFIX}/refresh-tokens/{{id}}"),
            get(refresh_tokens::get).delete(refresh_tokens::revoke),
        )
        .route(
            &format!("/{PREFIX}/device-credentials"),
            get(refresh_tokens::device_credentials),
        )
        .route(
            &format!("/{PREFIX}/device-credentials/{{id}}"),
            axum::routing::delete(refresh_tokens::delete_device_credential),
        )
        .route(
            &format!("/{PREFIX}/clients"),
            get(clients::list).post(clients::create),
        )
        .route(
            &format!("/{PREFIX}/clients/{{id}}"),
            get(clients::get)
                .patch(clients::update)
                .delete(clients::delete),
        )
        .route(
            &format!("/{PREFIX}/clients/{{id}}/rotate-secret"),
            axum::routing::post(clients::rotate_secret),
        )
        .route(
            &format!("/{PREFIX}/resource-servers"),
            get(apis::list).post(apis::create),
        )
        .route(
            &format!("/{PREFIX}/resource-servers/{{id}}"),
            get(apis::get).patch(apis::update).delete(apis::delete),
        )
        .route(&format!("/{PREFIX}/logs"), get(logs::list))
        .route(&format!("/{PREFIX}/logs/{{id}}"), get(logs::get))
        .route(&format!("/{PREFIX}/keys/signing"), get(keys::list))
        .route(
            &format!("/{PREFIX}/keys/signing/rotate"),
            axum::routing::post(keys::rotate),
        )
        .route(
            &format!("/{PREFIX}/keys/signing/{{kid}}/revoke"),
            axum::routing::put(keys::revoke),
        )
        .route(
            &format!("/{PREFIX}/{{*rest}}"),
            axum::routing::any(no_such_route),
        )
}

/// Any other path under the API: a JSON 404, like every other answer here.
async fn no_such_route() -> MgmtError {
    MgmtError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        "No such management endpoint.",
    )
}

/// The `{id}` of a resource path. (The path may also name the tenant, so a bare
/// `Path<String>` would not do.)
#[derive(Debug, Deserialize)]
pub(crate) struct Id {
    pub(crate) id: String,
}

/// The `{key}` of a rules-config path.
#[derive(Debug, Deserialize)]
pub(crate) struct Key {
    pub(crate) key: String,
}

/// The tenant a management request addresses, and its bearer token (not yet checked).
#[derive(Debug)]
pub(crate) struct Target {
    tenant: Arc<TenantRuntime>,
    bearer: Option<Secret>,
}

impl FromRequestParts<AppState> for Target {
    type Rejection = MgmtError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let TenantCtx(tenant) =
            TenantCtx::from_request_parts(parts, state)
                .await
                .map_err(|_| {
                    MgmtError::new(
                        axum::http::StatusCode::NOT_FOUND,
                        "inexistent_tenant",
                        "Unknown tenant.",
                    )
                })?;
        Ok(Target {
            tenant,
            bearer: crate::bearer::token(&parts.headers).map(Secret::new),
        })
    }
}

/// What a management call runs with, on its worker thread.
pub(crate) struct Call<'a> {
    pub(crate) state: &'a AppState,
    pub(crate) tenant: &'a TenantRuntime,
    pub(crate) caller: Caller,
    pub(crate) now: UnixMillis,
}

impl Call<'_> {
    pub(crate) fn store(&self) -> &dyn oidc_core::Store {
        self.state.store().as_ref()
    }

    pub(crate) fn id(&self) -> &str {
        &self.tenant.tenant.id
    }
}

/// Runs a read: authenticate, require `scope`, then `work`.
pub(crate) async fn read<T: Send + 'static>(
    state: &AppState,
    target: Target,
    scope: &'static str,
    work: impl FnOnce(&Call<'_>) -> Result<T, MgmtError> + Send + 'static,
) -> Result<T, MgmtError> {
    call(state, target, scope, Lane::Normal, Effect::Read, work).await
}

/// Runs a change like [`read`], then waits until the change is durable.
pub(crate) async fn write<T: Send + 'static>(
    state: &AppState,
    target: Target,
    scope: &'static str,
    work: impl FnOnce(&Call<'_>) -> Result<T, MgmtError> + Send + 'static,
) -> Result<T, MgmtError> {
    write_on(state, target, scope, Lane::Normal, work).await
}

/// A change that hashes a password: on the slow lane, where Argon2 runs.
pub(crate) async fn write_on<T: Send + 'static>(
    state: &AppState,
    target: Target,
    scope: &'static str,
    lane: Lane,
    work: impl FnOnce(&Call<'_>) -> Result<T, MgmtError> + Send + 'static,
) -> Result<T, MgmtError> {
    let result = call(state, target, scope, lane, Effect::Write, work).await?;
    state.commit().await?;
    Ok(result)
}

/// A change to what the tenant's runtime holds (its rules and their configuration): the
/// runtime is reloaded before the answer, so the next request runs the new chain.
pub(crate) async fn write_runtime<T: Send + 'static>(
    state: &AppState,
    target: Target,
    scope: &'static str,
    work: impl FnOnce(&Call<'_>) -> Result<T, MgmtError> + Send + 'static,
) -> Result<T, MgmtError> {
    let result = call(state, target, scope, Lane::Normal, Effect::Runtime, work).await?;
    state.commit().await?;
    Ok(result)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Read,
    Write,
    Runtime,
}

async fn call<T: Send + 'static>(
    state: &AppState,
    target: Target,
    scope: &'static str,
    lane: Lane,
    effect: Effect,
    work: impl FnOnce(&Call<'_>) -> Result<T, MgmtError> + Send + 'static,
) -> Result<T, MgmtError> {
    let now = state.now();
    let worker = state.clone();
    let id = target.tenant.tenant.id.clone();
    state
        .run_blocking(&id, lane, move || {
            let state = &worker;
            let tenant = &target.tenant;
            let caller = access::authenticate(
                state.store().as_ref(),
                &tenant.keys,
                &tenant.tenant,
                target.bearer.as_ref().map(Secret::expose),
                now,
            )?;
            caller.require(scope)?;
            let call = Call {
                state,
                tenant,
                caller,
                now,
            };
            let result = work(&call);
            if effect != Effect::Read {
                tracing::info!(
                    tenant = %tenant.tenant.id,
                    client = %call.caller.client_id,
                    action = scope,
                    ok = result.is_ok(),
                    "management change"
                );
            }
            if effect == Effect::Runtime {
                // Even a refused change may race a successful one: the reload is cheap.
                state
                    .reload_tenant(&tenant.tenant.id)
                    .map_err(MgmtError::internal)?;
            }
            result
        })
        .await?
}

/// Auth0's pagination: `page` (from 0), `per_page` (default 50, at most 100), and
/// `include_totals`, which wraps the page with `start`, `limit`, `length` and `total`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Paging {
    page: Option<usize>,
    per_page: Option<usize>,
    include_totals: Option<bool>,
}

pub(crate) const MAX_PER_PAGE: usize = 100;

impl Paging {
    /// `(offset, limit)` of the page asked for.
    pub(crate) fn window(&self) -> Result<(usize, usize), MgmtError> {
        let per_page = self.per_page.unwrap_or(50);
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(MgmtError::bad_request(
                "invalid_query_string",
                format!("per_page must be between 1 and {MAX_PER_PAGE}."),
            ));
        }
        Ok((self.page.unwrap_or(0).saturating_mul(per_page), per_page))
    }

    /// One page of `items` (all of them), under `key` when totals are asked for.
    pub(crate) fn page<T: serde::Serialize>(
        &self,
        key: &str,
        items: Vec<T>,
    ) -> Result<Value, MgmtError> {
        let (offset, limit) = self.window()?;
        let total = items.len();
        let page: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
        let page = serde_json::to_value(page).map_err(MgmtError::internal)?;
        self.page_of(key, page, total)
    }

    /// The answer for a page already cut (`page` a JSON array) out of `total` items.
    pub(crate) fn page_of(&self, key: &str, page: Value, total: usize) -> Result<Value, MgmtError> {
        let (offset, limit) = self.window()?;
        let length = page.as_array().map_or(0, Vec::len);
        Ok(if self.include_totals.unwrap_or(false) {
            json!({ "start": offset, "limit": limit, "length": length, "total": total, key: page })
        } else {
            page
        })
    }
}

/// A query string this API understands, or 400 `invalid_query_string` saying what is wrong.
pub(crate) fn query<T>(
    query: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, MgmtError> {
    query
        .map(|Query(value)| value)
        .map_err(|e| MgmtError::bad_request("invalid_query_string", e.body_text()))
}

/// Milliseconds since the epoch as ISO 8601, as Auth0 writes dates.
pub(crate) fn iso_date(millis: UnixMillis) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis);
    humantime::format_rfc3339_millis(time).to_string()
}
