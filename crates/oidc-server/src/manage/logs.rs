//! `/api/v2/logs`: the tenant's log events, newest first in pages (`page`, `per_page`,
//! `include_totals`), or from a checkpoint (`from` an event id, `take` events after it, oldest
//! first: what `claimsmith logs --follow` polls). Filters: `type`, `user_id`, `client_id`,
//! `since` and `until` (ISO 8601).

use super::Problem;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use oidc_core::audit::LogEvent;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Id, MAX_PER_PAGE, MgmtError, Paging, Target, iso_date, query};
use crate::state::AppState;

/// An event as Auth0 shows it.
pub(crate) fn view(event: &LogEvent) -> Value {
    json!({
        "log_id": event.id,
        "date": iso_date(event.date),
        "type": event.kind,
        "description": event.description,
        "client_id": event.client_id,
        "client_name": event.client_name,
        "user_id": event.user_id,
        "user_name": event.user_name,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "details": event.details,
    })
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogQuery {
    page: Option<usize>,
    per_page: Option<usize>,
    include_totals: Option<bool>,
    from: Option<String>,
    take: Option<usize>,
    #[serde(rename = "type")]
    kind: Option<String>,
    user_id: Option<String>,
    client_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

/// The filters of a query, parsed.
struct Filter {
    kind: Option<String>,
    user_id: Option<String>,
    client_id: Option<String>,
    since: Option<u64>,
    until: Option<u64>,
}

impl Filter {
    fn matches(&self, event: &LogEvent) -> bool {
        self.kind.as_ref().is_none_or(|kind| *kind == event.kind)
            && self
                .user_id
                .as_ref()
                .is_none_or(|u| event.user_id.as_ref() == Some(u))
            && self
                .client_id
                .as_ref()
                .is_none_or(|c| event.client_id.as_ref() == Some(c))
            && self.since.is_none_or(|since| event.date >= since)
            && self.until.is_none_or(|until| event.date <= until)
    }
}

fn date(name: &str, value: Option<String>) -> Result<Option<u64>, MgmtError> {
    value
        .map(|text| {
            humantime::parse_rfc3339_weak(&text)
                .ok()
                .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|since| since.as_millis() as u64)
                .ok_or_else(|| {
                    MgmtError::bad_request(
                        "invalid_query_string",
                        format!("{name} must be an ISO 8601 date, e.g. 2026-11-27T12:00:00Z."),
                    )
                })
        })
        .transpose()
}

/// Events are read in chunks of this many while filtering.
const CHUNK: usize = 500;

#[utoipa::path(
    operation_id = "list_logs",
    get,
    path = "/logs",
    tag = "logs",
    params(LogQuery),
    security(("bearer" = ["read:logs"])),
    responses((status = 200, description = "Log events, newest first (or from a checkpoint).", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    target: Target,
    params: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Json<Value>, MgmtError> {
    let params = query(params)?;
    let filter = Filter {
        kind: params.kind,
        user_id: params.user_id,
        client_id: params.client_id,
        since: date("since", params.since)?,
        until: date("until", params.until)?,
    };
    let paging = Paging {
        page: params.page,
        per_page: params.per_page,
        include_totals: params.include_totals,
    };
    let (offset, limit) = paging.window()?;
    let checkpoint = params.from;
    let take = params.take.unwrap_or(50);
    if take == 0 || take > MAX_PER_PAGE {
        return Err(MgmtError::bad_request(
            "invalid_query_string",
            format!("take must be between 1 and {MAX_PER_PAGE}."),
        ));
    }
    super::read(&state, target, "read:logs", move |call| {
        // What this node's requests logged so far is in the store before it is read.
        call.state.settle_logs();
        let store = call.store();
        if let Some(from) = checkpoint {
            // Oldest first after the checkpoint, up to `take` matching events.
            let (mut found, mut after) = (Vec::new(), Some(from));
            while found.len() < take {
                let chunk = store.logs(call.id(), after.as_deref(), CHUNK, false)?;
                let Some(last) = chunk.last() else { break };
                after = Some(last.id.clone());
                let full = chunk.len() == CHUNK;
                found.extend(chunk.into_iter().filter(|e| filter.matches(e)));
                if !full {
                    break;
                }
            }
            found.truncate(take);
            return Ok(Value::Array(found.iter().map(view).collect()));
        }
        // Newest first: one page of the matching events, and how many match.
        let (mut page, mut total, mut before) = (Vec::new(), 0usize, None::<String>);
        loop {
            let chunk = store.logs(call.id(), before.as_deref(), CHUNK, true)?;
            let Some(last) = chunk.last() else { break };
            before = Some(last.id.clone());
            let full = chunk.len() == CHUNK;
            for event in chunk.iter().filter(|e| filter.matches(e)) {
                if total >= offset && page.len() < limit {
                    page.push(view(event));
                }
                total += 1;
            }
            if !full {
                break;
            }
        }
        paging.page_of("logs", Value::Array(page), total)
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "get_log",
    get,
    path = "/logs/{id}",
    tag = "logs",
    params(("id" = String, Path, description = "The log event id.")),
    security(("bearer" = ["read:logs"])),
    responses((status = 200, description = "The log event.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
) -> Result<Json<Value>, MgmtError> {
    super::read(&state, target, "read:logs", move |call| {
        call.state.settle_logs();
        let event = oidc_core::ids::validate(&id)
            .ok()
            .map(|()| call.store().log(call.id(), &id))
            .transpose()?
            .flatten();
        event.map(|event| view(&event)).ok_or_else(|| {
            MgmtError::new(
                axum::http::StatusCode::NOT_FOUND,
                "inexistent_log",
                format!("The log event {id:?} does not exist."),
            )
        })
    })
    .await
    .map(Json)
}
