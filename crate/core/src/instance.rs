//! Instances: the handle a caller holds, and what the engine keeps for
//! each live instance.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::store::HostState;

/// Keys of instances whose handles were dropped while the instance was
/// still alive; the engine drops those instances at its next operation.
#[derive(Default)]
pub(crate) struct Orphans {
    keys: Mutex<Vec<u64>>,
    /// Set when `keys` may be non-empty, so the common case costs one load.
    pending: AtomicBool,
}

impl Orphans {
    fn push(&self, key: u64) {
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

/// A caller's reference to one live instance of one engine.
///
/// Only the engine that created it accepts it. After `drop_instance` or the
/// engine's `close()` it is refused with an `InvalidHandle` or `Closed`
/// error. Dropping it without `drop_instance` frees the instance at the
/// engine's next operation.
pub struct Instance {
    pub(crate) engine_id: u64,
    pub(crate) key: u64,
    pub(crate) id: i64,
    orphans: Weak<Orphans>,
}

impl Instance {
    pub(crate) fn new(engine_id: u64, key: u64, id: i64, orphans: &Arc<Orphans>) -> Instance {
        Instance {
            engine_id,
            key,
            id,
            orphans: Arc::downgrade(orphans),
        }
    }

    /// The id given at creation (and to the guest's `__frnt_set_id`).
    pub fn id(&self) -> i64 {
        self.id
    }

    /// A reference to the instance that does not free it when dropped,
    /// for calls that outlive this borrow (a queued blocking call).
    pub fn target(&self) -> Target {
        Target {
            engine_id: self.engine_id,
            key: self.key,
            id: self.id,
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(orphans) = self.orphans.upgrade() {
            orphans.push(self.key);
        }
    }
}

/// What identifies an instance inside its engine; unlike [`Instance`], it
/// does not free the instance when dropped, so it can travel with calls.
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

/// What the engine keeps for a live instance: the instance and the store
/// it alone lives in.
pub(crate) struct LiveInstance {
    pub(crate) instance: wasmtime::Instance,
    pub(crate) store: wasmtime::Store<HostState>,
    /// The id given at creation.
    pub(crate) id: i64,
    /// The exported `memory`, if the module exports one.
    pub(crate) memory: Option<wasmtime::Memory>,
    /// Where the instance's WASI output goes, when it has a WASI context.
    pub(crate) output: Option<crate::wasi::Output>,
}
