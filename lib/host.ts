/**
 * Host functions written in JavaScript: the types users implement and the
 * dispatcher the native side calls when a guest calls an import.
 */
import { AsyncLocalStorage } from 'node:async_hooks'

import { native, type NativeEngine } from './native'

import type { HostResult, WasmValue } from './types'

export type { HostResult, WasmValue } from './types'

/** The calling instance, as a host function sees it. */
export interface Caller {
  /** The id the instance was created with. */
  readonly instanceId: bigint
  /** Live size in bytes of the instance's exported `memory` (0 when it has none). */
  readonly memorySize: number
  /** Copies `length` bytes at `offset` out of the instance's memory; out of bounds is `MemoryError`. */
  read(offset: number, length: number): Uint8Array
  /** Copies `data` into the instance's memory at `offset`; out of bounds is `MemoryError`. */
  write(offset: number, data: Uint8Array): void
}

/** A synchronous import. Arguments follow the import's declared parameter types. */
export type HostFunction = (caller: Caller, ...args: WasmValue[]) => HostResult

/** An asynchronous import: the guest waits for the promise, the event loop does not. */
export type AsyncHostFunction = (caller: Caller, ...args: WasmValue[]) => Promise<HostResult>

/** Imports by namespace, then by name. */
export type ImportObject<F> = Record<string, Record<string, F>>

/** One registered function, in the order the native dispatcher indexes them. */
export interface Registered {
  module: string
  name: string
  asynchronous: boolean
  fn: (caller: Caller, ...args: WasmValue[]) => unknown
}

/** Flattens `imports` and `asyncImports` into one indexed list, checking that each entry is a function. */
export function registerImports(
  imports: ImportObject<HostFunction> | undefined,
  asyncImports: ImportObject<AsyncHostFunction> | undefined,
): Registered[] {
  const table: Registered[] = []
  const seen = new Set<string>()
  for (const [option, object, asynchronous] of [
    ['imports', imports, false],
    ['asyncImports', asyncImports, true],
  ] as const) {
    if (object === undefined) continue
    if (typeof object !== 'object' || object === null) throw new TypeError(`options.${option} must be an object`)
    for (const [module, functions] of Object.entries(object)) {
      if (typeof functions !== 'object' || functions === null) {
        throw new TypeError(`options.${option}.${module} must be an object of functions`)
      }
      for (const [name, fn] of Object.entries(functions)) {
        if (typeof fn !== 'function') throw new TypeError(`options.${option}.${module}.${name} must be a function`)
        const key = `${module}\u0000${name}`
        if (seen.has(key)) throw new TypeError(`${module}.${name} is registered both as a sync and as an async import`)
        seen.add(key)
        table.push({ module, name, asynchronous, fn: fn as Registered['fn'] })
      }
    }
  }
  return table
}

/**
 * The engines whose async host functions are running in the current async
 * context, so one that awaits a call into its own engine is told so instead
 * of waiting for itself. (Sync host functions need no record: a call into
 * the engine running them fails at once with `EngineBusyError`.)
 */
const runningHosts = new AsyncLocalStorage<ReadonlySet<object>>()

/** True when called from inside an async host function of `engine` (also after an `await` in it). */
export function insideHostOf(engine: object): boolean {
  return runningHosts.getStore()?.has(engine) ?? false
}

/** The calling instance of one host call; valid until the call returns or its promise settles. */
class HostCaller implements Caller {
  readonly #engine: NativeEngine
  readonly #token: number
  readonly #instanceId: number | bigint

  constructor(engine: NativeEngine, token: number, instanceId: number | bigint) {
    this.#engine = engine
    this.#token = token
    this.#instanceId = instanceId
  }

  get instanceId(): bigint {
    return BigInt(this.#instanceId)
  }

  get memorySize(): number {
    return this.#engine.callerMemorySize(this.#token)
  }

  read(offset: number, length: number): Uint8Array {
    return this.#engine.callerRead(this.#token, offset, length)
  }

  write(offset: number, data: Uint8Array): void {
    this.#engine.callerWrite(this.#token, offset, data)
  }
}

/** What the native side calls for each host call: `dispatch(index, token, instanceId, ...args)`. */
export type Dispatcher = (index: number, token: number, instanceId: number | bigint, ...args: WasmValue[]) => unknown

/**
 * Makes the dispatcher of `engine`, whose native half `nativeOf` returns.
 * A sync import's value (or throw) goes straight back to the native side,
 * which converts and checks it; an async import's promise settles the call
 * later through `resolveRequest`/`rejectRequest`.
 */
export function makeDispatcher(engine: object, table: Registered[], nativeOf: () => NativeEngine): Dispatcher {
  return (index, token, instanceId, ...args) => {
    const entry = table[index] as Registered
    const caller = new HostCaller(nativeOf(), token, instanceId)
    if (!entry.asynchronous) return entry.fn(caller, ...args)
    const inside = new Set(runningHosts.getStore() ?? [])
    inside.add(engine)
    let result: unknown
    try {
      result = runningHosts.run(inside, () => entry.fn(caller, ...args))
    } catch (err) {
      native.rejectRequest(token, err)
      return undefined
    }
    Promise.resolve(result).then(
      (value) => native.resolveRequest(token, value),
      (reason) => native.rejectRequest(token, reason),
    )
    return undefined
  }
}
