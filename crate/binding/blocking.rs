//! `callBlocking`: a call of an export of any signature, queued on the
//! engine's workers, whose promise settles with its results.
//!
//! The arguments are converted here, on the JavaScript thread, against the
//! export's type read from the module (no lock needed); the export itself
//! is looked up on the worker, under the engine's lock, which the
//! JavaScript thread may not wait for. The job holds the instance and the
//! engine, and the engine's host functions are held until it settles.

use std::sync::Arc;

use napi::JsValue as _;
use napi::bindgen_prelude::{Env, Object};
use napi::sys::{napi_callback_info, napi_env, napi_value};
use napi_derive::napi;
use wasm_engine_core::{ErrorKind, Kind, Site, Val, WasmError};

use crate::convert::{self, broken};
use crate::engine::NativeEngine;
use crate::env::EnvData;
use crate::errors;
use crate::function::{STACK_ARGS, arguments, callback, expected};
use crate::js::{self, Args, Raw};
use crate::signal;
use crate::submit::{self, Answer, Lane, Work};
use crate::values;

/// The results of a call, as its promise resolves.
struct Results(Vec<Val>);

impl Answer for Results {
    unsafe fn to_js(self: Box<Self>, env: napi_env) -> Raw<napi_value> {
        // SAFETY: the caller's contract.
        unsafe { values::results_to_js(env, EnvData::of(env)?, &self.0) }
    }
}

/// `callBlocking(engine, handle, name, expect, signal, ...args)`: queues a
/// call of the export `name` of `handle`'s instance on `engine`'s workers;
/// returns a promise of its results that rejects with the call's error.
/// `expect` (0 any, 1, 2 or 3, see [`expected`]) is checked against the
/// export's type; `signal` is a `CallSignal` or `undefined`.
unsafe extern "C" fn call_blocking(env: napi_env, info: napi_callback_info) -> napi_value {
    // SAFETY: Node calls this on `env`'s thread with the callback's `info`.
    unsafe {
        callback(env, || {
            let args = Args::<{ STACK_ARGS + 5 }>::read(env, info).map_err(broken)?;
            let all = if args.count > args.values.len() {
                js::all_args(env, info, args.count).map_err(broken)?
            } else {
                args.values[..args.count].to_vec()
            };
            let [engine_object, handle, name, expect, signal, rest @ ..] = all.as_slice() else {
                return Err(WasmError::new(
                    ErrorKind::Argument,
                    "callBlocking(engine, handle, name, expect, signal, ...args)",
                ));
            };
            let native = js::class::<NativeEngine>(env, *engine_object).ok_or_else(|| {
                WasmError::new(ErrorKind::Argument, "engine must be a NativeEngine")
            })?;
            let engine = native.core().clone();
            let instance = convert::handle(env, *handle)?.instance()?;
            let name = convert::string(env, *name, "name")?;
            let expect = convert::u32(env, *expect, "expect")?;
            // A fixed signature is checked against the instance's export on
            // the worker; any other is read from the module here.
            let (params, results): (Arc<[Kind]>, Option<Arc<[Kind]>>) = match expect {
                0 => {
                    let signature = instance.export_signature(&name)?;
                    (signature.params.into(), None)
                }
                _ => {
                    let (params, results) = expected(expect).ok_or_else(|| {
                        WasmError::new(
                            ErrorKind::Argument,
                            format!("expect must be 0, 1, 2 or 3, got {expect}"),
                        )
                    })?;
                    (params.into(), Some(results.into()))
                }
            };
            let what: Arc<str> = format!("export \"{name}\" of instance {}", instance.id()).into();
            let abort = signal::flag_of(env, *signal)?;
            let mut values = vec![Val::I32(0); params.len()];
            arguments(env, rest, &params, &what, &mut values)?;
            let job_engine = engine.clone();
            let job_abort = abort.clone();
            let run = Box::new(move || {
                let function = job_engine.function(Site::Worker, instance.target(), &name)?;
                if let Some(results) = &results {
                    function.ensure_signature(&params, results)?;
                }
                let mut out = vec![Val::I32(0); function.signature().results.len()];
                job_engine.invoke(
                    Site::Worker,
                    &function,
                    &values,
                    &mut out,
                    job_abort.as_ref(),
                )?;
                Ok(Box::new(Results(out)) as Box<dyn Answer>)
            });
            let work = Work {
                what,
                abort,
                keep: native.host_values(),
                run,
            };
            submit::submit(env, Lane::Engine(&engine), work).map_err(broken)
        })
    }
}

/// Adds the raw entry points to the module's exports.
#[napi(module_exports)]
pub fn register_raw(exports: Object<'_>, env: Env) -> napi::Result<()> {
    let raw = env.raw();
    let name = "callBlocking";
    // SAFETY: module initialisation, on `raw`'s thread.
    unsafe {
        let function = js::function(raw, name, Some(call_blocking), std::ptr::null_mut())
            .map_err(errors::failed)?;
        js::set_property(raw, exports.raw(), name, function).map_err(errors::failed)?;
    }
    Ok(())
}
