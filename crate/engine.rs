//! `NativeEngine`: one Freenet-style engine, i.e. a family of stores, the
//! instances living in them and the limits they run under.
//!
//! The engine's state sits behind one FIFO lock. Synchronous methods take it
//! without waiting: on the JavaScript thread, a held lock means a blocking
//! call is running (or a guest re-entered its own engine), so waiting would
//! freeze the event loop or deadlock; they fail with `ENGINE_BUSY` instead.
//! Blocking calls queue for it and run on tokio threads (see `blocking`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use napi::Either;
use napi::bindgen_prelude::{BigInt, Env, Function, FunctionRef, PromiseRaw, Uint8Array};
use napi_derive::napi;

use crate::backend::Backend;
use crate::blocking::{self, CallSignal, Queue, Settled};
use crate::config::{Limits, RuntimeConfig};
use crate::deadline::Flag;
use crate::error::{Result, WasmError};
use crate::host::{HostCall, ImportDescriptor, Imports, JsThread, Site};
use crate::instance::{InstanceHandle, Orphans};
use crate::memory;
use crate::module::{ASYNC_IMPORT_NAMESPACES, Module};
use crate::state::{EngineState, INITIATE_BUFFER_EXPORT};
use crate::values::Value;

static NEXT_ENGINE_ID: AtomicU64 = AtomicU64::new(1);

/// Counters for monitoring an engine (see the TypeScript `EngineStats`).
#[napi(object)]
pub struct EngineStats {
    pub instances: f64,
    pub queued: f64,
    pub stores: f64,
    pub compiles: f64,
    pub memory_cache_hits: f64,
    pub disk_cache_hits: f64,
}

/// The part of an engine that calls in flight share with the JavaScript
/// object: the lock around its state and its lifecycle flags.
pub(crate) struct Core {
    id: u64,
    state: Mutex<Option<EngineState>>,
    queue: Queue,
    orphans: Orphans,
    /// Set by `close()`; running guests stop at their next tick.
    closing: Flag,
    healthy: AtomicBool,
}

impl Core {
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Waits for the state lock. Only for threads other than JavaScript's,
    /// which holds the lock only for the length of a synchronous call.
    pub(crate) fn lock_state(&self) -> MutexGuard<'_, Option<EngineState>> {
        // `run` catches panics before they can unwind through a guard, so
        // the lock is never poisoned with a half-updated state inside.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn closed_error(&self) -> WasmError {
        let why = if self.healthy.load(Ordering::Acquire) {
            ""
        } else {
            " after an internal failure"
        };
        WasmError::Closed(format!("engine {} is closed{why}", self.id))
    }

    fn ensure_open(&self) -> std::result::Result<(), WasmError> {
        if self.closing.load(Ordering::Acquire) {
            return Err(self.closed_error());
        }
        Ok(())
    }

    /// Runs `op` on the state held in `slot`, first dropping the instances
    /// whose handles were garbage-collected. A panic inside `op` closes the
    /// engine and becomes an error instead of unwinding into Node; a
    /// `close()` that came while the lock was held drops the state here.
    pub(crate) fn run<R>(
        &self,
        slot: &mut Option<EngineState>,
        op: impl FnOnce(&mut EngineState) -> std::result::Result<R, WasmError>,
    ) -> std::result::Result<R, WasmError> {
        if self.closing.load(Ordering::Acquire) {
            slot.take();
            return Err(self.closed_error());
        }
        let Some(state) = slot.as_mut() else {
            return Err(self.closed_error());
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            state.collect_orphans(&self.orphans);
            op(state)
        }));
        match outcome {
            Ok(result) => {
                if self.closing.load(Ordering::Acquire) {
                    slot.take();
                }
                result
            }
            Err(_) => {
                self.healthy.store(false, Ordering::Release);
                self.closing.store(true, Ordering::Release);
                // The state may be half-updated: never run a guest on it
                // again, and do not run its destructors either.
                std::mem::forget(slot.take());
                Err(WasmError::Other(format!(
                    "engine {} hit an internal failure and was closed; create a new engine",
                    self.id
                )))
            }
        }
    }

    /// Runs `op` now on the calling thread, or fails with `ENGINE_BUSY`.
    /// Guests entered by `op` run on `site`.
    fn run_now<R>(
        &self,
        site: Site,
        op: impl FnOnce(&mut EngineState) -> std::result::Result<R, WasmError>,
    ) -> Result<R> {
        let mut guard = self.state.try_lock().map_err(|_| {
            WasmError::Busy(format!(
                "engine {} is running another call; synchronous calls never wait for it \
                 (await the blocking call first, or use another engine)",
                self.id
            ))
        })?;
        Ok(self.run(&mut guard, |state| {
            state.enter_from(site);
            let result = op(state);
            state.enter_from(Site::Worker);
            result
        })?)
    }
}

/// The native half of `WasmEngine`; the TypeScript layer validates
/// arguments and turns error codes into `WasmError` subclasses.
#[napi]
pub struct NativeEngine {
    core: Arc<Core>,
    backend: Arc<Backend>,
    limits: Limits,
    imports: Arc<Imports>,
    /// The TypeScript function that runs JavaScript imports, called directly
    /// when a synchronous call's guest calls one.
    dispatcher: Option<FunctionRef<HostCall, ()>>,
}

#[napi]
impl NativeEngine {
    /// Creates an engine. With `share`, it uses that engine's backend (its
    /// compiled modules and caches) instead of a new one. `imports` lists
    /// the JavaScript imports `dispatcher` runs. `host_mem` is refused, as
    /// Freenet refuses it.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        config: Option<RuntimeConfig>,
        host_mem: Option<bool>,
        share: Option<&NativeEngine>,
        imports: Option<Vec<ImportDescriptor>>,
        dispatcher: Option<Function<HostCall, ()>>,
    ) -> Result<NativeEngine> {
        if host_mem == Some(true) {
            return Err(WasmError::Other(
                "hostMem: true is not supported: a shared host memory would let guests see host data".into(),
            )
            .into());
        }
        let limits = Limits::resolve(&config.unwrap_or_default())?;
        let metering = limits.fuel.is_some();
        let backend = match share {
            Some(other) if other.backend.metering != metering => {
                return Err(WasmError::Other(format!(
                    "cannot share the backend of engine {}: it has metering {}, this config has it {} \
                     (fuel accounting is compiled into the modules)",
                    other.core.id,
                    on_off(other.backend.metering),
                    on_off(metering)
                ))
                .into());
            }
            Some(other) => other.backend.clone(),
            None => Arc::new(Backend::new(
                metering,
                limits.module_cache_capacity,
                limits.compile_cache_root.as_deref(),
            )?),
        };
        let imports = Arc::new(Imports::new(
            imports.unwrap_or_default(),
            dispatcher.as_ref(),
        )?);
        let dispatcher = dispatcher
            .map(|function| function.create_ref())
            .transpose()
            .map_err(WasmError::from)?;
        let closing = Flag::default();
        let state = EngineState::new(
            &backend.engine,
            limits.clone(),
            closing.clone(),
            imports.clone(),
        );
        Ok(NativeEngine {
            core: Arc::new(Core {
                id: NEXT_ENGINE_ID.fetch_add(1, Ordering::Relaxed),
                state: Mutex::new(Some(state)),
                queue: Queue::default(),
                orphans: Orphans::default(),
                closing,
                healthy: AtomicBool::new(true),
            }),
            backend,
            limits,
            imports,
            dispatcher,
        })
    }

    /// True while the engine is open and no internal failure has poisoned it.
    #[napi(catch_unwind)]
    pub fn is_healthy(&self) -> bool {
        !self.core.closing.load(Ordering::Acquire) && self.core.healthy.load(Ordering::Acquire)
    }

    /// Compiles a binary module on this thread (cached by content hash).
    #[napi(catch_unwind)]
    pub fn compile(&self, code: Uint8Array) -> Result<Module> {
        self.core.ensure_open()?;
        Ok(self.module(self.backend.compile(&code)?))
    }

    /// Compiles WebAssembly text on this thread.
    #[napi(catch_unwind)]
    pub fn compile_text(&self, text: String) -> Result<Module> {
        self.core.ensure_open()?;
        Ok(self.module(self.backend.compile(&parse_text(&text)?)?))
    }

    /// Compiles a binary (`Uint8Array`) or text (`string`) module on a tokio
    /// thread; concurrent compiles of the same bytes are done once.
    #[napi(catch_unwind, ts_return_type = "Promise<Module | Error>")]
    pub fn compile_async<'env>(
        &self,
        env: &'env Env,
        code: Either<Uint8Array, String>,
    ) -> Result<PromiseRaw<'env, Settled<Module>>> {
        self.core.ensure_open()?;
        // Copied on this thread: JavaScript memory must not be read elsewhere.
        let source = match code {
            Either::A(bytes) => Either::A(bytes.to_vec()),
            Either::B(text) => Either::B(text),
        };
        let backend = self.backend.clone();
        Ok(env
            .spawn_future(async move {
                let wasm = match source {
                    Either::A(bytes) => Ok(bytes),
                    Either::B(text) => tokio::task::spawn_blocking(move || parse_text(&text))
                        .await
                        .unwrap_or_else(|err| {
                            Err(WasmError::Other(format!(
                                "the parsing thread failed: {err}"
                            )))
                        }),
                };
                let compiled = match wasm {
                    Ok(wasm) => backend.clone().compile_shared(wasm).await,
                    Err(err) => Err(err),
                };
                Ok(Settled(compiled.map(|inner| Module { inner, backend })))
            })
            .map_err(WasmError::from)?)
    }

    /// Whether `module` imports one of Freenet's asynchronous namespaces or
    /// an asynchronous JavaScript import of this engine.
    #[napi(catch_unwind)]
    pub fn module_has_async_imports(&self, module: &Module) -> Result<bool> {
        self.check_module(module)?;
        Ok(module.imports_from(&ASYNC_IMPORT_NAMESPACES) || self.imports.any_async(&module.inner))
    }

    /// Instantiates `module`, calls `__frnt_set_id(id)` when exported and
    /// grows the exported memory to at least `req_bytes`.
    #[napi(catch_unwind)]
    pub fn create_instance(
        &self,
        env: &Env,
        module: &Module,
        id: BigInt,
        req_bytes: f64,
    ) -> Result<InstanceHandle> {
        self.check_module(module)?;
        let id = i64_arg(&id, "id")?;
        let req_bytes = length_arg(req_bytes, "reqBytes")?;
        let key = self.core.run_now(self.site(env)?, |state| {
            state.create_instance(&module.inner, id, req_bytes)
        })?;
        Ok(InstanceHandle::new(
            self.core.id,
            key,
            id,
            &self.core.orphans,
        ))
    }

    /// Drops an instance; its memory is released with its store.
    #[napi(catch_unwind)]
    pub fn drop_instance(&self, handle: &InstanceHandle) -> Result<()> {
        self.check_handle(handle)?;
        self.core
            .run_now(Site::Worker, |state| state.drop_instance(&handle.target()))
    }

    /// Size in bytes of the instance's exported memory, read live.
    #[napi(catch_unwind)]
    pub fn memory_size(&self, handle: &InstanceHandle) -> Result<f64> {
        self.check_handle(handle)?;
        self.core.run_now(Site::Worker, |state| {
            let (memory, store) = state.memory(&handle.target())?;
            Ok(memory.data_size(store) as f64)
        })
    }

    /// Copies `length` bytes at `offset` out of the instance's memory.
    #[napi(catch_unwind)]
    pub fn read_memory(
        &self,
        handle: &InstanceHandle,
        offset: f64,
        length: f64,
    ) -> Result<Uint8Array> {
        self.check_handle(handle)?;
        self.core.run_now(Site::Worker, |state| {
            let (memory, store) = state.memory(&handle.target())?;
            let bytes = memory::read(memory.data(&*store), offset, length, handle.id)?;
            Ok(Uint8Array::from(bytes))
        })
    }

    /// Copies `data` into the instance's memory at `offset`.
    #[napi(catch_unwind)]
    pub fn write_memory(
        &self,
        handle: &InstanceHandle,
        offset: f64,
        data: Uint8Array,
    ) -> Result<()> {
        self.check_handle(handle)?;
        self.core.run_now(Site::Worker, |state| {
            let (memory, store) = state.memory(&handle.target())?;
            memory::write(memory.data_mut(store), offset, &data, handle.id)
        })
    }

    /// Calls `__frnt__initiate_buffer(size)` and returns the buffer's offset.
    #[napi(catch_unwind)]
    pub fn initiate_buffer(&self, env: &Env, handle: &InstanceHandle, size: u32) -> Result<BigInt> {
        self.check_handle(handle)?;
        let offset = self.core.run_now(self.site(env)?, |state| {
            state.call::<u32, i64>(&handle.target(), INITIATE_BUFFER_EXPORT, size, None)
        })?;
        Ok(BigInt::from(offset))
    }

    /// Calls the export `name() -> ()`.
    #[napi(catch_unwind)]
    pub fn call_void(&self, env: &Env, handle: &InstanceHandle, name: String) -> Result<()> {
        self.check_handle(handle)?;
        self.core.run_now(self.site(env)?, |state| {
            state.call::<(), ()>(&handle.target(), &name, (), None)
        })
    }

    /// Calls the export `name(i64, i64, i64) -> i64` on this thread.
    #[napi(catch_unwind, js_name = "call3i64")]
    pub fn call_3i64(
        &self,
        env: &Env,
        handle: &InstanceHandle,
        name: String,
        a: BigInt,
        b: BigInt,
        c: BigInt,
    ) -> Result<BigInt> {
        self.check_handle(handle)?;
        let args = (i64_arg(&a, "a")?, i64_arg(&b, "b")?, i64_arg(&c, "c")?);
        let result = self.core.run_now(self.site(env)?, |state| {
            state.call::<(i64, i64, i64), i64>(&handle.target(), &name, args, None)
        })?;
        Ok(BigInt::from(result))
    }

    /// Calls the export `name` of any signature on this thread; `args` and
    /// the results follow its parameter and result types.
    #[napi(catch_unwind)]
    pub fn call(
        &self,
        env: &Env,
        handle: &InstanceHandle,
        name: String,
        args: Vec<Either<f64, BigInt>>,
    ) -> Result<Vec<Either<f64, BigInt>>> {
        self.check_handle(handle)?;
        let values = self.core.run_now(self.site(env)?, |state| {
            state.call_any(&handle.target(), &name, &args)
        })?;
        Ok(values.into_iter().map(Value::into_js).collect())
    }

    /// Calls the export `name(i64, i64) -> i64` on a tokio blocking thread
    /// once the engine's earlier calls are done.
    #[napi(
        catch_unwind,
        js_name = "call2i64Blocking",
        ts_return_type = "Promise<bigint | Error>"
    )]
    pub fn call_2i64_blocking<'env>(
        &self,
        env: &'env Env,
        handle: &InstanceHandle,
        name: String,
        a: BigInt,
        b: BigInt,
        signal: Option<&CallSignal>,
    ) -> Result<PromiseRaw<'env, Settled<BigInt>>> {
        let args = (i64_arg(&a, "a")?, i64_arg(&b, "b")?);
        self.spawn_call::<(i64, i64)>(env, handle, name, args, signal)
    }

    /// Calls the export `name(i64, i64, i64) -> i64` on a tokio blocking
    /// thread once the engine's earlier calls are done. Its guest may await
    /// asynchronous JavaScript imports (`call3i64AsyncImports` is this call).
    // The JavaScript signature fixes the arguments.
    #[allow(clippy::too_many_arguments)]
    #[napi(
        catch_unwind,
        js_name = "call3i64Blocking",
        ts_return_type = "Promise<bigint | Error>"
    )]
    pub fn call_3i64_blocking<'env>(
        &self,
        env: &'env Env,
        handle: &InstanceHandle,
        name: String,
        a: BigInt,
        b: BigInt,
        c: BigInt,
        signal: Option<&CallSignal>,
    ) -> Result<PromiseRaw<'env, Settled<BigInt>>> {
        let args = (i64_arg(&a, "a")?, i64_arg(&b, "b")?, i64_arg(&c, "c")?);
        self.spawn_call::<(i64, i64, i64)>(env, handle, name, args, signal)
    }

    /// Fuel left, or `null` when metering is off.
    #[napi(catch_unwind)]
    pub fn remaining_fuel(&self) -> Result<Option<BigInt>> {
        self.core
            .run_now(Site::Worker, |state| Ok(state.fuel().map(BigInt::from)))
    }

    /// Counters of this engine and its backend.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> Result<EngineStats> {
        let (instances, stores) = self
            .core
            .run_now(Site::Worker, |state| Ok(state.census()))?;
        let compile = self.backend.stats();
        Ok(EngineStats {
            instances: instances as f64,
            queued: self.core.queue.len() as f64,
            stores: stores as f64,
            compiles: compile.compiles as f64,
            memory_cache_hits: compile.memory_hits as f64,
            disk_cache_hits: compile.disk_hits as f64,
        })
    }

    /// Closes the engine: a running call stops at its next tick, queued
    /// calls fail, every instance and store is dropped. Idempotent.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.core.closing.store(true, Ordering::Release);
        // When a call holds the lock, it drops the state as it finishes.
        if let Ok(mut guard) = self.core.state.try_lock() {
            guard.take();
        }
    }
}

impl NativeEngine {
    /// Where a synchronous call from JavaScript runs its guest: on this
    /// thread, with the dispatcher at hand when there are imports.
    fn site(&self, env: &Env) -> Result<Site> {
        Ok(match &self.dispatcher {
            Some(dispatcher) => Site::JsThread(JsThread::new(env, dispatcher)?),
            None => Site::Worker,
        })
    }

    fn module(&self, inner: wasmtime::Module) -> Module {
        Module {
            inner,
            backend: self.backend.clone(),
        }
    }

    fn check_module(&self, module: &Module) -> std::result::Result<(), WasmError> {
        self.core.ensure_open()?;
        if !Arc::ptr_eq(&module.backend, &self.backend) {
            return Err(WasmError::InvalidHandle(
                "module was compiled by an engine with another backend; compile it with this engine \
                 or create this engine with the other as its backend"
                    .into(),
            ));
        }
        Ok(())
    }

    fn check_handle(&self, handle: &InstanceHandle) -> std::result::Result<(), WasmError> {
        self.core.ensure_open()?;
        if handle.engine_id != self.core.id {
            return Err(WasmError::InvalidHandle(format!(
                "instance {} belongs to engine {}, not to engine {}",
                handle.id, handle.engine_id, self.core.id
            )));
        }
        Ok(())
    }

    /// Queues a call of the export `name` with `args` (`Params -> i64`).
    fn spawn_call<'env, Params>(
        &self,
        env: &'env Env,
        handle: &InstanceHandle,
        name: String,
        args: Params,
        signal: Option<&CallSignal>,
    ) -> Result<PromiseRaw<'env, Settled<BigInt>>>
    where
        Params: wasmtime::WasmParams + Send + 'static,
    {
        self.check_handle(handle)?;
        let target = handle.target();
        let what = format!("export \"{name}\" of instance {}", handle.id);
        Ok(blocking::spawn(
            env,
            self.core.clone(),
            what,
            self.limits.deadline,
            signal.map(CallSignal::flag),
            move |state, abort| {
                state
                    .call::<Params, i64>(&target, &name, args, abort)
                    .map(BigInt::from)
            },
        )
        .map_err(WasmError::from)?)
    }
}

fn on_off(flag: bool) -> &'static str {
    if flag { "on" } else { "off" }
}

pub(crate) fn parse_text(text: &str) -> std::result::Result<Vec<u8>, WasmError> {
    wat::parse_str(text)
        .map_err(|err| WasmError::Compile(format!("invalid WebAssembly text: {err}")))
}

/// A JavaScript bigint as an i64, refusing values out of range.
fn i64_arg(value: &BigInt, name: &str) -> std::result::Result<i64, WasmError> {
    match value.get_i64() {
        (v, true) => Ok(v),
        _ => Err(WasmError::Argument(format!(
            "{name} is outside the i64 range"
        ))),
    }
}

/// A JavaScript number as a byte count: a non-negative safe integer.
fn length_arg(value: f64, name: &str) -> std::result::Result<usize, WasmError> {
    memory::byte_count(value).ok_or_else(|| {
        WasmError::Argument(format!(
            "{name} must be a non-negative safe integer, got {value}"
        ))
    })
}
