/**
 * Node's own (V8's) WebAssembly, typed just enough for the tests and the
 * stress suite that compare this engine with it: the project's compiler
 * settings load no DOM types, where `WebAssembly` is declared.
 */
export interface V8Instance {
  exports: Record<string, unknown>
}

export const V8WebAssembly = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => object
      Instance: new (module: object, imports?: object) => V8Instance
      Memory: new (descriptor: { initial: number; maximum?: number }) => { buffer: ArrayBuffer }
      RuntimeError: new (message?: string) => Error
      validate: (bytes: Uint8Array) => boolean
    }
  }
).WebAssembly
