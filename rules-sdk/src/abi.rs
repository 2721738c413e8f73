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
    // SAFETY: guaranteed by the caller (the host wrote exactly `len` bytes there). The buffer
    // was leaked by `alloc`, so it lives as long as the instance: `'static` here.
    let input: &'static [u8] =
        unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len.max(0) as usize) };
    let output = crate::dispatch::dispatch(input, rule).leak();
    rules_abi::pack_output(output.as_ptr() as usize as u32, output.len() as u32)
}

/// The allocator of a rule module: a bump allocator that never frees.
///
/// Every call runs in a fresh instance that the host discards afterwards, so freeing memory
/// buys nothing, while a general-purpose allocator's bookkeeping is most of what parsing the
/// input costs. Freeing the most recent allocation, and growing it in place, are still
/// supported, which covers the common `Vec`/`String` growth pattern. Memory comes from
/// `memory.grow`; the host's memory limit bounds it.
#[cfg(all(target_arch = "wasm32", feature = "bump-allocator"))]
mod bump {
    use std::alloc::{GlobalAlloc, Layout};
    use std::cell::Cell;

    const PAGE: usize = 64 * 1024;

    pub(super) struct Bump {
        /// The next free byte; 0 until first use.
        next: Cell<usize>,
        /// The start of the most recent allocation, for in-place growth and freeing.
        last: Cell<usize>,
    }

    // SAFETY: wasm32-unknown-unknown rule modules are single-threaded (threads are disabled
    // in the host), so the `Cell`s are never accessed concurrently.
    unsafe impl Sync for Bump {}

    unsafe extern "C" {
        /// Where the linker placed the start of the heap.
        static __heap_base: u8;
    }

    impl Bump {
        pub(super) const fn new() -> Bump {
            Bump {
                next: Cell::new(0),
                last: Cell::new(0),
            }
        }

        /// Makes sure `[0, end)` is inside linear memory.
        fn reserve(end: usize) -> bool {
            let have = core::arch::wasm32::memory_size(0) * PAGE;
            if end <= have {
                return true;
            }
            let pages = (end - have).div_ceil(PAGE);
            core::arch::wasm32::memory_grow(0, pages) != usize::MAX
        }
    }

    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let mut next = self.next.get();
            if next == 0 {
                // Only the address of the linker-provided symbol is taken; it is never read.
                next = core::ptr::addr_of!(__heap_base) as usize;
            }
            let start = (next + layout.align() - 1) & !(layout.align() - 1);
            let Some(end) = start.checked_add(layout.size()) else {
                return core::ptr::null_mut();
            };
            if !Self::reserve(end) {
                return core::ptr::null_mut();
            }
            self.next.set(end);
            self.last.set(start);
            start as *mut u8
        }

        unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
            if ptr as usize == self.last.get() {
                self.next.set(self.last.get());
            }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let start = ptr as usize;
            if start == self.last.get() {
                let end = start + new_size;
                if Self::reserve(end) {
                    self.next.set(end);
                    return ptr;
                }
                return core::ptr::null_mut();
            }
            // SAFETY: the caller guarantees `layout` describes `ptr`, and `new_size` with its
            // alignment is a valid layout (GlobalAlloc::realloc's contract).
            unsafe {
                let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                let new = self.alloc(new_layout);
                if !new.is_null() {
                    core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                }
                new
            }
        }
    }
}

#[cfg(all(target_arch = "wasm32", feature = "bump-allocator"))]
#[global_allocator]
static ALLOCATOR: bump::Bump = bump::Bump::new();
