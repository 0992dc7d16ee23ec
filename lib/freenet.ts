/**
 * Freenet contracts and delegates from Node: `wasm-engine/freenet`.
 *
 * A {@link ContractRuntime} runs contract modules built by Freenet's own
 * tooling the way freenet-core 0.2.48 runs them: one fresh instance per
 * operation, inputs written through the guest's buffers (streamed for
 * modules that import `freenet_contract_io`), the result decoded from
 * freenet-stdlib's bincode. The host ABI (`freenet_log`, `freenet_rand`,
 * `freenet_time`, `freenet_contract_io`, ...) is built in, in Rust: an
 * operation crosses between JavaScript and native code once.
 *
 * ```ts
 * import { ContractRuntime } from 'wasm-engine/freenet'
 * const runtime = new ContractRuntime({ maxExecutionSeconds: 1 })
 * const contract = runtime.loadContract(wasmBytes)
 * const verdict = await contract.validateState(parameters, state) // { type: 'valid' }
 * runtime.close()
 * ```
 *
 * @module
 */
import { debuglog } from 'node:util'

import type { EngineStats, RuntimeConfig } from '../index'
import { type NativeEngine, native } from './native'

export { ContractError, type ContractErrorKind, WasmError } from './errors'
export type { EngineStats, RuntimeConfig } from '../index'

/** What `validateState` decided. */
export type ValidateResult =
  | { type: 'valid' }
  | { type: 'invalid' }
  /** The contract needs the states of these related contracts (32-byte ids) first. */
  | { type: 'requestRelated'; keys: Uint8Array[] }

/** A related contract handed to `validateState`: its 32-byte id, and its state when known. */
export interface RelatedContract {
  key: Uint8Array
  state: Uint8Array | null
}

/** One update handed to `updateState`: freenet-stdlib's `UpdateData`. `relatedTo` is a 32-byte contract id. */
export type UpdateData =
  | { type: 'state'; state: Uint8Array }
  | { type: 'delta'; delta: Uint8Array }
  | { type: 'stateAndDelta'; state: Uint8Array; delta: Uint8Array }
  | { type: 'relatedState'; relatedTo: Uint8Array; state: Uint8Array }
  | { type: 'relatedDelta'; relatedTo: Uint8Array; delta: Uint8Array }
  | { type: 'relatedStateAndDelta'; relatedTo: Uint8Array; state: Uint8Array; delta: Uint8Array }

/** What `updateState` produced: the new state (`null` when unchanged) and the related contracts it asks for. */
export interface UpdateModification {
  newState: Uint8Array | null
  related: { key: Uint8Array; mode: 'stateOnce' | 'stateThenSubscribe' }[]
}

/** The host side of a runtime: where guests' log lines and the time come from. */
export interface FreenetHostOptions {
  /**
   * Receives each line a guest logs (`freenet_log`), in order, just before
   * the operation that logged it settles (also when it fails). Default:
   * discarded, unless `NODE_DEBUG` names `wasm-engine`.
   */
  log?: (message: string, context: { instanceId: bigint }) => void
  /**
   * What `utc_now` (`freenet_time`) reports; read once per operation, only
   * for modules that import `freenet_time`. Default: the system clock, read
   * at each call.
   */
  clock?: () => Date | number
}

/** The operations of the native `callContract`. */
const Op = { Validate: 0, Update: 1, Summarize: 2, Delta: 3 } as const

type NativeFreenet = InstanceType<typeof native.NativeFreenet>
type FreenetModule = InstanceType<typeof native.FreenetModule>

/**
 * An engine for Freenet contracts and delegates, with its own limits
 * (`maxExecutionSeconds` bounds each whole operation; fuel, when metering,
 * is reset for each), compile caches and queue of asynchronous operations.
 * Release it with {@link ContractRuntime.close} (or `using`).
 */
export class ContractRuntime {
  readonly #engine: NativeEngine
  readonly #native: NativeFreenet
  readonly #clock: (() => number) | undefined

  /** Creates a runtime; throws `OtherError` for an invalid config. */
  constructor(config: RuntimeConfig = {}, host: FreenetHostOptions = {}) {
    if (typeof host !== 'object' || host === null) throw new TypeError('host must be an object')
    const { log, clock } = host
    if (log !== undefined && typeof log !== 'function') throw new TypeError('host.log must be a function')
    if (clock !== undefined && typeof clock !== 'function') throw new TypeError('host.clock must be a function')
    this.#engine = new native.NativeEngine(config, undefined, undefined, [], undefined)
    this.#native = new native.NativeFreenet(this.#engine, lineLogger(log))
    this.#clock = clock === undefined ? undefined : () => +clock()
  }

  /** Compiles a contract module (cached by content hash) on this thread. */
  loadContract(code: Uint8Array): Contract {
    return new Contract(this, this.#native.prepare(this.#engine.compile(code)))
  }

  /** Compiles a contract module on a native thread; the event loop keeps running. */
  async loadContractAsync(code: Uint8Array): Promise<Contract> {
    const module = await this.#engine.compileAsync(code)
    return new Contract(this, this.#native.prepare(module))
  }

  /** Counters of the runtime's engine: instances, queue, compile caches. */
  stats(): EngineStats {
    return this.#engine.stats()
  }

  /** Stops running operations and fails queued ones with `EngineClosedError`. Idempotent. */
  close(): void {
    this.#engine.close()
  }

  /** Same as {@link ContractRuntime.close}, for `using runtime = new ContractRuntime()`. */
  [Symbol.dispose](): void {
    this.close()
  }

  /** @internal Runs one contract operation, on this thread or on a worker. */
  run(module: FreenetModule, op: number, parameters: Uint8Array, state: Uint8Array, extra: unknown, sync: boolean): unknown {
    const clock = module.usesTime && this.#clock !== undefined ? this.#clock() : undefined
    return sync
      ? this.#native.callContract(module, op, parameters, state, extra, clock)
      : this.#native.callContractAsync(module, op, parameters, state, extra, clock)
  }
}

/** The logger handed to the native side, or `undefined` when nobody listens. */
function lineLogger(log: FreenetHostOptions['log']): ((message: string, instanceId: bigint) => void) | undefined {
  if (log !== undefined) return (message, instanceId) => log(message, { instanceId })
  const debug = debuglog('wasm-engine')
  if (!debug.enabled) return undefined
  return (message, instanceId) => debug('instance %s: %s', instanceId, message)
}

/**
 * A compiled contract. Each operation runs on a fresh instance, as
 * freenet-core runs it; the asynchronous ones on a native thread (the
 * event loop keeps running), the `Sync` ones on the calling thread.
 * A contract's own error is thrown as `ContractError`; traps, fuel,
 * deadlines and memory caps keep their `WasmError` classes.
 */
export class Contract {
  readonly #runtime: ContractRuntime
  readonly #module: FreenetModule

  /** @internal */
  constructor(runtime: ContractRuntime, module: FreenetModule) {
    this.#runtime = runtime
    this.#module = module
  }

  /** Whether the module imports `freenet_contract_io`, so its inputs are streamed. */
  get streaming(): boolean {
    return this.#module.streaming
  }

  /** `validate_state(parameters, state, related)`. */
  validateState(parameters: Uint8Array, state: Uint8Array, related?: RelatedContract[]): Promise<ValidateResult> {
    return this.#runtime.run(this.#module, Op.Validate, parameters, state, related, false) as Promise<ValidateResult>
  }

  /** {@link Contract.validateState} on the calling thread. */
  validateStateSync(parameters: Uint8Array, state: Uint8Array, related?: RelatedContract[]): ValidateResult {
    return this.#runtime.run(this.#module, Op.Validate, parameters, state, related, true) as ValidateResult
  }

  /** `update_state(parameters, state, updates)`. */
  updateState(parameters: Uint8Array, state: Uint8Array, updates: UpdateData[]): Promise<UpdateModification> {
    return this.#runtime.run(this.#module, Op.Update, parameters, state, updates, false) as Promise<UpdateModification>
  }

  /** {@link Contract.updateState} on the calling thread. */
  updateStateSync(parameters: Uint8Array, state: Uint8Array, updates: UpdateData[]): UpdateModification {
    return this.#runtime.run(this.#module, Op.Update, parameters, state, updates, true) as UpdateModification
  }

  /** `summarize_state(parameters, state)`: the state's summary. */
  summarizeState(parameters: Uint8Array, state: Uint8Array): Promise<Uint8Array> {
    return this.#runtime.run(this.#module, Op.Summarize, parameters, state, undefined, false) as Promise<Uint8Array>
  }

  /** {@link Contract.summarizeState} on the calling thread. */
  summarizeStateSync(parameters: Uint8Array, state: Uint8Array): Uint8Array {
    return this.#runtime.run(this.#module, Op.Summarize, parameters, state, undefined, true) as Uint8Array
  }

  /** `get_state_delta(parameters, state, summary)`: what the holder of `summary` lacks. */
  getStateDelta(parameters: Uint8Array, state: Uint8Array, summary: Uint8Array): Promise<Uint8Array> {
    return this.#runtime.run(this.#module, Op.Delta, parameters, state, summary, false) as Promise<Uint8Array>
  }

  /** {@link Contract.getStateDelta} on the calling thread. */
  getStateDeltaSync(parameters: Uint8Array, state: Uint8Array, summary: Uint8Array): Uint8Array {
    return this.#runtime.run(this.#module, Op.Delta, parameters, state, summary, true) as Uint8Array
  }
}
