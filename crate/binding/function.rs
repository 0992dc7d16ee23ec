//! Exports as JavaScript functions: the calls at the floor of the boundary.
//!
//! `getFunction` looks an export up and checks its signature once, and
//! returns a plain JavaScript function bound to it (Node-API directly, no
//! class wrapper, no per-call lookup). A call converts its arguments,
//! enters the guest on this thread and converts the results; that is all.
//! `callBlocking` (in `blocking`) queues a call on the engine's workers
//! instead and returns a promise.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::Arc;

use napi::sys::{napi_callback_info, napi_env, napi_value};
use wasm_engine_core::{Engine, ErrorKind, Function, Kind, Site, Val, WasmError};

use crate::convert::broken;
use crate::env::EnvData;
use crate::errors;
use crate::js::{self, Args};
use crate::values::{self, hint};

/// Arguments read onto the stack; calls with more take a heap buffer.
pub(crate) const STACK_ARGS: usize = 8;

/// What a function object holds: its engine and its export.
pub(crate) struct Callable {
    pub(crate) engine: Arc<Engine>,
    pub(crate) function: Function,
    /// `export "name" of instance N`, for queue errors.
    what: Arc<str>,
}

impl Callable {
    pub(crate) fn new(engine: Arc<Engine>, function: Function) -> Callable {
        let what = format!(
            "export \"{}\" of instance {}",
            function.name(),
            function.instance_id()
        )
        .into();
        Callable {
            engine,
            function,
            what,
        }
    }
}

/// `values` converted to the `params` types of the export `what`, or an
/// `ARGUMENT` error naming the argument.
pub(crate) unsafe fn arguments(
    env: napi_env,
    values: &[napi_value],
    params: &[Kind],
    what: &str,
    out: &mut [Val],
) -> Result<(), WasmError> {
    if values.len() != params.len() {
        return Err(WasmError::new(
            ErrorKind::Argument,
            format!(
                "{what} takes {} arguments, got {}",
                params.len(),
                values.len()
            ),
        ));
    }
    for (i, ((value, kind), slot)) in values.iter().zip(params).zip(out.iter_mut()).enumerate() {
        // SAFETY: the caller's contract.
        match unsafe { values::argument(env, *value, *kind) } {
            Ok(Some(val)) => *slot = val,
            _ => {
                // SAFETY: as above.
                let got = unsafe { values::describe(env, *value) };
                return Err(WasmError::new(
                    ErrorKind::Argument,
                    format!(
                        "argument {} of {what} must be an {}, got {got}",
                        i + 1,
                        hint(*kind)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The JavaScript function for `callable`.
///
/// # Safety
/// On `env`'s thread inside a callback.
pub(crate) unsafe fn create(env: napi_env, callable: Callable) -> js::Raw<napi_value> {
    let name = callable.function.name().to_owned();
    let boxed = Box::into_raw(Box::new(callable));
    // SAFETY: the caller's contract. `boxed` stays valid as long as the
    // function object: the finalizer below frees it when the object is
    // collected, and the callback can only run while the object is alive.
    unsafe {
        let created = js::function(env, &name, Some(call), boxed.cast()).and_then(|function| {
            js::add_finalizer(env, function, boxed.cast(), Some(finalize)).map(|()| function)
        });
        if created.is_err() {
            drop(Box::from_raw(boxed));
        }
        created
    }
}

unsafe extern "C" fn finalize(_env: napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the box leaked in `create`; Node calls this once.
    drop(unsafe { Box::from_raw(data.cast::<Callable>()) });
}

/// Runs `body` as a Node-API callback: a failure is thrown as its
/// JavaScript error, a panic as an internal error; nothing unwinds into Node.
pub(crate) unsafe fn callback(
    env: napi_env,
    body: impl FnOnce() -> Result<napi_value, WasmError>,
) -> napi_value {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        Err(WasmError::new(
            ErrorKind::Other,
            "internal failure in wasm-engine (a bug): the call was abandoned",
        ))
    });
    match outcome {
        Ok(value) => value,
        Err(err) => {
            // SAFETY: a Node-API callback on `env`'s thread.
            unsafe { errors::throw(env, &err) };
            ptr::null_mut()
        }
    }
}

/// A synchronous call of the export.
unsafe extern "C" fn call(env: napi_env, info: napi_callback_info) -> napi_value {
    // SAFETY: Node calls this on `env`'s thread with the callback's `info`;
    // `data` is the live `Callable` this function object was created with.
    unsafe {
        callback(env, || {
            let args = Args::<STACK_ARGS>::read(env, info).map_err(broken)?;
            let callable = &*args.data.cast::<Callable>();
            let signature = callable.function.signature();
            let mut stack = [Val::I32(0); STACK_ARGS];
            let mut heap;
            let params: &mut [Val] =
                if args.count <= STACK_ARGS && signature.params.len() <= STACK_ARGS {
                    arguments(
                        env,
                        &args.values[..args.count],
                        &signature.params,
                        &callable.what,
                        &mut stack[..signature.params.len()],
                    )?;
                    &mut stack[..signature.params.len()]
                } else {
                    let all = js::all_args(env, info, args.count).map_err(broken)?;
                    heap = vec![Val::I32(0); signature.params.len()];
                    arguments(env, &all, &signature.params, &callable.what, &mut heap)?;
                    &mut heap
                };
            let mut results = [Val::I32(0); STACK_ARGS];
            let mut many;
            let out: &mut [Val] = if signature.results.len() <= STACK_ARGS {
                &mut results[..signature.results.len()]
            } else {
                many = vec![Val::I32(0); signature.results.len()];
                &mut many
            };
            callable
                .engine
                .invoke(Site::Direct, &callable.function, params, out, None)?;
            let data = EnvData::of(env).map_err(broken)?;
            values::results_to_js(env, data, out).map_err(broken)
        })
    }
}

/// The signatures a caller can insist on, by the number the TypeScript
/// layer passes: 0 any (no check), 1 `() -> ()`, 2 `(i64, i64) -> i64`,
/// 3 `(i64, i64, i64) -> i64`.
pub(crate) fn expected(code: u32) -> Option<(&'static [Kind], &'static [Kind])> {
    const I64: Kind = Kind::I64;
    match code {
        0 | 1 => Some((&[], &[])),
        2 => Some((&[I64, I64], &[I64])),
        3 => Some((&[I64, I64, I64], &[I64])),
        _ => None,
    }
}
