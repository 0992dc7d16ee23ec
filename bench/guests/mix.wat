;; Integer mixing over memory: `rounds` passes of a 64-bit finalizer over the
;; first `bytes` bytes of memory, each word rewritten in place. Loads, stores
;; and multiplies; no branches in the inner loop but its back edge.
(module
  (memory (export "memory") 16)
  (func (export "mix") (param $bytes i64) (param $rounds i64) (param $seed i64) (result i64)
    (local $i i32) (local $end i32) (local $x i64) (local $acc i64)
    (local.set $end (i32.wrap_i64 (local.get $bytes)))
    (block $done (loop $round
      (br_if $done (i64.eqz (local.get $rounds)))
      (local.set $i (i32.const 0))
      (block $pass (loop $word
        (br_if $pass (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $x (i64.xor (i64.load (local.get $i)) (local.get $seed)))
        (local.set $x (i64.mul (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 33))) (i64.const 0xff51afd7ed558ccd)))
        (local.set $x (i64.mul (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 33))) (i64.const 0xc4ceb9fe1a85ec53)))
        (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 33))))
        (i64.store (local.get $i) (local.get $x))
        (local.set $acc (i64.add (local.get $acc) (local.get $x)))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $word)))
      (local.set $rounds (i64.sub (local.get $rounds) (i64.const 1)))
      (br $round)))
    (local.get $acc)))
