//! The contract between the Claimsmith host and a rule module, versions 1 and 2.
//!
//! A rule is a core WebAssembly module for `wasm32-unknown-unknown` (no WASI, not a component).
//! This crate is the single definition of that contract: the export and import names, the
//! ABI version, the JSON input a rule receives ([`RuleInput`]) and the JSON outcome it returns
//! ([`RuleOutcome`]). The host (`rules-host`) and the guest SDK (`rules-sdk`) both depend on it,
//! so no name or wire type is written twice.
//!
//! # The calling convention
//!
//! A rule module exports exactly:
//! - `memory`: its one linear memory (not shared, not imported);
//! - the ABI marker [`exports::ABI_MARKER`], a function `() -> ()` whose name carries the version;
//! - [`exports::ALLOC`] `(len: i32) -> i32`: returns a pointer to `len` writable bytes;
//! - [`exports::ON_TOKEN`] `(ptr: i32, len: i32) -> i64`: reads the input at `ptr..ptr+len`
//!   and returns `(out_ptr << 32) | out_len` locating the outcome JSON.
//!
//! The two versions differ only in the input's encoding. Version 1 (marker
//! [`exports::ABI_MARKER_V1`]) receives the [`RuleInput`] as JSON. Version 2 (marker
//! [`exports::ABI_MARKER`], what `rules-sdk` builds) receives the same JSON followed by a table
//! of where each member lies ([`members`]), so a rule decodes only what it reads. The host runs
//! both.
//!
//! It may import only [`imports::LOG`] `(ptr: i32, len: i32) -> ()` from the module
//! [`HOST_MODULE`], and it has no start function.
//!
//! # Evolution
//!
//! Input types tolerate unknown fields, so a rule built today keeps working when the host adds
//! fields. The outcome is parsed strictly ([`decode_outcome`]): it is untrusted input.

mod input;
pub mod members;
mod outcome;
mod protocol;

pub use input::{
    Authentication, AuthenticationMethod, Authorization, Claims, Context, Identity,
    RefreshTokenInfo, Request, RuleInput, Sso, Stats, User,
};
pub use outcome::{
    Deny, DenyError, MAX_OUTCOME_DEPTH, OutcomeError, Redirect, RevokeRefreshToken, RuleOutcome,
    decode_outcome,
};
pub use protocol::Protocol;

/// The newest version of this contract, the one `rules-sdk` builds. A module declares the
/// version it was built for by exporting its marker ([`exports::ABI_MARKER`] for this one,
/// [`exports::ABI_MARKER_V1`] for version 1); the host refuses any other version.
pub const ABI_VERSION: u32 = 2;

/// Every version the host runs, oldest first.
pub const SUPPORTED_ABI_VERSIONS: [u32; 2] = [1, 2];

/// The only import module a rule may use.
pub const HOST_MODULE: &str = "claimsmith";

// Each name the guest SDK must put in an attribute (`export_name`, `link_name`, where a `const`
// is not accepted) is defined once, as a macro, and the `const` below reads that macro.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_alloc {
    () => {
        "alloc"
    };
}
#[doc(hidden)]
#[macro_export]
macro_rules! __export_on_token {
    () => {
        "on_token"
    };
}
#[doc(hidden)]
#[macro_export]
macro_rules! __export_abi_marker {
    () => {
        "claimsmith_rule_abi_v2"
    };
}
#[doc(hidden)]
#[macro_export]
macro_rules! __import_log {
    () => {
        "log"
    };
}

/// Names a rule module must export.
pub mod exports {
    /// The module's one linear memory.
    pub const MEMORY: &str = "memory";
    /// `alloc(len: i32) -> i32`: the host asks the guest for room to write the input.
    pub const ALLOC: &str = crate::__export_alloc!();
    /// `on_token(ptr: i32, len: i32) -> i64`: the entry point.
    pub const ON_TOKEN: &str = crate::__export_on_token!();
    /// `() -> ()`: its presence declares ABI version 2 ([`ABI_VERSION`](crate::ABI_VERSION)).
    /// The host never calls it.
    pub const ABI_MARKER: &str = crate::__export_abi_marker!();
    /// `() -> ()`: its presence declares ABI version 1, whose input is plain JSON.
    pub const ABI_MARKER_V1: &str = "claimsmith_rule_abi_v1";
}

/// Names a rule module may import from [`HOST_MODULE`](crate::HOST_MODULE).
pub mod imports {
    /// `log(ptr: i32, len: i32)`: append one UTF-8 line to the call's log.
    pub const LOG: &str = crate::__import_log!();
}

/// The prefix every ABI marker shares, so the host can tell "built for another version" from
/// "not a rule at all".
pub const ABI_MARKER_PREFIX: &str = "claimsmith_rule_abi_v";

/// Packs an output location into the `on_token` return value.
pub fn pack_output(ptr: u32, len: u32) -> i64 {
    ((u64::from(ptr) << 32) | u64::from(len)) as i64
}

/// Splits the `on_token` return value into `(ptr, len)`.
pub fn unpack_output(packed: i64) -> (u32, u32) {
    let bits = packed as u64;
    ((bits >> 32) as u32, bits as u32)
}

#[cfg(test)]
mod tests;
