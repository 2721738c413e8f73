//! Upload validation: any bytes offered as a rule module are refused with a reason or loaded;
//! nothing panics, and nothing reaches Cranelift that the structural checks should stop.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rules_host::{HostConfig, RuleHost, RuleLimits};

fn host() -> &'static RuleHost {
    static HOST: OnceLock<RuleHost> = OnceLock::new();
    HOST.get_or_init(|| {
        RuleHost::new(HostConfig {
            pool_slots: 1,
            ..HostConfig::default()
        })
        .expect("host")
    })
}

fuzz_target!(|wasm: &[u8]| {
    let _ = host().load(wasm, &RuleLimits::default());
});
