//! Instances: the handle a caller holds, and what the engine keeps for
//! each live instance.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::state::EngineState;
use crate::store::HostState;

/// An engine's state behind its lock; `None` once the engine is closed.
pub(crate) type StateCell = Mutex<Option<EngineState>>;

/// Keys of instances whose handles were dropped while the instance was
/// still alive and the engine busy; the engine drops those instances when
/// its operation ends, or at the latest at its next operation.
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
/// error. Dropping it without `drop_instance` frees the instance at once
/// when the engine is idle, else when its operation ends.
pub struct Instance {
    pub(crate) engine_id: u64,
    pub(crate) key: u64,
    pub(crate) id: i64,
    orphans: Weak<Orphans>,
    state: Weak<StateCell>,
}

impl Instance {
    pub(crate) fn new(
        engine_id: u64,
        key: u64,
        id: i64,
        orphans: &Arc<Orphans>,
        state: &Arc<StateCell>,
    ) -> Instance {
        Instance {
            engine_id,
            key,
            id,
            orphans: Arc::downgrade(orphans),
            state: Arc::downgrade(state),
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
    /// Costs a lock attempt and, when the engine is idle, dropping the
    /// instance's store. A pool slot held until this engine's next
    /// operation would look taken to every engine sharing the pool, so
    /// the slot is freed now unless the engine is busy (never waiting:
    /// this may run in a finalizer, or while the same thread holds the
    /// lock).
    fn drop(&mut self) {
        let Some(orphans) = self.orphans.upgrade() else {
            return;
        };
        orphans.push(self.key);
        let Some(cell) = self.state.upgrade() else {
            return;
        };
        if let Some(mut guard) = cell.try_lock()
            && let Some(state) = guard.as_mut()
        {
            // A destructor must not unwind into its caller (a finalizer
            // called from C); a store that fails to drop is left behind.
            let _ = catch_unwind(AssertUnwindSafe(|| state.collect_orphans(&orphans)));
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
