//! `/api/v2/resource-servers`: the tenant's APIs. A resource server's id is its identifier
//! (percent-encoded in the path).

use super::Problem;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use oidc_core::manage::apis::{self, ApiFields};
use oidc_core::{Api, SigningAlg};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Id, MgmtError, Paging, Target, query};
use crate::state::AppState;

/// An API as Auth0 shows a resource server.
pub(crate) fn view(api: &Api, signing_alg: SigningAlg) -> Value {
    json!({
        "id": api.identifier,
        "identifier": api.identifier,
        "name": api.name,
        "scopes": api.scopes.iter().map(|scope| json!({"value": scope})).collect::<Vec<_>>(),
        "allow_offline_access": api.allow_offline_access,
        "token_lifetime": api.access_token_lifetime_secs,
        "signing_alg": signing_alg.as_str(),
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScopeBody {
    value: String,
    #[serde(default)]
    #[allow(dead_code, reason = "accepted as Auth0 sends it; not stored")]
    description: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApiBody {
    identifier: Option<String>,
    name: Option<String>,
    scopes: Option<Vec<ScopeBody>>,
    allow_offline_access: Option<bool>,
    token_lifetime: Option<u64>,
    /// The tenant's signing algorithm (one per tenant).
    #[schema(value_type = Option<String>)]
    signing_alg: Option<SigningAlg>,
}

fn fields(
    body: Result<Json<ApiBody>, JsonRejection>,
    tenant_alg: SigningAlg,
) -> Result<ApiFields, MgmtError> {
    let Json(body) = body.map_err(|e| MgmtError::bad_request("invalid_body", e.body_text()))?;
    if let Some(alg) = body.signing_alg
        && alg != tenant_alg
    {
        return Err(MgmtError::bad_request(
            "invalid_body",
            format!(
                "This tenant signs every token with {}; change the tenant's algorithm instead.",
                tenant_alg.as_str()
            ),
        ));
    }
    Ok(ApiFields {
        identifier: body.identifier,
        name: body.name,
        scopes: body
            .scopes
            .map(|scopes| scopes.into_iter().map(|scope| scope.value).collect()),
        allow_offline_access: body.allow_offline_access,
        token_lifetime: body.token_lifetime,
    })
}

#[utoipa::path(
    operation_id = "list_resource_servers",
    get,
    path = "/resource-servers",
    tag = "resource-servers",
    params(Paging),
    security(("bearer" = ["read:resource_servers"])),
    responses((status = 200, description = "The resource servers, paginated.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    target: Target,
    params: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<Value>, MgmtError> {
    let paging = query(params)?;
    super::read(&state, target, "read:resource_servers", move |call| {
        let alg = call.tenant.tenant.signing_alg;
        let all =
            apis::list(call.store(), call.id()).map_err(MgmtError::managing("resource_server"))?;
        paging.page(
            "resource_servers",
            all.iter().map(|api| view(api, alg)).collect(),
        )
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "get_resource_server",
    get,
    path = "/resource-servers/{id}",
    tag = "resource-servers",
    params(("id" = String, Path, description = "The resource server id.")),
    security(("bearer" = ["read:resource_servers"])),
    responses((status = 200, description = "The resource server.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
) -> Result<Json<Value>, MgmtError> {
    super::read(&state, target, "read:resource_servers", move |call| {
        apis::get(call.store(), call.id(), &id)
            .map(|api| view(&api, call.tenant.tenant.signing_alg))
            .map_err(MgmtError::managing("resource_server"))
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "create_resource_server",
    post,
    path = "/resource-servers",
    tag = "resource-servers",
    request_body = ApiBody,
    security(("bearer" = ["create:resource_servers"])),
    responses((status = 201, description = "The created resource server.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    target: Target,
    body: Result<Json<ApiBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), MgmtError> {
    let fields = fields(body, target.tenant.tenant.signing_alg)?;
    let out = super::write_runtime(&state, target, "create:resource_servers", move |call| {
        apis::create(call.store(), &call.tenant.tenant, fields)
            .map(|api| view(&api, call.tenant.tenant.signing_alg))
            .map_err(MgmtError::managing("resource_server"))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(
    operation_id = "update_resource_server",
    patch,
    path = "/resource-servers/{id}",
    tag = "resource-servers",
    params(("id" = String, Path, description = "The resource server id.")),
    request_body = ApiBody,
    security(("bearer" = ["update:resource_servers"])),
    responses((status = 200, description = "The updated resource server.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
    body: Result<Json<ApiBody>, JsonRejection>,
) -> Result<Json<Value>, MgmtError> {
    let fields = fields(body, target.tenant.tenant.signing_alg)?;
    super::write_runtime(&state, target, "update:resource_servers", move |call| {
        apis::update(call.store(), &call.tenant.tenant, &id, fields)
            .map(|api| view(&api, call.tenant.tenant.signing_alg))
            .map_err(MgmtError::managing("resource_server"))
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "delete_resource_server",
    delete,
    path = "/resource-servers/{id}",
    tag = "resource-servers",
    params(("id" = String, Path, description = "The resource server id.")),
    security(("bearer" = ["delete:resource_servers"])),
    responses((status = 204, description = "Deleted."), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
) -> Result<StatusCode, MgmtError> {
    super::write_runtime(&state, target, "delete:resource_servers", move |call| {
        apis::delete(call.store(), &call.tenant.tenant, &id)
            .map_err(MgmtError::managing("resource_server"))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
