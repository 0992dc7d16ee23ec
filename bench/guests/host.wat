;; Host import round trips: calls `env.ping(i64) -> i64` (sync) or
;; `env.wait(i64) -> i64` (async) `n` times.
(module
  (import "env" "ping" (func $ping (param i64) (result i64)))
  (import "env" "wait" (func $wait (param i64) (result i64)))
  (func (export "ping") (param $n i64) (param i64 i64) (result i64)
    (local $acc i64)
    (block $done (loop $next
      (br_if $done (i64.eqz (local.get $n)))
      (local.set $acc (i64.add (local.get $acc) (call $ping (local.get $n))))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $next)))
    (local.get $acc))
  (func (export "wait") (param $n i64) (param i64 i64) (result i64)
    (local $acc i64)
    (block $done (loop $next
      (br_if $done (i64.eqz (local.get $n)))
      (local.set $acc (i64.add (local.get $acc) (call $wait (local.get $n))))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $next)))
    (local.get $acc)))
