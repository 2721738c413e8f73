//! Refresh tokens through the management API: Auth0's `GET/DELETE /refresh-tokens/{id}`,
//! `GET/DELETE /users/{id}/refresh-tokens`, and the legacy `device-credentials`. A refresh
//! token here is a family: one id across its rotations; revoking it revokes them all.

use super::Problem;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use oidc_core::audit::{LogEvent, codes};
use oidc_core::manage::refresh_tokens::{self, REVOKED_BY_API};
use oidc_core::manage::users;
use oidc_core::refresh::RefreshFamily;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Id, MgmtError, Target, iso_date, query};
use crate::state::AppState;

/// A refresh token as Auth0's management API shows it.
pub(crate) fn view(family: &RefreshFamily) -> Value {
    json!({
        "id": family.id,
        "user_id": family.user_id,
        "client_id": family.client_id,
        "created_at": iso_date(family.created_at),
        "expires_at": family.expires_at.map(iso_date),
        "idle_expires_at": family.idle_expires_at.map(iso_date),
        "last_exchanged_at": family.last_exchanged_at.map(iso_date),
        "rotating": family.rotating,
        "session_id": null,
        "resource_servers": family.audience.as_ref().map(|audience| {
            vec![json!({ "audience": audience, "scopes": family.scope.join(" ") })]
        }).unwrap_or_default(),
        "scope": family.scope.join(" "),
        "device": {
            "initial_ip": family.device.initial_ip,
            "initial_user_agent": family.device.initial_user_agent,
            "last_ip": family.device.last_ip,
            "last_user_agent": family.device.last_user_agent,
        },
    })
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClientFilter {
    client_id: Option<String>,
}

#[utoipa::path(
    operation_id = "list_user_refresh_tokens",
    get,
    path = "/users/{id}/refresh-tokens",
    tag = "refresh-tokens",
    params(("id" = String, Path, description = "The user id."), ClientFilter),
    security(("bearer" = ["read:refresh_tokens"])),
    responses((status = 200, description = "The user's refresh tokens.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn of_user(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
    params: Result<Query<ClientFilter>, QueryRejection>,
) -> Result<Json<Value>, MgmtError> {
    let ClientFilter { client_id } = query(params)?;
    super::read(&state, target, "read:refresh_tokens", move |call| {
        users::get(call.store(), call.id(), &id).map_err(MgmtError::managing("user"))?;
        let tokens =
            refresh_tokens::of_user(call.store(), call.id(), &id, client_id.as_deref(), call.now)
                .map_err(MgmtError::managing("refresh_token"))?;
        Ok(json!({ "tokens": tokens.iter().map(view).collect::<Vec<_>>() }))
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "revoke_user_refresh_tokens",
    delete,
    path = "/users/{id}/refresh-tokens",
    tag = "refresh-tokens",
    params(("id" = String, Path, description = "The user id."), ClientFilter),
    security(("bearer" = ["delete:refresh_tokens"])),
    responses((status = 204, description = "Revoked."), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn revoke_of_user(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
    params: Result<Query<ClientFilter>, QueryRejection>,
) -> Result<StatusCode, MgmtError> {
    let ClientFilter { client_id } = query(params)?;
    super::write(&state, target, "delete:refresh_tokens", move |call| {
        users::get(call.store(), call.id(), &id).map_err(MgmtError::managing("user"))?;
        refresh_tokens::revoke_all(
            call.store(),
            call.id(),
            &id,
            client_id.as_deref(),
            REVOKED_BY_API,
            call.now,
        )
        .map_err(MgmtError::managing("refresh_token"))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    operation_id = "get_refresh_token",
    get,
    path = "/refresh-tokens/{id}",
    tag = "refresh-tokens",
    params(("id" = String, Path, description = "The refresh token id.")),
    security(("bearer" = ["read:refresh_tokens"])),
    responses((status = 200, description = "The refresh token.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
) -> Result<Json<Value>, MgmtError> {
    super::read(&state, target, "read:refresh_tokens", move |call| {
        refresh_tokens::get(call.store(), call.id(), &id, call.now)
            .map(|family| view(&family))
            .map_err(MgmtError::managing("refresh_token"))
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "revoke_refresh_token",
    delete,
    path = "/refresh-tokens/{id}",
    tag = "refresh-tokens",
    params(("id" = String, Path, description = "The refresh token id.")),
    security(("bearer" = ["delete:refresh_tokens"])),
    responses((status = 204, description = "Revoked, with its whole family."), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
) -> Result<StatusCode, MgmtError> {
    revoke_one(state, target, id, "delete:refresh_tokens").await
}

async fn revoke_one(
    state: AppState,
    target: Target,
    id: String,
    scope: &'static str,
) -> Result<StatusCode, MgmtError> {
    super::write(&state, target, scope, move |call| {
        let family = refresh_tokens::get(call.store(), call.id(), &id, call.now)
            .map_err(MgmtError::managing("refresh_token"))?;
        refresh_tokens::revoke(call.store(), call.id(), &id, call.now)
            .map_err(MgmtError::managing("refresh_token"))?;
        let event = LogEvent::new(
            codes::REVOKED,
            "Refresh token revoked through the management API",
            call.now,
        )
        .client(&family.client_id)
        .user(&family.user_id);
        crate::journal::append(call.state, call.id(), vec![event]);
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Auth0's legacy query: a user's credentials, of one client, of one type.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeviceQuery {
    user_id: String,
    client_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[utoipa::path(
    operation_id = "list_device_credentials",
    get,
    path = "/device-credentials",
    tag = "refresh-tokens",
    params(DeviceQuery),
    security(("bearer" = ["read:device_credentials"])),
    responses((status = 200, description = "The user's refresh tokens, in the legacy shape.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn device_credentials(
    State(state): State<AppState>,
    target: Target,
    params: Result<Query<DeviceQuery>, QueryRejection>,
) -> Result<Json<Value>, MgmtError> {
    let DeviceQuery {
        user_id,
        client_id,
        kind,
    } = query(params)?;
    let wanted = match kind.as_deref() {
        None => None,
        Some("refresh_token") => Some(false),
        Some("rotating_refresh_token") => Some(true),
        Some("public_key") => return Ok(Json(json!([]))),
        Some(other) => {
            return Err(MgmtError::bad_request(
                "invalid_query_string",
                format!("Unknown credential type {other:?}."),
            ));
        }
    };
    super::read(&state, target, "read:device_credentials", move |call| {
        let tokens = refresh_tokens::of_user(call.store(), call.id(), &user_id, client_id.as_deref(), call.now)
            .map_err(MgmtError::managing("refresh_token"))?;
        Ok(tokens
            .iter()
            .filter(|family| wanted.is_none_or(|rotating| family.rotating == rotating))
            .map(|family| {
                json!({
                    "id": family.id,
                    "device_name": family.device.last_user_agent.clone().unwrap_or_default(),
                    "device_id": "",
                    "type": if family.rotating { "rotating_refresh_token" } else { "refresh_token" },
                    "user_id": family.user_id,
                    "client_id": family.client_id,
                })
            })
            .collect())
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "delete_device_credential",
    delete,
    path = "/device-credentials/{id}",
    tag = "refresh-tokens",
    params(("id" = String, Path, description = "The device credential id.")),
    security(("bearer" = ["delete:device_credentials"])),
    responses((status = 204, description = "Revoked."), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn delete_device_credential(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
) -> Result<StatusCode, MgmtError> {
    revoke_one(state, target, id, "delete:device_credentials").await
}
