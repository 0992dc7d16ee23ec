//! The compiling half of an engine: a wasmtime `Engine` with this package's
//! settings and a content-addressed cache of compiled modules.
//!
//! A backend may serve several `WasmEngine`s; modules compiled by it can be
//! instantiated by any of them.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use wasmtime::{Config, OptLevel};

use crate::deadline;
use crate::error::WasmError;

/// Content hash of a module's binary: the module cache key.
type CodeHash = [u8; 32];

/// A wasmtime engine plus the modules it compiled.
pub(crate) struct Backend {
    pub(crate) engine: wasmtime::Engine,
    cache: Mutex<ModuleCache>,
}

impl Backend {
    /// Creates a backend; `metering` compiles fuel accounting into every
    /// module, which only engines with metering on should pay for.
    pub(crate) fn new(metering: bool, cache_capacity: usize) -> Result<Backend, WasmError> {
        let mut config = Config::new();
        config
            .cranelift_opt_level(OptLevel::Speed)
            .consume_fuel(metering)
            .epoch_interruption(true)
            // Module churn spent its CPU time registering unwind tables with
            // the system unwinder (Freenet's lesson 8); Windows needs them.
            .native_unwind_info(cfg!(windows));
        let engine = wasmtime::Engine::new(&config)
            .map_err(|err| WasmError::Other(format!("cannot create the wasmtime engine: {err}")))?;
        deadline::watch(&engine);
        Ok(Backend {
            engine,
            cache: Mutex::new(ModuleCache::new(cache_capacity)),
        })
    }

    /// Compiles a binary module, or returns the cached compilation of the
    /// same bytes. Costs a SHA-256 of the input on a hit, a full Cranelift
    /// compile on a miss.
    pub(crate) fn compile(&self, wasm: &[u8]) -> Result<wasmtime::Module, WasmError> {
        let key: CodeHash = Sha256::digest(wasm).into();
        if let Some(module) = self.lock_cache().get(&key) {
            return Ok(module);
        }
        let module = wasmtime::Module::from_binary(&self.engine, wasm).map_err(|err| {
            WasmError::Compile(format!(
                "module of {} bytes is not valid WebAssembly: {}",
                wasm.len(),
                crate::error::describe(&err)
            ))
        })?;
        self.lock_cache().insert(key, module.clone());
        Ok(module)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, ModuleCache> {
        // The cache holds no invariant a panic could break half-way.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
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
