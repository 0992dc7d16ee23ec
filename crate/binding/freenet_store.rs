//! Delegate stores written in JavaScript: `FreenetHostOptions.secrets` and
//! `.contracts`, behind the core's [`Store`] trait.
//!
//! The TypeScript layer gives the runtime one function,
//! `store(token, kind, ...args)`, that runs the request of `kind` against
//! the user's objects. It returns `[value]` when the answer is at hand, or
//! `undefined` when it is a promise, which settles later through
//! `resolveRequest(token, value)` / `rejectRequest(token, reason)` (see
//! `requests`: a request whose guest gave up is never run). A guest
//! entered synchronously from JavaScript is answered right there (a promise
//! cannot be awaited there and fails the request); a guest on a worker
//! posts its request to the JavaScript thread and waits.

use std::sync::Arc;

use napi::sys::{self, napi_env, napi_value};
use wasm_engine_core::{HostFailure, Site};
use wasm_engine_freenet::hooks::{Answer, Reply, Request, Store};
use wasm_engine_freenet::wire::DelegateKey;

use crate::deliver::Deliverer;
use crate::env::EnvData;
use crate::freenet_values::delegate_key_to_js;
use crate::js::uint8_array;
use crate::js::{self, Raw};
use crate::reference::JsValue;
use crate::requests::{JsAnswer, Pending, Ran, Requests};
use crate::values::describe;

/// The user's stores, reached through the runtime's `store` function.
pub(crate) struct JsStore {
    /// Held weakly: the runtime's JavaScript object holds it, so a store
    /// that captures the runtime does not keep it alive forever. Work in
    /// flight holds it strongly (see `submit`).
    pub(crate) store: Arc<JsValue>,
    env: napi_env,
    deliverer: Arc<Deliverer>,
    requests: Arc<Requests>,
}

// SAFETY: `env` and `store` are only used on the JavaScript thread:
// `answer_here` checks the thread, posted requests run in the deliverer's
// callback there.
unsafe impl Send for JsStore {}
// SAFETY: as above.
unsafe impl Sync for JsStore {}

/// A posted request waiting for JavaScript: where its answer goes.
struct Waiting {
    reply: Reply,
    request: Request,
}

impl Pending for Waiting {
    unsafe fn settle(self: Box<Self>, env: napi_env, outcome: JsAnswer) {
        let Waiting { reply, request } = *self;
        // SAFETY: the caller's contract.
        let answer = unsafe {
            match outcome {
                Ok(value) => answer(env, &request, value),
                Err(thrown) => Err(HostFailure::new(format!(
                    "{} {}: {}",
                    what(&request),
                    thrown.verb(),
                    describe(env, thrown.value)
                ))),
            }
        };
        reply.send(answer);
    }

    fn fail(self: Box<Self>, failure: HostFailure) {
        self.reply.send(Err(failure));
    }
}

impl JsStore {
    /// The store behind `store(token, kind, ...args)`.
    ///
    /// # Safety
    /// On `env`'s thread inside a callback.
    pub(crate) unsafe fn new(env: napi_env, store: napi_value) -> Raw<Arc<JsStore>> {
        // SAFETY: the caller's contract.
        let (store, data) = unsafe { (JsValue::weak(env, store)?, EnvData::of(env)?) };
        Ok(Arc::new(JsStore {
            store: Arc::new(store),
            env,
            deliverer: data.deliverer.clone(),
            requests: data.requests.clone(),
        }))
    }

    /// Calls `store(token, kind, ...args)` for `request`: the value at
    /// hand, `Later` when a promise will bring it, or what it threw.
    ///
    /// # Safety
    /// On `env`'s thread inside a callback or handle scope.
    unsafe fn call(store: &JsValue, env: napi_env, token: u64, request: &Request) -> Ran {
        let broken = |_| {
            HostFailure::new(format!(
                "cannot ask the store ({}): Node-API failed",
                what(request)
            ))
        };
        // SAFETY: the caller's contract.
        let ran = unsafe {
            (|| -> Result<Ran, HostFailure> {
                let Some(store) = store.get(env).map_err(broken)? else {
                    return Err(HostFailure::new(
                        "the runtime's stores are gone: its ContractRuntime was garbage-collected",
                    ));
                };
                let mut argv = vec![
                    js::double(env, token as f64).map_err(broken)?,
                    js::double(env, f64::from(kind(request))).map_err(broken)?,
                ];
                arguments(env, request, &mut argv).map_err(broken)?;
                let returned = match js::call(env, store, &argv).map_err(broken)? {
                    Ok(returned) => returned,
                    Err(exception) => return Ok(Ran::Threw(exception)),
                };
                if !js::is_array(env, returned) {
                    return Ok(Ran::Later);
                }
                Ok(Ran::Answered(
                    js::element(env, returned, 0).map_err(broken)?,
                ))
            })()
        };
        ran.unwrap_or_else(Ran::Failed)
    }
}

impl Store for JsStore {
    fn answer_here(&self, site: Site, request: &Request) -> Option<Result<Answer, HostFailure>> {
        if site != Site::Direct || !self.deliverer.on_js_thread() {
            return None;
        }
        let env = self.env;
        // SAFETY: on the JavaScript thread (checked above), inside the
        // Node-API callback of the synchronous call that entered the guest;
        // every value lives in the scope opened here.
        let answered = unsafe {
            js::scoped(env, || match JsStore::call(&self.store, env, 0, request) {
                Ran::Answered(value) => answer(env, request, value),
                Ran::Threw(exception) => Err(HostFailure::new(format!(
                    "{} threw: {}",
                    what(request),
                    describe(env, exception)
                ))),
                Ran::Later => Err(HostFailure::new(format!(
                    "{} returned a promise, which a synchronous call cannot wait for: use process()",
                    what(request)
                ))),
                Ran::Failed(failure) => Err(failure),
            })
        };
        Some(answered.unwrap_or_else(|_| {
            Err(HostFailure::new(format!(
                "cannot ask the store ({}): Node-API failed",
                what(request)
            )))
        }))
    }

    fn post(&self, token: u64, request: Request, reply: Reply) -> Result<(), HostFailure> {
        let store = self.store.clone();
        let asked = request.clone();
        self.requests.post(
            &self.deliverer,
            token,
            Box::new(Waiting { reply, request }),
            // SAFETY: deliveries run on `env`'s thread in a scope.
            move |env, token| unsafe { JsStore::call(&store, env, token, &asked) },
        );
        Ok(())
    }

    fn abandon(&self, token: u64) {
        self.requests.abandon(token);
    }
}

/// The number TypeScript's `store` function knows `request` by.
fn kind(request: &Request) -> u32 {
    match request {
        Request::SecretGet { .. } => 0,
        Request::SecretSet { .. } => 1,
        Request::SecretRemove { .. } => 2,
        Request::ContractGet { .. } => 3,
        Request::ContractPut { .. } => 4,
        Request::ContractUpdate { .. } => 5,
        Request::ContractSubscribe { .. } => 6,
        Request::SecretHas { .. } => 7,
        Request::SecretList { .. } => 8,
    }
}

/// Names the user's function a request runs, for messages.
fn what(request: &Request) -> &'static str {
    match request {
        Request::SecretGet { .. } => "secrets.get",
        Request::SecretSet { .. } => "secrets.set",
        Request::SecretRemove { .. } => "secrets.remove",
        Request::ContractGet { .. } => "contracts.get",
        Request::ContractPut { .. } => "contracts.put",
        Request::ContractUpdate { .. } => "contracts.update",
        Request::ContractSubscribe { .. } => "contracts.subscribe",
        Request::SecretHas { .. } => "secrets.has",
        Request::SecretList { .. } => "secrets.list",
    }
}

/// Appends the request's arguments to `argv`.
unsafe fn arguments(env: napi_env, request: &Request, argv: &mut Vec<napi_value>) -> Raw<()> {
    let key = |delegate: &DelegateKey| {
        // SAFETY: the caller's contract.
        unsafe { delegate_key_to_js(env, delegate) }
    };
    // SAFETY: the caller's contract.
    let bytes = |data: &[u8]| unsafe { uint8_array(env, data) };
    match request {
        Request::SecretGet {
            delegate,
            key: name,
        }
        | Request::SecretHas {
            delegate,
            key: name,
        }
        | Request::SecretRemove {
            delegate,
            key: name,
        } => {
            argv.extend([key(delegate)?, bytes(name)?]);
        }
        Request::SecretSet {
            delegate,
            key: name,
            value,
        } => argv.extend([key(delegate)?, bytes(name)?, bytes(value)?]),
        Request::SecretList { delegate, prefix } => {
            argv.extend([key(delegate)?, bytes(prefix)?]);
        }
        Request::ContractGet { id } | Request::ContractSubscribe { id } => argv.push(bytes(id)?),
        Request::ContractPut { id, state } | Request::ContractUpdate { id, state } => {
            argv.extend([bytes(id)?, bytes(state)?]);
        }
    }
    Ok(())
}

/// The keys `secrets.list` gave: an array of byte arrays (`undefined`
/// for none).
fn keys(env: napi_env, value: napi_value) -> Result<Vec<Vec<u8>>, HostFailure> {
    crate::freenet_values::list(env, value, "secrets.list()", crate::convert::bytes)
        .map_err(|err| HostFailure::new(format!("secrets.list returned {}", err.message())))
}

/// The store's answer to `request`, from the value its function gave.
unsafe fn answer(
    env: napi_env,
    request: &Request,
    value: napi_value,
) -> Result<Answer, HostFailure> {
    // SAFETY: the caller's contract.
    unsafe {
        let ty = js::type_of(env, value).unwrap_or(sys::ValueType::napi_undefined);
        match request {
            Request::SecretGet { .. } | Request::ContractGet { .. } => {
                if matches!(
                    ty,
                    sys::ValueType::napi_undefined | sys::ValueType::napi_null
                ) {
                    return Ok(Answer::Found(None));
                }
                crate::convert::bytes(env, value, what(request))
                    .map(|bytes| Answer::Found(Some(bytes)))
                    .map_err(|err| {
                        HostFailure::new(format!("{} returned {}", what(request), err.message()))
                    })
            }
            Request::SecretList { .. } => keys(env, value).map(Answer::Keys),
            Request::SecretHas { .. } => {
                let flag = js::boolean(env, value)
                    .ok()
                    .filter(|_| ty == sys::ValueType::napi_boolean)
                    .ok_or_else(|| {
                        HostFailure::new(format!(
                            "secrets.has returned {}, not a boolean",
                            describe(env, value)
                        ))
                    })?;
                Ok(if flag { Answer::Done } else { Answer::Refused })
            }
            _ if ty == sys::ValueType::napi_boolean => {
                let flag = js::boolean(env, value).map_err(|_| {
                    HostFailure::new(format!("{} returned an unreadable boolean", what(request)))
                })?;
                Ok(if flag { Answer::Done } else { Answer::Refused })
            }
            _ => Ok(Answer::Done),
        }
    }
}
