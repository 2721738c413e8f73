//! Test support for the domain and for every store engine: an in-memory store, a store that
//! fails on purpose, a rule runner that answers a fixed outcome, fixtures, the store
//! conformance suite, and a harness that runs grants in milliseconds without sled or HTTP.
//!
//! Compiled for this crate's tests, and for other crates with the `testkit` feature.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test support: a panic is a failed test, never a request's fate"
)]

pub mod conformance;
mod failing;
pub mod fixtures;
mod harness;
mod memory;

use std::sync::Mutex;

use rules_abi::{RuleInput, RuleOutcome};

pub use failing::{FailingStore, Failure, Injected};
pub use harness::{Harness, TestBrowser};
pub use memory::MemoryStore;

use crate::model::Tenant;
use crate::rules::{RuleRunError, RuleRunner};

/// A rule runner that answers every chain with one outcome (or failure), and remembers the
/// inputs it saw.
#[derive(Debug)]
pub struct StubRules {
    answer: Mutex<Result<RuleOutcome, String>>,
    pub seen: Mutex<Vec<RuleInput>>,
    /// What the rules see as `configuration`.
    pub configuration: std::collections::BTreeMap<String, String>,
}

impl Default for StubRules {
    /// Rules that change nothing.
    fn default() -> Self {
        StubRules::answering(RuleOutcome::default())
    }
}

impl StubRules {
    pub fn answering(outcome: RuleOutcome) -> StubRules {
        StubRules {
            answer: Mutex::new(Ok(outcome)),
            seen: Mutex::default(),
            configuration: std::collections::BTreeMap::new(),
        }
    }

    /// From now on, answer `outcome`.
    pub fn set(&self, outcome: RuleOutcome) {
        *self.answer.lock().unwrap_or_else(|e| e.into_inner()) = Ok(outcome);
    }

    /// From now on, fail with `description`.
    pub fn fail(&self, description: &str) {
        *self.answer.lock().unwrap_or_else(|e| e.into_inner()) = Err(description.to_owned());
    }
}

impl RuleRunner for StubRules {
    fn run(&self, _tenant: &Tenant, input: &RuleInput) -> Result<RuleOutcome, RuleRunError> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(input.clone());
        self.answer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .map_err(|description| RuleRunError { description })
    }

    fn configuration(&self) -> &std::collections::BTreeMap<String, String> {
        &self.configuration
    }
}
