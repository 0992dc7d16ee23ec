//! The compiling half of an engine: a wasmtime `Engine` with this package's
//! settings, a content-addressed cache of compiled modules in memory
//! (`quick_cache`, which also makes concurrent compiles of the same bytes
//! wait for one compilation) and on disk.
//!
//! A backend may serve several `WasmEngine`s; modules compiled by it can be
//! instantiated by any of them.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use sha2::{Digest, Sha256};

use crate::config::Limits;
use crate::deadline;
use crate::disk_cache::{DiskCache, Lookup};
use crate::engine_config::{engine_config, pool_reservation};
use crate::error::{ErrorKind, WasmError};

/// Content hash of a module's binary: the cache key.
pub(crate) type CodeHash = [u8; 32];

/// A wasmtime engine plus the modules it compiled.
pub struct Backend {
    pub(crate) engine: wasmtime::Engine,
    /// Whether modules carry fuel accounting; engines sharing a backend
    /// must agree on it.
    pub(crate) metering: bool,
    /// Slots of the pool instances come from; `None` when on demand.
    pool_slots: Option<u32>,
    /// Compiled modules by content hash, least recently used evicted first
    /// (CLOCK-Pro); a compile in progress holds its key's placeholder, for
    /// which other compiles of the same bytes wait.
    modules: quick_cache::sync::Cache<CodeHash, wasmtime::Module>,
    /// Compiled components by content hash, the same way (memory only).
    components: quick_cache::sync::Cache<CodeHash, wasmtime::component::Component>,
    disk_cache: Option<DiskCache>,
    counters: Counters,
}

/// What the caches saved, for `WasmEngine.stats()`.
#[derive(Default)]
struct Counters {
    compiles: AtomicU64,
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    disk_rejects: AtomicU64,
    disk_write_failures: AtomicU64,
}

/// A snapshot of a backend's [`Counters`].
pub struct CompileStats {
    /// Modules compiled by Cranelift.
    pub compiles: u64,
    /// Compiles answered from the in-memory cache.
    pub memory_hits: u64,
    /// Compiles answered from the on-disk cache.
    pub disk_hits: u64,
    /// On-disk entries not loaded: untrusted, damaged, or from another
    /// wasmtime build; each was compiled instead.
    pub disk_rejects: u64,
    /// Compiled modules the on-disk cache could not write (read-only or
    /// full directory, untrusted directory, I/O error).
    pub disk_write_failures: u64,
}

impl Backend {
    /// Creates a backend for `limits`: with fuel accounting compiled into
    /// every module when they meter fuel (which only metered engines should
    /// pay for), instances from their pool (shared with every other backend
    /// of the same metering and pool size), and their caches.
    ///
    /// Where the process cannot reserve the default pool's address space
    /// (`ulimit -v`, a 39-bit address space), instances are mapped on
    /// demand instead; a pool size the caller chose fails with an error.
    pub(crate) fn new(limits: &Limits) -> Result<Backend, WasmError> {
        let metering = limits.fuel.is_some();
        let (engine, pool_slots) = match shared_engine(metering, limits.pool_slots) {
            Ok(engine) => (engine, limits.pool_slots),
            Err(_) if !limits.pool_size_chosen => (shared_engine(metering, None)?, None),
            Err(err) => return Err(err),
        };
        let disk_cache = limits
            .compile_cache_root
            .as_deref()
            .map(|root| DiskCache::new(root, &engine, limits.compile_cache_max_bytes));
        Ok(Backend {
            engine,
            metering,
            pool_slots,
            modules: quick_cache::sync::Cache::new(limits.module_cache_capacity),
            components: quick_cache::sync::Cache::new(limits.module_cache_capacity.max(1)),
            disk_cache,
            counters: Counters::default(),
        })
    }

    /// Compiles a binary module on this thread, or returns a cached
    /// compilation of the same bytes, waiting for one in progress on
    /// another thread. Costs a SHA-256 of the input on a memory hit, a file
    /// read on a disk hit, a Cranelift compile otherwise. Returns the
    /// content hash with the module.
    pub fn compile(&self, wasm: &[u8]) -> Result<(CodeHash, wasmtime::Module), WasmError> {
        let key = hash(wasm);
        let mut compiled = false;
        let module = self.modules.get_or_insert_with(&key, || {
            compiled = true;
            self.compile_uncached(&key, wasm)
        })?;
        if !compiled {
            self.counters.memory_hits.fetch_add(1, Ordering::Relaxed);
        }
        Ok((key, module))
    }

    /// Compiles a binary component on this thread, or returns the cached
    /// compilation of the same bytes (kept in memory, like modules).
    pub fn compile_component(
        &self,
        wasm: &[u8],
    ) -> Result<wasmtime::component::Component, WasmError> {
        let key = hash(wasm);
        let mut compiled = false;
        let component = self.components.get_or_insert_with(&key, || {
            compiled = true;
            self.counters.compiles.fetch_add(1, Ordering::Relaxed);
            wasmtime::component::Component::from_binary(&self.engine, wasm).map_err(|err| {
                WasmError::new(
                    ErrorKind::Compile,
                    format!(
                        "component of {} bytes is not a valid WebAssembly component: {}",
                        wasm.len(),
                        crate::error::describe(&err)
                    ),
                )
            })
        })?;
        if !compiled {
            self.counters.memory_hits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(component)
    }

    /// Slots of the instance pool; `None` when instances are mapped on
    /// demand (by choice, or because the default pool could not be
    /// reserved).
    pub fn pool_slots(&self) -> Option<u32> {
        self.pool_slots
    }

    /// How many compiles Cranelift did and how many the caches answered.
    pub fn stats(&self) -> CompileStats {
        CompileStats {
            compiles: self.counters.compiles.load(Ordering::Relaxed),
            memory_hits: self.counters.memory_hits.load(Ordering::Relaxed),
            disk_hits: self.counters.disk_hits.load(Ordering::Relaxed),
            disk_rejects: self.counters.disk_rejects.load(Ordering::Relaxed),
            disk_write_failures: self.counters.disk_write_failures.load(Ordering::Relaxed),
        }
    }

    fn compile_uncached(&self, key: &CodeHash, wasm: &[u8]) -> Result<wasmtime::Module, WasmError> {
        let lookup = match &self.disk_cache {
            Some(disk) => disk.load(&self.engine, key),
            None => Lookup::Miss,
        };
        match lookup {
            Lookup::Hit(module) => {
                self.counters.disk_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(module);
            }
            Lookup::Rejected => {
                self.counters.disk_rejects.fetch_add(1, Ordering::Relaxed);
            }
            Lookup::Miss => {}
        }
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
        if let Some(disk) = &self.disk_cache
            && disk.store(key, &module).is_err()
        {
            self.counters
                .disk_write_failures
                .fetch_add(1, Ordering::Relaxed);
        }
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

#[cfg(test)]
#[path = "backend_tests.rs"]
mod tests;
