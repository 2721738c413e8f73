//! The testkit: example rules built from source, a host, events, and a real server on a
//! socket with a real sled directory, shared by the e2e tests, the demo and the benchmarks.

pub mod load;
pub mod process;
mod rules_kit;
pub mod server;

pub use rules_kit::{event, example_rules, host, hostile_uploads, rule, wat_rule, wat_rule_if};
