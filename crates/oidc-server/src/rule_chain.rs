//! oidc-core's `RuleRunner` port over `rules-host`.

use oidc_core::{RuleRunError, RuleRunner, Tenant};
use rules_abi::{RuleInput, RuleOutcome};
use rules_host::{ChainRule, RuleHost, RuleLimits};

/// One tenant's chain, ready to run.
#[derive(Debug)]
pub(crate) struct TenantRules<'a> {
    pub(crate) host: &'a RuleHost,
    pub(crate) chain: &'a Result<Vec<ChainRule>, String>,
    pub(crate) limits: &'a RuleLimits,
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
}
