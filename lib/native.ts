/**
 * The native addon, loaded through the `binding.cjs` loader that `napi build`
 * generates (it picks the `.node` file for this platform).
 */
import type * as Binding from '../binding'
import type { WasmValue } from './types'

/** An export as a function, made by `NativeEngine.getFunction`. */
export type NativeFunction = (...args: WasmValue[]) => unknown

/** Entry points the binding adds by hand (raw Node-API), typed here. */
interface RawEntryPoints {
  /**
   * Queues a call of the export `name` (of the signature `expect` names)
   * on `engine`'s workers, behind the engine's earlier calls; the promise
   * settles with its results or rejects with its `WasmError`.
   */
  callBlocking(
    engine: Binding.NativeEngine,
    handle: Binding.InstanceHandle,
    name: string,
    expect: 0 | 1 | 2 | 3,
    signal: Binding.CallSignal | undefined,
    ...args: WasmValue[]
  ): Promise<unknown>
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const native: typeof Binding & RawEntryPoints = require('../binding.cjs')

export type NativeEngine = Binding.NativeEngine
export type Module = Binding.Module
export type InstanceHandle = Binding.InstanceHandle
export type CallSignal = Binding.CallSignal

/** What `getFunction` checks the export's signature against. */
export const Expect = { Any: 0, Void: 1, I64x2: 2, I64x3: 3 } as const
