//! The compiled-module cache: bounded by a memory budget, least recently used out.
//!
//! Once tenants upload their own modules, a process cannot keep every tenant's compiled rules
//! in memory, nor compile them all at start. Compiled code lives here only; a chain holds a
//! module for the length of a call, so an evicted module is freed when its last call ends
//! and compiled again, from the stored bytes, at its next use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use lru::LruCache;

use crate::ModuleHash;
use crate::call::CompiledRule;

/// What the cache holds and did, for operators and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Compiled modules held.
    pub modules: usize,
    /// Their estimated memory, in bytes.
    pub bytes: usize,
    /// The budget `bytes` is kept under (a single module larger than it is still held).
    pub budget: usize,
    /// Lookups served from the cache.
    pub hits: u64,
    /// Modules compiled (uploads, first uses, uses after an eviction).
    pub compiles: u64,
    /// Modules dropped to stay under the budget.
    pub evictions: u64,
}

#[derive(Debug)]
struct Entry {
    rule: Arc<CompiledRule>,
    bytes: usize,
}

#[derive(Debug)]
struct Lru {
    entries: LruCache<ModuleHash, Entry>,
    stats: CacheStats,
}

/// Compiled modules by content hash, with one compilation at a time per module: the callers
/// that miss together on one module wait for the first one's compile instead of each
/// compiling it (a restart under load would otherwise compile a popular rule once per
/// waiting request).
#[derive(Debug)]
pub(crate) struct ModuleCache {
    lru: Mutex<Lru>,
    compiling: Mutex<HashMap<ModuleHash, Arc<Mutex<()>>>>,
}

impl ModuleCache {
    pub(crate) fn new(budget: usize) -> ModuleCache {
        ModuleCache {
            lru: Mutex::new(Lru {
                entries: LruCache::unbounded(),
                stats: CacheStats {
                    budget,
                    ..CacheStats::default()
                },
            }),
            compiling: Mutex::default(),
        }
    }

    /// The compiled module, marked as just used.
    pub(crate) fn get(&self, hash: &ModuleHash) -> Option<Arc<CompiledRule>> {
        let mut lru = self.lock();
        let rule = lru.entries.get(hash).map(|entry| Arc::clone(&entry.rule));
        if rule.is_some() {
            lru.stats.hits += 1;
        }
        rule
    }

    /// The compiled module for `hash`, compiling it with `compile` on a miss. Concurrent
    /// misses on one hash compile it once.
    pub(crate) fn get_or_compile<E>(
        &self,
        hash: ModuleHash,
        compile: impl FnOnce() -> Result<(Arc<CompiledRule>, usize), E>,
    ) -> Result<Arc<CompiledRule>, E> {
        if let Some(rule) = self.get(&hash) {
            return Ok(rule);
        }
        let gate = Arc::clone(
            self.compiling
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(hash)
                .or_default(),
        );
        let result = {
            let _turn = gate.lock().unwrap_or_else(PoisonError::into_inner);
            match self.get(&hash) {
                Some(rule) => Ok(rule),
                None => compile().map(|(rule, bytes)| self.insert(hash, rule, bytes)),
            }
        };
        let mut compiling = self
            .compiling
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The last one through removes the gate (the map holds one reference).
        if Arc::strong_count(&gate) == 2 {
            compiling.remove(&hash);
        }
        result
    }

    /// Inserts a freshly compiled module (or keeps the one already there) and evicts the
    /// least recently used modules until the total is under the budget again.
    fn insert(&self, hash: ModuleHash, rule: Arc<CompiledRule>, bytes: usize) -> Arc<CompiledRule> {
        let mut lru = self.lock();
        lru.stats.compiles += 1;
        if let Some(entry) = lru.entries.get(&hash) {
            return Arc::clone(&entry.rule);
        }
        lru.entries.put(
            hash,
            Entry {
                rule: Arc::clone(&rule),
                bytes,
            },
        );
        lru.stats.bytes += bytes;
        while lru.stats.bytes > lru.stats.budget && lru.entries.len() > 1 {
            let Some((_, evicted)) = lru.entries.pop_lru() else {
                break;
            };
            lru.stats.bytes -= evicted.bytes;
            lru.stats.evictions += 1;
        }
        lru.stats.modules = lru.entries.len();
        rule
    }

    /// Drops one module.
    pub(crate) fn remove(&self, hash: &ModuleHash) {
        let mut lru = self.lock();
        if let Some(entry) = lru.entries.pop(hash) {
            lru.stats.bytes -= entry.bytes;
        }
        lru.stats.modules = lru.entries.len();
    }

    pub(crate) fn stats(&self) -> CacheStats {
        self.lock().stats
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A module's estimated footprint in resident memory: twice its compiled image (code and
/// metadata, mapped) and four times its wasm size (the copy-on-write memory image, wasmtime's
/// side tables, the instance template). Calibrated on the example rules, whose process RSS
/// grows by about 1.9 MiB per compiled module (`many_tenants` benchmark) for a 0.6 MiB image
/// and 0.16 MiB of wasm; a hand-written WAT rule costs a few KiB.
pub(crate) fn footprint(module: &wasmtime::Module, wasm_len: usize) -> usize {
    let image = module.image_range();
    let image_len = (image.end as usize).saturating_sub(image.start as usize);
    image_len
        .saturating_mul(2)
        .saturating_add(wasm_len.saturating_mul(4))
}
