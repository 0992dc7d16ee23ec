//! Instances as their users hold them: shared ownership of one live
//! instance of one engine.
//!
//! The engine keeps each live instance (its store, memory and exports)
//! under its lock, by key. An [`Instance`] is a counted reference to that
//! entry: the caller's handle holds one, and so does every queued or
//! running operation on the instance, so work that was submitted finishes
//! on its instance whatever the caller drops meanwhile. When the last
//! reference goes, the instance is released to its engine, which frees it
//! at once when idle (its pool slot is then free for every engine sharing
//! the pool), else when its current operation ends.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::error::{ErrorKind, WasmError};
use crate::values::{Signature, unsupported_type};

/// Where the last reference to an instance releases it: its engine.
pub(crate) trait Release: Send + Sync {
    /// The instance `key` has no reference left. Must not wait for the
    /// engine's lock: this may run in a finalizer, or on a thread that
    /// holds it.
    fn release(&self, key: u64);
}

/// Keys of instances released while their engine was busy; the engine
/// frees them when its operation ends, or at the latest at its next one.
#[derive(Default)]
pub(crate) struct Orphans {
    keys: Mutex<Vec<u64>>,
    /// Set when `keys` may be non-empty, so the common case costs one load.
    pending: AtomicBool,
}

impl Orphans {
    pub(crate) fn push(&self, key: u64) {
        self.keys.lock().push(key);
        self.pending.store(true, Ordering::Release);
    }

    /// The keys pushed since the last call.
    pub(crate) fn take(&self) -> Vec<u64> {
        if !self.pending.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        std::mem::take(&mut *self.keys.lock())
    }
}

/// A counted reference to one live instance of one engine; clones share it.
///
/// Only the engine that created it accepts it. After `drop_instance` or the
/// engine's `close()` it is refused with an `InvalidHandle` or `Closed`
/// error. When the last clone is dropped without `drop_instance`, the
/// instance is freed at once when the engine is idle, else when its
/// operation ends. A clone costs an atomic increment.
#[derive(Clone)]
pub struct Instance(Arc<Owner>);

struct Owner {
    target: Target,
    /// The module it was instantiated from, for its export types.
    module: wasmtime::Module,
    engine: Weak<dyn Release>,
}

impl Instance {
    pub(crate) fn new(
        target: Target,
        module: wasmtime::Module,
        engine: Weak<dyn Release>,
    ) -> Instance {
        Instance(Arc::new(Owner {
            target,
            module,
            engine,
        }))
    }

    /// The signature of the exported function `name`, from the module's
    /// types: known without the engine's lock, so a call can be checked
    /// and its arguments converted before it is queued.
    pub fn export_signature(&self, name: &str) -> Result<Signature, WasmError> {
        let id = self.0.target.id;
        let missing = || {
            WasmError::new(
                ErrorKind::Export,
                format!("instance {id} has no exported function \"{name}\""),
            )
            .at_instance(id)
            .at_export(name)
        };
        let Some(wasmtime::ExternType::Func(ty)) = self.0.module.get_export(name) else {
            return Err(missing());
        };
        let what = format!("export \"{name}\" of instance {id}");
        Signature::of(&ty, unsupported_type(ErrorKind::Export, &what))
            .map_err(|err| err.at_instance(id).at_export(name))
    }

    /// The id given at creation (and to the guest's `__frnt_set_id`).
    pub fn id(&self) -> i64 {
        self.0.target.id
    }

    /// What identifies the instance inside its engine. It does not keep
    /// the instance alive: whoever uses it past this borrow holds a clone
    /// of the `Instance` too.
    pub fn target(&self) -> Target {
        self.0.target
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.upgrade() {
            engine.release(self.target.key);
        }
    }
}

/// What identifies an instance inside its engine; unlike [`Instance`], it
/// does not keep the instance alive.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub(crate) engine_id: u64,
    pub(crate) key: u64,
    pub(crate) id: i64,
}

impl Target {
    /// The id the instance was created with.
    pub fn id(&self) -> i64 {
        self.id
    }
}
