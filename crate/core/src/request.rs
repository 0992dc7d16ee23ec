//! Questions a guest on a worker asks the host's thread, and the one way
//! their answers come back.
//!
//! Host imports and Freenet's stores ask the same way: the worker numbers
//! the question with a process-wide [`token`], posts it with a [`Reply`],
//! and parks in [`wait`] until the answer comes, the deadline passes, the
//! call is aborted or its engine closes. A worker that gives up tells the
//! host so (`abandon(token)`), and the host must then not run the question
//! at all: its caller has already been told the call failed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use crate::deadline::TICK;
use crate::error::{HostFailure, Interrupt};
use crate::scheduler;
use crate::store::HostState;

/// How long a worker looks for an answer before it parks.
const ANSWER_SPIN: Duration = Duration::from_micros(50);

/// Numbers questions process-wide, so a stale token never matches a newer one.
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// A fresh token; never 0, which marks an answer given on the spot.
pub fn token() -> u64 {
    NEXT_TOKEN.fetch_add(1, Ordering::Relaxed)
}

/// The way back to the worker that asked.
pub struct Reply<T>(mpsc::Sender<Result<T, HostFailure>>);

impl<T> Reply<T> {
    /// A reply and the receiver its answer arrives at.
    pub fn new() -> (Reply<T>, Receiver<Result<T, HostFailure>>) {
        let (sender, receiver) = mpsc::channel();
        (Reply(sender), receiver)
    }

    /// Answers the question. False when nobody waits any more: the worker
    /// gave up (deadline, abort, close).
    pub fn send(self, answer: Result<T, HostFailure>) -> bool {
        self.0.send(answer).is_ok()
    }
}

/// Posts a question with `post` and waits for its answer on
/// behalf of the guest whose store holds `guest` (a core import's
/// `caller.data()`, a component import's `store.data()`). `Ok` carries the answer
/// (an unanswered question, whose reply was dropped, is a failure naming
/// `what`); `Err` is why the guest must stop first, after `abandon` told
/// the host.
pub fn ask<T>(
    guest: &HostState,
    what: &str,
    post: impl FnOnce(Reply<T>) -> Result<(), HostFailure>,
    abandon: impl FnOnce(),
) -> Result<Result<T, HostFailure>, Interrupt> {
    let (reply, answer) = Reply::new();
    if let Err(failure) = post(reply) {
        return Ok(Err(failure));
    }
    match wait(guest, &answer) {
        Ok(Some(answer)) => Ok(answer),
        Ok(None) => Ok(Err(HostFailure::new(format!(
            "{what} was dropped unanswered"
        )))),
        Err(interrupt) => {
            abandon();
            Err(interrupt)
        }
    }
}

/// Waits on a worker for an answer: `None` when the reply was dropped
/// unsent, the interrupt when the guest must stop first.
fn wait<T>(guest: &HostState, answer: &Receiver<T>) -> Result<Option<T>, Interrupt> {
    // Most answers come back within microseconds: look for one briefly
    // before parking, whose wake-up costs far more (on a virtual machine,
    // tens of microseconds).
    let until = Instant::now() + ANSWER_SPIN;
    while Instant::now() < until {
        match answer.try_recv() {
            Ok(outcome) => return Ok(Some(outcome)),
            Err(TryRecvError::Empty) => (0..32).for_each(|_| std::hint::spin_loop()),
            Err(TryRecvError::Disconnected) => return Ok(None),
        }
    }
    scheduler::blocked(|| {
        loop {
            match answer.recv_timeout(TICK) {
                Ok(outcome) => break Ok(Some(outcome)),
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(interrupt) = guest.interrupted() {
                        break Err(interrupt);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break Ok(None),
            }
        }
    })
}
