//! oidc-core's rule ports over `rules-host`: running a tenant's chain, and checking uploads.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use serde_json::{Value, json};

use oidc_core::manage::rules::ModuleCheck;
use oidc_core::{RuleRunError, RuleRunner, Store, Tenant};
use rules_abi::{RuleInput, RuleOutcome};
use rules_host::{RuleHost, RuleLimits};

use crate::state::TenantRuntime;

/// One tenant's chain, ready to run: its enabled rules are loaded when it first runs (a
/// request that runs no rule compiles none).
#[derive(Debug)]
pub(crate) struct TenantRules<'a> {
    pub(crate) host: &'a RuleHost,
    pub(crate) store: &'a dyn Store,
    pub(crate) tenant: &'a TenantRuntime,
    pub(crate) limits: &'a RuleLimits,
    /// What the chain's rules did (log lines, fuel, time, a failure), for the tenant's log.
    pub(crate) report: Mutex<Vec<Value>>,
}

impl TenantRules<'_> {
    pub(crate) fn take_report(&self) -> Vec<Value> {
        std::mem::take(&mut *self.report.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn note(&self, entry: Value) {
        self.report
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry);
    }
}

/// The engine's full validation of an upload: everything `RuleHost::load` checks, and a
/// compile, so a module that passes here runs.
#[derive(Debug)]
pub(crate) struct EngineCheck<'a> {
    pub(crate) host: &'a RuleHost,
    pub(crate) limits: &'a RuleLimits,
}

impl ModuleCheck for EngineCheck<'_> {
    fn check(&self, wasm: &[u8]) -> Result<u32, String> {
        self.host
            .load(wasm, self.limits)
            .map(|rule| rule.abi_version())
            .map_err(|e| e.to_string())
    }
}

impl RuleRunner for TenantRules<'_> {
    fn run(&self, tenant: &Tenant, input: &RuleInput) -> Result<RuleOutcome, RuleRunError> {
        let chain = self
            .tenant
            .chain(self.host, self.store, self.limits, |rule| rule.enabled)
            .map_err(|description| RuleRunError { description })?;
        match self.host.run_chain(&chain, input, self.limits) {
            Ok(outcome) => {
                for run in &outcome.runs {
                    self.note(json!({
                        "rule": run.rule,
                        "log": run.log,
                        "log_truncated": run.log_truncated,
                        "fuel_used": run.fuel_used,
                        "duration_us": run.duration.as_micros() as u64,
                    }));
                }
                Ok(outcome.outcome)
            }
            Err(error) => {
                // The tenant's own rule failed: the tenant's log says which and how.
                self.note(json!({ "error": error.to_string() }));
                // The full error (trap message included) is for the operator's log only.
                tracing::warn!(tenant = %tenant.id, "rule chain failed: {error}");
                Err(RuleRunError {
                    description: error.public_description(),
                })
            }
        }
    }

    fn configuration(&self) -> &BTreeMap<String, String> {
        &self.tenant.rules.configuration
    }
}
