//! The tenant log: each token request's events (see `oidc_core::audit`) completed with what
//! the rules did, given ids, and stored. Storing a log event never fails a request: a store
//! error is logged for the operator and the request goes on.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use oidc_core::audit::{LogEvent, codes};
use oidc_core::grants::{
    AUTHORIZATION_CODE, CLIENT_CREDENTIALS, PASSWORD, PASSWORD_REALM, REFRESH_TOKEN,
};
use oidc_core::login::device::DEVICE_CODE_GRANT;
use oidc_core::{
    ClientCredentials, Entropy as _, ErrorCode, Issued, OAuthError, SystemEntropy, TokenRequest,
};
use serde_json::{Value, json};

use crate::state::AppState;

/// Records the success or failure event of a token request (the issued tokens' user, or the
/// error), unless its grant type is one this service does not log.
pub(crate) fn record_outcome(
    audit: &dyn oidc_core::audit::Audit,
    request: &TokenRequest,
    result: Result<&Issued, &OAuthError>,
    now: u64,
) {
    if let Some(event) = outcome(request, result, now) {
        audit.record(event);
    }
}

fn outcome(
    request: &TokenRequest,
    result: Result<&Issued, &OAuthError>,
    now: u64,
) -> Option<LogEvent> {
    let grant_type = request.param("grant_type")?;
    let (success, failure, success_text) = match grant_type {
        PASSWORD | PASSWORD_REALM => (codes::SUCCESS_LOGIN, codes::FAILED_LOGIN, "Success Login"),
        REFRESH_TOKEN => (
            codes::SUCCESS_REFRESH,
            codes::FAILED_REFRESH,
            "Successful exchange of Refresh Token for Access Token",
        ),
        CLIENT_CREDENTIALS => (
            codes::SUCCESS_CLIENT_CREDENTIALS,
            codes::FAILED_CLIENT_CREDENTIALS,
            "Client Credentials for Access Token",
        ),
        AUTHORIZATION_CODE => (
            codes::SUCCESS_CODE_EXCHANGE,
            codes::FAILED_CODE_EXCHANGE,
            "Authorization Code for Access Token",
        ),
        DEVICE_CODE_GRANT => (
            codes::SUCCESS_DEVICE_EXCHANGE,
            codes::FAILED_DEVICE_EXCHANGE,
            "Device Code for Access Token",
        ),
        _ => return None,
    };
    // A device waiting for its user is not a failure; polling would flood the log.
    if let Err(error) = result
        && matches!(
            error.error,
            ErrorCode::AuthorizationPending | ErrorCode::SlowDown
        )
    {
        return None;
    }
    let mut event = match result {
        Ok(issued) => {
            let mut event = LogEvent::new(success, success_text, now);
            event.user_id.clone_from(&issued.user_id);
            event
        }
        Err(error) => LogEvent::new(failure, error.description.clone(), now),
    }
    .from(&request.info);
    event.client_id = match &request.credentials {
        ClientCredentials::Basic { client_id, .. } | ClientCredentials::Post { client_id, .. } => {
            Some(client_id.clone())
        }
        ClientCredentials::Missing => None,
    };
    event.user_name = request.param("username").map(str::to_owned);
    event.details = json!({
        "requested_scope": request.param("scope"),
        "requested_audience": request.param("audience"),
        "grant_type": grant_type,
    });
    Some(event)
}

/// Completes and stores one request's events. A specific failure (reuse detected, a blocked
/// account) replaces the generic one, as Auth0 logs one event per failure; the rules' report
/// goes with the request's outcome event.
pub(crate) fn store(state: &AppState, tenant: &str, mut events: Vec<LogEvent>, rules: Vec<Value>) {
    let specific = events.iter().any(|e| {
        matches!(
            e.kind.as_str(),
            codes::REUSE_DETECTED | codes::BLOCKED_ACCOUNT
        )
    });
    if specific {
        events.retain(|e| {
            !matches!(
                e.kind.as_str(),
                codes::FAILED_LOGIN | codes::FAILED_REFRESH | codes::FAILED_CLIENT_CREDENTIALS
            )
        });
    }
    state.metrics().record(tenant, &events, &rules);
    if !rules.is_empty()
        && let Some(outcome) = events.iter_mut().find(|e| {
            matches!(
                e.kind.as_str(),
                codes::SUCCESS_LOGIN
                    | codes::FAILED_LOGIN
                    | codes::SUCCESS_REFRESH
                    | codes::FAILED_REFRESH
                    | codes::REUSE_DETECTED
            )
        })
    {
        if let Some(details) = outcome.details.as_object_mut() {
            details.insert("rules".into(), Value::Array(rules));
        } else {
            outcome.details = json!({ "rules": rules });
        }
    }
    append(state, tenant, events);
}

/// A counter that orders the events of one millisecond as they happened, starting at a random
/// point so that ids stay unique across restarts.
fn next_sequence() -> u64 {
    static SEQUENCE: OnceLock<AtomicU64> = OnceLock::new();
    SEQUENCE
        .get_or_init(|| {
            let mut random = [0u8; 8];
            SystemEntropy.fill(&mut random);
            // The top bit stays clear: the counter never wraps in practice.
            AtomicU64::new(u64::from_le_bytes(random) >> 1)
        })
        .fetch_add(1, Ordering::Relaxed)
}

/// Gives `events` ids and queues them for the log writer.
pub(crate) fn append(state: &AppState, tenant: &str, mut events: Vec<LogEvent>) {
    if events.is_empty() {
        return;
    }
    for event in &mut events {
        event.id = LogEvent::make_id(event.date, next_sequence());
    }
    state.log_writer().append(tenant, events);
}
