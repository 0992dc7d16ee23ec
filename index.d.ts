/**
 * wasm-engine: run untrusted WebAssembly from Node.js on wasmtime, with fuel
 * metering, hard memory caps, wall-clock deadlines and typed errors.
 *
 * This is the thin TypeScript layer over the native addon: types,
 * documentation, the host-function dispatcher and `AbortSignal` wiring.
 * Arguments are checked, and errors built, natively, once. This file is
 * the front door: it re-exports `WasmEngine` (`lib/engine.ts`), the errors
 * (`lib/errors.ts`) and the types, and names the native values.
 */
export { AbortedError, CompileError, ComponentError, ContractError, type ContractErrorKind, EngineBusyError, EngineClosedError, ExportError, InstantiationError, InvalidHandleError, MemoryError, OtherError, OutOfGasError, RuntimeError, SchedulerOverloadedError, TimeoutError, TRAP_CODES, type TrapCode, WASM_ERROR_CODES, WasmError, type WasmErrorCode, } from './lib/errors';
export type { AsyncHostFunction, Caller, HostFunction, HostResult, ImportObject, WasmValue } from './lib/host';
export type { OutputListener, WasiDeterminism, WasiOptions, WasiPreopen, WasiResult } from './lib/wasi';
export type { CallOptions, EngineStats, MemoryInfo, RuntimeConfig } from './lib/types';
export { type EngineOptions, type InstanceOptions, WasmEngine, type WasmFunction } from './lib/engine';
export { type AsyncComponentExports, type AsyncComponentFunction, type AsyncComponentInterface, Component, type ComponentExports, type ComponentFunction, type ComponentFunctionType, type ComponentImportObject, ComponentInstance, type ComponentInterface, type ComponentInstantiateOptions, type WitType, } from './lib/component';
import { native } from './lib/native';
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
/** Translates WebAssembly text to the binary format; invalid text is a `CompileError`. */
export declare function watToWasm(text: string): Uint8Array;
