//! oidc-core's rule ports over `rules-host`: running a tenant's chain, and checking uploads.

use std::collections::BTreeMap;

use oidc_core::manage::rules::ModuleCheck;
use oidc_core::{RuleRunError, RuleRunner, Tenant};
use rules_abi::{RuleInput, RuleOutcome};
use rules_host::{ChainRule, RuleHost, RuleLimits};

/// One tenant's chain, ready to run.
#[derive(Debug)]
pub(crate) struct TenantRules<'a> {
    pub(crate) host: &'a RuleHost,
    pub(crate) chain: &'a Result<Vec<ChainRule>, String>,
    pub(crate) configuration: &'a BTreeMap<String, String>,
    pub(crate) limits: &'a RuleLimits,
}

/// The engine's full validation of an upload: everything `RuleHost::load` checks, and a
/// compile, so a module that passes here runs.
#[derive(Debug)]
pub(crate) struct EngineCheck<'a> {
    pub(crate) host: &'a RuleHost,
    pub(crate) limits: &'a RuleLimits,
}

impl ModuleCheck for EngineCheck<'_> {
    fn check(&self, wasm: &[u8]) -> Result<(), String> {
        self.host
            .load(wasm, self.limits)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn abi_version(&self) -> u32 {
        rules_abi::ABI_VERSION
    }
}

impl RuleRunner for TenantRules<'_> {
    fn run(&self, tenant: &Tenant, input: &RuleInput) -> Result<RuleOutcome, RuleRunError> {
        let chain = self.chain.as_ref().map_err(|description| RuleRunError {
            description: description.clone(),
        })?;
        match self.host.run_chain(chain, input, self.limits) {
            Ok(outcome) => Ok(outcome.outcome),
            Err(error) => {
                // The full error (trap message included) is for the operator's log only.
                tracing::warn!(tenant = %tenant.id, "rule chain failed: {error}");
                Err(RuleRunError {
                    description: error.public_description(),
                })
            }
        }
    }

    fn configuration(&self) -> &BTreeMap<String, String> {
        self.configuration
    }
}
