/** Data types shared by the modules of the TypeScript layer: values, configuration, counters. Imports nothing. */

/** A WebAssembly value as JavaScript sees it: i32, f32 and f64 are numbers, i64 is a bigint. */
export type WasmValue = number | bigint

/** What a host function returns: nothing, one value, or an array for several results. */
export type HostResult = WasmValue | void | WasmValue[]

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
