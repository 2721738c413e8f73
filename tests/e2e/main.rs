//! End-to-end tests: the example rules, built from source by `build.rs`, run by the
//! production host.

mod chains;
mod example_rules;
