//! What the fuzz targets that need a rule host share: one host per process, one pool slot.

use std::sync::OnceLock;

use rules_host::{HostConfig, RuleHost};

pub fn host() -> &'static RuleHost {
    static HOST: OnceLock<RuleHost> = OnceLock::new();
    HOST.get_or_init(|| {
        RuleHost::new(HostConfig {
            pool_slots: 1,
            ..HostConfig::default()
        })
        .expect("host")
    })
}
