/**
 * Components, on hand-written WebAssembly text: every WIT type the engine
 * passes, echoed by an export and round-tripped through a JavaScript
 * import; what a misfit, a missing or throwing import, a runaway guest, a
 * trap and a lying guest become; and the world `component.exports` and
 * `component.imports` describe.
 *
 * The kitchen-sink component (`SINK`) has, for each case of `CASES`, an
 * export `echo-NAME(x) -> x` and an export `via-NAME(x)` that returns what
 * its import `local:demo/host@0.1.0#echo-NAME(x)` answers. Strings and
 * lists live in a memory of a `libc` core module with a bump allocator
 * (its `realloc`), so that the lowered imports and the core module that
 * calls them can share it.
 */
import test, { type ExecutionContext } from 'ava'

import {
  CompileError,
  type Component,
  ComponentError,
  type ComponentExports,
  type ComponentImportObject,
  EngineBusyError,
  InstantiationError,
  InvalidHandleError,
  MemoryError,
  OutOfGasError,
  RuntimeError,
  TimeoutError,
  type TrapCode,
  WasmEngine,
  WasmError,
} from '../index'

/** One WIT type the kitchen sink echoes, directly and through its import. */
interface Case {
  /** Suffix of the exports `echo-NAME`, `via-NAME` and of the import `echo-NAME`. */
  name: string
  /** The type in a function signature (`$person` is a type the component exports). */
  wit: string
  /** Its flattened core parameters. */
  flat: string[]
  /** The core result when the type flattens to one value; else the size of the return area, and how `echo` fills it. */
  result: string | { size: number; store: string }
}

const RET = '(local.get $ret)'
/** A store of core parameter `param` at `offset` into the return area. */
const at = (op: string, offset: number, param: number) => `(${op} offset=${offset} ${RET} (local.get ${param}))`

const CASES: Case[] = [
  { name: 'bool', wit: 'bool', flat: ['i32'], result: 'i32' },
  ...['s8', 'u8', 's16', 'u16', 's32', 'u32', 'char'].map((t) => ({ name: t, wit: t, flat: ['i32'], result: 'i32' })),
  { name: 's64', wit: 's64', flat: ['i64'], result: 'i64' },
  { name: 'u64', wit: 'u64', flat: ['i64'], result: 'i64' },
  { name: 'f32', wit: 'f32', flat: ['f32'], result: 'f32' },
  { name: 'f64', wit: 'f64', flat: ['f64'], result: 'f64' },
  // string, list<u8>, list<u32>: pointer at 0, length at 4
  ...[
    ['string', 'string'],
    ['bytes', '(list u8)'],
    ['words', '(list u32)'],
  ].map(([name, wit]) => ({ name: name!, wit: wit!, flat: ['i32', 'i32'], result: { size: 8, store: at('i32.store', 0, 0) + at('i32.store', 4, 1) } })),
  // record person { first-name: string, age-years: u32, is-admin: bool }
  {
    name: 'person',
    wit: '$person',
    flat: ['i32', 'i32', 'i32', 'i32'],
    result: { size: 16, store: at('i32.store', 0, 0) + at('i32.store', 4, 1) + at('i32.store', 8, 2) + at('i32.store8', 12, 3) },
  },
  // tuple<u32, string>
  { name: 'pair', wit: '(tuple u32 string)', flat: ['i32', 'i32', 'i32'], result: { size: 12, store: at('i32.store', 0, 0) + at('i32.store', 4, 1) + at('i32.store', 8, 2) } },
  // variant shape { circle(f64), square(u32), empty }: case at 0, the payload at 8 flattened to one i64
  { name: 'shape', wit: '$shape', flat: ['i32', 'i64'], result: { size: 16, store: at('i32.store8', 0, 0) + at('i64.store', 8, 1) } },
  { name: 'color', wit: '$color', flat: ['i32'], result: 'i32' },
  // option<u32>: case at 0, value at 4
  { name: 'maybe', wit: '(option u32)', flat: ['i32', 'i32'], result: { size: 8, store: at('i32.store8', 0, 0) + at('i32.store', 4, 1) } },
  // option<option<u32>>: case at 0, inner case at 4, value at 8
  {
    name: 'maybe-maybe',
    wit: '(option (option u32))',
    flat: ['i32', 'i32', 'i32'],
    result: { size: 12, store: at('i32.store8', 0, 0) + at('i32.store8', 4, 1) + at('i32.store', 8, 2) },
  },
  // result<u32, string>: case at 0, the u32 or the string's pointer at 4, its length at 8
  {
    name: 'outcome',
    wit: '(result u32 (error string))',
    flat: ['i32', 'i32', 'i32'],
    result: { size: 12, store: at('i32.store8', 0, 0) + at('i32.store', 4, 1) + at('i32.store', 8, 2) },
  },
  { name: 'perms', wit: '$perms', flat: ['i32'], result: 'i32' },
]

/** The named types: exported by the component, and declared again in its import's instance type. */
const TYPES: Array<[string, string]> = [
  ['person', '(record (field "first-name" string) (field "age-years" u32) (field "is-admin" bool))'],
  ['shape', '(variant (case "circle" f64) (case "square" u32) (case "empty"))'],
  ['color', '(enum "red" "green" "blue-ish")'],
  ['perms', '(flags "read" "write" "exec-all")'],
]

const OPTS = '(memory $mem) (realloc $realloc) string-encoding=utf8'

/** A core module owning the memory and a bump allocator over it that grows the memory as needed and traps when it cannot. */
const LIBC = `
  (core module $libc
    (memory (export "mem") 1)
    (global $bump (mut i32) (i32.const 1024))
    (func (export "realloc") (param $old i32) (param $old-size i32) (param $align i32) (param $size i32) (result i32)
      (local $ptr i32) (local $pages i32)
      (local.set $ptr (i32.and (i32.add (global.get $bump) (i32.sub (local.get $align) (i32.const 1)))
                               (i32.sub (i32.const 0) (local.get $align))))
      (global.set $bump (i32.add (local.get $ptr) (local.get $size)))
      (local.set $pages (i32.shr_u (i32.add (global.get $bump) (i32.const 65535)) (i32.const 16)))
      (if (i32.gt_u (local.get $pages) (memory.size))
        (then (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then unreachable))))
      (if (local.get $old) (then (memory.copy (local.get $ptr) (local.get $old) (local.get $old-size))))
      (local.get $ptr)))
  (core instance $libc (instantiate $libc))
  (alias core export $libc "mem" (core memory $mem))
  (alias core export $libc "realloc" (core func $realloc))`

/** The core functions `echo-NAME` and `via-NAME` of `c`. */
function coreFuncs(c: Case): string {
  const params = c.flat.map((t) => `(param ${t})`).join(' ')
  const args = c.flat.map((_, i) => `(local.get ${i})`).join(' ')
  if (typeof c.result === 'string') {
    return `
    (func (export "echo-${c.name}") ${params} (result ${c.result}) ${args})
    (func (export "via-${c.name}") ${params} (result ${c.result}) (call $host-${c.name} ${args}))`
  }
  const alloc = `(local.set $ret (call $realloc (i32.const 0) (i32.const 0) (i32.const 8) (i32.const ${c.result.size})))`
  // The lowered import writes its result where its last parameter points: the return area, as lifted.
  return `
    (func (export "echo-${c.name}") ${params} (result i32) (local $ret i32) ${alloc} ${c.result.store} ${RET})
    (func (export "via-${c.name}") ${params} (result i32) (local $ret i32) ${alloc} (call $host-${c.name} ${args} ${RET}) ${RET})`
}

/** The core import of the lowered `echo-NAME`. */
function coreImport(c: Case): string {
  const params = c.flat.map((t) => `(param ${t})`).join(' ')
  const sig = typeof c.result === 'string' ? `${params} (result ${c.result})` : `${params} (param i32)`
  return `(import "host" "echo-${c.name}" (func $host-${c.name} ${sig}))`
}

const SINK = `(component
  (import "local:demo/host@0.1.0" (instance $host
    ${TYPES.map(([n, t]) => `(type $${n}-def ${t}) (export "${n}" (type $${n} (eq $${n}-def)))`).join('\n    ')}
    ${CASES.map((c) => `(export "echo-${c.name}" (func (param "x" ${c.wit}) (result ${c.wit})))`).join('\n    ')}))
  ${TYPES.map(([n, t]) => `(type $${n}-def ${t}) (export $${n} "${n}" (type $${n}-def))`).join('\n  ')}
  ${LIBC}
  ${CASES.map((c) => `(core func $host-${c.name} (canon lower (func $host "echo-${c.name}") ${OPTS}))`).join('\n  ')}
  (core instance $host-core ${CASES.map((c) => `(export "echo-${c.name}" (func $host-${c.name}))`).join(' ')})
  (core module $main
    (import "libc" "mem" (memory 1))
    (import "libc" "realloc" (func $realloc (param i32 i32 i32 i32) (result i32)))
    ${CASES.map(coreImport).join('\n    ')}
    ${CASES.map(coreFuncs).join('')})
  (core instance $main (instantiate $main (with "libc" (instance $libc)) (with "host" (instance $host-core))))
  ${CASES.map(
    (c) => `(func $echo-${c.name} (param "x" ${c.wit}) (result ${c.wit}) (canon lift (core func $main "echo-${c.name}") ${OPTS}))
  (func $via-${c.name} (param "x" ${c.wit}) (result ${c.wit}) (canon lift (core func $main "via-${c.name}") ${OPTS}))
  (export "echo-${c.name}" (func $echo-${c.name}))
  (export "via-${c.name}" (func $via-${c.name}))`,
  ).join('\n  ')})`

/** The brief's example: one function, exported in an interface and at the top level. */
const CALC = `(component
  (core module $m
    (func (export "add") (param i64 i64) (result i64) local.get 0 local.get 1 i64.add))
  (core instance $i (instantiate $m))
  (func $add (param "first-term" s64) (param "b" s64) (result s64) (canon lift (core func $i "add")))
  (instance $calc (export "add-all" (func $add)))
  (export "local:demo/big-calc@1.0.0" (instance $calc))
  (export "top-add" (func $add)))`

/**
 * Guests that misbehave: spin, grow their memory, trap, and lift results
 * that lie (pointers and lengths past the memory, bytes that are not
 * UTF-8, code points and discriminants out of range).
 */
const ROGUE = `(component
  ${LIBC}
  (type $color-def (enum "red" "green"))
  (export $color "color" (type $color-def))
  (type $shape-def (variant (case "a") (case "b" u32)))
  (export $shape "shape" (type $shape-def))
  (core module $main
    (import "libc" "mem" (memory 1))
    (import "libc" "realloc" (func $realloc (param i32 i32 i32 i32) (result i32)))
    (data (i32.const 64) "\\ff\\fe\\fd")
    (func (export "spin") (loop (br 0)))
    (func (export "hog") (drop (memory.grow (i32.const 100))) (loop (br 0)))
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
    (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
    (func (export "boom") unreachable)
    (func (export "ok") (result i32) (i32.const 42))
    (func (export "take") (param i32 i32) (result i32) (local.get 1))
    (func $pair (param i32 i32) (result i32)
      (i32.store (i32.const 16) (local.get 0)) (i32.store (i32.const 20) (local.get 1)) (i32.const 16))
    (func (export "lie-string-ptr") (result i32) (call $pair (i32.const 0xffff0000) (i32.const 16)))
    (func (export "lie-string-len") (result i32) (call $pair (i32.const 0) (i32.const 0x7fffffff)))
    (func (export "lie-list-len") (result i32) (call $pair (i32.const 0) (i32.const 0x20000000)))
    (func (export "lie-utf8") (result i32) (call $pair (i32.const 64) (i32.const 3)))
    (func (export "lie-char") (result i32) (i32.const 0xd800))
    (func (export "lie-enum") (result i32) (i32.const 7))
    (func (export "lie-variant") (result i32) (i32.store8 (i32.const 16) (i32.const 9)) (i32.const 16))
    (func (export "lie-option") (result i32) (i32.store8 (i32.const 16) (i32.const 2)) (i32.const 16)))
  (core instance $main (instantiate $main (with "libc" (instance $libc))))
  (func (export "spin") (canon lift (core func $main "spin")))
  (func (export "hog") (canon lift (core func $main "hog")))
  (func (export "grow") (param "pages" u32) (result s32) (canon lift (core func $main "grow")))
  (func (export "div") (param "a" s32) (param "b" s32) (result s32) (canon lift (core func $main "div")))
  (func (export "boom") (canon lift (core func $main "boom")))
  (func (export "ok") (result u32) (canon lift (core func $main "ok")))
  (func (export "take") (param "s" string) (result u32) (canon lift (core func $main "take") ${OPTS}))
  (func (export "lie-string-ptr") (result string) (canon lift (core func $main "lie-string-ptr") ${OPTS}))
  (func (export "lie-string-len") (result string) (canon lift (core func $main "lie-string-len") ${OPTS}))
  (func (export "lie-list-len") (result (list u32)) (canon lift (core func $main "lie-list-len") ${OPTS}))
  (func (export "lie-utf8") (result string) (canon lift (core func $main "lie-utf8") ${OPTS}))
  (func (export "lie-char") (result char) (canon lift (core func $main "lie-char")))
  (func (export "lie-enum") (result $color) (canon lift (core func $main "lie-enum")))
  (func (export "lie-variant") (result $shape) (canon lift (core func $main "lie-variant") ${OPTS}))
  (func (export "lie-option") (result (option u32)) (canon lift (core func $main "lie-option") ${OPTS})))`

/** A world function import and an interface one, neither given by `{}`. */
const IMPORTER = `(component
  (import "log-line" (func $log (param "line" string)))
  (import "local:demo/clock" (instance $clock (export "now-ms" (func (result u64)))))
  ${LIBC}
  (core func $log (canon lower (func $log) ${OPTS}))
  (core func $now (canon lower (func $clock "now-ms")))
  (core module $main
    (import "libc" "mem" (memory 1))
    (import "host" "log" (func $log (param i32 i32)))
    (import "host" "now" (func $now (result i64)))
    (data (i32.const 32) "tick")
    (func (export "tick") (result i64) (call $log (i32.const 32) (i32.const 4)) (call $now)))
  (core instance $main (instantiate $main (with "libc" (instance $libc))
    (with "host" (instance (export "log" (func $log)) (export "now" (func $now))))))
  (func (export "tick") (result u64) (canon lift (core func $main "tick"))))`

/** `kebab-case` → `camelCase`, as jco names things. */
const camel = (name: string) => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())
const pascal = (name: string) => camel(name).replace(/^./, (c) => c.toUpperCase())

type HostEcho = (x: unknown) => unknown

/** The sink's import object: every `echo-NAME` returns its argument, unless `overrides` says otherwise; `seen` records the arguments. */
function sinkImports(overrides: Record<string, HostEcho> = {}, seen: unknown[] = []): ComponentImportObject {
  const host: Record<string, HostEcho> = {}
  for (const c of CASES) {
    host[`echo${pascal(c.name)}`] = (x) => {
      seen.push(x)
      return x
    }
  }
  for (const [name, fn] of Object.entries(overrides)) {
    host[name] = (x) => {
      seen.push(x)
      return fn(x)
    }
  }
  return { 'local:demo/host': host }
}

let sinkComponent: { engine: WasmEngine; component: Component } | undefined

/** A fresh sink instance (on one shared engine); `seen` collects what its imports receive. */
function sink(overrides: Record<string, HostEcho> = {}, seen: unknown[] = []): ComponentExports {
  sinkComponent ??= (() => {
    const engine = new WasmEngine()
    return { engine, component: engine.compileComponent(SINK) }
  })()
  return sinkComponent.engine.instantiateComponent(sinkComponent.component, { imports: sinkImports(overrides, seen) }).exports
}

/** The value each echo should come back with, checked with `Object.is` for numbers (so that -0 and NaN count). */
function same(t: ExecutionContext, got: unknown, want: unknown, label: string) {
  if (typeof want === 'number') t.true(Object.is(got, want), `${label}: ${String(got)} is not ${String(want)}`)
  else t.deepEqual(got, want, label)
}

/** Values each type must survive both ways, by case name. */
const ROUND_TRIPS: Array<[string, unknown[]]> = [
  ['bool', [true, false]],
  ['s8', [-128, -1, 0, 127]],
  ['u8', [0, 128, 255]],
  ['s16', [-32768, 32767]],
  ['u16', [0, 65535]],
  ['s32', [-(2 ** 31), -1, 2 ** 31 - 1]],
  ['u32', [0, 2 ** 31, 2 ** 31 + 5, 2 ** 32 - 1]],
  ['s64', [-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n]],
  ['u64', [0n, 2n ** 63n, 2n ** 64n - 1n]],
  ['f32', [1.5, -0, 0, Infinity, -Infinity, Math.fround(3.4e38)]],
  ['f64', [Math.PI, -0, Number.MAX_VALUE, Number.MIN_VALUE, -Infinity]],
  ['char', ['a', 'é', '\u{10FFFF}', '😀']],
  ['string', ['', 'ascii', 'héllo wörld ✓ 😀', 'a\u0000b']],
  ['bytes', [new Uint8Array(0), new Uint8Array([0, 1, 127, 128, 255])]],
  ['words', [new Uint32Array(0), new Uint32Array([0, 1, 2 ** 31, 2 ** 32 - 1])]],
  ['person', [{ firstName: 'Ada', ageYears: 36, isAdmin: true }, { firstName: '', ageYears: 2 ** 32 - 1, isAdmin: false }]],
  ['pair', [[7, 'seven'], [0, '']]],
  ['shape', [{ tag: 'circle', val: 1.5 }, { tag: 'square', val: 4 }, { tag: 'empty' }]],
  ['color', ['red', 'green', 'blue-ish']],
  ['maybe', [5, 0, undefined]],
  // jco tags the outer option when its payload is an option: `{ tag: 'some', val: undefined }` is some(none).
  ['maybe-maybe', [{ tag: 'some', val: 3 }, { tag: 'some', val: 0 }, { tag: 'some', val: undefined }, { tag: 'none' }]],
  ['perms', [{ read: true, write: false, execAll: true }, { read: false, write: false, execAll: false }, { read: true, write: true, execAll: true }]],
]

test('every type comes back from an echo export and through a JavaScript import unchanged', (t) => {
  const seen: unknown[] = []
  const exports = sink({}, seen)
  t.is(ROUND_TRIPS.length, CASES.length - 1) // every case but the result, tested on its own
  for (const [name, values] of ROUND_TRIPS) {
    for (const value of values) {
      const label = `${name} ${typeof value === 'bigint' ? `${value}n` : JSON.stringify(value)}`
      same(t, exports[`echo${pascal(name)}`]!(value), value, `echo ${label}`)
      seen.length = 0
      same(t, exports[`via${pascal(name)}`]!(value), value, `via ${label}`)
      t.is(seen.length, 1, `the import ran once for ${label}`)
      same(t, seen[0], value, `the import's argument, ${label}`)
    }
  }
})

test('numeric lists are typed arrays both ways, as jco maps them (list<u8> a Uint8Array, list<u32> a Uint32Array); plain arrays are taken too', (t) => {
  const seen: unknown[] = []
  const exports = sink({}, seen)
  const bytes = exports.viaBytes!(Buffer.from('hi'))
  t.true(bytes instanceof Uint8Array)
  t.false(Buffer.isBuffer(bytes))
  t.deepEqual(bytes, new Uint8Array([104, 105]))
  t.true(seen[0] instanceof Uint8Array)
  // A view is read from its own offset, not from the start of its buffer.
  t.deepEqual(exports.echoBytes!(new Uint8Array([1, 2, 3, 4]).subarray(1, 3)), new Uint8Array([2, 3]))
  // A plain array of bytes is accepted too.
  t.deepEqual(exports.echoBytes!([9, 8]), new Uint8Array([9, 8]))
  const words = exports.viaWords!([1, 2])
  t.true(words instanceof Uint32Array)
  t.deepEqual(words, new Uint32Array([1, 2]))
  t.true(seen[seen.length - 1] instanceof Uint32Array)
  t.deepEqual(exports.echoWords!(new Uint32Array([7, 2 ** 32 - 1, 0]).subarray(1)), new Uint32Array([2 ** 32 - 1, 0]))
  // A typed array of another element type is refused, as a misfit.
  t.throws(() => exports.echoWords!(new Uint8Array([3, 4])), { instanceOf: TypeError, message: /WIT list<u32>/ })
})

test('f32 rounds to single precision; NaN stays NaN both ways', (t) => {
  const exports = sink()
  t.is(exports.echoF32!(1.1), Math.fround(1.1))
  t.is(exports.viaF32!(1.1), Math.fround(1.1))
  t.is(exports.echoF32!(1e40), Infinity)
  for (const fn of ['echoF32', 'viaF32', 'echoF64', 'viaF64']) {
    t.true(Number.isNaN(exports[fn]!(NaN)), fn)
  }
})

test('strings of 1 MiB cross both ways, ASCII and multi-byte', (t) => {
  const exports = sink()
  const ascii = 'x'.repeat(1 << 20)
  const wide = 'é😀'.repeat(1 << 17) // 1.5 MiB of UTF-8
  for (const text of [ascii, wide]) {
    t.true(exports.echoString!(text) === text)
    t.true(exports.viaString!(text) === text)
  }
})

test('a result export returns ok and throws err as a ComponentError with the payload; a result import answers ok by returning, err by throwing ComponentError', (t) => {
  const seen: unknown[] = []
  const exports = sink(
    {
      echoOutcome: (x) => {
        const { tag, val } = x as { tag: string; val: unknown }
        if (tag === 'err') throw new ComponentError(`${String(val)}!`)
        return (val as number) + 1
      },
    },
    seen,
  )
  t.is(exports.echoOutcome!({ tag: 'ok', val: 3 }), 3)
  const err = t.throws(() => exports.echoOutcome!({ tag: 'err', val: 'bad' }), { instanceOf: ComponentError })
  t.true(err instanceof WasmError)
  t.is(err?.code, 'COMPONENT')
  t.is(err?.payload, 'bad')
  t.regex(err?.message ?? '', /"bad"/)
  // The import sees the result as { tag, val }; the guest passes its answer back.
  t.is(exports.viaOutcome!({ tag: 'ok', val: 3 }), 4)
  t.deepEqual(seen.at(-1), { tag: 'ok', val: 3 })
  const relayed = t.throws(() => exports.viaOutcome!({ tag: 'err', val: 'e' }), { instanceOf: ComponentError })
  t.is(relayed?.payload, 'e!')
  t.deepEqual(seen.at(-1), { tag: 'err', val: 'e' })
  // The instance is fine after errors that are values, not traps.
  t.is(exports.echoU8!(7), 7)
})

test('a JavaScript import gets converted arguments and its answer is converted back', (t) => {
  const exports = sink({
    echoU64: (x) => (x as bigint) - 1n,
    echoS32: (x) => -(x as number),
    echoString: (x) => `${x as string}, and more ✓`,
    echoWords: (x) => [...(x as Uint32Array)].reverse(),
    echoPerson: (x) => {
      const p = x as { firstName: string; ageYears: number; isAdmin: boolean }
      return { firstName: p.firstName.toUpperCase(), ageYears: p.ageYears + 1, isAdmin: !p.isAdmin }
    },
    echoShape: () => ({ tag: 'square', val: 9 }),
    echoMaybe: (x) => (x === undefined ? 1 : undefined),
    echoPerms: (x) => ({ ...(x as object), write: true }),
    echoChar: () => '🦀',
  })
  t.is(exports.viaU64!(2n ** 64n - 1n), 2n ** 64n - 2n)
  t.is(exports.viaS32!(-(2 ** 31) + 1), 2 ** 31 - 1)
  t.is(exports.viaString!('héllo'), 'héllo, and more ✓')
  t.deepEqual(exports.viaWords!([1, 2, 3]), new Uint32Array([3, 2, 1]))
  t.deepEqual(exports.viaPerson!({ firstName: 'ada', ageYears: 36, isAdmin: false }), { firstName: 'ADA', ageYears: 37, isAdmin: true })
  t.deepEqual(exports.viaShape!({ tag: 'empty' }), { tag: 'square', val: 9 })
  t.is(exports.viaMaybe!(undefined), 1)
  t.is(exports.viaMaybe!(5), undefined)
  t.deepEqual(exports.viaPerms!({ read: true }), { read: true, write: true, execAll: false })
  t.is(exports.viaChar!('a'), '🦀')
})

test('imports are found by interface name with or without its version, world functions at the top level', (t) => {
  const engine = new WasmEngine()
  const component = engine.compileComponent(IMPORTER)
  t.deepEqual(
    component.imports.map((f) => [f.interface, f.name]),
    [
      [null, 'log-line'],
      ['local:demo/clock', 'now-ms'],
    ],
  )
  const lines: string[] = []
  const imports = {
    logLine: (line: string) => void lines.push(line),
    'local:demo/clock': {
      base: 1000n,
      nowMs(this: { base: bigint }) {
        return this.base + 1n // called on its interface object, as jco does
      },
    },
  }
  const instance = engine.instantiateComponent(component, { imports })
  t.is(instance.exports.tick!(), 1001n)
  t.deepEqual(lines, ['tick'])
  // The sink's interface carries a version; its key may too.
  const versioned = sinkImports()
  const exports = engine.instantiateComponent(engine.compileComponent(SINK), {
    imports: { 'local:demo/host@0.1.0': versioned['local:demo/host'] },
  }).exports
  t.is(exports.viaU8!(3), 3)
  engine.close()
})

test('a missing import is an InstantiationError naming it', (t) => {
  const engine = new WasmEngine()
  const component = engine.compileComponent(IMPORTER)
  const none = t.throws(() => engine.instantiateComponent(component), { instanceOf: InstantiationError })
  t.regex(none?.message ?? '', /log-line/)
  const noClock = t.throws(() => engine.instantiateComponent(component, { imports: { logLine() {} } }), { instanceOf: InstantiationError })
  t.regex(noClock?.message ?? '', /local:demo\/clock#now-ms/)
  t.regex(noClock?.message ?? '', /do not define/)
  // Not a function is not an import.
  const notFunction = t.throws(
    () => engine.instantiateComponent(component, { imports: { logLine() {}, 'local:demo/clock': { nowMs: 5 } } }),
    { instanceOf: InstantiationError },
  )
  t.regex(notFunction?.message ?? '', /now-ms/)
  const sinkMissing = t.throws(() => engine.instantiateComponent(engine.compileComponent(SINK), { imports: { 'local:demo/host': {} } }), {
    instanceOf: InstantiationError,
  })
  t.regex(sinkMissing?.message ?? '', /local:demo\/host@0\.1\.0#echo-bool/)
  t.throws(() => engine.instantiateComponent(component, { imports: 5 as unknown as ComponentImportObject }), { instanceOf: TypeError })
  engine.close()
})

test('an import that throws traps the guest with a RuntimeError naming the import and the error', (t) => {
  const exports = sink({
    echoU32: () => {
      throw new Error('host broke')
    },
  })
  const err = t.throws(() => exports.viaU32!(1), { instanceOf: RuntimeError })
  t.regex(err?.message ?? '', /via-u32/)
  t.regex(err?.message ?? '', /local:demo\/host@0\.1\.0#echo-u32 threw/)
  t.regex(err?.message ?? '', /host broke/)
  // A ComponentError from an import that returns no result is a throw like any other.
  const plain = sink({
    echoU32: () => {
      throw new ComponentError('not a result')
    },
  })
  t.throws(() => plain.viaU32!(1), { instanceOf: RuntimeError })
})

test('an import answer that does not fit its type traps the guest, naming the import and the type', (t) => {
  const cases: Array<[string, HostEcho, unknown, RegExp]> = [
    ['U32', () => -1, 1, /the result of local:demo\/host@0\.1\.0#echo-u32 must be an integer from 0 to 4294967295 \(WIT u32\), got the number -1/],
    ['S64', () => 1, 1n, /echo-s64 must be a bigint \(WIT s64\)/],
    ['String', () => 'a\uD800', 'x', /echo-string must be a string without unpaired surrogates/],
    ['Person', () => ({ firstName: 'z' }), { firstName: 'x', ageYears: 1, isAdmin: false }, /echo-person\.ageYears must be an integer/],
    ['Outcome', () => ({ tag: 'ok', val: 1 }), { tag: 'ok', val: 1 }, /echo-outcome\.val must be an integer/], // the return value is the ok payload
    ['Color', () => 'purple', 'red', /echo-color must be one of its names/],
  ]
  for (const [name, answer, arg, message] of cases) {
    const exports = sink({ [`echo${name}`]: answer })
    const err = t.throws(() => exports[`via${name}`]!(arg), { instanceOf: RuntimeError }, name)
    t.regex(err?.message ?? '', message, name)
  }
})

test('arguments that do not fit are TypeErrors naming the argument and its WIT type, before the guest runs', (t) => {
  const seen: unknown[] = []
  const exports = sink({}, seen)
  const cases: Array<[string, unknown, RegExp]> = [
    ['echoS64', 1, /^argument x of echo-s64 must be a bigint \(WIT s64\), got the number 1$/],
    ['echoU64', -1n, /argument x of echo-u64 must be a bigint from 0 to 2\^64 - 1 \(WIT u64\)/],
    ['echoU64', 2n ** 64n, /\(WIT u64\)/],
    ['echoS64', 2n ** 63n, /\(WIT s64\)/],
    ['echoU8', 256, /^argument x of echo-u8 must be an integer from 0 to 255 \(WIT u8\), got the number 256$/],
    ['echoU8', -1, /\(WIT u8\)/],
    ['echoU8', 1.5, /\(WIT u8\)/],
    ['echoU8', '1', /\(WIT u8\), got "1"/],
    ['echoS8', 128, /\(WIT s8\)/],
    ['echoS16', -32769, /\(WIT s16\)/],
    ['echoU16', 65536, /\(WIT u16\)/],
    ['echoS32', 2 ** 31, /\(WIT s32\)/],
    ['echoU32', 2 ** 32, /\(WIT u32\)/],
    ['echoU32', NaN, /\(WIT u32\)/],
    ['echoU32', 1n, /\(WIT u32\)/],
    ['echoF64', 1n, /must be a number \(WIT f64\)/],
    ['echoF32', '1', /must be a number \(WIT f32\)/],
    ['echoBool', 1, /must be a boolean \(WIT bool\)/],
    ['echoChar', 'ab', /^argument x of echo-char must be a string of one character \(WIT char\)/],
    ['echoChar', '', /a string of one character \(WIT char\)/],
    ['echoChar', 97, /must be a string \(WIT char\)/],
    ['echoString', 5, /must be a string \(WIT string\)/],
    ['echoString', new String('x'), /must be a string \(WIT string\)/],
    ['echoBytes', new Uint16Array(2), /\(WIT list<u8>\)/],
    ['echoWords', [1, -1], /^argument x of echo-words\[1\] must be an integer from 0 to 4294967295 \(WIT u32\)/],
    ['echoWords', 'abc', /must be an array or a typed array \(WIT list<u32>\)/],
    ['echoPerson', { firstName: 'x', ageYears: 1 }, /^argument x of echo-person\.isAdmin must be a boolean \(WIT bool\), got undefined$/],
    ['echoPerson', { 'first-name': 'x', ageYears: 1, isAdmin: true }, /echo-person\.firstName must be a string/], // fields are camelCase
    ['echoPerson', null, /must be an object \(WIT record \{ first-name: string, age-years: u32, is-admin: bool \}\)/],
    ['echoPair', [1], /must be an array of 2 \(WIT tuple<u32, string>\), got an array of 1/],
    ['echoPair', [1, 2], /echo-pair\[1\] must be a string/],
    ['echoShape', { tag: 'triangle' }, /must be one of its cases \(WIT variant \{ circle\(f64\), square\(u32\), empty \}\)/],
    ['echoShape', { tag: 'circle' }, /echo-shape\.val must be a number \(WIT f64\), got undefined/],
    ['echoShape', 'circle', /an object \{ tag, val \}/],
    ['echoColor', 'blueIsh', /must be one of its names \(WIT enum \{ red, green, blue-ish \}\)/], // enum cases keep their WIT names
    ['echoMaybe', 'x', /\(WIT u32\)/],
    ['echoMaybeMaybe', 5, /\(WIT option<option<u32>>\)/],
    ['echoMaybeMaybe', undefined, /\(WIT option<option<u32>>\)/],
    ['echoMaybeMaybe', { tag: 'maybe' }, /\{ tag: 'some', val \} or \{ tag: 'none' \}/],
    ['echoOutcome', { tag: 'ok' }, /echo-outcome\.val must be an integer/],
    ['echoOutcome', { tag: 'fine', val: 1 }, /\{ tag: 'ok' \| 'err', val \} \(WIT result<u32, string>\)/],
    ['echoOutcome', { tag: 'err', val: 1 }, /echo-outcome\.val must be a string/],
    ['echoPerms', null, /must be an object of booleans \(WIT flags \{ read, write, exec-all \}\)/],
    ['echoPerms', { read: 1 }, /echo-perms\.read must be a boolean or undefined \(WIT flags/],
    ['viaS64', 1, /^argument x of via-s64 must be a bigint/],
  ]
  for (const [fn, arg, message] of cases) {
    const err = t.throws(() => exports[fn]!(arg), { instanceOf: TypeError }, `${fn}(${String(arg)})`)
    t.regex(err?.message ?? '', message, `${fn}(${String(arg)})`)
  }
  t.deepEqual(seen, [], 'no import ran')
  // Nothing trapped: the instance still answers.
  t.is(exports.echoU8!(1), 1)
})

test('unpaired surrogates are refused in strings and chars', (t) => {
  const exports = sink()
  for (const [fn, text] of [
    ['echoString', 'a\uD800b'],
    ['echoString', '\uDC00'],
    ['echoString', 'end\uD83D'],
    ['viaString', '\uDFFF\uD800'],
    ['echoChar', '\uD800'],
    ['echoChar', '\uDE00'],
  ] as const) {
    const err = t.throws(() => exports[fn]!(text), { instanceOf: TypeError }, `${fn} ${JSON.stringify(text)}`)
    t.regex(err?.message ?? '', /without unpaired surrogates \(WIT (string|char)\)/)
  }
  // A pair is one character.
  t.is(exports.echoChar!('\uD83D\uDE00'), '😀')
})

test('a flag left out is clear; flags keep their camelCase names', (t) => {
  const exports = sink()
  t.deepEqual(exports.echoPerms!({}), { read: false, write: false, execAll: false })
  t.deepEqual(exports.echoPerms!({ execAll: true, 'exec-all': false, other: true }), { read: false, write: false, execAll: true })
})

test('a wrong number of arguments is a TypeError', (t) => {
  const exports = sink()
  const none = t.throws(() => exports.echoU8!(), { instanceOf: TypeError })
  t.regex(none?.message ?? '', /echo-u8 takes 1 arguments?, got 0/)
  const two = t.throws(() => exports.echoU8!(1, 2), { instanceOf: TypeError })
  t.regex(two?.message ?? '', /got 2/)
})

test('exported interfaces appear under their short camelCase name and their full name, functions camelCase', (t) => {
  const engine = new WasmEngine()
  const component = engine.compileComponent(CALC)
  const { exports } = engine.instantiateComponent(component)
  t.deepEqual(Object.keys(exports).sort(), ['bigCalc', 'local:demo/big-calc@1.0.0', 'topAdd'])
  t.is(exports.bigCalc, exports['local:demo/big-calc@1.0.0'])
  t.deepEqual(Object.keys(exports.bigCalc!), ['addAll'])
  t.is(exports.bigCalc!.addAll!(2n, 3n), 5n)
  t.is(exports.topAdd!(-(2n ** 63n), -1n), 2n ** 63n - 1n) // wraps like i64.add
  t.is(exports.topAdd!.name, 'topAdd')
  engine.close()
})

test('component.exports and component.imports describe the world: names, parameters and WIT types', (t) => {
  const engine = new WasmEngine()
  const calc = engine.compileComponent(CALC)
  t.deepEqual(calc.exports, [
    {
      interface: 'local:demo/big-calc@1.0.0',
      name: 'add-all',
      params: [
        { name: 'firstTerm', type: { kind: 's64', wit: 's64' } },
        { name: 'b', type: { kind: 's64', wit: 's64' } },
      ],
      results: [{ kind: 's64', wit: 's64' }],
    },
    {
      interface: null,
      name: 'top-add',
      params: [
        { name: 'firstTerm', type: { kind: 's64', wit: 's64' } },
        { name: 'b', type: { kind: 's64', wit: 's64' } },
      ],
      results: [{ kind: 's64', wit: 's64' }],
    },
  ])
  t.deepEqual(calc.imports, [])

  const component = engine.compileComponent(SINK)
  t.is(component.exports.length, 2 * CASES.length)
  t.is(component.imports.length, CASES.length)
  t.true(component.imports.every((f) => f.interface === 'local:demo/host@0.1.0'))
  const type = (name: string) => {
    const fn = component.exports.find((f) => f.name === name)!
    t.deepEqual(fn.results, [fn.params[0]!.type], `${name} returns its parameter's type`)
    t.is(fn.params[0]!.name, 'x')
    return fn.params[0]!.type
  }
  t.deepEqual(type('echo-person'), {
    kind: 'record',
    wit: 'record { first-name: string, age-years: u32, is-admin: bool }',
    fields: [
      { name: 'firstName', type: { kind: 'string', wit: 'string' } },
      { name: 'ageYears', type: { kind: 'u32', wit: 'u32' } },
      { name: 'isAdmin', type: { kind: 'bool', wit: 'bool' } },
    ],
  })
  t.deepEqual(type('echo-shape'), {
    kind: 'variant',
    wit: 'variant { circle(f64), square(u32), empty }',
    cases: [
      { name: 'circle', type: { kind: 'f64', wit: 'f64' } },
      { name: 'square', type: { kind: 'u32', wit: 'u32' } },
      { name: 'empty', type: null },
    ],
  })
  t.deepEqual(type('echo-color'), { kind: 'enum', wit: 'enum { red, green, blue-ish }', names: ['red', 'green', 'blue-ish'] })
  t.deepEqual(type('echo-perms'), { kind: 'flags', wit: 'flags { read, write, exec-all }', names: ['read', 'write', 'execAll'] })
  t.deepEqual(type('echo-outcome'), { kind: 'result', wit: 'result<u32, string>', ok: { kind: 'u32', wit: 'u32' }, err: { kind: 'string', wit: 'string' } })
  t.deepEqual(type('echo-maybe-maybe'), {
    kind: 'option',
    wit: 'option<option<u32>>',
    inner: { kind: 'option', wit: 'option<u32>', inner: { kind: 'u32', wit: 'u32' } },
  })
  t.deepEqual(type('echo-pair'), { kind: 'tuple', wit: 'tuple<u32, string>', types: [{ kind: 'u32', wit: 'u32' }, { kind: 'string', wit: 'string' }] })
  t.deepEqual(type('echo-bytes'), { kind: 'list', wit: 'list<u8>', element: { kind: 'u8', wit: 'u8' } })
  t.deepEqual(type('echo-char'), { kind: 'char', wit: 'char' })
  const rogue = engine.compileComponent(ROGUE)
  t.deepEqual(
    rogue.exports.find((f) => f.name === 'spin'),
    { interface: null, name: 'spin', params: [], results: [] },
  )
  engine.close()
})

test('a spinning export is stopped by the deadline with a TimeoutError', (t) => {
  const engine = new WasmEngine({ maxExecutionSeconds: 0.2 })
  const { exports } = engine.instantiateComponent(engine.compileComponent(ROGUE))
  const started = performance.now()
  const err = t.throws(() => exports.spin!(), { instanceOf: TimeoutError })
  const took = performance.now() - started
  t.true(took >= 150 && took < 5000, `stopped after ${took} ms`)
  t.is(err?.code, 'TIMEOUT')
  t.regex(err?.message ?? '', /spin of component instance \d+ ran past its deadline/)
  t.true(engine.isHealthy())
  // Each call gets a fresh deadline; a new instance runs.
  t.is(engine.instantiateComponent(engine.compileComponent(ROGUE)).exports.ok!(), 42)
  engine.close()
})

test('a spinning export runs out of fuel with metering: OutOfGasError; a new instance starts with full fuel', (t) => {
  const engine = new WasmEngine({ enableMetering: true, maxExecutionSeconds: 5, cpuCyclesPerSecond: 1_000_000 })
  const component = engine.compileComponent(ROGUE)
  const { exports } = engine.instantiateComponent(component)
  const full = engine.remainingFuel() ?? 0n
  t.true(full > 0n)
  t.is(exports.ok!(), 42)
  t.true((engine.remainingFuel() ?? 0n) < full, 'a call uses fuel')
  const started = performance.now()
  const err = t.throws(() => exports.spin!(), { instanceOf: OutOfGasError })
  t.true(performance.now() - started < 4000, 'fuel ran out before the deadline')
  t.is(err?.code, 'OUT_OF_GAS')
  t.regex(err?.message ?? '', /spin of component instance \d+ ran out of fuel/)
  t.is(engine.remainingFuel(), 0n)
  t.is(engine.instantiateComponent(component).exports.ok!(), 42)
  t.true((engine.remainingFuel() ?? 0n) > 0n)
  engine.close()
})

test('memory.grow past maxMemoryPages answers -1 inside the guest; a guest that needs the memory gets a MemoryError', (t) => {
  const engine = new WasmEngine({ maxMemoryPages: 4, maxExecutionSeconds: 0.2 })
  const component = engine.compileComponent(ROGUE)
  const grower = engine.instantiateComponent(component).exports
  t.is(grower.grow!(1), 1) // the old size in pages
  t.is(grower.grow!(100), -1) // refused, as memory.grow refuses: the guest goes on
  t.is(grower.grow!(2), 2)
  t.is(grower.grow!(1), -1) // 5 pages > 4
  // A refusal the guest took in its stride explains no later failure: a trap is a trap.
  const trap = t.throws(() => grower.boom!(), { instanceOf: RuntimeError })
  t.is(trap?.trapCode, 'unreachable_code_reached')
  // Lowering a 1 MiB string needs the guest's realloc to grow past the cap; it traps.
  const taker = engine.instantiateComponent(component).exports
  const err = t.throws(() => taker.take!('x'.repeat(1 << 20)), { instanceOf: MemoryError })
  t.is(err?.code, 'MEMORY')
  t.regex(err?.message ?? '', /take of component instance \d+ tried to grow a memory to \d+ bytes, over the cap of 262144 bytes \(maxMemoryPages\)/)
  t.is(engine.instantiateComponent(component).exports.take!('x'.repeat(100_000)), 100_000)
  // Nor does a refusal explain a deadline: a guest refused its growth that then spins is a TimeoutError.
  t.throws(() => engine.instantiateComponent(component).exports.hog!(), { instanceOf: TimeoutError })
  t.true(engine.isHealthy())
  engine.close()
})

test('a component whose initial memory is over maxMemoryPages does not instantiate', (t) => {
  const engine = new WasmEngine({ maxMemoryPages: 4 })
  const component = engine.compileComponent(`(component
    (core module $m (memory 8) (func (export "f")))
    (core instance $i (instantiate $m))
    (func (export "f") (canon lift (core func $i "f"))))`)
  const err = t.throws(() => engine.instantiateComponent(component), { instanceOf: InstantiationError })
  t.regex(err?.message ?? '', /cap of 4 pages/)
  engine.close()
})

test('traps are RuntimeErrors with their trapCode; a trapped instance refuses later calls clearly', (t) => {
  const engine = new WasmEngine()
  const component = engine.compileComponent(ROGUE)
  const cases: Array<[string, unknown[], TrapCode, RegExp]> = [
    ['boom', [], 'unreachable_code_reached', /boom of component instance \d+ trapped: .*unreachable/],
    ['div', [1, 0], 'integer_division_by_zero', /div of component instance \d+ trapped: .*divide by zero/],
    ['div', [-(2 ** 31), -1], 'integer_overflow', /integer overflow/],
  ]
  for (const [fn, args, trapCode, message] of cases) {
    const { exports } = engine.instantiateComponent(component)
    const err = t.throws(() => exports[fn]!(...args), { instanceOf: RuntimeError }, fn)
    t.is(err?.code, 'RUNTIME')
    t.is(err?.trapCode, trapCode)
    t.regex(err?.message ?? '', message)
    // The component model forbids entering an instance that trapped.
    for (const again of [fn, 'ok']) {
      const refused = t.throws(() => exports[again]!(...(again === fn ? args : [])), { instanceOf: RuntimeError })
      t.regex(refused?.message ?? '', new RegExp(`^${again} of component instance \\d+ cannot run: the instance trapped or failed in an earlier call`))
      t.regex(refused?.message ?? '', /instantiate the component anew/)
      t.is(refused?.trapCode, undefined, 'no trap ran')
    }
  }
  // So does one stopped by its deadline, or whose import failed.
  const failed = sink({
    echoU8: () => {
      throw new Error('no')
    },
  })
  t.throws(() => failed.viaU8!(1), { instanceOf: RuntimeError })
  t.throws(() => failed.echoU8!(1), { instanceOf: RuntimeError, message: /cannot run: the instance trapped or failed/ })
  t.true(engine.isHealthy())
  t.is(engine.instantiateComponent(component).exports.ok!(), 42)
  engine.close()
})

test('a guest that lies about what it returns is a RuntimeError, not a crash', (t) => {
  const engine = new WasmEngine()
  const component = engine.compileComponent(ROGUE)
  const cases: Array<[string, RegExp]> = [
    ['lieStringPtr', /lie-string-ptr of component instance \d+ failed: string pointer\/length out of bounds of memory/],
    ['lieStringLen', /string pointer\/length out of bounds of memory/],
    ['lieListLen', /lie-list-len of component instance \d+ failed: list pointer\/length out of bounds of memory/],
    ['lieUtf8', /invalid utf-8/],
    ['lieChar', /out of range for `char`/],
    ['lieEnum', /discriminant 7 out of range/],
    ['lieVariant', /discriminant 9 out of range/],
    ['lieOption', /discriminant 2 out of range/],
  ]
  for (const [fn, message] of cases) {
    const { exports } = engine.instantiateComponent(component)
    const err = t.throws(() => exports[fn]!(), { instanceOf: RuntimeError }, fn)
    t.true(err instanceof WasmError)
    t.regex(err?.message ?? '', message, fn)
  }
  t.true(engine.isHealthy())
  t.is(engine.instantiateComponent(component).exports.ok!(), 42)
  engine.close()
})

test('a dropped instance refuses calls with InvalidHandleError; drop is idempotent', (t) => {
  const engine = new WasmEngine()
  const instance = engine.instantiateComponent(engine.compileComponent(CALC))
  const add = instance.exports.topAdd!
  t.is(add(1n, 2n), 3n)
  instance.drop()
  instance.drop()
  const err = t.throws(() => add(1n, 2n), { instanceOf: InvalidHandleError })
  t.regex(err?.message ?? '', /dropped/)
  t.throws(() => instance.exports.bigCalc!.addAll!(1n, 2n), { instanceOf: InvalidHandleError })
  instance[Symbol.dispose]()
  engine.close()
})

test('an import that calls back into the engine, or drops its own instance, meets the busy engine', (t) => {
  const engine = new WasmEngine()
  const component = engine.compileComponent(SINK)
  let instance: ReturnType<WasmEngine['instantiateComponent']> | undefined
  instance = engine.instantiateComponent(component, { imports: sinkImports({ echoU32: (x) => instance!.exports.echoU32!(x) }) })
  const reentered = t.throws(() => instance!.exports.viaU32!(1), { instanceOf: RuntimeError })
  t.regex(reentered?.message ?? '', /EngineBusyError/)
  let busy: unknown
  const dropper = engine.instantiateComponent(component, {
    imports: sinkImports({
      echoU32: (x) => {
        try {
          dropper.drop()
        } catch (err) {
          busy = err
        }
        return x
      },
    }),
  })
  t.is(dropper.exports.viaU32!(7), 7)
  t.true(busy instanceof EngineBusyError, String(busy))
  t.is(dropper.exports.echoU32!(8), 8) // still there
  dropper.drop()
  t.throws(() => dropper.exports.echoU32!(8), { instanceOf: InvalidHandleError })
  engine.close()
})

test('functions passing resources are refused at instantiation, naming the function; futures, streams and maps do not compile', (t) => {
  const engine = new WasmEngine()
  const exporting = engine.compileComponent(`(component
    (type $thing-def (resource (rep i32)))
    (export $thing "thing" (type $thing-def))
    (core func $new (canon resource.new $thing))
    (core module $m
      (import "" "new" (func $new (param i32) (result i32)))
      (func (export "make") (result i32) (call $new (i32.const 7)))
      (func (export "count") (result i32) (i32.const 1)))
    (core instance $i (instantiate $m (with "" (instance (export "new" (func $new))))))
    (func (export "make") (result (own $thing)) (canon lift (core func $i "make")))
    (func (export "count") (result u32) (canon lift (core func $i "count"))))`)
  t.deepEqual(
    exporting.exports.map((f) => [f.name, f.results[0]?.kind]),
    [
      ['make', 'own'],
      ['count', 'u32'],
    ],
  )
  const err = t.throws(() => engine.instantiateComponent(exporting), { instanceOf: InstantiationError })
  t.regex(err?.message ?? '', /exports make, whose type uses own<resource>/)
  const importing = engine.compileComponent(`(component
    (import "local:demo/things" (instance $t
      (export "thing" (type $r (sub resource)))
      (export "poke" (func (param "t" (borrow $r))))))
    (core module $m (func (export "f")))
    (core instance $i (instantiate $m))
    (func (export "f") (canon lift (core func $i "f"))))`)
  const imported = t.throws(() => engine.instantiateComponent(importing, { imports: { 'local:demo/things': { poke() {} } } }), {
    instanceOf: InstantiationError,
  })
  t.regex(imported?.message ?? '', /imports local:demo\/things#poke, whose type uses borrow<resource>/)
  // Refused whether given or not: giving it would not help.
  t.throws(() => engine.instantiateComponent(importing), { instanceOf: InstantiationError, message: /poke, whose type uses borrow/ })
  for (const [what, ty, feature] of [
    ['future', '(future u32)', /async/],
    ['stream', '(stream u8)', /async/],
    ['map', '(map string u32)', /map/i],
  ] as const) {
    const compiled = t.throws(
      () =>
        engine.compileComponent(`(component
          (core module $m (func (export "f") (result i32) i32.const 0))
          (core instance $i (instantiate $m))
          (func (export "f") (result ${ty}) (canon lift (core func $i "f"))))`),
      { instanceOf: CompileError },
      what,
    )
    t.regex(compiled?.message ?? '', feature, what)
  }
  engine.close()
})

test('compileComponent refuses a core module and bad text with CompileError; instantiateComponent a foreign component with TypeError', (t) => {
  const engine = new WasmEngine()
  t.throws(() => engine.compileComponent('(module)'), { instanceOf: CompileError, message: /component/ })
  t.throws(() => engine.compileComponent('(component (func'), { instanceOf: CompileError })
  t.throws(() => engine.instantiateComponent({} as Component), { instanceOf: TypeError })
  engine.close()
})
