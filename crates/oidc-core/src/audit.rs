//! Tenant log events in Auth0's shape (`GET /api/v2/logs`): what the token service did, for
//! whom, from where. The domain records the events only it can see (reuse detected, a
//! revocation, the 200-token eviction, brute-force blocks) through the [`Audit`] port; the
//! server adds the success or failure of each request and the rules' log lines, and stores
//! them.

use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::model::UnixMillis;

/// Auth0's event type codes for what this service does.
pub mod codes {
    pub const SUCCESS_LOGIN: &str = "s";
    pub const FAILED_LOGIN: &str = "f";
    pub const SUCCESS_LOGOUT: &str = "slo";
    pub const SUCCESS_SILENT_AUTH: &str = "ssa";
    pub const FAILED_SILENT_AUTH: &str = "fsa";
    pub const SUCCESS_CODE_EXCHANGE: &str = "seacft";
    pub const FAILED_CODE_EXCHANGE: &str = "feacft";
    pub const SUCCESS_DEVICE_EXCHANGE: &str = "sede";
    pub const FAILED_DEVICE_EXCHANGE: &str = "fede";
    pub const SUCCESS_REFRESH: &str = "sertft";
    pub const FAILED_REFRESH: &str = "fertft";
    pub const REUSE_DETECTED: &str = "ferrt";
    pub const REVOKED: &str = "srrt";
    pub const SUCCESS_CLIENT_CREDENTIALS: &str = "seccft";
    pub const FAILED_CLIENT_CREDENTIALS: &str = "feccft";
    pub const TOKEN_EXCESS: &str = "resource_cleanup";
    pub const BLOCKED_ACCOUNT: &str = "limit_wc";
}

/// One log event. `id` sorts by time within a tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogEvent {
    pub id: String,
    pub date: UnixMillis,
    /// Auth0's event type code (see [`codes`]).
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Anything else: requested scope and audience, the rules that ran and their log lines.
    #[serde(default)]
    pub details: serde_json::Value,
}

impl LogEvent {
    pub fn new(kind: &str, description: impl Into<String>, now: UnixMillis) -> LogEvent {
        LogEvent {
            kind: kind.to_owned(),
            description: description.into(),
            date: now,
            ..LogEvent::default()
        }
    }

    /// A time-ordered id: the date, then `random` to tell apart events of one millisecond.
    pub fn make_id(date: UnixMillis, random: u64) -> String {
        format!("{date:013}{random:016x}")
    }

    pub fn client(mut self, client_id: &str) -> LogEvent {
        self.client_id = Some(client_id.to_owned());
        self
    }

    pub fn user(mut self, user_id: &str) -> LogEvent {
        self.user_id = Some(user_id.to_owned());
        self
    }

    pub fn from(mut self, request: &crate::rules::RequestInfo) -> LogEvent {
        self.ip.clone_from(&request.ip);
        self.user_agent.clone_from(&request.user_agent);
        self
    }

    pub fn is_failure(&self) -> bool {
        matches!(
            self.kind.as_str(),
            codes::FAILED_LOGIN
                | codes::FAILED_REFRESH
                | codes::REUSE_DETECTED
                | codes::FAILED_CLIENT_CREDENTIALS
                | codes::BLOCKED_ACCOUNT
                | codes::FAILED_SILENT_AUTH
                | codes::FAILED_CODE_EXCHANGE
                | codes::FAILED_DEVICE_EXCHANGE
        )
    }
}

/// Where the domain records events.
pub trait Audit: Send + Sync {
    fn record(&self, event: LogEvent);
}

/// Drops every event: for callers that keep no log.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAudit;

impl Audit for NoAudit {
    fn record(&self, _: LogEvent) {}
}

/// Keeps the events of one request, for the server to complete and store.
#[derive(Debug, Default)]
pub struct Recorder(Mutex<Vec<LogEvent>>);

impl Audit for Recorder {
    fn record(&self, event: LogEvent) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event);
    }
}

impl Recorder {
    pub fn take(&self) -> Vec<LogEvent> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// How long, and how many, log events a tenant keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_events: usize,
    pub max_age_ms: u64,
}

impl Default for Retention {
    /// 10,000 events and 30 days (Auth0 keeps 2 to 30 days by plan).
    fn default() -> Self {
        Retention {
            max_events: 10_000,
            max_age_ms: 30 * 86_400_000,
        }
    }
}
