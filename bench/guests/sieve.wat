;; Branchy work: counts the primes up to `n` (at most 1,000,000) with the
;; sieve of Eratosthenes over a byte array in memory, `rounds` times.
(module
  (memory (export "memory") 16)
  (func (export "sieve") (param $n i64) (param $rounds i64) (param i64) (result i64)
    (local $limit i32) (local $i i32) (local $j i32) (local $count i32)
    (local.set $limit (i32.wrap_i64 (local.get $n)))
    (block $done (loop $round
      (br_if $done (i64.eqz (local.get $rounds)))
      (memory.fill (i32.const 0) (i32.const 1) (i32.add (local.get $limit) (i32.const 1)))
      (local.set $count (i32.const 0))
      (local.set $i (i32.const 2))
      (block $outer_done (loop $outer
        (br_if $outer_done (i32.gt_u (local.get $i) (local.get $limit)))
        (if (i32.load8_u (local.get $i))
          (then
            (local.set $count (i32.add (local.get $count) (i32.const 1)))
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (if (i32.le_u (local.get $i) (i32.const 46340))
              (then
                (block $inner_done (loop $inner
                  (br_if $inner_done (i32.gt_u (local.get $j) (local.get $limit)))
                  (i32.store8 (local.get $j) (i32.const 0))
                  (local.set $j (i32.add (local.get $j) (local.get $i)))
                  (br $inner)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
      (local.set $rounds (i64.sub (local.get $rounds) (i64.const 1)))
      (br $round)))
    (i64.extend_i32_u (local.get $count))))
