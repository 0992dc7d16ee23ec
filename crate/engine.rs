//! `NativeEngine`: one Freenet-style engine, i.e. a family of stores, the
//! instances living in them and the limits they run under.
//!
//! Every method takes the engine's state lock without waiting. On the
//! JavaScript thread nothing else can hold it except a call that is already
//! running this engine, so a failed attempt means re-entrance and is
//! reported as `ENGINE_BUSY` instead of deadlocking the event loop.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use napi::bindgen_prelude::{BigInt, Uint8Array};
use napi_derive::napi;
use wasmtime::{Linker, Store, Trap, TypedFunc, WasmParams, WasmResults};

use crate::backend::Backend;
use crate::config::{Limits, RuntimeConfig, WASM_PAGE_SIZE};
use crate::error::{Interrupt, Result, WasmError, describe};
use crate::instance::{InstanceHandle, LiveInstance, Orphans};
use crate::memory;
use crate::module::{ASYNC_IMPORT_NAMESPACES, Module};
use crate::store::{HostState, Stores};

/// The export Freenet calls after instantiation with the instance id.
const SET_ID_EXPORT: &str = "__frnt_set_id";
/// The export that allocates a guest-side buffer of a given capacity.
const INITIATE_BUFFER_EXPORT: &str = "__frnt__initiate_buffer";
/// The memory export every memory operation works on.
const MEMORY_EXPORT: &str = "memory";

static NEXT_ENGINE_ID: AtomicU64 = AtomicU64::new(1);

/// The native half of `WasmEngine`; the TypeScript layer validates
/// arguments and turns error codes into `WasmError` subclasses.
#[napi]
pub struct NativeEngine {
    id: u64,
    backend: Arc<Backend>,
    limits: Limits,
    state: tokio::sync::Mutex<Option<EngineState>>,
    orphans: Orphans,
    closed: AtomicBool,
    healthy: AtomicBool,
}

/// Everything a guest entry needs, guarded by the engine's lock.
struct EngineState {
    stores: Stores,
    linker: Arc<Linker<HostState>>,
    instances: HashMap<u64, LiveInstance>,
    next_key: u64,
    /// The engine's fuel when metering is on: one budget shared by all its
    /// stores, reset at each instance creation.
    fuel: Option<u64>,
    deadline: Duration,
}

#[napi]
impl NativeEngine {
    /// Creates an engine with its own backend. `host_mem` is refused, as
    /// Freenet refuses it.
    #[napi(constructor)]
    pub fn new(config: Option<RuntimeConfig>, host_mem: Option<bool>) -> Result<NativeEngine> {
        if host_mem == Some(true) {
            return Err(WasmError::Other(
                "hostMem: true is not supported: a shared host memory would let guests see host data"
                    .into(),
            )
            .into());
        }
        let limits = Limits::resolve(&config.unwrap_or_default())?;
        let backend = Arc::new(Backend::new(
            limits.fuel.is_some(),
            limits.module_cache_capacity,
        )?);
        let state = EngineState {
            stores: Stores::new(backend.engine.clone(), limits.max_memory_bytes()),
            linker: Arc::new(Linker::new(&backend.engine)),
            instances: HashMap::new(),
            next_key: 1,
            fuel: limits.fuel,
            deadline: limits.deadline,
        };
        Ok(NativeEngine {
            id: NEXT_ENGINE_ID.fetch_add(1, Ordering::Relaxed),
            backend,
            limits,
            state: tokio::sync::Mutex::new(Some(state)),
            orphans: Orphans::default(),
            closed: AtomicBool::new(false),
            healthy: AtomicBool::new(true),
        })
    }

    /// True while the engine is open and no internal failure has poisoned it.
    #[napi]
    pub fn is_healthy(&self) -> bool {
        !self.closed.load(Ordering::Acquire) && self.healthy.load(Ordering::Acquire)
    }

    /// Compiles a binary module (cached by content hash).
    #[napi]
    pub fn compile(&self, code: Uint8Array) -> Result<Module> {
        self.ensure_open()?;
        let inner = self.backend.compile(&code)?;
        Ok(Module {
            inner,
            backend: self.backend.clone(),
        })
    }

    /// Compiles WebAssembly text.
    #[napi]
    pub fn compile_text(&self, text: String) -> Result<Module> {
        self.ensure_open()?;
        let wasm = wat::parse_str(&text)
            .map_err(|err| WasmError::Compile(format!("invalid WebAssembly text: {err}")))?;
        let inner = self.backend.compile(&wasm)?;
        Ok(Module {
            inner,
            backend: self.backend.clone(),
        })
    }

    /// Whether `module` imports one of Freenet's asynchronous namespaces.
    #[napi]
    pub fn module_has_async_imports(&self, module: &Module) -> Result<bool> {
        self.check_module(module)?;
        Ok(module.imports_from(&ASYNC_IMPORT_NAMESPACES))
    }

    /// Instantiates `module`, calls `__frnt_set_id(id)` when exported and
    /// grows the exported memory to at least `req_bytes`.
    #[napi]
    pub fn create_instance(
        &self,
        module: &Module,
        id: BigInt,
        req_bytes: f64,
    ) -> Result<InstanceHandle> {
        self.check_module(module)?;
        let id = i64_arg(&id, "id")?;
        let req_bytes = length_arg(req_bytes, "reqBytes")?;
        let key = self.with_state(|state| {
            state.create_instance(&module.inner, id, req_bytes, &self.limits)
        })?;
        Ok(InstanceHandle::new(self.id, key, id, &self.orphans))
    }

    /// Drops an instance; its memory is released with its store.
    #[napi]
    pub fn drop_instance(&self, handle: &InstanceHandle) -> Result<()> {
        self.check_handle(handle)?;
        self.with_state(|state| state.drop_instance(handle))
    }

    /// Size in bytes of the instance's exported memory, read live.
    #[napi]
    pub fn memory_size(&self, handle: &InstanceHandle) -> Result<f64> {
        self.check_handle(handle)?;
        self.with_state(|state| {
            let (memory, store) = state.memory(handle)?;
            Ok(memory.data_size(store) as f64)
        })
    }

    /// Copies `length` bytes at `offset` out of the instance's memory.
    #[napi]
    pub fn read_memory(
        &self,
        handle: &InstanceHandle,
        offset: f64,
        length: f64,
    ) -> Result<Uint8Array> {
        self.check_handle(handle)?;
        self.with_state(|state| {
            let (mem, store) = state.memory(handle)?;
            let bytes = memory::read(mem.data(&*store), offset, length, handle.id)?;
            Ok(Uint8Array::from(bytes))
        })
    }

    /// Copies `data` into the instance's memory at `offset`.
    #[napi]
    pub fn write_memory(
        &self,
        handle: &InstanceHandle,
        offset: f64,
        data: Uint8Array,
    ) -> Result<()> {
        self.check_handle(handle)?;
        self.with_state(|state| {
            let (mem, store) = state.memory(handle)?;
            memory::write(mem.data_mut(store), offset, &data, handle.id)
        })
    }

    /// Calls `__frnt__initiate_buffer(size)` and returns the buffer's offset.
    #[napi]
    pub fn initiate_buffer(&self, handle: &InstanceHandle, size: u32) -> Result<BigInt> {
        self.check_handle(handle)?;
        let result =
            self.with_state(|state| state.call::<u32, i64>(handle, INITIATE_BUFFER_EXPORT, size))?;
        Ok(BigInt::from(result))
    }

    /// Calls the export `name() -> ()`.
    #[napi]
    pub fn call_void(&self, handle: &InstanceHandle, name: String) -> Result<()> {
        self.check_handle(handle)?;
        self.with_state(|state| state.call::<(), ()>(handle, &name, ()))
    }

    /// Calls the export `name(i64, i64, i64) -> i64`.
    #[napi(js_name = "call3i64")]
    pub fn call3i64(
        &self,
        handle: &InstanceHandle,
        name: String,
        a: BigInt,
        b: BigInt,
        c: BigInt,
    ) -> Result<BigInt> {
        self.check_handle(handle)?;
        let args = (i64_arg(&a, "a")?, i64_arg(&b, "b")?, i64_arg(&c, "c")?);
        let result =
            self.with_state(|state| state.call::<(i64, i64, i64), i64>(handle, &name, args))?;
        Ok(BigInt::from(result))
    }

    /// Fuel left, or `null` when metering is off.
    #[napi]
    pub fn remaining_fuel(&self) -> Result<Option<BigInt>> {
        self.with_state(|state| Ok(state.fuel.map(BigInt::from)))
    }

    /// Number of live instances, and of stores holding them or their dead
    /// predecessors' memory: `[instances, stores]`.
    #[napi]
    pub fn census(&self) -> Result<Vec<u32>> {
        self.with_state(|state| {
            Ok(vec![
                u32::try_from(state.instances.len()).unwrap_or(u32::MAX),
                u32::try_from(state.stores.len()).unwrap_or(u32::MAX),
            ])
        })
    }

    /// Drops every instance and store. Idempotent.
    #[napi]
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Ok(mut guard) = self.state.try_lock() {
            guard.take();
        }
    }
}

impl NativeEngine {
    fn ensure_open(&self) -> Result<(), WasmError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(WasmError::Closed(format!(
                "engine {} is closed{}",
                self.id,
                if self.healthy.load(Ordering::Acquire) {
                    ""
                } else {
                    " after an internal failure"
                }
            )));
        }
        Ok(())
    }

    fn check_module(&self, module: &Module) -> Result<(), WasmError> {
        self.ensure_open()?;
        if !Arc::ptr_eq(&module.backend, &self.backend) {
            return Err(WasmError::InvalidHandle(
                "module was compiled by another engine's backend; compile it with this engine"
                    .into(),
            ));
        }
        Ok(())
    }

    fn check_handle(&self, handle: &InstanceHandle) -> Result<(), WasmError> {
        self.ensure_open()?;
        if handle.engine_id != self.id {
            return Err(WasmError::InvalidHandle(format!(
                "instance {} belongs to engine {}, not to engine {}",
                handle.id, handle.engine_id, self.id
            )));
        }
        Ok(())
    }

    /// Runs `op` with the engine state, first dropping the instances whose
    /// handles were garbage-collected. A panic inside `op` closes the engine
    /// and becomes an error instead of unwinding into Node.
    fn with_state<R>(
        &self,
        op: impl FnOnce(&mut EngineState) -> Result<R, WasmError>,
    ) -> Result<R> {
        let mut guard = self.state.try_lock().map_err(|_| {
            WasmError::Busy(format!(
                "engine {} is running another call; a host function cannot call back into the engine that runs it",
                self.id
            ))
        })?;
        let Some(state) = guard.as_mut() else {
            self.ensure_open()?;
            return Err(WasmError::Closed(format!("engine {} is closed", self.id)).into());
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            state.collect_orphans(&self.orphans);
            op(state)
        }));
        match outcome {
            Ok(result) => Ok(result?),
            Err(_) => {
                self.healthy.store(false, Ordering::Release);
                self.closed.store(true, Ordering::Release);
                // The state may be half-updated: never run a guest on it again.
                let broken = guard.take();
                std::mem::forget(broken);
                Err(WasmError::Other(format!(
                    "engine {} hit an internal failure and was closed; create a new engine",
                    self.id
                ))
                .into())
            }
        }
    }
}

impl EngineState {
    fn collect_orphans(&mut self, orphans: &Orphans) {
        let keys = std::mem::take(&mut *orphans.lock().unwrap_or_else(|p| p.into_inner()));
        for key in keys {
            self.remove_instance(key);
        }
    }

    fn live(&self, handle: &InstanceHandle) -> Result<&LiveInstance, WasmError> {
        self.instances
            .get(&handle.key)
            .ok_or_else(|| WasmError::InvalidHandle(format!("instance {} was dropped", handle.id)))
    }

    fn store(&mut self, generation: u64) -> Result<&mut Store<HostState>, WasmError> {
        self.stores
            .get(generation)
            .map(|slot| &mut slot.store)
            .ok_or_else(|| WasmError::Other(format!("store generation {generation} is gone")))
    }

    fn memory(
        &mut self,
        handle: &InstanceHandle,
    ) -> Result<(wasmtime::Memory, &mut Store<HostState>), WasmError> {
        let live = self.live(handle)?;
        let memory = live.memory.ok_or_else(|| {
            WasmError::Export(format!(
                "instance {} exports no memory named \"{MEMORY_EXPORT}\"",
                live.id
            ))
        })?;
        let generation = live.generation;
        Ok((memory, self.store(generation)?))
    }

    /// Enters the guest through `call` on `generation`'s store, with the
    /// engine's fuel loaded into that store and a fresh deadline armed.
    fn run_guest<R>(
        &mut self,
        generation: u64,
        call: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<wasmtime::Result<R>, WasmError> {
        let fuel = self.fuel;
        let deadline = self.deadline;
        let slot = self
            .stores
            .get(generation)
            .ok_or_else(|| WasmError::Other(format!("store generation {generation} is gone")))?;
        if let Some(fuel) = fuel {
            slot.store
                .set_fuel(fuel)
                .map_err(|err| WasmError::Other(format!("cannot set fuel: {err}")))?;
        }
        slot.arm(deadline);
        let result = call(&mut slot.store);
        if fuel.is_some() {
            self.fuel = Some(slot.store.get_fuel().unwrap_or(0));
        }
        Ok(result)
    }

    fn create_instance(
        &mut self,
        module: &wasmtime::Module,
        id: i64,
        req_bytes: usize,
        limits: &Limits,
    ) -> Result<u64, WasmError> {
        if let Some(budget) = limits.fuel {
            self.fuel = Some(budget);
        }
        let generation = self.stores.current().generation;
        let linker = self.linker.clone();
        let instantiated = self.run_guest(generation, |store| linker.instantiate(store, module))?;
        let instance = match instantiated {
            Ok(instance) => instance,
            Err(err) => {
                let refused = self.stores.current().take_refused_growth();
                self.stores.instance_dead(generation, 0, false);
                return Err(instantiation_error(err, id, refused, limits));
            }
        };
        let store = self.store(generation)?;
        let memory = instance.get_memory(&mut *store, MEMORY_EXPORT);
        let prepared = self.prepare(instance, generation, memory, id, req_bytes, limits);
        if let Err(err) = prepared {
            let bytes = self.memory_bytes(generation, memory);
            self.stores.instance_dead(generation, bytes, false);
            return Err(err);
        }
        let key = self.next_key;
        self.next_key += 1;
        self.instances.insert(
            key,
            LiveInstance {
                instance,
                generation,
                id,
                memory,
            },
        );
        self.stores.instance_created(generation);
        Ok(key)
    }

    /// Runs the guest's `__frnt_set_id(id)`, when exported, and reserves
    /// `req_bytes` of memory: the steps of `createInstance` after
    /// instantiation.
    fn prepare(
        &mut self,
        instance: wasmtime::Instance,
        generation: u64,
        memory: Option<wasmtime::Memory>,
        id: i64,
        req_bytes: usize,
        limits: &Limits,
    ) -> Result<(), WasmError> {
        let store = self.store(generation)?;
        if instance.get_func(&mut *store, SET_ID_EXPORT).is_some() {
            let set_id = typed_export::<i64, ()>(instance, store, SET_ID_EXPORT, id)?;
            self.run_guest(generation, |store| set_id.call(store, id))?
                .map_err(|err| {
                    WasmError::from_guest(err, &format!("\"{SET_ID_EXPORT}\" of instance {id}"))
                })?;
        }
        self.reserve(generation, memory, id, req_bytes, limits)
    }

    /// Grows `memory` so that it holds at least `req_bytes`.
    fn reserve(
        &mut self,
        generation: u64,
        memory: Option<wasmtime::Memory>,
        id: i64,
        req_bytes: usize,
        limits: &Limits,
    ) -> Result<(), WasmError> {
        let store = self.store(generation)?;
        let current = memory.map_or(0, |m| m.data_size(&*store));
        if req_bytes <= current {
            return Ok(());
        }
        let Some(memory) = memory else {
            return Err(WasmError::Memory(format!(
                "instance {id} exports no memory named \"{MEMORY_EXPORT}\" to hold the {req_bytes} requested bytes"
            )));
        };
        let page = WASM_PAGE_SIZE as usize;
        let pages = (req_bytes - current).div_ceil(page) as u64;
        memory.grow(&mut *store, pages).map_err(|err| {
            WasmError::Memory(format!(
                "cannot grow the memory of instance {id} from {current} to {req_bytes} bytes \
                 (cap: {} pages of 64 KiB, {} bytes): {err}",
                limits.max_memory_pages,
                limits.max_memory_bytes()
            ))
        })?;
        Ok(())
    }

    /// Bytes held by `memory`, 0 when there is none or its store is gone.
    fn memory_bytes(&mut self, generation: u64, memory: Option<wasmtime::Memory>) -> usize {
        match (memory, self.stores.get(generation)) {
            (Some(memory), Some(slot)) => memory.data_size(&slot.store),
            _ => 0,
        }
    }

    fn drop_instance(&mut self, handle: &InstanceHandle) -> Result<(), WasmError> {
        self.live(handle)?;
        self.remove_instance(handle.key);
        Ok(())
    }

    fn remove_instance(&mut self, key: u64) {
        if let Some(live) = self.instances.remove(&key) {
            let bytes = self.memory_bytes(live.generation, live.memory);
            self.stores.instance_dead(live.generation, bytes, true);
        }
    }

    /// Calls the export `name` with the signature `Params -> Results`.
    fn call<Params, Results>(
        &mut self,
        handle: &InstanceHandle,
        name: &str,
        args: Params,
    ) -> Result<Results, WasmError>
    where
        Params: WasmParams,
        Results: WasmResults,
    {
        let live = self.live(handle)?;
        let (instance, generation, id) = (live.instance, live.generation, live.id);
        let func: TypedFunc<Params, Results> =
            typed_export(instance, self.store(generation)?, name, id)?;
        self.run_guest(generation, |store| func.call(store, args))?
            .map_err(|err| {
                WasmError::from_guest(err, &format!("export \"{name}\" of instance {id}"))
            })
    }
}

/// Looks up the export `name` and checks its signature.
fn typed_export<Params, Results>(
    instance: wasmtime::Instance,
    store: &mut Store<HostState>,
    name: &str,
    id: i64,
) -> Result<TypedFunc<Params, Results>, WasmError>
where
    Params: WasmParams,
    Results: WasmResults,
{
    let func = instance.get_func(&mut *store, name).ok_or_else(|| {
        WasmError::Export(format!("instance {id} has no exported function \"{name}\""))
    })?;
    func.typed::<Params, Results>(&*store).map_err(|err| {
        WasmError::Export(format!(
            "export \"{name}\" of instance {id} has type {}: {}",
            func.ty(&*store),
            describe(&err)
        ))
    })
}

/// Names why instantiation failed, preferring the memory cap when the
/// limiter refused the module's initial memory.
fn instantiation_error(
    err: wasmtime::Error,
    id: i64,
    refused: Option<usize>,
    limits: &Limits,
) -> WasmError {
    if err.is::<Interrupt>() || matches!(err.downcast_ref::<Trap>(), Some(Trap::OutOfFuel)) {
        return WasmError::from_guest(err, &format!("start function of instance {id}"));
    }
    if let Some(bytes) = refused {
        return WasmError::Instantiation(format!(
            "instance {id} needs a memory of {bytes} bytes, over the cap of {} pages ({} bytes)",
            limits.max_memory_pages,
            limits.max_memory_bytes()
        ));
    }
    let why = if err.is::<Trap>() {
        "its start function trapped: "
    } else {
        ""
    };
    WasmError::Instantiation(format!(
        "cannot instantiate instance {id}: {why}{}",
        describe(&err)
    ))
}

/// A JavaScript bigint as an i64, refusing values out of range.
fn i64_arg(value: &BigInt, name: &str) -> Result<i64, WasmError> {
    match value.get_i64() {
        (v, true) => Ok(v),
        _ => Err(WasmError::Argument(format!(
            "{name} is outside the i64 range"
        ))),
    }
}

/// A JavaScript number as a byte count: a non-negative safe integer.
fn length_arg(value: f64, name: &str) -> Result<usize, WasmError> {
    memory::byte_count(value).ok_or_else(|| {
        WasmError::Argument(format!(
            "{name} must be a non-negative safe integer, got {value}"
        ))
    })
}
