/**
 * Host functions written in JavaScript: the types users implement and the
 * dispatcher that runs them when a guest calls an import.
 */
import { AsyncLocalStorage } from 'node:async_hooks'

import { toBytes, toInteger } from './args'
import { fromNative } from './errors'
import type { HostCall } from './native'

/** A WebAssembly value as JavaScript sees it: i32, f32 and f64 are numbers, i64 is a bigint. */
export type WasmValue = number | bigint

/** What a host function returns: nothing, one value, or an array for several results. */
export type HostResult = WasmValue | void | WasmValue[]

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
 * The engines whose host functions are running in the current async
 * context, so a host function that calls back into its own engine is told
 * so instead of waiting for itself.
 */
const runningHosts = new AsyncLocalStorage<ReadonlySet<object>>()

/** True when called from inside a host function of `engine` (also after an `await` in it). */
export function insideHostOf(engine: object): boolean {
  return runningHosts.getStore()?.has(engine) ?? false
}

/** Host failures by call number, kept until the call's error reaches the caller. */
export class HostFailures {
  readonly #causes = new Map<number, unknown>()

  /** Remembers why host call `seq` failed. */
  record(seq: number, cause: unknown): void {
    this.#causes.set(seq, cause)
    // A failed call whose error never reached JavaScript (its engine closed
    // first) must not pin its cause forever.
    if (this.#causes.size > 64) this.#causes.delete(this.#causes.keys().next().value as number)
  }

  /** Takes the cause recorded for `seq`. */
  take(seq: number): unknown {
    const cause = this.#causes.get(seq)
    this.#causes.delete(seq)
    return cause
  }
}

/**
 * Makes the dispatcher the native side calls for every host call of
 * `engine`: it runs the registered function and answers the call.
 */
export function makeDispatcher(engine: object, table: Registered[], failures: HostFailures): (call: HostCall) => void {
  return (call) => {
    const entry = table[call.index]
    if (entry === undefined) {
      call.reject(`no host function has index ${call.index}`)
      return
    }
    const fail = (err: unknown) => {
      if (call.reject(`${entry.module}.${entry.name} ${entry.asynchronous ? 'rejected' : 'threw'}: ${describe(err)}`)) {
        failures.record(call.seq, err)
      }
    }
    const answer = (value: unknown) => {
      if (!isHostResult(value)) {
        fail(new TypeError(`${entry.module}.${entry.name} returned ${describe(value)}, not a number, a bigint, an array of them or nothing`))
        return
      }
      call.resolve(value as WasmValue | WasmValue[] | undefined)
    }
    const inside = new Set(runningHosts.getStore() ?? [])
    inside.add(engine)
    let result: unknown
    try {
      result = runningHosts.run(inside, () => entry.fn(callerOf(call), ...call.args))
    } catch (err) {
      fail(err)
      return
    }
    if (entry.asynchronous) {
      Promise.resolve(result).then(answer, fail)
    } else if (isThenable(result)) {
      fail(new TypeError(`${entry.module}.${entry.name} returned a promise: register it in asyncImports`))
    } else {
      answer(result)
    }
  }
}

function callerOf(call: HostCall): Caller {
  return {
    get instanceId() {
      return call.instanceId
    },
    get memorySize() {
      return call.memorySize
    },
    read(offset, length) {
      const [off, len] = [toInteger(offset, 'offset'), toInteger(length, 'length')]
      try {
        return call.read(off, len)
      } catch (err) {
        throw fromNative(err)
      }
    },
    write(offset, data) {
      const [off, bytes] = [toInteger(offset, 'offset'), toBytes(data, 'data')]
      try {
        call.write(off, bytes)
      } catch (err) {
        throw fromNative(err)
      }
    },
  }
}

function isHostResult(value: unknown): boolean {
  const scalar = (v: unknown) => typeof v === 'number' || typeof v === 'bigint'
  return value === undefined || scalar(value) || (Array.isArray(value) && value.every(scalar))
}

function isThenable(value: unknown): boolean {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'bigint') return `${value}n`
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? `an array of ${value.length}` : (value.constructor?.name ?? 'an object')
}
