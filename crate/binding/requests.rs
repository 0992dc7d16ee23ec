//! The one channel for answers from JavaScript: questions that guests on
//! workers ask the JavaScript thread (host imports, Freenet's stores),
//! registered by token from the moment they are posted until they are
//! answered or their guest gives up.
//!
//! A question's delivery runs JavaScript only while the question is still
//! registered: a worker that stops waiting (deadline, abort, close)
//! removes it first, so no JavaScript runs for a call already declared
//! dead. A question whose JavaScript returns a promise stays registered
//! until `resolveRequest` or `rejectRequest` (in `replies`) settles it.

use std::collections::HashMap;
use std::sync::Arc;

use napi::sys::{napi_env, napi_value};
use parking_lot::Mutex;
use wasm_engine_core::HostFailure;

use crate::deliver::Deliverer;

/// How a question turns what JavaScript answered into the answer its
/// guest waits for, and sends it.
pub(crate) trait Pending: Send {
    /// Answers with `outcome`: the value JavaScript gave (or a promise
    /// resolved to), or what it threw (or a promise rejected with).
    ///
    /// # Safety
    /// On `env`'s thread inside a callback or handle scope.
    unsafe fn settle(self: Box<Self>, env: napi_env, outcome: JsAnswer);

    /// Answers with a failure of the binding's own (the JavaScript to run
    /// is gone, Node-API failed).
    fn fail(self: Box<Self>, failure: HostFailure);
}

/// What JavaScript answered: a value, or what it threw or a promise
/// rejected with.
pub(crate) type JsAnswer = Result<napi_value, Thrown>;

/// What JavaScript threw (`rejected`: through a promise).
pub(crate) struct Thrown {
    pub(crate) value: napi_value,
    pub(crate) rejected: bool,
}

impl Thrown {
    /// The verb for messages: "threw" or "rejected".
    pub(crate) fn verb(&self) -> &'static str {
        if self.rejected { "rejected" } else { "threw" }
    }
}

/// What running a question's JavaScript gave: its answer at once, a
/// promise that will settle it, or an exception.
pub(crate) enum Ran {
    Answered(napi_value),
    Later,
    Threw(napi_value),
    Failed(HostFailure),
}

/// The questions of one environment waiting for JavaScript, by token.
#[derive(Default)]
pub(crate) struct Requests {
    waiting: Mutex<HashMap<u64, Box<dyn Pending>>>,
}

impl Requests {
    /// Registers question `token` and queues `run`, the JavaScript that
    /// answers it, on `deliverer`; `run` is skipped if the question was
    /// abandoned before the JavaScript thread reached it.
    pub(crate) fn post(
        self: &Arc<Self>,
        deliverer: &Deliverer,
        token: u64,
        pending: Box<dyn Pending>,
        run: impl FnOnce(napi_env, u64) -> Ran + Send + 'static,
    ) {
        self.waiting.lock().insert(token, pending);
        let requests = self.clone();
        deliverer.push(Box::new(move |env| {
            if !requests.waiting.lock().contains_key(&token) {
                return;
            }
            match run(env, token) {
                // SAFETY: deliveries run on `env`'s thread in a scope.
                Ran::Answered(value) => unsafe { requests.settle(env, token, Ok(value)) },
                // SAFETY: as above.
                Ran::Threw(value) => unsafe {
                    let thrown = Thrown {
                        value,
                        rejected: false,
                    };
                    requests.settle(env, token, Err(thrown));
                },
                Ran::Later => {}
                Ran::Failed(failure) => {
                    let pending = requests.waiting.lock().remove(&token);
                    if let Some(pending) = pending {
                        pending.fail(failure);
                    }
                }
            }
        }));
    }

    /// The guest waiting for `token` gave up: forget the question, so its
    /// JavaScript never runs if it has not started, and a late promise
    /// settles nothing.
    pub(crate) fn abandon(&self, token: u64) {
        // Dropped outside the lock: dropping a reply may wake a worker.
        let abandoned = self.waiting.lock().remove(&token);
        drop(abandoned);
    }

    /// Settles question `token`, when it is still waiting.
    ///
    /// # Safety
    /// On `env`'s thread inside a callback or handle scope.
    pub(crate) unsafe fn settle(&self, env: napi_env, token: u64, outcome: JsAnswer) {
        let pending = self.waiting.lock().remove(&token);
        if let Some(pending) = pending {
            // SAFETY: the caller's contract.
            unsafe { pending.settle(env, outcome) };
        }
    }
}
