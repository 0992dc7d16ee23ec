//! Compiled modules as JavaScript sees them.

use std::sync::Arc;

use napi_derive::napi;

use crate::backend::Backend;

/// Import namespaces of Freenet's V2 delegates, whose host functions are
/// asynchronous.
pub(crate) const ASYNC_IMPORT_NAMESPACES: [&str; 2] =
    ["freenet_delegate_contracts", "freenet_delegate_management"];

/// A compiled module: immutable and cheap to share between instances of
/// every engine that uses the backend that compiled it.
#[napi]
pub struct Module {
    pub(crate) inner: wasmtime::Module,
    pub(crate) backend: Arc<Backend>,
}

impl Module {
    /// Whether the module imports anything from one of `namespaces`.
    pub(crate) fn imports_from(&self, namespaces: &[&str]) -> bool {
        self.inner
            .imports()
            .any(|import| namespaces.contains(&import.module()))
    }
}

#[napi]
impl Module {
    /// Names of the functions, memories, tables and globals the module exports.
    #[napi(getter)]
    pub fn exports(&self) -> Vec<String> {
        self.inner
            .exports()
            .map(|export| export.name().to_owned())
            .collect()
    }

    /// The imports the module needs, as `namespace.name` strings.
    #[napi(getter)]
    pub fn imports(&self) -> Vec<String> {
        self.inner
            .imports()
            .map(|import| format!("{}.{}", import.module(), import.name()))
            .collect()
    }
}
