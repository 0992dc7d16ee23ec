;; A Freenet contract that answers `validate_state` at once: one static input
;; buffer for every `__frnt__initiate_buffer` and a ready-made result,
;; `Ok(ValidateResult::Valid)`. What a runtime spends on it is its own
;; overhead: instantiation, buffers, the call, decoding, the drop.
(module
  (memory (export "memory") 1)
  ;; The buffer structure at 0: start 64, capacity (set per call),
  ;; last_read at 40, last_write at 44.
  (data (i32.const 0) "\40\00\00\00\00\00\00\00")
  (data (i32.const 16) "\28\00\00\00\00\00\00\00\2c\00\00\00\00\00\00\00")
  ;; The result structure at 1024: ptr 1040, kind 0 (ValidateState), size 8;
  ;; at 1040 the bincode of Ok(Valid): two u32 tags, both 0.
  (data (i32.const 1024) "\10\04\00\00\00\00\00\00\00\00\00\00\08\00\00\00")
  (func (export "__frnt_set_id") (param i64))
  (func (export "__frnt__initiate_buffer") (param $capacity i32) (result i64)
    (i32.store (i32.const 8) (local.get $capacity))
    (i64.const 0))
  (func (export "validate_state") (param i64 i64 i64) (result i64)
    (i64.const 1024)))
