//! An engine's counters, kept in atomics so that they can be read while a
//! call holds the engine's lock (`stats()` and `remainingFuel()` never wait
//! for a guest, and never fail with `Busy`).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::error::{ErrorKind, WasmError};

/// What an engine counts; one per engine, shared with its state.
pub(crate) struct Counters {
    instances: AtomicUsize,
    /// Whether fuel is metered; fixed for the engine's life.
    metering: bool,
    /// Fuel left after the last guest entry, when metering.
    fuel: AtomicU64,
    /// Outcomes counted from any thread ([`Counters::record`]).
    outcomes: [AtomicU64; Outcome::COUNT],
    /// Outcomes counted under the engine's lock ([`Counters::record_locked`]),
    /// apart so that the two ways never race on one counter.
    locked: [AtomicU64; Outcome::COUNT],
}

/// How a call ended, as [`Counters`] tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Trapped,
    TimedOut,
    OutOfFuel,
    Aborted,
    Overloaded,
    /// Any other failure: a closed engine, a host failure outside a trap,
    /// a dropped instance.
    Failed,
}

impl Outcome {
    const COUNT: usize = 7;

    /// The outcome of a call that ended with `result`.
    /// A contract's or delegate's own error is an answer: the guest
    /// completed.
    pub fn of<T>(result: &Result<T, WasmError>) -> Outcome {
        match result {
            Ok(_) => Outcome::Completed,
            Err(err) => Outcome::of_error(err),
        }
    }

    /// The outcome of a call that failed with `err`.
    pub fn of_error(err: &WasmError) -> Outcome {
        match err.kind() {
            ErrorKind::Contract => Outcome::Completed,
            ErrorKind::Runtime => Outcome::Trapped,
            ErrorKind::Timeout => Outcome::TimedOut,
            ErrorKind::OutOfGas => Outcome::OutOfFuel,
            ErrorKind::Aborted => Outcome::Aborted,
            ErrorKind::Overloaded => Outcome::Overloaded,
            _ => Outcome::Failed,
        }
    }
}

/// Calls by outcome, since the engine was created.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CallCounts {
    pub completed: u64,
    pub trapped: u64,
    pub timed_out: u64,
    pub out_of_fuel: u64,
    pub aborted: u64,
    pub overloaded: u64,
    pub failed: u64,
}

impl Counters {
    pub(crate) fn new(fuel: Option<u64>) -> Counters {
        Counters {
            instances: AtomicUsize::new(0),
            metering: fuel.is_some(),
            fuel: AtomicU64::new(fuel.unwrap_or(0)),
            outcomes: Default::default(),
            locked: Default::default(),
        }
    }

    pub(crate) fn set_instances(&self, live: usize) {
        self.instances.store(live, Ordering::Relaxed);
    }

    pub(crate) fn instances(&self) -> usize {
        self.instances.load(Ordering::Relaxed)
    }

    pub(crate) fn set_fuel(&self, fuel: u64) {
        self.fuel.store(fuel, Ordering::Relaxed);
    }

    /// Fuel left after the last guest entry; `None` when metering is off.
    pub(crate) fn fuel(&self) -> Option<u64> {
        self.metering.then(|| self.fuel.load(Ordering::Relaxed))
    }

    pub(crate) fn record(&self, outcome: Outcome) {
        self.outcomes[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `outcome` from code that holds the engine's lock, which
    /// serializes every caller: a plain load and store, no atomic
    /// read-modify-write, on the path of every guest call.
    pub(crate) fn record_locked(&self, outcome: Outcome) {
        let counter = &self.locked[outcome as usize];
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    pub(crate) fn calls(&self) -> CallCounts {
        let n = |outcome: Outcome| {
            let i = outcome as usize;
            self.outcomes[i].load(Ordering::Relaxed) + self.locked[i].load(Ordering::Relaxed)
        };
        CallCounts {
            completed: n(Outcome::Completed),
            trapped: n(Outcome::Trapped),
            timed_out: n(Outcome::TimedOut),
            out_of_fuel: n(Outcome::OutOfFuel),
            aborted: n(Outcome::Aborted),
            overloaded: n(Outcome::Overloaded),
            failed: n(Outcome::Failed),
        }
    }
}
