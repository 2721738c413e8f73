//! `/api/v2/clients`: applications, their grants, callbacks, metadata and refresh-token
//! policy in Auth0's shape. A secret is in the answer of a create or a rotation, once.

use super::Problem;
use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use oidc_core::manage::clients::{self, ClientFields, RefreshTokenSettings};
use oidc_core::{AuthMethod, Client, Secret, SystemEntropy};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Id, MgmtError, Paging, Target, query};
use crate::state::AppState;

/// A client as the API shows it; `secret` only right after it was made.
pub(crate) fn view(client: &Client, secret: Option<&Secret>) -> Value {
    let mut out = json!({
        "client_id": client.client_id,
        "name": client.name,
        "app_type": clients::app_type(client),
        "token_endpoint_auth_method": client.auth_method,
        "grant_types": client.grant_types,
        "callbacks": client.redirect_uris,
        "allowed_logout_urls": client.allowed_logout_urls,
        "web_origins": client.web_origins,
        "logout_revokes_refresh_tokens": client.logout_revokes_refresh_tokens,
        "client_metadata": client.metadata,
        "refresh_token": RefreshTokenSettings::from_policy(&client.refresh_token),
        "jwt_configuration": { "lifetime_in_seconds": client.id_token_lifetime_secs },
        "api_grants": client.api_grants,
    });
    if let (Some(secret), Some(fields)) = (secret, out.as_object_mut()) {
        fields.insert("client_secret".into(), secret.expose().into());
    }
    out
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JwtConfiguration {
    lifetime_in_seconds: u64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClientBody {
    name: Option<String>,
    app_type: Option<String>,
    /// `none`, `client_secret_post` or `client_secret_basic`.
    #[schema(value_type = Option<String>)]
    token_endpoint_auth_method: Option<AuthMethod>,
    grant_types: Option<Vec<String>>,
    callbacks: Option<Vec<String>>,
    /// Exact URLs logout may return to (`returnTo`, `post_logout_redirect_uri`).
    allowed_logout_urls: Option<Vec<String>>,
    /// Origins allowed to call the token, revoke and userinfo endpoints from a browser.
    web_origins: Option<Vec<String>>,
    /// Whether logging out revokes the refresh tokens issued through the session.
    logout_revokes_refresh_tokens: Option<bool>,
    client_metadata: Option<BTreeMap<String, String>>,
    /// Auth0's shape: `rotation_type`, `expiration_type`, `leeway`, `token_lifetime`,
    /// `idle_token_lifetime`, `infinite_token_lifetime`, `infinite_idle_token_lifetime`.
    #[schema(value_type = Option<Object>)]
    refresh_token: Option<RefreshTokenSettings>,
    /// `lifetime_in_seconds` of the ID token.
    #[schema(value_type = Option<Object>)]
    jwt_configuration: Option<JwtConfiguration>,
    api_grants: Option<BTreeMap<String, Vec<String>>>,
}

impl ClientBody {
    fn fields(body: Result<Json<ClientBody>, JsonRejection>) -> Result<ClientFields, MgmtError> {
        let Json(body) = body.map_err(|e| MgmtError::bad_request("invalid_body", e.body_text()))?;
        Ok(ClientFields {
            name: body.name,
            app_type: body.app_type,
            token_endpoint_auth_method: body.token_endpoint_auth_method,
            grant_types: body.grant_types,
            callbacks: body.callbacks,
            allowed_logout_urls: body.allowed_logout_urls,
            web_origins: body.web_origins,
            logout_revokes_refresh_tokens: body.logout_revokes_refresh_tokens,
            client_metadata: body.client_metadata,
            refresh_token: body.refresh_token,
            id_token_lifetime_secs: body.jwt_configuration.map(|jwt| jwt.lifetime_in_seconds),
            api_grants: body.api_grants,
        })
    }
}

#[utoipa::path(
    operation_id = "list_clients",
    get,
    path = "/clients",
    tag = "clients",
    params(Paging),
    security(("bearer" = ["read:clients"])),
    responses((status = 200, description = "The clients, paginated.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    target: Target,
    params: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<Value>, MgmtError> {
    let paging = query(params)?;
    super::read(&state, target, "read:clients", move |call| {
        let all = clients::list(call.store(), call.id()).map_err(MgmtError::managing("client"))?;
        paging.page("clients", all.iter().map(|c| view(c, None)).collect())
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "get_client",
    get,
    path = "/clients/{id}",
    tag = "clients",
    params(("id" = String, Path, description = "The client id.")),
    security(("bearer" = ["read:clients"])),
    responses((status = 200, description = "The client.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
) -> Result<Json<Value>, MgmtError> {
    super::read(&state, target, "read:clients", move |call| {
        clients::get(call.store(), call.id(), &id)
            .map(|client| view(&client, None))
            .map_err(MgmtError::managing("client"))
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "create_client",
    post,
    path = "/clients",
    tag = "clients",
    request_body = ClientBody,
    security(("bearer" = ["create:clients"])),
    responses((status = 201, description = "The created client, with its secret (shown once).", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    target: Target,
    body: Result<Json<ClientBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), MgmtError> {
    let fields = ClientBody::fields(body)?;
    let out = super::write_runtime(&state, target, "create:clients", move |call| {
        let (client, secret) = clients::create(call.store(), call.id(), fields, &mut SystemEntropy)
            .map_err(MgmtError::managing("client"))?;
        Ok(view(&client, secret.as_ref()))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(
    operation_id = "update_client",
    patch,
    path = "/clients/{id}",
    tag = "clients",
    params(("id" = String, Path, description = "The client id.")),
    request_body = ClientBody,
    security(("bearer" = ["update:clients"])),
    responses((status = 200, description = "The updated client.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
    body: Result<Json<ClientBody>, JsonRejection>,
) -> Result<Json<Value>, MgmtError> {
    let fields = ClientBody::fields(body)?;
    super::write_runtime(&state, target, "update:clients", move |call| {
        clients::update(call.store(), call.id(), &id, fields)
            .map(|client| view(&client, None))
            .map_err(MgmtError::managing("client"))
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "rotate_client_secret",
    post,
    path = "/clients/{id}/rotate-secret",
    tag = "clients",
    params(("id" = String, Path, description = "The client id.")),
    security(("bearer" = ["update:client_keys"])),
    responses((status = 200, description = "The client with its new secret (shown once).", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn rotate_secret(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
) -> Result<Json<Value>, MgmtError> {
    super::write_runtime(&state, target, "update:client_keys", move |call| {
        let (client, secret) =
            clients::rotate_secret(call.store(), call.id(), &id, &mut SystemEntropy)
                .map_err(MgmtError::managing("client"))?;
        Ok(view(&client, Some(&secret)))
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "delete_client",
    delete,
    path = "/clients/{id}",
    tag = "clients",
    params(("id" = String, Path, description = "The client id.")),
    security(("bearer" = ["delete:clients"])),
    responses((status = 204, description = "Deleted."), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
) -> Result<StatusCode, MgmtError> {
    super::write_runtime(&state, target, "delete:clients", move |call| {
        clients::delete(call.store(), call.id(), &id).map_err(MgmtError::managing("client"))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
