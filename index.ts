/**
 * wasm-engine: run untrusted WebAssembly from Node.js on wasmtime, with fuel
 * metering, hard memory caps, wall-clock deadlines and typed errors.
 *
 * This is the thin TypeScript layer over the native addon: it validates
 * arguments, applies documented defaults and turns native failures into the
 * `WasmError` classes.
 */
import { toBytes, toI64, toInteger, toName, toU32 } from './lib/args'
import { AbortedError, EngineBusyError, fromNative } from './lib/errors'
import {
  type AsyncHostFunction,
  type HostFunction,
  type HostResult,
  HostFailures,
  type ImportObject,
  insideHostOf,
  makeDispatcher,
  registerImports,
  type WasmValue,
} from './lib/host'
import { native, type NativeEngine } from './lib/native'

export {
  AbortedError,
  CompileError,
  EngineBusyError,
  EngineClosedError,
  ExportError,
  InstantiationError,
  InvalidHandleError,
  MemoryError,
  OtherError,
  OutOfGasError,
  RuntimeError,
  SchedulerOverloadedError,
  TimeoutError,
  type TrapCode,
  WasmError,
  type WasmErrorCode,
} from './lib/errors'
export type { AsyncHostFunction, Caller, HostFunction, HostResult, ImportObject, WasmValue } from './lib/host'

/** A compiled module; opaque. Usable by the engine that compiled it. */
export const Module = native.Module
/** A compiled module; opaque. Usable by the engine that compiled it. */
export type Module = InstanceType<typeof native.Module>

/** An opaque handle to one live instance of one engine; `id` is the id it was created with. */
export const InstanceHandle = native.InstanceHandle
/** An opaque handle to one live instance of one engine; `id` is the id it was created with. */
export type InstanceHandle = InstanceType<typeof native.InstanceHandle>

/** Default cap on each linear memory, in 64 KiB pages: 4096 pages, 256 MiB. */
export const DEFAULT_MAX_MEMORY_PAGES = native.DEFAULT_MAX_MEMORY_PAGES as 4096
/** Size of one WebAssembly page in bytes. */
export const WASM_PAGE_SIZE = native.WASM_PAGE_SIZE as 65536

/** Translates WebAssembly text to the binary format; invalid text is a `CompileError`. */
export function watToWasm(text: string): Uint8Array {
  try {
    return native.watToWasm(toName(text, 'text'))
  } catch (err) {
    throw fromNative(err)
  }
}

/** Limits and tuning of an engine; every field is optional. */
export interface RuntimeConfig {
  /** Wall-clock budget of each guest entry, in seconds (default 5); also scales the fuel budget. */
  maxExecutionSeconds?: number
  /** Fuel per second of budget when metering (default 3e9). */
  cpuCyclesPerSecond?: number
  /** Extra fuel as a fraction of the budget (default 0.2); a value outside [0, 1] falls back to 0.2. */
  safetyMargin?: number
  /** Count fuel and stop guests that use it up with `OutOfGasError` (default false). */
  enableMetering?: boolean
  /** Cap on each linear memory in pages (default {@link DEFAULT_MAX_MEMORY_PAGES}, at most 65536). */
  maxMemoryPages?: number
  /** Compiled modules kept in memory by content hash for reuse (default 1024; 0 turns this cache off). */
  moduleCacheCapacity?: number
  /**
   * Keep compiled modules on disk so another process skips compilation (default true).
   * The directory must be writable by this user only: cached artifacts are native code.
   */
  compileCache?: boolean
  /**
   * Directory of the on-disk compile cache. Default: `$WASM_ENGINE_CACHE_DIR`
   * (`off` disables the cache), else the per-user cache directory
   * (`$XDG_CACHE_HOME/wasm-engine` or `~/.cache/wasm-engine` on Linux).
   */
  compileCacheDir?: string
}

/** Options that shape the host side of an engine. */
export interface EngineOptions {
  /** A memory shared with the host; `true` is refused with a `WasmError`, as Freenet refuses it. */
  hostMem?: boolean
  /**
   * JavaScript functions the guests may import, by namespace then name.
   * Parameters and results follow the import's declaration: i32, f32 and
   * f64 are numbers, i64 is a bigint, several results are an array. They
   * run on the JavaScript thread, from any call.
   */
  imports?: ImportObject<HostFunction>
  /**
   * Imports that return promises. The guest waits for the promise while the
   * event loop runs; only calls that run off the JavaScript thread
   * (`call3i64AsyncImports`, the blocking calls) may use them.
   */
  asyncImports?: ImportObject<AsyncHostFunction>
  /**
   * Share the compiling backend of another engine: the same compiled code,
   * caches and `Module`s (a module compiled by either is usable by both).
   * Both must agree on `enableMetering`; the backend's cache settings apply.
   * Each engine keeps its own store, instances, fuel and queue, so engines
   * run their calls in parallel.
   */
  backend?: WasmEngine
}

/** Options of a call that runs off the JavaScript thread. */
export interface CallOptions {
  /** Stops the call: before it starts, it never runs; while it runs, the guest is interrupted. Rejects with `AbortedError`. */
  signal?: AbortSignal
}

/** Counters of an engine and of its (possibly shared) backend. */
export interface EngineStats {
  /** Live instances of this engine. */
  instances: number
  /** Blocking calls waiting in this engine's queue (not counting the one running). */
  queued: number
  /** Stores this engine keeps: the current one and retired ones that still hold live instances. */
  stores: number
  /** Modules the backend compiled with Cranelift. */
  compiles: number
  /** Compiles the backend answered from its in-memory cache. */
  memoryCacheHits: number
  /** Compiles the backend answered from its on-disk cache. */
  diskCacheHits: number
}

/** Size of an instance's exported memory. */
export interface MemoryInfo {
  /** Bytes of the exported `memory`, read live (it changes when the guest grows it). */
  size: number
}

const CONFIG_NUMBERS = [
  'maxExecutionSeconds',
  'cpuCyclesPerSecond',
  'safetyMargin',
  'maxMemoryPages',
  'moduleCacheCapacity',
] as const

function checkConfig(config: RuntimeConfig): RuntimeConfig {
  if (typeof config !== 'object' || config === null) {
    throw new TypeError('config must be an object')
  }
  for (const key of CONFIG_NUMBERS) {
    const value = config[key]
    if (value !== undefined && typeof value !== 'number') {
      throw new TypeError(`config.${key} must be a number, got ${typeof value}`)
    }
  }
  if (config.enableMetering !== undefined && typeof config.enableMetering !== 'boolean') {
    throw new TypeError(`config.enableMetering must be a boolean, got ${typeof config.enableMetering}`)
  }
  return config
}

/**
 * One Freenet-style engine: a store family with its instances, the limits
 * they run under and the fuel they share.
 *
 * Operations are synchronous and run on the calling thread. Each guest entry
 * (start function, `__frnt_set_id`, `initiateBuffer`, `callVoid`, `call3i64`)
 * is stopped with `TimeoutError` once it runs past `maxExecutionSeconds`.
 * Release native resources with {@link WasmEngine.close} (or `using`); an
 * engine that is garbage-collected releases them too, later.
 */
export class WasmEngine {
  readonly #native: NativeEngine
  readonly #hostFailures = new HostFailures()
  readonly #hasImports: boolean

  /** Creates an engine; throws `OtherError` for an invalid config or `hostMem: true`. */
  constructor(config: RuntimeConfig = {}, options: EngineOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
    const shared = options.backend
    if (shared !== undefined && !(shared instanceof WasmEngine)) {
      throw new TypeError('options.backend must be a WasmEngine')
    }
    const table = registerImports(options.imports, options.asyncImports)
    this.#hasImports = table.length > 0
    const descriptors = table.map(({ module, name, asynchronous }) => ({ module, name, asynchronous }))
    const dispatcher = this.#hasImports ? makeDispatcher(this, table, this.#hostFailures) : undefined
    try {
      this.#native = new native.NativeEngine(
        checkConfig(config),
        options.hostMem,
        shared === undefined ? undefined : shared.#native,
        descriptors,
        dispatcher,
      )
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /** True until the engine is closed or an internal failure poisons it. */
  isHealthy(): boolean {
    return this.#native.isHealthy()
  }

  /**
   * Compiles a module from its binary (`Uint8Array`, `Buffer`, `ArrayBuffer`)
   * or from WebAssembly text (a string). Compilations are cached by content
   * hash, so compiling the same bytes again is cheap.
   */
  compile(code: Uint8Array | ArrayBuffer | string): Module {
    try {
      return typeof code === 'string' ? this.#native.compileText(code) : this.#native.compile(toBytes(code, 'code'))
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /**
   * Compiles like {@link WasmEngine.compile}, on a native thread: the event
   * loop keeps running while a large module compiles. Concurrent compiles of
   * the same bytes on one backend are done once.
   */
  async compileAsync(code: Uint8Array | ArrayBuffer | string): Promise<Module> {
    const source = typeof code === 'string' ? code : toBytes(code, 'code')
    return this.#settle(await this.#call(() => this.#native.compileAsync(source)))
  }

  /** True when the module imports from `freenet_delegate_contracts` or `freenet_delegate_management`. */
  moduleHasAsyncImports(module: Module): boolean {
    checkModule(module)
    try {
      return this.#native.moduleHasAsyncImports(module)
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /**
   * Instantiates `module` (running its start function), calls the export
   * `__frnt_set_id(id)` when present and grows the exported `memory` to at
   * least `reqBytes`. With metering on, fuel is reset to the full budget.
   */
  createInstance(module: Module, id: bigint | number, reqBytes: number): InstanceHandle {
    checkModule(module)
    const id64 = toI64(id, 'id')
    const bytes = toInteger(reqBytes, 'reqBytes')
    if (bytes < 0) throw new TypeError(`reqBytes must not be negative, got ${bytes}`)
    try {
      return this.#native.createInstance(module, id64, bytes)
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /** Drops an instance; afterwards its handle is refused with `InvalidHandleError`. */
  dropInstance(handle: InstanceHandle): void {
    checkHandle(handle)
    try {
      this.#native.dropInstance(handle)
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /** Size of the instance's exported `memory`, read live. */
  memoryInfo(handle: InstanceHandle): MemoryInfo {
    checkHandle(handle)
    try {
      return { size: this.#native.memorySize(handle) }
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /** Copies `length` bytes at `offset` out of the instance's memory; out of bounds is `MemoryError`. */
  readMemory(handle: InstanceHandle, offset: number, length: number): Uint8Array {
    checkHandle(handle)
    const off = toInteger(offset, 'offset')
    const len = toInteger(length, 'length')
    try {
      return this.#native.readMemory(handle, off, len)
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /** Copies `data` into the instance's memory at `offset`; out of bounds is `MemoryError`. */
  writeMemory(handle: InstanceHandle, offset: number, data: Uint8Array): void {
    checkHandle(handle)
    const off = toInteger(offset, 'offset')
    const bytes = toBytes(data, 'data')
    try {
      this.#native.writeMemory(handle, off, bytes)
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /** Calls the guest's `__frnt__initiate_buffer(size)` and returns the buffer's offset. */
  initiateBuffer(handle: InstanceHandle, size: number): bigint {
    checkHandle(handle)
    const capacity = toU32(size, 'size')
    try {
      return this.#native.initiateBuffer(handle, capacity)
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /** Calls the export `name` of type `() -> ()`. */
  callVoid(handle: InstanceHandle, name: string): void {
    checkHandle(handle)
    const exportName = toName(name, 'name')
    try {
      this.#native.callVoid(handle, exportName)
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /** Calls the export `name` of type `(i64, i64, i64) -> i64` on this thread; arguments may be safe-integer numbers. */
  call3i64(handle: InstanceHandle, name: string, a: bigint | number, b: bigint | number, c: bigint | number): bigint {
    checkHandle(handle)
    const exportName = toName(name, 'name')
    const args = [toI64(a, 'a'), toI64(b, 'b'), toI64(c, 'c')] as const
    try {
      return this.#native.call3i64(handle, exportName, ...args)
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /**
   * Calls the export `name` whatever its signature, on this thread:
   * arguments follow its parameter types (numbers for i32, f32 and f64,
   * bigints or safe integers for i64); the result is `undefined`, one value,
   * or an array for several results. A wrong argument count or type is a
   * `TypeError`.
   */
  call(handle: InstanceHandle, name: string, ...args: WasmValue[]): HostResult {
    checkHandle(handle)
    const exportName = toName(name, 'name')
    args.forEach((arg, i) => {
      if (typeof arg !== 'number' && typeof arg !== 'bigint') {
        throw new TypeError(`argument ${i + 1} must be a number or a bigint, got ${typeof arg}`)
      }
    })
    let results: WasmValue[]
    try {
      results = this.#native.call(handle, exportName, args)
    } catch (err) {
      throw this.#fail(err)
    }
    return results.length > 1 ? results : results[0]
  }

  /**
   * Calls the export `name` of type `(i64, i64) -> i64` on a native thread
   * once this engine's earlier calls are done (one at a time, FIFO). The
   * deadline covers the run; a call still queued after `maxExecutionSeconds`
   * fails with `SchedulerOverloadedError` without running.
   */
  async call2i64Blocking(
    handle: InstanceHandle,
    name: string,
    a: bigint | number,
    b: bigint | number,
    options: CallOptions = {},
  ): Promise<bigint> {
    checkHandle(handle)
    const exportName = toName(name, 'name')
    const [x, y] = [toI64(a, 'a'), toI64(b, 'b')]
    return this.#blocking(options, (token) => this.#native.call2i64Blocking(handle, exportName, x, y, token))
  }

  /**
   * Calls the export `name` of type `(i64, i64, i64) -> i64` of a guest
   * that may await asynchronous imports (`asyncImports`), on a native
   * thread, queued like {@link WasmEngine.call2i64Blocking}. The deadline
   * covers the time spent awaiting imports.
   */
  async call3i64AsyncImports(
    handle: InstanceHandle,
    name: string,
    a: bigint | number,
    b: bigint | number,
    c: bigint | number,
    options: CallOptions = {},
  ): Promise<bigint> {
    // Off the JavaScript thread, every call may await asynchronous imports.
    return this.call3i64Blocking(handle, name, a, b, c, options)
  }

  /** Calls the export `name` of type `(i64, i64, i64) -> i64` like {@link WasmEngine.call2i64Blocking}. */
  async call3i64Blocking(
    handle: InstanceHandle,
    name: string,
    a: bigint | number,
    b: bigint | number,
    c: bigint | number,
    options: CallOptions = {},
  ): Promise<bigint> {
    checkHandle(handle)
    const exportName = toName(name, 'name')
    const [x, y, z] = [toI64(a, 'a'), toI64(b, 'b'), toI64(c, 'c')]
    return this.#blocking(options, (token) => this.#native.call3i64Blocking(handle, exportName, x, y, z, token))
  }

  /** Fuel left in the engine's budget, or `undefined` when metering is off. */
  remainingFuel(): bigint | undefined {
    try {
      return this.#native.remainingFuel() ?? undefined
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /** Counters for monitoring: instances, stores and what the compile caches saved. */
  stats(): EngineStats {
    try {
      return this.#native.stats()
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /**
   * Releases every instance and store. A running blocking call is stopped
   * and queued ones fail, all with `EngineClosedError`, as do later calls.
   * Idempotent.
   */
  close(): void {
    this.#native.close()
  }

  /** Same as {@link WasmEngine.close}, for `using engine = new WasmEngine()`. */
  [Symbol.dispose](): void {
    this.close()
  }

  /** The `WasmError` for a native failure, with the cause of a failed host call attached. */
  #fail(err: unknown): unknown {
    return fromNative(err, (seq) => this.#hostFailures.take(seq))
  }

  /** The value of a settled native promise, or its error thrown as a `WasmError`. */
  #settle<T>(outcome: T | Error): T {
    if (outcome instanceof Error) throw this.#fail(outcome)
    return outcome
  }

  /** Starts a native asynchronous operation, turning a synchronous throw into a rejection. */
  async #call<T>(start: () => Promise<T | Error>): Promise<T | Error> {
    try {
      return await start()
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /** Runs a blocking call with the abort wiring of `options.signal`. */
  async #blocking(options: CallOptions, start: (token: CallSignal | undefined) => Promise<bigint | Error>): Promise<bigint> {
    if (this.#hasImports && insideHostOf(this)) {
      // Queued behind the call that is waiting for this host function, it would never start.
      throw new EngineBusyError(
        'a host function called back into the engine that is running it; the call would wait for itself',
      )
    }
    const signal = options?.signal
    if (signal === undefined) {
      return this.#settle(await this.#call(() => start(undefined)))
    }
    if (!(signal instanceof AbortSignal)) {
      throw new TypeError('options.signal must be an AbortSignal')
    }
    if (signal.aborted) {
      throw new AbortedError('the call was aborted before it started', { cause: signal.reason })
    }
    const token = new native.CallSignal()
    const abort = () => token.abort()
    signal.addEventListener('abort', abort, { once: true })
    try {
      return this.#settle(await this.#call(() => start(token)))
    } finally {
      signal.removeEventListener('abort', abort)
    }
  }
}

type CallSignal = InstanceType<typeof native.CallSignal>

function checkModule(module: unknown): asserts module is Module {
  if (!(module instanceof native.Module)) {
    throw new TypeError('module must be a Module returned by WasmEngine.compile')
  }
}

function checkHandle(handle: unknown): asserts handle is InstanceHandle {
  if (!(handle instanceof native.InstanceHandle)) {
    throw new TypeError('handle must be an InstanceHandle returned by WasmEngine.createInstance')
  }
}

