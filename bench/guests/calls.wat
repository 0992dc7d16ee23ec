;; The smallest exports of each call shape: `noop` (`callVoid`) and `addf`
;; (a signature without a typed fast path, called through the dynamic entry).
(module
  (func (export "noop"))
  (func (export "addf") (param f64 f64) (result f64)
    (f64.add (local.get 0) (local.get 1))))
