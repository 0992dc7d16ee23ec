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

use std::sync::Arc;

use napi::sys::{self, napi_env, napi_value};
use wasm_engine_core::host::Reply;
use wasm_engine_core::{Host, HostCall, HostFailure, Kind, PostedCall, Val};

use crate::deliver::Deliverer;
use crate::env::EnvData;
use crate::js::{self, Raw};
use crate::reference::JsValue;
use crate::requests::{JsAnswer, Pending, Ran, Requests};
use crate::values::{self, MAX_SAFE_INTEGER, describe, hint};

/// Runs an engine's JavaScript imports through its dispatcher.
pub(crate) struct JsHost {
    /// Held weakly: the engine's JavaScript object holds it, so a cycle
    /// through user code that captures the engine can still be collected.
    /// Work in flight holds it strongly (see `submit`).
    pub(crate) dispatcher: Arc<JsValue>,
    env: napi_env,
    deliverer: Arc<Deliverer>,
    requests: Arc<Requests>,
}

// SAFETY: `env` is only used on its JavaScript thread: `call_here` checks
// the thread, and posted calls run in the deliverer's callback there.
unsafe impl Send for JsHost {}
// SAFETY: as above.
unsafe impl Sync for JsHost {}

/// A posted host call waiting for JavaScript: where its results go.
struct Waiting {
    reply: Reply,
    results: Arc<[Kind]>,
    import: Arc<str>,
    asynchronous: bool,
}

impl Pending for Waiting {
    unsafe fn settle(self: Box<Self>, env: napi_env, outcome: JsAnswer) {
        // An async import's function that throws rejects its call.
        let verb = if self.asynchronous {
            "rejected"
        } else {
            "threw"
        };
        // SAFETY: the caller's contract.
        let answer = unsafe {
            match outcome {
                Ok(value) => {
                    let mut values = vec![Val::I32(0); self.results.len()];
                    convert(env, value, &self.results, &self.import, &mut values).map(|()| values)
                }
                Err(thrown) => Err(failure_with_cause(env, thrown.value, &self.import, verb)),
            }
        };
        self.reply.send(answer);
    }

    fn fail(self: Box<Self>, failure: HostFailure) {
        self.reply.send(Err(failure));
    }
}

impl JsHost {
    /// The host of an engine whose dispatcher is `dispatcher`.
    ///
    /// # Safety
    /// On `env`'s thread inside a callback.
    pub(crate) unsafe fn new(env: napi_env, dispatcher: napi_value) -> Raw<Arc<JsHost>> {
        // SAFETY: the caller's contract.
        let (dispatcher, data) = unsafe { (JsValue::weak(env, dispatcher)?, EnvData::of(env)?) };
        Ok(Arc::new(JsHost {
            dispatcher: Arc::new(dispatcher),
            env,
            deliverer: data.deliverer.clone(),
            requests: data.requests.clone(),
        }))
    }

    /// Calls the dispatcher for `call`: what it returned (an async
    /// import's dispatcher returns nothing and settles the call later).
    ///
    /// # Safety
    /// On `env`'s thread inside a callback or handle scope.
    unsafe fn dispatch(
        dispatcher: &JsValue,
        env: napi_env,
        call: &HostCall<'_>,
    ) -> Result<Result<napi_value, napi_value>, HostFailure> {
        let broken = |_| {
            HostFailure::new(format!(
                "cannot call the host function {} (Node-API failed)",
                call.import
            ))
        };
        // SAFETY: the caller's contract.
        unsafe {
            let data = EnvData::of(env).map_err(broken)?;
            let Some(dispatcher) = dispatcher.get(env).map_err(broken)? else {
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
            js::call(env, dispatcher, &argv).map_err(broken)
        }
    }
}

impl Host for JsHost {
    fn call_here(&self, call: &HostCall<'_>, results: &mut [Val]) -> Result<(), HostFailure> {
        if !self.deliverer.on_js_thread() {
            return Err(HostFailure::new(
                "a JavaScript host call left the JavaScript thread",
            ));
        }
        let env = self.env;
        // SAFETY: on the JavaScript thread (checked above), inside the
        // Node-API callback of the synchronous call that entered the guest;
        // every value created lives in the scope opened here.
        let outcome = unsafe {
            js::scoped(env, || {
                match JsHost::dispatch(&self.dispatcher, env, call)? {
                    Ok(returned) => convert(env, returned, call.results, call.import, results),
                    Err(thrown) => Err(failure_with_cause(env, thrown, call.import, "threw")),
                }
            })
        };
        outcome.map_err(|_| {
            HostFailure::new(format!(
                "cannot call the host function {} (Node-API failed)",
                call.import
            ))
        })?
    }

    fn post(&self, call: PostedCall) -> Result<(), HostFailure> {
        let PostedCall {
            index,
            token,
            instance_id,
            import,
            asynchronous,
            args,
            results,
            reply,
        } = call;
        let waiting = Waiting {
            reply,
            results: results.clone(),
            import: import.clone(),
            asynchronous,
        };
        let dispatcher = self.dispatcher.clone();
        self.requests.post(
            &self.deliverer,
            token,
            Box::new(waiting),
            move |env, token| {
                let call = HostCall {
                    index,
                    token,
                    instance_id,
                    import: &import,
                    args: &args,
                    results: &results,
                };
                // SAFETY: deliveries run on `env`'s thread in a scope.
                match unsafe { JsHost::dispatch(&dispatcher, env, &call) } {
                    Ok(Ok(_)) if asynchronous => Ran::Later,
                    Ok(Ok(returned)) => Ran::Answered(returned),
                    Ok(Err(thrown)) => Ran::Threw(thrown),
                    Err(failure) => Ran::Failed(failure),
                }
            },
        );
        Ok(())
    }

    fn abandon(&self, token: u64) {
        self.requests.abandon(token);
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
        let is_array = js::is_array(env, value);
        let items: Vec<napi_value> = match ty {
            sys::ValueType::napi_undefined => Vec::new(),
            sys::ValueType::napi_number | sys::ValueType::napi_bigint => vec![value],
            _ if is_array => {
                let len = js::array_length(env, value).unwrap_or(0);
                if kinds.len() < 2 {
                    return fail(format!("an array of {len} values, expected {}", expected()));
                }
                let mut items = Vec::with_capacity(len as usize);
                for i in 0..len {
                    let Ok(item) = js::element(env, value, i) else {
                        return fail("an array that cannot be read".into());
                    };
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
