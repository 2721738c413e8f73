//! Trying rules: `POST /api/v2/rules/{id}/try` runs one rule (enabled or not), and
//! `POST /api/v2/rules/try` the tenant's whole chain, on a `user` and `context` the caller
//! supplies (the context's `protocol` included), with the tenant's configuration, exactly as
//! an issuance would run them. Nothing is issued or stored. The answer carries the outcome,
//! or the failure naming the rule and the limit, each rule's log lines, fuel and duration.

use super::Problem;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use rules_abi::RuleInput;
use rules_host::{ChainOutcome, RuleRun};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Id, MgmtError, Target};
use crate::state::AppState;

/// The event to try the rules on; every field but `user` and `context` comes from the
/// server (configuration, `now`, the seed).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TryBody {
    /// The user as a rule sees it.
    #[serde(default)]
    #[schema(value_type = Object)]
    user: Value,
    /// The context as a rule sees it, `protocol` included.
    #[serde(default)]
    #[schema(value_type = Object)]
    context: Value,
}

#[utoipa::path(
    operation_id = "try_rule",
    post,
    path = "/rules/{id}/try",
    tag = "rules",
    params(("id" = String, Path, description = "The rule id.")),
    request_body = TryBody,
    security(("bearer" = ["update:rules"])),
    responses((status = 200, description = "The rule's outcome, log lines, fuel and time.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn one(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
    body: Result<Json<TryBody>, JsonRejection>,
) -> Result<Json<Value>, MgmtError> {
    run(state, target, Some(id), body).await
}

#[utoipa::path(
    operation_id = "try_rules",
    post,
    path = "/rules/try",
    tag = "rules",
    request_body = TryBody,
    security(("bearer" = ["update:rules"])),
    responses((status = 200, description = "The chain's outcome, log lines, fuel and time per rule.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn chain(
    State(state): State<AppState>,
    target: Target,
    body: Result<Json<TryBody>, JsonRejection>,
) -> Result<Json<Value>, MgmtError> {
    run(state, target, None, body).await
}

async fn run(
    state: AppState,
    target: Target,
    rule_id: Option<String>,
    body: Result<Json<TryBody>, JsonRejection>,
) -> Result<Json<Value>, MgmtError> {
    let Json(body) = body.map_err(|e| MgmtError::bad_request("invalid_body", e.body_text()))?;
    let input: RuleInput = serde_json::from_value(json!({
        "user": body.user,
        "context": body.context,
    }))
    .map_err(|e| MgmtError::bad_request("invalid_body", format!("Invalid event: {e}.")))?;
    super::read(&state, target, "update:rules", move |call| {
        let tenant = call.tenant;
        let (host, limits) = (call.state.host(), call.state.limits());
        let selected = match &rule_id {
            Some(id) => {
                if tenant.rules.rule(id).is_none() {
                    return Err(MgmtError::new(
                        axum::http::StatusCode::NOT_FOUND,
                        "inexistent_rule",
                        format!("The rule {id:?} does not exist."),
                    ));
                }
                // The rule runs whether it is enabled or not: trying it before enabling it
                // is the point.
                let mut one = tenant.chain(host, call.store(), limits, |rule| &rule.id == id);
                if let Ok(one) = &mut one {
                    one.iter_mut().for_each(|rule| rule.enabled = true);
                }
                one
            }
            None => tenant.chain(host, call.store(), limits, |rule| rule.enabled),
        }
        .map_err(|reason| MgmtError::bad_request("invalid_rule", reason))?;
        let mut input = input;
        input.configuration = tenant.rules.configuration.clone();
        input.context.tenant = tenant.tenant.id.clone();
        input.now = call.now;
        input.seed = rand_seed();
        let started = Instant::now();
        let result = host.run_chain(&selected, &input, limits);
        let duration_us = started.elapsed().as_micros() as u64;
        Ok(match result {
            Ok(ChainOutcome {
                outcome,
                stopped_by,
                runs,
            }) => json!({
                "outcome": outcome,
                "stopped_by": stopped_by,
                "runs": runs.iter().map(run_view).collect::<Vec<_>>(),
                "duration_us": duration_us,
            }),
            Err(error) => json!({
                "failed": error.public_description(),
                "duration_us": duration_us,
            }),
        })
    })
    .await
    .map(Json)
}

fn run_view(run: &RuleRun) -> Value {
    json!({
        "rule": run.rule,
        "fuel_used": run.fuel_used,
        "duration_us": run.duration.as_micros() as u64,
        "log": run.log,
        "log_truncated": run.log_truncated,
    })
}

fn rand_seed() -> u64 {
    use oidc_core::Entropy as _;
    let mut bytes = [0u8; 8];
    oidc_core::SystemEntropy.fill(&mut bytes);
    u64::from_le_bytes(bytes)
}
