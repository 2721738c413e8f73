//! Prometheus metrics, at `GET /metrics` (OpenMetrics text, behind the operator credential:
//! the labels name tenants and rules). What a fleet's dashboards need: requests and latency by
//! endpoint; token requests by tenant, grant and outcome, and refresh-token reuse detections
//! (from the tenant log's events, so the figures and the log agree); rule calls, fuel and
//! failures by tenant and rule (from the rules' report); the compiled-rule cache; store
//! latency by operation (every call through the port, commits included) and the database
//! pool's use.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oidc_core::audit::LogEvent;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde_json::Value;

use crate::operator::Operator;
use crate::state::AppState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route as declared (`/t/{tenant}/oauth/token`), never the raw path: bounded.
    endpoint: String,
    method: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    tenant: String,
    /// Auth0's log event type: `s`, `f`, `sertft`, `fertft`, `ferrt`, `seccft`, ….
    r#type: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabels {
    tenant: String,
    rule: String,
}

/// A store operation: the port's method name (`apply`, `refresh_family`, `flush`, …).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StoreLabels {
    pub(crate) operation: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

/// The process's metrics.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<EndpointLabels, Histogram>,
    events: Family<EventLabels, Counter>,
    rule_calls: Family<RuleLabels, Counter>,
    rule_fuel: Family<RuleLabels, Counter>,
    rule_failures: Family<TenantLabels, Counter>,
    cache_modules: Gauge,
    cache_bytes: Gauge,
    cache_compiles: Gauge,
    cache_evictions: Gauge,
    store_latency: Family<StoreLabels, Histogram, fn() -> Histogram>,
    pool_open: Gauge,
    pool_idle: Gauge,
    pool_max: Gauge,
    logs_dropped: Gauge,
    /// Raised to the store's own count at each scrape (under the lock: one scrape at a time).
    round_trips: std::sync::Mutex<Counter>,
}

/// Latency buckets from 0.5 ms to about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Store calls are finer: 25 µs (a cached sled read) to about 0.8 s.
fn store_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_025, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("claimsmith");
        let requests = Family::default();
        registry.register(
            "http_requests",
            "HTTP requests by endpoint, method and status",
            requests.clone(),
        );
        let latency = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by endpoint",
            latency.clone(),
        );
        let events = Family::default();
        registry.register(
            "log_events",
            "Tenant log events by type: token requests by grant and outcome (s, f, sertft, fertft, seccft, feccft), refresh-token reuse detections (ferrt), revocations (srrt), brute-force blocks (limit_wc)",
            events.clone(),
        );
        let rule_calls = Family::default();
        registry.register(
            "rule_calls",
            "Rule calls by tenant and rule",
            rule_calls.clone(),
        );
        let rule_fuel = Family::default();
        registry.register(
            "rule_fuel",
            "Fuel the rules used, by tenant and rule",
            rule_fuel.clone(),
        );
        let rule_failures = Family::default();
        registry.register(
            "rule_chain_failures",
            "Rule chains that failed (a trap or a limit), by tenant",
            rule_failures.clone(),
        );
        let store_latency = Family::new_with_constructor(store_histogram as fn() -> Histogram);
        registry.register(
            "store_operation_duration_seconds",
            "Store calls by operation (flush: the commit a response waits for)",
            store_latency.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        Metrics {
            cache_modules: gauge(
                &mut registry,
                "rule_cache_modules",
                "Compiled rule modules held",
            ),
            cache_bytes: gauge(
                &mut registry,
                "rule_cache_bytes",
                "Estimated memory of the compiled rule modules held",
            ),
            cache_compiles: gauge(
                &mut registry,
                "rule_cache_compiles",
                "Rule modules compiled since start",
            ),
            cache_evictions: gauge(
                &mut registry,
                "rule_cache_evictions",
                "Compiled rule modules dropped to stay under the budget since start",
            ),
            pool_open: gauge(
                &mut registry,
                "store_pool_connections",
                "Database connections open (busy or idle); 0 on the embedded store",
            ),
            pool_idle: gauge(
                &mut registry,
                "store_pool_idle_connections",
                "Database connections open and idle",
            ),
            logs_dropped: gauge(
                &mut registry,
                "log_events_dropped",
                "Tenant log events dropped since start because the store could not keep up",
            ),
            pool_max: gauge(
                &mut registry,
                "store_pool_max_connections",
                "The most database connections the pool opens",
            ),
            round_trips: {
                let counter = Counter::default();
                registry.register(
                    "store_round_trips",
                    "Round trips to the database since start (none on the embedded store)",
                    counter.clone(),
                );
                std::sync::Mutex::new(counter)
            },
            store_latency,
            registry,
            requests,
            latency,
            events,
            rule_calls,
            rule_fuel,
            rule_failures,
        }
    }
}

impl Metrics {
    /// The store-latency family, for the timed store to fill.
    pub(crate) fn store_latency(&self) -> Family<StoreLabels, Histogram, fn() -> Histogram> {
        self.store_latency.clone()
    }

    /// Counts a request's log events and what its rules did (the journal's input).
    pub(crate) fn record(&self, tenant: &str, events: &[LogEvent], rules: &[Value]) {
        for event in events {
            self.events
                .get_or_create(&EventLabels {
                    tenant: tenant.to_owned(),
                    r#type: event.kind.clone(),
                })
                .inc();
        }
        for run in rules {
            if let Some(rule) = run["rule"].as_str() {
                let labels = RuleLabels {
                    tenant: tenant.to_owned(),
                    rule: rule.to_owned(),
                };
                self.rule_calls.get_or_create(&labels).inc();
                self.rule_fuel
                    .get_or_create(&labels)
                    .inc_by(run["fuel_used"].as_u64().unwrap_or(0));
            } else if run.get("error").is_some() {
                self.rule_failures
                    .get_or_create(&TenantLabels {
                        tenant: tenant.to_owned(),
                    })
                    .inc();
            }
        }
    }

    fn observe(&self, endpoint: String, method: String, status: u16, seconds: f64) {
        self.latency
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                endpoint,
                method,
                status: status.to_string(),
            })
            .inc();
    }
}

/// Middleware: counts and times every routed request by its declared route.
pub(crate) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics().observe(
        endpoint,
        method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`: the OpenMetrics text exposition, for the operator's scraper.
pub(crate) async fn expose(State(state): State<AppState>, _: Operator) -> Response {
    let metrics = state.metrics();
    let cache = state.rule_cache();
    let set = |gauge: &Gauge, value: u64| {
        gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
    };
    set(&metrics.cache_modules, cache.modules as u64);
    set(&metrics.cache_bytes, cache.bytes as u64);
    set(&metrics.cache_compiles, cache.compiles);
    set(&metrics.cache_evictions, cache.evictions);
    let pool = state.store().pool().unwrap_or_default();
    set(&metrics.pool_open, pool.open.into());
    set(&metrics.pool_idle, pool.idle.into());
    set(&metrics.pool_max, pool.max.into());
    set(&metrics.logs_dropped, state.log_writer().dropped());
    {
        let counter = metrics
            .round_trips
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        counter.inc_by(pool.round_trips.saturating_sub(counter.get()));
    }
    let mut text = String::new();
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &metrics.registry) {
        tracing::error!("metrics encoding failed: {error}");
    }
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
