//! WASI commands run by an engine: output and exit codes, limits that stop
//! a program while keeping what it wrote, the output cap, deterministic
//! clocks and randomness, and WASI imports refused where none was given.

#[path = "common/support_tests.rs"]
mod common;

use common::{config, engine, engine_with, expect_kind, module};
use std::sync::Arc;

use parking_lot::Mutex;
use wasm_engine_core::wasi::{Determinism, OutputSink, Sink, Stream, WasiOptions};
use wasm_engine_core::{ErrorKind, RuntimeConfig, Site};

/// WASI preview 1 imports the guests below use, and a `say` helper that
/// writes `len` bytes at `ptr` to `fd`, returning the errno.
const PRELUDE: &str = r#"
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func $say (param $fd i32) (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
"#;

fn program(body: &str) -> String {
    format!("(module {PRELUDE} {body})")
}

fn hello(then: &str) -> String {
    program(&format!(
        r#"(data (i32.const 100) "hello\n")
           (data (i32.const 200) "oops\n")
           (func (export "_start")
             (drop (call $say (i32.const 1) (i32.const 100) (i32.const 6)))
             (drop (call $say (i32.const 2) (i32.const 200) (i32.const 5)))
             {then})"#
    ))
}

fn run(
    engine: &wasm_engine_core::Engine,
    wat: &str,
    options: &WasiOptions,
) -> wasm_engine_core::engine::WasiRun {
    let module = module(engine, wat);
    engine.run_wasi(Site::Direct, &module, options, None)
}

#[test]
fn a_program_that_returns_exits_with_0_and_its_output() {
    let engine = engine();
    let ran = run(&engine, &hello(""), &WasiOptions::default());
    assert_eq!(ran.result.unwrap(), 0);
    assert_eq!(ran.stdout, b"hello\n");
    assert_eq!(ran.stderr, b"oops\n");
    assert_eq!(ran.fuel_consumed, None);
    // The run's instance is gone with it.
    assert_eq!(engine.stats().unwrap().instances, 0);
}

#[test]
fn proc_exit_is_an_exit_code_not_an_error() {
    let engine = engine();
    for code in [0, 3, 125] {
        let ran = run(
            &engine,
            &hello(&format!("(call $proc_exit (i32.const {code})) unreachable")),
            &WasiOptions::default(),
        );
        assert_eq!(ran.result.unwrap(), code);
        assert_eq!(ran.stdout, b"hello\n");
    }
    // wasmtime-wasi takes exit statuses below 126 only, as POSIX shells
    // reserve the rest; a larger one is a runtime error.
    let ran = run(
        &engine,
        &hello("(call $proc_exit (i32.const 200))"),
        &WasiOptions::default(),
    );
    let err = expect_kind(ran.result, ErrorKind::Runtime);
    assert!(err.message().contains("exit status"), "{err}");
}

#[test]
fn a_trap_a_deadline_and_fuel_stop_the_program_and_keep_its_output() {
    let engine = engine_with(RuntimeConfig {
        max_execution_seconds: Some(0.2),
        ..config()
    });
    let trapped = run(&engine, &hello("unreachable"), &WasiOptions::default());
    let err = expect_kind(trapped.result, ErrorKind::Runtime);
    assert!(err.message().contains("_start"), "{err}");
    assert_eq!(trapped.stdout, b"hello\n");
    assert_eq!(trapped.stderr, b"oops\n");

    let spinning = run(
        &engine,
        &hello("(loop $forever (br $forever))"),
        &WasiOptions::default(),
    );
    expect_kind(spinning.result, ErrorKind::Timeout);
    assert_eq!(spinning.stdout, b"hello\n");

    let metered = engine_with(RuntimeConfig {
        enable_metering: Some(true),
        cpu_cycles_per_second: Some(1e6),
        ..config()
    });
    let starved = run(
        &metered,
        &hello("(loop $forever (br $forever))"),
        &WasiOptions::default(),
    );
    expect_kind(starved.result, ErrorKind::OutOfGas);
    assert_eq!(starved.stdout, b"hello\n");
    let counted = run(&metered, &hello(""), &WasiOptions::default());
    assert!(
        counted.fuel_consumed.is_some_and(|fuel| fuel > 0),
        "{:?}",
        counted.fuel_consumed
    );
}

#[test]
fn output_past_its_cap_fails_like_a_closed_pipe_and_what_fit_is_kept() {
    let engine = engine();
    // Writes "hello\n" three times, then exits with the last write's errno.
    let wat = program(
        r#"(data (i32.const 100) "hello\n")
           (func (export "_start")
             (drop (call $say (i32.const 1) (i32.const 100) (i32.const 6)))
             (drop (call $say (i32.const 1) (i32.const 100) (i32.const 6)))
             (call $proc_exit (call $say (i32.const 1) (i32.const 100) (i32.const 6))))"#,
    );
    let options = WasiOptions {
        max_output_bytes: Some(8),
        ..WasiOptions::default()
    };
    let ran = run(&engine, &wat, &options);
    // WASI's errno for a broken pipe.
    const EPIPE: i32 = 64;
    assert_eq!(ran.result.unwrap(), EPIPE);
    assert_eq!(ran.stdout, b"hello\nhe");
}

#[test]
fn stdin_is_what_was_given_then_end_of_file() {
    let engine = engine();
    // Copies stdin to stdout in 4-byte reads until a read returns 0 bytes.
    let wat = program(
        r#"(func (export "_start") (local $n i32)
             (loop $copy
               (i32.store (i32.const 16) (i32.const 300))
               (i32.store (i32.const 20) (i32.const 4))
               (drop (call $fd_read (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 24)))
               (local.set $n (i32.load (i32.const 24)))
               (if (local.get $n) (then
                 (drop (call $say (i32.const 1) (i32.const 300) (local.get $n)))
                 (br $copy)))))"#,
    );
    let options = WasiOptions {
        stdin: b"a line of input\n".to_vec(),
        ..WasiOptions::default()
    };
    let ran = run(&engine, &wat, &options);
    assert_eq!(ran.result.unwrap(), 0);
    assert_eq!(ran.stdout, b"a line of input\n");
    // Nothing given: end of file at once.
    assert_eq!(run(&engine, &wat, &WasiOptions::default()).stdout, b"");
}

/// Writes the realtime clock twice (16 bytes) and 8 random bytes to stdout.
const CLOCKS_AND_RANDOM: &str = r#"
  (func (export "_start")
    (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 400)))
    (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 408)))
    (drop (call $random (i32.const 416) (i32.const 8)))
    (drop (call $say (i32.const 1) (i32.const 400) (i32.const 24))))"#;

fn clocks_and_random(
    engine: &wasm_engine_core::Engine,
    deterministic: Option<Determinism>,
) -> (u64, u64, Vec<u8>) {
    let options = WasiOptions {
        deterministic,
        ..WasiOptions::default()
    };
    let ran = run(engine, &program(CLOCKS_AND_RANDOM), &options);
    assert_eq!(ran.result.unwrap(), 0);
    let word = |at: usize| u64::from_le_bytes(ran.stdout[at..at + 8].try_into().unwrap());
    (word(0), word(8), ran.stdout[16..].to_vec())
}

#[test]
fn deterministic_runs_read_a_fixed_clock_and_seeded_randomness() {
    let engine = engine();
    let determinism = Determinism {
        start_ms: 1_700_000_000_123,
        seed: 42,
    };
    let fixed = Some(determinism);
    let (first, second, random) = clocks_and_random(&engine, fixed);
    assert_eq!(first, 1_700_000_000_123_000_000);
    assert_eq!(
        second,
        first + 1_000_000,
        "each reading moves the clock 1 ms"
    );
    assert_eq!(
        clocks_and_random(&engine, fixed),
        (first, second, random.clone())
    );
    let reseeded = Some(Determinism {
        seed: 43,
        ..determinism
    });
    assert_ne!(clocks_and_random(&engine, reseeded).2, random);
    // The host's clock otherwise: within a minute of now.
    let (host, _, _) = clocks_and_random(&engine, None);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(host.abs_diff(now) < 60_000_000_000, "{host} vs {now}");
}

#[test]
fn wasi_imports_are_refused_where_no_wasi_was_given() {
    let engine = engine();
    let module = module(&engine, &hello(""));
    let err = expect_kind(
        engine.create_instance(Site::Direct, &module, 9, 0),
        ErrorKind::Instantiation,
    );
    assert!(
        err.message().contains("wasi_snapshot_preview1.fd_write"),
        "{err}"
    );
    assert!(err.message().contains("runWasi"), "{err}");
}

#[test]
fn a_preopen_that_cannot_be_opened_is_an_argument_error_naming_it() {
    let engine = engine();
    let options = WasiOptions {
        preopens: vec![wasm_engine_core::wasi::Preopen {
            guest: "/data".into(),
            host: "/nonexistent/wasm-engine-test".into(),
            read_only: true,
        }],
        ..WasiOptions::default()
    };
    let err = expect_kind(
        run(&engine, &hello(""), &options).result,
        ErrorKind::Argument,
    );
    assert!(
        err.message().contains("/nonexistent/wasm-engine-test"),
        "{err}"
    );
    assert!(err.message().contains("/data"), "{err}");
}

#[test]
fn a_reactor_is_initialised_and_its_exports_write_to_its_own_output() {
    let engine = engine();
    let wat = program(
        r#"(data (i32.const 100) "initialised\n")
           (data (i32.const 200) "rendered\n")
           (global $ready (mut i32) (i32.const 0))
           (func (export "_initialize")
             (global.set $ready (i32.const 1))
             (drop (call $say (i32.const 1) (i32.const 100) (i32.const 12))))
           (func (export "render") (param i64 i64 i64) (result i64)
             (drop (call $say (i32.const 1) (i32.const 200) (i32.const 9)))
             (i64.mul (local.get 0) (i64.extend_i32_u (global.get $ready))))"#,
    );
    let module = module(&engine, &wat);
    let instance = engine
        .create_wasi_instance(Site::Direct, &module, 5, 0, &WasiOptions::default())
        .unwrap();
    let (stdout, stderr) = engine.take_wasi_output(Site::Direct, &instance).unwrap();
    assert_eq!(
        (stdout.as_slice(), stderr.as_slice()),
        (&b"initialised\n"[..], &b""[..])
    );
    let render = engine
        .function(Site::Direct, instance.target(), "render")
        .unwrap();
    let mut results = [wasm_engine_core::Val::I64(0)];
    for _ in 0..2 {
        engine
            .invoke(
                Site::Direct,
                &render,
                &[
                    wasm_engine_core::Val::I64(21),
                    wasm_engine_core::Val::I64(0),
                    wasm_engine_core::Val::I64(0),
                ],
                &mut results,
                None,
            )
            .unwrap();
        // 21 only if `_initialize` ran first.
        assert_eq!(results[0].unwrap_i64(), 21);
    }
    let (stdout, _) = engine.take_wasi_output(Site::Direct, &instance).unwrap();
    assert_eq!(stdout, b"rendered\nrendered\n");
    // Taken: nothing new since.
    assert!(
        engine
            .take_wasi_output(Site::Direct, &instance)
            .unwrap()
            .0
            .is_empty()
    );
    // An instance without WASI has no output to take.
    let plain = module_without_wasi(&engine);
    let plain = engine.create_instance(Site::Direct, &plain, 6, 0).unwrap();
    expect_kind(
        engine.take_wasi_output(Site::Direct, &plain),
        ErrorKind::Argument,
    );
}

fn module_without_wasi(engine: &wasm_engine_core::Engine) -> wasm_engine_core::Module {
    module(engine, r#"(module (memory (export "memory") 1))"#)
}

/// Sleeps through `poll_oneoff` with one relative clock subscription of
/// `$ns` nanoseconds (and, with `$fd`, a stdin subscription beside it),
/// then exits with the errno and the number of events.
fn sleeper(ns: u64, with_stdin: bool) -> String {
    let subscriptions = if with_stdin { 2 } else { 1 };
    program(&format!(
        r#"(func (export "_start") (local $errno i32)
             ;; subscription 0 at 1024: userdata 7, clock (tag 0), monotonic (id 1), timeout, relative.
             (i64.store (i32.const 1024) (i64.const 7))
             (i32.store8 (i32.const 1032) (i32.const 0))
             (i32.store (i32.const 1040) (i32.const 1))
             (i64.store (i32.const 1048) (i64.const {ns}))
             ;; subscription 1 at 1072: userdata 8, fd_read (tag 1) of stdin.
             (i64.store (i32.const 1072) (i64.const 8))
             (i32.store8 (i32.const 1080) (i32.const 1))
             (i32.store (i32.const 1088) (i32.const 0))
             (local.set $errno (call $poll (i32.const 1024) (i32.const 2048) (i32.const {subscriptions}) (i32.const 4000)))
             (call $proc_exit (i32.add (i32.mul (local.get $errno) (i32.const 10)) (i32.load (i32.const 4000)))))"#
    ))
}

#[test]
fn a_guest_sleeping_past_its_deadline_is_stopped_at_the_deadline_not_when_it_wakes() {
    let engine = engine_with(RuntimeConfig {
        max_execution_seconds: Some(0.2),
        ..config()
    });
    let started = std::time::Instant::now();
    let ran = run(
        &engine,
        &sleeper(3_600_000_000_000, false),
        &WasiOptions::default(),
    );
    expect_kind(ran.result, ErrorKind::Timeout);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_short_sleep_waits_its_time_and_a_ready_descriptor_does_not_wait() {
    let engine = engine();
    let started = std::time::Instant::now();
    // Success (errno 0) and one event.
    assert_eq!(
        run(
            &engine,
            &sleeper(30_000_000, false),
            &WasiOptions::default()
        )
        .result
        .unwrap(),
        1
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(30));
    let started = std::time::Instant::now();
    // The stdin subscription is ready at once: one event, no hour-long wait.
    assert_eq!(
        run(
            &engine,
            &sleeper(3_600_000_000_000, true),
            &WasiOptions::default()
        )
        .result
        .unwrap(),
        1
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

/// Records what a program writes, as it writes it; refuses a write once
/// `refuse_after` writes were taken.
struct Recorder {
    writes: Mutex<Vec<(Stream, Vec<u8>)>>,
    refuse_after: usize,
}

impl OutputSink for Recorder {
    fn write(&self, stream: Stream, bytes: &[u8]) -> bool {
        let mut writes = self.writes.lock();
        if writes.len() >= self.refuse_after {
            return false;
        }
        writes.push((stream, bytes.to_vec()));
        true
    }
}

fn recording(refuse_after: usize, max_output_bytes: Option<usize>) -> (Arc<Recorder>, WasiOptions) {
    let recorder = Arc::new(Recorder {
        writes: Mutex::default(),
        refuse_after,
    });
    let options = WasiOptions {
        sink: Some(Sink(recorder.clone())),
        max_output_bytes,
        ..WasiOptions::default()
    };
    (recorder, options)
}

#[test]
fn a_sink_sees_each_write_in_order_within_the_output_cap() {
    let engine = engine();
    let twice = hello("(drop (call $say (i32.const 1) (i32.const 100) (i32.const 6)))");
    let (recorder, options) = recording(usize::MAX, None);
    let ran = run(&engine, &twice, &options);
    assert_eq!(ran.result.unwrap(), 0);
    assert_eq!(
        *recorder.writes.lock(),
        [
            (Stream::Stdout, b"hello\n".to_vec()),
            (Stream::Stderr, b"oops\n".to_vec()),
            (Stream::Stdout, b"hello\n".to_vec()),
        ]
    );
    assert_eq!(ran.stdout, b"hello\nhello\n");
    // The cap counts what the sink saw: 8 bytes per stream.
    let (recorder, options) = recording(usize::MAX, Some(8));
    let ran = run(&engine, &twice, &options);
    assert_eq!(ran.result.unwrap(), 0);
    assert_eq!(
        *recorder.writes.lock(),
        [
            (Stream::Stdout, b"hello\n".to_vec()),
            (Stream::Stderr, b"oops\n".to_vec()),
            (Stream::Stdout, b"he".to_vec()),
        ]
    );
}

#[test]
fn a_sink_that_refuses_a_write_stops_the_program_with_a_trap() {
    let engine = engine();
    let (recorder, options) = recording(1, None);
    let ran = run(&engine, &hello("(loop $forever (br $forever))"), &options);
    let err = expect_kind(ran.result, ErrorKind::Runtime);
    assert!(
        err.message()
            .contains("standard error was refused by its output callback"),
        "{err}"
    );
    assert_eq!(recorder.writes.lock().len(), 1);
}
