/**
 * wasm-engine: run untrusted WebAssembly from Node.js on wasmtime, with fuel
 * metering, hard memory caps, wall-clock deadlines and typed errors.
 *
 * This is the thin TypeScript layer over the native addon: types,
 * documentation, the host-function dispatcher and `AbortSignal` wiring.
 * Arguments are checked, and errors built, natively, once.
 */
import { EngineBusyError } from './lib/errors'
import {
  type AsyncHostFunction,
  type Dispatcher,
  type HostFunction,
  type HostResult,
  type ImportObject,
  insideHostOf,
  makeDispatcher,
  registerImports,
  type WasmValue,
} from './lib/host'
import { Expect, type NativeEngine, type NativeFunction, native } from './lib/native'
import { withSignal } from './lib/signal'
import { runWasi, runWasiSync, type WasiOptions, type WasiResult, wasiSpec } from './lib/wasi'

export {
  AbortedError,
  CompileError,
  ContractError,
  type ContractErrorKind,
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
  TRAP_CODES,
  type TrapCode,
  WASM_ERROR_CODES,
  WasmError,
  type WasmErrorCode,
} from './lib/errors'
export type { AsyncHostFunction, Caller, HostFunction, HostResult, ImportObject, WasmValue } from './lib/host'
export type { OutputListener, WasiDeterminism, WasiOptions, WasiPreopen, WasiResult } from './lib/wasi'

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
  return native.watToWasm(text)
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
  /**
   * Compiled modules kept in memory by content hash for reuse (default 1024;
   * 0 turns this cache off). It also bounds each engine's cache of modules
   * with their imports resolved, which 0 turns off too, so every
   * `createInstance` then resolves imports again.
   */
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
  /**
   * Bytes the on-disk cache may take, counting every engine configuration
   * cached under the directory (default 512 MiB). After each write the least
   * recently used files are deleted until the rest fit. Each file carries a
   * BLAKE3 digest of its artifact: a truncated or damaged file is deleted and
   * the module recompiled, never loaded.
   */
  compileCacheMaxBytes?: number
  /**
   * Instances that can be alive at once, in a pool of pre-reserved slots
   * (default 1000, at most 10,000; 0 maps each instance's memory on demand
   * instead, without a count limit). A slot keeps the copy-on-write image
   * of the module it last held, so instantiating from the pool takes a few
   * microseconds where mapping memory on demand takes tens. Engines with the
   * same `enableMetering` and `instancePoolSize` share one pool.
   *
   * A pool reserves about 4 GiB of address space per slot (4 TiB for 1000
   * slots) when its first engine is created, and releases it when the last
   * engine and the last `Module` compiled by them are gone: address space,
   * not memory, out of the 128 TiB of an x86-64 process. Where a process
   * may not reserve that much (`ulimit -v`, a 39-bit address space), the
   * default pool gives way to on-demand mapping (`stats().poolSlots` is
   * then 0), while a size given here fails with a `WasmError` that says so.
   * With every slot taken, `createInstance` fails with an
   * `InstantiationError` naming the pool. Dropping an instance frees its
   * slot at once, and so does a handle the garbage collector finalizes
   * while its engine is idle (else when the engine's operation ends).
   */
  instancePoolSize?: number
  /**
   * Instances this engine may hold at once (at least 1). Default: while
   * other engines use its pool, nine tenths of the pool's slots (rounded
   * up; every slot for pools under 10 slots), so that one engine that never
   * drops its instances leaves a tenth of a shared pool to the others; alone
   * on its pool, all of it; no limit when instances are mapped on demand. Past it, `createInstance` fails with an
   * `InstantiationError` naming `maxInstances`.
   */
  maxInstances?: number
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
   * Both must agree on `enableMetering`; the backend's cache and instance
   * pool settings apply.
   * Each engine keeps its own instances (each in a store of its own),
   * fuel and queue, so engines run their calls in parallel.
   */
  backend?: WasmEngine
}

/** Options of `createInstance`. */
export interface InstanceOptions {
  /** A WASI context for a module that imports WASI (a reactor or library); see `createInstance`. */
  wasi?: WasiOptions
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
  /** Stores this engine keeps: one per live instance, dropped with it, so always equal to `instances`. */
  stores: number
  /** Modules the backend compiled with Cranelift. */
  compiles: number
  /** Compiles the backend answered from its in-memory cache. */
  memoryCacheHits: number
  /** Compiles the backend answered from its on-disk cache. */
  diskCacheHits: number
  /**
   * On-disk cache entries the backend found but did not load, compiling
   * instead: a file another user owns or may write, a symbolic link, a
   * truncated or altered file (deleted), or an artifact of another wasmtime
   * build (deleted).
   */
  diskCacheRejects: number
  /**
   * Compiled modules the backend could not write to its on-disk cache (a
   * read-only, full or untrusted directory); the compile itself succeeded.
   */
  diskCacheWriteFailures: number
  /**
   * Slots of the instance pool this engine's instances come from; 0 when
   * they are mapped on demand (`instancePoolSize: 0`, or the default pool
   * could not be reserved).
   */
  poolSlots: number
  /** Instances this engine may hold at once (see `RuntimeConfig.maxInstances`); `undefined` when only the pool limits it. */
  maxInstances?: number
  /** Guest calls (sync and blocking), WASI runs and Freenet operations that completed (a contract's own error included). */
  callsCompleted: number
  /** Calls that trapped or whose host function failed (`RuntimeError`). */
  callsTrapped: number
  /** Calls stopped at their deadline (`TimeoutError`). */
  callsTimedOut: number
  /** Calls that ran out of fuel (`OutOfGasError`). */
  callsOutOfFuel: number
  /** Calls stopped by their `AbortSignal`, before or while running (`AbortedError`). */
  callsAborted: number
  /** Blocking calls that waited in the queue past their deadline and never ran (`SchedulerOverloadedError`). */
  callsOverloaded: number
  /** Calls that failed otherwise: a closed or busy engine, a dropped instance, a refused start. */
  callsFailed: number
}

/** Size of an instance's exported memory. */
export interface MemoryInfo {
  /** Bytes of the exported `memory`, read live (it changes when the guest grows it). */
  size: number
}

/**
 * An export as a plain function, bound to its instance: see
 * {@link WasmEngine.getFunction}. Arguments follow the export's parameter
 * types (numbers for i32, f32 and f64; bigints, or safe-integer numbers,
 * for i64); the result is `undefined`, one value, or an array for several.
 */
export type WasmFunction = (...args: WasmValue[]) => HostResult

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
  /** Held here: the native side holds the dispatcher weakly. */
  readonly #dispatch: Dispatcher | undefined
  readonly #hasAsyncImports: boolean
  /** Exports looked up so far, per handle, per {@link Expect} code, by name. */
  readonly #functions = new WeakMap<InstanceHandle, Array<Map<string, NativeFunction>>>()

  /** Creates an engine; throws `OtherError` for an invalid config or `hostMem: true`. */
  constructor(config: RuntimeConfig = {}, options: EngineOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
    const shared = options.backend
    if (shared !== undefined && !(shared instanceof WasmEngine)) {
      throw new TypeError('options.backend must be a WasmEngine')
    }
    const table = registerImports(options.imports, options.asyncImports)
    this.#hasAsyncImports = table.some((entry) => entry.asynchronous)
    this.#dispatch = table.length > 0 ? makeDispatcher(this, table, () => this.#native) : undefined
    const descriptors = table.map(({ module, name, asynchronous }) => ({ module, name, asynchronous }))
    this.#native = new native.NativeEngine({
      config,
      hostMem: options.hostMem,
      backend: shared === undefined ? undefined : shared.#native,
      imports: descriptors,
      dispatcher: this.#dispatch as ((arg?: unknown) => unknown) | undefined,
    })
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
    return this.#native.compile(code)
  }

  /**
   * Compiles like {@link WasmEngine.compile}, on a native thread: the event
   * loop keeps running while a large module compiles. Concurrent compiles of
   * the same bytes on one backend are done once.
   */
  async compileAsync(code: Uint8Array | ArrayBuffer | string): Promise<Module> {
    return this.#native.compileAsync(code)
  }

  /** True when the module imports from `freenet_delegate_contracts` or `freenet_delegate_management`, or imports one of this engine's `asyncImports`. */
  moduleHasAsyncImports(module: Module): boolean {
    return this.#native.moduleHasAsyncImports(module)
  }

  /**
   * Whether `module` imports `freenet_contract_io`: Freenet then streams its
   * inputs (a length prefix, then chunks of at most 64 KiB refilled through
   * `__frnt__fill_buffer`) instead of writing them whole.
   */
  moduleHasStreamingIo(module: Module): boolean {
    return this.#native.moduleHasStreamingIo(module)
  }

  /**
   * Instantiates `module` (running its start function), calls the export
   * `__frnt_set_id(id)` when present and grows the exported `memory` to at
   * least `reqBytes`. With metering on, fuel is reset to the full budget.
   *
   * With `options.wasi`, the instance gets a WASI context (what the module
   * may see, as for `runWasi`, whose `signal`, `onStdout` and `onStderr` do not apply here) and its
   * `_initialize` runs first when exported: a WASI reactor or library whose
   * exports are then called as any others, and whose output
   * `takeWasiOutput` collects. JavaScript imports and WASI combine.
   */
  createInstance(module: Module, id: bigint | number, reqBytes: number, options?: InstanceOptions): InstanceHandle {
    const wasi = options?.wasi
    if (wasi === undefined) return this.#native.createInstance(module, id, reqBytes)
    if (wasi.signal !== undefined) throw new TypeError('options.wasi.signal is for runWasi: an instance lives past any one call')
    if (wasi.onStdout !== undefined || wasi.onStderr !== undefined) {
      throw new TypeError("options.wasi.onStdout and onStderr are for runWasi and runWasiSync: take an instance's output with takeWasiOutput")
    }
    return this.#native.createInstance(module, id, reqBytes, wasiSpec(wasi))
  }

  /**
   * What the WASI instance `handle` (created with `options.wasi`) wrote to
   * its standard output and error since the last call, each kept up to its
   * `maxOutputBytes` in between.
   */
  takeWasiOutput(handle: InstanceHandle): { stdout: Uint8Array; stderr: Uint8Array } {
    return this.#native.takeWasiOutput(handle)
  }

  /** Drops an instance; afterwards its handle is refused with `InvalidHandleError`. */
  dropInstance(handle: InstanceHandle): void {
    this.#native.dropInstance(handle)
  }

  /** Size of the instance's exported `memory`, read live. */
  memoryInfo(handle: InstanceHandle): MemoryInfo {
    return { size: this.#native.memorySize(handle) }
  }

  /** Copies `length` bytes at `offset` out of the instance's memory; out of bounds is `MemoryError`. */
  readMemory(handle: InstanceHandle, offset: number, length: number): Uint8Array {
    return this.#native.readMemory(handle, offset, length)
  }

  /** Copies `data` into the instance's memory at `offset`; out of bounds is `MemoryError`. */
  writeMemory(handle: InstanceHandle, offset: number, data: Uint8Array): void {
    this.#native.writeMemory(handle, offset, data)
  }

  /**
   * Runs `module` as a WASI command (its `_start`) on this thread, under the
   * engine's fuel, page cap and deadline (one deadline for instantiation and
   * the whole run), deny-by-default: the program sees only what `options`
   * gives it. `proc_exit(n)` is a result with `exitCode: n`. A trap, the
   * deadline, fuel or the memory cap throw their `WasmError`, carrying the
   * output kept so far in `stdout` and `stderr`. Blocks the event loop for
   * the length of the run: prefer `runWasi` for programs that run long.
   */
  runWasiSync(module: Module, options?: WasiOptions): WasiResult {
    return runWasiSync(this.#native, module, options)
  }

  /**
   * Runs `module` as a WASI command on the engine's workers, behind its
   * earlier blocking calls, as `runWasiSync` does; `options.signal` stops
   * it. Rejects with the error that stopped the program, carrying the
   * output kept so far.
   */
  runWasi(module: Module, options?: WasiOptions): Promise<WasiResult> {
    return runWasi(this.#native, module, options)
  }

  /** Calls the guest's `__frnt__initiate_buffer(size)` and returns the buffer's offset. */
  initiateBuffer(handle: InstanceHandle, size: number): bigint {
    return this.#native.initiateBuffer(handle, size)
  }

  /**
   * The export `name` as a plain function bound to the instance: the
   * fastest way to call an export many times. The export is looked up and
   * its signature read once; each call then converts its arguments, runs
   * the guest on this thread under the engine's deadline and fuel, and
   * converts the results, with no other work. After `dropInstance` or
   * `close()` a call throws `InvalidHandleError` or `EngineClosedError`.
   * The function keeps its engine and its instance alive.
   */
  getFunction(handle: InstanceHandle, name: string): WasmFunction {
    return this.#function(handle, name, Expect.Any) as WasmFunction
  }

  /** Calls the export `name` of type `() -> ()`. */
  callVoid(handle: InstanceHandle, name: string): void {
    this.#function(handle, name, Expect.Void)()
  }

  /** Calls the export `name` of type `(i64, i64) -> i64` on this thread; arguments may be safe-integer numbers. */
  call2i64(handle: InstanceHandle, name: string, a: bigint | number, b: bigint | number): bigint {
    return this.#function(handle, name, Expect.I64x2)(a, b) as bigint
  }

  /** Calls the export `name` of type `(i64, i64, i64) -> i64` on this thread; arguments may be safe-integer numbers. */
  call3i64(handle: InstanceHandle, name: string, a: bigint | number, b: bigint | number, c: bigint | number): bigint {
    return this.#function(handle, name, Expect.I64x3)(a, b, c) as bigint
  }

  /**
   * Calls the export `name` whatever its signature, on this thread:
   * arguments follow its parameter types (numbers for i32, f32 and f64,
   * bigints or safe integers for i64); the result is `undefined`, one value,
   * or an array for several results. A wrong argument count or type is a
   * `TypeError`. Same as `getFunction(handle, name)(...args)`.
   */
  call(handle: InstanceHandle, name: string, ...args: WasmValue[]): HostResult {
    return this.#function(handle, name, Expect.Any)(...args) as HostResult
  }

  /**
   * Calls the export `name` of type `(i64, i64) -> i64` on a native thread
   * once this engine's earlier calls are done (one at a time, FIFO; the
   * promises settle in that order too). The deadline covers the run; a call
   * still queued after `maxExecutionSeconds` fails with
   * `SchedulerOverloadedError` without running.
   */
  call2i64Blocking(
    handle: InstanceHandle,
    name: string,
    a: bigint | number,
    b: bigint | number,
    options?: CallOptions,
  ): Promise<bigint> {
    return this.#blocking(Expect.I64x2, handle, name, options, a, b) as Promise<bigint>
  }

  /**
   * Calls the export `name` of type `(i64, i64, i64) -> i64` of a guest
   * that may await asynchronous imports (`asyncImports`), on a native
   * thread, queued like {@link WasmEngine.call2i64Blocking}. The deadline
   * covers the time spent awaiting imports.
   */
  call3i64AsyncImports(
    handle: InstanceHandle,
    name: string,
    a: bigint | number,
    b: bigint | number,
    c: bigint | number,
    options?: CallOptions,
  ): Promise<bigint> {
    // Off the JavaScript thread, every call may await asynchronous imports.
    return this.call3i64Blocking(handle, name, a, b, c, options)
  }

  /** Calls the export `name` of type `(i64, i64, i64) -> i64` like {@link WasmEngine.call2i64Blocking}. */
  call3i64Blocking(
    handle: InstanceHandle,
    name: string,
    a: bigint | number,
    b: bigint | number,
    c: bigint | number,
    options?: CallOptions,
  ): Promise<bigint> {
    return this.#blocking(Expect.I64x3, handle, name, options, a, b, c) as Promise<bigint>
  }

  /**
   * Calls the export `name` whatever its signature on a native thread,
   * queued like {@link WasmEngine.call2i64Blocking}; arguments follow its
   * parameter types as for {@link WasmEngine.call}, and the promise
   * resolves with `undefined`, one value or an array. A last argument that
   * is an object (not a number or bigint) is the call's {@link CallOptions}.
   */
  callBlocking(handle: InstanceHandle, name: string, ...args: Array<WasmValue | CallOptions>): Promise<HostResult> {
    const last = args.at(-1)
    const options = typeof last === 'object' && last !== null ? (args.pop() as CallOptions) : undefined
    return this.#blocking(Expect.Any, handle, name, options, ...(args as WasmValue[])) as Promise<HostResult>
  }

  /** Calls the export `name` of type `() -> ()` on a native thread, queued like {@link WasmEngine.call2i64Blocking}. */
  callVoidBlocking(handle: InstanceHandle, name: string, options?: CallOptions): Promise<void> {
    return this.#blocking(Expect.Void, handle, name, options) as Promise<void>
  }

  /**
   * Fuel left in the engine's budget after its last guest entry, or
   * `undefined` when metering is off. Answers at once, also while a
   * blocking call runs.
   */
  remainingFuel(): bigint | undefined {
    return this.#native.remainingFuel() ?? undefined
  }

  /** Counters for monitoring: instances, call outcomes, stores and what the compile caches saved. Answers at once, also while a blocking call runs. */
  stats(): EngineStats {
    return this.#native.stats()
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

  /** The export `name` of `handle`'s instance, checked against `expect` once and kept. */
  #function(handle: InstanceHandle, name: string, expect: number): NativeFunction {
    let byExpect = this.#functions.get(handle)
    let found = byExpect?.[expect]?.get(name)
    if (found === undefined) {
      found = this.#native.getFunction(handle, name, expect as 0 | 1 | 2 | 3) as NativeFunction
      // The function keeps its engine (and so its host functions) and its
      // instance alive, as a V8 exported function keeps its instance.
      Object.defineProperty(found, keptAlive, { value: [this, handle] })
      if (byExpect === undefined) {
        byExpect = []
        this.#functions.set(handle, byExpect)
      }
      ;(byExpect[expect] ??= new Map()).set(name, found)
    }
    return found
  }

  /** Queues a call of the export `name` on the engine's workers, with the abort wiring of `options.signal`. */
  #blocking(expect: 0 | 1 | 2 | 3, handle: InstanceHandle, name: string, options: CallOptions | undefined, ...args: WasmValue[]): Promise<unknown> {
    try {
      if (this.#hasAsyncImports && insideHostOf(this)) {
        // Queued behind the call that is waiting for this host function, it would never start.
        throw new EngineBusyError(
          'a host function called back into the engine that is running it; the call would wait for itself',
        )
      }
      const signal = options?.signal
      if (signal === undefined) return native.callBlocking(this.#native, handle, name, expect, undefined, ...args)
      return withSignal(signal, (token) => native.callBlocking(this.#native, handle, name, expect, token, ...args))
    } catch (err) {
      return Promise.reject(err)
    }
  }
}

/** The property of a function from `getFunction` that holds its engine and instance handle. */
const keptAlive = Symbol('wasm-engine.keptAlive')
