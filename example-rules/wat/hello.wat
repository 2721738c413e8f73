;; A rule written by hand in the WebAssembly text format, to show that the ABI is
;; language-neutral: any toolchain that can export these four items can write rules.
;;
;; It logs one line and adds one access-token claim. The host's testkit compiles it with the
;; `wat` crate; `wasm-tools parse hello.wat -o hello.wasm` does the same by hand.
(module
  ;; The only import a rule may have.
  (import "claimsmith" "log" (func $log (param i32 i32)))

  (memory (export "memory") 1)

  ;; Declares rule ABI version 1. Never called.
  (func (export "claimsmith_rule_abi_v1"))

  ;; A bump allocator: the host asks for room for the input exactly once per instance.
  (global $next (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $next))
    (global.set $next (i32.add (local.get $ptr) (local.get $len)))
    ;; Grow the memory if the input does not fit.
    (if (i32.gt_u (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (drop (memory.grow
          (i32.add (i32.div_u (i32.sub (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
                              (i32.const 65536))
                   (i32.const 1))))))
    (local.get $ptr))

  ;; The entry point ignores its input and returns the outcome at offset 64.
  (func (export "on_token") (param $ptr i32) (param $len i32) (result i64)
    (call $log (i32.const 16) (i32.const 14))
    ;; (64 << 32) | 63: the outcome's address and length.
    (i64.or (i64.shl (i64.const 64) (i64.const 32)) (i64.const 63)))

  (data (i32.const 16) "hello from WAT")
  (data (i32.const 64) "{\"accessToken\":{\"https://claimsmith.example/hello\":\"from WAT\"}}"))
