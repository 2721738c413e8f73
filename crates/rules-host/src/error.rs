//! Typed errors: one for uploads, one for running a chain.

use rules_abi::OutcomeError;

/// Why an uploaded module was refused. Each variant says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("module is {len} bytes, more than the {max} allowed")]
    TooLarge { len: usize, max: usize },
    #[error("not a WebAssembly binary (upload the .wasm file, not text or another format)")]
    NotWasm,
    #[error("module is a component; rules must be core WebAssembly modules")]
    Component,
    #[error("module is a precompiled artifact; upload the .wasm file, never compiled code")]
    Precompiled,
    #[error("module is not valid under the sandbox configuration: {message}")]
    Invalid { message: String },
    #[error("import {module}::{name} is not allowed; a rule may import only {allowed}")]
    ForbiddenImport {
        module: String,
        name: String,
        allowed: String,
    },
    #[error("import {name} has type {found}, expected {expected}")]
    ImportType {
        name: String,
        expected: String,
        found: String,
    },
    #[error("module has a start function; rules must not run code at instantiation")]
    StartFunction,
    #[error("module defines {count} functions, more than the {max} allowed")]
    TooManyFunctions { count: u32, max: u32 },
    #[error("function {index} body is {len} bytes, more than the {max} allowed")]
    FunctionBodyTooLarge { index: u32, len: usize, max: usize },
    #[error("module has {count} data segments, more than the {max} allowed")]
    TooManyDataSegments { count: u32, max: u32 },
    #[error("module data is {bytes} bytes, more than the {max} allowed")]
    DataTooLarge { bytes: usize, max: usize },
    #[error("custom sections total {bytes} bytes, more than the {max} allowed (strip debug info)")]
    CustomSectionsTooLarge { bytes: usize, max: usize },
    #[error("module must define exactly one memory, found {count}")]
    MemoryCount { count: u32 },
    #[error("memory must be a plain 32-bit, non-shared memory")]
    MemoryKind,
    #[error("memory declares a minimum of {min_bytes} bytes, more than the {max} allowed")]
    MemoryTooLarge { min_bytes: u64, max: usize },
    #[error("module defines {count} tables, at most 1 is allowed")]
    TooManyTables { count: u32 },
    #[error("table declares {initial} elements, more than the {max} allowed")]
    TableTooLarge { initial: u64, max: usize },
    #[error("module does not export {name}")]
    MissingExport { name: &'static str },
    #[error("export {name} has type {found}, expected {expected}")]
    ExportType {
        name: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("module was built for rule ABI {found:?}; this host supports {supported:?}")]
    AbiVersion {
        found: String,
        supported: &'static str,
    },
}

/// Why a chain did not produce an outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("no sandbox slot became free within the chain budget of {waited_ms} ms")]
    Overloaded { waited_ms: u64 },
    #[error("{count} rules are enabled, more than the {max} allowed")]
    TooManyRules { count: usize, max: usize },
}

impl ChainError {
    /// A sentence for the OAuth client: names the rule and the limit, never host internals.
    pub fn public_description(&self) -> String {
        match self {
            ChainError::Rule(error) => error.public_description(),
            ChainError::Overloaded { .. } => {
                "Rules could not run: the rule engine is overloaded.".to_owned()
            }
            ChainError::TooManyRules { max, .. } => {
                format!("Rules could not run: more than {max} rules are enabled.")
            }
        }
    }
}

/// One rule failed. Every failure is fail-closed: no tokens are issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule:?} failed: {failure}")]
pub struct RuleError {
    /// The rule's name as the tenant gave it.
    pub rule: String,
    pub failure: RuleFailure,
}

impl RuleError {
    /// A sentence for the OAuth client: names the rule and the limit, never host internals.
    pub fn public_description(&self) -> String {
        format!(
            "Rule '{}' failed: {}.",
            self.rule,
            self.failure.public_reason()
        )
    }
}

/// What went wrong inside one rule call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleFailure {
    #[error("ran out of fuel (limit {limit})")]
    OutOfFuel { limit: u64 },
    #[error("exceeded its time limit of {limit_ms} ms")]
    Deadline { limit_ms: u64 },
    #[error("the chain exceeded its time limit of {limit_ms} ms")]
    ChainDeadline { limit_ms: u64 },
    #[error("exceeded its memory limit of {limit_bytes} bytes")]
    MemoryLimit { limit_bytes: usize },
    #[error("exceeded its table limit of {limit_elements} elements")]
    TableLimit { limit_elements: usize },
    #[error("overflowed its stack")]
    StackOverflow,
    #[error("trapped: {message}")]
    Trap { message: String },
    #[error("input is {len} bytes, more than the {max} allowed")]
    InputTooLarge { len: usize, max: usize },
    #[error("alloc returned {ptr:#x}, which cannot hold {len} bytes")]
    AllocOutOfBounds { ptr: u32, len: u32 },
    #[error("output at {ptr:#x} of {len} bytes lies outside its memory")]
    OutputOutOfBounds { ptr: u32, len: u32 },
    #[error("output is {len} bytes, more than the {max} allowed")]
    OutputTooLarge { len: usize, max: usize },
    #[error("{0}")]
    BadOutput(OutcomeError),
    #[error("called the host more than {max} times")]
    TooManyHostCalls { max: u32 },
    #[error("passed a log line outside its memory")]
    BadHostCall,
    #[error("could not be instantiated: {message}")]
    Instantiation { message: String },
}

impl RuleFailure {
    fn public_reason(&self) -> String {
        match self {
            RuleFailure::OutOfFuel { limit } => format!("fuel limit of {limit} exceeded"),
            RuleFailure::Deadline { limit_ms } => format!("time limit of {limit_ms} ms exceeded"),
            RuleFailure::ChainDeadline { limit_ms } => {
                format!("rule chain time limit of {limit_ms} ms exceeded")
            }
            RuleFailure::MemoryLimit { limit_bytes } => {
                format!("memory limit of {limit_bytes} bytes exceeded")
            }
            RuleFailure::TableLimit { limit_elements } => {
                format!("table limit of {limit_elements} elements exceeded")
            }
            RuleFailure::StackOverflow => "stack limit exceeded".to_owned(),
            RuleFailure::Trap { .. } => "the rule trapped".to_owned(),
            RuleFailure::InputTooLarge { max, .. } => format!("input exceeds {max} bytes"),
            RuleFailure::OutputTooLarge { max, .. } => format!("output exceeds {max} bytes"),
            RuleFailure::BadOutput(_)
            | RuleFailure::AllocOutOfBounds { .. }
            | RuleFailure::OutputOutOfBounds { .. }
            | RuleFailure::BadHostCall => "the rule returned invalid output".to_owned(),
            RuleFailure::TooManyHostCalls { max } => format!("more than {max} host calls"),
            RuleFailure::Instantiation { .. } => "the rule could not be started".to_owned(),
        }
    }
}
