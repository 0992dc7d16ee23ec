/**
 * WebAssembly components with jco's names and values, under the engine's
 * limits: {@link WasmEngine.compileComponent} and
 * {@link WasmEngine.instantiateComponent}.
 *
 * Exported interfaces appear under their short name in camelCase
 * (`greeter` for `local:demo/greeter@0.1.0`) and under their full name;
 * functions and record fields are camelCase; an export returning
 * `result<T, E>` returns `T` or throws a {@link ComponentError} whose
 * `payload` is `E`. Values map as jco maps them (see the README's
 * "Components" section). Calls run on the calling thread, each under the
 * engine's deadline and fuel, every memory of the component under its
 * page cap.
 *
 * @module
 */
import { ComponentError } from './errors'
import { type CallSignal, native } from './native'
import { withSignal } from './signal'

/** A WIT type as {@link ComponentFunctionType} describes it. */
export interface WitType {
  /** `bool`, `u32`, `string`, `list`, `record`, `variant`, `option`, `result`, ... */
  kind: string
  /** The type as WIT spells it. */
  wit: string
  element?: WitType
  inner?: WitType
  ok?: WitType | null
  err?: WitType | null
  fields?: { name: string; type: WitType }[]
  types?: WitType[]
  cases?: { name: string; type: WitType | null }[]
  names?: string[]
}

/** A function a component exports or imports. */
export interface ComponentFunctionType {
  /** The interface it belongs to (`local:demo/greeter`), `null` for the world's own functions. */
  interface: string | null
  /** Its WIT name (`greet`, `set-name`). */
  name: string
  /** Parameters, their names camelCase. */
  params: { name: string; type: WitType }[]
  /** Zero or one result. */
  results: WitType[]
}

type NativeComponent = InstanceType<typeof native.NativeComponent>
type NativeComponentInstance = InstanceType<typeof native.NativeComponentInstance>

/** A function of a component's exports, called on this thread. */
export type ComponentFunction = (...args: unknown[]) => unknown

/** The functions of one exported interface, by camelCase name. */
export interface ComponentInterface {
  [name: string]: ComponentFunction
}

/**
 * Exported functions by name: the world's own, and each interface under its
 * short and its full name. Typed loosely (an entry is a function or an
 * interface, whichever the component has there) so that
 * `exports.greeter.greet(...)` and `exports.topLevel(...)` both read
 * naturally.
 */
export interface ComponentExports {
  [name: string]: ComponentFunction & ComponentInterface
}

/**
 * Imports by interface, as jco's import object: `{ 'local:demo/host': { log } }`
 * (the name with or without its `@version`); the world's own functions at
 * the top level by their camelCase name.
 */
export type ComponentImportObject = Record<string, unknown>

/** A function of `exportsAsync`: the call on the engine's workers. */
export interface AsyncComponentFunction {
  (...args: unknown[]): Promise<unknown>
  /** The same function, its calls stopped by `signal` (`AbortedError`). */
  withSignal(signal: AbortSignal): (...args: unknown[]) => Promise<unknown>
}

/** The functions of one interface of `exportsAsync`. */
export interface AsyncComponentInterface {
  [name: string]: AsyncComponentFunction
}

/** {@link ComponentExports}, each call on the engine's workers. */
export interface AsyncComponentExports {
  [name: string]: AsyncComponentFunction & AsyncComponentInterface
}

/** Options of {@link WasmEngine.instantiateComponent}. */
export interface ComponentInstantiateOptions {
  imports?: ComponentImportObject
}

/** `kebab-case` as jco spells it: `camelCase`. */
export function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/gi, (_, c: string) => c.toUpperCase())
}

/** The short name of an interface: `local:demo/greeter@0.1.0` → `greeter`. */
function shortName(iface: string): string {
  const path = iface.split('@')[0]!
  const last = path.slice(path.lastIndexOf('/') + 1)
  return camelCase(last.slice(last.indexOf(':') + 1))
}

/** A compiled component: what it exports and imports. */
export class Component {
  /** @internal */
  readonly native: NativeComponent
  #exports: ComponentFunctionType[] | undefined
  #imports: ComponentFunctionType[] | undefined

  /** @internal */
  constructor(compiled: NativeComponent) {
    this.native = compiled
  }

  /** The functions the component exports. */
  get exports(): ComponentFunctionType[] {
    this.#exports ??= this.native.exports as ComponentFunctionType[]
    return this.#exports
  }

  /** The functions the component imports. */
  get imports(): ComponentFunctionType[] {
    this.#imports ??= this.native.imports as ComponentFunctionType[]
    return this.#imports
  }
}

/**
 * The component's exports in jco's shape (the world's functions at the
 * top, each interface under its full and its short name), each function
 * made by `make(index, type)`.
 */
function shaped<F>(component: Component, make: (index: number, fn: ComponentFunctionType) => F): Record<string, F | Record<string, F>> {
  const exports: Record<string, F | Record<string, F>> = {}
  component.exports.forEach((fn, index) => {
    const call = make(index, fn)
    Object.defineProperty(call, 'name', { value: camelCase(fn.name) })
    if (fn.interface === null) {
      exports[camelCase(fn.name)] = call
      return
    }
    const holder = (exports[fn.interface] ??= {}) as Record<string, F>
    holder[camelCase(fn.name)] = call
    exports[shortName(fn.interface)] ??= holder
  })
  return exports
}

/** An `err` of a result-returning export becomes a thrown {@link ComponentError}. */
function unwrap(value: unknown, ty: WitType | undefined): unknown {
  if (ty?.kind !== 'result') return value
  const { tag, val } = value as { tag: 'ok' | 'err'; val: unknown }
  if (tag === 'ok') return val
  throw new ComponentError(val, `the component returned an error: ${describe(val)}`)
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  try {
    return JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value)
  } catch {
    return String(value)
  }
}

/** The user's function for the import `fn`, or `undefined` when not given. */
function findImport(imports: ComponentImportObject, fn: ComponentFunctionType): ((...args: unknown[]) => unknown) | undefined {
  const name = camelCase(fn.name)
  if (fn.interface === null) {
    const found = imports[name] ?? imports[fn.name]
    return typeof found === 'function' ? (found as (...args: unknown[]) => unknown) : undefined
  }
  const holder = (imports[fn.interface] ?? imports[fn.interface.split('@')[0]!]) as Record<string, unknown> | undefined
  const found = holder?.[name] ?? holder?.[fn.name]
  return typeof found === 'function' ? (found as (...args: unknown[]) => unknown).bind(holder) : undefined
}

/** What an import's return value or failure means to the guest: `ok`/`err` for a result-returning import. */
function settled(ty: ComponentFunctionType): { value: (v: unknown) => unknown; failure: (e: unknown) => { tag: 'err'; val: unknown } | undefined } {
  if (ty.results[0]?.kind !== 'result') return { value: (v) => v, failure: () => undefined }
  return {
    value: (v) => ({ tag: 'ok', val: v }),
    failure: (e) => (e instanceof ComponentError ? { tag: 'err', val: e.payload } : undefined),
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

/**
 * The dispatcher protocol of the native side: `call(args, token)` returns
 * `[answer]` when the answer is at hand; for a promise it returns
 * `undefined` and settles the request `token` later (token 0 marks a
 * synchronous call, which cannot wait: the guest then traps, saying so).
 * A result-returning import answers `ok` by returning and `err` by
 * throwing (or rejecting with) a {@link ComponentError}; any other throw
 * traps the guest.
 */
function importCall(fn: (...args: unknown[]) => unknown, ty: ComponentFunctionType): (args: unknown[], token: number) => unknown {
  const { value, failure } = settled(ty)
  return (args, token) => {
    let returned: unknown
    try {
      returned = fn(...args)
    } catch (err) {
      const err_ = failure(err)
      if (err_ === undefined) throw err
      return [err_]
    }
    if (!isThenable(returned)) return [value(returned)]
    if (token === 0) {
      // Nobody will read it: keep a rejection from going unhandled.
      Promise.resolve(returned).then(undefined, () => {})
      return undefined
    }
    Promise.resolve(returned).then(
      (resolved) => native.resolveRequest(token, value(resolved)),
      (reason) => {
        const err_ = failure(reason)
        if (err_ === undefined) native.rejectRequest(token, reason)
        else native.resolveRequest(token, err_)
      },
    )
    return undefined
  }
}

/**
 * An instantiated component. Its functions run on the calling thread; a
 * guest that calls back into a busy engine gets `EngineBusyError`.
 * Release it with {@link ComponentInstance.drop} (or `using`); one that is
 * garbage-collected is dropped by its finalizer.
 */
export class ComponentInstance {
  readonly #native: NativeComponentInstance
  /** The exported functions, with jco's names (see the module's documentation). */
  readonly exports: ComponentExports
  /**
   * The same functions, each call queued on the engine's workers (behind
   * its earlier calls, as `call3i64Blocking`) and returning a promise; the
   * imports they call still run on the JavaScript thread and may return
   * promises, which the guest awaits on its worker. Each function has
   * `withSignal(signal)`, the same function stopped by an `AbortSignal`
   * (`AbortedError`). A call keeps its instance alive until it settles.
   */
  readonly exportsAsync: AsyncComponentExports

  /** @internal */
  constructor(instance: NativeComponentInstance, component: Component) {
    this.#native = instance
    this.exports = shaped(component, (index, fn) => (...args) => unwrap(instance.call(index, args), fn.results[0])) as ComponentExports
    this.exportsAsync = shaped(component, (index, fn) => {
      const start = (signal: AbortSignal | undefined, args: unknown[]) => {
        const run = (token: CallSignal | undefined) =>
          instance.callAsync(instance, index, args, token).then((value) => unwrap(value, fn.results[0]))
        try {
          return signal === undefined ? run(undefined) : withSignal(signal, run)
        } catch (err) {
          return Promise.reject(err)
        }
      }
      const call = (...args: unknown[]) => start(undefined, args)
      call.withSignal = (signal: AbortSignal) => (...args: unknown[]) => start(signal, args)
      return call
    }) as AsyncComponentExports
  }

  /** Drops the instance: its memories go now; later calls throw `InvalidHandleError`. Idempotent. */
  drop(): void {
    this.#native.dropInstance()
  }

  /** Same as {@link ComponentInstance.drop}, for `using`. */
  [Symbol.dispose](): void {
    this.drop()
  }
}

/** @internal Compiles a component on `engine`. */
export function compileComponent(engine: InstanceType<typeof native.NativeEngine>, code: Uint8Array | ArrayBuffer | string): Component {
  const bytes = code instanceof ArrayBuffer ? new Uint8Array(code) : code
  return new Component(native.compileComponent(engine, bytes))
}

/** @internal Compiles a component on `engine` on a native thread. */
export async function compileComponentAsync(
  engine: InstanceType<typeof native.NativeEngine>,
  code: Uint8Array | ArrayBuffer | string,
): Promise<Component> {
  const bytes = code instanceof ArrayBuffer ? new Uint8Array(code) : code
  return new Component(await native.compileComponentAsync(engine, bytes))
}

/** @internal Instantiates `component` on `engine` with `options.imports`. */
export function instantiateComponent(
  engine: InstanceType<typeof native.NativeEngine>,
  component: Component,
  options: ComponentInstantiateOptions = {},
): ComponentInstance {
  if (!(component instanceof Component)) throw new TypeError('component must come from compileComponent')
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  const imports = options.imports ?? {}
  if (typeof imports !== 'object' || imports === null) throw new TypeError('options.imports must be an object')
  const found = component.imports.map((fn) => findImport(imports, fn))
  const calls = found.map((fn, i) => (fn === undefined ? undefined : importCall(fn, component.imports[i]!)))
  const dispatch = (index: number, args: unknown[], token: number) => calls[index]!(args, token)
  const instance = native.instantiateComponent(
    engine,
    component.native,
    found.map((fn) => fn !== undefined),
    dispatch,
  )
  return new ComponentInstance(instance, component)
}
