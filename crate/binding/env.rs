//! What the binding keeps per Node.js environment (the main thread and each
//! worker thread have their own): the error classes the TypeScript layer
//! registered, a scratch `Float64Array` for NaNs, and the deliverer that
//! brings finished blocking calls and posted host calls back to this thread.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;

use napi::sys::{self, napi_env, napi_ref, napi_value};
use wasm_engine_core::ErrorKind;

use crate::deliver::Deliverer;
use crate::handles::Handles;
use crate::js::{self, Raw, ok};
use crate::requests::Requests;

/// Per-environment state. Touched only on its environment's thread, except
/// for the deliverer, which is built for other threads.
pub(crate) struct EnvData {
    classes: RefCell<HashMap<ErrorKind, napi_ref>>,
    /// A one-element `Float64Array` and its storage, for NaNs (see [`EnvData::number`]).
    nan: Cell<Option<(napi_ref, *mut f64)>>,
    pub(crate) deliverer: Arc<Deliverer>,
    /// Questions of guests on workers waiting for JavaScript.
    pub(crate) requests: Arc<Requests>,
    /// The live instance handles, for sweeping the collected ones.
    pub(crate) handles: Handles,
}

impl EnvData {
    /// This environment's data, created on first use.
    ///
    /// # Safety
    /// On `env`'s thread. The reference is valid until the environment is
    /// torn down, which cannot happen while its thread runs a callback.
    pub(crate) unsafe fn of(env: napi_env) -> Raw<&'static EnvData> {
        let mut data: *mut c_void = ptr::null_mut();
        // SAFETY: on `env`'s thread (the caller's contract).
        ok(unsafe { sys::napi_get_instance_data(env, &mut data) })?;
        if data.is_null() {
            // SAFETY: as above.
            let deliverer = unsafe { Deliverer::new(env) }?;
            // SAFETY: as above.
            unsafe { deliverer.close_on_teardown(env) }?;
            let created = Box::into_raw(Box::new(EnvData {
                classes: RefCell::default(),
                nan: Cell::new(None),
                deliverer,
                requests: Arc::default(),
                handles: Handles::default(),
            }));
            // SAFETY: `created` is a live box; `finalize` frees it when the
            // environment is torn down, after which nothing can ask for it.
            ok(unsafe {
                sys::napi_set_instance_data(env, created.cast(), Some(finalize), ptr::null_mut())
            })?;
            data = created.cast();
        }
        // SAFETY: `data` is the `EnvData` boxed above (this binding is the
        // only user of the instance data), alive until teardown.
        Ok(unsafe { &*data.cast::<EnvData>() })
    }

    /// Keeps the constructor of `kind`'s error class.
    pub(crate) unsafe fn register_class(
        &self,
        env: napi_env,
        kind: ErrorKind,
        class: napi_value,
    ) -> Raw<()> {
        let mut reference = ptr::null_mut();
        // SAFETY: on `env`'s thread; a strong reference keeps the class alive
        // as long as the environment (classes are module-level values).
        ok(unsafe { sys::napi_create_reference(env, class, 1, &mut reference) })?;
        if let Some(old) = self.classes.borrow_mut().insert(kind, reference) {
            // SAFETY: `old` was created above on this thread and is dropped from the map.
            unsafe { sys::napi_delete_reference(env, old) };
        }
        Ok(())
    }

    /// The registered class of `kind`, if the TypeScript layer registered one.
    pub(crate) unsafe fn class(&self, env: napi_env, kind: ErrorKind) -> Option<napi_value> {
        let reference = *self.classes.borrow().get(&kind)?;
        let mut value = ptr::null_mut();
        // SAFETY: on `env`'s thread; `reference` is live (strong).
        ok(unsafe { sys::napi_get_reference_value(env, reference, &mut value) }).ok()?;
        Some(value)
    }

    /// `n` as a JavaScript number, NaN bits included.
    ///
    /// `napi_create_double` goes through `v8::Number::New`, which turns every
    /// NaN into the canonical one; V8's own WebAssembly keeps a NaN's sign
    /// and payload. Reading the value out of a `Float64Array` keeps them too,
    /// so NaNs take that path.
    pub(crate) unsafe fn number(&self, env: napi_env, n: f64) -> Raw<napi_value> {
        if !n.is_nan() {
            // SAFETY: on `env`'s thread.
            return unsafe { js::double(env, n) };
        }
        let (array, storage) = match self.nan.get() {
            Some(found) => found,
            // SAFETY: on `env`'s thread.
            None => unsafe { self.create_nan_array(env) }?,
        };
        // SAFETY: `storage` is the 8-byte backing store of the array behind
        // `array`, which the strong reference keeps alive; the array is never
        // handed to JavaScript, so nothing can detach it.
        unsafe { storage.write(n) };
        let mut typed = ptr::null_mut();
        let mut value = ptr::null_mut();
        // SAFETY: on `env`'s thread; `array` is a live strong reference.
        ok(unsafe { sys::napi_get_reference_value(env, array, &mut typed) })?;
        // SAFETY: as above; index 0 exists.
        ok(unsafe { sys::napi_get_element(env, typed, 0, &mut value) })?;
        Ok(value)
    }

    unsafe fn create_nan_array(&self, env: napi_env) -> Raw<(napi_ref, *mut f64)> {
        let mut buffer = ptr::null_mut();
        let mut storage: *mut c_void = ptr::null_mut();
        let mut array = ptr::null_mut();
        let mut reference = ptr::null_mut();
        // SAFETY: on `env`'s thread; the buffer holds exactly one f64.
        unsafe {
            ok(sys::napi_create_arraybuffer(
                env,
                8,
                &mut storage,
                &mut buffer,
            ))?;
            ok(sys::napi_create_typedarray(
                env,
                sys::TypedarrayType::float64_array,
                1,
                buffer,
                0,
                &mut array,
            ))?;
            ok(sys::napi_create_reference(env, array, 1, &mut reference))?;
        }
        let created = (reference, storage.cast::<f64>());
        self.nan.set(Some(created));
        Ok(created)
    }
}

unsafe extern "C" fn finalize(_env: napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the box leaked in `EnvData::of`; Node calls this
    // once, at teardown. References die with the environment.
    drop(unsafe { Box::from_raw(data.cast::<EnvData>()) });
}
