//! Engines on the host's thread: instances, calls through every entry
//! shape, the errors a caller can meet, the memory cap, stores and the instance pool.

#[path = "common/support_tests.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{config, engine, engine_with, expect_kind, module};
use wasm_engine_core::{
    Engine, ErrorKind, Function, Instance, Kind, RuntimeConfig, Site, TrapCode, Val, WasmError,
};

const PAGE: usize = 65_536;

/// A guest with one export per entry shape and per trap.
const GUEST: &str = r#"
(module
  (memory (export "memory") 1)
  (func (export "__frnt_set_id") (param $id i64)
    (i64.store (i32.const 0) (local.get $id)))
  (func (export "__frnt__initiate_buffer") (param $size i32) (result i64)
    (i64.add (i64.extend_i32_u (local.get $size)) (i64.const 1024)))
  ;; (i64, i64, i64) -> i64, through the typed entry: a * 1000 + b * 10 - c,
  ;; so that any two arguments swapped change the result.
  (func (export "combine") (param $a i64) (param $b i64) (param $c i64) (result i64)
    (i64.sub
      (i64.add
        (i64.mul (local.get $a) (i64.const 1000))
        (i64.mul (local.get $b) (i64.const 10)))
      (local.get $c)))
  ;; (i64, i64) -> i64, through the typed entry.
  (func (export "rotate") (param i64 i64) (result i64)
    (i64.rotl (local.get 0) (local.get 1)))
  ;; () -> (): counts its calls at offset 8.
  (func (export "touch")
    (i32.store (i32.const 8) (i32.add (i32.load (i32.const 8)) (i32.const 1))))
  ;; A dynamic signature with several results, passed through untouched.
  (func (export "mixed") (param $i i32) (param $f f32) (param $d f64) (result f64 f32 i32 i64)
    (local.get $d)
    (local.get $f)
    (i32.mul (local.get $i) (i32.const 3))
    (i64.extend_i32_s (local.get $i)))
  (func (export "negate") (param f64) (result f64)
    (f64.neg (local.get 0)))
  (func (export "divide") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func (export "crash")
    (unreachable))
  (func (export "load") (param i32) (result i32)
    (i32.load (local.get 0)))
  (func (export "grow") (param i32) (result i32)
    (memory.grow (local.get 0)))
  (func (export "spin")
    (loop $forever (br $forever)))
)
"#;

fn create(engine: &Engine, module: &wasm_engine_core::Module, id: i64) -> Instance {
    engine
        .create_instance(Site::Direct, module, id, 0)
        .expect("instance")
}

fn function(engine: &Engine, instance: &Instance, name: &str) -> Function {
    engine
        .function(Site::Direct, instance.target(), name)
        .expect("function")
}

/// Calls `f` on the host's thread and returns its results.
fn call(engine: &Engine, f: &Function, args: &[Val]) -> Result<Vec<Val>, WasmError> {
    let mut results = vec![Val::I32(0); f.signature().results.len()];
    engine.invoke(Site::Direct, f, args, &mut results, None)?;
    Ok(results)
}

/// What the guest's `combine` computes.
fn combined(a: i64, b: i64, c: i64) -> i64 {
    a.wrapping_mul(1000)
        .wrapping_add(b.wrapping_mul(10))
        .wrapping_sub(c)
}

fn call_i64(engine: &Engine, f: &Function, args: &[Val]) -> i64 {
    let results = call(engine, f, args).expect("call");
    results[0].unwrap_i64()
}

// --- 1. Basics -------------------------------------------------------------

#[test]
fn create_instance_passes_the_id_and_reserves_the_requested_bytes() {
    let engine = engine();
    let module = module(&engine, GUEST);
    let id = -0x1234_5678_9abc_def0;
    let instance = engine
        .create_instance(Site::Direct, &module, id, 3 * PAGE + 1)
        .unwrap();
    assert_eq!(instance.id(), id);
    assert_eq!(instance.target().id(), id);
    let stored = engine.read_memory(Site::Direct, &instance, 0, 8).unwrap();
    assert_eq!(i64::from_le_bytes(stored.try_into().unwrap()), id);
    // Rounded up to whole pages.
    assert_eq!(
        engine.memory_size(Site::Direct, &instance).unwrap(),
        4 * PAGE
    );
    // The grown memory is usable up to its last byte.
    let last = i64::try_from(4 * PAGE - 2).unwrap();
    engine
        .write_memory(Site::Direct, &instance, last, &[0xab, 0xcd])
        .unwrap();
    assert_eq!(
        engine
            .read_memory(Site::Direct, &instance, last, 2)
            .unwrap(),
        [0xab, 0xcd]
    );
    // A request below the current size grows nothing.
    let small = engine
        .create_instance(Site::Direct, &module, 2, 100)
        .unwrap();
    assert_eq!(engine.memory_size(Site::Direct, &small).unwrap(), PAGE);
    let stats = engine.stats().unwrap();
    assert_eq!(stats.instances, 2);
    assert_eq!(stats.compiles, 1);
}

#[test]
fn typed_entries_return_exact_results() {
    let engine = engine();
    let module = module(&engine, GUEST);
    let instance = create(&engine, &module, 1);

    let combine = function(&engine, &instance, "combine");
    assert_eq!(combine.name(), "combine");
    assert_eq!(combine.instance_id(), 1);
    combine
        .ensure_signature(&[Kind::I64, Kind::I64, Kind::I64], &[Kind::I64])
        .unwrap();
    for (a, b, c) in [
        (6, 7, 2),
        (-3, 5, -100),
        (i64::MAX, 2, 0),
        (i64::MIN, -1, 1),
        (1 << 40, 1 << 30, 12_345),
    ] {
        let args = [Val::I64(a), Val::I64(b), Val::I64(c)];
        assert_eq!(
            call_i64(&engine, &combine, &args),
            combined(a, b, c),
            "combine({a}, {b}, {c})"
        );
    }

    let rotate = function(&engine, &instance, "rotate");
    let x = 0x8000_0000_0000_0001_u64 as i64;
    assert_eq!(
        call_i64(&engine, &rotate, &[Val::I64(x), Val::I64(4)]),
        x.rotate_left(4)
    );

    let touch = function(&engine, &instance, "touch");
    touch.ensure_signature(&[], &[]).unwrap();
    for _ in 0..3 {
        assert!(call(&engine, &touch, &[]).unwrap().is_empty());
    }
    let count = engine.read_memory(Site::Direct, &instance, 8, 4).unwrap();
    assert_eq!(u32::from_le_bytes(count.try_into().unwrap()), 3);

    assert_eq!(
        engine
            .initiate_buffer(Site::Direct, &instance, 4000)
            .unwrap(),
        5024
    );
}

#[test]
fn dynamic_entries_keep_every_bit_of_floats() {
    let engine = engine();
    let module = module(&engine, GUEST);
    let instance = create(&engine, &module, 1);
    let mixed = function(&engine, &instance, "mixed");
    assert_eq!(
        mixed.signature().to_string(),
        "(i32, f32, f64) -> (f64, f32, i32, i64)"
    );
    mixed
        .ensure_signature(
            &[Kind::I32, Kind::F32, Kind::F64],
            &[Kind::F64, Kind::F32, Kind::I32, Kind::I64],
        )
        .unwrap();

    // A quiet NaN with a payload, a signalling-looking NaN, -0.0 and plain numbers.
    let nan64 = 0x7ff8_0000_dead_beef_u64;
    let nan32 = 0x7fc0_1234_u32;
    for (i, f, d) in [
        (-7, nan32, nan64),
        (5, (-0.0f32).to_bits(), (-0.0f64).to_bits()),
        (1, 1.5f32.to_bits(), std::f64::consts::PI.to_bits()),
        (i32::MIN, 0xffc0_0001, 0xfff0_0000_0000_0001),
    ] {
        let results = call(&engine, &mixed, &[Val::I32(i), Val::F32(f), Val::F64(d)]).unwrap();
        assert_eq!(results.len(), 4);
        assert_eq!(results[0].unwrap_f64().to_bits(), d, "f64 {d:#x}");
        assert_eq!(results[1].unwrap_f32().to_bits(), f, "f32 {f:#x}");
        assert_eq!(results[2].unwrap_i32(), i.wrapping_mul(3));
        assert_eq!(results[3].unwrap_i64(), i64::from(i));
    }

    let negate = function(&engine, &instance, "negate");
    let zero = call(&engine, &negate, &[Val::F64(0.0f64.to_bits())]).unwrap();
    assert_eq!(zero[0].unwrap_f64().to_bits(), (-0.0f64).to_bits());
    let nan = call(&engine, &negate, &[Val::F64(nan64)]).unwrap();
    assert_eq!(nan[0].unwrap_f64().to_bits(), nan64 | (1 << 63));
}

// --- 2. Errors -------------------------------------------------------------

#[test]
fn a_missing_export_names_itself_and_the_instance() {
    let engine = engine();
    let module = module(&engine, GUEST);
    let instance = create(&engine, &module, 42);
    let err = expect_kind(
        engine.function(Site::Direct, instance.target(), "no_such_export"),
        ErrorKind::Export,
    );
    assert_eq!(err.export(), Some("no_such_export"));
    assert_eq!(err.instance(), Some(42));
    assert!(err.message().contains("no_such_export"), "{err}");
    // A memory is not a function either.
    let err = expect_kind(
        engine.function(Site::Direct, instance.target(), "memory"),
        ErrorKind::Export,
    );
    assert_eq!(err.export(), Some("memory"));
}

#[test]
fn ensure_signature_refuses_another_signature() {
    let engine = engine();
    let module = module(&engine, GUEST);
    let instance = create(&engine, &module, 5);
    let combine = function(&engine, &instance, "combine");
    let err = expect_kind(
        combine.ensure_signature(&[Kind::I64, Kind::I64], &[Kind::I64]),
        ErrorKind::Export,
    );
    assert_eq!(err.export(), Some("combine"));
    assert_eq!(err.instance(), Some(5));
    assert!(
        err.message()
            .contains("has type (i64, i64, i64) -> (i64), not (i64, i64) -> (i64)"),
        "{err}"
    );
    expect_kind(
        combine.ensure_signature(&[Kind::I64, Kind::I64, Kind::I64], &[Kind::I32]),
        ErrorKind::Export,
    );
}

#[test]
fn traps_are_runtime_errors_with_their_code() {
    let engine = engine();
    let module = module(&engine, GUEST);
    let instance = create(&engine, &module, 9);
    let divide = function(&engine, &instance, "divide");
    let crash = function(&engine, &instance, "crash");
    let load = function(&engine, &instance, "load");
    let cases = [
        (
            &divide,
            vec![Val::I32(1), Val::I32(0)],
            TrapCode::IntegerDivisionByZero,
        ),
        (&crash, vec![], TrapCode::UnreachableCodeReached),
        (
            &load,
            vec![Val::I32(PAGE as i32 - 2)],
            TrapCode::MemoryOutOfBounds,
        ),
        (
            &divide,
            vec![Val::I32(i32::MIN), Val::I32(-1)],
            TrapCode::IntegerOverflow,
        ),
    ];
    for (function, args, trap) in cases {
        let err = expect_kind(call(&engine, function, &args), ErrorKind::Runtime);
        assert_eq!(err.trap(), Some(trap), "{err}");
        assert_eq!(err.instance(), Some(9));
        assert_eq!(err.export(), Some(function.name()));
        assert!(err.message().contains("trapped"), "{err}");
        assert!(err.cause().is_none());
    }
    // A trap leaves the instance usable.
    let ok = call(&engine, &divide, &[Val::I32(9), Val::I32(-3)]).unwrap();
    assert_eq!(ok[0].unwrap_i32(), -3);
}

#[test]
fn metering_stops_an_endless_guest_with_out_of_gas() {
    // 5 s * 1000 cycles/s * 1.2 = 6000 units of fuel.
    let engine = engine_with(RuntimeConfig {
        enable_metering: Some(true),
        cpu_cycles_per_second: Some(1000.0),
        ..config()
    });
    let module = module(&engine, GUEST);
    let instance = create(&engine, &module, 3);
    let full = engine.remaining_fuel().unwrap().unwrap();
    assert!(full > 5000 && full <= 6000, "{full}");

    let combine = function(&engine, &instance, "combine");
    let args = [Val::I64(2), Val::I64(3), Val::I64(4)];
    assert_eq!(call_i64(&engine, &combine, &args), combined(2, 3, 4));
    let after_call = engine.remaining_fuel().unwrap().unwrap();
    assert!(after_call < full, "{after_call} < {full}");

    let spin = function(&engine, &instance, "spin");
    let started = Instant::now();
    let err = expect_kind(call(&engine, &spin, &[]), ErrorKind::OutOfGas);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(err.export(), Some("spin"));
    assert_eq!(err.instance(), Some(3));
    assert_eq!(engine.remaining_fuel().unwrap(), Some(0));
    // The fuel is the engine's: every instance is out of it now ...
    expect_kind(call(&engine, &combine, &args), ErrorKind::OutOfGas);
    // ... until the next instance creation refills it.
    let _other = create(&engine, &module, 4);
    assert!(engine.remaining_fuel().unwrap().unwrap() > 5000);
    assert_eq!(call_i64(&engine, &combine, &args), combined(2, 3, 4));

    let unmetered = engine_with(config());
    assert_eq!(unmetered.remaining_fuel().unwrap(), None);
}

#[test]
fn the_deadline_stops_an_endless_guest_with_timeout() {
    let engine = engine_with(RuntimeConfig {
        max_execution_seconds: Some(0.1),
        ..config()
    });
    let module = module(&engine, GUEST);
    let instance = create(&engine, &module, 11);
    let spin = function(&engine, &instance, "spin");
    // Each entry gets a fresh budget.
    for _ in 0..2 {
        let started = Instant::now();
        let err = expect_kind(call(&engine, &spin, &[]), ErrorKind::Timeout);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(95) && took < Duration::from_millis(1500),
            "stopped after {took:?}"
        );
        assert_eq!(err.export(), Some("spin"));
        assert_eq!(err.instance(), Some(11));
        assert!(err.message().contains("deadline"), "{err}");
    }
    // The instance still answers.
    let combine = function(&engine, &instance, "combine");
    let args = [Val::I64(1), Val::I64(1), Val::I64(1)];
    assert_eq!(call_i64(&engine, &combine, &args), combined(1, 1, 1));
}

#[test]
fn a_dropped_instance_is_an_invalid_handle() {
    let engine = engine();
    let module = module(&engine, GUEST);
    let instance = create(&engine, &module, 21);
    let combine = function(&engine, &instance, "combine");
    let target = instance.target();
    engine.drop_instance(Site::Direct, &instance).unwrap();

    let args = [Val::I64(1), Val::I64(1), Val::I64(1)];
    let err = expect_kind(call(&engine, &combine, &args), ErrorKind::InvalidHandle);
    assert_eq!(err.instance(), Some(21));
    assert!(err.message().contains("instance 21 was dropped"), "{err}");
    expect_kind(
        engine.function(Site::Direct, target, "combine"),
        ErrorKind::InvalidHandle,
    );
    expect_kind(
        engine.memory_size(Site::Direct, &instance),
        ErrorKind::InvalidHandle,
    );
    expect_kind(
        engine.read_memory(Site::Direct, &instance, 0, 1),
        ErrorKind::InvalidHandle,
    );
    expect_kind(
        engine.drop_instance(Site::Direct, &instance),
        ErrorKind::InvalidHandle,
    );
    assert_eq!(engine.stats().unwrap().instances, 0);
}

#[test]
fn a_closed_engine_refuses_everything() {
    let engine = engine();
    let module = module(&engine, GUEST);
    let instance = create(&engine, &module, 1);
    let combine = function(&engine, &instance, "combine");
    assert!(engine.is_healthy());
    engine.close();
    engine.close();
    assert!(!engine.is_healthy());

    let args = [Val::I64(1), Val::I64(1), Val::I64(1)];
    expect_kind(call(&engine, &combine, &args), ErrorKind::Closed);
    expect_kind(
        engine.function(Site::Direct, instance.target(), "combine"),
        ErrorKind::Closed,
    );
    expect_kind(
        engine.create_instance(Site::Direct, &module, 2, 0),
        ErrorKind::Closed,
    );
    expect_kind(
        engine.memory_size(Site::Direct, &instance),
        ErrorKind::Closed,
    );
    expect_kind(
        engine.read_memory(Site::Direct, &instance, 0, 1),
        ErrorKind::Closed,
    );
    expect_kind(
        engine.write_memory(Site::Direct, &instance, 0, &[1]),
        ErrorKind::Closed,
    );
    expect_kind(
        engine.initiate_buffer(Site::Direct, &instance, 1),
        ErrorKind::Closed,
    );
    expect_kind(
        engine.drop_instance(Site::Direct, &instance),
        ErrorKind::Closed,
    );
    expect_kind(engine.stats(), ErrorKind::Closed);
    expect_kind(engine.remaining_fuel(), ErrorKind::Closed);
    expect_kind(engine.compile(b"\0asm\x01\0\0\0"), ErrorKind::Closed);
    expect_kind(engine.compiler().map(|_| ()), ErrorKind::Closed);
    let err = expect_kind(engine.module_has_async_imports(&module), ErrorKind::Closed);
    assert!(err.message().contains("is closed"), "{err}");
}

#[test]
fn handles_of_another_engine_are_refused() {
    let first = engine();
    let second = engine();
    let module = module(&first, GUEST);
    let instance = create(&first, &module, 31);
    let combine = function(&first, &instance, "combine");

    let args = [Val::I64(1), Val::I64(1), Val::I64(1)];
    let err = expect_kind(call(&second, &combine, &args), ErrorKind::InvalidHandle);
    assert_eq!(err.instance(), Some(31));
    assert!(
        err.message()
            .contains(&format!("belongs to engine {}", first.id())),
        "{err}"
    );
    expect_kind(
        second.function(Site::Direct, instance.target(), "combine"),
        ErrorKind::InvalidHandle,
    );
    expect_kind(
        second.memory_size(Site::Direct, &instance),
        ErrorKind::InvalidHandle,
    );
    expect_kind(
        second.drop_instance(Site::Direct, &instance),
        ErrorKind::InvalidHandle,
    );
    // A module of another backend is refused too ...
    expect_kind(
        second.create_instance(Site::Direct, &module, 1, 0),
        ErrorKind::InvalidHandle,
    );
    // ... but not by an engine that shares the backend, which still
    // refuses the other engine's instances.
    let sharing = Engine::new(&config(), Some(&first), Vec::new(), None).unwrap();
    let own = create(&sharing, &module, 32);
    assert_eq!(sharing.memory_size(Site::Direct, &own).unwrap(), PAGE);
    expect_kind(
        sharing.memory_size(Site::Direct, &instance),
        ErrorKind::InvalidHandle,
    );
    // The instance still works in its own engine.
    assert_eq!(call_i64(&first, &combine, &args), combined(1, 1, 1));
    // Metering cannot be mixed within one backend.
    let metered = RuntimeConfig {
        enable_metering: Some(true),
        ..config()
    };
    let err = Engine::new(&metered, Some(&first), Vec::new(), None)
        .err()
        .expect("metering mismatch");
    assert_eq!(err.kind(), ErrorKind::Other);
}

// --- 3. Memory cap ---------------------------------------------------------

#[test]
fn the_memory_cap_refuses_requests_and_guest_growth_past_it() {
    let engine = engine_with(RuntimeConfig {
        max_memory_pages: Some(2.0),
        ..config()
    });
    let module = module(&engine, GUEST);

    let err = expect_kind(
        engine.create_instance(Site::Direct, &module, 7, 2 * PAGE + 1),
        ErrorKind::Memory,
    );
    assert_eq!(err.instance(), Some(7));
    for part in ["from 65536 to 131073 bytes", "2 pages", "131072 bytes"] {
        assert!(err.message().contains(part), "{part:?} in {err}");
    }
    assert_eq!(engine.stats().unwrap().instances, 0);

    // Exactly the cap is fine; the guest cannot grow past it.
    let full = engine
        .create_instance(Site::Direct, &module, 8, 2 * PAGE)
        .unwrap();
    assert_eq!(engine.memory_size(Site::Direct, &full).unwrap(), 2 * PAGE);
    let grow = function(&engine, &full, "grow");
    let grown = call(&engine, &grow, &[Val::I32(1)]).unwrap();
    assert_eq!(grown[0].unwrap_i32(), -1);

    let small = create(&engine, &module, 9);
    let grow = function(&engine, &small, "grow");
    assert_eq!(
        call(&engine, &grow, &[Val::I32(1)]).unwrap()[0].unwrap_i32(),
        1
    );
    assert_eq!(
        call(&engine, &grow, &[Val::I32(1)]).unwrap()[0].unwrap_i32(),
        -1
    );
    assert_eq!(engine.memory_size(Site::Direct, &small).unwrap(), 2 * PAGE);

    // A module whose initial memory is over the cap cannot be instantiated.
    let big = common::module(&engine, r#"(module (memory (export "memory") 3))"#);
    let err = expect_kind(
        engine.create_instance(Site::Direct, &big, 10, 0),
        ErrorKind::Instantiation,
    );
    assert!(err.message().contains("196608 bytes"), "{err}");
    assert_eq!(engine.stats().unwrap().instances, 2);
}

// --- 4. Stores and the instance pool ---------------------------------------

#[test]
fn each_instance_lives_in_a_store_of_its_own_dropped_with_it() {
    let engine = engine();
    let module = module(&engine, GUEST);
    let keeper = create(&engine, &module, -1);
    let keeper_combine = function(&engine, &keeper, "combine");
    for id in 0..1200 {
        let instance = create(&engine, &module, id);
        if id % 2 == 0 {
            engine.drop_instance(Site::Direct, &instance).unwrap();
        } else {
            // Orphaned: freed at once, the engine being idle.
            drop(instance);
        }
        assert_eq!(engine.stats().unwrap().instances, 1, "after instance {id}");
    }
    // 1200 instances came and went without touching the keeper.
    let args = [Val::I64(3), Val::I64(3), Val::I64(3)];
    assert_eq!(call_i64(&engine, &keeper_combine, &args), combined(3, 3, 3));
    let id = engine.read_memory(Site::Direct, &keeper, 0, 8).unwrap();
    assert_eq!(i64::from_le_bytes(id.try_into().unwrap()), -1);
    drop(keeper);
    assert_eq!(engine.stats().unwrap().instances, 0);
}

/// A config whose pool no other test shares: pools are shared by engines
/// with equal settings.
fn pooled(slots: u32) -> RuntimeConfig {
    RuntimeConfig {
        instance_pool_size: Some(f64::from(slots)),
        ..config()
    }
}

#[test]
fn a_full_instance_pool_refuses_with_its_limit_named_until_a_slot_is_freed() {
    let engine = engine_with(pooled(3));
    let module = module(&engine, GUEST);
    let live: Vec<Instance> = (0..3).map(|id| create(&engine, &module, id)).collect();
    let err = expect_kind(
        engine.create_instance(Site::Direct, &module, 3, 0),
        ErrorKind::Instantiation,
    );
    assert!(err.message().contains("instance pool is full"), "{err}");
    assert!(err.message().contains("instancePoolSize"), "{err}");
    assert_eq!(err.instance(), Some(3));
    // A dropped instance gives its slot back at once, and the new instance
    // starts from the module's own image, not from what the slot held.
    engine
        .write_memory(Site::Direct, &live[0], 100, &[7; 8])
        .unwrap();
    engine.drop_instance(Site::Direct, &live[0]).unwrap();
    let next = create(&engine, &module, 4);
    assert_eq!(
        engine.read_memory(Site::Direct, &next, 100, 8).unwrap(),
        [0; 8]
    );
    assert_eq!(engine.stats().unwrap().instances, 3);
}

#[test]
fn engines_with_equal_settings_share_one_pool() {
    let first = engine_with(pooled(2));
    let second = engine_with(pooled(2));
    let in_first = module(&first, GUEST);
    let in_second = module(&second, GUEST);
    let _a = create(&first, &in_first, 1);
    let _b = create(&second, &in_second, 2);
    let err = expect_kind(
        first.create_instance(Site::Direct, &in_first, 3, 0),
        ErrorKind::Instantiation,
    );
    assert!(err.message().contains("share one pool"), "{err}");
    // Another pool size is another pool.
    let third = engine_with(pooled(1));
    let in_third = module(&third, GUEST);
    create(&third, &in_third, 4);
}

#[test]
fn on_demand_allocation_holds_more_instances_than_the_default_pool() {
    let engine = engine_with(pooled(0));
    let module = module(&engine, GUEST);
    let live: Vec<Instance> = (0..1100).map(|id| create(&engine, &module, id)).collect();
    assert_eq!(engine.stats().unwrap().instances, live.len());
    let last = live.last().unwrap();
    let id = engine.read_memory(Site::Direct, last, 0, 8).unwrap();
    assert_eq!(i64::from_le_bytes(id.try_into().unwrap()), 1099);
}

#[test]
fn a_refused_growth_does_not_explain_a_later_instantiation_failure() {
    let engine = engine_with(RuntimeConfig {
        max_memory_pages: Some(2.0),
        ..config()
    });
    let module = module(&engine, GUEST);
    let trapping = common::module(
        &engine,
        r#"(module
             (memory (export "memory") 1)
             (func $start (unreachable))
             (start $start))"#,
    );
    // Once without any refused growth before it: the start function's trap.
    let err = expect_kind(
        engine.create_instance(Site::Direct, &trapping, 1, 0),
        ErrorKind::Instantiation,
    );
    assert!(err.message().contains("start function trapped"), "{err}");

    // A guest's memory.grow refused by the cap ...
    let instance = create(&engine, &module, 2);
    let grow = function(&engine, &instance, "grow");
    assert_eq!(
        call(&engine, &grow, &[Val::I32(2)]).unwrap()[0].unwrap_i32(),
        -1
    );
    // ... is no reason for the next failed instantiation in that store.
    let err = expect_kind(
        engine.create_instance(Site::Direct, &trapping, 3, 0),
        ErrorKind::Instantiation,
    );
    assert!(err.message().contains("start function trapped"), "{err}");
    assert!(!err.message().contains("over the cap"), "{err}");
}

#[test]
fn a_start_function_that_traps_after_a_refused_growth_is_a_trap_not_the_cap() {
    // Found by the differential suite: a start function grew its memory
    // past the module's own maximum (refused, as it must be), then hit
    // `unreachable`; the error blamed the engine's memory cap.
    let engine = engine();
    let module = common::module(
        &engine,
        r#"(module
             (memory 1 2)
             (func $start (drop (memory.grow (i32.const 5))) (unreachable))
             (start $start))"#,
    );
    let err = expect_kind(
        engine.create_instance(Site::Direct, &module, 1, 0),
        ErrorKind::Instantiation,
    );
    assert!(err.message().contains("start function trapped"), "{err}");
    assert!(!err.message().contains("over the cap"), "{err}");
}

#[test]
fn a_data_segment_that_does_not_fit_is_named_as_such_not_as_a_start_trap() {
    // Found by the differential suite: wasmtime reports the segment as a
    // trap, which the message blamed on the start function.
    let engine = engine();
    let module = common::module(
        &engine,
        r#"(module (memory 1) (data (i32.const 65530) "0123456789"))"#,
    );
    let err = expect_kind(
        engine.create_instance(Site::Direct, &module, 1, 0),
        ErrorKind::Instantiation,
    );
    assert!(
        err.message()
            .contains("a data or element segment does not fit"),
        "{err}"
    );
    assert!(!err.message().contains("start function"), "{err}");
}

#[test]
fn the_deadline_and_fuel_also_bound_instantiation() {
    let engine = engine_with(RuntimeConfig {
        max_execution_seconds: Some(0.1),
        ..config()
    });
    let endless_start = common::module(
        &engine,
        r#"(module (func $start (loop $l (br $l))) (start $start))"#,
    );
    let started = Instant::now();
    let err = expect_kind(
        engine.create_instance(Site::Direct, &endless_start, 4, 0),
        ErrorKind::Timeout,
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(err.instance(), Some(4));
    let endless_set_id = common::module(
        &engine,
        r#"(module (func (export "__frnt_set_id") (param i64) (loop $l (br $l))))"#,
    );
    let err = expect_kind(
        engine.create_instance(Site::Direct, &endless_set_id, 5, 0),
        ErrorKind::Timeout,
    );
    assert_eq!(err.export(), Some("__frnt_set_id"));
    assert_eq!(err.instance(), Some(5));
    assert_eq!(engine.stats().unwrap().instances, 0);

    let metered = engine_with(RuntimeConfig {
        enable_metering: Some(true),
        cpu_cycles_per_second: Some(1000.0),
        ..config()
    });
    let endless_start = common::module(
        &metered,
        r#"(module (func $start (loop $l (br $l))) (start $start))"#,
    );
    expect_kind(
        metered.create_instance(Site::Direct, &endless_start, 6, 0),
        ErrorKind::OutOfGas,
    );
}

#[test]
fn an_abort_flag_stops_an_endless_guest() {
    let engine = engine();
    let module = module(&engine, GUEST);
    let instance = create(&engine, &module, 13);
    let spin = function(&engine, &instance, "spin");
    let abort: wasm_engine_core::deadline::Flag = Default::default();
    let setter = {
        let abort = abort.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            abort.store(true, std::sync::atomic::Ordering::Release);
        })
    };
    let started = Instant::now();
    let err = expect_kind(
        engine.invoke(Site::Direct, &spin, &[], &mut [], Some(&abort)),
        ErrorKind::Aborted,
    );
    setter.join().unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(45) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    assert_eq!(err.export(), Some("spin"));
    // The flag concerns that call only.
    let combine = function(&engine, &instance, "combine");
    let args = [Val::I64(2), Val::I64(2), Val::I64(0)];
    assert_eq!(call_i64(&engine, &combine, &args), combined(2, 2, 0));
}
