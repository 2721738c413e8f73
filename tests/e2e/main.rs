//! End-to-end tests: the example rules, built from source by `build.rs`, run by the
//! production host; and the token service on a real socket with a real sled directory.

mod browser;
mod chains;
mod example_rules;
mod login;
mod manage;
mod token;
