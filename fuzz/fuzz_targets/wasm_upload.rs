//! Upload validation: any bytes offered as a rule module are refused with a reason or loaded;
//! nothing panics, and nothing reaches Cranelift that the structural checks should stop.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use rules_host::RuleLimits;

fuzz_target!(|wasm: &[u8]| {
    let _ = common::host().load(wasm, &RuleLimits::default());
});
