;; The demo's guest: a Freenet-shaped module with a buffer allocator and a
;; few computations to run under limits.
(module
  (memory (export "memory") 1)
  (global $id (mut i64) (i64.const 0))
  (global $heap (mut i32) (i32.const 1024))

  (func (export "__frnt_set_id") (param i64) (global.set $id (local.get 0)))

  ;; Returns the offset of a buffer struct {start: i64, capacity: u32, pad: u32,
  ;; last_read: i64, last_write: i64}, followed by its counters and data.
  (func (export "__frnt__initiate_buffer") (param $cap i32) (result i64)
    (local $s i32)
    (local.set $s (global.get $heap))
    (i64.store (local.get $s) (i64.extend_i32_u (i32.add (local.get $s) (i32.const 40))))
    (i32.store offset=8 (local.get $s) (local.get $cap))
    (i64.store offset=16 (local.get $s) (i64.extend_i32_u (i32.add (local.get $s) (i32.const 32))))
    (i64.store offset=24 (local.get $s) (i64.extend_i32_u (i32.add (local.get $s) (i32.const 36))))
    (global.set $heap (i32.add (global.get $heap) (i32.add (local.get $cap) (i32.const 40))))
    (i64.extend_i32_u (local.get $s)))

  ;; FNV-1a over the bytes a buffer struct says were written.
  (func (export "checksum") (param $buf i64) (param i64 i64) (result i64)
    (local $p i32) (local $end i32) (local $h i64)
    (local.set $p (i32.wrap_i64 (i64.load (i32.wrap_i64 (local.get $buf)))))
    (local.set $end (i32.add (local.get $p)
      (i32.load (i32.wrap_i64 (i64.load offset=24 (i32.wrap_i64 (local.get $buf)))))))
    (local.set $h (i64.const 0xcbf29ce484222325))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $h (i64.mul (i64.xor (local.get $h) (i64.load8_u (local.get $p))) (i64.const 0x100000001b3)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next)))
    (local.get $h))

  ;; Naive recursive Fibonacci: exponential work, good for burning fuel.
  (func $fib (export "fib") (param $n i64) (param i64 i64) (result i64)
    (if (result i64) (i64.lt_u (local.get $n) (i64.const 2))
      (then (local.get $n))
      (else (i64.add
        (call $fib (i64.sub (local.get $n) (i64.const 1)) (i64.const 0) (i64.const 0))
        (call $fib (i64.sub (local.get $n) (i64.const 2)) (i64.const 0) (i64.const 0))))))

  (func (export "divide") (param i64 i64 i64) (result i64) (i64.div_s (local.get 0) (local.get 1)))

  ;; memory.grow by the given pages: the old size, or -1 when refused.
  (func (export "grow") (param i64 i64 i64) (result i64)
    (i64.extend_i32_s (memory.grow (i32.wrap_i64 (local.get 0)))))
)
