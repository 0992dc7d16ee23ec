/**
 * Freenet contracts and delegates from Node: `wasm-engine/freenet`.
 *
 * A {@link ContractRuntime} runs contract modules built by Freenet's own
 * tooling the way freenet-core runs them (as of 0.2.48 by default, or of
 * 0.2.154, the node the network runs today: see {@link FreenetRuntimeConfig.abi}): one fresh instance per
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

import type { EngineStats, RuntimeConfig } from './types'
import { type NativeEngine, native } from './native'
import { type DelegateManifest, readManifest } from './freenet-manifest'

export { ContractError, type ContractErrorKind, WasmError } from './errors'
export type { EngineStats, RuntimeConfig } from './types'
export type { DelegateManifest, LifecycleEventName, Wakeup } from './freenet-manifest'

/** A freenet-core release whose delegate ABI a runtime follows. */
export type FreenetAbi = '0.2.48' | '0.2.154'

/**
 * A runtime's configuration: the engine's limits ({@link RuntimeConfig})
 * and how it behaves as a Freenet node.
 */
export interface FreenetRuntimeConfig extends RuntimeConfig {
  /**
   * Whose delegate ABI to follow. `'0.2.48'` (the default in this release;
   * `'0.2.154'` becomes the default in the next minor release, 0.2.0):
   * freenet-core 0.2.48 with freenet-stdlib 0.6.0. `'0.2.154'`: the node
   * the network runs today, with freenet-stdlib 0.12.1: `list_secrets`,
   * no contract-writing delegate imports (such delegates fail to load),
   * the unsubscribe, wake-up and lifecycle messages, delegate contexts kept
   * between calls, every outbound drain attested, and each guest entry of
   * a delegate given the whole `maxExecutionSeconds`. Contracts run the
   * same under both. The README's "Freenet contracts" section has the
   * table of differences.
   */
  abi?: FreenetAbi
  /**
   * Under `'0.2.154'`, what a contract's `freenet_time` clock does: `'warn'`
   * (the default, as the node: it answers, and the `log` hook gets the
   * node's deprecation warning once per code hash) or `'refuse'` (the
   * call traps, as the node's coming release will; importing it without
   * calling it still loads). Delegates keep the clock either way.
   */
  clock?: 'warn' | 'refuse'
  /**
   * Under `'0.2.154'`, how long a delegate context is kept after its last
   * write, in seconds. Default 600, the node's 10 minutes.
   */
  delegateContextTtlSeconds?: number
}

/** Options of one {@link Delegate.process} call. */
export interface ProcessOptions {
  /**
   * The user the call runs for (any bytes that name them), as a node that
   * hosts users keys delegate contexts by user. Default: none, as on a
   * node that hosts no users: one context per delegate. Ignored under
   * `'0.2.48'`, where no context outlives its call.
   */
  user?: Uint8Array
}

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

/** A delegate's key: `blake3(codeHash ‖ parameters)` and the code hash, 32 bytes each. */
export interface DelegateKey {
  key: Uint8Array
  codeHash: Uint8Array
}

/**
 * Who sends the messages a delegate processes: a web app's contract id
 * (32 bytes), or a tagged origin. `null` when unknown.
 */
export type MessageOrigin = Uint8Array | { type: 'webApp'; contractId: Uint8Array } | { type: 'delegate'; key: DelegateKey }

/**
 * A message into a delegate: one per variant of freenet-stdlib's
 * `InboundDelegateMsg` (0.6.0's eight, and the three 0.12.1 appends, which
 * only a runtime with `abi: '0.2.154'` takes). `context` defaults to empty
 * and `processed` to false; an `applicationMessage`'s context is replaced
 * by the running context, as freenet-core does. `contractId` is a 32-byte
 * contract instance id; `error` (`null` or absent for success) is the
 * result of a put, update, subscribe or unsubscribe. `wakeupFired` and
 * `lifecycle` are what a node delivers to delegates whose manifest asks
 * for them ({@link Delegate.manifest}).
 */
export type InboundDelegateMsg =
  | { type: 'applicationMessage'; payload: Uint8Array; context?: Uint8Array; processed?: boolean }
  | { type: 'userResponse'; requestId: number; response: Uint8Array; context?: Uint8Array }
  | { type: 'getContractResponse'; contractId: Uint8Array; state: Uint8Array | null; context?: Uint8Array }
  | { type: 'putContractResponse'; contractId: Uint8Array; error?: string | null; context?: Uint8Array }
  | { type: 'updateContractResponse'; contractId: Uint8Array; error?: string | null; context?: Uint8Array }
  | { type: 'subscribeContractResponse'; contractId: Uint8Array; error?: string | null; context?: Uint8Array }
  | { type: 'contractNotification'; contractId: Uint8Array; newState: Uint8Array; context?: Uint8Array }
  | {
      type: 'delegateMessage'
      target: DelegateKey
      sender: DelegateKey
      payload: Uint8Array
      context?: Uint8Array
      processed?: boolean
    }
  | { type: 'unsubscribeContractResponse'; contractId: Uint8Array; error?: string | null; context?: Uint8Array }
  | { type: 'wakeupFired'; tag: Uint8Array }
  | { type: 'lifecycle'; event: LifecycleEvent }

/** A node's lifecycle event, as `lifecycle` messages carry it. */
export type LifecycleEvent =
  | { type: 'installed' }
  /** `downSinceMs`: when the node last stopped (ms since the epoch), `null` or absent when unknown (today's node always sends `null`). */
  | { type: 'nodeStarted'; downSinceMs?: number | bigint | null }

/** A contract as a delegate's `putContractRequest` carries it. */
export interface WrappedContract {
  code: Uint8Array
  codeHash: Uint8Array
  parameters: Uint8Array
  key: { instanceId: Uint8Array; codeHash: Uint8Array }
}

/**
 * A message from a delegate: one per variant of freenet-stdlib's
 * `OutboundDelegateMsg`. `unsubscribeContractRequest` (0.12.1) never
 * reaches a caller: under `'0.2.154'` it fails the call as today's node
 * does (`ContractError` of kind `unexpectedMessage`), under `'0.2.48'` the
 * result does not decode (kind `other`). It is typed for code that
 * decodes delegate results itself.
 */
export type OutboundDelegateMsg =
  | { type: 'applicationMessage'; payload: Uint8Array; context: Uint8Array; processed: boolean }
  | { type: 'requestUserInput'; requestId: number; message: Uint8Array; responses: Uint8Array[] }
  | { type: 'contextUpdated'; context: Uint8Array }
  | { type: 'getContractRequest'; contractId: Uint8Array; context: Uint8Array; processed: boolean }
  | {
      type: 'putContractRequest'
      contract: WrappedContract
      state: Uint8Array
      relatedContracts: RelatedContract[]
      context: Uint8Array
      processed: boolean
    }
  | { type: 'updateContractRequest'; contractId: Uint8Array; update: UpdateData; context: Uint8Array; processed: boolean }
  | { type: 'subscribeContractRequest'; contractId: Uint8Array; context: Uint8Array; processed: boolean }
  | {
      type: 'sendDelegateMessage'
      target: DelegateKey
      sender: DelegateKey
      payload: Uint8Array
      context: Uint8Array
      processed: boolean
    }
  | { type: 'unsubscribeContractRequest'; contractId: Uint8Array; context: Uint8Array; processed: boolean }

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
  /**
   * Where delegates keep their secrets (`freenet_delegate_secrets`),
   * scoped by delegate key. Default: in memory, per runtime. Its functions
   * may return promises only for {@link Delegate.process}: the synchronous
   * `processSync` cannot wait, and such a request fails.
   */
  secrets?: SecretStore
  /**
   * The contract states V2 delegates read and write
   * (`freenet_delegate_contracts`). Default: none, so reads find no
   * contract (-7) and writes find no registered code (-10), Freenet's
   * codes. May return promises (for {@link Delegate.process}).
   */
  contracts?: ContractStore
}

/**
 * A delegate secret store. A function that throws (or rejects) makes the
 * guest see Freenet's storage error code; the reason reaches the `log` hook.
 */
export interface SecretStore {
  /** The secret, or `null`/`undefined` when there is none. */
  get(delegate: DelegateKey, key: Uint8Array): Uint8Array | null | undefined | Promise<Uint8Array | null | undefined>
  set(delegate: DelegateKey, key: Uint8Array, value: Uint8Array): void | Promise<void>
  /** Whether the secret exists; when absent, `get` answers it. */
  has?(delegate: DelegateKey, key: Uint8Array): boolean | Promise<boolean>
  /** Removes the secret; removing a missing one is not an error. */
  remove(delegate: DelegateKey, key: Uint8Array): void | Promise<void>
  /**
   * The keys of the delegate's secrets that start with `prefix` (all of
   * them for an empty prefix), in the order they were first set, as the
   * node lists them: what `list_secrets` answers under `'0.2.154'`. The
   * runtime drops keys starting with the node's hidden prefix
   * `\0freenet-migrate/` and keeps the first 4,096. Without it (or when it
   * throws) the guest sees an empty list, as from a node whose key
   * registry is unreadable, and the `log` hook says why.
   */
  list?(delegate: DelegateKey, prefix: Uint8Array): Uint8Array[] | Promise<Uint8Array[]>
}

/**
 * The contract states delegates reach. `contractId` is a 32-byte contract
 * instance id; states are raw bytes. Returning `false` refuses: `put` and
 * `subscribe` for a contract whose code is not registered (-10), `update`
 * for one without a state (-7). Throwing (or rejecting) is a store error (-8).
 */
export interface ContractStore {
  get(contractId: Uint8Array): Uint8Array | null | undefined | Promise<Uint8Array | null | undefined>
  put(contractId: Uint8Array, state: Uint8Array): boolean | void | Promise<boolean | void>
  update(contractId: Uint8Array, state: Uint8Array): boolean | void | Promise<boolean | void>
  subscribe(contractId: Uint8Array): boolean | void | Promise<boolean | void>
}

/**
 * The log and store functions of each runtime: the native side holds them
 * weakly (so hooks that capture their runtime can be collected with it),
 * this keeps them alive exactly as long as their runtime.
 */
const heldHooks = new WeakMap<object, unknown[]>()

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
  /** The delegate ABI this runtime follows. */
  readonly abi: FreenetAbi

  /** Creates a runtime; throws `OtherError` for an invalid engine config, `TypeError` for an invalid `abi`, `clock` or host option. */
  constructor(config: FreenetRuntimeConfig = {}, host: FreenetHostOptions = {}) {
    if (typeof config !== 'object' || config === null) throw new TypeError('config must be an object')
    const { abi = '0.2.48', clock: clockPolicy = 'warn', delegateContextTtlSeconds = 600, ...engineConfig } = config
    if (abi !== '0.2.48' && abi !== '0.2.154') {
      throw new TypeError(`config.abi must be '0.2.48' or '0.2.154' (a freenet-core release), got ${String(abi)}`)
    }
    if (clockPolicy !== 'warn' && clockPolicy !== 'refuse') {
      throw new TypeError(`config.clock must be 'warn' or 'refuse', got ${String(clockPolicy)}`)
    }
    if (typeof delegateContextTtlSeconds !== 'number' || !(delegateContextTtlSeconds > 0) || !Number.isFinite(delegateContextTtlSeconds)) {
      throw new TypeError(`config.delegateContextTtlSeconds must be a positive number, got ${String(delegateContextTtlSeconds)}`)
    }
    this.abi = abi
    if (typeof host !== 'object' || host === null) throw new TypeError('host must be an object')
    const { log, clock, secrets, contracts } = host
    if (log !== undefined && typeof log !== 'function') throw new TypeError('host.log must be a function')
    if (clock !== undefined && typeof clock !== 'function') throw new TypeError('host.clock must be a function')
    checkStore(secrets, 'secrets', ['get', 'set', 'remove'])
    checkStore(contracts, 'contracts', ['get', 'put', 'update', 'subscribe'])
    this.#engine = new native.NativeEngine({ config: engineConfig })
    const store = secrets === undefined && contracts === undefined ? undefined : storeDispatcher(secrets, contracts)
    const logger = lineLogger(log)
    heldHooks.set(this, [store, logger])
    this.#native = new native.NativeFreenet(
      this.#engine,
      abi,
      clockPolicy,
      delegateContextTtlSeconds,
      logger,
      store,
      secrets !== undefined,
      contracts !== undefined,
    )
    this.#clock = clock === undefined ? undefined : () => milliseconds(clock())
  }

  /** Compiles a contract module (cached by content hash) on this thread. */
  loadContract(code: Uint8Array): Contract {
    return new Contract(this, this.#native.prepare(this.#engine.compile(code), code))
  }

  /** Compiles a contract module on a native thread; the event loop keeps running. */
  async loadContractAsync(code: Uint8Array): Promise<Contract> {
    const module = await this.#engine.compileAsync(code)
    return new Contract(this, this.#native.prepare(module, code))
  }

  /** Compiles a delegate module (cached by content hash) on this thread. */
  loadDelegate(code: Uint8Array): Delegate {
    return new Delegate(this, this.#native.prepare(this.#engine.compile(code), code))
  }

  /** Compiles a delegate module on a native thread; the event loop keeps running. */
  async loadDelegateAsync(code: Uint8Array): Promise<Delegate> {
    const module = await this.#engine.compileAsync(code)
    return new Delegate(this, this.#native.prepare(module, code))
  }

  /**
   * Fuel left after the last operation, `undefined` when metering is off.
   * Each operation starts with the full budget (`maxExecutionSeconds` ×
   * `cpuCyclesPerSecond` × (1 + `safetyMargin`)).
   */
  remainingFuel(): bigint | undefined {
    return this.#engine.remainingFuel() ?? undefined
  }

  /** Counters of the runtime's engine: instances, queue, compile caches. */
  stats(): EngineStats {
    return this.#engine.stats()
  }

  /**
   * Forgets the delegate contexts kept between calls (`'0.2.154'`): every
   * user's context of the delegate `key` (as {@link Delegate.key} gives
   * it), or all of them without `key`, as the node does when a delegate is
   * unregistered. Returns how many went. Costs a scan of the kept contexts.
   */
  clearDelegateContext(key?: DelegateKey): number {
    return this.#native.clearDelegateContext(key)
  }

  /** How many delegate contexts the runtime keeps now (always 0 under `'0.2.48'`). */
  get delegateContexts(): number {
    return this.#native.delegateContexts
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
    return settle(sync, () => this.#native.callContract(module, op, parameters, state, extra, this.#now(module), sync))
  }

  /** @internal Runs a delegate's `process`, on this thread or on a worker. */
  process(module: FreenetModule, parameters: Uint8Array, origin: unknown, messages: unknown[], options: ProcessOptions | undefined, sync: boolean): unknown {
    return settle(sync, () => {
      if (options !== undefined && (typeof options !== 'object' || options === null)) throw new TypeError('options must be an object')
      return this.#native.process(module, parameters, origin, messages, options?.user, this.#now(module), sync)
    })
  }

  /** The time `utc_now` reports for one operation of `module`, when a clock was given. */
  #now(module: FreenetModule): number | undefined {
    return module.usesTime && this.#clock !== undefined ? this.#clock() : undefined
  }
}

/** What `clock()` returned, as milliseconds since the epoch; anything but a valid `Date` or finite number is a `TypeError`. */
function milliseconds(time: Date | number): number {
  const ms = typeof time === 'number' ? time : time instanceof Date ? time.getTime() : Number.NaN
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
    throw new TypeError(`host.clock() must return a valid Date or a number of milliseconds, got ${String(time)}`)
  }
  return ms
}

/** Checks that `store`, when given, has the functions `names`. */
function checkStore(store: object | undefined, option: string, names: string[]): void {
  if (store === undefined) return
  if (typeof store !== 'object' || store === null) throw new TypeError(`host.${option} must be an object`)
  for (const name of names) {
    if (typeof (store as Record<string, unknown>)[name] !== 'function') {
      throw new TypeError(`host.${option}.${name} must be a function`)
    }
  }
}

/**
 * What the native side calls for each store request:
 * `store(token, kind, ...args)`. A value at hand comes back as `[value]`;
 * a promise settles the request later through `resolveRequest`/`rejectRequest`
 * (token 0 marks a synchronous call, which cannot wait).
 */
function storeDispatcher(
  secrets: SecretStore | undefined,
  contracts: ContractStore | undefined,
): (token: number, kind: number, ...args: unknown[]) => unknown {
  const run = (kind: number, args: unknown[]): unknown => {
    const [a, b, c] = args as [never, never, never]
    switch (kind) {
      case 0:
        return secrets!.get(a, b)
      case 1:
        return secrets!.set(a, b, c)
      case 2:
        return secrets!.remove(a, b)
      case 3:
        return contracts!.get(a)
      case 4:
        return contracts!.put(a, b)
      case 5:
        return contracts!.update(a, b)
      case 6:
        return contracts!.subscribe(a)
      case 7: {
        if (secrets!.has !== undefined) return secrets!.has(a, b)
        const value = secrets!.get(a, b)
        return isThenable(value) ? Promise.resolve(value).then((found) => found != null) : value != null
      }
      case 8:
        if (secrets!.list === undefined) throw new TypeError('the secret store has no list(delegate, prefix) function')
        return secrets!.list(a, b)
      default:
        throw new TypeError(`unknown store request ${kind}`)
    }
  }
  return (token, kind, ...args) => {
    const value = run(kind, args)
    if (!isThenable(value)) return [value]
    if (token === 0) {
      // Nobody will read it: keep a rejection from going unhandled.
      value.then(undefined, () => {})
      return undefined
    }
    value.then(
      (resolved) => native.resolveRequest(token, resolved),
      (reason) => native.rejectRequest(token, reason),
    )
    return undefined
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

/** Runs `start`; for an asynchronous operation, a failure to start (a bad argument, a closed runtime) rejects the promise instead of throwing. */
function settle(sync: boolean, start: () => unknown): unknown {
  if (sync) return start()
  try {
    return start()
  } catch (err) {
    return Promise.reject(err)
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

  /** Freenet's code hash of the module: `blake3` of its bytes (32 bytes). */
  get codeHash(): Uint8Array {
    return this.#module.codeHash
  }

  /** The contract's instance id with `parameters`: `blake3(codeHash ‖ parameters)`, as freenet-core derives it. */
  instanceId(parameters: Uint8Array): Uint8Array {
    return this.#module.key(parameters)
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

/**
 * A compiled delegate. Each `process` call runs its messages on one fresh
 * instance, as freenet-core's `inbound_app_message` does: the context runs
 * from message to message (`freenet_delegate_ctx`), secrets are kept per
 * delegate key (in the runtime's secret store), and the outbound messages come back with
 * freenet-core's rules applied. A delegate's own `DelegateError` is thrown
 * as `ContractError` (kind `deser` or `other`).
 */
export class Delegate {
  readonly #runtime: ContractRuntime
  readonly #module: FreenetModule
  #manifest: { manifest: DelegateManifest | null; problem: string | null } | undefined

  /** @internal */
  constructor(runtime: ContractRuntime, module: FreenetModule) {
    this.#runtime = runtime
    this.#module = module
  }

  /** Freenet's code hash of the module: `blake3` of its bytes (32 bytes). */
  get codeHash(): Uint8Array {
    return this.#module.codeHash
  }

  /** The delegate's key with `parameters`, as freenet-core derives it. */
  key(parameters: Uint8Array): DelegateKey {
    return { key: this.#module.key(parameters), codeHash: this.#module.codeHash }
  }

  /**
   * The delegate's `freenet-manifest` section (freenet-stdlib 0.12), read
   * as the node reads it: the lifecycle events and wake-ups it asks for,
   * so that an embedder knows which `lifecycle` and `wakeupFired` messages
   * to deliver. `null` when the module has none, or one the node would
   * ignore ({@link Delegate.manifestProblem} says why).
   */
  get manifest(): DelegateManifest | null {
    return this.#readManifest().manifest
  }

  /** Why the module's manifest section is unreadable (the node then ignores it), or `null`. */
  get manifestProblem(): string | null {
    return this.#readManifest().problem
  }

  #readManifest(): { manifest: DelegateManifest | null; problem: string | null } {
    this.#manifest ??= readManifest(this.#module.manifestSections)
    return this.#manifest
  }

  /** Processes `messages` on a native thread; resolves with the outbound messages. */
  process(
    parameters: Uint8Array,
    origin: MessageOrigin | null,
    messages: InboundDelegateMsg[],
    options?: ProcessOptions,
  ): Promise<OutboundDelegateMsg[]> {
    return this.#runtime.process(this.#module, parameters, origin, messages, options, false) as Promise<OutboundDelegateMsg[]>
  }

  /** {@link Delegate.process} on the calling thread. */
  processSync(parameters: Uint8Array, origin: MessageOrigin | null, messages: InboundDelegateMsg[], options?: ProcessOptions): OutboundDelegateMsg[] {
    return this.#runtime.process(this.#module, parameters, origin, messages, options, true) as OutboundDelegateMsg[]
  }
}
