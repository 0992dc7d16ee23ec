//! `NativeFreenet`: Freenet contracts and delegates on one engine.
//!
//! An operation crosses the boundary once: the arguments are converted
//! here (`freenet_values`), the guest runs with Freenet's host ABI in Rust,
//! and the decoded answer comes out as plain JavaScript objects. Log lines
//! reach the runtime's `log` function just before the operation's result,
//! in the order the guest wrote them, also when the operation failed.

use std::sync::Arc;
use std::time::Duration;

use napi::JsValue as _;
use napi::bindgen_prelude::{Env, Function, Unknown};
use napi::sys::{napi_env, napi_value};
use napi_derive::napi;
use wasm_engine_core::{Site, WasmError};
use wasm_engine_freenet::hooks::{MemoryStore, Store};
use wasm_engine_freenet::{
    Abi, CallOptions, ClockPolicy, DelegateCall, Loaded, Outcome, Profile, Runtime, Stores,
};

use crate::convert;
use crate::engine::NativeEngine;
use crate::env::EnvData;
use crate::errors::{self, or_throw};
use crate::freenet_store::JsStore;
use crate::freenet_values as values;
use crate::js::uint8_array;
use crate::js::{self, Raw};
use crate::reference::JsValue;
use crate::submit::{self, Answer, Lane, Work};

/// The native half of `ContractRuntime`.
#[napi]
pub struct NativeFreenet {
    runtime: Arc<Runtime>,
    /// `log(message, instanceId)`, when someone listens.
    log: Option<Arc<JsValue>>,
    /// The user's stores, when given.
    store: Option<Arc<JsStore>>,
}

/// A contract or delegate module, with what the runtime learnt of it.
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

    /// Freenet's code hash of the module: `blake3` of its bytes.
    #[napi(getter, ts_return_type = "Uint8Array")]
    pub fn code_hash(&self, env: Env) -> napi::Result<Unknown<'_>> {
        bytes(env, self.loaded.code_hash())
    }

    /// The payloads of the module's `freenet-manifest` custom sections.
    #[napi(getter, ts_return_type = "Uint8Array[]")]
    pub fn manifest_sections(&self, env: Env) -> napi::Result<Unknown<'_>> {
        let raw = env.raw();
        // SAFETY: a Node-API callback on `raw`'s thread.
        unsafe {
            let sections = self.loaded.manifests();
            let array = js::array_of(
                raw,
                sections.len(),
                sections.iter().map(|s| uint8_array(raw, s)),
            )
            .map_err(errors::failed)?;
            Ok(Unknown::from_raw_unchecked(raw, array))
        }
    }

    /// The module's key with `parameters`: a contract's instance id or a
    /// delegate's key, `blake3(codeHash ‖ parameters)`.
    #[napi(
        catch_unwind,
        ts_args_type = "parameters: Uint8Array",
        ts_return_type = "Uint8Array"
    )]
    pub fn key<'e>(&self, env: Env, parameters: Unknown<'e>) -> napi::Result<Unknown<'e>> {
        let raw = env.raw();
        let parameters = or_throw(raw, convert::bytes(raw, parameters.raw(), "parameters"))?;
        bytes(env, &self.loaded.key(&parameters))
    }
}

/// The runtime's profile from the constructor's arguments (the TypeScript
/// layer checked their types; the values are checked here).
fn profile(abi: &str, clock: &str, context_ttl_seconds: f64) -> Result<Profile, WasmError> {
    let abi = Abi::parse(abi).ok_or_else(|| {
        convert::argument(format!(
            "abi must be '0.2.48' or '0.2.154' (a freenet-core release), got '{abi}'"
        ))
    })?;
    let clock = ClockPolicy::parse(clock).ok_or_else(|| {
        convert::argument(format!("clock must be 'warn' or 'refuse', got '{clock}'"))
    })?;
    let context_ttl = Duration::try_from_secs_f64(context_ttl_seconds)
        .ok()
        .filter(|ttl| !ttl.is_zero())
        .ok_or_else(|| {
            convert::argument(format!(
                "delegateContextTtlSeconds must be a positive number of seconds, got {context_ttl_seconds}"
            ))
        })?;
    Ok(Profile {
        abi,
        clock,
        context_ttl,
    })
}

fn bytes<'e>(env: Env, data: &[u8]) -> napi::Result<Unknown<'e>> {
    let raw = env.raw();
    // SAFETY: a Node-API callback on `raw`'s thread.
    unsafe {
        let array = uint8_array(raw, data).map_err(errors::failed)?;
        Ok(Unknown::from_raw_unchecked(raw, array))
    }
}

/// What an operation answered, ready to become a JavaScript value.
pub(crate) enum Answered {
    Contract(Box<wasm_engine_freenet::ContractAnswer>),
    Delegate(Vec<wasm_engine_freenet::wire::OutboundDelegateMsg>),
}

impl Answered {
    /// # Safety
    /// On `env`'s thread inside a callback or handle scope.
    unsafe fn js(&self, env: napi_env) -> Raw<napi_value> {
        // SAFETY: the caller's contract.
        unsafe {
            match self {
                Answered::Contract(answer) => values::answer_to_js(env, answer),
                Answered::Delegate(messages) => values::outbound_list_to_js(env, messages),
            }
        }
    }
}

impl Answer for Answered {
    unsafe fn to_js(self: Box<Self>, env: napi_env) -> Raw<napi_value> {
        // SAFETY: the caller's contract.
        unsafe { self.js(env) }
    }
}

/// One operation, ready to run on any thread.
type Operation = Box<dyn FnOnce(&Runtime, Site) -> Outcome<Answered> + Send>;

#[napi]
impl NativeFreenet {
    /// A runtime over `engine` that behaves as freenet-core `abi`
    /// (`'0.2.48'` or `'0.2.154'`), with the contract clock policy `clock`
    /// (`'warn'` or `'refuse'`) and delegate contexts kept
    /// `contextTtlSeconds`; `log(message, instanceId)` gets the lines
    /// guests log. `store(token, kind, ...args)` runs the user's secret
    /// store when `jsSecrets` and contract store when `jsContracts`;
    /// otherwise secrets live in memory and no contract state exists.
    #[napi(
        constructor,
        catch_unwind,
        ts_args_type = "engine: NativeEngine, abi: string, clock: string, contextTtlSeconds: number, log: ((message: string, instanceId: bigint) => void) | undefined, store: ((token: number, kind: number, ...args: unknown[]) => unknown) | undefined, jsSecrets: boolean, jsContracts: boolean"
    )]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        env: Env,
        engine: &NativeEngine,
        abi: String,
        clock: String,
        context_ttl_seconds: f64,
        log: Option<Function<'_>>,
        store: Option<Function<'_>>,
        js_secrets: bool,
        js_contracts: bool,
    ) -> napi::Result<NativeFreenet> {
        let raw = env.raw();
        let profile = or_throw(raw, profile(&abi, &clock, context_ttl_seconds))?;
        // SAFETY: a Node-API callback on `raw`'s thread.
        let (log, store) = unsafe {
            // Both held weakly: the runtime's JavaScript object holds them,
            // so hooks that capture the runtime do not keep it alive forever.
            let log = match log {
                Some(log) => Some(Arc::new(
                    JsValue::weak(raw, log.raw()).map_err(errors::failed)?,
                )),
                None => None,
            };
            let store = match store {
                Some(store) => Some(JsStore::new(raw, store.raw()).map_err(errors::failed)?),
                None => None,
            };
            (log, store)
        };
        let memory: Arc<dyn Store> = Arc::new(MemoryStore::default());
        let pick = |js: bool| match (&store, js) {
            (Some(store), true) => store.clone() as Arc<dyn Store>,
            _ => memory.clone(),
        };
        let stores = Stores {
            secrets: pick(js_secrets),
            contracts: pick(js_contracts),
        };
        Ok(NativeFreenet {
            runtime: Arc::new(Runtime::with_profile(
                engine.core().clone(),
                stores,
                profile,
            )),
            log,
            store,
        })
    }

    /// What the runtime needs to know about `module`, compiled by its
    /// engine from `code`.
    #[napi(catch_unwind, ts_args_type = "module: Module, code: Uint8Array")]
    pub fn prepare(
        &self,
        env: Env,
        module: Unknown<'_>,
        code: Unknown<'_>,
    ) -> napi::Result<FreenetModule> {
        let raw = env.raw();
        let module = or_throw(raw, convert::module(raw, module.raw()))?;
        let code = or_throw(raw, convert::bytes(raw, code.raw(), "code"))?;
        let loaded = or_throw(raw, self.runtime.prepare(module.inner.clone(), &code))?;
        Ok(FreenetModule { loaded })
    }

    /// Runs one contract export: `op` is 0 validate, 1 update, 2
    /// summarize, 3 delta; `extra` the related contracts, the updates or
    /// the summary; `clock` what `utc_now` reports (ms). With `sync` on
    /// this thread, returning the answer; otherwise on a worker, returning
    /// a promise of it.
    #[napi(
        catch_unwind,
        ts_args_type = "contract: FreenetModule, op: number, parameters: Uint8Array, state: Uint8Array, extra: unknown, clock: number | undefined, sync: boolean"
    )]
    #[allow(clippy::too_many_arguments)]
    pub fn call_contract<'e>(
        &self,
        env: Env,
        contract: &FreenetModule,
        op: u32,
        parameters: Unknown<'e>,
        state: Unknown<'e>,
        extra: Unknown<'e>,
        clock: Option<f64>,
        sync: bool,
    ) -> napi::Result<Unknown<'e>> {
        let raw = env.raw();
        let call = or_throw(
            raw,
            values::contract_call(raw, op, parameters.raw(), state.raw(), extra.raw()),
        )?;
        let export = call.export();
        let loaded = contract.loaded.clone();
        let options = self.options(clock);
        self.run(
            env,
            export,
            sync,
            Box::new(move |runtime, site| {
                runtime
                    .call_contract(site, &loaded, call, &options)
                    .map(|answer| Answered::Contract(Box::new(answer)))
            }),
        )
    }

    /// Runs a delegate's `process` over `messages` (as freenet-core's
    /// `inbound_app_message`) for `user` (bytes, or `undefined` for none),
    /// on this thread with `sync`, otherwise on a worker, returning a
    /// promise.
    #[napi(
        catch_unwind,
        ts_args_type = "delegate: FreenetModule, parameters: Uint8Array, origin: unknown, messages: unknown[], user: Uint8Array | undefined, clock: number | undefined, sync: boolean"
    )]
    #[allow(clippy::too_many_arguments)]
    pub fn process<'e>(
        &self,
        env: Env,
        delegate: &FreenetModule,
        parameters: Unknown<'e>,
        origin: Unknown<'e>,
        messages: Unknown<'e>,
        user: Unknown<'e>,
        clock: Option<f64>,
        sync: bool,
    ) -> napi::Result<Unknown<'e>> {
        let raw = env.raw();
        let call = or_throw(
            raw,
            (|| {
                Ok::<_, WasmError>(DelegateCall {
                    parameters: convert::bytes(raw, parameters.raw(), "parameters")?,
                    origin: values::origin(raw, origin.raw())?,
                    messages: values::inbound_list(raw, messages.raw())?,
                    user: match values::is_nullish(raw, user.raw())? {
                        true => None,
                        false => Some(convert::bytes(raw, user.raw(), "options.user")?),
                    },
                })
            })(),
        )?;
        let loaded = delegate.loaded.clone();
        let options = self.options(clock);
        self.run(
            env,
            "process",
            sync,
            Box::new(move |runtime, site| {
                runtime
                    .process_delegate(site, &loaded, call, &options)
                    .map(Answered::Delegate)
            }),
        )
    }
}

#[napi]
impl NativeFreenet {
    /// Forgets the delegate contexts kept between calls: every user's
    /// context of the delegate `key` (`{ key, codeHash }`), or all of them
    /// when `key` is `undefined`; returns how many went.
    #[napi(
        catch_unwind,
        ts_args_type = "key: { key: Uint8Array; codeHash: Uint8Array } | undefined"
    )]
    pub fn clear_delegate_context(&self, env: Env, key: Unknown<'_>) -> napi::Result<u32> {
        let raw = env.raw();
        let key = or_throw(
            raw,
            (|| match values::is_nullish(raw, key.raw())? {
                true => Ok(None),
                false => values::delegate_key(raw, key.raw(), "key").map(Some),
            })(),
        )?;
        let cleared = self.runtime.contexts().clear(key.as_ref());
        Ok(u32::try_from(cleared).unwrap_or(u32::MAX))
    }

    /// How many delegate contexts the runtime keeps.
    #[napi(getter)]
    pub fn delegate_contexts(&self) -> u32 {
        u32::try_from(self.runtime.contexts().len()).unwrap_or(u32::MAX)
    }
}

impl NativeFreenet {
    fn options(&self, clock: Option<f64>) -> CallOptions {
        CallOptions {
            keep_logs: self.log.is_some(),
            clock_ms: clock.filter(|ms| ms.is_finite()).map(|ms| ms as i64),
        }
    }

    /// Runs `operation` (a call of the module's `export`) on this thread
    /// (`sync`) and returns its answer, or queues it on the engine's
    /// workers and returns a promise of it.
    fn run<'e>(
        &self,
        env: Env,
        export: &'static str,
        sync: bool,
        operation: Operation,
    ) -> napi::Result<Unknown<'e>> {
        let raw = env.raw();
        if sync {
            let outcome = operation(&self.runtime, Site::Direct);
            // SAFETY: a Node-API callback on `raw`'s thread.
            unsafe {
                if let Some(log) = &self.log {
                    deliver_logs(raw, log, &outcome.logs).map_err(errors::failed)?;
                }
                let answer = or_throw(raw, outcome.result)?;
                let value = answer.js(raw).map_err(errors::failed)?;
                return Ok(Unknown::from_raw_unchecked(raw, value));
            }
        }
        let runtime = self.runtime.clone();
        let log = self.log.clone();
        let engine = runtime.engine().clone();
        let mut keep: Vec<Arc<JsValue>> = log.iter().cloned().collect();
        keep.extend(self.store.iter().map(|store| store.store.clone()));
        // SAFETY: a Node-API callback on `raw`'s thread.
        let deliverer = unsafe { EnvData::of(raw) }
            .map_err(errors::failed)?
            .deliverer
            .clone();
        let work = Work {
            what: format!("{export} of a Freenet module").into(),
            abort: None,
            keep,
            run: Box::new(move || {
                let outcome = operation(&runtime, Site::Worker);
                if let Some(log) = log.filter(|_| !outcome.logs.is_empty()) {
                    let lines = outcome.logs;
                    deliverer.push(Box::new(move |env| {
                        // SAFETY: deliveries run on `env`'s thread, in a scope.
                        let _ = unsafe { deliver_logs(env, &log, &lines) };
                    }));
                }
                outcome
                    .result
                    .map(|answer| Box::new(answer) as Box<dyn Answer>)
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

/// Calls `log(message, instanceId)` for each line, in order.
///
/// # Safety
/// On `env`'s thread inside a callback or handle scope.
unsafe fn deliver_logs(env: napi_env, log: &JsValue, lines: &[(i64, String)]) -> Raw<()> {
    // SAFETY: the caller's contract.
    unsafe {
        let Some(function) = log.get(env)? else {
            return Ok(());
        };
        for (id, line) in lines {
            let argv = [js::string(env, line)?, js::bigint(env, *id)?];
            // A throwing logger must not lose the operation's result.
            let _ = js::call(env, function, &argv)?;
        }
        Ok(())
    }
}
