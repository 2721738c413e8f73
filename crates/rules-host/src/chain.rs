//! A tenant's rule chain: enabled rules in ascending order, each seeing what earlier ones set.

use std::time::{Duration, Instant};

use rules_abi::{Protocol, RuleInput, RuleOutcome};

use crate::call::{CallReport, call_rule};
use crate::{ChainError, LoadedRule, RuleError, RuleFailure, RuleHost, RuleLimits};

/// One rule of a tenant, as the chain runner needs it.
#[derive(Debug, Clone)]
pub struct ChainRule {
    /// The tenant's name for the rule; errors and logs use it.
    pub name: String,
    /// Lower runs first.
    pub order: i64,
    /// Disabled rules are skipped.
    pub enabled: bool,
    pub module: LoadedRule,
}

/// What a chain produced: the aggregated outcome and a report per rule that ran.
#[derive(Debug, Clone, Default)]
pub struct ChainOutcome {
    /// Claims, scope, metadata and refresh-token changes of all rules, in order; `deny` or
    /// `revoke_refresh_token` set means the chain stopped at that rule.
    pub outcome: RuleOutcome,
    /// Which rule denied or revoked, if one did.
    pub stopped_by: Option<String>,
    pub runs: Vec<RuleRun>,
}

/// The report of one rule call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRun {
    pub rule: String,
    pub fuel_used: u64,
    pub duration: Duration,
    pub log: Vec<String>,
    /// Whether log output was dropped or cut.
    pub log_truncated: bool,
}

impl RuleHost {
    /// Runs the enabled rules of `rules` in ascending `order` on `input`, under `limits`.
    ///
    /// Blocking and CPU-bound: call it from a blocking thread, never on an async reactor.
    /// Waits for a free sandbox slot if every one is busy, within `limits.chain_timeout`.
    pub fn run_chain(
        &self,
        rules: &[ChainRule],
        input: &RuleInput,
        limits: &RuleLimits,
    ) -> Result<ChainOutcome, ChainError> {
        let started = Instant::now();
        let deadline = started + limits.chain_timeout;
        let mut enabled: Vec<&ChainRule> = rules.iter().filter(|rule| rule.enabled).collect();
        if enabled.len() > limits.rules_per_chain {
            return Err(ChainError::TooManyRules {
                count: enabled.len(),
                max: limits.rules_per_chain,
            });
        }
        enabled.sort_by_key(|rule| rule.order);
        let mut chain = ChainOutcome::default();
        if enabled.is_empty() {
            return Ok(chain);
        }
        let _permit = self
            .permits
            .acquire(deadline)
            .ok_or(ChainError::Overloaded {
                waited_ms: started.elapsed().as_millis() as u64,
            })?;

        // The input as earlier rules of the chain changed it: copied from `input` only when a
        // rule changes something a later rule sees, so a chain of one rule, or of rules that
        // only read, never copies the event.
        let mut changed: Option<RuleInput> = None;
        let last = enabled.len() - 1;
        for (index, rule) in enabled.into_iter().enumerate() {
            let fail = |failure| RuleError {
                rule: rule.name.clone(),
                failure,
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            let chain_bound = remaining < limits.rule_timeout;
            let chain_deadline = || RuleFailure::ChainDeadline {
                limit_ms: limits.chain_timeout.as_millis() as u64,
            };
            if remaining.is_zero() {
                return Err(fail(chain_deadline()).into());
            }
            let seed = mix_seed(input.seed, index as u64);
            let current = changed.as_ref().unwrap_or(input);
            let bytes = rule.module.0.abi.encode(current, seed).map_err(|e| {
                fail(RuleFailure::Instantiation {
                    message: e.to_string(),
                })
            })?;
            let timeout = remaining.min(limits.rule_timeout);
            let report = call_rule(
                &self.engine,
                &rule.module.0,
                &bytes,
                limits,
                timeout,
                self.tick,
            )
            .map_err(|failure| match failure {
                RuleFailure::Deadline { .. } if chain_bound => fail(chain_deadline()),
                other => fail(other),
            })?;
            let CallReport {
                outcome,
                fuel_used,
                duration,
                log,
            } = report;
            if index < last {
                carry_into_input(&mut changed, input, &outcome);
            }
            let stop = absorb(&mut chain.outcome, &input.context.protocol, outcome);
            chain.runs.push(RuleRun {
                rule: rule.name.clone(),
                fuel_used,
                duration,
                log_truncated: log.truncated,
                log: log.lines,
            });
            if stop {
                chain.stopped_by = Some(rule.name.clone());
                break;
            }
        }
        Ok(chain)
    }
}

/// Carries one rule's claims, scope and metadata into the next rule's input: `changed`, which
/// is copied from `original` at the first change it takes, so nothing is copied for a rule
/// that changes none of them.
fn carry_into_input(changed: &mut Option<RuleInput>, original: &RuleInput, outcome: &RuleOutcome) {
    fn next<'a>(changed: &'a mut Option<RuleInput>, original: &RuleInput) -> &'a mut RuleInput {
        changed.get_or_insert_with(|| original.clone())
    }
    for (name, value) in &outcome.id_token {
        let claims = &mut next(changed, original).context.id_token;
        claims.insert(name.clone(), value.clone());
    }
    for (name, value) in &outcome.access_token {
        let claims = &mut next(changed, original).context.access_token;
        claims.insert(name.clone(), value.clone());
    }
    if let Some(scope) = &outcome.access_token_scope {
        next(changed, original).context.scope.clone_from(scope);
    }
    for (key, value) in &outcome.app_metadata {
        let metadata = &mut next(changed, original).user.app_metadata;
        metadata.insert(key.clone(), value.clone());
    }
    for (key, value) in &outcome.user_metadata {
        let metadata = &mut next(changed, original).user.user_metadata;
        metadata.insert(key.clone(), value.clone());
    }
}

/// Folds one rule's outcome into the chain's. Returns whether the chain stops here (a deny,
/// or a refresh-token revocation while one is exchanged, which `protocol` says).
fn absorb(chain: &mut RuleOutcome, protocol: &Protocol, outcome: RuleOutcome) -> bool {
    chain.id_token.extend(outcome.id_token);
    chain.access_token.extend(outcome.access_token);
    if let Some(scope) = outcome.access_token_scope {
        chain.access_token_scope = Some(scope);
    }
    chain.app_metadata.extend(outcome.app_metadata);
    chain.user_metadata.extend(outcome.user_metadata);
    if outcome.redirect.is_some() {
        chain.redirect = outcome.redirect;
    }
    // Lifetimes can only be shortened: several rules setting one keep the earliest.
    chain.refresh_token_expires_at = earliest(
        chain.refresh_token_expires_at,
        outcome.refresh_token_expires_at,
    );
    chain.refresh_token_idle_expires_at = earliest(
        chain.refresh_token_idle_expires_at,
        outcome.refresh_token_idle_expires_at,
    );
    // A revocation means something only where a refresh token is being exchanged. Anywhere
    // else it is ignored and the chain goes on: stopping here would skip every later rule (a
    // deny, an allow-list) and then issue, which is failing open.
    let revoke = outcome
        .revoke_refresh_token
        .filter(|_| *protocol == Protocol::OAuth2RefreshToken);
    let stop = outcome.deny.is_some() || revoke.is_some();
    chain.deny = outcome.deny;
    chain.revoke_refresh_token = revoke;
    stop
}

fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A distinct, reproducible seed per rule of the chain (SplitMix64 finaliser).
fn mix_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
