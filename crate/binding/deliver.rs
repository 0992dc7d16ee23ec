//! Bringing work back to the JavaScript thread: finished blocking calls,
//! host calls posted by workers, and JavaScript references to release.
//!
//! One deliverer per environment, one FIFO: a worker pushes a [`Delivery`]
//! and wakes the JavaScript thread only when the queue was empty, so many
//! finished calls settle in one wake-up. Deliveries are handled in the order
//! they were pushed; an engine's calls finish in queue order, so their
//! promises settle in queue order.
//!
//! The wake-up is a threadsafe function without a JavaScript function. It
//! keeps the event loop alive only while blocking calls are in flight
//! (counted on the JavaScript thread), so a program whose calls are done can
//! exit.
//!
//! One wake-up handles one batch. Deliveries that arrive meanwhile are left
//! for a `setImmediate` callback rather than for another threadsafe-function
//! call: Node dispatches up to a thousand of those in one go, so a busy
//! stream of finished calls would keep timers and I/O waiting for tens of
//! milliseconds. With `setImmediate`, the event loop turns between batches.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::ThreadId;

use napi::sys::{self, napi_env, napi_value};
use parking_lot::{Mutex, MutexGuard};

use crate::js::{self, Raw, ok};

/// A promise's resolving end, settled on the JavaScript thread only.
pub(crate) struct Deferred(pub(crate) sys::napi_deferred);

// SAFETY: a `napi_deferred` may be carried by any thread; it is only used by
// `Deliverer::settle`, on the JavaScript thread of the environment that
// created it.
unsafe impl Send for Deferred {}

/// One piece of work for the JavaScript thread: a closure that gets the
/// environment, inside a handle scope of its own.
pub(crate) type Delivery = Box<dyn FnOnce(napi_env) + Send>;

/// The deliveries waiting for the JavaScript thread.
#[derive(Default)]
struct Queue {
    items: Vec<Delivery>,
    /// Set when the environment is torn down: its threadsafe function is
    /// gone, and nothing may be delivered any more.
    closed: bool,
}

/// One environment's deliverer.
pub(crate) struct Deliverer {
    tsfn: sys::napi_threadsafe_function,
    thread: ThreadId,
    queue: Mutex<Queue>,
    /// A `setImmediate` callback will drain the queue: pushes need not wake.
    immediate: AtomicBool,
    /// `setImmediate` and the native function it is given, to schedule the
    /// next batch (see the module comment).
    set_immediate: sys::napi_ref,
    drain_later: sys::napi_ref,
}

// SAFETY: `tsfn` is a threadsafe function, which Node-API lets any thread
// call; everything else is behind mutexes or immutable.
unsafe impl Send for Deliverer {}
// SAFETY: as above.
unsafe impl Sync for Deliverer {}

thread_local! {
    /// Blocking calls and async compiles in flight on this JavaScript thread.
    static IN_FLIGHT: Cell<usize> = const { Cell::new(0) };
    /// This JavaScript thread's deliverer, once its environment made one.
    static CURRENT: RefCell<Weak<Deliverer>> = const { RefCell::new(Weak::new()) };
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock()
}

impl Deliverer {
    /// The deliverer of `env`; only the environment's data creates it.
    ///
    /// # Safety
    /// On `env`'s thread.
    pub(crate) unsafe fn new(env: napi_env) -> Raw<Arc<Deliverer>> {
        let mut tsfn = ptr::null_mut();
        // SAFETY: on `env`'s thread (the caller's contract). No JavaScript
        // function: `drain` does the work; the context is unused.
        unsafe {
            let name = js::string(env, "wasm-engine")?;
            ok(sys::napi_create_threadsafe_function(
                env,
                ptr::null_mut(),
                ptr::null_mut(),
                name,
                0,
                1,
                ptr::null_mut(),
                None,
                ptr::null_mut(),
                Some(drain),
                &mut tsfn,
            ))?;
            ok(sys::napi_unref_threadsafe_function(env, tsfn))?;
        }
        // SAFETY: as above; both references are strong and live as long as
        // the environment (the deliverer is never dropped before teardown).
        let (set_immediate, drain_later) = unsafe {
            let mut global = ptr::null_mut();
            ok(sys::napi_get_global(env, &mut global))?;
            let set_immediate = js::property(env, global, "setImmediate")?;
            let name = "drainDeliveries";
            let mut function = ptr::null_mut();
            ok(sys::napi_create_function(
                env,
                name.as_ptr().cast(),
                name.len() as isize,
                Some(drain_immediate),
                ptr::null_mut(),
                &mut function,
            ))?;
            let (mut a, mut b) = (ptr::null_mut(), ptr::null_mut());
            ok(sys::napi_create_reference(env, set_immediate, 1, &mut a))?;
            ok(sys::napi_create_reference(env, function, 1, &mut b))?;
            (a, b)
        };
        let deliverer = Arc::new(Deliverer {
            tsfn,
            thread: std::thread::current().id(),
            queue: Mutex::default(),
            immediate: AtomicBool::new(false),
            set_immediate,
            drain_later,
        });
        CURRENT.with(|current| current.replace(Arc::downgrade(&deliverer)));
        Ok(deliverer)
    }

    /// The deliverer of the environment whose JavaScript thread this is:
    /// Node runs each environment (the main thread, each worker) on a
    /// thread of its own, and the drain callbacks find theirs here.
    fn of_this_thread() -> Option<Arc<Deliverer>> {
        CURRENT.with(|current| current.borrow().upgrade())
    }

    /// Whether this is the deliverer's JavaScript thread.
    pub(crate) fn on_js_thread(&self) -> bool {
        std::thread::current().id() == self.thread
    }

    /// Queues `delivery` for the JavaScript thread, waking it when the
    /// queue was empty. From any thread. After environment teardown the
    /// delivery is dropped: nobody is left to receive it.
    pub(crate) fn push(&self, delivery: Delivery) {
        let mut queue = lock(&self.queue);
        if queue.closed {
            return;
        }
        let was_empty = queue.items.is_empty();
        queue.items.push(delivery);
        if was_empty && !self.immediate.load(Ordering::Acquire) {
            self.wake(&queue);
        }
    }

    /// Wakes the JavaScript thread; `queue` is held, so teardown cannot
    /// free the threadsafe function meanwhile.
    fn wake(&self, queue: &Queue) {
        if queue.closed {
            return;
        }
        // SAFETY: a threadsafe function may be called from any thread, and
        // this one is alive: teardown marks the queue closed first.
        unsafe {
            sys::napi_call_threadsafe_function(
                self.tsfn,
                ptr::null_mut(),
                sys::ThreadsafeFunctionCallMode::nonblocking,
            )
        };
    }

    /// Closes the queue when `env` is torn down (before Node frees the
    /// threadsafe function), so workers that finish later deliver nothing.
    ///
    /// # Safety
    /// On `env`'s thread.
    pub(crate) unsafe fn close_on_teardown(self: &Arc<Self>, env: napi_env) -> Raw<()> {
        let held = Arc::into_raw(self.clone());
        // SAFETY: the caller's contract; `on_teardown` takes back the Arc.
        let added = ok(unsafe {
            sys::napi_add_env_cleanup_hook(env, Some(on_teardown), held as *mut c_void)
        });
        if added.is_err() {
            // SAFETY: the hook was not added, so this is the only owner of `held`.
            drop(unsafe { Arc::from_raw(held) });
        }
        added
    }

    /// Counts a promise that a delivery will settle, keeping the event
    /// loop alive until it does.
    ///
    /// # Safety
    /// On `env`'s thread.
    pub(crate) unsafe fn begin(&self, env: napi_env) {
        if IN_FLIGHT.with(|n| n.replace(n.get() + 1)) == 0 {
            // SAFETY: on the thread that owns the threadsafe function.
            unsafe { sys::napi_ref_threadsafe_function(env, self.tsfn) };
        }
    }

    /// Ends the count [`Deliverer::begin`] started, once the promise settled.
    ///
    /// # Safety
    /// On `env`'s thread.
    pub(crate) unsafe fn end(&self, env: napi_env) {
        if IN_FLIGHT.with(|n| n.replace(n.get().saturating_sub(1))) == 1 {
            // SAFETY: as in `begin`.
            unsafe { sys::napi_unref_threadsafe_function(env, self.tsfn) };
        }
    }

    /// Creates a promise, counted in flight, and its resolving end.
    ///
    /// # Safety
    /// On `env`'s thread inside a callback.
    pub(crate) unsafe fn promise(&self, env: napi_env) -> Raw<(Deferred, napi_value)> {
        let (mut deferred, mut promise) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: the caller's contract.
        unsafe {
            ok(sys::napi_create_promise(env, &mut deferred, &mut promise))?;
            self.begin(env);
        }
        Ok((Deferred(deferred), promise))
    }

    /// Handles every queued delivery, oldest first.
    unsafe fn run(&self, env: napi_env) {
        let batch = std::mem::take(&mut lock(&self.queue).items);
        for delivery in batch {
            // SAFETY: on the JavaScript thread, inside the threadsafe
            // function's callback; each delivery gets its own scope.
            let _ = unsafe { js::scoped(env, || delivery(env)) };
        }
        if !lock(&self.queue).items.is_empty() && !self.immediate.swap(true, Ordering::AcqRel) {
            // SAFETY: on the JavaScript thread, inside a callback.
            if unsafe { self.schedule_immediate(env) }.is_err() {
                self.immediate.store(false, Ordering::Release);
                self.wake(&lock(&self.queue));
            }
        }
    }

    /// `setImmediate(drainDeliveries)`.
    unsafe fn schedule_immediate(&self, env: napi_env) -> Raw<()> {
        let (mut set_immediate, mut function, mut global) =
            (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
        let mut ignored = ptr::null_mut();
        // SAFETY: the caller's contract; both references are live.
        unsafe {
            ok(sys::napi_get_reference_value(
                env,
                self.set_immediate,
                &mut set_immediate,
            ))?;
            ok(sys::napi_get_reference_value(
                env,
                self.drain_later,
                &mut function,
            ))?;
            ok(sys::napi_get_global(env, &mut global))?;
            ok(sys::napi_call_function(
                env,
                global,
                set_immediate,
                1,
                &function,
                &mut ignored,
            ))
        }
    }
}

unsafe extern "C" fn on_teardown(arg: *mut c_void) {
    // SAFETY: `arg` is the Arc leaked in `close_on_teardown`; Node calls
    // this hook once.
    let deliverer = unsafe { Arc::from_raw(arg.cast_const().cast::<Deliverer>()) };
    lock(&deliverer.queue).closed = true;
}

/// The `setImmediate` callback that drains the next batch.
unsafe extern "C" fn drain_immediate(env: napi_env, _info: sys::napi_callback_info) -> napi_value {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: Node calls this on the environment's JavaScript thread.
        unsafe {
            if let Some(deliverer) = Deliverer::of_this_thread() {
                // Cleared before the batch is taken: a push after that wakes.
                deliverer.immediate.store(false, Ordering::Release);
                deliverer.run(env);
            }
        }
    });
    ptr::null_mut()
}

/// The threadsafe function's callback: runs on the JavaScript thread when
/// woken by [`Deliverer::push`].
unsafe extern "C" fn drain(
    env: napi_env,
    _js_callback: napi_value,
    _context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() {
        // The environment is being torn down.
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: Node calls this on the environment's JavaScript thread.
        unsafe {
            if let Some(deliverer) = Deliverer::of_this_thread() {
                deliverer.run(env);
            }
        }
    });
}
