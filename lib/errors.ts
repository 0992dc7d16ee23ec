/**
 * The `WasmError` hierarchy: every failure of an engine operation is one of
 * these classes, with a stable string `code`.
 *
 * The native addon reports failures as plain errors whose `code` is `KIND`
 * or `KIND:detail`; {@link fromNative} is the one place that turns those into
 * classes.
 */

/** Stable codes of the `WasmError` classes. */
export type WasmErrorCode =
  | 'COMPILE'
  | 'EXPORT'
  | 'INSTANTIATION'
  | 'MEMORY'
  | 'RUNTIME'
  | 'OUT_OF_GAS'
  | 'TIMEOUT'
  | 'OTHER'
  | 'ENGINE_BUSY'
  | 'ABORTED'
  | 'SCHEDULER_OVERLOADED'

/** Names of wasmtime traps as reported in {@link RuntimeError.trapCode}. */
export type TrapCode =
  | 'stack_overflow'
  | 'memory_out_of_bounds'
  | 'heap_misaligned'
  | 'table_out_of_bounds'
  | 'indirect_call_to_null'
  | 'bad_signature'
  | 'integer_overflow'
  | 'integer_division_by_zero'
  | 'bad_conversion_to_integer'
  | 'unreachable_code_reached'
  | 'interrupt'
  | 'out_of_fuel'
  | 'atomic_wait_non_shared_memory'
  | 'null_reference'
  | 'array_out_of_bounds'
  | 'allocation_too_large'
  | 'cast_failure'
  | 'unhandled_tag'
  | 'continuation_already_consumed'
  | 'unknown_trap'

/** Base class of every error an engine operation throws for a WebAssembly reason. */
export class WasmError extends Error {
  /** Stable machine-readable kind of the failure. */
  readonly code: WasmErrorCode

  constructor(code: WasmErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** The bytes or text are not a valid WebAssembly module. */
export class CompileError extends WasmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('COMPILE', message, options)
  }
}

/** An export is missing or has a different signature than the call needs. */
export class ExportError extends WasmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EXPORT', message, options)
  }
}

/** Instantiation failed: unresolved import, trapping start function, initial memory over the cap. */
export class InstantiationError extends WasmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INSTANTIATION', message, options)
  }
}

/** A memory access out of bounds, or a growth refused by the page cap. */
export class MemoryError extends WasmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MEMORY', message, options)
  }
}

/** The guest trapped (see `trapCode`) or a host function failed (`trapCode` undefined). */
export class RuntimeError extends WasmError {
  /** The wasmtime trap, as a stable snake_case name; undefined when no trap occurred. */
  readonly trapCode: TrapCode | undefined

  constructor(message: string, trapCode?: TrapCode, options?: { cause?: unknown }) {
    super('RUNTIME', message, options)
    this.trapCode = trapCode
  }
}

/** The guest used up its fuel while metering was on. */
export class OutOfGasError extends WasmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('OUT_OF_GAS', message, options)
  }
}

/** The guest ran past `maxExecutionSeconds` and was stopped. */
export class TimeoutError extends WasmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TIMEOUT', message, options)
  }
}

/** Any other failure of the engine. */
export class OtherError extends WasmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('OTHER', message, options)
  }
}

/** A module or instance handle that was dropped, or that belongs to another engine. */
export class InvalidHandleError extends OtherError {}

/** The engine was closed, by `close()` or after an internal failure. */
export class EngineClosedError extends OtherError {}

/** The engine is running another call; the operation was refused rather than waiting. */
export class EngineBusyError extends WasmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ENGINE_BUSY', message, options)
  }
}

/** The call's `AbortSignal` fired: before the call started (it never ran) or while it ran (it was stopped). */
export class AbortedError extends WasmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ABORTED', message, options)
  }
}

/** A queued blocking call could not start before its deadline: the engine's queue is saturated. */
export class SchedulerOverloadedError extends WasmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SCHEDULER_OVERLOADED', message, options)
  }
}

/**
 * Turns an error thrown by the native addon into its `WasmError` class, or
 * into a `TypeError` when the addon refused an argument. Anything else is
 * returned unchanged. `hostCause` supplies the value a failed host call
 * threw, for the `RuntimeError`'s `cause`.
 */
export function fromNative(err: unknown, hostCause?: (seq: number) => unknown): unknown {
  if (!(err instanceof Error) || typeof (err as { code?: unknown }).code !== 'string') {
    return err
  }
  const code = (err as Error & { code: string }).code
  const colon = code.indexOf(':')
  const kind = colon < 0 ? code : code.slice(0, colon)
  const detail = colon < 0 ? undefined : code.slice(colon + 1)
  const message = err.message
  switch (kind) {
    case 'COMPILE':
      return new CompileError(message)
    case 'EXPORT':
      return new ExportError(message)
    case 'INSTANTIATION':
      return new InstantiationError(message)
    case 'MEMORY':
      return new MemoryError(message)
    case 'RUNTIME':
      // `RUNTIME:host:<seq>`: host call <seq> failed; its JavaScript cause is kept by the engine.
      if (detail?.startsWith('host:')) {
        return new RuntimeError(message, undefined, { cause: hostCause?.(Number(detail.slice(5))) })
      }
      return new RuntimeError(message, detail as TrapCode | undefined)
    case 'OUT_OF_GAS':
      return new OutOfGasError(message)
    case 'TIMEOUT':
      return new TimeoutError(message)
    case 'ENGINE_BUSY':
      return new EngineBusyError(message)
    case 'ABORTED':
      return new AbortedError(message)
    case 'SCHEDULER_OVERLOADED':
      return new SchedulerOverloadedError(message)
    case 'OTHER':
      if (detail === 'invalid_handle') return new InvalidHandleError(message)
      if (detail === 'engine_closed') return new EngineClosedError(message)
      return new OtherError(message)
    case 'ARGUMENT':
    // napi-rs reports a value of the wrong JavaScript type with its own statuses.
    case 'InvalidArg':
    case 'ObjectExpected':
    case 'StringExpected':
    case 'NumberExpected':
    case 'BooleanExpected':
    case 'BigintExpected':
    case 'ArrayExpected':
    case 'FunctionExpected':
      return new TypeError(message)
    default:
      return new OtherError(message, { cause: err })
  }
}
