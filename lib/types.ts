/** Value types shared by every module of the TypeScript layer; imports nothing. */

/** A WebAssembly value as JavaScript sees it: i32, f32 and f64 are numbers, i64 is a bigint. */
export type WasmValue = number | bigint

/** What a host function returns: nothing, one value, or an array for several results. */
export type HostResult = WasmValue | void | WasmValue[]
