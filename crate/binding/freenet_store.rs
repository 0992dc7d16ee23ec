//! Delegate stores written in JavaScript: `FreenetHostOptions.secrets` and
//! `.contracts`, behind the core's [`Store`] trait.
//!
//! The TypeScript layer gives the runtime one function,
//! `store(token, kind, ...args)`, that runs the request of `kind` against
//! the user's objects. It returns `[value]` when the answer is at hand, or
//! `undefined` when it is a promise, which settles later through
//! `resolveStore(token, value)` / `rejectStore(token, reason)`. A guest
//! entered synchronously from JavaScript is answered right there (a promise
//! cannot be awaited there and fails the request); a guest on a worker
//! posts its request to the JavaScript thread and waits.

use std::collections::{HashMap, HashSet};
use std::ptr;
use std::sync::{Arc, Weak};

use napi::sys::{self, napi_env, napi_value};
use parking_lot::Mutex;
use wasm_engine_core::freenet::hooks::{Answer, Reply, Request, Store};
use wasm_engine_core::freenet::wire::DelegateKey;
use wasm_engine_core::{HostFailure, Site};

use crate::deliver::{Deliverer, Delivery, JsValue};
use crate::env::EnvData;
use crate::freenet_values::delegate_key_to_js;
use crate::js::uint8_array;
use crate::js::{self, Raw, ok};
use crate::values::describe;

/// A request waiting for its promise, and what it asked.
struct Waiting {
    reply: Reply,
    request: Request,
}

/// The user's stores, reached through the runtime's `store` function.
pub(crate) struct JsStore {
    /// Held weakly: the runtime's JavaScript object holds it, so a store
    /// that captures the runtime does not keep it alive forever.
    store: JsValue,
    env: napi_env,
    deliverer: Arc<Deliverer>,
    waiting: Mutex<Pending>,
    this: Weak<JsStore>,
}

/// Requests whose promise has not settled, and requests whose guest gave
/// up before the JavaScript thread reached them.
#[derive(Default)]
struct Pending {
    waiting: HashMap<u64, Waiting>,
    abandoned: HashSet<u64>,
}

// SAFETY: `env` and `store` are only used on the JavaScript thread:
// `answer_here` checks the thread, `answer_posted` and `settle` run there.
unsafe impl Send for JsStore {}
// SAFETY: as above.
unsafe impl Sync for JsStore {}

impl JsStore {
    /// The store behind `store(token, kind, ...args)`.
    ///
    /// # Safety
    /// On `env`'s thread inside a callback.
    pub(crate) unsafe fn new(env: napi_env, store: napi_value) -> Raw<Arc<JsStore>> {
        // SAFETY: the caller's contract.
        let (store, data) = unsafe { (JsValue::weak(env, store)?, EnvData::of(env)?) };
        Ok(Arc::new_cyclic(|this| JsStore {
            store,
            env,
            deliverer: data.deliverer.clone(),
            waiting: Mutex::default(),
            this: this.clone(),
        }))
    }

    /// Calls `store(token, kind, ...args)` for `request`: `Some` with the
    /// answer when it came at once, `None` when a promise will bring it.
    unsafe fn call(
        &self,
        env: napi_env,
        token: u64,
        request: &Request,
    ) -> Option<Result<Answer, HostFailure>> {
        let broken = |_| {
            HostFailure::new(format!(
                "cannot ask the store ({}): Node-API failed",
                what(request)
            ))
        };
        // SAFETY: on `env`'s thread (the caller's contract); every value
        // lives in the scope opened here.
        let outcome = unsafe {
            js::scoped(env, || -> Result<Option<Answer>, HostFailure> {
                let Some(store) = self.store.get(env).map_err(broken)? else {
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
                    Err(exception) => {
                        return Err(HostFailure::new(format!(
                            "{} threw: {}",
                            what(request),
                            describe(env, exception)
                        )));
                    }
                };
                let mut is_array = false;
                ok(sys::napi_is_array(env, returned, &mut is_array)).map_err(broken)?;
                if !is_array {
                    return Ok(None);
                }
                let mut value = ptr::null_mut();
                ok(sys::napi_get_element(env, returned, 0, &mut value)).map_err(broken)?;
                answer(env, request, value).map(Some)
            })
        };
        match outcome {
            Ok(Ok(Some(answer))) => Some(Ok(answer)),
            Ok(Ok(None)) => None,
            Ok(Err(failure)) => Some(Err(failure)),
            Err(failed) => Some(Err(broken(failed))),
        }
    }

    /// Answers a request a worker posted; runs in the deliverer's callback.
    ///
    /// # Safety
    /// On `env`'s thread, in the deliverer's callback.
    pub(crate) unsafe fn answer_posted(
        &self,
        env: napi_env,
        token: u64,
        request: Request,
        reply: Reply,
    ) {
        {
            let mut pending = self.waiting.lock();
            if pending.abandoned.remove(&token) {
                return;
            }
            // Registered first: the promise may settle before `call` returns.
            pending.waiting.insert(
                token,
                Waiting {
                    reply,
                    request: request.clone(),
                },
            );
        }
        // SAFETY: the caller's contract.
        if let Some(answer) = unsafe { self.call(env, token, &request) }
            && let Some(waiting) = self.waiting.lock().waiting.remove(&token)
        {
            waiting.reply.send(answer);
        }
    }

    /// Settles request `token` with what its promise resolved to (`Ok`) or
    /// rejected with (`Err`).
    ///
    /// # Safety
    /// On `env`'s thread inside a callback.
    pub(crate) unsafe fn settle(
        &self,
        env: napi_env,
        token: u64,
        outcome: Result<napi_value, napi_value>,
    ) {
        let Some(Waiting { reply, request }) = self.waiting.lock().waiting.remove(&token) else {
            return;
        };
        // SAFETY: the caller's contract.
        let answer = unsafe {
            match outcome {
                Ok(value) => answer(env, &request, value),
                Err(reason) => Err(HostFailure::new(format!(
                    "{} rejected: {}",
                    what(&request),
                    describe(env, reason)
                ))),
            }
        };
        reply.send(answer);
    }
}

impl Store for JsStore {
    fn answer_here(&self, site: Site, request: &Request) -> Option<Result<Answer, HostFailure>> {
        if site != Site::Direct || !self.deliverer.on_js_thread() {
            return None;
        }
        // SAFETY: on the JavaScript thread (checked above), inside the
        // Node-API callback of the synchronous call that entered the guest.
        Some(unsafe { self.call(self.env, 0, request) }.unwrap_or_else(|| {
            Err(HostFailure::new(format!(
                "{} returned a promise, which a synchronous call cannot wait for: use process()",
                what(request)
            )))
        }))
    }

    fn post(&self, token: u64, request: Request, reply: Reply) -> Result<(), HostFailure> {
        let Some(store) = self.this.upgrade() else {
            return Err(HostFailure::new("the runtime's store is gone"));
        };
        self.deliverer.push(Delivery::Store {
            store,
            token,
            request,
            reply,
        });
        Ok(())
    }

    fn abandon(&self, token: u64) {
        let mut pending = self.waiting.lock();
        if pending.waiting.remove(&token).is_none() {
            pending.abandoned.insert(token);
        }
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
        Request::ContractGet { id } | Request::ContractSubscribe { id } => argv.push(bytes(id)?),
        Request::ContractPut { id, state } | Request::ContractUpdate { id, state } => {
            argv.extend([bytes(id)?, bytes(state)?]);
        }
    }
    Ok(())
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
            Request::SecretHas { .. } => {
                let mut flag = false;
                if ty != sys::ValueType::napi_boolean
                    || ok(sys::napi_get_value_bool(env, value, &mut flag)).is_err()
                {
                    return Err(HostFailure::new(format!(
                        "secrets.has returned {}, not a boolean",
                        describe(env, value)
                    )));
                }
                Ok(if flag { Answer::Done } else { Answer::Refused })
            }
            _ if ty == sys::ValueType::napi_boolean => {
                let mut flag = true;
                ok(sys::napi_get_value_bool(env, value, &mut flag)).map_err(|_| {
                    HostFailure::new(format!("{} returned an unreadable boolean", what(request)))
                })?;
                Ok(if flag { Answer::Done } else { Answer::Refused })
            }
            _ => Ok(Answer::Done),
        }
    }
}
