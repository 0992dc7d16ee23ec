;; Call overhead: a trivial (i64, i64, i64) -> i64 export.
(module
  (func (export "add3") (param i64 i64 i64) (result i64)
    (i64.add (i64.add (local.get 0) (local.get 1)) (local.get 2))))
