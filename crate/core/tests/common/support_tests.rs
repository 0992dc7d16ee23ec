//! Helpers shared by the integration tests: engines without the on-disk
//! compile cache, modules from WebAssembly text, and a way to run a job on
//! the scheduler's workers and wait for its outcome.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use wasm_engine_core::deadline::Flag;
use wasm_engine_core::scheduler::Entry;
use wasm_engine_core::{
    Engine, ErrorKind, Host, ImportSpec, Module, RuntimeConfig, WasmError, parse_text,
};

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A config that keeps compiled modules out of the user's cache directory.
pub fn config() -> RuntimeConfig {
    RuntimeConfig {
        compile_cache: Some(false),
        ..RuntimeConfig::default()
    }
}

/// An engine with `config` and no imports.
pub fn engine_with(config: RuntimeConfig) -> Engine {
    Engine::new(&config, None, Vec::new(), None).expect("engine")
}

/// An engine with the default limits and no imports.
pub fn engine() -> Engine {
    engine_with(config())
}

/// An engine with `config` whose `imports` are run by `host`.
pub fn engine_with_host(
    config: RuntimeConfig,
    imports: Vec<ImportSpec>,
    host: Arc<dyn Host>,
) -> Engine {
    Engine::new(&config, None, imports, Some(host)).expect("engine")
}

/// Compiles the WebAssembly text `wat` with `engine`.
pub fn module(engine: &Engine, wat: &str) -> Module {
    let wasm = parse_text(wat).expect("valid WebAssembly text");
    engine.compile(&wasm).expect("module compiles")
}

/// The spec of the import `module.name`.
pub fn import(module: &str, name: &str, asynchronous: bool) -> ImportSpec {
    ImportSpec {
        module: module.into(),
        name: name.into(),
        asynchronous,
    }
}

/// Submits `job` to `engine`'s queue; the receiver gets its outcome, or
/// the scheduler's refusal when the job never ran.
pub fn on_worker<R: Send + 'static>(
    engine: &Engine,
    abort: Option<Flag>,
    job: impl FnOnce() -> Result<R, WasmError> + Send + 'static,
) -> mpsc::Receiver<Result<R, WasmError>> {
    let (tx, rx) = mpsc::channel();
    engine.submit(Entry {
        what: "test job".into(),
        budget: Duration::from_secs(60),
        abort,
        job: Box::new(move |verdict| {
            let outcome = verdict.and_then(|()| job());
            // The test may have given up waiting; nothing else to do then.
            let _ = tx.send(outcome);
        }),
    });
    rx
}

/// The error of `result`, which must be a failure of `kind`.
pub fn expect_kind<T>(result: Result<T, WasmError>, kind: ErrorKind) -> WasmError {
    match result {
        Ok(_) => panic!("the operation should fail with {kind:?}, but it succeeded"),
        Err(err) => {
            assert_eq!(err.kind(), kind, "{err}");
            err
        }
    }
}
