//! The one place a core [`WasmError`] becomes a JavaScript error.
//!
//! The TypeScript layer registers its `WasmError` classes at load time
//! (`registerErrorClasses`); an error is built by calling the class of its
//! kind, then given its fields as real properties: `trapCode` and `cause`
//! (the value a host function threw) through the `RuntimeError`
//! constructor, `instanceId` and `exportName` after it. Argument errors are
//! `TypeError`s. Without registered classes (the raw binding), errors are
//! plain `Error`s with a
//! `code`.

use napi::JsValue as _;
use napi::sys::{self, napi_env, napi_value};
use napi::{Env, Status};
use napi_derive::napi;
use wasm_engine_core::{ErrorKind, WasmError};

use crate::env::EnvData;
use crate::js::{self, Raw};
use crate::reference::JsValue;

/// The property of the object given to `registerErrorClasses` that holds
/// the class of `kind`; `None` for argument errors, which are `TypeError`s.
fn class_key(kind: ErrorKind) -> Option<&'static str> {
    match kind {
        ErrorKind::Argument => None,
        ErrorKind::InvalidHandle => Some("INVALID_HANDLE"),
        ErrorKind::Closed => Some("ENGINE_CLOSED"),
        other => Some(other.code()),
    }
}

/// Registers the TypeScript error classes, by code (plus `INVALID_HANDLE`
/// and `ENGINE_CLOSED` for the two subclasses of `OtherError`).
#[napi(ts_args_type = "classes: Record<string, new (...args: any[]) => Error>")]
pub fn register_error_classes(
    env: Env,
    classes: napi::bindgen_prelude::Object<'_>,
) -> napi::Result<()> {
    let env = env.raw();
    // SAFETY: a Node-API callback on `env`'s thread.
    unsafe {
        let data = EnvData::of(env).map_err(failed)?;
        for kind in ErrorKind::ALL {
            let Some(key) = class_key(kind) else { continue };
            let class = js::property(env, classes.raw(), key).map_err(failed)?;
            if js::type_of(env, class).map_err(failed)? != sys::ValueType::napi_function {
                return Err(napi::Error::new(
                    Status::InvalidArg,
                    format!("classes.{key} must be a class"),
                ));
            }
            data.register_class(env, kind, class).map_err(failed)?;
        }
    }
    Ok(())
}

/// The JavaScript error for `err`.
///
/// # Safety
/// On `env`'s thread, inside a callback or handle scope.
pub(crate) unsafe fn to_js(env: napi_env, err: &WasmError) -> Raw<napi_value> {
    // SAFETY: the caller's contract covers every call below.
    unsafe {
        let message = js::string(env, err.message())?;
        let data = EnvData::of(env)?;
        let class = class_key(err.kind()).and_then(|_| data.class(env, err.kind()));
        let error = match class {
            Some(class) => {
                let mut args = vec![message];
                if err.kind() == ErrorKind::Runtime {
                    args.push(match err.trap() {
                        Some(trap) => js::string(env, trap.name())?,
                        None => js::undefined(env)?,
                    });
                    let cause = err.cause().and_then(|c| c.downcast_ref::<JsValue>());
                    if let Some(value) = cause.map(|c| c.get(env)).transpose()?.flatten() {
                        let options = js::object(env)?;
                        js::set_property(env, options, "cause", value)?;
                        args.push(options);
                    }
                }
                js::construct(env, class, &args)?
            }
            None if err.kind() == ErrorKind::Argument => js::type_error(env, message)?,
            None => js::error(env, js::string(env, err.kind().code())?, message)?,
        };
        if let Some(id) = err.instance() {
            js::set_property(env, error, "instanceId", js::bigint(env, id)?)?;
        }
        if let Some(name) = err.export() {
            js::set_property(env, error, "exportName", js::string(env, name)?)?;
        }
        if let Some(failure) = err.contract_failure() {
            js::set_property(env, error, "kind", js::string(env, failure.kind)?)?;
            let reason = match &failure.reason {
                Some(reason) => js::string(env, reason)?,
                None => js::null(env)?,
            };
            js::set_property(env, error, "reason", reason)?;
        }
        Ok(error)
    }
}

/// Throws `err` as its JavaScript error; returns the `napi::Error` that
/// tells napi-rs an exception is pending.
///
/// # Safety
/// On `env`'s thread, inside a callback.
pub(crate) unsafe fn throw(env: napi_env, err: &WasmError) -> napi::Error {
    // SAFETY: the caller's contract.
    unsafe {
        match to_js(env, err) {
            Ok(error) => js::throw(env, error),
            // The error could not be built (an exception is already pending,
            // or the environment is going away): say what it was anyway.
            Err(_) => js::throw_text(env, &err.to_string().replace('\0', " ")),
        }
    }
    napi::Error::from_status(Status::PendingException)
}

/// `result`, with its error thrown into JavaScript.
pub(crate) fn or_throw<T>(env: napi_env, result: Result<T, WasmError>) -> napi::Result<T> {
    // SAFETY: every caller is a Node-API callback running on `env`'s thread.
    result.map_err(|err| unsafe { throw(env, &err) })
}

/// A failed Node-API call as a napi-rs error (an exception may be pending).
pub(crate) fn failed(err: js::Failed) -> napi::Error {
    let status = Status::from(err.0);
    napi::Error::new(status, format!("a Node-API call failed ({status})"))
}
