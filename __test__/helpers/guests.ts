/** WebAssembly text of the guests the tests run. */

/** Freenet-shaped guest: id, buffer allocation, memory, arithmetic, traps. */
export const FREENET_GUEST = `
(module
  (memory (export "memory") 1)
  (global $id (mut i64) (i64.const -1))
  (global $heap (mut i32) (i32.const 1024))
  (func (export "__frnt_set_id") (param i64) (global.set $id (local.get 0)))
  (func (export "get_id") (param i64 i64 i64) (result i64) (global.get $id))
  ;; Allocates a buffer struct {start: i64, capacity: u32, pad: u32, last_read: i64, last_write: i64}
  ;; followed by its two u32 counters and the data area; returns the struct's offset.
  (func (export "__frnt__initiate_buffer") (param $cap i32) (result i64)
    (local $s i32)
    (local.set $s (global.get $heap))
    (i64.store (local.get $s) (i64.extend_i32_u (i32.add (local.get $s) (i32.const 40))))
    (i32.store offset=8 (local.get $s) (local.get $cap))
    (i64.store offset=16 (local.get $s) (i64.extend_i32_u (i32.add (local.get $s) (i32.const 32))))
    (i64.store offset=24 (local.get $s) (i64.extend_i32_u (i32.add (local.get $s) (i32.const 36))))
    (global.set $heap (i32.add (global.get $heap) (i32.add (local.get $cap) (i32.const 40))))
    (i64.extend_i32_u (local.get $s)))
  (func (export "add3") (param i64 i64 i64) (result i64)
    (i64.add (i64.add (local.get 0) (local.get 1)) (local.get 2)))
  ;; Sums the bytes in [ptr, ptr + len).
  (func (export "sum_bytes") (param $ptr i64) (param $len i64) (param i64) (result i64)
    (local $acc i64)
    (block $done (loop $next
      (br_if $done (i64.eqz (local.get $len)))
      (local.set $acc (i64.add (local.get $acc) (i64.load8_u (i32.wrap_i64 (local.get $ptr)))))
      (local.set $ptr (i64.add (local.get $ptr) (i64.const 1)))
      (local.set $len (i64.sub (local.get $len) (i64.const 1)))
      (br $next)))
    (local.get $acc))
  ;; Writes "hello" at offset 16.
  (func (export "write_hello")
    (i32.store8 (i32.const 16) (i32.const 104)) (i32.store8 (i32.const 17) (i32.const 101))
    (i32.store8 (i32.const 18) (i32.const 108)) (i32.store8 (i32.const 19) (i32.const 108))
    (i32.store8 (i32.const 20) (i32.const 111)))
  ;; memory.grow by a pages; returns the old size in pages or -1.
  (func (export "grow") (param $pages i64) (param i64 i64) (result i64)
    (i64.extend_i32_s (memory.grow (i32.wrap_i64 (local.get $pages)))))
  (func (export "noop"))
  (func (export "unreachable") unreachable)
  (func (export "div") (param i64 i64 i64) (result i64) (i64.div_s (local.get 0) (local.get 1)))
  (func (export "div2") (param i64 i64) (result i64) (i64.div_s (local.get 0) (local.get 1)))
  (func (export "load") (param i64 i64 i64) (result i64) (i64.load (i32.wrap_i64 (local.get 0))))
  (func $recurse (export "recurse") (param i64 i64 i64) (result i64)
    (i64.add (i64.const 1) (call $recurse (local.get 0) (local.get 1) (local.get 2))))
  ;; Counts down from a; burns fuel proportional to a.
  (func (export "spin") (param $n i64) (param i64 i64) (result i64)
    (block $done (loop $next
      (br_if $done (i64.eqz (local.get $n)))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $next)))
    (i64.const 42))
  (func (export "forever") (param i64 i64 i64) (result i64) (loop $l (br $l)) (i64.const 0))
  (func (export "forever_void") (loop $l (br $l)))
  (func (export "wrong_sig") (param i32) (result i32) (local.get 0))
)`

/** A guest whose start function traps. */
export const TRAPPING_START = `
(module
  (func $start unreachable)
  (start $start))`

/** A guest whose start function never returns. */
export const LOOPING_START = `
(module
  (func $start (loop $l (br $l)))
  (start $start))`

/** A guest that needs a host import nobody provides. */
export const NEEDS_IMPORT = `
(module
  (import "env" "missing" (func (param i32)))
  (func (export "run") (call 0 (i32.const 1))))`

/** A V2 delegate: imports an asynchronous Freenet namespace. */
export const V2_DELEGATE = `
(module
  (import "freenet_delegate_contracts" "__frnt__delegate__get_contract_state_len" (func (param i64 i32) (result i64)))
  (memory (export "memory") 1))`

/** A guest whose initial memory is `pages` pages. */
export function memoryOfPages(pages: number): string {
  return `(module (memory (export "memory") ${pages}))`
}

/** A guest without memory, with a `__frnt_set_id` of the wrong type. */
export const BAD_SET_ID = `
(module
  (func (export "__frnt_set_id") (param i32)))`

/** A guest without any memory export. */
export const NO_MEMORY = `
(module
  (func (export "add3") (param i64 i64 i64) (result i64) (local.get 0)))`

/** A guest whose start function grows its table past the cap. */
export const TABLE_GROWER = `
(module
  (table (export "table") 1 funcref)
  (func (export "grow_table") (param $n i64) (param i64 i64) (result i64)
    (i64.extend_i32_s (table.grow (ref.null func) (i32.wrap_i64 (local.get $n))))))`

/** Appends its first argument to a list in memory; returns the list's new length. */
export const RECORDER = `
(module
  (memory (export "memory") 1)
  (global $n (mut i64) (i64.const 0))
  (func (export "record") (param $v i64) (param i64) (result i64)
    (i64.store (i32.wrap_i64 (i64.mul (global.get $n) (i64.const 8))) (local.get $v))
    (global.set $n (i64.add (global.get $n) (i64.const 1)))
    (global.get $n)))`

/** A module of `functions` distinct functions: large enough that compiling it takes a while. */
export function largeModule(functions: number, salt = 0): string {
  const body = Array.from(
    { length: functions },
    (_, i) => `(func (export "f${i}") (param i64) (result i64)
      (local $acc i64)
      (local.set $acc (i64.add (local.get 0) (i64.const ${i + salt})))
      (block $done (loop $next
        (br_if $done (i64.gt_u (local.get $acc) (i64.const ${1000 + i})))
        (local.set $acc (i64.mul (i64.add (local.get $acc) (i64.const 3)) (i64.const 7)))
        (br $next)))
      (i64.xor (local.get $acc) (i64.const ${i * 31 + salt})))`,
  )
  return `(module ${body.join('\n')})`
}

/**
 * A guest of JavaScript imports: `env.add(i32, i64, f64) -> i64`,
 * `env.log(ptr, len)`, `env.pair() -> (i32, i64)`, `env.floats(f32, f64) -> f32`,
 * the async `env.wait(ms) -> i64`, and `env.grown()` which it calls after growing
 * its memory.
 */
export const IMPORTING_GUEST = `
(module
  (import "env" "add" (func $add (param i32 i64 f64) (result i64)))
  (import "env" "log" (func $log (param i32 i32)))
  (import "env" "pair" (func $pair (result i32 i64)))
  (import "env" "floats" (func $floats (param f32 f64) (result f32)))
  (import "env" "wait" (func $wait (param i64) (result i64)))
  (import "env" "grown" (func $grown (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "hello")
  (func (export "add") (param i64 i64 i64) (result i64)
    (call $add (i32.wrap_i64 (local.get 0)) (local.get 1) (f64.convert_i64_s (local.get 2))))
  (func (export "log") (param i64 i64 i64) (result i64)
    (call $log (i32.const 8) (i32.const 5)) (i64.const 0))
  (func (export "pair") (param i64 i64 i64) (result i64)
    (local $b i64) (local $a i32)
    (call $pair) (local.set $b) (local.set $a)
    (i64.add (i64.extend_i32_s (local.get $a)) (local.get $b)))
  (func (export "floats") (param i64 i64 i64) (result i64)
    (i64.trunc_f32_s (call $floats (f32.const 1.5) (f64.const 2.25))))
  (func (export "wait") (param i64 i64 i64) (result i64) (call $wait (local.get 0)))
  (func (export "wait_twice") (param i64 i64 i64) (result i64)
    (i64.add (call $wait (local.get 0)) (call $wait (local.get 0))))
  ;; Grows memory by a pages, writes 0x2a at the last byte, asks the host to look.
  (func (export "grow_then_call") (param $pages i64) (param i64 i64) (result i64)
    (local $last i32)
    (drop (memory.grow (i32.wrap_i64 (local.get $pages))))
    (local.set $last (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 1)))
    (i32.store8 (local.get $last) (i32.const 42))
    (call $grown (local.get $last))
    (i64.load8_u (i32.sub (local.get $last) (i32.const 1)))))`

/** A guest whose start function calls the import `env.started(i32)`. */
export const START_CALLS_IMPORT = `
(module
  (import "env" "started" (func $started (param i32)))
  (func $start (call $started (i32.const 7)))
  (start $start))`

/** `spin(n)` like FREENET_GUEST's, calling the import `env.mark` when it starts and when it ends. */
export const MARKED_SPIN = `
(module
  (import "env" "mark" (func $mark))
  (func (export "spin") (param $n i64) (param i64 i64) (result i64)
    (call $mark)
    (block $done (loop $next
      (br_if $done (i64.eqz (local.get $n)))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $next)))
    (call $mark)
    (i64.const 42)))`
