//! The seed loader: any TOML is parsed, and whatever parses is applied to an in-memory store
//! (module paths point nowhere, so rules fail cleanly). Errors are answers; nothing panics.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use oidc_core::OperatorKey;
use oidc_server::seed::Seed;

fuzz_target!(|text: &str| {
    if let Ok(mut seed) = toml::from_str::<Seed>(text) {
        seed.base = std::path::PathBuf::from("/nonexistent");
        let store = oidc_core::testkit::MemoryStore::new();
        let _ = seed.apply(&store, common::host(), &OperatorKey::insecure_dev(), 1);
    }
});
