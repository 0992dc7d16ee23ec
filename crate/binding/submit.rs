//! The one way work leaves the JavaScript thread: a promise, a job on the
//! workers, and the settlement back on the JavaScript thread.
//!
//! Blocking calls, WASI runs, Freenet operations and async compiles are all
//! submitted here. A job owns what it uses: its closure holds the engine
//! and the instances it runs on (counted references, see the core's
//! `Instance`), and the JavaScript objects it will call (an engine's host
//! functions, a runtime's stores and log) are held strongly until the
//! promise settles. Whatever the caller drops meanwhile, the work finishes
//! as it would have, and what it held is released as it settles.

use std::sync::Arc;
use std::time::Duration;

use napi::sys::{self, napi_env, napi_value};
use wasm_engine_core::deadline::Flag;
use wasm_engine_core::scheduler::{Entry, Queue};
use wasm_engine_core::{Engine, WasmError};

use crate::deliver::{Deferred, Deliverer};
use crate::env::EnvData;
use crate::errors;
use crate::js::{Raw, ok};
use crate::reference::JsValue;

/// What a settled promise resolves with, made into its JavaScript value
/// on the JavaScript thread. Each feature implements it for its answers;
/// the deliverer knows none of them.
pub(crate) trait Answer: Send {
    /// # Safety
    /// On `env`'s thread inside a callback or handle scope.
    unsafe fn to_js(self: Box<Self>, env: napi_env) -> Raw<napi_value>;
}

/// What the job's work gives back: the promise's value or its error.
pub(crate) type Outcome = Result<Box<dyn Answer>, WasmError>;

/// One piece of work for the workers.
pub(crate) struct Work {
    /// Names the work in queue errors (`export "run" of instance 7`).
    pub(crate) what: Arc<str>,
    /// Fires when the caller gives up.
    pub(crate) abort: Option<Flag>,
    /// JavaScript values the work may call, held until it settles.
    pub(crate) keep: Vec<Arc<JsValue>>,
    /// Runs on a worker once the work may start.
    pub(crate) run: Box<dyn FnOnce() -> Outcome + Send>,
}

/// Where the work waits for its turn.
pub(crate) enum Lane<'a> {
    /// Behind the engine's earlier work, one at a time, with its deadline
    /// as the most it may wait.
    Engine(&'a Engine),
    /// On a queue of its own: work that waits for no engine (compiles).
    Alone,
}

/// Submits `work` in `lane` and returns the promise it settles.
///
/// # Safety
/// On `env`'s thread inside a callback.
pub(crate) unsafe fn submit(env: napi_env, lane: Lane<'_>, work: Work) -> Raw<napi_value> {
    let Work {
        what,
        abort,
        keep,
        run,
    } = work;
    // SAFETY: the caller's contract.
    let deliverer = unsafe { EnvData::of(env) }?.deliverer.clone();
    let mut held = Vec::with_capacity(keep.len());
    for value in keep {
        // SAFETY: the caller's contract; a value that cannot be held is
        // left as it was (weak), as before this work.
        if unsafe { value.hold(env) }.is_ok() {
            held.push(value);
        }
    }
    // SAFETY: the caller's contract.
    let (deferred, promise) = unsafe { deliverer.promise(env) }?;
    let settler = deliverer.clone();
    let job = Box::new(move |verdict: Result<(), WasmError>| {
        // `run` and what it holds (instances, engine) are dropped before the
        // settlement is queued: a dropped handle's instance is free by the
        // time its promise settles.
        let outcome = verdict.and_then(|()| run());
        deliverer.push(Box::new(move |env| {
            // SAFETY: deliveries run on the environment's thread, in a scope.
            unsafe {
                let _ = settle(env, &settler, deferred, outcome);
                for value in &held {
                    value.unhold(env);
                }
            }
        }));
    });
    let entry = |budget| Entry {
        what,
        budget,
        abort,
        job,
    };
    match lane {
        Lane::Engine(engine) => engine.submit(entry(engine.limits().deadline)),
        Lane::Alone => Arc::new(Queue::default()).submit(entry(Duration::MAX)),
    }
    Ok(promise)
}

/// Settles `deferred` with `outcome` now, on the JavaScript thread.
///
/// # Safety
/// On `env`'s thread inside a callback or handle scope.
unsafe fn settle(
    env: napi_env,
    deliverer: &Deliverer,
    deferred: Deferred,
    outcome: Outcome,
) -> Raw<()> {
    // SAFETY: the caller's contract.
    unsafe {
        deliverer.end(env);
        let settled = match outcome {
            Ok(answer) => answer.to_js(env),
            Err(err) => {
                let error = errors::to_js(env, &err)?;
                return ok(sys::napi_reject_deferred(env, deferred.0, error));
            }
        };
        match settled {
            Ok(value) => ok(sys::napi_resolve_deferred(env, deferred.0, value)),
            Err(_) => {
                let err = WasmError::new(
                    wasm_engine_core::ErrorKind::Other,
                    "cannot convert the result for JavaScript",
                );
                ok(sys::napi_reject_deferred(
                    env,
                    deferred.0,
                    errors::to_js(env, &err)?,
                ))
            }
        }
    }
}
