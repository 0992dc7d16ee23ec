//! Instance handles as JavaScript sees them.

use napi::bindgen_prelude::BigInt;
use napi_derive::napi;

/// An opaque reference to one live instance of one engine.
///
/// Only the engine that created it accepts it. After `dropInstance` or the
/// engine's `close()` it is refused with a `WasmError`. A handle that is
/// garbage-collected without `dropInstance` frees its instance at the
/// engine's next operation.
#[napi]
pub struct InstanceHandle {
    pub(crate) inner: wasm_engine_core::Instance,
}

#[napi]
impl InstanceHandle {
    /// The id given to `createInstance` (and to the guest's `__frnt_set_id`).
    #[napi(getter)]
    pub fn id(&self) -> BigInt {
        BigInt::from(self.inner.id())
    }
}
