//! JavaScript values kept by native code past the callback that gave
//! them: a host function's thrown value, an engine's dispatcher, a
//! runtime's hooks. Deleted on their environment's thread only.

use std::ptr;
use std::sync::Arc;

use napi::sys::{self, napi_env, napi_ref, napi_value};

use crate::deliver::Deliverer;
use crate::env::EnvData;
use crate::js::{Raw, ok};

/// A Node-API reference, deleted only on its environment's thread.
pub(crate) struct Reference(napi_ref);

// SAFETY: the reference is only dereferenced or deleted on the JavaScript
// thread (see `JsValue`), carried here only to get there.
unsafe impl Send for Reference {}

impl Reference {
    /// # Safety
    /// On the thread of the `env` the reference was created in.
    unsafe fn delete(self, env: napi_env) {
        // SAFETY: the caller's contract.
        unsafe { sys::napi_delete_reference(env, self.0) };
    }
}

/// A JavaScript value kept for later: a host function's thrown value (an
/// error's `cause`, held strongly) or an engine's dispatcher (an object,
/// held weakly).
pub(crate) struct JsValue {
    env: napi_env,
    reference: napi_ref,
    /// Whether the reference is to a one-element array holding the value:
    /// Node-API before version 10 refers to objects only, and a host
    /// function may throw a string.
    boxed: bool,
    deliverer: Arc<Deliverer>,
}

// SAFETY: `env` and `reference` are only used on the JavaScript thread of
// `env` (`get` is called there; `drop` checks the thread and otherwise hands
// the reference to that thread through the deliverer).
unsafe impl Send for JsValue {}
// SAFETY: as above; `&JsValue` gives nothing off that thread.
unsafe impl Sync for JsValue {}

impl JsValue {
    /// Keeps any value, strongly.
    ///
    /// # Safety
    /// On `env`'s thread inside a callback or handle scope.
    pub(crate) unsafe fn strong(env: napi_env, value: napi_value) -> Raw<JsValue> {
        let mut holder = ptr::null_mut();
        // SAFETY: the caller's contract.
        unsafe {
            ok(sys::napi_create_array_with_length(env, 1, &mut holder))?;
            ok(sys::napi_set_element(env, holder, 0, value))?;
            JsValue::refer(env, holder, 1, true)
        }
    }

    /// Keeps an object weakly: it may be collected meanwhile.
    ///
    /// # Safety
    /// On `env`'s thread inside a callback or handle scope.
    pub(crate) unsafe fn weak(env: napi_env, object: napi_value) -> Raw<JsValue> {
        // SAFETY: the caller's contract.
        unsafe { JsValue::refer(env, object, 0, false) }
    }

    unsafe fn refer(env: napi_env, value: napi_value, count: u32, boxed: bool) -> Raw<JsValue> {
        let mut reference = ptr::null_mut();
        // SAFETY: the caller's contract.
        unsafe {
            ok(sys::napi_create_reference(
                env,
                value,
                count,
                &mut reference,
            ))?;
            let deliverer = EnvData::of(env)?.deliverer.clone();
            Ok(JsValue {
                env,
                reference,
                boxed,
                deliverer,
            })
        }
    }

    /// The value; `None` when it was held weakly and collected.
    ///
    /// # Safety
    /// On the thread of the `env` it was created in, inside a callback or
    /// handle scope.
    pub(crate) unsafe fn get(&self, env: napi_env) -> Raw<Option<napi_value>> {
        let mut value = ptr::null_mut();
        // SAFETY: the caller's contract; the reference is live until drop.
        ok(unsafe { sys::napi_get_reference_value(env, self.reference, &mut value) })?;
        if value.is_null() || !self.boxed {
            return Ok((!value.is_null()).then_some(value));
        }
        let mut held = ptr::null_mut();
        // SAFETY: as above; a boxed value is the holder array's element 0.
        ok(unsafe { sys::napi_get_element(env, value, 0, &mut held) })?;
        Ok(Some(held))
    }
}

impl JsValue {
    /// Holds the value strongly until [`JsValue::unhold`], also when it was
    /// kept weakly: for work in flight that needs it (a queued call needs
    /// its engine's host functions, whatever the caller drops).
    ///
    /// # Safety
    /// On the thread of the `env` it was created in, inside a callback.
    pub(crate) unsafe fn hold(&self, env: napi_env) -> Raw<()> {
        let mut count = 0;
        // SAFETY: the caller's contract; the reference is live until drop.
        ok(unsafe { sys::napi_reference_ref(env, self.reference, &mut count) })
    }

    /// Ends one [`JsValue::hold`].
    ///
    /// # Safety
    /// As for [`JsValue::hold`], after a successful one.
    pub(crate) unsafe fn unhold(&self, env: napi_env) {
        let mut count = 0;
        // SAFETY: the caller's contract.
        unsafe { sys::napi_reference_unref(env, self.reference, &mut count) };
    }
}

impl Drop for JsValue {
    fn drop(&mut self) {
        if self.deliverer.on_js_thread() {
            // SAFETY: on the environment's thread, where `env` is alive.
            unsafe { sys::napi_delete_reference(self.env, self.reference) };
        } else {
            let reference = Reference(self.reference);
            // SAFETY: deliveries run on the environment's thread.
            self.deliverer
                .push(Box::new(move |env| unsafe { reference.delete(env) }));
        }
    }
}
