;; `instantiate.wat` with a 1 MiB data segment: what a copy-on-write memory
;; image saves. The bench sides replace @MEBIBYTE@ with 1 MiB of bytes.
(module
  (memory (export "memory") 17)
  (data (i32.const 0) "@MEBIBYTE@")
  (global $id (mut i64) (i64.const 0))
  (func (export "__frnt_set_id") (param i64) (global.set $id (local.get 0)))
  (func (export "get_id") (param i64 i64 i64) (result i64) (global.get $id)))
