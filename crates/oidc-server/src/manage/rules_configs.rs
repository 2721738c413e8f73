//! `/api/v2/rules-configs`: the secrets rules share. Keys are listed; values are write-only,
//! in no response and no log line.

use super::Problem;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use oidc_core::manage::rules;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Key, MgmtError, Target};
use crate::state::AppState;

#[utoipa::path(
    operation_id = "list_rules_configs",
    get,
    path = "/rules-configs",
    tag = "rules-configs",
    security(("bearer" = ["read:rules_configs"])),
    responses((status = 200, description = "The keys (never the values).", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    target: Target,
) -> Result<Json<Value>, MgmtError> {
    super::read(&state, target, "read:rules_configs", |call| {
        let keys = rules::config_keys(call.store(), call.id())
            .map_err(MgmtError::managing("rules_config"))?;
        Ok(keys.into_iter().map(|key| json!({ "key": key })).collect())
    })
    .await
    .map(Json)
}

/// The body of `PUT /rules-configs/{key}`. Its `Debug` never shows the value.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetBody {
    value: String,
}

impl std::fmt::Debug for SetBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SetBody { value: [redacted] }")
    }
}

#[utoipa::path(
    operation_id = "set_rules_config",
    put,
    path = "/rules-configs/{key}",
    tag = "rules-configs",
    params(("key" = String, Path, description = "The configuration key.")),
    request_body = SetBody,
    security(("bearer" = ["update:rules_configs"])),
    responses((status = 200, description = "The key (the value is not returned).", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn set(
    State(state): State<AppState>,
    target: Target,
    Path(Key { key }): Path<Key>,
    body: Result<Json<SetBody>, JsonRejection>,
) -> Result<Json<Value>, MgmtError> {
    // The rejection text could quote the body: it is not repeated.
    let Json(body) = body.map_err(|_| {
        MgmtError::bad_request(
            "invalid_body",
            "The body must be JSON of the form {\"value\": \"…\"}.",
        )
    })?;
    let echoed = key.clone();
    super::write_runtime(&state, target, "update:rules_configs", move |call| {
        rules::set_config(call.store(), call.id(), &key, &body.value)
            .map_err(MgmtError::managing("rules_config"))
    })
    .await?;
    Ok(Json(json!({ "key": echoed })))
}

#[utoipa::path(
    operation_id = "delete_rules_config",
    delete,
    path = "/rules-configs/{key}",
    tag = "rules-configs",
    params(("key" = String, Path, description = "The configuration key.")),
    security(("bearer" = ["delete:rules_configs"])),
    responses((status = 204, description = "Deleted."), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn unset(
    State(state): State<AppState>,
    target: Target,
    Path(Key { key }): Path<Key>,
) -> Result<StatusCode, MgmtError> {
    super::write_runtime(&state, target, "delete:rules_configs", move |call| {
        rules::unset_config(call.store(), call.id(), &key)
            .map_err(MgmtError::managing("rules_config"))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
