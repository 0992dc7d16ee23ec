//! Compiled modules as JavaScript sees them.

use napi_derive::napi;

/// A compiled module: immutable and cheap to share between instances of
/// every engine that uses the backend that compiled it.
#[napi]
pub struct Module {
    pub(crate) inner: wasm_engine_core::Module,
}

impl From<wasm_engine_core::Module> for Module {
    fn from(inner: wasm_engine_core::Module) -> Module {
        Module { inner }
    }
}

#[napi]
impl Module {
    /// Names of the functions, memories, tables and globals the module exports.
    #[napi(getter)]
    pub fn exports(&self) -> Vec<String> {
        self.inner.exports()
    }

    /// The imports the module needs, as `namespace.name` strings.
    #[napi(getter)]
    pub fn imports(&self) -> Vec<String> {
        self.inner.imports()
    }
}
