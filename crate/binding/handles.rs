//! The environment's record of live instance handles, so that instances
//! whose handles the garbage collector found unreachable give their pool
//! slots back without waiting for the event loop.
//!
//! Node runs Node-API finalizers only between event-loop turns, so a
//! program that creates instances in a loop (or engines with instances,
//! left to the collector) would fill the pool with garbage that a `gc()`
//! cannot free. Each handle is therefore also held by a weak reference,
//! which V8 clears during the collection itself; a sweep drops the
//! instances of cleared handles. Sweeps run when the pool is full (before
//! `createInstance` fails) and as the record grows (so that it stays
//! proportional to the live handles).
//!
//! Each live instance is also reported to V8 as external memory (its
//! memory at creation, plus [`BASE_COST`]), so that a program holding many
//! of them garbage-collects sooner.

use std::cell::RefCell;
use std::ptr;
use std::sync::{Arc, Weak};

use napi::sys::{self, napi_env, napi_ref, napi_value};
use parking_lot::Mutex;

use wasm_engine_core::Instance;

use crate::js::{Raw, ok};

/// What an instance costs besides its linear memory, as reported to V8:
/// its store, tables and the slot's bookkeeping, roughly.
pub(crate) const BASE_COST: i64 = 64 << 10;

/// The fewest handles the record holds before it sweeps as it grows.
const SWEEP_FLOOR: usize = 64;

/// What a handle holds, shared with the environment's record of live
/// handles, which can take the instance away once the handle's object is
/// unreachable (before its finalizer runs).
pub(crate) struct Held {
    pub(crate) instance: Option<Instance>,
    /// Bytes reported to V8 as this instance's external memory, until it
    /// is dropped or reclaimed.
    pub(crate) cost: i64,
}

struct Tracked {
    /// Weak: cleared when the handle's object is collected.
    reference: napi_ref,
    /// Weak too: once the handle's finalizer ran, its instance is released
    /// and nothing is left here to reclaim.
    held: Weak<Mutex<Held>>,
}

/// The live handles of one environment. Touched only on its thread.
#[derive(Default)]
pub(crate) struct Handles {
    tracked: RefCell<Vec<Tracked>>,
    /// Handles alive at the last sweep: the record sweeps when it has
    /// grown to twice that (or [`SWEEP_FLOOR`]).
    survivors: std::cell::Cell<usize>,
}

impl Handles {
    /// Records the handle `object`, whose instance costs `held.cost` bytes
    /// (reported to V8 now).
    ///
    /// # Safety
    /// On `env`'s thread inside a callback.
    pub(crate) unsafe fn track(
        &self,
        env: napi_env,
        object: napi_value,
        held: Arc<Mutex<Held>>,
    ) -> Raw<()> {
        let mut reference = ptr::null_mut();
        // SAFETY: the caller's contract.
        unsafe {
            ok(sys::napi_create_reference(env, object, 0, &mut reference))?;
            adjust(env, held.lock().cost);
        }
        let grown = {
            let mut tracked = self.tracked.borrow_mut();
            tracked.push(Tracked {
                reference,
                held: Arc::downgrade(&held),
            });
            tracked.len() >= (2 * self.survivors.get()).max(SWEEP_FLOOR)
        };
        if grown {
            // SAFETY: the caller's contract.
            unsafe { self.sweep(env) };
        }
        Ok(())
    }

    /// Drops the instances of the handles the collector found unreachable
    /// and forgets those handles; returns how many instances it dropped.
    ///
    /// # Safety
    /// On `env`'s thread inside a callback.
    pub(crate) unsafe fn sweep(&self, env: napi_env) -> usize {
        let mut dropped = Vec::new();
        self.tracked.borrow_mut().retain(|entry| {
            let mut value = ptr::null_mut();
            // SAFETY: the caller's contract; the reference is live until
            // deleted below.
            let status = unsafe { sys::napi_get_reference_value(env, entry.reference, &mut value) };
            if status == sys::Status::napi_ok && !value.is_null() {
                return true;
            }
            // SAFETY: as above; deleted once, here.
            unsafe { sys::napi_delete_reference(env, entry.reference) };
            if let Some(held) = entry.held.upgrade() {
                let mut held = held.lock();
                // SAFETY: the caller's contract.
                unsafe { adjust(env, -std::mem::take(&mut held.cost)) };
                dropped.extend(held.instance.take());
            }
            false
        });
        self.survivors.set(self.tracked.borrow().len());
        // Dropped outside the record's borrow: releasing an instance may
        // free its store, which takes a while.
        let count = dropped.len();
        drop(dropped);
        count
    }

    /// Reports that the instance behind `held` was dropped (or its handle
    /// finalized): V8 no longer counts its memory.
    ///
    /// # Safety
    /// On `env`'s thread inside a callback.
    pub(crate) unsafe fn dropped(env: napi_env, held: &Mutex<Held>) {
        let cost = std::mem::take(&mut held.lock().cost);
        // SAFETY: the caller's contract.
        unsafe { adjust(env, -cost) };
    }
}

/// Tells V8 that native memory tied to JavaScript objects changed by `bytes`.
///
/// # Safety
/// On `env`'s thread.
unsafe fn adjust(env: napi_env, bytes: i64) {
    if bytes != 0 {
        let mut total = 0;
        // SAFETY: the caller's contract.
        unsafe { sys::napi_adjust_external_memory(env, bytes, &mut total) };
    }
}
