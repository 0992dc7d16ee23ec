//! Host imports run by a fake [`Host`]: directly on the calling thread
//! (`Site::Direct`) and posted to another thread (`Site::Worker`), with the
//! memory window of a call, failures carrying a cause, and the deadline,
//! abort flag and close stopping a guest that waits for its host.

#[path = "common/support_tests.rs"]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use common::{PATIENCE, config, engine_with_host, expect_kind, import, module, on_worker};
use wasm_engine_core::deadline::Flag;
use wasm_engine_core::{
    Engine, ErrorKind, Function, Host, HostCall, HostFailure, ImportSpec, Instance, Kind,
    PostedCall, RuntimeConfig, Site, Val, WasmError,
};

/// The guest's imports, in the order the engine numbers them.
const ADD: u32 = 0;
const FAIL: u32 = 1;
const PEEK: u32 = 2;
const LATER: u32 = 3;
const TYPED: u32 = 4;
const REENTER: u32 = 5;

fn imports() -> Vec<ImportSpec> {
    vec![
        import("env", "add", false),
        import("env", "fail", false),
        import("env", "peek", false),
        import("env", "later", true),
        import("env", "typed", false),
        import("env", "reenter", false),
    ]
}

const GUEST: &str = r#"
(module
  (import "env" "add" (func $add (param i64 i64) (result i64)))
  (import "env" "fail" (func $fail (param i32)))
  (import "env" "peek" (func $peek (param i32 i32) (result i32)))
  (import "env" "later" (func $later (param i64) (result i64)))
  (import "env" "typed" (func $typed (param i32 i64 f32 f64) (result f64 f32 i64 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello")
  (func (export "call_add") (param i64 i64) (result i64)
    (i64.add (call $add (local.get 0) (local.get 1)) (i64.const 1000)))
  ;; Traps if the host function returns instead of failing.
  (func (export "call_fail")
    (call $fail (i32.const 7))
    (unreachable))
  (func (export "call_peek") (result i32)
    (call $peek (i32.const 16) (i32.const 5)))
  (func (export "call_later") (param i64) (result i64)
    (i64.add (call $later (local.get 0)) (i64.const 1)))
  (func (export "call_typed") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
    (call $typed (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
)
"#;

/// What a host thread threw, carried through a [`HostFailure`]'s cause.
#[derive(Debug, PartialEq)]
struct Thrown(&'static str);

/// A value as a test compares it: floats by their bits.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Plain {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
}

fn plain(value: &Val) -> Plain {
    match value {
        Val::I32(x) => Plain::I32(*x),
        Val::I64(x) => Plain::I64(*x),
        Val::F32(x) => Plain::F32(*x),
        Val::F64(x) => Plain::F64(*x),
        other => panic!("unexpected value {other:?}"),
    }
}

fn plains(values: &[Val]) -> Vec<Plain> {
    values.iter().map(plain).collect()
}

/// One call a host saw on its own thread.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    index: u32,
    instance_id: i64,
    import: String,
    args: Vec<Plain>,
    results: Vec<Kind>,
}

/// What `env.peek` found in the memory window of its call.
#[derive(Debug, Default, Clone)]
struct Peek {
    token: u64,
    size: usize,
    bytes: Vec<u8>,
    out_of_bounds: Option<ErrorKind>,
    /// How a read with the previous peek's token (a call that is over) ended.
    stale: Option<Result<Vec<u8>, ErrorKind>>,
}

/// A host that runs `env.*` imports, records what it sees and hands posted
/// calls to the test through a channel.
#[derive(Default)]
struct FakeHost {
    /// The engine whose memory windows `env.peek` uses; weak, since the
    /// engine holds its host.
    engine: OnceLock<Weak<Engine>>,
    seen: Mutex<Vec<Seen>>,
    peek: Mutex<Option<Peek>>,
    posted: Mutex<Option<Sender<PostedCall>>>,
    abandoned: Mutex<Vec<u64>>,
}

impl FakeHost {
    fn engine(&self) -> Arc<Engine> {
        self.engine
            .get()
            .and_then(Weak::upgrade)
            .expect("the engine is alive")
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn abandoned(&self) -> Vec<u64> {
        self.abandoned.lock().unwrap().clone()
    }
}

impl Host for FakeHost {
    fn call_here(&self, call: &HostCall<'_>, results: &mut [Val]) -> Result<(), HostFailure> {
        self.seen.lock().unwrap().push(Seen {
            index: call.index,
            instance_id: call.instance_id,
            import: call.import.to_owned(),
            args: plains(call.args),
            results: call.results.to_vec(),
        });
        match call.index {
            ADD => {
                let sum = call.args[0].unwrap_i64() + call.args[1].unwrap_i64();
                results[0] = Val::I64(sum);
                Ok(())
            }
            FAIL => Err(HostFailure {
                message: format!("fail was told {}", call.args[0].unwrap_i32()),
                cause: Some(Arc::new(Thrown("boom"))),
            }),
            PEEK => {
                let windows = self.engine();
                let windows = windows.windows();
                let (offset, length) = (call.args[0].unwrap_i32(), call.args[1].unwrap_i32());
                let bytes = windows
                    .read(call.token, offset.into(), length.into())
                    .map_err(|err| HostFailure::new(err.to_string()))?;
                let out_of_bounds = windows
                    .read(call.token, 65_530, 10)
                    .err()
                    .map(|err| err.kind());
                let previous = self.peek.lock().unwrap().as_ref().map(|p| p.token);
                let stale = previous.map(|token| {
                    windows
                        .read(token, offset.into(), length.into())
                        .map_err(|err| err.kind())
                });
                let reversed: Vec<u8> = bytes.iter().rev().copied().collect();
                windows
                    .write(call.token, offset.into(), &reversed)
                    .map_err(|err| HostFailure::new(err.to_string()))?;
                results[0] = Val::I32(bytes.iter().map(|&b| i32::from(b)).sum());
                *self.peek.lock().unwrap() = Some(Peek {
                    token: call.token,
                    size: windows.size(call.token),
                    bytes,
                    out_of_bounds,
                    stale,
                });
                Ok(())
            }
            TYPED => {
                results[0] = call.args[3];
                results[1] = call.args[2];
                results[2] = call.args[1];
                results[3] = call.args[0];
                Ok(())
            }
            REENTER => {
                // A guest's host function entering the guest's own engine.
                // `stats` answers (it reads atomics); what takes the lock is refused.
                let engine = self.engine();
                let empty = engine
                    .compile(b"\0asm\x01\0\0\0")
                    .map_err(|e| HostFailure::new(e.to_string()))?;
                let refused = engine
                    .create_instance(Site::Direct, &empty, 1, 0)
                    .err()
                    .map(|err| err.kind());
                let answered = engine.stats().is_ok();
                results[0] = Val::I32(i32::from(answered && refused == Some(ErrorKind::Busy)));
                Ok(())
            }
            other => Err(HostFailure::new(format!("unexpected import {other}"))),
        }
    }

    fn post(&self, call: PostedCall) -> Result<(), HostFailure> {
        let posted = self.posted.lock().unwrap();
        let Some(sender) = posted.as_ref() else {
            return Err(HostFailure::new("this host takes no posted calls"));
        };
        sender
            .send(call)
            .map_err(|_| HostFailure::new("the test stopped listening"))
    }

    fn abandon(&self, token: u64) {
        self.abandoned.lock().unwrap().push(token);
    }
}

/// An engine running [`GUEST`]'s imports through a [`FakeHost`], one
/// instance of the guest with id 77, and the posted calls' receiver.
struct Fixture {
    host: Arc<FakeHost>,
    engine: Arc<Engine>,
    instance: Instance,
    posted: Receiver<PostedCall>,
}

const ID: i64 = 77;

impl Fixture {
    fn new(config: RuntimeConfig) -> Fixture {
        let host = Arc::new(FakeHost::default());
        let (tx, posted) = mpsc::channel();
        *host.posted.lock().unwrap() = Some(tx);
        let engine = Arc::new(engine_with_host(config, imports(), host.clone()));
        host.engine.set(Arc::downgrade(&engine)).unwrap();
        let module = module(&engine, GUEST);
        assert!(engine.module_has_async_imports(&module).unwrap());
        let instance = engine
            .create_instance(Site::Direct, &module, ID, 0)
            .unwrap();
        Fixture {
            host,
            engine,
            instance,
            posted,
        }
    }

    fn function(&self, name: &str) -> Function {
        self.engine
            .function(Site::Direct, self.instance.target(), name)
            .unwrap()
    }

    fn call_here(&self, name: &str, args: &[Val]) -> Result<Vec<Val>, WasmError> {
        let function = self.function(name);
        let mut results = vec![Val::I32(0); function.signature().results.len()];
        self.engine
            .invoke(Site::Direct, &function, args, &mut results, None)?;
        Ok(results)
    }

    /// Calls `name` from a scheduler worker; the receiver gets its first
    /// result.
    fn call_on_worker(
        &self,
        name: &str,
        args: Vec<Val>,
        abort: Option<Flag>,
    ) -> Receiver<Result<i64, WasmError>> {
        let function = self.function(name);
        let engine = self.engine.clone();
        on_worker(&self.engine, None, move || {
            let mut results = [Val::I64(0)];
            engine.invoke(Site::Worker, &function, &args, &mut results, abort.as_ref())?;
            Ok(results[0].unwrap_i64())
        })
    }

    fn next_posted(&self) -> PostedCall {
        self.posted
            .recv_timeout(PATIENCE)
            .expect("the guest posted a host call")
    }
}

// --- On the host's thread ----------------------------------------------------

#[test]
fn a_direct_host_call_gets_its_index_instance_and_arguments() {
    let fixture = Fixture::new(config());
    let results = fixture
        .call_here("call_add", &[Val::I64(2), Val::I64(40)])
        .unwrap();
    assert_eq!(results[0].unwrap_i64(), 1042);
    assert_eq!(
        fixture.host.seen(),
        [Seen {
            index: ADD,
            instance_id: ID,
            import: "env.add".into(),
            args: vec![Plain::I64(2), Plain::I64(40)],
            results: vec![Kind::I64],
        }]
    );
}

#[test]
fn direct_host_calls_pass_every_type_bit_exact() {
    let fixture = Fixture::new(config());
    let nan32 = 0x7fa0_0042_u32;
    let nan64 = 0xfff4_0000_0000_1234_u64;
    let args = [
        Val::I32(-5),
        Val::I64(i64::MIN + 3),
        Val::F32(nan32),
        Val::F64(nan64),
    ];
    let results = fixture.call_here("call_typed", &args).unwrap();
    assert_eq!(
        plains(&results),
        [
            Plain::F64(nan64),
            Plain::F32(nan32),
            Plain::I64(i64::MIN + 3),
            Plain::I32(-5)
        ]
    );
    let seen = fixture.host.seen();
    assert_eq!(seen[0].index, TYPED);
    assert_eq!(seen[0].args, plains(&args));
    assert_eq!(
        seen[0].results,
        [Kind::F64, Kind::F32, Kind::I64, Kind::I32]
    );
}

#[test]
fn a_host_failure_comes_back_with_its_cause() {
    let fixture = Fixture::new(config());
    let err = expect_kind(fixture.call_here("call_fail", &[]), ErrorKind::Runtime);
    assert_eq!(err.trap(), None, "{err}");
    assert_eq!(err.instance(), Some(ID));
    assert_eq!(err.export(), Some("call_fail"));
    assert!(err.message().contains("fail was told 7"), "{err}");
    let cause = err.cause().expect("the thrown value");
    assert_eq!(cause.downcast_ref::<Thrown>(), Some(&Thrown("boom")));
    assert_eq!(fixture.host.seen()[0].index, FAIL);
}

#[test]
fn the_memory_window_is_open_during_the_call_only() {
    let fixture = Fixture::new(config());
    let sum: i32 = b"hello".iter().map(|&b| i32::from(b)).sum();
    let results = fixture.call_here("call_peek", &[]).unwrap();
    assert_eq!(results[0].unwrap_i32(), sum);
    let peek = fixture.host.peek.lock().unwrap().clone().expect("peeked");
    assert_eq!(peek.bytes, b"hello");
    assert_eq!(peek.size, 65_536);
    assert_eq!(peek.out_of_bounds, Some(ErrorKind::Memory));
    // What the host wrote through the window is in the guest's memory.
    let memory = fixture
        .engine
        .read_memory(Site::Direct, &fixture.instance, 16, 5)
        .unwrap();
    assert_eq!(memory, b"olleh");
    // The call is over: its token opens nothing.
    let windows = fixture.engine.windows();
    expect_kind(windows.read(peek.token, 16, 5), ErrorKind::Memory);
    expect_kind(windows.write(peek.token, 16, b"x"), ErrorKind::Memory);
    assert_eq!(windows.size(peek.token), 0);
    // A later call gets a new token.
    fixture.call_here("call_peek", &[]).unwrap();
    let again = fixture.host.peek.lock().unwrap().clone().expect("peeked");
    assert_ne!(again.token, peek.token);
    assert_eq!(again.bytes, b"olleh");
    assert_eq!(peek.stale, None);
    // The first call's token opens nothing during the second call either.
    assert_eq!(again.stale, Some(Err(ErrorKind::Memory)));
}

#[test]
fn an_asynchronous_import_cannot_be_awaited_on_the_hosts_thread() {
    let fixture = Fixture::new(config());
    let err = expect_kind(
        fixture.call_here("call_later", &[Val::I64(1)]),
        ErrorKind::Runtime,
    );
    assert!(err.message().contains("call3i64AsyncImports"), "{err}");
    assert!(err.message().contains("env.later"), "{err}");
    assert!(fixture.host.seen().is_empty(), "the host was called");
    assert!(fixture.posted.try_recv().is_err(), "the call was posted");
}

// --- From a worker -----------------------------------------------------------

#[test]
fn a_posted_call_is_answered_from_the_hosts_thread() {
    let fixture = Fixture::new(config());
    let outcome = fixture.call_on_worker("call_later", vec![Val::I64(4)], None);
    let call = fixture.next_posted();
    assert_eq!(call.index, LATER);
    assert_eq!(call.instance_id, ID);
    assert_eq!(&*call.import, "env.later");
    assert!(call.asynchronous);
    assert_eq!(plains(&call.args), [Plain::I64(4)]);
    assert_eq!(&*call.results, [Kind::I64]);
    // The host's thread reaches the guest's memory while the guest waits.
    let windows = fixture.engine.windows();
    assert_eq!(windows.read(call.token, 16, 5).unwrap(), b"hello");
    assert_eq!(windows.size(call.token), 65_536);
    let token = call.token;
    assert!(call.reply.send(Ok(vec![Val::I64(40)])));
    let result = outcome.recv_timeout(PATIENCE).unwrap();
    assert_eq!(result.unwrap(), 41);
    expect_kind(windows.read(token, 16, 5), ErrorKind::Memory);
    assert!(fixture.host.abandoned().is_empty());
    assert!(fixture.host.seen().is_empty(), "call_here ran for a worker");

    // Synchronous imports are posted too.
    let outcome = fixture.call_on_worker("call_add", vec![Val::I64(1), Val::I64(2)], None);
    let call = fixture.next_posted();
    assert_eq!(call.index, ADD);
    assert!(!call.asynchronous);
    assert_eq!(plains(&call.args), [Plain::I64(1), Plain::I64(2)]);
    assert!(call.reply.send(Ok(vec![Val::I64(3)])));
    assert_eq!(outcome.recv_timeout(PATIENCE).unwrap().unwrap(), 1003);
}

#[test]
fn a_posted_call_can_fail_with_a_cause_or_be_dropped() {
    let fixture = Fixture::new(config());
    let outcome = fixture.call_on_worker("call_later", vec![Val::I64(1)], None);
    let call = fixture.next_posted();
    let failure = HostFailure {
        message: "the promise rejected".into(),
        cause: Some(Arc::new(Thrown("rejected"))),
    };
    assert!(call.reply.send(Err(failure)));
    let err = expect_kind(outcome.recv_timeout(PATIENCE).unwrap(), ErrorKind::Runtime);
    assert!(err.message().contains("the promise rejected"), "{err}");
    let cause = err.cause().expect("the rejection value");
    assert_eq!(cause.downcast_ref::<Thrown>(), Some(&Thrown("rejected")));

    let outcome = fixture.call_on_worker("call_later", vec![Val::I64(1)], None);
    drop(fixture.next_posted());
    let err = expect_kind(outcome.recv_timeout(PATIENCE).unwrap(), ErrorKind::Runtime);
    assert!(err.message().contains("dropped unanswered"), "{err}");
    assert!(fixture.host.abandoned().is_empty());
}

#[test]
fn the_deadline_stops_a_guest_waiting_for_its_host() {
    let fixture = Fixture::new(RuntimeConfig {
        max_execution_seconds: Some(0.2),
        ..config()
    });
    let outcome = fixture.call_on_worker("call_later", vec![Val::I64(1)], None);
    let call = fixture.next_posted();
    let posted_at = Instant::now();
    let err = expect_kind(outcome.recv_timeout(PATIENCE).unwrap(), ErrorKind::Timeout);
    assert!(posted_at.elapsed() < Duration::from_millis(1500));
    assert_eq!(err.export(), Some("call_later"));
    assert_eq!(fixture.host.abandoned(), [call.token]);
    expect_kind(
        fixture.engine.windows().read(call.token, 0, 1),
        ErrorKind::Memory,
    );
    // Nobody waits for the answer any more.
    assert!(!call.reply.send(Ok(vec![Val::I64(1)])));
}

#[test]
fn an_abort_flag_stops_a_guest_waiting_for_its_host() {
    let fixture = Fixture::new(config());
    let abort: Flag = Arc::new(AtomicBool::new(false));
    let outcome = fixture.call_on_worker("call_later", vec![Val::I64(1)], Some(abort.clone()));
    let call = fixture.next_posted();
    // Still waiting for its answer.
    assert!(outcome.recv_timeout(Duration::from_millis(50)).is_err());
    abort.store(true, Ordering::Release);
    let err = expect_kind(outcome.recv_timeout(PATIENCE).unwrap(), ErrorKind::Aborted);
    assert_eq!(err.instance(), Some(ID));
    assert_eq!(fixture.host.abandoned(), [call.token]);
    assert!(!call.reply.send(Ok(vec![Val::I64(1)])));
    // The engine goes on.
    let results = fixture
        .call_here("call_add", &[Val::I64(1), Val::I64(1)])
        .unwrap();
    assert_eq!(results[0].unwrap_i64(), 1002);
}

#[test]
fn closing_the_engine_stops_a_guest_waiting_for_its_host() {
    let fixture = Fixture::new(config());
    let outcome = fixture.call_on_worker("call_later", vec![Val::I64(1)], None);
    let call = fixture.next_posted();
    fixture.engine.close();
    let err = expect_kind(outcome.recv_timeout(PATIENCE).unwrap(), ErrorKind::Closed);
    assert_eq!(err.instance(), Some(ID));
    assert_eq!(fixture.host.abandoned(), [call.token]);
    expect_kind(
        fixture.engine.memory_size(Site::Direct, &fixture.instance),
        ErrorKind::Closed,
    );
}

// --- Registration --------------------------------------------------------------

#[test]
fn imports_need_a_host_a_unique_name_and_a_registration() {
    let err = Engine::new(&config(), None, imports(), None)
        .err()
        .expect("no host");
    assert_eq!(err.kind(), ErrorKind::Argument);

    let twice = vec![import("env", "add", false), import("env", "add", true)];
    let err = Engine::new(&config(), None, twice, Some(Arc::new(FakeHost::default())))
        .err()
        .expect("registered twice");
    assert_eq!(err.kind(), ErrorKind::Argument);
    assert!(err.message().contains("env.add"), "{err}");

    let host = Arc::new(FakeHost::default());
    let engine = engine_with_host(config(), vec![import("env", "add", false)], host);
    let module = module(&engine, GUEST);
    assert!(!engine.module_has_async_imports(&module).unwrap());
    let err = expect_kind(
        engine.create_instance(Site::Direct, &module, 5, 0),
        ErrorKind::Instantiation,
    );
    assert_eq!(err.instance(), Some(5));
    assert!(err.message().contains("env.fail"), "{err}");
    let stats = engine.stats().unwrap();
    assert_eq!(stats.instances, 0);
}

/// Another guest than [`GUEST`] that imports one of its functions at
/// another position, so that instantiating one module from the other's
/// resolved imports would fail or call the wrong function.
const DOUBLER: &str = r#"
(module
  (import "env" "peek" (func $peek (param i32 i32) (result i32)))
  (import "env" "add" (func $add (param i64 i64) (result i64)))
  (memory (export "memory") 1)
  (func (export "double") (param i64) (result i64)
    (call $add (local.get 0) (local.get 0))))
"#;

#[test]
fn each_module_keeps_its_own_resolved_imports_for_all_its_instances() {
    // Resolved imports are cached with the module cache and rebuilt for
    // every instance without it; both must resolve each module as itself.
    for capacity in [None, Some(0.0)] {
        let host = Arc::new(FakeHost::default());
        let config = RuntimeConfig {
            module_cache_capacity: capacity,
            ..config()
        };
        let engine = engine_with_host(config, imports(), host.clone());
        let guest = module(&engine, GUEST);
        let doubler = module(&engine, DOUBLER);
        let call = |instance: &Instance, name: &str, args: &[Val]| {
            let function = engine
                .function(Site::Direct, instance.target(), name)
                .unwrap();
            let mut results = [Val::I64(0)];
            engine
                .invoke(Site::Direct, &function, args, &mut results, None)
                .unwrap();
            results[0].unwrap_i64()
        };
        for round in 0..3 {
            let a = engine
                .create_instance(Site::Direct, &guest, round, 0)
                .unwrap();
            let b = engine
                .create_instance(Site::Direct, &doubler, 10 + round, 0)
                .unwrap();
            assert_eq!(
                call(&a, "call_add", &[Val::I64(round), Val::I64(1)]),
                round + 1001
            );
            assert_eq!(call(&b, "double", &[Val::I64(round + 5)]), 2 * (round + 5));
        }
        let seen: Vec<(u32, i64)> = host
            .seen()
            .iter()
            .map(|seen| (seen.index, seen.instance_id))
            .collect();
        assert_eq!(
            seen,
            [
                (ADD, 0),
                (ADD, 10),
                (ADD, 1),
                (ADD, 11),
                (ADD, 2),
                (ADD, 12)
            ]
        );
    }
}

// --- During instantiation and re-entry ----------------------------------------

/// A fixture for another guest than [`GUEST`], with the same imports.
fn host_and_engine() -> (Arc<FakeHost>, Arc<Engine>) {
    let host = Arc::new(FakeHost::default());
    let engine = Arc::new(engine_with_host(config(), imports(), host.clone()));
    host.engine.set(Arc::downgrade(&engine)).unwrap();
    (host, engine)
}

#[test]
fn host_calls_during_instantiation_see_the_instance_and_its_memory() {
    for export in ["(start $run)", r#"(export "__frnt_set_id" (func $set_id))"#] {
        let (host, engine) = host_and_engine();
        let guest = format!(
            r#"(module
                 (import "env" "peek" (func $peek (param i32 i32) (result i32)))
                 (memory (export "memory") 1)
                 (data (i32.const 0) "early")
                 (func $run (drop (call $peek (i32.const 0) (i32.const 5))))
                 (func $set_id (param i64) (call $run))
                 {export})"#
        );
        let module = module(&engine, &guest);
        let instance = engine
            .create_instance(Site::Direct, &module, 12, 0)
            .unwrap();
        let seen = host.seen();
        assert_eq!(seen.len(), 1, "{export}");
        assert_eq!(seen[0].index, PEEK);
        assert_eq!(seen[0].instance_id, 12, "{export}");
        let peek = host.peek.lock().unwrap().clone().expect("peeked");
        assert_eq!(peek.bytes, b"early", "{export}");
        assert_eq!(
            engine.read_memory(Site::Direct, &instance, 0, 5).unwrap(),
            b"ylrae"
        );
    }
}

#[test]
fn a_host_function_entering_its_own_engine_is_refused_as_busy() {
    let (host, engine) = host_and_engine();
    let module = module(
        &engine,
        r#"(module
             (import "env" "reenter" (func $reenter (result i32)))
             (func (export "run") (result i32) (call $reenter)))"#,
    );
    let instance = engine.create_instance(Site::Direct, &module, 3, 0).unwrap();
    let run = engine
        .function(Site::Direct, instance.target(), "run")
        .unwrap();
    let mut results = [Val::I32(0)];
    engine
        .invoke(Site::Direct, &run, &[], &mut results, None)
        .unwrap();
    assert_eq!(
        results[0].unwrap_i32(),
        1,
        "the re-entry was not refused as busy"
    );
    assert_eq!(host.seen()[0].index, REENTER);
    // The engine is fine afterwards.
    assert_eq!(engine.stats().unwrap().instances, 1);
}

#[test]
fn freenet_delegate_namespaces_count_as_asynchronous() {
    let (_host, engine) = host_and_engine();
    let delegate = module(
        &engine,
        r#"(module (import "freenet_delegate_contracts" "get" (func (param i64) (result i64))))"#,
    );
    assert!(engine.module_has_async_imports(&delegate).unwrap());
    assert_eq!(
        delegate.imports(),
        ["freenet_delegate_contracts.get".to_owned()]
    );
    let plain = module(
        &engine,
        r#"(module (import "env" "add" (func (param i64 i64) (result i64))))"#,
    );
    assert!(!engine.module_has_async_imports(&plain).unwrap());
}

#[test]
fn an_answer_of_the_wrong_shape_is_a_runtime_error() {
    let fixture = Fixture::new(config());
    for answer in [vec![], vec![Val::F64(1.0f64.to_bits())], vec![Val::I32(1)]] {
        let outcome = fixture.call_on_worker("call_later", vec![Val::I64(1)], None);
        let call = fixture.next_posted();
        assert!(call.reply.send(Ok(answer)));
        let err = expect_kind(outcome.recv_timeout(PATIENCE).unwrap(), ErrorKind::Runtime);
        assert_eq!(err.export(), Some("call_later"));
    }
    // The instance answers properly afterwards.
    let outcome = fixture.call_on_worker("call_later", vec![Val::I64(1)], None);
    assert!(fixture.next_posted().reply.send(Ok(vec![Val::I64(9)])));
    assert_eq!(outcome.recv_timeout(PATIENCE).unwrap().unwrap(), 10);
}

/// A host whose functions panic.
struct PanickingHost;

impl Host for PanickingHost {
    fn call_here(&self, _call: &HostCall<'_>, _results: &mut [Val]) -> Result<(), HostFailure> {
        panic!("the host panicked on purpose");
    }

    fn post(&self, _call: PostedCall) -> Result<(), HostFailure> {
        panic!("the host panicked on purpose");
    }

    fn abandon(&self, _token: u64) {}
}

#[test]
fn a_panicking_host_closes_the_engine_instead_of_unwinding() {
    let engine = engine_with_host(config(), imports(), Arc::new(PanickingHost));
    let module = module(&engine, GUEST);
    let instance = engine.create_instance(Site::Direct, &module, 1, 0).unwrap();
    let add = engine
        .function(Site::Direct, instance.target(), "call_add")
        .unwrap();
    let mut results = [Val::I64(0)];
    let err = expect_kind(
        engine.invoke(
            Site::Direct,
            &add,
            &[Val::I64(1), Val::I64(2)],
            &mut results,
            None,
        ),
        ErrorKind::Other,
    );
    assert!(err.message().contains("internal failure"), "{err}");
    assert!(!engine.is_healthy());
    let err = expect_kind(engine.stats(), ErrorKind::Closed);
    assert!(err.message().contains("after an internal failure"), "{err}");
}

#[test]
fn a_module_importing_one_name_twice_gets_it_both_times() {
    let host = Arc::new(FakeHost::default());
    let engine = engine_with_host(config(), imports(), host.clone());
    let module = module(
        &engine,
        r#"(module
             (import "env" "add" (func $first (param i64 i64) (result i64)))
             (import "env" "add" (func $second (param i64 i64) (result i64)))
             (func (export "both") (result i64)
               (i64.add (call $first (i64.const 1) (i64.const 2)) (call $second (i64.const 3) (i64.const 4)))))"#,
    );
    let instance = engine.create_instance(Site::Direct, &module, 1, 0).unwrap();
    let function = engine
        .function(Site::Direct, instance.target(), "both")
        .unwrap();
    let mut results = [Val::I64(0)];
    engine
        .invoke(Site::Direct, &function, &[], &mut results, None)
        .unwrap();
    assert_eq!(results[0].unwrap_i64(), 10);
}

#[test]
fn an_engine_closed_by_a_panic_gives_its_pool_slots_back() {
    // A pool size no other test uses; both engines share its slots.
    let pooled = || RuntimeConfig {
        instance_pool_size: Some(3.0),
        ..config()
    };
    let failing = engine_with_host(pooled(), imports(), Arc::new(PanickingHost));
    let guest = module(&failing, GUEST);
    let held: Vec<_> = (0..3)
        .map(|id| {
            failing
                .create_instance(Site::Direct, &guest, id, 0)
                .unwrap()
        })
        .collect();
    let add = failing
        .function(Site::Direct, held[0].target(), "call_add")
        .unwrap();
    let mut results = [Val::I64(0)];
    let args = [Val::I64(1), Val::I64(2)];
    expect_kind(
        failing.invoke(Site::Direct, &add, &args, &mut results, None),
        ErrorKind::Other,
    );
    // The handles are still held; the closed engine's instances are gone.
    let other = engine_with_host(pooled(), imports(), Arc::new(FakeHost::default()));
    let guest = module(&other, GUEST);
    let taken: Vec<_> = (0..3)
        .map(|id| other.create_instance(Site::Direct, &guest, id, 0).unwrap())
        .collect();
    assert_eq!(taken.len(), held.len());
}
