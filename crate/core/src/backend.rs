//! The compiling half of an engine: a wasmtime `Engine` with this package's
//! settings, a content-addressed cache of compiled modules in memory and on
//! disk, and coalescing of concurrent compiles of the same bytes.
//!
//! A backend may serve several `WasmEngine`s; modules compiled by it can be
//! instantiated by any of them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, MutexGuard};

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::deadline;
use crate::disk_cache::DiskCache;
use crate::engine_config::{engine_config, pool_reservation};
use crate::error::{ErrorKind, WasmError};

/// Content hash of a module's binary: the cache key.
type CodeHash = [u8; 32];

/// The outcome of one compile, shared by every caller that asked for it.
type SharedCompile = Arc<OnceCell<Result<wasmtime::Module, WasmError>>>;

/// A wasmtime engine plus the modules it compiled.
pub struct Backend {
    pub(crate) engine: wasmtime::Engine,
    /// Whether modules carry fuel accounting; engines sharing a backend
    /// must agree on it.
    pub(crate) metering: bool,
    memory_cache: Mutex<ModuleCache>,
    disk_cache: Option<DiskCache>,
    in_flight: Mutex<HashMap<CodeHash, SharedCompile>>,
    counters: Counters,
}

/// What the caches saved, for `WasmEngine.stats()`.
#[derive(Default)]
struct Counters {
    compiles: AtomicU64,
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
}

/// A snapshot of a backend's [`Counters`].
pub struct CompileStats {
    /// Modules compiled by Cranelift.
    pub compiles: u64,
    /// Compiles answered from the in-memory cache.
    pub memory_hits: u64,
    /// Compiles answered from the on-disk cache.
    pub disk_hits: u64,
}

impl Backend {
    /// Creates a backend. `metering` compiles fuel accounting into every
    /// module, which only engines with metering on should pay for;
    /// `pool_slots` takes instances from a pool of that many slots (shared
    /// with every other backend of the same settings); `disk_root` enables
    /// the on-disk cache under that directory.
    pub(crate) fn new(
        metering: bool,
        pool_slots: Option<u32>,
        cache_capacity: usize,
        disk_root: Option<&Path>,
    ) -> Result<Backend, WasmError> {
        let engine = shared_engine(metering, pool_slots)?;
        let disk_cache = disk_root.map(|root| DiskCache::new(root, &engine));
        Ok(Backend {
            engine,
            metering,
            memory_cache: Mutex::new(ModuleCache::new(cache_capacity)),
            disk_cache,
            in_flight: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        })
    }

    /// Compiles a binary module on this thread, or returns a cached
    /// compilation of the same bytes. Costs a SHA-256 of the input on a
    /// memory hit, a file read on a disk hit, a Cranelift compile otherwise.
    pub fn compile(&self, wasm: &[u8]) -> Result<wasmtime::Module, WasmError> {
        let key = hash(wasm);
        match self.cached(&key) {
            Some(module) => Ok(module),
            None => self.compile_uncached(&key, wasm),
        }
    }

    /// Compiles a binary module on a tokio blocking thread. Concurrent
    /// compiles of the same bytes share one compilation.
    pub async fn compile_shared(
        self: Arc<Self>,
        wasm: Vec<u8>,
    ) -> Result<wasmtime::Module, WasmError> {
        let key = hash(&wasm);
        if let Some(module) = self.cached(&key) {
            return Ok(module);
        }
        let cell = lock(&self.in_flight).entry(key).or_default().clone();
        let backend = self.clone();
        let outcome = cell
            .get_or_init(|| async move {
                tokio::task::spawn_blocking(move || backend.compile_uncached(&key, &wasm))
                    .await
                    .unwrap_or_else(|err| {
                        Err(WasmError::new(
                            ErrorKind::Other,
                            format!("the compile thread failed: {err}"),
                        ))
                    })
            })
            .await
            .clone();
        // The result is in the memory cache by now (when it is enabled), so
        // a later request for the same bytes does not compile again.
        lock(&self.in_flight).remove(&key);
        outcome
    }

    /// How many compiles Cranelift did and how many the caches answered.
    pub fn stats(&self) -> CompileStats {
        CompileStats {
            compiles: self.counters.compiles.load(Ordering::Relaxed),
            memory_hits: self.counters.memory_hits.load(Ordering::Relaxed),
            disk_hits: self.counters.disk_hits.load(Ordering::Relaxed),
        }
    }

    fn cached(&self, key: &CodeHash) -> Option<wasmtime::Module> {
        let module = lock(&self.memory_cache).get(key);
        if module.is_some() {
            self.counters.memory_hits.fetch_add(1, Ordering::Relaxed);
        }
        module
    }

    fn compile_uncached(&self, key: &CodeHash, wasm: &[u8]) -> Result<wasmtime::Module, WasmError> {
        let from_disk = self
            .disk_cache
            .as_ref()
            .and_then(|disk| disk.load(&self.engine, key));
        let module = match from_disk {
            Some(module) => {
                self.counters.disk_hits.fetch_add(1, Ordering::Relaxed);
                module
            }
            None => {
                self.counters.compiles.fetch_add(1, Ordering::Relaxed);
                let module = wasmtime::Module::from_binary(&self.engine, wasm).map_err(|err| {
                    WasmError::new(
                        ErrorKind::Compile,
                        format!(
                            "module of {} bytes is not valid WebAssembly: {}",
                            wasm.len(),
                            crate::error::describe(&err)
                        ),
                    )
                })?;
                if let Some(disk) = &self.disk_cache {
                    disk.store(key, &module);
                }
                module
            }
        };
        lock(&self.memory_cache).insert(*key, module.clone());
        Ok(module)
    }
}

/// The wasmtime engine of `metering` and `pool_slots`: the live one when
/// a backend already uses it, a new one otherwise. Engines are kept only
/// while a backend holds them, so an idle process keeps no pool reserved.
fn shared_engine(metering: bool, pool_slots: Option<u32>) -> Result<wasmtime::Engine, WasmError> {
    type Registry = Mutex<HashMap<(bool, Option<u32>), wasmtime::EngineWeak>>;
    static ENGINES: OnceLock<Registry> = OnceLock::new();
    let mut engines = ENGINES.get_or_init(Registry::default).lock();
    if let Some(engine) = engines
        .get(&(metering, pool_slots))
        .and_then(wasmtime::EngineWeak::upgrade)
    {
        return Ok(engine);
    }
    let engine = wasmtime::Engine::new(&engine_config(metering, pool_slots)).map_err(|err| {
        let message = match pool_slots {
            Some(slots) => format!(
                "cannot reserve {} GiB of address space for an instance pool of {slots} slots \
                 ({err}); lower instancePoolSize, or set it to 0 to map each instance's memory \
                 on demand",
                pool_reservation(slots) >> 30
            ),
            None => format!("cannot create the wasmtime engine: {err}"),
        };
        WasmError::new(ErrorKind::Other, message)
    })?;
    deadline::watch(&engine);
    engines.retain(|_, weak| weak.upgrade().is_some());
    engines.insert((metering, pool_slots), engine.weak());
    Ok(engine)
}

fn hash(wasm: &[u8]) -> CodeHash {
    Sha256::digest(wasm).into()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock()
}

/// Least-recently-used map from code hash to compiled module.
///
/// Eviction scans for the oldest entry: linear in the capacity, which is
/// negligible next to the compile that precedes every insert.
struct ModuleCache {
    capacity: usize,
    clock: u64,
    entries: HashMap<CodeHash, (wasmtime::Module, u64)>,
}

impl ModuleCache {
    fn new(capacity: usize) -> ModuleCache {
        ModuleCache {
            capacity,
            clock: 0,
            entries: HashMap::new(),
        }
    }

    fn get(&mut self, key: &CodeHash) -> Option<wasmtime::Module> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(module, used)| {
            *used = clock;
            module.clone()
        })
    }

    fn insert(&mut self, key: CodeHash, module: wasmtime::Module) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.clock += 1;
        self.entries.insert(key, (module, self.clock));
    }
}
