//! [`Engine`]: one Freenet-style engine, i.e. a family of stores, the
//! instances living in them, the limits they run under and the queue of its
//! blocking calls.
//!
//! The engine's state sits behind one lock. Entries from the host's thread
//! ([`Site::Direct`]) take it without waiting: there, a held lock means a
//! blocking call is running (or a guest re-entered its own engine), so
//! waiting would freeze the host's event loop or deadlock; they fail with
//! `Busy` instead. Workers ([`Site::Worker`]) wait for it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

use wasmtime::Val;

use crate::backend::Backend;
use crate::component::Component;
use crate::config::{Limits, RuntimeConfig};
use crate::counters::{CallCounts, Counters, Outcome};
use crate::deadline::Flag;
use crate::error::{ErrorKind, Result, WasmError};
use crate::function::Function;
use crate::host::{Host, ImportSpec, Imports, Windows};
use crate::instance::{Instance, Orphans, Release, Target};
use crate::memory;
use crate::module::{Compiler, Module};
use crate::scheduler::{Entry, Queue};
use crate::site::Site;
use crate::state::{EngineState, INITIATE_BUFFER_EXPORT, Share};
use crate::wasi::{self, WasiOptions};

static NEXT_ENGINE_ID: AtomicU64 = AtomicU64::new(1);

/// Import namespaces of Freenet's V2 delegates, whose host functions are
/// asynchronous.
pub const ASYNC_IMPORT_NAMESPACES: [&str; 2] =
    ["freenet_delegate_contracts", "freenet_delegate_management"];

/// How a WASI command's run ended, and what it wrote.
pub struct WasiRun {
    /// The exit code, or why the program stopped without one (a trap, its
    /// deadline, fuel, the memory cap, an abort).
    pub result: Result<i32, WasmError>,
    /// Standard output and error as far as they were kept.
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Fuel the run used, when metering is on.
    pub fuel_consumed: Option<u64>,
    /// Wall-clock time from the call to the end of the run.
    pub elapsed: Duration,
}

impl WasiRun {
    fn failed(err: WasmError, started: Instant) -> WasiRun {
        WasiRun {
            result: Err(err),
            stdout: Vec::new(),
            stderr: Vec::new(),
            fuel_consumed: None,
            elapsed: started.elapsed(),
        }
    }
}

/// Numbers WASI runs, for messages: their instances have no caller-given id.
static NEXT_PROGRAM_ID: AtomicI64 = AtomicI64::new(1);

/// Counters of an engine and of its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub instances: usize,
    /// Calls by how they ended: every guest call (sync or blocking), WASI
    /// run and Freenet operation, and every blocking call refused before
    /// it ran.
    pub calls: CallCounts,
    /// Instances this engine may hold at once; `None`: only the pool limits it.
    pub max_instances: Option<usize>,
    pub queued: usize,
    pub stores: usize,
    pub compiles: u64,
    pub memory_cache_hits: u64,
    pub disk_cache_hits: u64,
    pub disk_cache_rejects: u64,
    pub disk_cache_write_failures: u64,
    /// Slots of the instance pool; 0 when instances are mapped on demand.
    pub pool_slots: u32,
}

/// The part of an engine its instances are released into: its state
/// behind its lock (`None` once closed), and the instances released while
/// the lock was held.
struct Cell {
    state: Mutex<Option<EngineState>>,
    orphans: Orphans,
}

impl Release for Cell {
    /// Costs a lock attempt and, when the engine is idle, dropping the
    /// instance's store. A pool slot held until this engine's next
    /// operation would look taken to every engine sharing the pool, so
    /// the slot is freed now unless the engine is busy.
    fn release(&self, key: u64) {
        self.orphans.push(key);
        if let Some(mut guard) = self.state.try_lock()
            && let Some(state) = guard.as_mut()
        {
            // A destructor must not unwind into its caller (a finalizer
            // called from C); a store that fails to drop is left behind.
            let _ = catch_unwind(AssertUnwindSafe(|| state.collect_orphans(&self.orphans)));
        }
    }
}

/// One engine.
pub struct Engine {
    id: u64,
    cell: Arc<Cell>,
    queue: Arc<Queue>,
    counters: Arc<Counters>,
    /// Engines alive on this engine's instance pool, this one included.
    tenants: Option<Arc<AtomicUsize>>,
    /// Set by `close()`; running guests stop at their next tick.
    closing: Flag,
    healthy: AtomicBool,
    backend: Arc<Backend>,
    limits: Limits,
    imports: Arc<Imports>,
}

impl Engine {
    /// Creates an engine with `config`'s limits. With `share`, it uses that
    /// engine's backend (compiled modules and caches) instead of a new one;
    /// both must agree on metering. `imports` are run by `host`.
    pub fn new(
        config: &RuntimeConfig,
        share: Option<&Engine>,
        imports: Vec<ImportSpec>,
        host: Option<Arc<dyn Host>>,
    ) -> Result<Engine> {
        let limits = Limits::resolve(config)?;
        let metering = limits.fuel.is_some();
        let backend = match share {
            Some(other) if other.backend.metering != metering => {
                return Err(WasmError::new(
                    ErrorKind::Other,
                    format!(
                        "cannot share the backend of engine {}: it has metering {}, this config has it {} \
                         (fuel accounting is compiled into the modules)",
                        other.id,
                        on_off(other.backend.metering),
                        on_off(metering)
                    ),
                ));
            }
            Some(other) => other.backend.clone(),
            None => Arc::new(Backend::new(&limits)?),
        };
        let imports = Arc::new(Imports::new(imports, host)?);
        let closing = Flag::default();
        let counters = Arc::new(Counters::new(limits.fuel));
        let tenants = backend
            .pool_slots()
            .map(|slots| tenants_of(metering, slots));
        if let Some(tenants) = &tenants {
            tenants.fetch_add(1, Ordering::Relaxed);
        }
        let id = NEXT_ENGINE_ID.fetch_add(1, Ordering::Relaxed);
        let state = EngineState::new(
            id,
            &backend.engine,
            limits.clone(),
            Share {
                limit: limits.instance_share(backend.pool_slots()),
                tenants: tenants.clone().filter(|_| limits.max_instances.is_none()),
            },
            closing.clone(),
            imports.clone(),
            counters.clone(),
        );
        Ok(Engine {
            id,
            cell: Arc::new(Cell {
                state: Mutex::new(Some(state)),
                orphans: Orphans::default(),
            }),
            queue: Arc::default(),
            counters,
            tenants,
            closing,
            healthy: AtomicBool::new(true),
            backend,
            limits,
            imports,
        })
    }

    /// The reference to the instance `key` just created.
    fn instance(&self, module: &Module, key: u64, id: i64) -> Instance {
        let cell: Arc<dyn Release> = self.cell.clone();
        Instance::new(
            Target {
                engine_id: self.id,
                key,
                id,
            },
            module.wasmtime().clone(),
            Arc::downgrade(&cell),
        )
    }

    /// A process-unique number naming the engine in messages.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The limits resolved from the engine's config.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The memory windows of the engine's host calls in progress.
    pub fn windows(&self) -> &Windows {
        self.imports.windows()
    }

    /// True while the engine is open and no internal failure has poisoned it.
    pub fn is_healthy(&self) -> bool {
        !self.closing.load(Ordering::Acquire) && self.healthy.load(Ordering::Acquire)
    }

    /// Compiles a binary module on this thread (cached by content hash).
    pub fn compile(&self, wasm: &[u8]) -> Result<Module> {
        self.ensure_open()?;
        Ok(Module::new(
            self.backend.compile(wasm)?,
            self.backend.clone(),
        ))
    }

    /// Releases the component instance `target` whose owner is gone (a
    /// collected JavaScript object): dropped now when the engine is idle,
    /// otherwise as soon as the operation holding it ends. Never blocks.
    pub fn release_component(&self, target: crate::component::ComponentTarget) {
        self.cell.release(target.key);
    }

    /// Compiles the binary component `wasm` on this thread (cached by
    /// content hash, like modules).
    pub fn compile_component(&self, wasm: &[u8]) -> Result<Component> {
        self.compiler()?.compile_component(wasm)
    }

    /// A compiler for this engine's backend, for compiles off this thread.
    pub fn compiler(&self) -> Result<Compiler> {
        self.ensure_open()?;
        Ok(Compiler {
            backend: self.backend.clone(),
        })
    }

    /// Whether `module` imports one of Freenet's asynchronous namespaces or
    /// an asynchronous import of this engine.
    pub fn module_has_async_imports(&self, module: &Module) -> Result<bool> {
        self.check_module(module)?;
        Ok(module.imports_from(&ASYNC_IMPORT_NAMESPACES)
            || self.imports.any_async(module.wasmtime()))
    }

    /// Instantiates `module`, calls `__frnt_set_id(id)` when exported and
    /// grows the exported memory to at least `req_bytes`. With metering on,
    /// the engine's fuel is reset to the full budget first.
    pub fn create_instance(
        &self,
        site: Site,
        module: &Module,
        id: i64,
        req_bytes: usize,
    ) -> Result<Instance> {
        self.check_module(module)?;
        let key = self.enter(site, |state| {
            state.create_instance(module, id, req_bytes, None, None)
        })?;
        Ok(self.instance(module, key, id))
    }

    /// Runs `module` as a WASI command: a fresh instance with the WASI
    /// context `options` describe, its `_start` under the engine's fuel,
    /// page cap and one deadline for instantiation and run together,
    /// stoppable through `abort`; then the instance is dropped. `proc_exit`
    /// is an exit code, not an error. The output kept so far comes back
    /// either way.
    pub fn run_wasi(
        &self,
        site: Site,
        module: &Module,
        options: &WasiOptions,
        abort: Option<&Flag>,
    ) -> WasiRun {
        let started = Instant::now();
        let id = NEXT_PROGRAM_ID.fetch_add(1, Ordering::Relaxed);
        let (context, output) = match wasi::context(options) {
            Ok(created) => created,
            Err(err) => return WasiRun::failed(err, started),
        };
        let ran = self.check_module(module).and_then(|()| {
            self.enter(site, |state| {
                state.begin_operation();
                let exit = state
                    .create_instance(module, id, 0, None, Some((context, output.clone())))
                    .and_then(|key| {
                        let target = Target {
                            engine_id: self.id,
                            key,
                            id,
                        };
                        let exit = state.run_command(&target, abort);
                        // Only fails for an instance already gone.
                        let _ = state.drop_instance(&target);
                        exit
                    });
                state.end_operation();
                Ok((exit, state.fuel()))
            })
        });
        let (result, fuel_left) = match ran {
            Ok((exit, fuel)) => (exit, fuel),
            Err(err) => (Err(err), None),
        };
        self.record(&result);
        WasiRun {
            result,
            stdout: output.stdout.take(),
            stderr: output.stderr.take(),
            fuel_consumed: self
                .limits
                .fuel
                .zip(fuel_left)
                .map(|(budget, left)| budget.saturating_sub(left)),
            elapsed: started.elapsed(),
        }
    }

    /// Like [`Engine::create_instance`], for a module that imports WASI: the
    /// instance gets the WASI context `options` describe, and its
    /// `_initialize` (a reactor's, such as a library compiled for WASI) runs
    /// first when exported. Its output is kept for [`Engine::take_wasi_output`].
    pub fn create_wasi_instance(
        &self,
        site: Site,
        module: &Module,
        id: i64,
        req_bytes: usize,
        options: &WasiOptions,
    ) -> Result<Instance> {
        self.check_module(module)?;
        let wasi = wasi::context(options)?;
        let key = self.enter(site, |state| {
            state.create_instance(module, id, req_bytes, None, Some(wasi))
        })?;
        Ok(self.instance(module, key, id))
    }

    /// What a WASI instance wrote to its standard output and error since the
    /// last call, taken from it (each up to the instance's `max_output_bytes`).
    pub fn take_wasi_output(&self, site: Site, instance: &Instance) -> Result<(Vec<u8>, Vec<u8>)> {
        self.check_instance(instance)?;
        self.enter(site, |state| state.take_output(&instance.target()))
    }

    /// Drops an instance; its memory is released with its store.
    pub fn drop_instance(&self, site: Site, instance: &Instance) -> Result<()> {
        self.check_instance(instance)?;
        self.enter(site, |state| state.drop_instance(&instance.target()))
    }

    /// Size in bytes of the instance's exported memory, read live.
    pub fn memory_size(&self, site: Site, instance: &Instance) -> Result<usize> {
        self.check_instance(instance)?;
        self.enter(site, |state| {
            let (memory, store) = state.memory(&instance.target())?;
            Ok(memory.data_size(store))
        })
    }

    /// Copies `length` bytes at `offset` out of the instance's memory.
    pub fn read_memory(
        &self,
        site: Site,
        instance: &Instance,
        offset: i64,
        length: i64,
    ) -> Result<Vec<u8>> {
        self.check_instance(instance)?;
        self.enter(site, |state| {
            let (memory, store) = state.memory(&instance.target())?;
            memory::read(memory.data(&*store), offset, length, instance.id()).map(<[u8]>::to_vec)
        })
    }

    /// Copies `data` into the instance's memory at `offset`.
    pub fn write_memory(
        &self,
        site: Site,
        instance: &Instance,
        offset: i64,
        data: &[u8],
    ) -> Result<()> {
        self.check_instance(instance)?;
        self.enter(site, |state| {
            let (memory, store) = state.memory(&instance.target())?;
            memory::write(memory.data_mut(store), offset, data, instance.id())
        })
    }

    /// Calls `__frnt__initiate_buffer(size)` and returns the buffer's offset.
    pub fn initiate_buffer(&self, site: Site, instance: &Instance, size: u32) -> Result<i64> {
        self.check_instance(instance)?;
        self.enter(site, |state| {
            state.call::<u32, i64>(&instance.target(), INITIATE_BUFFER_EXPORT, size)
        })
    }

    /// Looks up the exported function `name` of `instance` and its
    /// signature, once, for any number of calls through [`Engine::invoke`].
    pub fn function(&self, site: Site, instance: Target, name: &str) -> Result<Function> {
        self.ensure_open()?;
        if instance.engine_id != self.id {
            return Err(self.foreign(instance.id, instance.engine_id));
        }
        self.enter(site, |state| state.function(&instance, name))
    }

    /// Calls `function` with `args` and writes its results into `results`.
    ///
    /// `args` must match the function's parameter kinds and `results` must
    /// hold one slot per result; the guest runs on this thread under the
    /// engine's deadline and fuel, stoppable through `abort`.
    pub fn invoke(
        &self,
        site: Site,
        function: &Function,
        args: &[Val],
        results: &mut [Val],
        abort: Option<&Flag>,
    ) -> Result<()> {
        self.ensure_open()?;
        if function.target.engine_id != self.id {
            return Err(self.foreign(function.instance_id(), function.target.engine_id));
        }
        let counters = &self.counters;
        let entered = self.enter(site, |state| {
            let result = state.invoke(function, args, results, abort);
            counters.record_locked(Outcome::of(&result));
            Ok(result)
        });
        // A call refused before it entered (busy, closed) counts as failed.
        entered.inspect_err(|err| self.counters.record(Outcome::of_error(err)))?
    }

    /// Queues a blocking call behind this engine's earlier ones; its job
    /// runs on a worker thread (see [`crate::scheduler`]). On a closed
    /// engine the job is told so at once, on this thread.
    /// A job refused before it ran (aborted, overloaded, no thread) is
    /// counted here; what it does when it runs counts itself.
    pub fn submit(&self, entry: Entry) {
        let Entry {
            what,
            budget,
            abort,
            job,
        } = entry;
        let counters = self.counters.clone();
        let entry = Entry {
            what,
            budget,
            abort,
            job: Box::new(move |verdict| {
                if verdict.is_err() {
                    counters.record(Outcome::of(&verdict));
                }
                job(verdict)
            }),
        };
        match self.ensure_open() {
            Ok(()) => self.queue.submit(entry),
            Err(err) => (entry.job)(Err(err)),
        }
    }

    /// Counts a call that ended with `result` in [`Stats::calls`].
    pub fn record<T>(&self, result: &Result<T>) {
        self.counters.record(Outcome::of(result));
    }

    /// Fuel left after the last guest entry, `None` when metering is off.
    /// Never waits: it answers while a blocking call runs (with what was
    /// left when that call's entry began).
    pub fn remaining_fuel(&self) -> Result<Option<u64>> {
        self.ensure_open()?;
        Ok(self.counters.fuel())
    }

    /// Counters of this engine and its backend. Never waits: it answers
    /// while a blocking call runs.
    pub fn stats(&self) -> Result<Stats> {
        self.ensure_open()?;
        let instances = self.counters.instances();
        let compile = self.backend.stats();
        Ok(Stats {
            instances,
            calls: self.counters.calls(),
            max_instances: self.limits.instance_share(self.backend.pool_slots()),
            queued: self.queue.len(),
            stores: instances,
            compiles: compile.compiles,
            memory_cache_hits: compile.memory_hits,
            disk_cache_hits: compile.disk_hits,
            disk_cache_rejects: compile.disk_rejects,
            disk_cache_write_failures: compile.disk_write_failures,
            pool_slots: self.backend.pool_slots().unwrap_or(0),
        })
    }

    /// Closes the engine: a running call stops at its next tick, queued
    /// calls fail, every instance and store is dropped. Idempotent.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Release);
        // When a call holds the lock, it drops the state as it finishes.
        if let Some(mut guard) = self.cell.state.try_lock() {
            guard.take();
        }
    }

    fn closed_error(&self) -> WasmError {
        let why = if self.healthy.load(Ordering::Acquire) {
            ""
        } else {
            " after an internal failure"
        };
        WasmError::new(
            ErrorKind::Closed,
            format!("engine {} is closed{why}", self.id),
        )
    }

    fn ensure_open(&self) -> Result<()> {
        if self.closing.load(Ordering::Acquire) {
            return Err(self.closed_error());
        }
        Ok(())
    }

    /// Fails unless `module` was compiled by this engine's backend (and the
    /// engine is open).
    pub fn check_module(&self, module: &Module) -> Result<()> {
        self.ensure_open()?;
        if !Arc::ptr_eq(&module.backend, &self.backend) {
            return Err(WasmError::new(
                ErrorKind::InvalidHandle,
                "module was compiled by an engine with another backend; compile it with this engine \
                 or create this engine with the other as its backend",
            ));
        }
        Ok(())
    }

    fn check_instance(&self, instance: &Instance) -> Result<()> {
        self.ensure_open()?;
        let target = instance.target();
        if target.engine_id != self.id {
            return Err(self.foreign(target.id, target.engine_id));
        }
        Ok(())
    }

    fn foreign(&self, id: i64, owner: u64) -> WasmError {
        WasmError::new(
            ErrorKind::InvalidHandle,
            format!(
                "instance {id} belongs to engine {owner}, not to engine {}",
                self.id
            ),
        )
        .at_instance(id)
    }

    /// Takes the state lock as `site` may: at once or `Busy` on the host's
    /// thread, waiting on a worker.
    fn lock(&self, site: Site) -> Result<MutexGuard<'_, Option<EngineState>>> {
        match site {
            Site::Worker => Ok(self.cell.state.lock()),
            Site::Direct => match self.cell.state.try_lock() {
                Some(guard) => Ok(guard),
                None => Err(WasmError::new(
                    ErrorKind::Busy,
                    format!(
                        "engine {} is running another call; synchronous calls never wait for it \
                         (await the blocking call first, or use another engine)",
                        self.id
                    ),
                )),
            },
        }
    }

    /// Runs `op` on the engine's state with guests entered from `site`,
    /// first dropping the instances whose handles were dropped. A panic
    /// inside `op` closes the engine and becomes an error instead of
    /// unwinding into the host; a `close()` that came while the lock was
    /// held drops the state here.
    pub fn enter<R>(
        &self,
        site: Site,
        op: impl FnOnce(&mut EngineState) -> Result<R>,
    ) -> Result<R> {
        let mut slot = self.lock(site)?;
        if self.closing.load(Ordering::Acquire) {
            slot.take();
            return Err(self.closed_error());
        }
        let Some(state) = slot.as_mut() else {
            return Err(self.closed_error());
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            state.collect_orphans(&self.cell.orphans);
            state.enter_from(site);
            let result = op(state);
            state.enter_from(Site::Worker);
            // Instances released while `op` ran free their slots now.
            state.collect_orphans(&self.cell.orphans);
            result
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
                // again. Its instances are dropped (their pool slots are
                // shared with other engines); should a destructor panic
                // too, what is left of the state leaks instead.
                let state = slot.take();
                let _ = catch_unwind(AssertUnwindSafe(move || drop(state)));
                Err(WasmError::new(
                    ErrorKind::Other,
                    format!(
                        "engine {} hit an internal failure and was closed; create a new engine",
                        self.id
                    ),
                ))
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(tenants) = &self.tenants {
            tenants.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A pool's key (metering, slots) and its count of engines alive.
type Tenancy = ((bool, u32), Arc<AtomicUsize>);

/// The count of engines alive on the pool of `metering` and `slots`.
fn tenants_of(metering: bool, slots: u32) -> Arc<AtomicUsize> {
    static POOLS: Mutex<Vec<Tenancy>> = Mutex::new(Vec::new());
    let mut pools = POOLS.lock();
    if let Some((_, count)) = pools.iter().find(|(key, _)| *key == (metering, slots)) {
        return count.clone();
    }
    let count = Arc::new(AtomicUsize::new(0));
    pools.push(((metering, slots), count.clone()));
    count
}

fn on_off(flag: bool) -> &'static str {
    if flag { "on" } else { "off" }
}

/// Translates WebAssembly text to the binary format.
pub fn parse_text(text: &str) -> Result<Vec<u8>> {
    wat::parse_str(text).map_err(|err| {
        WasmError::new(
            ErrorKind::Compile,
            format!("invalid WebAssembly text: {err}"),
        )
    })
}
