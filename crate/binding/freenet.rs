//! `NativeFreenet`: Freenet contracts (and delegates) on one engine, with
//! their inputs converted here once and their answers built here once.
//!
//! An operation crosses the boundary once: the arguments go in, the guest
//! runs with Freenet's host ABI in Rust, and the decoded answer comes out
//! as plain JavaScript objects (`{ type: 'valid' }`, `Uint8Array`s, ...).
//! Log lines reach the runtime's `log` function just before the
//! operation's result, in the order the guest wrote them.

use std::ptr;
use std::sync::Arc;

use napi::JsValue as _;
use napi::bindgen_prelude::{Env, Function, Unknown};
use napi::sys::{self, napi_env, napi_value};
use napi_derive::napi;
use wasm_engine_core::freenet::{
    CallOptions, ContractAnswer, ContractCall, Key, Loaded, Modification, Related, Runtime, Update,
    Validity,
};
use wasm_engine_core::scheduler::Entry;
use wasm_engine_core::{ErrorKind, Site, WasmError};

use crate::convert;
use crate::deliver::{Delivery, JsValue, Settled};
use crate::engine::NativeEngine;
use crate::env::EnvData;
use crate::errors::{self, or_throw};
use crate::js::{self, Raw, ok};

/// The native half of `ContractRuntime`.
#[napi]
pub struct NativeFreenet {
    runtime: Arc<Runtime>,
    /// `log(message, instanceId)`, when someone listens.
    log: Option<Arc<JsValue>>,
}

/// A contract or delegate module, with what the runtime learnt of its imports.
#[napi]
pub struct FreenetModule {
    loaded: Loaded,
}

#[napi]
impl FreenetModule {
    /// Whether the module imports `freenet_contract_io`, so its inputs are streamed.
    #[napi(getter)]
    pub fn streaming(&self) -> bool {
        self.loaded.streaming()
    }

    /// Whether the module imports `freenet_time`.
    #[napi(getter)]
    pub fn uses_time(&self) -> bool {
        self.loaded.uses_time()
    }
}

fn broken(err: js::Failed) -> WasmError {
    WasmError::new(
        ErrorKind::Other,
        format!("a Node-API call failed ({:?})", err.0),
    )
}

fn argument(message: String) -> WasmError {
    WasmError::new(ErrorKind::Argument, message)
}

/// The operations of `callContract`, by the number TypeScript passes.
const VALIDATE: u32 = 0;
const UPDATE: u32 = 1;
const SUMMARIZE: u32 = 2;
const DELTA: u32 = 3;

#[napi]
impl NativeFreenet {
    /// A runtime over `engine`; `log(message, instanceId)` gets the lines
    /// guests log.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        env: Env,
        engine: &NativeEngine,
        log: Option<Function<'_>>,
    ) -> napi::Result<NativeFreenet> {
        let raw = env.raw();
        let log = match log {
            // SAFETY: a Node-API callback on `raw`'s thread.
            Some(log) => Some(Arc::new(
                unsafe { JsValue::strong(raw, log.raw()) }.map_err(errors::failed)?,
            )),
            None => None,
        };
        Ok(NativeFreenet {
            runtime: Arc::new(Runtime::new(engine.core().clone())),
            log,
        })
    }

    /// What the runtime needs to know about `module`, compiled by its engine.
    #[napi(catch_unwind, ts_args_type = "module: Module")]
    pub fn prepare(&self, env: Env, module: Unknown<'_>) -> napi::Result<FreenetModule> {
        let raw = env.raw();
        let module = or_throw(raw, convert::module(raw, module.raw()))?;
        let loaded = or_throw(raw, self.runtime.prepare(module.inner.clone()))?;
        Ok(FreenetModule { loaded })
    }

    /// Runs one contract export on this thread: `op` is 0 validate, 1
    /// update, 2 summarize, 3 delta; `extra` the related contracts, the
    /// updates or the summary; `clock` what `utc_now` reports (ms).
    #[napi(
        catch_unwind,
        ts_args_type = "contract: FreenetModule, op: number, parameters: Uint8Array, state: Uint8Array, extra: unknown, clock: number | undefined"
    )]
    pub fn call_contract(
        &self,
        env: Env,
        contract: &FreenetModule,
        op: u32,
        parameters: Unknown<'_>,
        state: Unknown<'_>,
        extra: Unknown<'_>,
        clock: Option<f64>,
    ) -> napi::Result<Unknown<'_>> {
        let raw = env.raw();
        let call = or_throw(
            raw,
            contract_call(raw, op, parameters.raw(), state.raw(), extra.raw()),
        )?;
        let outcome =
            self.runtime
                .call_contract(Site::Direct, &contract.loaded, call, &self.options(clock));
        // SAFETY: a Node-API callback on `raw`'s thread.
        unsafe {
            if let Some(log) = &self.log {
                deliver_logs(raw, log, &outcome.logs).map_err(errors::failed)?;
            }
            let answer = or_throw(raw, outcome.result)?;
            let value = answer_to_js(raw, &answer).map_err(errors::failed)?;
            Ok(Unknown::from_raw_unchecked(raw, value))
        }
    }

    /// Runs one contract export like `callContract`, on a worker thread;
    /// the promise settles with the answer.
    #[napi(
        catch_unwind,
        ts_args_type = "contract: FreenetModule, op: number, parameters: Uint8Array, state: Uint8Array, extra: unknown, clock: number | undefined"
    )]
    pub fn call_contract_async(
        &self,
        env: Env,
        contract: &FreenetModule,
        op: u32,
        parameters: Unknown<'_>,
        state: Unknown<'_>,
        extra: Unknown<'_>,
        clock: Option<f64>,
    ) -> napi::Result<Unknown<'_>> {
        let raw = env.raw();
        let call = or_throw(
            raw,
            contract_call(raw, op, parameters.raw(), state.raw(), extra.raw()),
        )?;
        // SAFETY: a Node-API callback on `raw`'s thread.
        unsafe {
            let deliverer = EnvData::of(raw).map_err(errors::failed)?.deliverer.clone();
            let (deferred, promise) = deliverer.promise(raw).map_err(errors::failed)?;
            let runtime = self.runtime.clone();
            let loaded = contract.loaded.clone();
            let options = self.options(clock);
            let log = self.log.clone();
            let engine = runtime.engine().clone();
            engine.submit(Entry {
                what: format!("{} of a contract", call.export()).into(),
                budget: engine.limits().deadline,
                abort: None,
                job: Box::new(move |verdict| {
                    let outcome = verdict
                        .map(|()| runtime.call_contract(Site::Worker, &loaded, call, &options));
                    let outcome = match outcome {
                        Ok(outcome) => {
                            if let Some(log) = log.filter(|_| !outcome.logs.is_empty()) {
                                deliverer.push(Delivery::Logs {
                                    log,
                                    lines: outcome.logs,
                                });
                            }
                            outcome
                                .result
                                .map(|answer| Settled::Contract(Box::new(answer)))
                        }
                        Err(err) => Err(err),
                    };
                    deliverer.push(Delivery::Settle { deferred, outcome });
                }),
            });
            Ok(Unknown::from_raw_unchecked(raw, promise))
        }
    }
}

impl NativeFreenet {
    fn options(&self, clock: Option<f64>) -> CallOptions {
        CallOptions {
            keep_logs: self.log.is_some(),
            clock_ms: clock.filter(|ms| ms.is_finite()).map(|ms| ms as i64),
        }
    }
}

/// Calls `log(message, instanceId)` for each line, in order.
///
/// # Safety
/// On `env`'s thread inside a callback or handle scope.
pub(crate) unsafe fn deliver_logs(
    env: napi_env,
    log: &JsValue,
    lines: &[(i64, String)],
) -> Raw<()> {
    // SAFETY: the caller's contract.
    unsafe {
        let Some(function) = log.get(env)? else {
            return Ok(());
        };
        let this = js::undefined(env)?;
        for (id, line) in lines {
            let argv = [js::string(env, line)?, js::bigint(env, *id)?];
            let mut ignored = ptr::null_mut();
            let status = sys::napi_call_function(
                env,
                this,
                function,
                argv.len(),
                argv.as_ptr(),
                &mut ignored,
            );
            if status == sys::Status::napi_pending_exception {
                // A throwing logger must not lose the operation's result.
                let mut exception = ptr::null_mut();
                sys::napi_get_and_clear_last_exception(env, &mut exception);
            }
        }
        Ok(())
    }
}

/// The call `op` with its inputs, converted from JavaScript.
fn contract_call(
    env: napi_env,
    op: u32,
    parameters: napi_value,
    state: napi_value,
    extra: napi_value,
) -> Result<ContractCall, WasmError> {
    let parameters = convert::bytes(env, parameters, "parameters")?;
    let state = convert::bytes(env, state, "state")?;
    Ok(match op {
        VALIDATE => ContractCall::Validate {
            parameters,
            state,
            related: list(env, extra, "related", related)?,
        },
        UPDATE => ContractCall::Update {
            parameters,
            state,
            updates: list(env, extra, "updates", update)?,
        },
        SUMMARIZE => ContractCall::Summarize { parameters, state },
        DELTA => ContractCall::Delta {
            parameters,
            state,
            summary: convert::bytes(env, extra, "summary")?,
        },
        other => return Err(argument(format!("unknown contract operation {other}"))),
    })
}

/// The items of the array `value` (`undefined` is empty), each converted
/// by `item` with its name `name[i]`.
fn list<T>(
    env: napi_env,
    value: napi_value,
    name: &str,
    item: impl Fn(napi_env, napi_value, &str) -> Result<T, WasmError>,
) -> Result<Vec<T>, WasmError> {
    // SAFETY: on `env`'s thread inside a callback (every caller's contract).
    unsafe {
        if js::type_of(env, value).map_err(broken)? == sys::ValueType::napi_undefined {
            return Ok(Vec::new());
        }
        let mut is_array = false;
        ok(sys::napi_is_array(env, value, &mut is_array)).map_err(broken)?;
        if !is_array {
            return Err(argument(format!("{name} must be an array")));
        }
        let mut len = 0;
        ok(sys::napi_get_array_length(env, value, &mut len)).map_err(broken)?;
        let mut items = Vec::with_capacity(len as usize);
        for i in 0..len {
            let mut element = ptr::null_mut();
            ok(sys::napi_get_element(env, value, i, &mut element)).map_err(broken)?;
            items.push(item(env, element, &format!("{name}[{i}]"))?);
        }
        Ok(items)
    }
}

/// The property `key` of the object `value`, which must be an object.
fn field(env: napi_env, value: napi_value, name: &str, key: &str) -> Result<napi_value, WasmError> {
    // SAFETY: on `env`'s thread inside a callback (every caller's contract).
    unsafe {
        if js::type_of(env, value).map_err(broken)? != sys::ValueType::napi_object {
            return Err(argument(format!("{name} must be an object")));
        }
        js::property(env, value, key).map_err(broken)
    }
}

fn is_nullish(env: napi_env, value: napi_value) -> Result<bool, WasmError> {
    // SAFETY: on `env`'s thread inside a callback (every caller's contract).
    let ty = unsafe { js::type_of(env, value) }.map_err(broken)?;
    Ok(matches!(
        ty,
        sys::ValueType::napi_undefined | sys::ValueType::napi_null
    ))
}

/// A 32-byte contract key.
fn key(env: napi_env, value: napi_value, name: &str) -> Result<Key, WasmError> {
    let bytes = convert::bytes(env, value, name)?;
    Key::try_from(bytes.as_slice()).map_err(|_| {
        argument(format!(
            "{name} must be a 32-byte contract key, got {} bytes",
            bytes.len()
        ))
    })
}

fn bytes_field(
    env: napi_env,
    value: napi_value,
    name: &str,
    key: &str,
) -> Result<Vec<u8>, WasmError> {
    convert::bytes(env, field(env, value, name, key)?, &format!("{name}.{key}"))
}

fn related(env: napi_env, value: napi_value, name: &str) -> Result<Related, WasmError> {
    let state = field(env, value, name, "state")?;
    Ok(Related {
        key: key(env, field(env, value, name, "key")?, &format!("{name}.key"))?,
        state: if is_nullish(env, state)? {
            None
        } else {
            Some(convert::bytes(env, state, &format!("{name}.state"))?)
        },
    })
}

fn update(env: napi_env, value: napi_value, name: &str) -> Result<Update, WasmError> {
    let tag = convert::string(
        env,
        field(env, value, name, "type")?,
        &format!("{name}.type"),
    )?;
    let bytes = |key: &str| bytes_field(env, value, name, key);
    let related_to = || {
        key(
            env,
            field(env, value, name, "relatedTo")?,
            &format!("{name}.relatedTo"),
        )
    };
    Ok(match tag.as_str() {
        "state" => Update::State(bytes("state")?),
        "delta" => Update::Delta(bytes("delta")?),
        "stateAndDelta" => Update::StateAndDelta {
            state: bytes("state")?,
            delta: bytes("delta")?,
        },
        "relatedState" => Update::RelatedState {
            related_to: related_to()?,
            state: bytes("state")?,
        },
        "relatedDelta" => Update::RelatedDelta {
            related_to: related_to()?,
            delta: bytes("delta")?,
        },
        "relatedStateAndDelta" => Update::RelatedStateAndDelta {
            related_to: related_to()?,
            state: bytes("state")?,
            delta: bytes("delta")?,
        },
        other => {
            return Err(argument(format!(
                "{name}.type must be one of state, delta, stateAndDelta, relatedState, \
                 relatedDelta, relatedStateAndDelta, got \"{other}\""
            )));
        }
    })
}

/// A new `Uint8Array` holding a copy of `data`.
///
/// # Safety
/// On `env`'s thread inside a callback or handle scope.
pub(crate) unsafe fn uint8_array(env: napi_env, data: &[u8]) -> Raw<napi_value> {
    // SAFETY: the caller's contract; `data` is copied before the call returns.
    unsafe {
        let (mut buffer, mut bytes) = (ptr::null_mut(), ptr::null_mut());
        ok(sys::napi_create_arraybuffer(
            env,
            data.len(),
            &mut bytes,
            &mut buffer,
        ))?;
        if !data.is_empty() {
            ptr::copy_nonoverlapping(data.as_ptr(), bytes.cast::<u8>(), data.len());
        }
        let mut array = ptr::null_mut();
        ok(sys::napi_create_typedarray(
            env,
            sys::TypedarrayType::uint8_array,
            data.len(),
            buffer,
            0,
            &mut array,
        ))?;
        Ok(array)
    }
}

/// An object with the properties `fields`.
unsafe fn object(env: napi_env, fields: &[(&str, napi_value)]) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        let mut object = ptr::null_mut();
        ok(sys::napi_create_object(env, &mut object))?;
        for (name, value) in fields {
            js::set_property(env, object, name, *value)?;
        }
        Ok(object)
    }
}

unsafe fn array(
    env: napi_env,
    items: impl ExactSizeIterator<Item = Raw<napi_value>>,
) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        let mut array = ptr::null_mut();
        ok(sys::napi_create_array_with_length(
            env,
            items.len(),
            &mut array,
        ))?;
        for (i, item) in items.enumerate() {
            ok(sys::napi_set_element(env, array, i as u32, item?))?;
        }
        Ok(array)
    }
}

unsafe fn null(env: napi_env) -> Raw<napi_value> {
    let mut value = ptr::null_mut();
    // SAFETY: the caller's contract.
    ok(unsafe { sys::napi_get_null(env, &mut value) })?;
    Ok(value)
}

/// A contract's answer as JavaScript sees it.
///
/// # Safety
/// On `env`'s thread inside a callback or handle scope.
pub(crate) unsafe fn answer_to_js(env: napi_env, answer: &ContractAnswer) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        match answer {
            ContractAnswer::Validity(Validity::Valid) => {
                object(env, &[("type", js::string(env, "valid")?)])
            }
            ContractAnswer::Validity(Validity::Invalid) => {
                object(env, &[("type", js::string(env, "invalid")?)])
            }
            ContractAnswer::Validity(Validity::RequestRelated(keys)) => object(
                env,
                &[
                    ("type", js::string(env, "requestRelated")?),
                    (
                        "keys",
                        array(env, keys.iter().map(|k| uint8_array(env, k)))?,
                    ),
                ],
            ),
            ContractAnswer::Modification(Modification { new_state, related }) => {
                let new_state = match new_state {
                    Some(state) => uint8_array(env, state)?,
                    None => null(env)?,
                };
                let related = array(
                    env,
                    related.iter().map(|r| {
                        let mode = if r.subscribe {
                            "stateThenSubscribe"
                        } else {
                            "stateOnce"
                        };
                        object(
                            env,
                            &[
                                ("key", uint8_array(env, &r.key)?),
                                ("mode", js::string(env, mode)?),
                            ],
                        )
                    }),
                )?;
                object(env, &[("newState", new_state), ("related", related)])
            }
            ContractAnswer::Summary(bytes) | ContractAnswer::Delta(bytes) => {
                uint8_array(env, bytes)
            }
        }
    }
}
