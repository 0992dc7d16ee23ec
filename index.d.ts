import { native } from './lib/native';
export * from './lib/errors';
/** A compiled module; opaque. Usable by the engine that compiled it. */
export declare const Module: typeof import("./binding").Module;
/** A compiled module; opaque. Usable by the engine that compiled it. */
export type Module = InstanceType<typeof native.Module>;
/** An opaque handle to one live instance of one engine; `id` is the id it was created with. */
export declare const InstanceHandle: typeof import("./binding").InstanceHandle;
/** An opaque handle to one live instance of one engine; `id` is the id it was created with. */
export type InstanceHandle = InstanceType<typeof native.InstanceHandle>;
/** Default cap on each linear memory, in 64 KiB pages: 4096 pages, 256 MiB. */
export declare const DEFAULT_MAX_MEMORY_PAGES: 4096;
/** Size of one WebAssembly page in bytes. */
export declare const WASM_PAGE_SIZE: 65536;
/** Limits and tuning of an engine; every field is optional. */
export interface RuntimeConfig {
    /** Wall-clock budget of each guest entry, in seconds (default 5); also scales the fuel budget. */
    maxExecutionSeconds?: number;
    /** Fuel per second of budget when metering (default 3e9). */
    cpuCyclesPerSecond?: number;
    /** Extra fuel as a fraction of the budget (default 0.2); a value outside [0, 1] falls back to 0.2. */
    safetyMargin?: number;
    /** Count fuel and stop guests that use it up with `OutOfGasError` (default false). */
    enableMetering?: boolean;
    /** Cap on each linear memory in pages (default {@link DEFAULT_MAX_MEMORY_PAGES}, at most 65536). */
    maxMemoryPages?: number;
    /** Compiled modules kept by content hash for reuse (default 1024; 0 turns the cache off). */
    moduleCacheCapacity?: number;
}
/** Options that shape the host side of an engine. */
export interface EngineOptions {
    /** A memory shared with the host; `true` is refused with a `WasmError`, as Freenet refuses it. */
    hostMem?: boolean;
}
/** Size of an instance's exported memory. */
export interface MemoryInfo {
    /** Bytes of the exported `memory`, read live (it changes when the guest grows it). */
    size: number;
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
export declare class WasmEngine {
    #private;
    /** Creates an engine; throws `OtherError` for an invalid config or `hostMem: true`. */
    constructor(config?: RuntimeConfig, options?: EngineOptions);
    /** True until the engine is closed or an internal failure poisons it. */
    isHealthy(): boolean;
    /**
     * Compiles a module from its binary (`Uint8Array`, `Buffer`, `ArrayBuffer`)
     * or from WebAssembly text (a string). Compilations are cached by content
     * hash, so compiling the same bytes again is cheap.
     */
    compile(code: Uint8Array | ArrayBuffer | string): Module;
    /** True when the module imports from `freenet_delegate_contracts` or `freenet_delegate_management`. */
    moduleHasAsyncImports(module: Module): boolean;
    /**
     * Instantiates `module` (running its start function), calls the export
     * `__frnt_set_id(id)` when present and grows the exported `memory` to at
     * least `reqBytes`. With metering on, fuel is reset to the full budget.
     */
    createInstance(module: Module, id: bigint | number, reqBytes: number): InstanceHandle;
    /** Drops an instance; afterwards its handle is refused with `InvalidHandleError`. */
    dropInstance(handle: InstanceHandle): void;
    /** Size of the instance's exported `memory`, read live. */
    memoryInfo(handle: InstanceHandle): MemoryInfo;
    /** Copies `length` bytes at `offset` out of the instance's memory; out of bounds is `MemoryError`. */
    readMemory(handle: InstanceHandle, offset: number, length: number): Uint8Array;
    /** Copies `data` into the instance's memory at `offset`; out of bounds is `MemoryError`. */
    writeMemory(handle: InstanceHandle, offset: number, data: Uint8Array): void;
    /** Calls the guest's `__frnt__initiate_buffer(size)` and returns the buffer's offset. */
    initiateBuffer(handle: InstanceHandle, size: number): bigint;
    /** Calls the export `name` of type `() -> ()`. */
    callVoid(handle: InstanceHandle, name: string): void;
    /** Calls the export `name` of type `(i64, i64, i64) -> i64` on this thread; arguments may be safe-integer numbers. */
    call3i64(handle: InstanceHandle, name: string, a: bigint | number, b: bigint | number, c: bigint | number): bigint;
    /** Fuel left in the engine's budget, or `undefined` when metering is off. */
    remainingFuel(): bigint | undefined;
    /** Releases every instance and store now. Idempotent; later calls throw `EngineClosedError`. */
    close(): void;
    /** Same as {@link WasmEngine.close}, for `using engine = new WasmEngine()`. */
    [Symbol.dispose](): void;
}
