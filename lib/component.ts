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
import { native } from './native'

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

/** A result-returning import's answer: what it returned is `ok`, a thrown {@link ComponentError} `err`. */
function wrapImport(fn: (...args: unknown[]) => unknown, ty: ComponentFunctionType): (args: unknown[]) => unknown {
  if (ty.results[0]?.kind !== 'result') return (args) => fn(...args)
  return (args) => {
    try {
      return { tag: 'ok', val: fn(...args) }
    } catch (err) {
      if (err instanceof ComponentError) return { tag: 'err', val: err.payload }
      throw err
    }
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

  /** @internal */
  constructor(instance: NativeComponentInstance, component: Component) {
    this.#native = instance
    const exports: Record<string, ComponentFunction | ComponentInterface> = {}
    component.exports.forEach((fn, index) => {
      const call: ComponentFunction = (...args) => unwrap(instance.call(index, args), fn.results[0])
      Object.defineProperty(call, 'name', { value: camelCase(fn.name) })
      if (fn.interface === null) {
        exports[camelCase(fn.name)] = call
        return
      }
      const holder = (exports[fn.interface] ??= {}) as ComponentInterface
      holder[camelCase(fn.name)] = call
      exports[shortName(fn.interface)] ??= holder
    })
    this.exports = exports as ComponentExports
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
  const calls = found.map((fn, i) => (fn === undefined ? undefined : wrapImport(fn, component.imports[i]!)))
  const dispatch = (index: number, args: unknown[]) => calls[index]!(args)
  const instance = native.instantiateComponent(
    engine,
    component.native,
    found.map((fn) => fn !== undefined),
    dispatch,
  )
  return new ComponentInstance(instance, component)
}
