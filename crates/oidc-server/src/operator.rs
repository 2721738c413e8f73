//! The operator API, `/operator/v1/…`: create, list and delete tenants, and see what the
//! compiled-rule cache holds (to size `--rule-cache-mib`). It answers only to
//! the operator credential from the server's configuration (`--operator-token-file` or
//! `CLAIMSMITH_OPERATOR_TOKEN`); without one configured, the API is off. Creating a tenant
//! returns its management client's secret, once.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use oidc_core::manage::tenants::{self, NewTenant};
use oidc_core::{Secret, SigningAlg, SystemEntropy, Tenant};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::manage::MgmtError;
use crate::paths::{Paths, TOKEN};
use crate::state::{AppState, Lane};

/// The scheduler key of operator work: no tenant id can hold a NUL.
const LANE_KEY: &str = "\0operator";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/operator/v1/tenants", get(list).post(create))
        .route("/operator/v1/tenants/{id}", get(get_one).delete(delete))
        .route("/operator/v1/rule-cache", get(rule_cache))
}

/// The compiled-rule cache of this process: modules held, their estimated bytes against the
/// budget, hits, compiles and evictions since start. Compiles growing with hits flat means
/// the tenants' working set does not fit the budget.
async fn rule_cache(State(state): State<AppState>, _: Operator) -> Json<Value> {
    let stats = state.rule_cache();
    Json(json!({
        "modules": stats.modules,
        "bytes": stats.bytes,
        "budget_bytes": stats.budget,
        "hits": stats.hits,
        "compiles": stats.compiles,
        "evictions": stats.evictions,
    }))
}

/// A request that presented the operator credential.
#[derive(Debug)]
pub(crate) struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = MgmtError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, MgmtError> {
        if !state.operator_api_enabled() {
            return Err(MgmtError::new(
                StatusCode::FORBIDDEN,
                "operator_api_disabled",
                "The operator API is off: start the server with --operator-token-file.",
            ));
        }
        let token = crate::bearer::token(&parts.headers).ok_or_else(|| {
            MgmtError::new(
                StatusCode::UNAUTHORIZED,
                "missing_authentication",
                "Missing authentication",
            )
        })?;
        if !state.is_operator(&Secret::new(token)) {
            return Err(MgmtError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Invalid token",
            ));
        }
        Ok(Operator)
    }
}

fn view(tenant: &Tenant) -> Value {
    json!({
        "id": tenant.id,
        "issuer": tenant.issuer,
        "hosts": tenant.hosts,
        "signing_alg": tenant.signing_alg.as_str(),
    })
}

async fn list(State(state): State<AppState>, _: Operator) -> Result<Json<Value>, MgmtError> {
    let worker = state.clone();
    let tenants = state
        .run_blocking(LANE_KEY, Lane::Normal, move || worker.store().tenants())
        .await??;
    Ok(Json(tenants.iter().map(view).collect()))
}

async fn get_one(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<Value>, MgmtError> {
    let worker = state.clone();
    let missing = format!("The tenant {id:?} does not exist.");
    let tenant = state
        .run_blocking(LANE_KEY, Lane::Normal, move || worker.store().tenant(&id))
        .await??;
    tenant
        .map(|tenant| Json(view(&tenant)))
        .ok_or_else(|| MgmtError::new(StatusCode::NOT_FOUND, "inexistent_tenant", missing))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    id: String,
    issuer: String,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default = "default_alg")]
    signing_alg: SigningAlg,
}

fn default_alg() -> SigningAlg {
    SigningAlg::RS256
}

async fn create(
    State(state): State<AppState>,
    _: Operator,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), MgmtError> {
    let Json(body) = body.map_err(|e| MgmtError::bad_request("invalid_body", e.body_text()))?;
    let worker = state.clone();
    let now = state.now();
    let created = state
        .run_blocking(LANE_KEY, Lane::Normal, move || {
            let new = NewTenant {
                id: body.id,
                issuer: body.issuer,
                hosts: body.hosts,
                signing_alg: body.signing_alg,
            };
            let created = tenants::create(
                worker.store().as_ref(),
                worker.operator_key(),
                new,
                now,
                &mut SystemEntropy,
            )
            .map_err(MgmtError::managing("tenant"))?;
            worker
                .changed_tenant(&created.tenant.id)
                .map_err(MgmtError::internal)?;
            Ok::<_, MgmtError>(created)
        })
        .await??;
    state.commit().await?;
    let paths = Paths::for_issuer(&created.tenant.issuer);
    let mut out = view(&created.tenant);
    let management = json!({
        "client_id": created.management_client_id,
        "client_secret": created.management_client_secret.expose(),
        "audience": tenants::management_audience(&created.tenant.issuer),
        "token_endpoint": format!("{}{TOKEN}", paths.issuer),
    });
    if let Some(fields) = out.as_object_mut() {
        fields.insert("management".into(), management);
    }
    tracing::info!(tenant = %created.tenant.id, "tenant created");
    Ok((StatusCode::CREATED, Json(out)))
}

async fn delete(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<StatusCode, MgmtError> {
    let worker = state.clone();
    let deleted = id.clone();
    state
        .run_blocking(LANE_KEY, Lane::Normal, move || {
            tenants::delete(worker.store().as_ref(), &id).map_err(MgmtError::managing("tenant"))?;
            worker.changed_tenant(&id).map_err(MgmtError::internal)
        })
        .await??;
    state.commit().await?;
    tracing::info!(tenant = %deleted, "tenant deleted");
    Ok(StatusCode::NO_CONTENT)
}
