//! One rule call: a fresh `Store` with fuel, an epoch deadline and resource limits, the input
//! copied in, the outcome copied out and parsed.

use std::time::{Duration, Instant};

use rules_abi::{RuleOutcome, decode_outcome, exports, unpack_output};
use wasmtime::{
    Caller, Engine, Extern, InstancePre, Memory, ModuleExport, ResourceLimiter, Store, Trap,
    TypedFunc,
};

use crate::log::LogSink;
use crate::{RuleFailure, RuleLimits};

/// Calls from a rule into the host allowed per call. `log` is cheap, but epochs and fuel do
/// not count time spent in the host, so the number of calls is bounded on its own.
pub const MAX_HOST_CALLS: u32 = 1_000;

/// A module compiled and linked once, instantiated per call.
pub(crate) struct CompiledRule {
    /// How the module reads its input.
    pub(crate) abi: crate::AbiVersion,
    pub(crate) pre: InstancePre<CallState>,
    pub(crate) memory: ModuleExport,
    pub(crate) alloc: ModuleExport,
    pub(crate) on_token: ModuleExport,
}

impl std::fmt::Debug for CompiledRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledRule").finish_non_exhaustive()
    }
}

/// What a successful call reports.
#[derive(Debug)]
pub(crate) struct CallReport {
    pub(crate) outcome: RuleOutcome,
    pub(crate) fuel_used: u64,
    pub(crate) duration: Duration,
    pub(crate) log: LogSink,
}

/// The per-call state inside the `Store`.
#[derive(Debug)]
pub(crate) struct CallState {
    fence: Fence,
    log: LogSink,
}

/// Enforces memory, table and host-call limits, and remembers which one tripped so the
/// resulting trap can be reported as that limit rather than a generic error.
#[derive(Debug)]
struct Fence {
    memory_bytes: usize,
    table_elements: usize,
    host_calls: u32,
    tripped: Option<RuleFailure>,
}

impl Fence {
    fn trip(&mut self, failure: RuleFailure) -> wasmtime::Error {
        let message = failure.to_string();
        self.tripped = Some(failure);
        wasmtime::Error::msg(message)
    }
}

impl ResourceLimiter for Fence {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            return Err(self.trip(RuleFailure::MemoryLimit {
                limit_bytes: self.memory_bytes,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            return Err(self.trip(RuleFailure::TableLimit {
                limit_elements: self.table_elements,
            }));
        }
        Ok(true)
    }
}

/// The `log(ptr, len)` import.
pub(crate) fn host_log(
    mut caller: Caller<'_, CallState>,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<()> {
    let fence = &mut caller.data_mut().fence;
    fence.host_calls += 1;
    if fence.host_calls > MAX_HOST_CALLS {
        return Err(fence.trip(RuleFailure::TooManyHostCalls {
            max: MAX_HOST_CALLS,
        }));
    }
    let memory = caller
        .get_export(exports::MEMORY)
        .and_then(Extern::into_memory);
    let Some(memory) = memory else {
        return Err(caller.data_mut().fence.trip(RuleFailure::BadHostCall));
    };
    let (data, state) = memory.data_and_store_mut(&mut caller);
    let start = ptr as u32 as usize;
    let line = start
        .checked_add(len as u32 as usize)
        .and_then(|end| data.get(start..end));
    match line {
        Some(line) => {
            state.log.push(line);
            Ok(())
        }
        None => Err(state.fence.trip(RuleFailure::BadHostCall)),
    }
}

/// Runs one rule on `input` under `limits`, with `timeout` of wall clock.
pub(crate) fn call_rule(
    engine: &Engine,
    rule: &CompiledRule,
    input: &[u8],
    limits: &RuleLimits,
    timeout: Duration,
    tick: Duration,
) -> Result<CallReport, RuleFailure> {
    if input.len() > limits.input_bytes {
        return Err(RuleFailure::InputTooLarge {
            len: input.len(),
            max: limits.input_bytes,
        });
    }
    let started = Instant::now();
    let state = CallState {
        fence: Fence {
            memory_bytes: limits.memory_bytes,
            table_elements: limits.table_elements,
            host_calls: 0,
            tripped: None,
        },
        log: LogSink::new(limits.log_bytes, limits.log_line_chars),
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.fence);
    store
        .set_fuel(limits.fuel)
        .map_err(|e| RuleFailure::Instantiation {
            message: e.to_string(),
        })?;
    // The ticker may advance right after this line, so one extra tick keeps the full budget.
    let ticks = timeout.as_micros().div_ceil(tick.as_micros().max(1)) as u64 + 1;
    store.set_epoch_deadline(ticks);

    let result = run(&mut store, rule, input, limits.output_bytes);
    let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
    let duration = started.elapsed();
    let CallState { fence, log } = store.into_data();
    match result {
        Ok(outcome) => Ok(CallReport {
            outcome,
            fuel_used,
            duration,
            log,
        }),
        Err(CallError::Rule(failure)) => Err(failure),
        Err(CallError::Wasm(error)) => Err(fence
            .tripped
            .unwrap_or_else(|| classify(&error, limits, timeout))),
    }
}

enum CallError {
    Wasm(wasmtime::Error),
    Rule(RuleFailure),
}

impl From<wasmtime::Error> for CallError {
    fn from(error: wasmtime::Error) -> Self {
        CallError::Wasm(error)
    }
}

fn run(
    store: &mut Store<CallState>,
    rule: &CompiledRule,
    input: &[u8],
    output_max: usize,
) -> Result<RuleOutcome, CallError> {
    let instance = rule.pre.instantiate(&mut *store)?;
    let memory: Memory = instance
        .get_module_export(&mut *store, &rule.memory)
        .and_then(Extern::into_memory)
        .ok_or_else(|| wasmtime::Error::msg("memory export vanished"))?;
    let alloc: TypedFunc<i32, i32> = typed_export(store, &instance, &rule.alloc)?;
    let on_token: TypedFunc<(i32, i32), i64> = typed_export(store, &instance, &rule.on_token)?;

    // Inputs are capped far below 2 GiB, so the length fits an i32.
    let len = input.len() as u32;
    let ptr = alloc.call(&mut *store, len as i32)? as u32;
    memory
        .write(&mut *store, ptr as usize, input)
        .map_err(|_| CallError::Rule(RuleFailure::AllocOutOfBounds { ptr, len }))?;

    let (out_ptr, out_len) = unpack_output(on_token.call(&mut *store, (ptr as i32, len as i32))?);
    if out_len as usize > output_max {
        return Err(CallError::Rule(RuleFailure::OutputTooLarge {
            len: out_len as usize,
            max: output_max,
        }));
    }
    let start = out_ptr as usize;
    let output = start
        .checked_add(out_len as usize)
        .and_then(|end| memory.data(&*store).get(start..end))
        .ok_or(CallError::Rule(RuleFailure::OutputOutOfBounds {
            ptr: out_ptr,
            len: out_len,
        }))?;
    decode_outcome(output, output_max).map_err(|e| CallError::Rule(RuleFailure::BadOutput(e)))
}

fn typed_export<P, R>(
    store: &mut Store<CallState>,
    instance: &wasmtime::Instance,
    export: &ModuleExport,
) -> Result<TypedFunc<P, R>, CallError>
where
    P: wasmtime::WasmParams,
    R: wasmtime::WasmResults,
{
    let func = instance
        .get_module_export(&mut *store, export)
        .and_then(Extern::into_func)
        .ok_or_else(|| wasmtime::Error::msg("function export vanished"))?;
    Ok(func.typed::<P, R>(&*store)?)
}

fn classify(error: &wasmtime::Error, limits: &RuleLimits, timeout: Duration) -> RuleFailure {
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => RuleFailure::OutOfFuel { limit: limits.fuel },
        Some(Trap::Interrupt) => RuleFailure::Deadline {
            limit_ms: timeout.as_millis() as u64,
        },
        Some(Trap::StackOverflow) => RuleFailure::StackOverflow,
        Some(trap) => RuleFailure::Trap {
            message: trap.to_string(),
        },
        None => RuleFailure::Instantiation {
            message: error.to_string(),
        },
    }
}
