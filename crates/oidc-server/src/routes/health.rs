//! Probes for a load balancer or an orchestrator: `/healthz` says the process serves HTTP,
//! `/readyz` that it can do its work (the store answers; tenants are loaded before the server
//! listens, so a listening server has them).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

/// The process is up. No store access, nothing that can block.
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The store answers a read, and how many tenants are loaded; 503 when the store does not.
pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let store = std::sync::Arc::clone(state.store());
    // A read of a key no tenant can have: it touches the store without reading much.
    let probe = tokio::task::spawn_blocking(move || store.tenant("\0readyz")).await;
    match probe {
        Ok(Ok(_)) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "tenants": state.tenant_ids().len() })),
        ),
        Ok(Err(error)) => {
            tracing::error!("readiness probe: the store failed: {error}");
            unavailable()
        }
        Err(_) => unavailable(),
    }
}

fn unavailable() -> (StatusCode, Json<Value>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "unavailable", "reason": "the store does not answer" })),
    )
}
