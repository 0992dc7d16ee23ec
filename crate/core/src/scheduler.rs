//! Blocking calls: each engine's calls run one at a time, in the order they
//! were submitted, on one process-wide pool of worker threads.
//!
//! An engine with work waiting is put on the pool's *ready* list; a worker
//! takes it and runs its calls in order. The pool is sized for throughput
//! and stays out of the way of long calls:
//! - one worker runs calls while they keep finishing: the host thread that
//!   submits and settles them needs the other cores. A submission wakes (or
//!   starts) a worker only when none runs and the ready list was empty, so a
//!   burst of submissions costs the submitting thread at most one wake-up;
//! - a worker that parks waiting for a host call stops counting as running,
//!   so another takes its place at once;
//! - workers stuck in long guests are noticed by the epoch thread: when
//!   engines are ready, no worker is idle and no running worker finished a
//!   call during a whole tick (5 ms), it starts one more worker, whatever
//!   the count;
//! - an idle worker spins briefly before it parks, when no other worker
//!   runs (so the spinner never takes the core a running call or the host
//!   thread needs): a caller that submits its next call right after the
//!   previous one settled skips a thread wake-up. Workers leave after ten
//!   idle seconds.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::deadline::{self, Flag};
use crate::error::{ErrorKind, WasmError};

/// How long an idle worker looks for new work before it parks.
const SPIN: Duration = Duration::from_micros(50);

/// How long a parked worker waits for work before it exits.
const IDLE_EXIT: Duration = Duration::from_secs(10);

/// Calls a worker runs from one engine before it lets the next engine go first.
const BATCH: usize = 64;

/// The work of one call. It gets `Ok(())` when it may run, or the reason it
/// may not: aborted before it started, queued past its deadline, or no
/// thread could run it. Either way it must settle its caller.
pub type Job = Box<dyn FnOnce(Result<(), WasmError>) + Send>;

/// A call waiting in an engine's queue.
pub struct Entry {
    /// Names the call in errors, such as `export "run" of instance 7`.
    pub what: Arc<str>,
    /// How long the call may wait in the queue before it is refused.
    pub budget: Duration,
    /// Fires when the caller gives up; a call whose flag fired before it
    /// starts never runs.
    pub abort: Option<Flag>,
    pub job: Job,
}

struct Queued {
    entry: Entry,
    submitted: Instant,
}

/// One engine's FIFO of calls.
#[derive(Default)]
pub struct Queue {
    inner: Mutex<QueueInner>,
}

#[derive(Default)]
struct QueueInner {
    jobs: VecDeque<Queued>,
    /// On the ready list or being run by a worker.
    scheduled: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueInner> {
        self.inner.lock()
    }

    /// Calls waiting, not counting the one running.
    pub fn len(&self) -> usize {
        self.lock().jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues `entry` behind this engine's earlier calls.
    pub fn submit(self: &Arc<Self>, entry: Entry) {
        {
            let mut inner = self.lock();
            inner.jobs.push_back(Queued {
                entry,
                submitted: Instant::now(),
            });
            if std::mem::replace(&mut inner.scheduled, true) {
                return;
            }
        }
        let pool = pool();
        let mut state = pool.lock();
        state.ready.push_back(self.clone());
        pool.ready_len.store(state.ready.len(), Ordering::Release);
        // With engines already ready, a wake-up is under way: the worker
        // that takes the first one passes the rest on.
        if state.ready.len() == 1 {
            let refused = pool.ensure_helper(&mut state);
            drop(state);
            refuse(refused);
        }
    }

    /// Runs up to [`BATCH`] queued calls, counting them on `probe`; true
    /// when calls remain.
    fn run(&self, probe: &AtomicU64) -> bool {
        for _ in 0..BATCH {
            let Queued { entry, submitted } = {
                let mut inner = self.lock();
                match inner.jobs.pop_front() {
                    Some(queued) => queued,
                    None => {
                        inner.scheduled = false;
                        return false;
                    }
                }
            };
            let waited = submitted.elapsed();
            let verdict = if entry
                .abort
                .as_ref()
                .is_some_and(|flag| flag.load(Ordering::Acquire))
            {
                Err(WasmError::new(
                    ErrorKind::Aborted,
                    format!("{} was aborted before it started", entry.what),
                ))
            } else if waited > entry.budget {
                Err(WasmError::new(
                    ErrorKind::Overloaded,
                    format!(
                        "{} waited {waited:?} in its engine's queue, past its {:?} deadline, and never started",
                        entry.what, entry.budget
                    ),
                ))
            } else {
                Ok(())
            };
            // A job settles its own caller; one that panics has lost its
            // caller, but must not take the worker and the queue with it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (entry.job)(verdict)));
            probe.fetch_add(1, Ordering::Relaxed);
        }
        let mut inner = self.lock();
        if inner.jobs.is_empty() {
            inner.scheduled = false;
            return false;
        }
        true
    }
}

/// The process-wide worker pool.
struct Pool {
    state: Mutex<PoolState>,
    wake: Condvar,
    /// Length of the ready list, read by the spinning worker without the lock.
    ready_len: AtomicUsize,
}

#[derive(Default)]
struct PoolState {
    ready: VecDeque<Arc<Queue>>,
    /// Workers alive.
    workers: usize,
    /// Workers parked on the condition variable, including those woken
    /// that have not yet taken their permit.
    parked: usize,
    /// Wake-up permits sent to parked workers and not yet taken; each is
    /// taken by exactly one of them, so `permits <= parked` always holds.
    permits: usize,
    /// Workers spinning for work (at most one).
    spinning: usize,
    /// Workers waiting for a host call.
    blocked: usize,
    /// Each worker's count of finished calls, and that count at the
    /// previous tick: progress, for the monitor.
    probes: Vec<(Arc<AtomicU64>, u64)>,
}

impl PoolState {
    /// Workers running calls, or woken to take one.
    fn running(&self) -> usize {
        self.workers - (self.parked - self.permits) - self.spinning - self.blocked
    }
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        deadline::on_every_tick(on_tick);
        Pool {
            state: Mutex::default(),
            wake: Condvar::new(),
            ready_len: AtomicUsize::new(0),
        }
    })
}

thread_local! {
    /// Whether this thread is one of the pool's workers.
    static IS_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock()
    }

    /// Makes sure some worker will look at the ready list soon: one that
    /// runs or spins will; otherwise a parked worker is woken, or a new one
    /// starts. Returns the calls to refuse when no thread can be started.
    ///
    /// One running worker at a time is enough for calls that finish: the
    /// host thread that settles them needs the other cores. More start only
    /// when workers wait for host calls ([`blocked`]) or are stuck in long
    /// guests ([`on_tick`]).
    fn ensure_helper(&self, state: &mut PoolState) -> Vec<Arc<Queue>> {
        if state.spinning > 0 || state.running() > 0 {
            return Vec::new();
        }
        if state.parked > state.permits {
            state.permits += 1;
            self.wake.notify_one();
            return Vec::new();
        }
        self.spawn(state)
    }

    /// Starts a worker; when none can start and none is alive, empties the
    /// ready list so its calls can be refused.
    fn spawn(&self, state: &mut PoolState) -> Vec<Arc<Queue>> {
        state.workers += 1;
        let probe = Arc::new(AtomicU64::new(0));
        state.probes.push((probe.clone(), 0));
        let started = std::thread::Builder::new()
            .name("wasm-engine-worker".into())
            .spawn(move || work(probe));
        if started.is_err() {
            state.workers -= 1;
            state.probes.pop();
            if state.workers == 0 {
                self.ready_len.store(0, Ordering::Release);
                return state.ready.drain(..).collect();
            }
        }
        Vec::new()
    }

    /// The next engine to run, or `None` when this worker (whose probe is
    /// `probe`) should exit.
    fn next(&self, probe: &Arc<AtomicU64>) -> Option<Arc<Queue>> {
        let mut state = self.lock();
        loop {
            if let Some(queue) = state.ready.pop_front() {
                self.ready_len.store(state.ready.len(), Ordering::Release);
                return Some(queue);
            }
            // `running()` counts this worker: spin only when it is alone.
            if state.spinning == 0 && state.running() == 1 {
                state.spinning = 1;
                drop(state);
                let until = Instant::now() + SPIN;
                'spin: while Instant::now() < until {
                    for _ in 0..64 {
                        if self.ready_len.load(Ordering::Acquire) != 0 {
                            break 'spin;
                        }
                        std::hint::spin_loop();
                    }
                }
                state = self.lock();
                state.spinning = 0;
                if !state.ready.is_empty() {
                    continue;
                }
            }
            state.parked += 1;
            let until = Instant::now() + IDLE_EXIT;
            let woken = loop {
                if state.permits > 0 {
                    state.permits -= 1;
                    break true;
                }
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break false;
                }
                self.wake.wait_for(&mut state, left);
            };
            state.parked -= 1;
            if !woken && state.ready.is_empty() {
                state.workers -= 1;
                state.probes.retain(|(p, _)| !Arc::ptr_eq(p, probe));
                return None;
            }
        }
    }
}

/// A worker's life: run ready engines until idle for [`IDLE_EXIT`],
/// counting finished calls on `probe`.
fn work(probe: Arc<AtomicU64>) {
    IS_WORKER.with(|flag| flag.set(true));
    let pool = pool();
    while let Some(queue) = pool.next(&probe) {
        if queue.run(&probe) {
            let mut state = pool.lock();
            state.ready.push_back(queue);
            pool.ready_len.store(state.ready.len(), Ordering::Release);
        }
    }
}

/// Fails every call of `queues`: no thread could be started to run them.
fn refuse(queues: Vec<Arc<Queue>>) {
    for queue in queues {
        let jobs = {
            let mut inner = queue.lock();
            inner.scheduled = false;
            std::mem::take(&mut inner.jobs)
        };
        for Queued { entry, .. } in jobs {
            (entry.job)(Err(WasmError::new(
                ErrorKind::Other,
                format!(
                    "{} could not start: no worker thread could be started",
                    entry.what
                ),
            )));
        }
    }
}

/// Runs `wait` (a wait for a host call) with this worker counted as
/// blocked, so another worker takes over the ready engines meanwhile.
pub(crate) fn blocked<R>(wait: impl FnOnce() -> R) -> R {
    if !IS_WORKER.with(std::cell::Cell::get) {
        return wait();
    }
    let pool = pool();
    {
        let mut state = pool.lock();
        state.blocked += 1;
        if !state.ready.is_empty() {
            let refused = pool.ensure_helper(&mut state);
            drop(state);
            refuse(refused);
        }
    }
    let result = wait();
    pool.lock().blocked -= 1;
    result
}

/// Runs on the epoch thread at every tick (see [`deadline::on_every_tick`]): when engines are ready, no
/// worker is idle and none finished a call since the previous tick, every
/// running worker is stuck in a long call, so one more starts.
fn on_tick() {
    let pool = pool();
    let mut state = pool.lock();
    let mut progressed = false;
    for (probe, seen) in &mut state.probes {
        let done = probe.load(Ordering::Relaxed);
        progressed |= done != *seen;
        *seen = done;
    }
    if state.ready.is_empty() || state.spinning > 0 {
        return;
    }
    if state.parked > state.permits {
        // An idle worker that no wake-up reached: wake it.
        state.permits += 1;
        pool.wake.notify_one();
        return;
    }
    if progressed {
        return;
    }
    let refused = pool.spawn(&mut state);
    drop(state);
    refuse(refused);
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
