/**
 * The `WasmError` hierarchy: every failure of an engine operation is one of
 * these classes, with a stable string `code`.
 *
 * The native addon builds these errors itself, once, from its own error
 * kinds: the classes are registered with it when this module loads. The
 * lists of codes below are checked against the native ones by a test, so
 * the two cannot drift.
 */
import { native } from './native'

/** Every {@link WasmErrorCode}, as the native side produces them. */
export const WASM_ERROR_CODES = [
  'COMPILE',
  'EXPORT',
  'INSTANTIATION',
  'MEMORY',
  'RUNTIME',
  'OUT_OF_GAS',
  'TIMEOUT',
  'OTHER',
  'ENGINE_BUSY',
  'ABORTED',
  'SCHEDULER_OVERLOADED',
  'CONTRACT',
] as const

/**
 * Stable codes of the `WasmError` classes: the native side's, and
 * `COMPONENT` ({@link ComponentError}), which only the TypeScript layer
 * throws.
 */
export type WasmErrorCode = (typeof WASM_ERROR_CODES)[number] | 'COMPONENT'

/** Every {@link TrapCode}, as the native side produces them. */
export const TRAP_CODES = [
  'stack_overflow',
  'memory_out_of_bounds',
  'heap_misaligned',
  'table_out_of_bounds',
  'indirect_call_to_null',
  'bad_signature',
  'integer_overflow',
  'integer_division_by_zero',
  'bad_conversion_to_integer',
  'unreachable_code_reached',
  'interrupt',
  'out_of_fuel',
  'atomic_wait_non_shared_memory',
  'null_reference',
  'array_out_of_bounds',
  'allocation_too_large',
  'cast_failure',
  'unhandled_tag',
  'continuation_already_consumed',
  'unknown_trap',
] as const

/** Names of wasmtime traps as reported in {@link RuntimeError.trapCode}. */
export type TrapCode = (typeof TRAP_CODES)[number]

/** Base class of every error an engine operation throws for a WebAssembly reason. */
export class WasmError extends Error {
  /** Stable machine-readable kind of the failure. */
  readonly code: WasmErrorCode
  /** The id of the instance involved, when the failure concerns one. */
  declare readonly instanceId?: bigint
  /** The name of the export involved, when the failure concerns one. */
  declare readonly exportName?: string
  /** For a WASI program that stopped without an exit code: what it wrote to standard output until then. */
  declare readonly stdout?: Uint8Array
  /** For a WASI program that stopped without an exit code: what it wrote to standard error until then. */
  declare readonly stderr?: Uint8Array

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
 * The variants of freenet-stdlib's `ContractError` (and `DelegateError`'s
 * `deser` and `other`), as {@link ContractError.kind} names them, and
 * `unexpectedMessage`: today's node refusing a delegate's unsubscribe
 * request (`abi: '0.2.154'`).
 */
export type ContractErrorKind =
  | 'deser'
  | 'invalidUpdate'
  | 'invalidUpdateWithInfo'
  | 'invalidState'
  | 'invalidDelta'
  | 'other'
  | 'unexpectedMessage'

/**
 * A Freenet contract (or delegate) answered with its own error. Also what a
 * result of the wrong kind becomes (kind `deser`): freenet-stdlib answers so
 * when it cannot decode its inputs.
 */
export class ContractError extends WasmError {
  /** Which `ContractError` variant the contract returned. */
  declare readonly kind: ContractErrorKind
  /** The contract's own text (`Deser`, `InvalidUpdateWithInfo`, `Other`), or `null`. */
  declare readonly reason: string | null

  constructor(message: string, options?: { cause?: unknown }) {
    super('CONTRACT', message, options)
  }
}

/**
 * A component's export returned the error case of its `result<T, E>`
 * (jco's `ComponentError`): `payload` is `E` as JavaScript sees it. Thrown
 * by the TypeScript layer, never by the native side.
 */
export class ComponentError extends WasmError {
  /** The `err` value of the `result`. */
  readonly payload: unknown

  constructor(payload: unknown, message = 'the component returned an error') {
    super('COMPONENT', message)
    this.payload = payload
  }
}

native.registerErrorClasses({
  COMPILE: CompileError,
  EXPORT: ExportError,
  INSTANTIATION: InstantiationError,
  MEMORY: MemoryError,
  RUNTIME: RuntimeError,
  OUT_OF_GAS: OutOfGasError,
  TIMEOUT: TimeoutError,
  OTHER: OtherError,
  INVALID_HANDLE: InvalidHandleError,
  ENGINE_CLOSED: EngineClosedError,
  ENGINE_BUSY: EngineBusyError,
  ABORTED: AbortedError,
  SCHEDULER_OVERLOADED: SchedulerOverloadedError,
  CONTRACT: ContractError,
})
