//! Instance handles: what `createInstance` gives JavaScript, and what the
//! engine keeps for each live instance.

use std::sync::{Arc, Mutex, Weak};

use napi::bindgen_prelude::BigInt;
use napi_derive::napi;

/// Keys of handles that were garbage-collected while their instance was
/// still alive; the engine drops those instances at its next operation.
pub(crate) type Orphans = Arc<Mutex<Vec<u64>>>;

/// An opaque reference to one live instance of one engine.
///
/// Only the engine that created it accepts it. After `dropInstance` or the
/// engine's `close()` it is refused with a `WasmError`. A handle that is
/// garbage-collected without `dropInstance` frees its instance at the
/// engine's next operation.
#[napi]
pub struct InstanceHandle {
    pub(crate) engine_id: u64,
    pub(crate) key: u64,
    pub(crate) id: i64,
    orphans: Weak<Mutex<Vec<u64>>>,
}

/// What identifies a handle's instance inside its engine; unlike the handle
/// (a JavaScript object), it can travel to the thread running a call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    pub(crate) key: u64,
    pub(crate) id: i64,
}

impl InstanceHandle {
    pub(crate) fn target(&self) -> Target {
        Target {
            key: self.key,
            id: self.id,
        }
    }

    pub(crate) fn new(engine_id: u64, key: u64, id: i64, orphans: &Orphans) -> InstanceHandle {
        InstanceHandle {
            engine_id,
            key,
            id,
            orphans: Arc::downgrade(orphans),
        }
    }
}

#[napi]
impl InstanceHandle {
    /// The id given to `createInstance` (and to the guest's `__frnt_set_id`).
    #[napi(getter)]
    pub fn id(&self) -> BigInt {
        BigInt::from(self.id)
    }
}

impl Drop for InstanceHandle {
    fn drop(&mut self) {
        if let Some(orphans) = self.orphans.upgrade() {
            orphans
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(self.key);
        }
    }
}

/// What the engine keeps for a live instance.
pub(crate) struct LiveInstance {
    pub(crate) instance: wasmtime::Instance,
    /// The store generation the instance lives in.
    pub(crate) generation: u64,
    /// The id given at creation.
    pub(crate) id: i64,
    /// The exported `memory`, if the module exports one.
    pub(crate) memory: Option<wasmtime::Memory>,
}
