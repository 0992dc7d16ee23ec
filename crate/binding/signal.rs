//! The cancellation side of an `AbortSignal`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use napi::sys::{self, napi_env, napi_value};
use napi_derive::napi;
use wasm_engine_core::deadline::Flag;
use wasm_engine_core::{ErrorKind, WasmError};

use crate::convert;
use crate::js;

/// The TypeScript layer calls `abort()` when the signal fires; the call
/// holding the token stops at its next epoch tick, or never starts.
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

/// The abort flag of `signal`, a `CallSignal`, `undefined` or `null`.
///
/// # Safety
/// On `env`'s thread inside a callback.
pub(crate) unsafe fn flag_of(
    env: napi_env,
    signal: napi_value,
) -> Result<Option<wasm_engine_core::deadline::Flag>, WasmError> {
    // SAFETY: the caller's contract.
    unsafe {
        match js::type_of(env, signal).map_err(convert::broken)? {
            sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(None),
            _ => js::class::<CallSignal>(env, signal)
                .map(|signal| Some(signal.flag()))
                .ok_or_else(|| WasmError::new(ErrorKind::Argument, "signal must be a CallSignal")),
        }
    }
}
