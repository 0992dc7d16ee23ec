//! The state behind an engine's lock: its stores, its live instances and
//! its fuel, and every operation that enters a guest.
//!
//! Nothing here knows which thread it runs on: the host's thread for
//! synchronous calls, a scheduler worker for the others.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wasmtime::{InstancePre, Store, Trap, TypedFunc, Val, WasmParams, WasmResults};

use crate::backend::CodeHash;
use crate::config::{Limits, WASM_PAGE_SIZE};
use crate::counters::Counters;
use crate::deadline::Flag;
use crate::error::{ErrorKind, Interrupt, WasmError, describe};
use crate::function::Function;
use crate::host::{Imports, Natives};
use crate::instance::{Orphans, Target};
use crate::module::Module;
use crate::site::Site;
use crate::store::{self, HostState};
use crate::values::{Signature, unsupported_type};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::wasi::Output;

/// The export Freenet calls after instantiation with the instance id.
pub const SET_ID_EXPORT: &str = "__frnt_set_id";
/// The export that allocates a guest-side buffer of a given capacity.
pub const INITIATE_BUFFER_EXPORT: &str = "__frnt__initiate_buffer";
/// The export a WASI reactor (a library) is initialised by.
pub(crate) const REACTOR_EXPORT: &str = "_initialize";
/// The export a WASI command runs from.
pub(crate) const COMMAND_EXPORT: &str = "_start";
/// The memory export every memory operation works on.
pub(crate) const MEMORY_EXPORT: &str = "memory";

/// What the engine keeps for a live instance: the instance and the store
/// it alone lives in.
pub(crate) struct LiveInstance {
    pub(crate) instance: wasmtime::Instance,
    pub(crate) store: wasmtime::Store<HostState>,
    /// The id given at creation.
    pub(crate) id: i64,
    /// The exported `memory`, if the module exports one.
    pub(crate) memory: Option<wasmtime::Memory>,
    /// Where the instance's WASI output goes, when it has a WASI context.
    pub(crate) output: Option<Output>,
}

/// A component instance and the store it lives in (see `component`).
pub(crate) struct LiveComponent {
    pub(crate) store: wasmtime::Store<HostState>,
    pub(crate) instance: wasmtime::component::Instance,
    pub(crate) id: i64,
}

/// How many instances an engine may hold at once (see
/// [`Limits::instance_share`]).
pub(crate) struct Share {
    /// The limit; `None`: only the pool limits the engine.
    pub(crate) limit: Option<usize>,
    /// Engines alive on the engine's pool, when the limit is the default
    /// one, which leaves room for the others and so binds only when there
    /// are others.
    pub(crate) tenants: Option<Arc<AtomicUsize>>,
}

impl Share {
    /// The limit in force now.
    fn now(&self) -> Option<usize> {
        let shared = self
            .tenants
            .as_ref()
            .is_none_or(|tenants| tenants.load(Ordering::Relaxed) > 1);
        self.limit.filter(|_| shared)
    }
}

/// Everything a guest entry needs, guarded by the engine's lock: what
/// [`crate::Engine::enter`] hands an operation. Its instances are the
/// engine's; those an operation creates with [`EngineState::instantiate`]
/// it must drop before it ends.
pub struct EngineState {
    /// The engine's id, which its targets carry.
    engine_id: u64,
    engine: wasmtime::Engine,
    /// Set by the engine's `close()`; stops guests running in any store.
    closing: Flag,
    imports: Arc<Imports>,
    instances: HashMap<u64, LiveInstance>,
    next_key: u64,
    limits: Limits,
    /// Instances this engine may hold at once.
    share: Share,
    runner: Runner,
    /// Modules with their imports resolved, by content hash, natives id and
    /// whether WASI is linked, least recently used evicted past the module
    /// cache's capacity.
    prepared: quick_cache::unsync::Cache<(CodeHash, u64, bool), InstancePre<HostState>>,
    /// Component instances, each in a store of its own, by key.
    pub(crate) components: HashMap<u64, LiveComponent>,
}

/// How the next guest entry runs: where, on what fuel, until when. Apart
/// from the instances so that an entry can borrow both at once.
struct Runner {
    /// Where guest entries run until the next `enter_from`.
    site: Site,
    /// The engine's fuel when metering is on: one budget shared by all its
    /// stores, reset at each instance creation.
    fuel: Option<u64>,
    /// Where `fuel` is published after each entry, for readers that do not
    /// take the engine's lock.
    counters: Arc<Counters>,
    /// The budget of one guest entry.
    deadline: Duration,
    /// When set, the end of an operation made of several guest entries
    /// (a Freenet contract call): each entry gets what is left of it
    /// instead of a fresh budget.
    operation_ends: Option<Instant>,
}

impl Runner {
    /// Enters the guest through `call` on `store`, with the engine's fuel
    /// loaded into it and the entry's deadline armed.
    fn run<R>(
        &mut self,
        store: &mut Store<HostState>,
        instance_id: i64,
        memory: Option<wasmtime::Memory>,
        abort: Option<&Flag>,
        call: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<wasmtime::Result<R>, WasmError> {
        let deadline = match self.operation_ends {
            Some(ends) => ends.saturating_duration_since(Instant::now()),
            None => self.deadline,
        };
        if let Some(fuel) = self.fuel {
            store.set_fuel(fuel).map_err(|err| {
                WasmError::new(ErrorKind::Other, format!("cannot set fuel: {err}"))
            })?;
        }
        store::arm(store, self.site, instance_id, memory, deadline, abort);
        let result = call(store);
        if self.fuel.is_some() {
            let left = store.get_fuel().unwrap_or(0);
            self.fuel = Some(left);
            self.counters.set_fuel(left);
        }
        Ok(result)
    }
}

/// The live instance behind `handle`, refused when it was dropped.
fn live<'a>(
    instances: &'a mut HashMap<u64, LiveInstance>,
    handle: &Target,
) -> Result<&'a mut LiveInstance, WasmError> {
    instances.get_mut(&handle.key).ok_or_else(|| {
        WasmError::new(
            ErrorKind::InvalidHandle,
            format!("instance {} was dropped", handle.id),
        )
        .at_instance(handle.id)
    })
}

impl EngineState {
    /// An empty state: no instances yet.
    pub(crate) fn new(
        engine_id: u64,
        engine: &wasmtime::Engine,
        limits: Limits,
        share: Share,
        closing: Flag,
        imports: Arc<Imports>,
        counters: Arc<Counters>,
    ) -> EngineState {
        EngineState {
            engine_id,
            engine: engine.clone(),
            closing,
            imports,
            instances: HashMap::new(),
            components: HashMap::new(),
            next_key: 1,
            // quick_cache needs room for one; capacity 0 is handled by `prepared`.
            prepared: quick_cache::unsync::Cache::new(limits.module_cache_capacity.max(1)),
            share,
            runner: Runner {
                site: Site::Worker,
                fuel: limits.fuel,
                counters,
                deadline: limits.deadline,
                operation_ends: None,
            },
            limits,
        }
    }

    /// A store for one component instance, under the engine's memory cap
    /// and close flag; with metering, the fuel budget starts afresh, as at
    /// every instance creation. Also returns the key the instance gets.
    pub(crate) fn component_store(&mut self) -> (u64, Store<HostState>) {
        if let Some(budget) = self.limits.fuel {
            self.runner.fuel = Some(budget);
            self.runner.counters.set_fuel(budget);
        }
        let key = self.next_key;
        self.next_key += 1;
        let store = store::new_store(
            &self.engine,
            self.limits.max_memory_bytes(),
            &self.closing,
            None,
        );
        (key, store)
    }

    /// Enters a guest in `store` (instance `id`) through `call` with the
    /// engine's fuel, a fresh deadline and `abort` armed.
    pub(crate) fn enter_store<R>(
        &mut self,
        store: &mut Store<HostState>,
        id: i64,
        abort: Option<&Flag>,
        call: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<wasmtime::Result<R>, WasmError> {
        self.runner.run(store, id, None, abort, call)
    }

    /// The memory cap, for messages about refused growth.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sets where the following guest entries run: the JavaScript thread
    /// during a synchronous call, a worker otherwise.
    pub(crate) fn enter_from(&mut self, site: Site) {
        self.runner.site = site;
    }

    /// Starts an operation of several guest entries that share one
    /// deadline (and, since fuel is reset only at instance creation, one
    /// fuel budget); it lasts until [`EngineState::end_operation`].
    pub fn begin_operation(&mut self) {
        self.runner.operation_ends = Instant::now().checked_add(self.limits.deadline);
    }

    /// Ends the operation begun by [`EngineState::begin_operation`].
    pub fn end_operation(&mut self) {
        self.runner.operation_ends = None;
    }

    /// Fuel left, `None` when metering is off.
    pub(crate) fn fuel(&self) -> Option<u64> {
        self.runner.fuel
    }

    /// Drops the instances (module or component instances: their keys
    /// are one sequence) whose last reference was dropped.
    pub(crate) fn collect_orphans(&mut self, orphans: &Orphans) {
        let keys = orphans.take();
        if keys.is_empty() {
            return;
        }
        for key in keys {
            if self.instances.remove(&key).is_none() {
                self.components.remove(&key);
            }
        }
        self.runner.counters.set_instances(self.instances.len());
    }

    /// The instance's exported memory and the store it lives in.
    pub fn memory(
        &mut self,
        handle: &Target,
    ) -> Result<(wasmtime::Memory, &mut Store<HostState>), WasmError> {
        let live = live(&mut self.instances, handle)?;
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
        Ok((memory, &mut live.store))
    }

    /// Instantiates `module` in a store of its own, with `wasi`'s context
    /// and output if given (then running the reactor's `_initialize` when
    /// exported), runs `__frnt_set_id(id)` when exported and reserves
    /// `req_bytes` of memory; returns the new instance's key. With metering
    /// on, the engine's fuel is reset to the full budget first.
    pub(crate) fn create_instance(
        &mut self,
        module: &Module,
        id: i64,
        req_bytes: usize,
        natives: Option<&dyn Natives>,
        wasi: Option<(WasiP1Ctx, Output)>,
    ) -> Result<u64, WasmError> {
        let (wasi, output) = wasi.unzip();
        if let Some(share) = self.share.now()
            && self.instances.len() >= share
        {
            return Err(WasmError::new(
                ErrorKind::Instantiation,
                format!(
                    "cannot instantiate instance {id}: this engine holds {} instances, its share \
                     (maxInstances: {share}; by default nine tenths of an instance pool other \
                     engines use too, so that they always find slots): drop instances sooner or raise \
                     maxInstances",
                    self.instances.len()
                ),
            )
            .at_instance(id));
        }
        if let Some(budget) = self.limits.fuel {
            self.runner.fuel = Some(budget);
            self.runner.counters.set_fuel(budget);
        }
        let pre = self
            .prepared(module, natives, wasi.is_some())
            .map_err(|err| err.at_instance(id))?;
        let mut store = store::new_store(
            &self.engine,
            self.limits.max_memory_bytes(),
            &self.closing,
            wasi,
        );
        let instance = self
            .runner
            .run(&mut store, id, None, None, |store| pre.instantiate(store))?
            .map_err(|err| {
                let refused = store.data_mut().take_refused_growth();
                instantiation_error(err, id, refused, &self.limits)
            })?;
        let memory = instance.get_memory(&mut store, MEMORY_EXPORT);
        let mut live = LiveInstance {
            instance,
            store,
            id,
            memory,
            output,
        };
        self.initialise(&mut live, req_bytes)?;
        let key = self.next_key;
        self.next_key += 1;
        self.instances.insert(key, live);
        self.runner.counters.set_instances(self.instances.len());
        Ok(key)
    }

    /// Instantiates `module` as [`EngineState::create_instance`] does, with
    /// `natives` defining the imports they provide (before the engine's
    /// own), for an operation that drops it before it ends.
    pub fn instantiate(
        &mut self,
        module: &Module,
        id: i64,
        req_bytes: usize,
        natives: &dyn Natives,
    ) -> Result<Target, WasmError> {
        let key = self.create_instance(module, id, req_bytes, Some(natives), None)?;
        Ok(Target {
            engine_id: self.engine_id,
            key,
            id,
        })
    }

    /// `module` with its imports resolved: this engine's, `natives`', and
    /// WASI's when `wasi`. From the cache when they were resolved before.
    fn prepared(
        &mut self,
        module: &Module,
        natives: Option<&dyn Natives>,
        wasi: bool,
    ) -> Result<InstancePre<HostState>, WasmError> {
        let key = (*module.hash(), natives.map_or(0, |n| n.id()), wasi);
        if let Some(pre) = self.prepared.get(&key) {
            return Ok(pre.clone());
        }
        let pre = self
            .imports
            .resolve(&self.engine, module.wasmtime(), natives, wasi)?;
        if self.limits.module_cache_capacity > 0 {
            self.prepared.insert(key, pre.clone());
        }
        Ok(pre)
    }

    /// Runs the guest's `__frnt_set_id(id)`, when exported, and reserves
    /// `req_bytes` of memory: the steps of `createInstance` after
    /// instantiation.
    fn initialise(&mut self, live: &mut LiveInstance, req_bytes: usize) -> Result<(), WasmError> {
        let id = live.id;
        if live.output.is_some()
            && live
                .instance
                .get_func(&mut live.store, REACTOR_EXPORT)
                .is_some()
        {
            let initialize =
                typed_export::<(), ()>(live.instance, &mut live.store, REACTOR_EXPORT, id)?;
            self.runner
                .run(&mut live.store, id, live.memory, None, |store| {
                    initialize.call(store, ())
                })?
                .map_err(|err| {
                    WasmError::from_guest(err, &format!("\"{REACTOR_EXPORT}\" of instance {id}"))
                        .at_instance(id)
                        .at_export(REACTOR_EXPORT)
                })?;
        }
        if live
            .instance
            .get_func(&mut live.store, SET_ID_EXPORT)
            .is_some()
        {
            let set_id =
                typed_export::<i64, ()>(live.instance, &mut live.store, SET_ID_EXPORT, id)?;
            self.runner
                .run(&mut live.store, id, live.memory, None, |store| {
                    set_id.call(store, id)
                })?
                .map_err(|err| {
                    WasmError::from_guest(err, &format!("\"{SET_ID_EXPORT}\" of instance {id}"))
                        .at_instance(id)
                        .at_export(SET_ID_EXPORT)
                })?;
        }
        reserve(live, req_bytes, &self.limits)
    }

    /// Drops the instance behind `handle`, and with it its store and its
    /// memory; refused when it is already gone.
    pub fn drop_instance(&mut self, handle: &Target) -> Result<(), WasmError> {
        live(&mut self.instances, handle)?;
        self.instances.remove(&handle.key);
        self.runner.counters.set_instances(self.instances.len());
        Ok(())
    }

    /// Calls the export `name` with the signature `Params -> Results`.
    pub fn call<Params, Results>(
        &mut self,
        handle: &Target,
        name: &str,
        args: Params,
    ) -> Result<Results, WasmError>
    where
        Params: WasmParams,
        Results: WasmResults,
    {
        let live = live(&mut self.instances, handle)?;
        let id = live.id;
        let func: TypedFunc<Params, Results> =
            typed_export(live.instance, &mut live.store, name, id)?;
        self.runner
            .run(&mut live.store, id, live.memory, None, |store| {
                func.call(store, args)
            })?
            .map_err(|err| {
                WasmError::from_guest(err, &format!("export \"{name}\" of instance {id}"))
                    .at_instance(id)
                    .at_export(name)
            })
    }

    /// What `handle`'s instance wrote to its WASI standard output and error
    /// since the last call, taken; refused for an instance without WASI.
    pub(crate) fn take_output(&mut self, handle: &Target) -> Result<(Vec<u8>, Vec<u8>), WasmError> {
        let live = live(&mut self.instances, handle)?;
        let output = live.output.as_ref().ok_or_else(|| {
            WasmError::new(
                ErrorKind::Argument,
                format!(
                    "instance {} was created without a wasi option: it has no WASI output",
                    live.id
                ),
            )
            .at_instance(live.id)
        })?;
        Ok((output.stdout.take(), output.stderr.take()))
    }

    /// Runs the WASI command `_start` of `handle`'s instance, stoppable
    /// through `abort`; returns its exit code: the one it gave `proc_exit`,
    /// 0 when `_start` returned.
    pub(crate) fn run_command(
        &mut self,
        handle: &Target,
        abort: Option<&Flag>,
    ) -> Result<i32, WasmError> {
        let live = live(&mut self.instances, handle)?;
        let id = live.id;
        let start: TypedFunc<(), ()> =
            typed_export(live.instance, &mut live.store, COMMAND_EXPORT, id)?;
        match self
            .runner
            .run(&mut live.store, id, live.memory, abort, |store| {
                start.call(store, ())
            })? {
            Ok(()) => Ok(0),
            Err(err) => match err.downcast_ref::<I32Exit>() {
                Some(exit) => Ok(exit.0),
                None => Err(WasmError::from_guest(
                    err,
                    &format!("export \"{COMMAND_EXPORT}\" of instance {id}"),
                )
                .at_instance(id)
                .at_export(COMMAND_EXPORT)),
            },
        }
    }

    /// Looks up the exported function `name` of `handle`'s instance and
    /// its signature, for calls through [`EngineState::invoke`].
    pub(crate) fn function(&mut self, handle: &Target, name: &str) -> Result<Function, WasmError> {
        let live = live(&mut self.instances, handle)?;
        let id = live.id;
        let func = live
            .instance
            .get_func(&mut live.store, name)
            .ok_or_else(|| no_function(id, name))?;
        let what = format!("export \"{name}\" of instance {id}");
        let signature = Signature::of(
            &func.ty(&live.store),
            unsupported_type(ErrorKind::Export, &what),
        )
        .map_err(|err| err.at_instance(id).at_export(name))?;
        Ok(Function::new(
            *handle,
            live.memory,
            name,
            func,
            signature,
            &live.store,
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
        let live = live(&mut self.instances, &function.target)?;
        function.check(args, results)?;
        let id = function.target.id;
        self.runner
            .run(&mut live.store, id, function.memory, abort, |store| {
                function.enter(store, args, results)
            })?
            .map_err(|err| {
                WasmError::from_guest(err, &function.what())
                    .at_instance(id)
                    .at_export(function.name())
            })
    }
}

/// Grows the instance's exported memory so that it holds at least
/// `req_bytes`.
fn reserve(live: &mut LiveInstance, req_bytes: usize, limits: &Limits) -> Result<(), WasmError> {
    let id = live.id;
    let current = live.memory.map_or(0, |m| m.data_size(&live.store));
    if req_bytes <= current {
        return Ok(());
    }
    let Some(memory) = live.memory else {
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
    memory.grow(&mut live.store, pages).map_err(|err| {
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
pub(crate) fn instantiation_error(
    err: wasmtime::Error,
    id: i64,
    refused: Option<usize>,
    limits: &Limits,
) -> WasmError {
    if err.is::<Interrupt>() || matches!(err.downcast_ref::<Trap>(), Some(Trap::OutOfFuel)) {
        return WasmError::from_guest(err, &format!("start function of instance {id}"))
            .at_instance(id);
    }
    // A trap is the start function's (or a segment's): a growth the cap
    // refused on the way is not why instantiation failed.
    if let Some(bytes) = refused
        && !err.is::<Trap>()
    {
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
    if err.is::<wasmtime::PoolConcurrencyLimitError>() {
        return WasmError::new(
            ErrorKind::Instantiation,
            format!(
                "cannot instantiate instance {id}: the instance pool is full ({}); each live \
                 instance holds a slot until it is dropped, and engines with the same metering \
                 and instancePoolSize share one pool: drop instances sooner, raise \
                 instancePoolSize, or set it to 0 to map instances on demand",
                describe(&err)
            ),
        )
        .at_instance(id)
        .of_full_pool();
    }
    // A trap with guest frames is the start function's; one without is
    // wasmtime copying a data or element segment that does not fit.
    let why = if !err.is::<Trap>() {
        ""
    } else if err
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .is_some_and(|trace| !trace.frames().is_empty())
    {
        "its start function trapped: "
    } else {
        "a data or element segment does not fit its memory or table: "
    };
    WasmError::new(
        ErrorKind::Instantiation,
        format!("cannot instantiate instance {id}: {why}{}", describe(&err)),
    )
    .at_instance(id)
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
