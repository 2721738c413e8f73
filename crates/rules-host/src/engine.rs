//! The one wasmtime `Engine` of the process, configured for untrusted code, and the epoch
//! ticker that gives every call a wall-clock deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::HostConfig;

/// Builds the production engine. Validation runs under this same configuration, so a module
/// using a disabled proposal is refused at upload, not at call time.
pub(crate) fn production_engine(config: &HostConfig) -> Result<Engine, String> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(config.pool_slots)
        .total_memories(config.pool_slots)
        .total_tables(config.pool_slots)
        .max_memories_per_module(1)
        .max_tables_per_module(1)
        .max_memory_size(config.ceiling.memory_bytes)
        .table_elements(config.ceiling.table_elements)
        // A reused slot is reset by memset of the pages the last call dirtied (found with
        // PAGEMAP_SCAN where the kernel has it) instead of madvise: madvise costs a TLB
        // shootdown across cores and page faults on the next call, which dominated the
        // per-call cost in profiles.
        .linear_memory_keep_resident(config.keep_resident_bytes)
        .table_keep_resident(config.keep_resident_bytes)
        .pagemap_scan(Enabled::Auto);

    let mut wasm = Config::new();
    wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .memory_init_cow(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(config.max_wasm_stack)
        // Backtraces carry guest names (tenant data) and cost time on every trap.
        .wasm_backtrace_max_frames(None)
        .concurrency_support(false)
        .wasm_memory64(false)
        .wasm_multi_memory(false)
        .wasm_tail_call(false)
        .wasm_stack_switching(false)
        .wasm_gc(false)
        .wasm_relaxed_simd(false)
        .wasm_wide_arithmetic(false)
        .wasm_custom_page_sizes(false);
    Engine::new(&wasm).map_err(|e| e.to_string())
}

/// Advances the engine's epoch every tick on a thread of its own; stops when dropped.
#[derive(Debug)]
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: Engine, tick: Duration) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("rules-epoch".into())
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    std::thread::park_timeout(tick);
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}
