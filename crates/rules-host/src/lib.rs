//! Runs tenant rules, WebAssembly modules, inside a strict sandbox.
//!
//! This is the only crate that knows wasmtime; no wasmtime type appears in its public API.
//! It owns three jobs:
//! - [`RuleHost::load`] validates an upload (size, format, structure, the exact ABI of
//!   `rules-abi`) and compiles it once, cached by content hash in a cache bounded by a memory
//!   budget ([`RuleHost::load_stored`] finds a stored module there, or compiles it again);
//! - [`RuleHost::run_chain`] runs a tenant's enabled rules in order, each in a fresh store
//!   with fuel, an epoch deadline, memory and table caps, and bounded input, output and log;
//! - every failure becomes a typed [`RuleError`] naming the rule, never a panic.
//!
//! It knows nothing of OAuth: the caller builds the [`rules_abi::RuleInput`] and decides what
//! an outcome means for the tokens.
//!
//! ```no_run
//! use rules_host::{ChainRule, HostConfig, RuleHost, RuleLimits};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let host = RuleHost::new(HostConfig::default())?;
//! let limits = RuleLimits::default();
//! let module = host.load(&std::fs::read("add_roles.wasm")?, &limits)?;
//! let rules = [ChainRule { name: "add-roles".into(), order: 1, enabled: true, module }];
//! let chain = host.run_chain(&rules, &rules_abi::RuleInput::default(), &limits)?;
//! println!("{:?}", chain.outcome);
//! # Ok(()) }
//! ```

// No panic is reachable from a request or an uploaded module.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod cache;
mod call;
mod chain;
mod engine;
mod error;
mod limits;
mod log;
mod permits;
mod validate;

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Linker};

pub use cache::CacheStats;
pub use call::MAX_HOST_CALLS;
pub use chain::{ChainOutcome, ChainRule, RuleRun};
pub use error::{ChainError, RuleError, RuleFailure, ValidationError};
pub use limits::{LimitsError, RuleLimits};
pub use validate::{AbiVersion, StructureLimits};

use cache::ModuleCache;
use call::{CallState, CompiledRule, host_log};
use engine::EpochTicker;
use permits::Permits;

/// How the host is built: the operator's ceiling on tenant limits and the sandbox pool.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// No tenant may be given limits above these; they also size the instance pool.
    pub ceiling: RuleLimits,
    /// Structure caps checked at upload.
    pub structure: StructureLimits,
    /// Sandbox slots: how many rule calls may run at once. More callers wait for a slot.
    pub pool_slots: u32,
    /// Native stack available to wasm code, per call. Engine-wide, so not a tenant limit.
    pub max_wasm_stack: usize,
    /// Epoch tick: the resolution of wall-clock deadlines.
    pub epoch_tick: Duration,
    /// Bytes of each linear memory (and table) kept resident and reset in place when a pool
    /// slot is reused, instead of returned to the kernel. Covers a Rust rule's usual footprint
    /// (1 MiB of shadow stack plus heap); costs at most this much RSS per slot.
    pub keep_resident_bytes: usize,
    /// Memory the compiled-module cache may hold (estimated from each module's compiled image
    /// and size); the least recently used modules leave first and are compiled again at their
    /// next use.
    pub compiled_budget_bytes: usize,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            ceiling: RuleLimits::default_ceiling(),
            structure: StructureLimits::default(),
            pool_slots: 64,
            max_wasm_stack: 512 * 1024,
            epoch_tick: Duration::from_millis(1),
            keep_resident_bytes: 2 * 1024 * 1024,
            compiled_budget_bytes: 512 * 1024 * 1024,
        }
    }
}

/// Why the host could not start.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("invalid sandbox configuration: {0}")]
    Config(String),
    #[error("could not start the epoch ticker: {0}")]
    Ticker(#[from] std::io::Error),
}

/// A validated, compiled rule module. Cheap to clone; identical uploads share one.
#[derive(Debug, Clone)]
pub struct LoadedRule(Arc<CompiledRule>, ModuleHash);

/// The SHA-256 of a module's bytes: its identity in the cache and in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModuleHash(pub [u8; 32]);

impl ModuleHash {
    pub fn of(wasm: &[u8]) -> ModuleHash {
        ModuleHash(Sha256::digest(wasm).into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses what [`ModuleHash::to_hex`] wrote; `None` for anything else.
    pub fn from_hex(hex: &str) -> Option<ModuleHash> {
        let mut hash = [0u8; 32];
        hex::decode_to_slice(hex, &mut hash).ok()?;
        Some(ModuleHash(hash))
    }
}

impl LoadedRule {
    pub fn hash(&self) -> ModuleHash {
        self.1
    }

    /// The rule ABI version the module was built for (1 or 2).
    pub fn abi_version(&self) -> u32 {
        self.0.abi.0
    }
}

/// The rule sandbox of a process: one engine, one linker, a compiled-module cache, the pool
/// slots and the epoch ticker.
#[derive(Debug)]
pub struct RuleHost {
    engine: Engine,
    linker: Linker<CallState>,
    config: HostConfig,
    tick: Duration,
    cache: ModuleCache,
    permits: Permits,
    _ticker: EpochTicker,
}

impl RuleHost {
    pub fn new(config: HostConfig) -> Result<RuleHost, HostError> {
        let engine = engine::production_engine(&config).map_err(HostError::Config)?;
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap(rules_abi::HOST_MODULE, rules_abi::imports::LOG, host_log)
            .map_err(|e| HostError::Config(e.to_string()))?;
        let ticker = EpochTicker::start(engine.clone(), config.epoch_tick)?;
        Ok(RuleHost {
            permits: Permits::new(config.pool_slots),
            tick: config.epoch_tick,
            engine,
            linker,
            cache: ModuleCache::new(config.compiled_budget_bytes),
            config,
            _ticker: ticker,
        })
    }

    /// The configuration the host was built with.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Validates an upload against `limits` and the ABI, and compiles it (once per content,
    /// while it stays in the cache).
    pub fn load(&self, wasm: &[u8], limits: &RuleLimits) -> Result<LoadedRule, ValidationError> {
        validate::check_structure(wasm, limits, &self.config.structure)?;
        let hash = ModuleHash::of(wasm);
        let compiled = self.cache.get_or_compile(hash, || self.compile(wasm))?;
        Ok(LoadedRule(compiled, hash))
    }

    /// The module stored under `hash`: from the cache, or read with `fetch` and loaded as an
    /// upload is (so a stored module that no longer passes validation is refused). The bytes
    /// are only read on a miss.
    pub fn load_stored<E: std::fmt::Display>(
        &self,
        hash: ModuleHash,
        limits: &RuleLimits,
        fetch: impl FnOnce() -> Result<Option<Vec<u8>>, E>,
    ) -> Result<LoadedRule, ValidationError> {
        let compiled = self.cache.get_or_compile(hash, || {
            let wasm = fetch()
                .map_err(|e| ValidationError::Invalid {
                    message: format!("the stored module cannot be read: {e}"),
                })?
                .ok_or_else(|| ValidationError::Invalid {
                    message: "the stored module is missing".into(),
                })?;
            if ModuleHash::of(&wasm) != hash {
                return Err(ValidationError::Invalid {
                    message: "the stored module does not match its hash".into(),
                });
            }
            validate::check_structure(&wasm, limits, &self.config.structure)?;
            self.compile(&wasm)
        })?;
        Ok(LoadedRule(compiled, hash))
    }

    /// What the compiled-module cache holds and did.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Drops a module from the cache; rules already loaded keep working.
    pub fn evict(&self, hash: &ModuleHash) {
        self.cache.remove(hash);
    }

    /// Compiles a structurally valid module and checks its ABI; returns it with its estimated
    /// footprint.
    fn compile(&self, wasm: &[u8]) -> Result<(Arc<CompiledRule>, usize), ValidationError> {
        let module = validate::compile(&self.engine, wasm)?;
        let abi = validate::check_abi(&module)?;
        let export = |name: &str| {
            module
                .get_export_index(name)
                .ok_or(ValidationError::Invalid {
                    message: format!("export {name} has no index"),
                })
        };
        let footprint = cache::footprint(&module, wasm.len());
        let compiled = Arc::new(CompiledRule {
            abi,
            memory: export(rules_abi::exports::MEMORY)?,
            alloc: export(rules_abi::exports::ALLOC)?,
            on_token: export(rules_abi::exports::ON_TOKEN)?,
            pre: self
                .linker
                .instantiate_pre(&module)
                .map_err(|e| ValidationError::Invalid {
                    message: format!("{e:#}"),
                })?,
        });
        Ok((compiled, footprint))
    }
}

#[cfg(test)]
mod tests;
