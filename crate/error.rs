//! Every failure the addon reports, named once.
//!
//! Native errors cross into JavaScript as plain `Error` objects whose `code`
//! property carries the kind (and, for traps, the trap name) as
//! `KIND` or `KIND:detail`. The TypeScript layer (`lib/errors.ts`) turns that
//! code into the matching `WasmError` subclass, so this file and that one are
//! the only two places that know the mapping.

use std::fmt;

use wasmtime::Trap;

use crate::host::HostFailure;

/// Why a running guest was stopped from outside.
///
/// Installed as the error of the epoch-deadline callback, so a call that was
/// interrupted can be told apart from a guest trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupt {
    /// The wall-clock budget of the call ran out.
    Timeout,
    /// The caller's `AbortSignal` fired.
    Aborted,
    /// The engine was closed, or the Node environment is shutting down.
    Closed,
}

impl fmt::Display for Interrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interrupt::Timeout => f.write_str("execution deadline reached"),
            Interrupt::Aborted => f.write_str("aborted by its signal"),
            Interrupt::Closed => f.write_str("engine closed"),
        }
    }
}

impl std::error::Error for Interrupt {}

/// A failure of an engine operation, one variant per Freenet `WasmError`
/// variant plus the handle and lifecycle misuses a JavaScript caller can make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WasmError {
    /// The bytes or the text are not a valid module.
    Compile(String),
    /// An export is missing or has another signature than the call needs.
    Export(String),
    /// Instantiation failed: unresolved import, trapping start function,
    /// initial memory over the cap.
    Instantiation(String),
    /// A memory access or growth out of bounds or over the cap.
    Memory(String),
    /// The guest trapped (`trap` names the trap) or a host import failed
    /// (`trap` is `None`; `host_call` numbers the failed call of a
    /// JavaScript import).
    Runtime {
        message: String,
        trap: Option<&'static str>,
        host_call: Option<u64>,
    },
    /// Fuel ran out while metering was on.
    OutOfGas(String),
    /// The wall-clock deadline passed while the guest ran.
    Timeout(String),
    /// Anything else a backend can fail with.
    Other(String),
    /// A handle that was dropped, closed or belongs to another engine.
    InvalidHandle(String),
    /// The engine was closed, by `close()` or after an internal failure.
    Closed(String),
    /// The engine's store is held by a call in progress.
    Busy(String),
    /// An argument JavaScript passed is of the wrong type or range.
    Argument(String),
    /// The caller's `AbortSignal` fired before or while the call ran.
    Aborted(String),
    /// A queued call could not start before its deadline.
    Overloaded(String),
}

impl WasmError {
    /// The `code` property of the JavaScript error: `KIND` or `KIND:detail`.
    fn code(&self) -> String {
        match self {
            WasmError::Compile(_) => "COMPILE".into(),
            WasmError::Export(_) => "EXPORT".into(),
            WasmError::Instantiation(_) => "INSTANTIATION".into(),
            WasmError::Memory(_) => "MEMORY".into(),
            WasmError::Runtime { trap: Some(t), .. } => format!("RUNTIME:{t}"),
            WasmError::Runtime {
                host_call: Some(seq),
                ..
            } => format!("RUNTIME:host:{seq}"),
            WasmError::Runtime { .. } => "RUNTIME".into(),
            WasmError::OutOfGas(_) => "OUT_OF_GAS".into(),
            WasmError::Timeout(_) => "TIMEOUT".into(),
            WasmError::Other(_) => "OTHER".into(),
            WasmError::InvalidHandle(_) => "OTHER:invalid_handle".into(),
            WasmError::Closed(_) => "OTHER:engine_closed".into(),
            WasmError::Busy(_) => "ENGINE_BUSY".into(),
            WasmError::Argument(_) => "ARGUMENT".into(),
            WasmError::Aborted(_) => "ABORTED".into(),
            WasmError::Overloaded(_) => "SCHEDULER_OVERLOADED".into(),
        }
    }

    fn message(&self) -> &str {
        match self {
            WasmError::Compile(m)
            | WasmError::Export(m)
            | WasmError::Instantiation(m)
            | WasmError::Memory(m)
            | WasmError::Runtime { message: m, .. }
            | WasmError::OutOfGas(m)
            | WasmError::Timeout(m)
            | WasmError::Other(m)
            | WasmError::InvalidHandle(m)
            | WasmError::Closed(m)
            | WasmError::Busy(m)
            | WasmError::Argument(m)
            | WasmError::Aborted(m)
            | WasmError::Overloaded(m) => m,
        }
    }

    /// Classifies the failure of a guest entry (`what` names it, such as
    /// `export "run" of instance 7`): interrupts, fuel exhaustion and traps
    /// become their own kinds, anything else a host failure.
    pub(crate) fn from_guest(err: wasmtime::Error, what: &str) -> WasmError {
        match err.downcast_ref::<Interrupt>() {
            Some(Interrupt::Timeout) => {
                return WasmError::Timeout(format!("{what} ran past its deadline and was stopped"));
            }
            Some(Interrupt::Aborted) => {
                return WasmError::Aborted(format!("{what} was stopped by its abort signal"));
            }
            Some(Interrupt::Closed) => {
                return WasmError::Closed(format!("{what} was stopped: its engine was closed"));
            }
            None => {}
        }
        if let Some(failure) = err.downcast_ref::<HostFailure>() {
            return WasmError::Runtime {
                message: format!("{what} failed in a host function: {}", failure.message),
                trap: None,
                host_call: Some(failure.seq),
            };
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => WasmError::OutOfGas(format!("{what} ran out of fuel")),
            Some(trap) => {
                let mut message = format!("{what} trapped: {trap}");
                if let Some(backtrace) = err.downcast_ref::<wasmtime::WasmBacktrace>() {
                    message.push('\n');
                    message.push_str(&backtrace.to_string());
                }
                WasmError::Runtime {
                    message,
                    trap: Some(trap_name(*trap)),
                    host_call: None,
                }
            }
            None => WasmError::Runtime {
                message: format!("{what} failed: {}", describe(&err)),
                trap: None,
                host_call: None,
            },
        }
    }
}

impl fmt::Display for WasmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

/// The result of every `#[napi]` entry point: the error's status string
/// becomes the JavaScript error's `code`. (napi-derive recognises fallible
/// entry points by the name `Result`, hence the name of this alias.)
pub(crate) type Result<T, E = napi::Error<String>> = std::result::Result<T, E>;

impl From<WasmError> for napi::Error<String> {
    fn from(err: WasmError) -> Self {
        napi::Error::new(err.code(), err.message().to_owned())
    }
}

impl From<napi::Error> for WasmError {
    /// A failure of Node-API itself (for instance, the environment is
    /// shutting down).
    fn from(err: napi::Error) -> Self {
        WasmError::Other(format!(
            "Node-API call failed ({}): {}",
            err.status, err.reason
        ))
    }
}

/// The error chain of a wasmtime failure on one line, with the guest
/// backtrace (when wasmtime recorded one) on the lines after it.
pub(crate) fn describe(err: &wasmtime::Error) -> String {
    let mut text = String::new();
    for (i, cause) in err.chain().enumerate() {
        if i > 0 {
            text.push_str(": ");
        }
        text.push_str(&cause.to_string());
    }
    text
}

/// Stable snake_case name of a wasmtime trap, as exposed in `trapCode`.
///
/// The names follow wasmtime's variant names so users can look them up; a
/// trap added by a later wasmtime release maps to `"unknown_trap"` until it
/// is named here.
pub(crate) fn trap_name(trap: Trap) -> &'static str {
    match trap {
        Trap::StackOverflow => "stack_overflow",
        Trap::MemoryOutOfBounds => "memory_out_of_bounds",
        Trap::HeapMisaligned => "heap_misaligned",
        Trap::TableOutOfBounds => "table_out_of_bounds",
        Trap::IndirectCallToNull => "indirect_call_to_null",
        Trap::BadSignature => "bad_signature",
        Trap::IntegerOverflow => "integer_overflow",
        Trap::IntegerDivisionByZero => "integer_division_by_zero",
        Trap::BadConversionToInteger => "bad_conversion_to_integer",
        Trap::UnreachableCodeReached => "unreachable_code_reached",
        Trap::Interrupt => "interrupt",
        Trap::OutOfFuel => "out_of_fuel",
        Trap::AtomicWaitNonSharedMemory => "atomic_wait_non_shared_memory",
        Trap::NullReference => "null_reference",
        Trap::ArrayOutOfBounds => "array_out_of_bounds",
        Trap::AllocationTooLarge => "allocation_too_large",
        Trap::CastFailure => "cast_failure",
        Trap::UnhandledTag => "unhandled_tag",
        Trap::ContinuationAlreadyConsumed => "continuation_already_consumed",
        _ => "unknown_trap",
    }
}
