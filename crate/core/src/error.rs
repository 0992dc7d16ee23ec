//! Every failure the engine reports, named once.
//!
//! A [`WasmError`] carries its [`ErrorKind`] and, where they apply, the trap,
//! the instance and the export involved and the value a host function failed
//! with. The binding turns it into a JavaScript error in one place; nothing
//! here knows how.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use wasmtime::Trap;

/// What a host function failed with, opaque to the core: the binding keeps
/// the thrown JavaScript value in it and takes it back out when it builds the
/// error for JavaScript.
pub type Cause = Arc<dyn Any + Send + Sync>;

/// The kinds of failure, one per Freenet `WasmError` variant plus the handle
/// and lifecycle misuses a caller can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The bytes or the text are not a valid module.
    Compile,
    /// An export is missing or has another signature than the call needs.
    Export,
    /// Instantiation failed: unresolved import, trapping start function,
    /// initial memory over the cap.
    Instantiation,
    /// A memory access or growth out of bounds or over the cap.
    Memory,
    /// The guest trapped, or a host import failed.
    Runtime,
    /// Fuel ran out while metering was on.
    OutOfGas,
    /// The wall-clock deadline passed while the guest ran.
    Timeout,
    /// Anything else a backend can fail with.
    Other,
    /// A handle that was dropped, closed or belongs to another engine.
    InvalidHandle,
    /// The engine was closed, by `close()` or after an internal failure.
    Closed,
    /// The engine's store is held by a call in progress.
    Busy,
    /// An argument is of the wrong type or range.
    Argument,
    /// The caller's abort signal fired before or while the call ran.
    Aborted,
    /// A queued call could not start before its deadline.
    Overloaded,
    /// A Freenet contract or delegate answered with its own error (see
    /// [`ContractFailure`]).
    Contract,
}

impl ErrorKind {
    /// Every kind, for bindings that map them all.
    pub const ALL: [ErrorKind; 15] = [
        ErrorKind::Compile,
        ErrorKind::Export,
        ErrorKind::Instantiation,
        ErrorKind::Memory,
        ErrorKind::Runtime,
        ErrorKind::OutOfGas,
        ErrorKind::Timeout,
        ErrorKind::Other,
        ErrorKind::InvalidHandle,
        ErrorKind::Closed,
        ErrorKind::Busy,
        ErrorKind::Argument,
        ErrorKind::Aborted,
        ErrorKind::Overloaded,
        ErrorKind::Contract,
    ];

    /// The stable code JavaScript sees in `error.code`. Handle and lifecycle
    /// misuses share `OTHER`, as Freenet's `WasmError::Other` does; their
    /// classes tell them apart.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Compile => "COMPILE",
            ErrorKind::Export => "EXPORT",
            ErrorKind::Instantiation => "INSTANTIATION",
            ErrorKind::Memory => "MEMORY",
            ErrorKind::Runtime => "RUNTIME",
            ErrorKind::OutOfGas => "OUT_OF_GAS",
            ErrorKind::Timeout => "TIMEOUT",
            ErrorKind::Other | ErrorKind::InvalidHandle | ErrorKind::Closed => "OTHER",
            ErrorKind::Busy => "ENGINE_BUSY",
            ErrorKind::Argument => "ARGUMENT",
            ErrorKind::Aborted => "ABORTED",
            ErrorKind::Overloaded => "SCHEDULER_OVERLOADED",
            ErrorKind::Contract => "CONTRACT",
        }
    }
}

/// The traps a guest can hit, with stable snake_case names.
///
/// The names follow wasmtime's `Trap` variants so users can look them up; a
/// trap added by a later wasmtime release maps to [`TrapCode::Unknown`]
/// until it is named here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrapCode {
    StackOverflow,
    MemoryOutOfBounds,
    HeapMisaligned,
    TableOutOfBounds,
    IndirectCallToNull,
    BadSignature,
    IntegerOverflow,
    IntegerDivisionByZero,
    BadConversionToInteger,
    UnreachableCodeReached,
    Interrupt,
    OutOfFuel,
    AtomicWaitNonSharedMemory,
    NullReference,
    ArrayOutOfBounds,
    AllocationTooLarge,
    CastFailure,
    UnhandledTag,
    ContinuationAlreadyConsumed,
    Unknown,
}

impl TrapCode {
    /// Every trap code, in declaration order.
    pub const ALL: [TrapCode; 20] = [
        TrapCode::StackOverflow,
        TrapCode::MemoryOutOfBounds,
        TrapCode::HeapMisaligned,
        TrapCode::TableOutOfBounds,
        TrapCode::IndirectCallToNull,
        TrapCode::BadSignature,
        TrapCode::IntegerOverflow,
        TrapCode::IntegerDivisionByZero,
        TrapCode::BadConversionToInteger,
        TrapCode::UnreachableCodeReached,
        TrapCode::Interrupt,
        TrapCode::OutOfFuel,
        TrapCode::AtomicWaitNonSharedMemory,
        TrapCode::NullReference,
        TrapCode::ArrayOutOfBounds,
        TrapCode::AllocationTooLarge,
        TrapCode::CastFailure,
        TrapCode::UnhandledTag,
        TrapCode::ContinuationAlreadyConsumed,
        TrapCode::Unknown,
    ];

    /// The name JavaScript sees in `error.trapCode`.
    pub fn name(self) -> &'static str {
        match self {
            TrapCode::StackOverflow => "stack_overflow",
            TrapCode::MemoryOutOfBounds => "memory_out_of_bounds",
            TrapCode::HeapMisaligned => "heap_misaligned",
            TrapCode::TableOutOfBounds => "table_out_of_bounds",
            TrapCode::IndirectCallToNull => "indirect_call_to_null",
            TrapCode::BadSignature => "bad_signature",
            TrapCode::IntegerOverflow => "integer_overflow",
            TrapCode::IntegerDivisionByZero => "integer_division_by_zero",
            TrapCode::BadConversionToInteger => "bad_conversion_to_integer",
            TrapCode::UnreachableCodeReached => "unreachable_code_reached",
            TrapCode::Interrupt => "interrupt",
            TrapCode::OutOfFuel => "out_of_fuel",
            TrapCode::AtomicWaitNonSharedMemory => "atomic_wait_non_shared_memory",
            TrapCode::NullReference => "null_reference",
            TrapCode::ArrayOutOfBounds => "array_out_of_bounds",
            TrapCode::AllocationTooLarge => "allocation_too_large",
            TrapCode::CastFailure => "cast_failure",
            TrapCode::UnhandledTag => "unhandled_tag",
            TrapCode::ContinuationAlreadyConsumed => "continuation_already_consumed",
            TrapCode::Unknown => "unknown_trap",
        }
    }

    /// The code of a wasmtime trap.
    pub fn of(trap: Trap) -> TrapCode {
        match trap {
            Trap::StackOverflow => TrapCode::StackOverflow,
            Trap::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds,
            Trap::HeapMisaligned => TrapCode::HeapMisaligned,
            Trap::TableOutOfBounds => TrapCode::TableOutOfBounds,
            Trap::IndirectCallToNull => TrapCode::IndirectCallToNull,
            Trap::BadSignature => TrapCode::BadSignature,
            Trap::IntegerOverflow => TrapCode::IntegerOverflow,
            Trap::IntegerDivisionByZero => TrapCode::IntegerDivisionByZero,
            Trap::BadConversionToInteger => TrapCode::BadConversionToInteger,
            Trap::UnreachableCodeReached => TrapCode::UnreachableCodeReached,
            Trap::Interrupt => TrapCode::Interrupt,
            Trap::OutOfFuel => TrapCode::OutOfFuel,
            Trap::AtomicWaitNonSharedMemory => TrapCode::AtomicWaitNonSharedMemory,
            Trap::NullReference => TrapCode::NullReference,
            Trap::ArrayOutOfBounds => TrapCode::ArrayOutOfBounds,
            Trap::AllocationTooLarge => TrapCode::AllocationTooLarge,
            Trap::CastFailure => TrapCode::CastFailure,
            Trap::UnhandledTag => TrapCode::UnhandledTag,
            Trap::ContinuationAlreadyConsumed => TrapCode::ContinuationAlreadyConsumed,
            _ => TrapCode::Unknown,
        }
    }
}

/// Why a running guest was stopped from outside.
///
/// Installed as the error of the epoch-deadline callback, so a call that was
/// interrupted can be told apart from a guest trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// The wall-clock budget of the call ran out.
    Timeout,
    /// The caller's abort signal fired.
    Aborted,
    /// The engine was closed, or the host is shutting down.
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

/// A host function failed, or answered with values of the wrong types.
#[derive(Debug, Clone)]
pub struct HostFailure {
    /// What happened, naming the import.
    pub message: String,
    /// The value the host function threw or rejected with, if any.
    pub cause: Option<Cause>,
}

impl HostFailure {
    /// A failure without a thrown value.
    pub fn new(message: impl Into<String>) -> HostFailure {
        HostFailure {
            message: message.into(),
            cause: None,
        }
    }
}

impl fmt::Display for HostFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostFailure {}

/// The error a Freenet contract (or delegate) returned: freenet-stdlib's
/// `ContractError` variant as a stable name, and its text when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractFailure {
    /// One of `deser`, `invalidUpdate`, `invalidUpdateWithInfo`,
    /// `invalidState`, `invalidDelta`, `other`.
    pub kind: &'static str,
    /// The contract's own text, for the variants that carry one.
    pub reason: Option<String>,
}

/// A failure of an engine operation.
///
/// Cheap to move: the message is built once, where the failure happens; the
/// optional fields say which instance and export it concerns.
#[derive(Clone)]
pub struct WasmError {
    kind: ErrorKind,
    message: String,
    trap: Option<TrapCode>,
    instance: Option<i64>,
    export: Option<Arc<str>>,
    cause: Option<Cause>,
    contract: Option<Box<ContractFailure>>,
    /// Set when the failure is a full instance pool.
    pool_full: bool,
}

impl fmt::Debug for WasmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("trap", &self.trap)
            .field("instance", &self.instance)
            .field("export", &self.export)
            .field("cause", &self.cause.is_some())
            .field("contract", &self.contract)
            .finish()
    }
}

impl WasmError {
    /// A failure of `kind` described by `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> WasmError {
        WasmError {
            kind,
            message: message.into(),
            trap: None,
            instance: None,
            export: None,
            cause: None,
            contract: None,
            pool_full: false,
        }
    }

    /// The same failure, marked as a full instance pool: a caller that can
    /// free slots (instances its garbage collector found unreachable) may
    /// free them and try again.
    pub(crate) fn of_full_pool(mut self) -> WasmError {
        self.pool_full = true;
        self
    }

    /// Whether instantiation failed because the instance pool was full.
    pub fn is_pool_full(&self) -> bool {
        self.pool_full
    }

    /// A contract's own error, with `message` saying where it came from.
    pub fn contract(message: impl Into<String>, failure: ContractFailure) -> WasmError {
        let mut error = WasmError::new(ErrorKind::Contract, message);
        error.contract = Some(Box::new(failure));
        error
    }

    /// The contract's error, for [`ErrorKind::Contract`] failures.
    pub fn contract_failure(&self) -> Option<&ContractFailure> {
        self.contract.as_deref()
    }

    /// The same failure, concerning the instance created with `id`.
    pub fn at_instance(mut self, id: i64) -> WasmError {
        self.instance = Some(id);
        self
    }

    /// The same failure, concerning the export `name`.
    pub fn at_export(mut self, name: &str) -> WasmError {
        self.export = Some(name.into());
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The trap the guest hit, for [`ErrorKind::Runtime`] failures that are traps.
    pub fn trap(&self) -> Option<TrapCode> {
        self.trap
    }

    /// The id of the instance involved, when one is.
    pub fn instance(&self) -> Option<i64> {
        self.instance
    }

    /// The name of the export involved, when one is.
    pub fn export(&self) -> Option<&str> {
        self.export.as_deref()
    }

    /// What a failed host function threw, when a host function failed.
    pub fn cause(&self) -> Option<&Cause> {
        self.cause.as_ref()
    }

    /// Classifies the failure of a guest entry (`what` names it, such as
    /// `export "run" of instance 7`): interrupts, fuel exhaustion and traps
    /// become their own kinds, anything else a host failure.
    pub fn from_guest(err: wasmtime::Error, what: &str) -> WasmError {
        match err.downcast_ref::<Interrupt>() {
            Some(Interrupt::Timeout) => {
                return WasmError::new(
                    ErrorKind::Timeout,
                    format!("{what} ran past its deadline and was stopped"),
                );
            }
            Some(Interrupt::Aborted) => {
                return WasmError::new(
                    ErrorKind::Aborted,
                    format!("{what} was stopped by its abort signal"),
                );
            }
            Some(Interrupt::Closed) => {
                return WasmError::new(
                    ErrorKind::Closed,
                    format!("{what} was stopped: its engine was closed"),
                );
            }
            None => {}
        }
        if let Some(failure) = err.downcast_ref::<HostFailure>() {
            let mut error = WasmError::new(
                ErrorKind::Runtime,
                format!("{what} failed in a host function: {}", failure.message),
            );
            error.cause = failure.cause.clone();
            return error;
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => {
                WasmError::new(ErrorKind::OutOfGas, format!("{what} ran out of fuel"))
            }
            Some(trap) => {
                let mut message = format!("{what} trapped: {trap}");
                if let Some(backtrace) = err.downcast_ref::<wasmtime::WasmBacktrace>() {
                    message.push('\n');
                    message.push_str(&backtrace.to_string());
                }
                let mut error = WasmError::new(ErrorKind::Runtime, message);
                error.trap = Some(TrapCode::of(*trap));
                error
            }
            None => WasmError::new(
                ErrorKind::Runtime,
                format!("{what} failed: {}", describe(&err)),
            ),
        }
    }
}

impl fmt::Display for WasmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for WasmError {}

/// Result of every fallible core operation.
pub type Result<T, E = WasmError> = std::result::Result<T, E>;

/// The error chain of a wasmtime failure on one line.
pub fn describe(err: &wasmtime::Error) -> String {
    let mut text = String::new();
    for (i, cause) in err.chain().enumerate() {
        if i > 0 {
            text.push_str(": ");
        }
        text.push_str(&cause.to_string());
    }
    text
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
