/**
 * `WasmEngine`: one engine, the class most users start from. The other
 * modules of `lib/` are what it builds on; `index.ts` re-exports it.
 */
import {
  type Component,
  type ComponentInstance,
  type ComponentInstantiateOptions,
  compileComponent,
  compileComponentAsync,
  instantiateComponent,
} from './component'
import { EngineBusyError } from './errors'
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
} from './host'
import { Expect, type InstanceHandle, type Module, type NativeEngine, type NativeFunction, native } from './native'
import { withSignal } from './signal'
import type { CallOptions, EngineStats, MemoryInfo, RuntimeConfig } from './types'
import { runWasi, runWasiSync, type WasiOptions, type WasiResult, wasiSpec } from './wasi'

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
   * Compiles a WebAssembly component (bytes, or WebAssembly text), cached
   * by content hash like modules; throws `CompileError` for bytes that are
   * not a valid component. See {@link WasmEngine.instantiateComponent}.
   */
  compileComponent(code: Uint8Array | ArrayBuffer | string): Component {
    return compileComponent(this.#native, code)
  }

  /**
   * Compiles like {@link WasmEngine.compileComponent}, on a native thread:
   * the event loop keeps running while a large component compiles.
   */
  compileComponentAsync(code: Uint8Array | ArrayBuffer | string): Promise<Component> {
    return compileComponentAsync(this.#native, code)
  }

  /**
   * Instantiates `component` under this engine's limits (fuel reset, as
   * for every instance; the page cap on each of its memories), its
   * imports from `options.imports`, keyed by interface as jco's import
   * object. A missing import is an `InstantiationError` naming it. Calls
   * of `instance.exports` run on this thread, each under the deadline.
   */
  instantiateComponent(component: Component, options?: ComponentInstantiateOptions): ComponentInstance {
    return instantiateComponent(this.#native, component, options)
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
