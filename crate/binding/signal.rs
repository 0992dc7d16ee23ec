//! The cancellation side of an `AbortSignal`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use napi_derive::napi;
use wasm_engine_core::deadline::Flag;

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
