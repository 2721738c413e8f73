//! The [`export_rule!`] and [`log!`] macros.

/// Exports `rule` (a `fn(&Event, &mut Api)`) as a Claimsmith rule module.
///
/// Expands, on `wasm32` only, to the ABI's exports: the version marker, `alloc` and
/// `on_token`. Natively it only checks the rule's signature, so the crate's unit tests build
/// as usual.
#[macro_export]
macro_rules! export_rule {
    ($rule:path) => {
        #[cfg(not(target_arch = "wasm32"))]
        const _: $crate::Rule = $rule;

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[allow(unsafe_code, reason = "exports need unmangled names")]
            #[unsafe(export_name = $crate::__private::rules_abi::__export_abi_marker!())]
            extern "C" fn __claimsmith_abi_marker() {}

            #[allow(unsafe_code, reason = "exports need unmangled names")]
            #[unsafe(export_name = $crate::__private::rules_abi::__export_alloc!())]
            extern "C" fn __claimsmith_alloc(len: i32) -> i32 {
                $crate::__private::alloc(len)
            }

            #[allow(unsafe_code, reason = "exports need unmangled names")]
            #[unsafe(export_name = $crate::__private::rules_abi::__export_on_token!())]
            extern "C" fn __claimsmith_on_token(ptr: i32, len: i32) -> i64 {
                let rule: $crate::Rule = $rule;
                // SAFETY: the host calls `on_token` with the buffer it got from `alloc(len)`
                // and filled with `len` bytes of input, as the ABI requires.
                unsafe { $crate::__private::on_token(ptr, len, rule) }
            }
        };
    };
}

/// Writes one line to the rule's log, `format!` style. The host keeps 256 characters per line
/// and 4 KiB per call; `rule-runner` and the management API show them.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::__private::write_log(&::std::format!($($arg)*))
    };
}
