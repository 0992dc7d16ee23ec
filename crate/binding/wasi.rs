//! `runWasiSync` and `runWasi`: WASI commands from JavaScript.
//!
//! The TypeScript layer checks the caller's options and hands over a
//! [`WasiSpec`]; either call answers with a plain object holding the exit
//! code or the error, plus the output kept, which the TypeScript layer
//! turns into a result or a thrown error carrying the output. Output
//! callbacks get each write as it happens: at once on the JavaScript
//! thread for `runWasiSync`, through the deliverer for `runWasi`.

use std::sync::Arc;

use napi::JsValue as _;
use napi::bindgen_prelude::{Env, Uint8Array, Unknown};
use napi::sys::{self, napi_env, napi_value};
use napi_derive::napi;
use parking_lot::Mutex;
use wasm_engine_core::Site;
use wasm_engine_core::engine::WasiRun;
use wasm_engine_core::wasi::{OutputSink, Sink, Stream};

use crate::convert;
use crate::deliver::Deliverer;
use crate::engine::NativeEngine;
use crate::env::EnvData;
use crate::errors::{self, or_throw};
use crate::js::{self, Raw, uint8_array};
use crate::reference::JsValue;
use crate::signal;
use crate::submit::{self, Answer, Lane, Work};

use crate::wasi_spec::WasiSpec;

#[napi]
impl NativeEngine {
    /// Runs `module` as a WASI command on this thread; answers
    /// `{ exitCode | error, stdout, stderr, fuelConsumed, elapsedMs }`.
    #[napi(
        catch_unwind,
        ts_args_type = "module: Module, spec: WasiSpec, output: ((stream: number, chunk: Uint8Array) => boolean) | undefined"
    )]
    pub fn run_wasi_sync<'e>(
        &self,
        env: Env,
        module: Unknown<'_>,
        spec: WasiSpec,
        output: Unknown<'_>,
    ) -> napi::Result<Unknown<'e>> {
        let raw = env.raw();
        let module = or_throw(raw, convert::module(raw, module.raw()))?;
        // SAFETY: a Node-API callback on `raw`'s thread.
        let sink = unsafe { JsOutput::of(raw, output.raw()) }.map_err(errors::failed)?;
        let options = or_throw(raw, spec.options(sink))?;
        let run = self
            .core()
            .run_wasi(Site::Direct, &module.inner, &options, None);
        // SAFETY: a Node-API callback on `raw`'s thread.
        unsafe {
            let value = run_to_js(raw, &run).map_err(errors::failed)?;
            Ok(Unknown::from_raw_unchecked(raw, value))
        }
    }

    /// Queues `module`'s run as a WASI command on the engine's workers;
    /// returns a promise of the same answer as `runWasiSync`, which
    /// rejects only when the run never started (engine closed, queue
    /// overloaded, aborted before its turn).
    #[napi(
        catch_unwind,
        ts_args_type = "module: Module, spec: WasiSpec, signal: CallSignal | undefined, output: ((stream: number, chunk: Uint8Array) => boolean) | undefined",
        ts_return_type = "Promise<unknown>"
    )]
    pub fn run_wasi<'e>(
        &self,
        env: Env,
        module: Unknown<'_>,
        spec: WasiSpec,
        signal: Unknown<'_>,
        output: Unknown<'_>,
    ) -> napi::Result<Unknown<'e>> {
        let raw = env.raw();
        let module = or_throw(raw, convert::module(raw, module.raw()))?
            .inner
            .clone();
        // SAFETY: a Node-API callback on `raw`'s thread.
        let sink = unsafe { JsOutput::of(raw, output.raw()) }.map_err(errors::failed)?;
        let options = or_throw(raw, spec.options(sink))?;
        // SAFETY: a Node-API callback on `raw`'s thread.
        let abort = or_throw(raw, unsafe { signal::flag_of(raw, signal.raw()) })?;
        let engine = self.core().clone();
        let job_engine = engine.clone();
        let job_abort = abort.clone();
        let work = Work {
            what: "a WASI program".into(),
            abort,
            keep: self.host_values(),
            run: Box::new(move || {
                let run = job_engine.run_wasi(Site::Worker, &module, &options, job_abort.as_ref());
                Ok(Box::new(Ran(run)) as Box<dyn Answer>)
            }),
        };
        // SAFETY: a Node-API callback on `raw`'s thread.
        unsafe {
            let promise =
                submit::submit(raw, Lane::Engine(&engine), work).map_err(errors::failed)?;
            Ok(Unknown::from_raw_unchecked(raw, promise))
        }
    }
}

/// A WASI run's answer, as `runWasi`'s promise resolves.
struct Ran(WasiRun);

impl Answer for Ran {
    unsafe fn to_js(self: Box<Self>, env: napi_env) -> Raw<napi_value> {
        // SAFETY: the caller's contract.
        unsafe { run_to_js(env, &self.0) }
    }
}

/// What a WASI instance wrote since it was last asked.
#[napi(object)]
pub struct WasiOutput {
    pub stdout: Uint8Array,
    pub stderr: Uint8Array,
}

#[napi]
impl NativeEngine {
    /// Takes what the WASI instance `handle` wrote since the last call.
    #[napi(catch_unwind, ts_args_type = "handle: InstanceHandle")]
    pub fn take_wasi_output(&self, env: Env, handle: Unknown<'_>) -> napi::Result<WasiOutput> {
        let raw = env.raw();
        let taken = convert::handle(raw, handle.raw()).and_then(|handle| {
            self.core()
                .take_wasi_output(Site::Direct, &handle.instance()?)
        });
        let (stdout, stderr) = or_throw(raw, taken)?;
        Ok(WasiOutput {
            stdout: stdout.into(),
            stderr: stderr.into(),
        })
    }
}

/// The plain object a WASI run answers with.
///
/// # Safety
/// On `env`'s thread inside a callback or handle scope.
unsafe fn run_to_js(env: napi_env, run: &WasiRun) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        let object = js::object(env)?;
        match &run.result {
            Ok(code) => {
                js::set_property(env, object, "exitCode", js::double(env, f64::from(*code))?)?
            }
            Err(err) => js::set_property(env, object, "error", errors::to_js(env, err)?)?,
        }
        js::set_property(env, object, "stdout", uint8_array(env, &run.stdout)?)?;
        js::set_property(env, object, "stderr", uint8_array(env, &run.stderr)?)?;
        if let Some(fuel) = run.fuel_consumed {
            let fuel = i64::try_from(fuel).unwrap_or(i64::MAX);
            js::set_property(env, object, "fuelConsumed", js::bigint(env, fuel)?)?;
        }
        let elapsed = run.elapsed.as_secs_f64() * 1000.0;
        js::set_property(env, object, "elapsedMs", js::double(env, elapsed)?)?;
        Ok(object)
    }
}

/// Output not yet handed to JavaScript, in the order it was written.
type Chunks = Vec<(Stream, Vec<u8>)>;

/// Hands a WASI program's output to `(stream, chunk) => boolean`, the
/// TypeScript layer's dispatcher of `onStdout` (stream 1) and `onStderr`
/// (stream 2); `false` stops the program.
struct JsOutput {
    env: napi_env,
    callback: Arc<JsValue>,
    deliverer: Arc<Deliverer>,
    /// Writes from a worker not yet handed over, consecutive writes to one
    /// stream joined: a program making many small writes costs one
    /// crossing per batch, not one per write. A delivery is queued when
    /// this turns non-empty, and takes all of it.
    pending: Arc<Mutex<Chunks>>,
}

// SAFETY: `env` is used only after `on_js_thread` says this is its thread,
// and `callback` is only called there; `JsValue` and `Deliverer` are
// themselves `Send` and `Sync`.
unsafe impl Send for JsOutput {}
// SAFETY: as above.
unsafe impl Sync for JsOutput {}

impl JsOutput {
    /// The sink for `callback`, or `None` when it is `undefined`.
    ///
    /// # Safety
    /// On `env`'s thread inside a callback or handle scope.
    unsafe fn of(env: napi_env, callback: napi_value) -> Raw<Option<Sink>> {
        // SAFETY: the caller's contract.
        unsafe {
            if js::type_of(env, callback)? != sys::ValueType::napi_function {
                return Ok(None);
            }
            let output = JsOutput {
                env,
                callback: Arc::new(JsValue::strong(env, callback)?),
                deliverer: EnvData::of(env)?.deliverer.clone(),
                pending: Arc::default(),
            };
            Ok(Some(Sink(Arc::new(output))))
        }
    }
}

impl OutputSink for JsOutput {
    fn write(&self, stream: Stream, bytes: &[u8]) -> bool {
        if self.deliverer.on_js_thread() {
            // SAFETY: on `env`'s thread, inside `runWasiSync` (the only run
            // on this thread), whose program is writing.
            return unsafe {
                js::scoped(self.env, || {
                    call_output(self.env, &self.callback, stream, bytes)
                })
            }
            .is_ok_and(|kept| kept.unwrap_or(false));
        }
        let mut pending = self.pending.lock();
        let was_empty = pending.is_empty();
        match pending.last_mut() {
            Some((last, joined)) if *last == stream => joined.extend_from_slice(bytes),
            _ => pending.push((stream, bytes.to_vec())),
        }
        drop(pending);
        if was_empty {
            let (callback, pending) = (self.callback.clone(), self.pending.clone());
            self.deliverer.push(Box::new(move |env| {
                let chunks = std::mem::take(&mut *pending.lock());
                for (stream, bytes) in chunks {
                    // SAFETY: deliveries run on `env`'s thread, in a scope.
                    let _ = unsafe { call_output(env, &callback, stream, &bytes) };
                }
            }));
        }
        true
    }
}

/// Calls `callback(stream, chunk)`; whether the program may go on. A
/// callback that throws stops it (the TypeScript layer's dispatcher never
/// throws; the exception is cleared here so that none is left pending).
///
/// # Safety
/// On `env`'s thread inside a callback or handle scope.
unsafe fn call_output(
    env: napi_env,
    callback: &JsValue,
    stream: Stream,
    bytes: &[u8],
) -> Raw<bool> {
    // SAFETY: the caller's contract.
    unsafe {
        let Some(function) = callback.get(env)? else {
            return Ok(false);
        };
        let number = match stream {
            Stream::Stdout => 1.0,
            Stream::Stderr => 2.0,
        };
        let argv = [js::double(env, number)?, uint8_array(env, bytes)?];
        let Ok(result) = js::call(env, function, &argv)? else {
            return Ok(false);
        };
        Ok(js::boolean(env, result).unwrap_or(false))
    }
}
