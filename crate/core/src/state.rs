//! The state behind an engine's lock: its stores, its live instances and
//! its fuel, and every operation that enters a guest.
//!
//! Nothing here knows which thread it runs on: the host's thread for
//! synchronous calls, a scheduler worker for the others.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::{Store, Trap, TypedFunc, Val, WasmParams, WasmResults};

use crate::config::{Limits, WASM_PAGE_SIZE};
use crate::deadline::Flag;
use crate::error::{ErrorKind, Interrupt, WasmError, describe};
use crate::function::Function;
use crate::host::{Imports, Natives, Site};
use crate::instance::{LiveInstance, Orphans, Target};
use crate::store::{HostState, Stores};
use crate::values::{Signature, unsupported_type};

/// The export Freenet calls after instantiation with the instance id.
pub(crate) const SET_ID_EXPORT: &str = "__frnt_set_id";
/// The export that allocates a guest-side buffer of a given capacity.
pub(crate) const INITIATE_BUFFER_EXPORT: &str = "__frnt__initiate_buffer";
/// The memory export every memory operation works on.
pub(crate) const MEMORY_EXPORT: &str = "memory";

/// Everything a guest entry needs, guarded by the engine's lock.
pub(crate) struct EngineState {
    stores: Stores,
    imports: Arc<Imports>,
    /// Where guest entries run until the next `enter_from`.
    site: Site,
    instances: HashMap<u64, LiveInstance>,
    next_key: u64,
    /// The engine's fuel when metering is on: one budget shared by all its
    /// stores, reset at each instance creation.
    fuel: Option<u64>,
    limits: Limits,
    /// When set, the end of an operation made of several guest entries
    /// (a Freenet contract call): each entry gets what is left of it
    /// instead of a fresh budget.
    operation_ends: Option<Instant>,
}

impl EngineState {
    /// An empty state: no instances yet, one fresh store of `engine`.
    pub(crate) fn new(
        engine: &wasmtime::Engine,
        limits: Limits,
        closing: Flag,
        imports: Arc<Imports>,
    ) -> EngineState {
        EngineState {
            stores: Stores::new(engine.clone(), limits.max_memory_bytes(), closing),
            imports,
            site: Site::Worker,
            instances: HashMap::new(),
            next_key: 1,
            fuel: limits.fuel,
            limits,
            operation_ends: None,
        }
    }

    /// Sets where the following guest entries run: the JavaScript thread
    /// during a synchronous call, a worker otherwise.
    pub(crate) fn enter_from(&mut self, site: Site) {
        self.site = site;
    }

    /// Starts an operation of several guest entries that share one
    /// deadline (and, since fuel is reset only at instance creation, one
    /// fuel budget); it lasts until [`EngineState::end_operation`].
    pub(crate) fn begin_operation(&mut self) {
        self.operation_ends = Instant::now().checked_add(self.limits.deadline);
    }

    /// Ends the operation begun by [`EngineState::begin_operation`].
    pub(crate) fn end_operation(&mut self) {
        self.operation_ends = None;
    }

    /// Fuel left, `None` when metering is off.
    pub(crate) fn fuel(&self) -> Option<u64> {
        self.fuel
    }

    /// Live instances and stores alive.
    pub(crate) fn census(&self) -> (usize, usize) {
        (self.instances.len(), self.stores.len())
    }

    /// Drops the instances whose handles were dropped.
    pub(crate) fn collect_orphans(&mut self, orphans: &Orphans) {
        for key in orphans.take() {
            self.remove_instance(key);
        }
    }

    fn live(&self, handle: &Target) -> Result<&LiveInstance, WasmError> {
        self.instances.get(&handle.key).ok_or_else(|| {
            WasmError::new(
                ErrorKind::InvalidHandle,
                format!("instance {} was dropped", handle.id),
            )
            .at_instance(handle.id)
        })
    }

    fn store(&mut self, generation: u64) -> Result<&mut Store<HostState>, WasmError> {
        self.stores
            .get(generation)
            .map(|slot| &mut slot.store)
            .ok_or_else(|| gone(generation))
    }

    /// The instance's exported memory and the store it lives in.
    pub(crate) fn memory(
        &mut self,
        handle: &Target,
    ) -> Result<(wasmtime::Memory, &mut Store<HostState>), WasmError> {
        let live = self.live(handle)?;
        let memory = live.memory.ok_or_else(|| {
            WasmError::new(
                ErrorKind::Export,
                format!(
                    "instance {} exports no memory named \"{MEMORY_EXPORT}\"",
                    live.id
                ),
            )
            .at_instance(live.id)
        })?;
        let generation = live.generation;
        Ok((memory, self.store(generation)?))
    }

    /// Enters the guest through `call` on `generation`'s store, with the
    /// engine's fuel loaded into that store and a fresh deadline armed.
    fn run_guest<R>(
        &mut self,
        generation: u64,
        instance_id: i64,
        memory: Option<wasmtime::Memory>,
        abort: Option<&Flag>,
        call: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<wasmtime::Result<R>, WasmError> {
        let fuel = self.fuel;
        let deadline = match self.operation_ends {
            Some(ends) => ends.saturating_duration_since(Instant::now()),
            None => self.limits.deadline,
        };
        let site = self.site;
        let slot = self
            .stores
            .get(generation)
            .ok_or_else(|| gone(generation))?;
        if let Some(fuel) = fuel {
            slot.store.set_fuel(fuel).map_err(|err| {
                WasmError::new(ErrorKind::Other, format!("cannot set fuel: {err}"))
            })?;
        }
        slot.arm(site, instance_id, memory, deadline, abort);
        let result = call(&mut slot.store);
        if fuel.is_some() {
            self.fuel = Some(slot.store.get_fuel().unwrap_or(0));
        }
        Ok(result)
    }

    /// Instantiates `module`, runs `__frnt_set_id(id)` when exported and
    /// reserves `req_bytes` of memory; returns the new instance's key.
    pub(crate) fn create_instance(
        &mut self,
        module: &wasmtime::Module,
        id: i64,
        req_bytes: usize,
        natives: Option<&dyn Natives>,
    ) -> Result<u64, WasmError> {
        let limits = &self.limits.clone();
        if let Some(budget) = limits.fuel {
            self.fuel = Some(budget);
        }
        let generation = self.stores.current().generation;
        // A refusal recorded by an earlier growth must not explain this
        // instantiation's failure.
        self.stores.current().take_refused_growth();
        let externs = match self.imports.clone().resolve(
            &mut self.stores.current().store,
            module,
            id,
            natives,
        ) {
            Ok(externs) => externs,
            Err(err) => {
                self.stores.instance_dead(generation, 0, false);
                return Err(err);
            }
        };
        let instantiated = self.run_guest(generation, id, None, None, |store| {
            wasmtime::Instance::new(store, module, &externs)
        })?;
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
            self.run_guest(generation, id, memory, None, |store| set_id.call(store, id))?
                .map_err(|err| {
                    WasmError::from_guest(err, &format!("\"{SET_ID_EXPORT}\" of instance {id}"))
                        .at_instance(id)
                        .at_export(SET_ID_EXPORT)
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
            return Err(WasmError::new(
                ErrorKind::Memory,
                format!(
                    "instance {id} exports no memory named \"{MEMORY_EXPORT}\" to hold the {req_bytes} requested bytes"
                ),
            )
            .at_instance(id));
        };
        let page = WASM_PAGE_SIZE as usize;
        let pages = (req_bytes - current).div_ceil(page) as u64;
        memory.grow(&mut *store, pages).map_err(|err| {
            WasmError::new(
                ErrorKind::Memory,
                format!(
                    "cannot grow the memory of instance {id} from {current} to {req_bytes} bytes \
                     (cap: {} pages of 64 KiB, {} bytes): {err}",
                    limits.max_memory_pages,
                    limits.max_memory_bytes()
                ),
            )
            .at_instance(id)
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

    /// Drops the instance behind `handle`; refused when it is already gone.
    pub(crate) fn drop_instance(&mut self, handle: &Target) -> Result<(), WasmError> {
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
    pub(crate) fn call<Params, Results>(
        &mut self,
        handle: &Target,
        name: &str,
        args: Params,
    ) -> Result<Results, WasmError>
    where
        Params: WasmParams,
        Results: WasmResults,
    {
        let live = self.live(handle)?;
        let (instance, generation, id, memory) =
            (live.instance, live.generation, live.id, live.memory);
        let func: TypedFunc<Params, Results> =
            typed_export(instance, self.store(generation)?, name, id)?;
        self.run_guest(generation, id, memory, None, |store| func.call(store, args))?
            .map_err(|err| {
                WasmError::from_guest(err, &format!("export \"{name}\" of instance {id}"))
                    .at_instance(id)
                    .at_export(name)
            })
    }

    /// Looks up the exported function `name` of `handle`'s instance and
    /// its signature, for calls through [`EngineState::invoke`].
    pub(crate) fn function(&mut self, handle: &Target, name: &str) -> Result<Function, WasmError> {
        let live = self.live(handle)?;
        let (instance, generation, id, memory) =
            (live.instance, live.generation, live.id, live.memory);
        let store = self.store(generation)?;
        let func = instance
            .get_func(&mut *store, name)
            .ok_or_else(|| no_function(id, name))?;
        let what = format!("export \"{name}\" of instance {id}");
        let signature = Signature::of(
            &func.ty(&*store),
            unsupported_type(ErrorKind::Export, &what),
        )
        .map_err(|err| err.at_instance(id).at_export(name))?;
        Ok(Function::new(
            *handle, generation, memory, name, func, signature, store,
        ))
    }

    /// Calls `function` with `args`, typed as its signature says, writing
    /// its results into `results`; stoppable through `abort`.
    pub(crate) fn invoke(
        &mut self,
        function: &Function,
        args: &[Val],
        results: &mut [Val],
        abort: Option<&Flag>,
    ) -> Result<(), WasmError> {
        self.live(&function.target)?;
        function.check(args, results)?;
        let id = function.target.id;
        self.run_guest(function.generation, id, function.memory, abort, |store| {
            function.enter(store, args, results)
        })?
        .map_err(|err| {
            WasmError::from_guest(err, &function.what())
                .at_instance(id)
                .at_export(function.name())
        })
    }
}

fn gone(generation: u64) -> WasmError {
    WasmError::new(
        ErrorKind::Other,
        format!("store generation {generation} is gone"),
    )
}

fn no_function(id: i64, name: &str) -> WasmError {
    WasmError::new(
        ErrorKind::Export,
        format!("instance {id} has no exported function \"{name}\""),
    )
    .at_instance(id)
    .at_export(name)
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
    let func = instance
        .get_func(&mut *store, name)
        .ok_or_else(|| no_function(id, name))?;
    func.typed::<Params, Results>(&*store).map_err(|err| {
        WasmError::new(
            ErrorKind::Export,
            format!(
                "export \"{name}\" of instance {id} has type {}: {}",
                func.ty(&*store),
                describe(&err)
            ),
        )
        .at_instance(id)
        .at_export(name)
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
        return WasmError::from_guest(err, &format!("start function of instance {id}"))
            .at_instance(id);
    }
    if let Some(bytes) = refused {
        return WasmError::new(
            ErrorKind::Instantiation,
            format!(
                "instance {id} needs a memory of {bytes} bytes, over the cap of {} pages ({} bytes)",
                limits.max_memory_pages,
                limits.max_memory_bytes()
            ),
        )
        .at_instance(id);
    }
    let why = if err.is::<Trap>() {
        "its start function trapped: "
    } else {
        ""
    };
    WasmError::new(
        ErrorKind::Instantiation,
        format!("cannot instantiate instance {id}: {why}{}", describe(&err)),
    )
    .at_instance(id)
}
