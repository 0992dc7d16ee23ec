//! Wall-clock deadlines for running guests.
//!
//! One native thread advances the epoch of every live wasmtime engine every
//! [`TICK`]. Each store arms a deadline before every guest entry and checks it
//! in wasmtime's epoch callback, so a guest in an endless loop is stopped at
//! its next loop header or function entry, whichever thread it runs on.
//! A JavaScript timer could not do this: a synchronous call blocks the event
//! loop that would run it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use wasmtime::{EngineWeak, UpdateDeadline};

use crate::error::Interrupt;

/// How often the epoch advances: the precision of every deadline.
pub const TICK: Duration = Duration::from_millis(5);

/// Engines whose epoch the ticker advances; dropped engines are pruned.
fn registry() -> &'static Mutex<Vec<EngineWeak>> {
    static ENGINES: OnceLock<Mutex<Vec<EngineWeak>>> = OnceLock::new();
    ENGINES.get_or_init(|| {
        // A detached thread: it holds no JavaScript handle, so it never keeps
        // the event loop (or the process) alive.
        std::thread::Builder::new()
            .name("wasm-engine-epoch".into())
            .spawn(tick_forever)
            .map_err(|err| eprintln!("wasm-engine: cannot start the epoch thread: {err}"))
            .ok();
        Mutex::new(Vec::new())
    })
}

fn tick_forever() {
    loop {
        std::thread::sleep(TICK);
        let mut engines = registry().lock();
        engines.retain(|weak| match weak.upgrade() {
            Some(engine) => {
                engine.increment_epoch();
                true
            }
            None => false,
        });
        drop(engines);
        if let Some(hook) = TICK_HOOK.get() {
            hook();
        }
    }
}

/// What else runs at every tick, after the epochs advanced: set once, by
/// the scheduler, whose monitor of stuck workers runs on the ticker's
/// thread rather than on one of its own.
static TICK_HOOK: OnceLock<fn()> = OnceLock::new();

/// Runs `hook` at every tick from now on. One hook per process: a second
/// call is ignored (the scheduler is the only caller).
pub fn on_every_tick(hook: fn()) {
    let _ = TICK_HOOK.set(hook);
}

/// Starts advancing `engine`'s epoch; stops by itself when the engine drops.
pub fn watch(engine: &wasmtime::Engine) {
    registry().lock().push(engine.weak());
}

/// A cancellation flag shared between JavaScript (an `AbortSignal`, an
/// engine's `close()`) and the guest entry it can stop.
pub type Flag = Arc<AtomicBool>;

/// What can stop the guest entry in progress on one store, besides its
/// engine's closing: its deadline and the caller's abort signal.
#[derive(Debug, Clone)]
pub(crate) struct Watch {
    at: Instant,
    abort: Option<Flag>,
}

impl Watch {
    /// A watch whose deadline is `budget` from now.
    pub(crate) fn new(budget: Duration, abort: Option<Flag>) -> Watch {
        let now = Instant::now();
        Watch {
            // A budget too large for `Instant` is as good as no deadline.
            at: now
                .checked_add(budget)
                .unwrap_or(now + Duration::from_secs(86_400 * 365)),
            abort,
        }
    }

    /// Why the guest must stop now, if it must: its engine is `closing`,
    /// it was aborted, or its deadline has passed.
    pub(crate) fn interrupted(&self, closing: &AtomicBool) -> Option<Interrupt> {
        if closing.load(Ordering::Acquire) {
            Some(Interrupt::Closed)
        } else if self
            .abort
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Acquire))
        {
            Some(Interrupt::Aborted)
        } else if Instant::now() >= self.at {
            Some(Interrupt::Timeout)
        } else {
            None
        }
    }

    /// What the epoch callback does at a tick: stop the guest if it was
    /// [`interrupted`](Watch::interrupted), otherwise look again at the
    /// next tick.
    pub(crate) fn check(&self, closing: &AtomicBool) -> wasmtime::Result<UpdateDeadline> {
        match self.interrupted(closing) {
            Some(interrupt) => Err(wasmtime::Error::new(interrupt)),
            None => Ok(UpdateDeadline::Continue(1)),
        }
    }
}

#[cfg(test)]
#[path = "deadline_tests.rs"]
mod tests;
