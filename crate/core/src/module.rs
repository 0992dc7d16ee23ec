//! Compiled modules and the compiler that makes them off the engine's lock.

use std::sync::Arc;

use crate::backend::{Backend, CodeHash};
use crate::error::Result;

/// A compiled module: immutable and cheap to clone, usable by every engine
/// that shares the backend that compiled it.
#[derive(Clone)]
pub struct Module {
    inner: wasmtime::Module,
    pub(crate) backend: Arc<Backend>,
    /// SHA-256 of the binary: engines cache the module's resolved imports
    /// under it, so compiling the same bytes again finds them.
    hash: CodeHash,
}

impl Module {
    pub(crate) fn new(
        (hash, inner): (CodeHash, wasmtime::Module),
        backend: Arc<Backend>,
    ) -> Module {
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
    pub(crate) backend: Arc<Backend>,
}

impl Compiler {
    /// Compiles `wasm` on this thread (cached by content hash); concurrent
    /// compiles of the same bytes, on any threads, share one compilation.
    pub fn compile(&self, wasm: &[u8]) -> Result<Module> {
        Ok(Module::new(
            self.backend.compile(wasm)?,
            self.backend.clone(),
        ))
    }
}
