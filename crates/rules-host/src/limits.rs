//! The sandbox limits of one tenant's rules, and the operator's ceiling on them.

use std::time::Duration;

/// Limits applied to every rule call of a tenant. The defaults are DESIGN.md's table; a tenant
/// may be given other values, but never above the host's ceiling ([`RuleLimits::check_within`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLimits {
    /// Largest module accepted at upload.
    pub module_bytes: usize,
    /// Largest linear memory a call may have, declared minimum included.
    pub memory_bytes: usize,
    /// Most table elements a call may have.
    pub table_elements: usize,
    /// Fuel (roughly wasm instructions) one call may burn: a deterministic budget.
    pub fuel: u64,
    /// Wall-clock budget of one call, enforced by epoch interruption.
    pub rule_timeout: Duration,
    /// Wall-clock budget of a whole chain, including waiting for a sandbox slot.
    pub chain_timeout: Duration,
    /// Largest input JSON handed to a rule.
    pub input_bytes: usize,
    /// Largest outcome JSON accepted from a rule.
    pub output_bytes: usize,
    /// Log bytes kept per call; the rest is dropped and the run marked truncated.
    pub log_bytes: usize,
    /// Characters kept per log line, as Auth0 keeps 256.
    pub log_line_chars: usize,
    /// Most enabled rules in one chain.
    pub rules_per_chain: usize,
}

impl Default for RuleLimits {
    fn default() -> Self {
        RuleLimits {
            module_bytes: 1024 * 1024,
            memory_bytes: 16 * 1024 * 1024,
            table_elements: 10_000,
            fuel: 10_000_000,
            rule_timeout: Duration::from_millis(50),
            chain_timeout: Duration::from_secs(1),
            input_bytes: 128 * 1024,
            output_bytes: 64 * 1024,
            log_bytes: 4 * 1024,
            log_line_chars: 256,
            rules_per_chain: 20,
        }
    }
}

impl RuleLimits {
    /// The operator maxima the host is built with unless told otherwise: room for a tenant
    /// to be given more than the defaults, bounded so one tenant cannot hog a node.
    pub fn default_ceiling() -> RuleLimits {
        RuleLimits {
            module_bytes: 4 * 1024 * 1024,
            memory_bytes: 64 * 1024 * 1024,
            table_elements: 100_000,
            fuel: 200_000_000,
            rule_timeout: Duration::from_millis(500),
            chain_timeout: Duration::from_secs(5),
            input_bytes: 1024 * 1024,
            output_bytes: 256 * 1024,
            log_bytes: 64 * 1024,
            log_line_chars: 4096,
            rules_per_chain: 50,
        }
    }

    /// Refuses limits that exceed `ceiling` anywhere, naming the first offending field.
    pub fn check_within(&self, ceiling: &RuleLimits) -> Result<(), LimitsError> {
        let pairs: [(&'static str, u128, u128); 11] = [
            (
                "module_bytes",
                self.module_bytes as u128,
                ceiling.module_bytes as u128,
            ),
            (
                "memory_bytes",
                self.memory_bytes as u128,
                ceiling.memory_bytes as u128,
            ),
            (
                "table_elements",
                self.table_elements as u128,
                ceiling.table_elements as u128,
            ),
            ("fuel", u128::from(self.fuel), u128::from(ceiling.fuel)),
            (
                "rule_timeout",
                self.rule_timeout.as_millis(),
                ceiling.rule_timeout.as_millis(),
            ),
            (
                "chain_timeout",
                self.chain_timeout.as_millis(),
                ceiling.chain_timeout.as_millis(),
            ),
            (
                "input_bytes",
                self.input_bytes as u128,
                ceiling.input_bytes as u128,
            ),
            (
                "output_bytes",
                self.output_bytes as u128,
                ceiling.output_bytes as u128,
            ),
            (
                "log_bytes",
                self.log_bytes as u128,
                ceiling.log_bytes as u128,
            ),
            (
                "log_line_chars",
                self.log_line_chars as u128,
                ceiling.log_line_chars as u128,
            ),
            (
                "rules_per_chain",
                self.rules_per_chain as u128,
                ceiling.rules_per_chain as u128,
            ),
        ];
        for (field, value, max) in pairs {
            if value > max {
                return Err(LimitsError { field, value, max });
            }
        }
        if self.rule_timeout.is_zero() || self.chain_timeout.is_zero() || self.fuel == 0 {
            return Err(LimitsError {
                field: "rule_timeout/chain_timeout/fuel",
                value: 0,
                max: 0,
            });
        }
        Ok(())
    }
}

/// A tenant limit above the operator's ceiling (or a zero budget).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "rule limit {field} = {value} is not allowed (ceiling {max}, and budgets must be non-zero)"
)]
pub struct LimitsError {
    pub field: &'static str,
    pub value: u128,
    pub max: u128,
}
