//! Calls that run off the JavaScript thread: each engine's calls queue in
//! FIFO order, run one at a time on a tokio blocking thread, and settle
//! their promise on the JavaScript thread.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use napi::bindgen_prelude::{Env, PromiseRaw, ToNapiValue, within_runtime_if_available};
use napi::sys;
use napi_derive::napi;
use tokio::sync::oneshot;

use crate::deadline::Flag;
use crate::engine::Core;
use crate::error::WasmError;
use crate::state::EngineState;

/// The cancellation side of an `AbortSignal`: the TypeScript layer calls
/// `abort()` when the signal fires, and the call holding the token stops at
/// its next epoch tick (or never starts).
#[napi]
pub struct CallSignal {
    flag: Flag,
}

#[napi]
impl CallSignal {
    /// A token that has not fired.
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> CallSignal {
        CallSignal {
            flag: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Stops the call holding this token.
    #[napi]
    pub fn abort(&self) {
        self.flag.store(true, Ordering::Release);
    }
}

impl CallSignal {
    pub(crate) fn flag(&self) -> Flag {
        self.flag.clone()
    }
}

/// The value a native promise resolves with: the result, or the error as a
/// JavaScript `Error` whose `code` names it. Resolving with the error (rather
/// than rejecting) keeps the code, which napi-rs's rejection path would
/// replace with its own status; the TypeScript layer throws it.
pub struct Settled<T>(pub(crate) Result<T, WasmError>);

impl<T: ToNapiValue> ToNapiValue for Settled<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        // SAFETY: napi-rs calls this on the JavaScript thread with a live
        // `env`, which is all both conversions require.
        unsafe {
            match val.0 {
                Ok(value) => T::to_napi_value(env, value),
                Err(err) => napi::Error::<String>::to_napi_value(env, err.into()),
            }
        }
    }
}

/// One queued call: what it is, when it was queued, its abort flag, and
/// the work that runs it (given the engine state) or records why it could
/// not start (given the error). The work returns the delivery of its
/// outcome, which runs once the state lock is released: a caller that sees
/// its promise settle can use the engine synchronously at once.
struct Job {
    what: String,
    submitted: Instant,
    budget: Duration,
    abort: Option<Flag>,
    work: Box<dyn FnOnce(Start<'_>) -> Delivery + Send>,
}

/// What a queued call gets when it reaches the front: the engine state to
/// run on, or the reason it may not start.
type Start<'a> = Result<&'a mut Option<EngineState>, WasmError>;

/// Settles a call's promise.
type Delivery = Box<dyn FnOnce() + Send>;

/// An engine's FIFO of blocking calls.
///
/// Calls are queued on the JavaScript thread, so the queue order is the
/// order of the calls in JavaScript. While the queue is not empty, one tokio
/// blocking thread drains it, running each call with the engine's state
/// locked; when it is empty, no thread is held.
#[derive(Default)]
pub(crate) struct Queue {
    inner: Mutex<QueueInner>,
}

#[derive(Default)]
struct QueueInner {
    jobs: VecDeque<Job>,
    draining: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueInner> {
        // Only this module touches the queue, and never panics holding it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Number of calls waiting (not counting the one running).
    pub(crate) fn len(&self) -> usize {
        self.lock().jobs.len()
    }
}

/// Queues a call of `job` on `core`'s engine; the promise settles with its
/// outcome once it has run.
///
/// `what` names the call in errors. A call still queued when its
/// `queue_budget` (measured from now) has passed fails with
/// `SCHEDULER_OVERLOADED` without starting; one whose `abort` flag fired
/// before it started fails with `ABORTED` without starting.
pub(crate) fn spawn<'env, T, F>(
    env: &'env Env,
    core: Arc<Core>,
    what: String,
    queue_budget: Duration,
    abort: Option<Flag>,
    job: F,
) -> napi::Result<PromiseRaw<'env, Settled<T>>>
where
    T: ToNapiValue + Send + 'static,
    F: FnOnce(&mut EngineState, Option<Flag>) -> Result<T, WasmError> + Send + 'static,
{
    let (reply, outcome) = oneshot::channel();
    let runner = core.clone();
    let job_abort = abort.clone();
    let work = Box::new(
        move |slot: Result<&mut Option<EngineState>, WasmError>| -> Delivery {
            let result = slot.and_then(|slot| runner.run(slot, move |state| job(state, job_abort)));
            Box::new(move || {
                // The promise side may be gone (environment teardown): nobody to tell.
                let _ = reply.send(result);
            })
        },
    );
    let promise = env.spawn_future(async move {
        Ok(Settled(outcome.await.unwrap_or_else(|_| {
            Err(WasmError::Other(
                "the call was dropped before it finished".into(),
            ))
        })))
    })?;
    let start_draining = {
        let mut queue = core.queue().lock();
        queue.jobs.push_back(Job {
            what,
            submitted: Instant::now(),
            budget: queue_budget,
            abort,
            work,
        });
        !std::mem::replace(&mut queue.draining, true)
    };
    if start_draining {
        let drainer = core.clone();
        let spawned = within_runtime_if_available(|| {
            tokio::runtime::Handle::try_current()
                .map(|runtime| runtime.spawn_blocking(move || drain(&drainer)))
        });
        if spawned.is_err() {
            refuse_all(
                &core,
                "the tokio runtime is not available (the environment is shutting down)",
            );
        }
    }
    Ok(promise)
}

/// Fails every queued call with `why`, when no thread can run them.
fn refuse_all(core: &Core, why: &str) {
    let jobs = {
        let mut queue = core.queue().lock();
        queue.draining = false;
        std::mem::take(&mut queue.jobs)
    };
    for job in jobs {
        (job.work)(Err(WasmError::Other(format!(
            "{} could not start: {why}",
            job.what
        ))))();
    }
}

/// Runs `core`'s queued calls in order until the queue is empty.
fn drain(core: &Core) {
    loop {
        let job = {
            let mut queue = core.queue().lock();
            match queue.jobs.pop_front() {
                Some(job) => job,
                None => {
                    queue.draining = false;
                    return;
                }
            }
        };
        let waited = job.submitted.elapsed();
        let deliver = if job
            .abort
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Acquire))
        {
            (job.work)(Err(WasmError::Aborted(format!(
                "{} was aborted before it started",
                job.what
            ))))
        } else if waited > job.budget {
            (job.work)(Err(WasmError::Overloaded(format!(
                "{} waited {waited:?} in engine {}'s queue, past its {:?} deadline, and never started",
                job.what,
                core.id(),
                job.budget
            ))))
        } else {
            let mut state = core.lock_state();
            (job.work)(Ok(&mut state))
        };
        deliver();
    }
}
