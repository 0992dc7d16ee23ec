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
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

use wasmtime::Val;

use crate::backend::{Backend, CodeHash};
use crate::config::{Limits, RuntimeConfig};
use crate::deadline::Flag;
use crate::error::{ErrorKind, Result, WasmError};
use crate::function::Function;
use crate::host::{Host, ImportSpec, Imports, Site, Windows};
use crate::instance::{Instance, Orphans, StateCell, Target};
use crate::memory;
use crate::scheduler::{Entry, Queue};
use crate::state::{EngineState, INITIATE_BUFFER_EXPORT};
use crate::wasi::{self, WasiOptions};

static NEXT_ENGINE_ID: AtomicU64 = AtomicU64::new(1);

/// Import namespaces of Freenet's V2 delegates, whose host functions are
/// asynchronous.
pub const ASYNC_IMPORT_NAMESPACES: [&str; 2] =
    ["freenet_delegate_contracts", "freenet_delegate_management"];

/// A compiled module: immutable and cheap to clone, usable by every engine
/// that shares the backend that compiled it.
#[derive(Clone)]
pub struct Module {
    inner: wasmtime::Module,
    backend: Arc<Backend>,
    /// SHA-256 of the binary: engines cache the module's resolved imports
    /// under it, so compiling the same bytes again finds them.
    hash: CodeHash,
}

impl Module {
    fn new((hash, inner): (CodeHash, wasmtime::Module), backend: Arc<Backend>) -> Module {
        Module {
            inner,
            backend,
            hash,
        }
    }

    /// SHA-256 of the binary it was compiled from (text is hashed after
    /// translation).
    pub(crate) fn hash(&self) -> &CodeHash {
        &self.hash
    }

    /// Names of the functions, memories, tables and globals the module exports.
    pub fn exports(&self) -> Vec<String> {
        self.inner.exports().map(|e| e.name().to_owned()).collect()
    }

    /// The imports the module needs, as `namespace.name` strings.
    pub fn imports(&self) -> Vec<String> {
        self.inner
            .imports()
            .map(|i| format!("{}.{}", i.module(), i.name()))
            .collect()
    }

    /// The wasmtime module.
    pub(crate) fn wasmtime(&self) -> &wasmtime::Module {
        &self.inner
    }

    /// Whether the module imports anything from one of `namespaces`.
    pub fn imports_from(&self, namespaces: &[&str]) -> bool {
        self.inner
            .imports()
            .any(|import| namespaces.contains(&import.module()))
    }
}

/// Compiles modules for one backend off the engine's lock; cheap to clone
/// and to send to another thread.
#[derive(Clone)]
pub struct Compiler {
    backend: Arc<Backend>,
}

impl Compiler {
    /// Compiles `wasm` on a tokio blocking thread; concurrent compiles of
    /// the same bytes share one compilation. Needs a tokio runtime.
    pub async fn compile(self, wasm: Vec<u8>) -> Result<Module> {
        let inner = self.backend.clone().compile_shared(wasm).await?;
        Ok(Module::new(inner, self.backend))
    }
}

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

/// One engine.
pub struct Engine {
    id: u64,
    state: Arc<StateCell>,
    queue: Arc<Queue>,
    orphans: Arc<Orphans>,
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
        let state = EngineState::new(
            &backend.engine,
            limits.clone(),
            closing.clone(),
            imports.clone(),
        );
        Ok(Engine {
            id: NEXT_ENGINE_ID.fetch_add(1, Ordering::Relaxed),
            state: Arc::new(Mutex::new(Some(state))),
            queue: Arc::default(),
            orphans: Arc::default(),
            closing,
            healthy: AtomicBool::new(true),
            backend,
            limits,
            imports,
        })
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
        Ok(module.imports_from(&ASYNC_IMPORT_NAMESPACES) || self.imports.any_async(&module.inner))
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
        Ok(Instance::new(self.id, key, id, &self.orphans, &self.state))
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
        Ok(Instance::new(self.id, key, id, &self.orphans, &self.state))
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
            memory::read(memory.data(&*store), offset, length, instance.id).map(<[u8]>::to_vec)
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
            memory::write(memory.data_mut(store), offset, data, instance.id)
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
        self.enter(site, |state| state.invoke(function, args, results, abort))
    }

    /// Queues a blocking call behind this engine's earlier ones; its job
    /// runs on a worker thread (see [`crate::scheduler`]). On a closed
    /// engine the job is told so at once, on this thread.
    pub fn submit(&self, entry: Entry) {
        match self.ensure_open() {
            Ok(()) => self.queue.submit(entry),
            Err(err) => (entry.job)(Err(err)),
        }
    }

    /// Fuel left, `None` when metering is off.
    pub fn remaining_fuel(&self, site: Site) -> Result<Option<u64>> {
        self.enter(site, |state| Ok(state.fuel()))
    }

    /// Counters of this engine and its backend.
    pub fn stats(&self, site: Site) -> Result<Stats> {
        let instances = self.enter(site, |state| Ok(state.census()))?;
        let compile = self.backend.stats();
        Ok(Stats {
            instances,
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
        if let Some(mut guard) = self.state.try_lock() {
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

    pub(crate) fn check_module(&self, module: &Module) -> Result<()> {
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
        if instance.engine_id != self.id {
            return Err(self.foreign(instance.id, instance.engine_id));
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
            Site::Worker => Ok(self.state.lock()),
            Site::Direct => match self.state.try_lock() {
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
    pub(crate) fn enter<R>(
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
            state.collect_orphans(&self.orphans);
            state.enter_from(site);
            let result = op(state);
            state.enter_from(Site::Worker);
            // Handles dropped while `op` ran free their slots now.
            state.collect_orphans(&self.orphans);
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
