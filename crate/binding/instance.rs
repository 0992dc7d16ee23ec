//! Instance handles as JavaScript sees them.

use std::sync::Arc;

use napi::bindgen_prelude::{BigInt, Env, ObjectFinalize};
use napi_derive::napi;
use parking_lot::Mutex;
use wasm_engine_core::{ErrorKind, Instance, WasmError};

use crate::handles::{Handles, Held};

/// An opaque reference to one live instance of one engine.
///
/// Only the engine that created it accepts it. After `dropInstance` or the
/// engine's `close()` it is refused with a `WasmError`. A handle that is
/// garbage-collected without `dropInstance` frees its instance once no
/// call uses it: at the latest when the pool is next full, earlier when
/// its finalizer runs (see `handles`).
#[napi(custom_finalize)]
pub struct InstanceHandle {
    id: i64,
    pub(crate) held: Arc<Mutex<Held>>,
}

impl InstanceHandle {
    pub(crate) fn new(instance: Instance, cost: i64) -> InstanceHandle {
        InstanceHandle {
            id: instance.id(),
            held: Arc::new(Mutex::new(Held {
                instance: Some(instance),
                cost,
            })),
        }
    }

    /// A counted reference to the instance, for an operation to use (and,
    /// for queued work, to keep) whatever happens to the handle.
    pub(crate) fn instance(&self) -> Result<Instance, WasmError> {
        self.held.lock().instance.clone().ok_or_else(|| {
            WasmError::new(
                ErrorKind::InvalidHandle,
                format!("instance {} was dropped", self.id),
            )
            .at_instance(self.id)
        })
    }
}

impl ObjectFinalize for InstanceHandle {
    /// The handle's object was collected: its instance is released (freed
    /// once no call uses it) and V8 stops counting its memory.
    fn finalize(self, env: Env) -> napi::Result<()> {
        // SAFETY: Node runs finalizers on the environment's thread.
        unsafe { Handles::dropped(env.raw(), &self.held) };
        Ok(())
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
