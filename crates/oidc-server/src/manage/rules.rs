//! `/api/v2/rules`: rules as uploaded WebAssembly modules. A module arrives as the body
//! (`application/wasm`, with `name`, `order` and `enabled` in the query) or as the `module`
//! part of a `multipart/form-data` form (with the same fields as parts). Every upload runs the
//! engine's full validation; a refused module is answered 400 with the engine's reason, and
//! nothing is stored.

use super::Problem;
use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use oidc_core::manage::rules::{self, NewRule, RuleUpdate};
use oidc_core::{RuleRecord, SystemEntropy};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Id, MgmtError, Paging, Target, iso_date, query};
use crate::rule_chain::EngineCheck;
use crate::state::AppState;

/// The largest request body accepted here: twice the largest module the engine takes, so a
/// slightly larger module gets the engine's own reason and a huge one a 413.
pub(crate) fn body_limit(state: &AppState) -> usize {
    state.limits().module_bytes.saturating_mul(2)
}

/// A rule as the API shows it.
pub(crate) fn view(rule: &RuleRecord) -> Value {
    json!({
        "id": rule.id,
        "name": rule.name,
        "order": rule.order,
        "enabled": rule.enabled,
        "stage": "login_success",
        "module": {
            "sha256": rule.module_hash,
            "size": rule.module_size,
            "abi_version": rule.abi_version,
        },
        "created_at": iso_date(rule.created_at),
        "updated_at": iso_date(rule.updated_at),
    })
}

/// The list's query: a filter and `Paging`'s fields (spelled out: query strings cannot be
/// parsed through `serde(flatten)`).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    enabled: Option<bool>,
    page: Option<usize>,
    per_page: Option<usize>,
    include_totals: Option<bool>,
}

#[utoipa::path(
    operation_id = "list_rules",
    get,
    path = "/rules",
    tag = "rules",
    params(ListQuery),
    security(("bearer" = ["read:rules"])),
    responses((status = 200, description = "The rules, paginated.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    target: Target,
    params: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, MgmtError> {
    let params = query(params)?;
    let paging = Paging {
        page: params.page,
        per_page: params.per_page,
        include_totals: params.include_totals,
    };
    let enabled = params.enabled;
    super::read(&state, target, "read:rules", move |call| {
        let rules: Vec<Value> = rules::list(call.store(), call.id())
            .map_err(MgmtError::managing("rule"))?
            .iter()
            .filter(|rule| enabled.is_none_or(|enabled| rule.enabled == enabled))
            .map(view)
            .collect();
        paging.page("rules", rules)
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "get_rule",
    get,
    path = "/rules/{id}",
    tag = "rules",
    params(("id" = String, Path, description = "The rule id.")),
    security(("bearer" = ["read:rules"])),
    responses((status = 200, description = "The rule.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
) -> Result<Json<Value>, MgmtError> {
    super::read(&state, target, "read:rules", move |call| {
        rules::get(call.store(), call.id(), &id)
            .map(|rule| view(&rule))
            .map_err(MgmtError::managing("rule"))
    })
    .await
    .map(Json)
}

/// A rule's fields, from the query string, a form, or a JSON body.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleFields {
    name: Option<String>,
    order: Option<i64>,
    enabled: Option<bool>,
}

/// A rule module sent as the body: raw WebAssembly.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code, reason = "describes the body for the OpenAPI document")]
pub(crate) struct WasmModule(Vec<u8>);

/// A rule sent as a `multipart/form-data` form.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "describes the form for the OpenAPI document")]
pub(crate) struct UploadForm {
    /// The WebAssembly module.
    #[schema(value_type = String, format = Binary)]
    module: Vec<u8>,
    name: Option<String>,
    order: Option<i64>,
    enabled: Option<bool>,
}

/// What a create or update request carries.
struct Upload {
    fields: RuleFields,
    module: Option<Vec<u8>>,
}

#[utoipa::path(
    operation_id = "create_rule",
    post,
    path = "/rules",
    tag = "rules",
    params(RuleFields),
    request_body(content((WasmModule = "application/wasm"), (UploadForm = "multipart/form-data")), description = "The module: the body, or the `module` part of a form."),
    security(("bearer" = ["create:rules"])),
    responses((status = 201, description = "The created rule.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    target: Target,
    request: Request,
) -> Result<(StatusCode, Json<Value>), MgmtError> {
    let upload = upload(&state, request, false).await?;
    let module = upload
        .module
        .ok_or_else(|| MgmtError::bad_request("invalid_body", "The request carries no module."))?;
    let name = upload
        .fields
        .name
        .ok_or_else(|| MgmtError::bad_request("invalid_body", "A rule needs a name."))?;
    let (order, enabled) = (upload.fields.order, upload.fields.enabled.unwrap_or(true));
    let created = super::write_runtime(&state, target, "create:rules", move |call| {
        let check = EngineCheck {
            host: call.state.host(),
            limits: call.state.limits(),
        };
        let new = NewRule {
            name: &name,
            order,
            enabled,
            module: &module,
        };
        rules::create(
            call.store(),
            &check,
            call.id(),
            new,
            call.now,
            &mut SystemEntropy,
        )
        .map_err(MgmtError::managing("rule"))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(view(&created))))
}

#[utoipa::path(
    operation_id = "update_rule",
    patch,
    path = "/rules/{id}",
    tag = "rules",
    params(("id" = String, Path, description = "The rule id."), RuleFields),
    request_body(content((WasmModule = "application/wasm"), (UploadForm = "multipart/form-data"), (RuleFields = "application/json")), description = "A new module (the body, or the `module` part of a form), or only fields as JSON."),
    security(("bearer" = ["update:rules"])),
    responses((status = 200, description = "The updated rule.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
    request: Request,
) -> Result<Json<Value>, MgmtError> {
    let upload = upload(&state, request, true).await?;
    let updated = super::write_runtime(&state, target, "update:rules", move |call| {
        let check = EngineCheck {
            host: call.state.host(),
            limits: call.state.limits(),
        };
        let update = RuleUpdate {
            name: upload.fields.name.as_deref(),
            order: upload.fields.order,
            enabled: upload.fields.enabled,
            module: upload.module.as_deref(),
        };
        rules::update(call.store(), &check, call.id(), &id, update, call.now)
            .map_err(MgmtError::managing("rule"))
    })
    .await?;
    Ok(Json(view(&updated)))
}

#[utoipa::path(
    operation_id = "delete_rule",
    delete,
    path = "/rules/{id}",
    tag = "rules",
    params(("id" = String, Path, description = "The rule id.")),
    security(("bearer" = ["delete:rules"])),
    responses((status = 204, description = "Deleted: the rule stops running at once."), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
) -> Result<StatusCode, MgmtError> {
    super::write_runtime(&state, target, "delete:rules", move |call| {
        rules::delete(call.store(), call.id(), &id).map_err(MgmtError::managing("rule"))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reads a rule upload: a module body, a form, or (for updates only) JSON fields.
async fn upload(
    state: &AppState,
    request: Request,
    json_allowed: bool,
) -> Result<Upload, MgmtError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let limit = body_limit(state);
    match content_type.as_str() {
        "application/wasm" | "application/octet-stream" => {
            let fields = query(Query::<RuleFields>::try_from_uri(request.uri()))?;
            let body = axum::body::to_bytes(request.into_body(), limit)
                .await
                .map_err(|_| too_large(limit))?;
            Ok(Upload {
                fields,
                module: Some(body.to_vec()),
            })
        }
        "multipart/form-data" => form(state, request, limit).await,
        "application/json" if json_allowed => {
            let body = axum::body::to_bytes(request.into_body(), limit)
                .await
                .map_err(|_| too_large(limit))?;
            let fields: RuleFields = serde_json::from_slice(&body).map_err(|e| {
                MgmtError::bad_request("invalid_body", format!("Invalid body: {e}."))
            })?;
            Ok(Upload {
                fields,
                module: None,
            })
        }
        _ => Err(MgmtError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            if json_allowed {
                "Send the module as application/wasm or multipart/form-data, or the fields as \
                 application/json."
            } else {
                "Send the module as application/wasm (name, order and enabled in the query) or \
                 as the 'module' part of multipart/form-data."
            },
        )),
    }
}

fn too_large(limit: usize) -> MgmtError {
    MgmtError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("The request body is larger than {limit} bytes."),
    )
}

async fn form(state: &AppState, request: Request, limit: usize) -> Result<Upload, MgmtError> {
    let bad = |message: String| MgmtError::bad_request("invalid_body", message);
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|e| bad(format!("Invalid form: {}.", e.body_text())))?;
    let mut upload = Upload {
        fields: RuleFields::default(),
        module: None,
    };
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| bad(format!("Invalid form: {}.", e.body_text())))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|_| too_large(limit))?;
        let text = || {
            String::from_utf8(bytes.to_vec())
                .map_err(|_| bad(format!("The '{name}' part is not UTF-8.")))
        };
        match name.as_str() {
            "module" => upload.module = Some(bytes.to_vec()),
            "name" => upload.fields.name = Some(text()?),
            "order" => {
                upload.fields.order = Some(
                    text()?
                        .trim()
                        .parse()
                        .map_err(|_| bad("The 'order' part must be an integer.".into()))?,
                );
            }
            "enabled" => {
                upload.fields.enabled = Some(
                    text()?
                        .trim()
                        .parse()
                        .map_err(|_| bad("The 'enabled' part must be true or false.".into()))?,
                );
            }
            other => return Err(bad(format!("Unknown form part '{other}'."))),
        }
    }
    Ok(upload)
}
