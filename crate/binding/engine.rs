//! `NativeEngine`: the JavaScript face of one core [`Engine`].
//!
//! Every method converts its arguments once (`convert`) and throws the
//! core's failure as its JavaScript error once (`errors`). Calls of exports
//! go through the function objects of `getFunction` (see `function`).

use std::sync::Arc;

use napi::JsValue as _;
use napi::bindgen_prelude::{BigInt, ClassInstance, Env, Function, Uint8Array, Unknown};
use napi::bindgen_prelude::{JavaScriptClassExt, ToNapiValue};
use napi::sys::{self, napi_env, napi_value};
use napi_derive::napi;
use wasm_engine_core::{Engine, ErrorKind, ImportSpec, RuntimeConfig, Site, WasmError, parse_text};

use crate::convert::{self, argument};
use crate::env::EnvData;
use crate::errors::{self, or_throw};
use crate::function::{self, Callable};
use crate::handles::{self, Handles};
use crate::host::JsHost;
use crate::instance::InstanceHandle;
use crate::js;
use crate::module::Module;
use crate::reference::JsValue;
use crate::submit::{self, Answer, Lane, Work};
use crate::wasi_spec::WasiSpec;

/// A compiled module, as `compileAsync`'s promise resolves.
struct Compiled(wasm_engine_core::Module);

impl Answer for Compiled {
    unsafe fn to_js(self: Box<Self>, env: napi_env) -> js::Raw<napi_value> {
        // SAFETY: the caller's contract.
        unsafe { Module::to_napi_value(env, Module::from(self.0)) }
            .map_err(|_| js::Failed(sys::Status::napi_generic_failure))
    }
}

/// A JavaScript import, as the TypeScript layer registers it.
#[napi(object)]
pub struct ImportDescriptor {
    pub module: String,
    pub name: String,
    /// True for functions that return a promise.
    pub asynchronous: bool,
}

/// Counters of an engine and of its backend.
#[napi(object)]
pub struct EngineStats {
    pub instances: f64,
    pub max_instances: Option<f64>,
    pub calls_completed: f64,
    pub calls_trapped: f64,
    pub calls_timed_out: f64,
    pub calls_out_of_fuel: f64,
    pub calls_aborted: f64,
    pub calls_overloaded: f64,
    pub calls_failed: f64,
    pub queued: f64,
    pub stores: f64,
    pub compiles: f64,
    pub memory_cache_hits: f64,
    pub disk_cache_hits: f64,
    pub disk_cache_rejects: f64,
    pub disk_cache_write_failures: f64,
    pub pool_slots: f64,
}

/// What a native engine is made from, as the TypeScript layer gives it.
#[napi(object)]
pub struct NativeEngineOptions {
    /// The `RuntimeConfig`, checked natively.
    pub config: Option<Unknown<'static>>,
    /// `true` is refused, as Freenet refuses it.
    pub host_mem: Option<bool>,
    /// An engine whose backend (compiled code, caches) to share.
    pub backend: Option<ClassInstance<'static, NativeEngine>>,
    /// The JavaScript imports, in the order the dispatcher indexes them.
    pub imports: Option<Vec<ImportDescriptor>>,
    /// `dispatch(index, token, instanceId, ...args)`, which runs them.
    pub dispatcher: Option<Function<'static>>,
}

/// The native half of `WasmEngine`.
#[napi]
pub struct NativeEngine {
    engine: Arc<Engine>,
    /// Runs the engine's JavaScript imports, when it has any.
    host: Option<Arc<JsHost>>,
}

impl NativeEngine {
    /// The core engine.
    pub(crate) fn core(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The JavaScript values the engine's guests may call (its dispatcher),
    /// for work in flight to hold.
    pub(crate) fn host_values(&self) -> Vec<Arc<JsValue>> {
        self.host
            .iter()
            .map(|host| host.dispatcher.clone())
            .collect()
    }
}

#[napi]
impl NativeEngine {
    /// Creates an engine from `options`: its config; with `backend`, on
    /// that engine's backend; `imports` run by `dispatcher`. `hostMem:
    /// true` is refused, as Freenet refuses it.
    #[napi(constructor, catch_unwind)]
    pub fn new(env: Env, options: NativeEngineOptions) -> napi::Result<NativeEngine> {
        let NativeEngineOptions {
            config,
            host_mem,
            backend,
            imports,
            dispatcher,
        } = options;
        let raw = env.raw();
        if host_mem == Some(true) {
            let refused = WasmError::new(
                ErrorKind::Other,
                "hostMem: true is not supported: a shared host memory would let guests see host data",
            );
            // SAFETY: a Node-API callback on `raw`'s thread.
            return Err(unsafe { errors::throw(raw, &refused) });
        }
        let config = match config {
            Some(config) => or_throw(raw, convert::runtime_config(raw, config.raw()))?,
            None => RuntimeConfig::default(),
        };
        let specs = imports
            .unwrap_or_default()
            .into_iter()
            .map(|d| ImportSpec {
                module: d.module,
                name: d.name,
                asynchronous: d.asynchronous,
            })
            .collect::<Vec<_>>();
        let host = match dispatcher {
            // SAFETY: a Node-API callback on `raw`'s thread.
            Some(dispatcher) if !specs.is_empty() => {
                Some(unsafe { JsHost::new(raw, dispatcher.raw()) }.map_err(errors::failed)?)
            }
            _ => None,
        };
        let engine = Engine::new(
            &config,
            backend.as_ref().map(|other| &*other.engine),
            specs,
            host.clone().map(|h| h as _),
        );
        Ok(NativeEngine {
            engine: Arc::new(or_throw(raw, engine)?),
            host,
        })
    }

    /// True while the engine is open and no internal failure has poisoned it.
    #[napi]
    pub fn is_healthy(&self) -> bool {
        self.engine.is_healthy()
    }

    /// Compiles a binary (`Uint8Array`, `ArrayBuffer`) or text (`string`)
    /// module on this thread; cached by content hash.
    #[napi(catch_unwind, ts_args_type = "code: Uint8Array | ArrayBuffer | string")]
    pub fn compile(&self, env: Env, code: Unknown<'_>) -> napi::Result<Module> {
        let raw = env.raw();
        let compiled = source(raw, code.raw()).and_then(|wasm| self.engine.compile(&wasm));
        Ok(Module::from(or_throw(raw, compiled)?))
    }

    /// Compiles like `compile`, on a worker (waiting for no engine);
    /// concurrent compiles of the same bytes are done once.
    #[napi(
        catch_unwind,
        ts_args_type = "code: Uint8Array | ArrayBuffer | string",
        ts_return_type = "Promise<Module>"
    )]
    pub fn compile_async<'env>(
        &self,
        env: &'env Env,
        code: Unknown<'env>,
    ) -> napi::Result<Unknown<'env>> {
        let raw = env.raw();
        // Copied on this thread: JavaScript memory is not read elsewhere.
        let text = js::type_of_is_string(raw, code.raw());
        let input = if text {
            convert::string(raw, code.raw(), "code").map(Err)
        } else {
            convert::bytes(raw, code.raw(), "code").map(Ok)
        };
        let input = or_throw(raw, input)?;
        let compiler = or_throw(raw, self.engine.compiler())?;
        let work = Work {
            what: "a compile".into(),
            abort: None,
            keep: Vec::new(),
            run: Box::new(move || {
                let wasm = match input {
                    Ok(bytes) => bytes,
                    Err(text) => parse_text(&text)?,
                };
                let module = compiler.compile(&wasm)?;
                Ok(Box::new(Compiled(module)) as Box<dyn Answer>)
            }),
        };
        // SAFETY: a Node-API callback on `raw`'s thread.
        unsafe {
            let promise = submit::submit(raw, Lane::Alone, work).map_err(errors::failed)?;
            Ok(Unknown::from_raw_unchecked(raw, promise))
        }
    }

    /// Whether `module` imports one of Freenet's asynchronous namespaces or
    /// an asynchronous import of this engine.
    #[napi(catch_unwind, ts_args_type = "module: Module")]
    pub fn module_has_async_imports(&self, env: Env, module: Unknown<'_>) -> napi::Result<bool> {
        let raw = env.raw();
        or_throw(
            raw,
            convert::module(raw, module.raw())
                .and_then(|m| self.engine.module_has_async_imports(&m.inner)),
        )
    }

    /// Whether `module` imports `freenet_contract_io`, so Freenet streams
    /// its inputs (freenet-core's `module_has_streaming_io`).
    #[napi(catch_unwind, ts_args_type = "module: Module")]
    pub fn module_has_streaming_io(&self, env: Env, module: Unknown<'_>) -> napi::Result<bool> {
        let raw = env.raw();
        let module = or_throw(raw, convert::module(raw, module.raw()))?;
        Ok(module
            .inner
            .imports_from(&[wasm_engine_freenet::CONTRACT_IO_NAMESPACE]))
    }

    /// Instantiates `module`, with the WASI context `wasi` describes if
    /// given, calls `__frnt_set_id(id)` when exported and grows the exported
    /// memory to at least `reqBytes`.
    #[napi(
        catch_unwind,
        ts_args_type = "module: Module, id: bigint | number, reqBytes: number, wasi?: WasiSpec"
    )]
    pub fn create_instance<'env>(
        &self,
        env: &'env Env,
        module: Unknown<'_>,
        id: Unknown<'_>,
        req_bytes: Unknown<'_>,
        wasi: Option<WasiSpec>,
    ) -> napi::Result<ClassInstance<'env, InstanceHandle>> {
        let raw = env.raw();
        // SAFETY: a Node-API callback on `raw`'s thread.
        let data = unsafe { EnvData::of(raw) }.map_err(errors::failed)?;
        let created = convert::module(raw, module.raw()).and_then(|module| {
            let id = convert::i64(raw, id.raw(), "id")?;
            let req_bytes = convert::byte_count(raw, req_bytes.raw(), "reqBytes")?;
            let options = wasi.map(|spec| spec.options(None)).transpose()?;
            let create = || match &options {
                None => self
                    .engine
                    .create_instance(Site::Direct, &module.inner, id, req_bytes),
                Some(options) => self.engine.create_wasi_instance(
                    Site::Direct,
                    &module.inner,
                    id,
                    req_bytes,
                    options,
                ),
            };
            match create() {
                // Instances whose handles are garbage hold slots until
                // their finalizers run: free them and try once more.
                // SAFETY: a Node-API callback on `raw`'s thread.
                Err(err) if err.is_pool_full() && unsafe { data.handles.sweep(raw) } > 0 => {
                    create()
                }
                created => created,
            }
        });
        let instance = or_throw(raw, created)?;
        let memory = self
            .engine
            .memory_size(Site::Direct, &instance)
            .unwrap_or(0);
        let cost = handles::BASE_COST.saturating_add(i64::try_from(memory).unwrap_or(i64::MAX));
        let handle = InstanceHandle::new(instance, cost);
        let held = handle.held.clone();
        let object = handle.into_instance(env)?;
        // SAFETY: a Node-API callback on `raw`'s thread; `object` is the
        // handle's JavaScript object, just created.
        unsafe { data.handles.track(raw, object.value, held) }.map_err(errors::failed)?;
        Ok(object)
    }

    /// Drops an instance; its memory is released with its store.
    #[napi(catch_unwind, ts_args_type = "handle: InstanceHandle")]
    pub fn drop_instance(&self, env: Env, handle: Unknown<'_>) -> napi::Result<()> {
        on_handle(&env, &handle, |raw, h| {
            self.engine.drop_instance(Site::Direct, &h.instance()?)?;
            // SAFETY: a Node-API callback on `raw`'s thread.
            unsafe { Handles::dropped(raw, &h.held) };
            Ok(())
        })
    }

    /// Size in bytes of the instance's exported memory, read live.
    #[napi(catch_unwind, ts_args_type = "handle: InstanceHandle")]
    pub fn memory_size(&self, env: Env, handle: Unknown<'_>) -> napi::Result<f64> {
        on_handle(&env, &handle, |_, h| {
            self.engine.memory_size(Site::Direct, &h.instance()?)
        })
        .map(|n| n as f64)
    }

    /// Copies `length` bytes at `offset` out of the instance's memory.
    #[napi(
        catch_unwind,
        ts_args_type = "handle: InstanceHandle, offset: number, length: number"
    )]
    pub fn read_memory(
        &self,
        env: Env,
        handle: Unknown<'_>,
        offset: Unknown<'_>,
        length: Unknown<'_>,
    ) -> napi::Result<Uint8Array> {
        on_handle(&env, &handle, |raw, h| {
            let offset = convert::integer(raw, offset.raw(), "offset")?;
            let length = convert::integer(raw, length.raw(), "length")?;
            self.engine
                .read_memory(Site::Direct, &h.instance()?, offset, length)
        })
        .map(Uint8Array::from)
    }

    /// Copies `data` into the instance's memory at `offset`.
    #[napi(
        catch_unwind,
        ts_args_type = "handle: InstanceHandle, offset: number, data: Uint8Array"
    )]
    pub fn write_memory(
        &self,
        env: Env,
        handle: Unknown<'_>,
        offset: Unknown<'_>,
        data: Unknown<'_>,
    ) -> napi::Result<()> {
        on_handle(&env, &handle, |raw, h| {
            let offset = convert::integer(raw, offset.raw(), "offset")?;
            let data = convert::bytes(raw, data.raw(), "data")?;
            self.engine
                .write_memory(Site::Direct, &h.instance()?, offset, &data)
        })
    }

    /// Calls `__frnt__initiate_buffer(size)` and returns the buffer's offset.
    #[napi(catch_unwind, ts_args_type = "handle: InstanceHandle, size: number")]
    pub fn initiate_buffer(
        &self,
        env: Env,
        handle: Unknown<'_>,
        size: Unknown<'_>,
    ) -> napi::Result<BigInt> {
        on_handle(&env, &handle, |raw, h| {
            let size = convert::u32(raw, size.raw(), "size")?;
            self.engine
                .initiate_buffer(Site::Direct, &h.instance()?, size)
        })
        .map(BigInt::from)
    }

    /// The export `name` of the instance as a JavaScript function, its
    /// signature checked once (against `expect`, when given).
    #[napi(
        catch_unwind,
        ts_args_type = "handle: InstanceHandle, name: string, expect: 0 | 1 | 2 | 3",
        ts_return_type = "(...args: Array<number | bigint>) => unknown"
    )]
    pub fn get_function<'env>(
        &self,
        env: &'env Env,
        handle: Unknown<'env>,
        name: Unknown<'env>,
        expect: u32,
    ) -> napi::Result<Unknown<'env>> {
        let raw = env.raw();
        let callable = on_handle(env, &handle, |raw, h| {
            let name = convert::string(raw, name.raw(), "name")?;
            let (params, results) = function::expected(expect)
                .ok_or_else(|| argument(format!("expect must be 0, 1, 2 or 3, got {expect}")))?;
            let function = self
                .engine
                .function(Site::Direct, h.instance()?.target(), &name)?;
            if expect != 0 {
                function.ensure_signature(params, results)?;
            }
            Ok(Callable::new(self.engine.clone(), function))
        })?;
        // SAFETY: a Node-API callback on `raw`'s thread.
        unsafe {
            let value = function::create(raw, callable).map_err(errors::failed)?;
            Ok(Unknown::from_raw_unchecked(raw, value))
        }
    }

    /// Fuel left, or `null` when metering is off.
    #[napi(catch_unwind)]
    pub fn remaining_fuel(&self, env: Env) -> napi::Result<Option<BigInt>> {
        let fuel = or_throw(env.raw(), self.engine.remaining_fuel())?;
        Ok(fuel.map(BigInt::from))
    }

    /// Counters of this engine and its backend.
    #[napi(catch_unwind)]
    pub fn stats(&self, env: Env) -> napi::Result<EngineStats> {
        let stats = or_throw(env.raw(), self.engine.stats())?;
        let calls = stats.calls;
        Ok(EngineStats {
            instances: stats.instances as f64,
            max_instances: stats.max_instances.map(|n| n as f64),
            calls_completed: calls.completed as f64,
            calls_trapped: calls.trapped as f64,
            calls_timed_out: calls.timed_out as f64,
            calls_out_of_fuel: calls.out_of_fuel as f64,
            calls_aborted: calls.aborted as f64,
            calls_overloaded: calls.overloaded as f64,
            calls_failed: calls.failed as f64,
            queued: stats.queued as f64,
            stores: stats.stores as f64,
            compiles: stats.compiles as f64,
            memory_cache_hits: stats.memory_cache_hits as f64,
            disk_cache_hits: stats.disk_cache_hits as f64,
            disk_cache_rejects: stats.disk_cache_rejects as f64,
            disk_cache_write_failures: stats.disk_cache_write_failures as f64,
            pool_slots: stats.pool_slots as f64,
        })
    }

    /// Closes the engine: a running call stops at its next tick, queued
    /// calls fail, every instance and store is dropped. Idempotent.
    #[napi]
    pub fn close(&self) {
        self.engine.close();
    }

    /// Bytes of the memory host call `token` may use; 0 once it is over.
    #[napi]
    pub fn caller_memory_size(&self, token: f64) -> f64 {
        self.engine.windows().size(token as u64) as f64
    }

    /// Copies `length` bytes at `offset` out of the memory of host call `token`.
    #[napi(
        catch_unwind,
        ts_args_type = "token: number, offset: number, length: number"
    )]
    pub fn caller_read(
        &self,
        env: Env,
        token: f64,
        offset: Unknown<'_>,
        length: Unknown<'_>,
    ) -> napi::Result<Uint8Array> {
        let raw = env.raw();
        let read = convert::integer(raw, offset.raw(), "offset").and_then(|offset| {
            let length = convert::integer(raw, length.raw(), "length")?;
            self.engine.windows().read(token as u64, offset, length)
        });
        Ok(Uint8Array::from(or_throw(raw, read)?))
    }

    /// Copies `data` into the memory of host call `token` at `offset`.
    #[napi(
        catch_unwind,
        ts_args_type = "token: number, offset: number, data: Uint8Array"
    )]
    pub fn caller_write(
        &self,
        env: Env,
        token: f64,
        offset: Unknown<'_>,
        data: Unknown<'_>,
    ) -> napi::Result<()> {
        let raw = env.raw();
        or_throw(
            raw,
            convert::integer(raw, offset.raw(), "offset").and_then(|offset| {
                let data = convert::bytes(raw, data.raw(), "data")?;
                self.engine.windows().write(token as u64, offset, &data)
            }),
        )
    }
}

/// The binary of `code`: its bytes, or the parsed text.
fn source(env: napi_env, code: napi_value) -> Result<Vec<u8>, WasmError> {
    if js::type_of_is_string(env, code) {
        parse_text(&convert::string(env, code, "code")?)
    } else {
        convert::bytes(env, code, "code")
    }
}

/// Runs `op` on the instance `handle` refers to, throwing its failure (or a
/// handle that is not one) as its JavaScript error.
fn on_handle<T>(
    env: &Env,
    handle: &Unknown<'_>,
    op: impl FnOnce(napi_env, &InstanceHandle) -> Result<T, WasmError>,
) -> napi::Result<T> {
    let raw = env.raw();
    or_throw(
        raw,
        convert::handle(raw, handle.raw()).and_then(|h| op(raw, h)),
    )
}
