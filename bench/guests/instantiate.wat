;; A small Freenet-shaped module for instantiate + __frnt_set_id + drop.
(module
  (memory (export "memory") 1)
  (global $id (mut i64) (i64.const 0))
  (func (export "__frnt_set_id") (param i64) (global.set $id (local.get 0)))
  (func (export "get_id") (param i64 i64 i64) (result i64) (global.get $id)))
