//! Host functions written in JavaScript.
//!
//! The TypeScript layer gives each engine one *dispatcher*,
//! `dispatch(index, token, instanceId, ...args)`, that runs the import at
//! `index` of the engine's list. [`JsHost`] calls it:
//! - directly, for a guest entered synchronously from JavaScript (the guest
//!   is on this thread's stack): arguments become plain JavaScript values,
//!   the return value is converted back at once, no object is allocated for
//!   the call and nothing is left for later;
//! - through the deliverer, for a guest on a worker, which parks until the
//!   answer comes back. An async import's dispatcher settles later through
//!   `resolveHostCall`/`rejectHostCall`.
//!
//! A host function's thrown value travels inside the failure, as a
//! reference, and becomes the `RuntimeError`'s `cause`.

use std::sync::{Arc, Weak};

use napi::Env;
use napi::JsValue as _;
use napi::bindgen_prelude::Unknown;
use napi::sys::{self, napi_env, napi_value};
use napi_derive::napi;
use wasm_engine_core::{Host, HostCall, HostFailure, Kind, PostedCall, Val};

use crate::deliver::{Deliverer, Delivery, JsValue, Pending};
use crate::env::EnvData;
use crate::errors;
use crate::js::{self, Raw, ok};
use crate::values::{self, MAX_SAFE_INTEGER, describe, hint};

/// Runs an engine's JavaScript imports through its dispatcher.
pub(crate) struct JsHost {
    /// Held weakly: the engine's JavaScript object holds it, so a cycle
    /// through user code that captures the engine can still be collected.
    dispatcher: JsValue,
    env: napi_env,
    deliverer: Arc<Deliverer>,
    this: Weak<JsHost>,
}

// SAFETY: `env` is only used on its JavaScript thread: `call_here` checks
// the thread, and `answer_posted` runs in the deliverer's callback there.
unsafe impl Send for JsHost {}
// SAFETY: as above.
unsafe impl Sync for JsHost {}

impl JsHost {
    /// The host of an engine whose dispatcher is `dispatcher`.
    ///
    /// # Safety
    /// On `env`'s thread inside a callback.
    pub(crate) unsafe fn new(env: napi_env, dispatcher: napi_value) -> Raw<Arc<JsHost>> {
        // SAFETY: the caller's contract.
        let (dispatcher, data) = unsafe { (JsValue::weak(env, dispatcher)?, EnvData::of(env)?) };
        Ok(Arc::new_cyclic(|this| JsHost {
            dispatcher,
            env,
            deliverer: data.deliverer.clone(),
            this: this.clone(),
        }))
    }

    /// Calls the dispatcher for `call` and, unless the import is
    /// asynchronous, converts its return value into `results`.
    unsafe fn run(
        &self,
        env: napi_env,
        call: &HostCall<'_>,
        asynchronous: bool,
        results: &mut [Val],
    ) -> Result<(), HostFailure> {
        let broken = |_| {
            HostFailure::new(format!(
                "cannot call the host function {} (Node-API failed)",
                call.import
            ))
        };
        // SAFETY: on `env`'s thread (the caller's contract); every value
        // created lives in the scope opened here.
        let outcome = unsafe {
            js::scoped(env, || -> Result<(), HostFailure> {
                let data = EnvData::of(env).map_err(broken)?;
                let Some(dispatcher) = self.dispatcher.get(env).map_err(broken)? else {
                    return Err(HostFailure::new(format!(
                        "cannot call the host function {}: its engine was garbage-collected",
                        call.import
                    )));
                };
                let mut argv = Vec::with_capacity(3 + call.args.len());
                argv.push(js::double(env, f64::from(call.index)).map_err(broken)?);
                argv.push(js::double(env, call.token as f64).map_err(broken)?);
                argv.push(instance_id(env, call.instance_id).map_err(broken)?);
                for arg in call.args {
                    argv.push(values::to_js(env, data, arg).map_err(broken)?);
                }
                let mut returned = std::ptr::null_mut();
                let status = sys::napi_call_function(
                    env,
                    js::undefined(env).map_err(broken)?,
                    dispatcher,
                    argv.len(),
                    argv.as_ptr(),
                    &mut returned,
                );
                if status == sys::Status::napi_pending_exception {
                    let verb = if asynchronous { "rejected" } else { "threw" };
                    return Err(thrown(env, call.import, verb));
                }
                ok(status).map_err(broken)?;
                if asynchronous {
                    return Ok(());
                }
                convert(env, returned, call.results, call.import, results)
            })
        };
        outcome.map_err(broken)?
    }

    /// Answers a call a worker posted; runs in the deliverer's callback.
    ///
    /// # Safety
    /// On `env`'s thread, in the deliverer's callback.
    pub(crate) unsafe fn answer_posted(&self, env: napi_env, posted: PostedCall) {
        let PostedCall {
            index,
            token,
            instance_id,
            import,
            asynchronous,
            args,
            results,
            reply,
        } = posted;
        let call = HostCall {
            index,
            token,
            instance_id,
            import: &import,
            args: &args,
            results: &results,
        };
        if asynchronous {
            let pending = Pending {
                reply,
                results: results.clone(),
                import: import.clone(),
            };
            self.deliverer.wait_for(token, pending);
            // SAFETY: the caller's contract.
            if let Err(failure) = unsafe { self.run(env, &call, true, &mut []) }
                && let Some(pending) = self.deliverer.take_pending(token)
            {
                pending.reply.send(Err(failure));
            }
            return;
        }
        let mut values = vec![Val::I32(0); results.len()];
        // SAFETY: the caller's contract.
        let outcome = unsafe { self.run(env, &call, false, &mut values) };
        reply.send(outcome.map(|()| values));
    }
}

impl Host for JsHost {
    fn call_here(&self, call: &HostCall<'_>, results: &mut [Val]) -> Result<(), HostFailure> {
        if !self.deliverer.on_js_thread() {
            return Err(HostFailure::new(
                "a JavaScript host call left the JavaScript thread",
            ));
        }
        // SAFETY: on the JavaScript thread (checked above), inside the
        // Node-API callback of the synchronous call that entered the guest.
        unsafe { self.run(self.env, call, false, results) }
    }

    fn post(&self, call: PostedCall) -> Result<(), HostFailure> {
        let Some(host) = self.this.upgrade() else {
            return Err(HostFailure::new("the engine's host is gone"));
        };
        self.deliverer.push(Delivery::Host { call, host });
        Ok(())
    }

    fn abandon(&self, token: u64) {
        self.deliverer.take_pending(token);
    }
}

/// The instance id as the dispatcher gets it: a number when it is a safe
/// integer (no allocation), a bigint otherwise.
unsafe fn instance_id(env: napi_env, id: i64) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        if (id.unsigned_abs() as f64) <= MAX_SAFE_INTEGER {
            js::double(env, id as f64)
        } else {
            js::bigint(env, id)
        }
    }
}

/// The failure for the exception pending after a host function threw (or
/// its promise rejected), which it clears and keeps as the cause.
unsafe fn thrown(env: napi_env, import: &str, verb: &str) -> HostFailure {
    // SAFETY: the caller's contract: on `env`'s thread, an exception pending.
    unsafe {
        let mut exception = std::ptr::null_mut();
        if ok(sys::napi_get_and_clear_last_exception(env, &mut exception)).is_err() {
            return HostFailure::new(format!("{import} {verb}"));
        }
        failure_with_cause(env, exception, import, verb)
    }
}

unsafe fn failure_with_cause(
    env: napi_env,
    value: napi_value,
    import: &str,
    verb: &str,
) -> HostFailure {
    // SAFETY: the caller's contract.
    unsafe {
        let message = format!("{import} {verb}: {}", describe(env, value));
        HostFailure {
            message,
            cause: JsValue::strong(env, value)
                .ok()
                .map(|cause| Arc::new(cause) as _),
        }
    }
}

/// Converts what a host function returned into `out`, typed as `kinds`.
unsafe fn convert(
    env: napi_env,
    value: napi_value,
    kinds: &[Kind],
    import: &str,
    out: &mut [Val],
) -> Result<(), HostFailure> {
    let fail = |what: String| {
        Err(HostFailure::new(format!(
            "host function {import} returned {what}"
        )))
    };
    let expected = || match kinds {
        [] => "nothing".to_owned(),
        [one] => hint(*one).to_owned(),
        many => format!(
            "an array of {}",
            many.iter().map(|k| hint(*k)).collect::<Vec<_>>().join(", ")
        ),
    };
    // SAFETY: the caller's contract.
    unsafe {
        let ty = js::type_of(env, value).unwrap_or(sys::ValueType::napi_undefined);
        let mut is_array = false;
        let _ = ok(sys::napi_is_array(env, value, &mut is_array));
        let items: Vec<napi_value> = match ty {
            sys::ValueType::napi_undefined => Vec::new(),
            sys::ValueType::napi_number | sys::ValueType::napi_bigint => vec![value],
            _ if is_array => {
                let mut len = 0;
                let _ = ok(sys::napi_get_array_length(env, value, &mut len));
                if kinds.len() < 2 {
                    return fail(format!("an array of {len} values, expected {}", expected()));
                }
                let mut items = Vec::with_capacity(len as usize);
                for i in 0..len {
                    let mut item = std::ptr::null_mut();
                    if ok(sys::napi_get_element(env, value, i, &mut item)).is_err() {
                        return fail("an array that cannot be read".into());
                    }
                    items.push(item);
                }
                items
            }
            _ if values::is_thenable(env, value) => {
                return fail("a promise: register it in asyncImports".into());
            }
            _ => {
                return fail(format!(
                    "{}, not a number, a bigint, an array of them or nothing",
                    describe(env, value)
                ));
            }
        };
        if items.len() != kinds.len() {
            return fail(format!("{} values, expected {}", items.len(), expected()));
        }
        for ((item, kind), slot) in items.iter().zip(kinds).zip(out.iter_mut()) {
            match values::result(env, *item, *kind) {
                Ok(Some(val)) => *slot = val,
                _ => {
                    return fail(format!(
                        "{} where {} was expected",
                        describe(env, *item),
                        hint(*kind)
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Answers the async host call `token` with what its promise resolved to.
#[napi(ts_args_type = "token: number, value: unknown")]
pub fn resolve_host_call(env: Env, token: f64, value: Unknown<'_>) -> napi::Result<()> {
    let env = env.raw();
    // SAFETY: a Node-API callback on `env`'s thread.
    unsafe {
        let data = EnvData::of(env).map_err(errors::failed)?;
        if let Some(pending) = data.deliverer.take_pending(token as u64) {
            let mut values = vec![Val::I32(0); pending.results.len()];
            let outcome = convert(
                env,
                value.raw(),
                &pending.results,
                &pending.import,
                &mut values,
            );
            pending.reply.send(outcome.map(|()| values));
        }
    }
    Ok(())
}

/// Fails the async host call `token`: its promise rejected with `reason`.
#[napi(ts_args_type = "token: number, reason: unknown")]
pub fn reject_host_call(env: Env, token: f64, reason: Unknown<'_>) -> napi::Result<()> {
    let env = env.raw();
    // SAFETY: a Node-API callback on `env`'s thread.
    unsafe {
        let data = EnvData::of(env).map_err(errors::failed)?;
        if let Some(pending) = data.deliverer.take_pending(token as u64) {
            pending.reply.send(Err(failure_with_cause(
                env,
                reason.raw(),
                &pending.import,
                "rejected",
            )));
        }
    }
    Ok(())
}
