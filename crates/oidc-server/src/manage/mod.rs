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

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::{Json, Router};
use oidc_core::UnixMillis;
use oidc_core::manage::access::{self, Caller};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) use error::{MgmtError, Problem};
pub(crate) use rules::body_limit;

use crate::state::{AppState, Lane, TenantRuntime};
use crate::tenancy::TenantCtx;

/// Where the management API lives, relative to a tenant's base URL.
pub(crate) const PREFIX: &str = "api/v2";

/// The management API's routes, to be mounted under a tenant's base, and the OpenAPI
/// document that describes them. Both come from the same `routes!` lists, so a route cannot
/// be served without being documented, nor documented without being served.
pub(crate) fn routes() -> Router<AppState> {
    let (api, _) = api().split_for_parts();
    let unknown = axum::routing::any(no_such_route);
    Router::new().nest(
        &format!("/{PREFIX}"),
        api.route("/", unknown.clone()).route("/{*rest}", unknown),
    )
}

/// The API as routes with their documentation.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ManagementApi::openapi())
        .routes(routes!(openapi_json))
        .routes(routes!(rules::list, rules::create))
        .routes(routes!(rules_try::chain))
        .routes(routes!(rules_try::one))
        .routes(routes!(rules::get, rules::update, rules::delete))
        .routes(routes!(rules_configs::list))
        .routes(routes!(rules_configs::set, rules_configs::unset))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(users::by_email))
        .routes(routes!(
            refresh_tokens::of_user,
            refresh_tokens::revoke_of_user
        ))
        .routes(routes!(refresh_tokens::get, refresh_tokens::revoke))
        .routes(routes!(refresh_tokens::device_credentials))
        .routes(routes!(refresh_tokens::delete_device_credential))
        .routes(routes!(clients::list, clients::create))
        .routes(routes!(clients::get, clients::update, clients::delete))
        .routes(routes!(clients::rotate_secret))
        .routes(routes!(apis::list, apis::create))
        .routes(routes!(apis::get, apis::update, apis::delete))
        .routes(routes!(logs::list))
        .routes(routes!(logs::get))
        .routes(routes!(keys::list))
        .routes(routes!(keys::rotate))
        .routes(routes!(keys::revoke))
}

/// The document's fixed parts: title, version, the bearer scheme, tags.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Claimsmith Management API",
        version = "2",
        description = "A tenant manages its rules, users, clients, APIs, refresh tokens, signing keys and logs, with access tokens it issues to itself through client credentials for the audience `{issuer}api/v2/`. Each operation names the scope it needs. Errors carry Auth0's body."
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "rules", description = "WebAssembly rules run at every issuance."),
        (name = "rules-configs", description = "Values the rules read; write-only."),
        (name = "users"),
        (name = "refresh-tokens"),
        (name = "clients"),
        (name = "resource-servers"),
        (name = "signing-keys"),
        (name = "logs", description = "What the tenant's tokens and rules did."),
        (name = "meta")
    )
)]
struct ManagementApi;

/// Adds the `bearer` security scheme every operation names.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
    }
}

/// This document, with the tenant's own API as its server. Public: it describes the API, and
/// holds nothing of the tenant's but its issuer.
#[utoipa::path(
    operation_id = "get_openapi",
    get,
    path = "/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", body = Object))
)]
async fn openapi_json(tenant: Public) -> Json<utoipa::openapi::OpenApi> {
    static DOC: std::sync::LazyLock<utoipa::openapi::OpenApi> =
        std::sync::LazyLock::new(|| api().into_openapi());
    let mut doc = DOC.clone();
    doc.servers = Some(vec![utoipa::openapi::Server::new(format!(
        "{}{PREFIX}",
        tenant.tenant.tenant.issuer
    ))]);
    Json(doc)
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

/// The tenant a management request addresses, and its bearer token, verified (signature,
/// issuer, audience, lifetime) before any other extractor runs: a caller without a valid
/// token gets 401 before its body is read. That its client still holds the grant, and the
/// scope, are checked by the call.
#[derive(Debug)]
pub(crate) struct Target {
    tenant: Arc<TenantRuntime>,
    token: access::Presented,
}

impl FromRequestParts<AppState> for Target {
    type Rejection = MgmtError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let tenant = Public::from_request_parts(parts, state).await?.tenant;
        let bearer = crate::bearer::token(&parts.headers);
        let token = access::verify(&tenant.keys, &tenant.tenant, bearer.as_deref(), state.now())?;
        Ok(Target { tenant, token })
    }
}

/// The tenant of a request that needs no token (the OpenAPI document).
#[derive(Debug)]
pub(crate) struct Public {
    tenant: Arc<TenantRuntime>,
}

impl FromRequestParts<AppState> for Public {
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
        Ok(Public { tenant })
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

/// A change to what each node holds of the tenant (its rules and their configuration, its
/// keys, its clients and APIs, cached for every token request, and the clients' web origins
/// CORS allows): this node reloads the tenant before the answer, so the next request sees
/// the change, and the other nodes are told.
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
            let caller = access::admit(state.store().as_ref(), &tenant.tenant, target.token)?;
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
                // Even a refused change may race a successful one: the reload is cheap. Only
                // a change made here is announced to the other nodes (a refusal writes
                // nothing).
                if result.is_ok() {
                    state.changed_tenant(&tenant.tenant.id)
                } else {
                    state.reload_tenant(&tenant.tenant.id)
                }
                .map_err(MgmtError::internal)?;
            }
            result
        })
        .await?
}

/// Auth0's pagination: `page` (from 0), `per_page` (default 50, at most 100), and
/// `include_totals`, which wraps the page with `start`, `limit`, `length` and `total`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
