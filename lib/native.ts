/**
 * The native addon, loaded through the `binding.cjs` loader that `napi build`
 * generates (it picks the `.node` file for this platform).
 */
import type * as Binding from '../binding'

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const native: typeof Binding = require('../binding.cjs')

export type NativeEngine = Binding.NativeEngine
export type Module = Binding.Module
export type InstanceHandle = Binding.InstanceHandle
export type HostCall = Binding.HostCall
