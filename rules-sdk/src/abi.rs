//! The only `unsafe` code of the SDK: the raw exports a module gives the host, and the `log`
//! import. Everything else is safe Rust shared with native tests.
#![allow(
    unsafe_code,
    reason = "the wasm ABI passes raw pointers; this module is their only user"
)]

use crate::Rule;

// Kept in step with `rules_abi::HOST_MODULE`: `#[link]` takes only a literal, so the two are
// compared at compile time instead.
#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "claimsmith")]
unsafe extern "C" {
    #[link_name = rules_abi::__import_log!()]
    fn host_log(ptr: *const u8, len: usize);
}

const _: () = assert!(same(rules_abi::HOST_MODULE.as_bytes(), b"claimsmith"));

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Hands `line` to the host's log.
pub fn write_log(line: &str) {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: `line` is a live, initialised byte range for the duration of the call; the host
    // only reads it.
    unsafe {
        host_log(line.as_ptr(), line.len());
    }
    #[cfg(not(target_arch = "wasm32"))]
    crate::testing::capture_log(line);
}

/// The `alloc` export: room for the host to write `len` input bytes.
///
/// The buffer is leaked on purpose: every call runs in a fresh instance that the host throws
/// away afterwards, so nothing accumulates.
pub fn alloc(len: i32) -> i32 {
    let buffer = Vec::<u8>::with_capacity(len.max(0) as usize);
    let ptr = std::mem::ManuallyDrop::new(buffer).as_mut_ptr();
    ptr as usize as i32
}

/// The `on_token` export: reads the input, runs the rule, returns `(ptr << 32) | len` of the
/// outcome.
///
/// # Safety
///
/// `ptr..ptr + len` must be the initialised bytes of a buffer returned by [`alloc`]`(len)`,
/// as the host guarantees.
pub unsafe fn on_token(ptr: i32, len: i32, rule: Rule) -> i64 {
    // SAFETY: guaranteed by the caller (the host wrote exactly `len` bytes there).
    let input =
        unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len.max(0) as usize) };
    let output = crate::dispatch::dispatch(input, rule).leak();
    rules_abi::pack_output(output.as_ptr() as usize as u32, output.len() as u32)
}
