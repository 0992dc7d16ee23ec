/**
 * Correctness at the edges of the JavaScript/WebAssembly boundary, in both
 * directions (export arguments and results, import arguments and results),
 * checked against V8's own WebAssembly running the very same module.
 */
import test from 'ava'

import {
  EngineClosedError,
  ExportError,
  type HostFunction,
  InvalidHandleError,
  OtherError,
  RuntimeError,
  TRAP_CODES,
  type TrapCode,
  WASM_ERROR_CODES,
  WasmEngine,
  WasmError,
  watToWasm,
} from '../index'
import { collectGarbage } from './helpers/process'
import { V8WebAssembly } from './helpers/v8'

const I64_MIN = -(2n ** 63n)
const I64_MAX = 2n ** 63n - 1n
const I64_EDGES = [I64_MIN, I64_MAX, -1n, 0n]

// NaN-safe bit conversions. A NaN number must never be stored in a plain
// array here: V8 may quiet or canonicalize NaNs it stores in an array of
// doubles, which would hide (or fake) the very differences these tests look
// for. Bits travel as bigints; numbers only as arguments and properties.
const scratch = new Float64Array(1)
const scratchBits = new BigUint64Array(scratch.buffer)
const scratch32 = new Float32Array(1)
const scratch32Bits = new Uint32Array(scratch32.buffer)

/** The bits of a number as a float64. */
function f64Bits(x: number): bigint {
  scratch[0] = x
  return scratchBits[0]
}

/** The float64 whose bits are `bits`. */
function fromF64Bits(bits: bigint): number {
  scratchBits[0] = bits
  return scratch[0]
}

/** The float32 with the given bits, as the number V8 loads from a Float32Array. */
function fromF32Bits(bits: number): number {
  scratch32Bits[0] = bits
  return scratch32[0]
}

/** Bits of a float, the value itself otherwise. */
function bitsOf(value: unknown): unknown {
  return typeof value === 'number' ? f64Bits(value) : value
}

/** Whether `bits` is a signalling f64 NaN (quiet bit clear, payload set). */
const signalling = (bits: bigint) =>
  (bits & 0x7ff0000000000000n) === 0x7ff0000000000000n && (bits & 0x0008000000000000n) === 0n && (bits & 0x000fffffffffffffn) !== 0n

const hex = (b: unknown) => (typeof b === 'bigint' ? `0x${BigInt.asUintN(64, b).toString(16)}` : String(b))

/**
 * Every export of this guest is called both through the engine and through
 * V8; every import is implemented once, in `setup` below, and wired into both.
 */
const BOUNDARY_GUEST = `
(module
  (import "env" "seeI64" (func $seeI64 (param i64 i64 i64 i64)))
  (import "env" "seeI32" (func $seeI32 (param i32 i32 i32 i32)))
  (import "env" "seeF64" (func $seeF64 (param f64 f64 f64 f64 f64 f64 f64 f64)))
  (import "env" "seeF32" (func $seeF32 (param f32 f32 f32 f32 f32 f32 f32 f32)))
  (import "env" "getI64" (func $getI64 (result i64)))
  (import "env" "getI32" (func $getI32 (result i32)))
  (import "env" "getF64" (func $getF64 (result f64)))
  (import "env" "getF32" (func $getF32 (result f32)))
  (import "env" "getMulti" (func $getMulti (result i32 i64 f64)))
  (import "env" "getFloats" (func $getFloats (result f64 f32)))

  ;; Identities.
  (func (export "id_i64") (param i64) (result i64) (local.get 0))
  (func (export "id_i32") (param i32) (result i32) (local.get 0))
  (func (export "id_f64") (param f64) (result f64) (local.get 0))
  (func (export "id_f32") (param f32) (result f32) (local.get 0))
  (func (export "first3") (param i64 i64 i64) (result i64) (local.get 0))
  (func (export "first2") (param i64 i64) (result i64) (local.get 0))
  (func (export "i32_as_i64") (param i32) (result i64) (i64.extend_i32_u (local.get 0)))

  ;; Bits of float parameters.
  (func (export "bits_f64") (param f64) (result i64) (i64.reinterpret_f64 (local.get 0)))
  (func (export "bits_f32") (param f32) (result i64) (i64.extend_i32_u (i32.reinterpret_f32 (local.get 0))))

  ;; Constant results.
  (func (export "i64_edges") (result i64 i64 i64 i64)
    (i64.const -0x8000000000000000) (i64.const 0x7fffffffffffffff) (i64.const -1) (i64.const 0))
  (func (export "i32_high") (result i32) (i32.const 0x80000000))
  (func (export "i32_ones") (result i32) (i32.const 0xffffffff))
  (func (export "f64_neg_nan") (result f64) (f64.const -nan))
  (func (export "f64_nan_payload") (result f64) (f64.const nan:0x4000000000001))
  (func (export "f64_neg_nan_full") (result f64) (f64.const -nan:0xfffffffffffff))
  (func (export "f64_nan_low") (result f64) (f64.const nan:0x1))
  (func (export "f32_nan_payload") (result f32) (f32.const nan:0x200001))
  (func (export "f32_neg_nan_full") (result f32) (f32.const -nan:0x7fffff))
  (func (export "f32_nan_low") (result f32) (f32.const nan:0x1))
  (func (export "f32_neg_nan") (result f32) (f32.const -nan))
  (func (export "f64_neg_zero") (result f64) (f64.const -0))
  (func (export "f32_neg_zero") (result f32) (f32.const -0))
  (func (export "f64_min_subnormal") (result f64) (f64.const 0x0.0000000000001p-1022))
  (func (export "f32_min_subnormal") (result f32) (f32.const 0x1p-149))
  (func (export "f32_max_subnormal") (result f32) (f32.const 0x0.fffffep-126))
  (func (export "f64_inf") (result f64) (f64.const inf))
  (func (export "f32_neg_inf") (result f32) (f32.const -inf))
  (func (export "multi") (result i32 i64 f64)
    (i32.const 0xffffffff) (i64.const -0x8000000000000000) (f64.const -nan:0x8000000000001))
  (func (export "multi_floats") (result f64 f32 f64)
    (f64.const nan:0x4000000000001) (f32.const -nan:0x200001) (f64.const -0))

  ;; Calls into the imports.
  (func (export "pass_i64") (param i64 i64 i64) (result i64)
    (call $seeI64 (i64.const -0x8000000000000000) (i64.const 0x7fffffffffffffff) (i64.const -1) (i64.const 0))
    (i64.const 0))
  (func (export "pass_i32")
    (call $seeI32 (i32.const 0x80000000) (i32.const 0xffffffff) (i32.const 0x7fffffff) (i32.const 0)))
  (func (export "pass_f64")
    (call $seeF64
      (f64.const nan:0x4000000000001) (f64.const -nan) (f64.const -nan:0xfffffffffffff) (f64.const nan:0x8000000000001)
      (f64.const -0) (f64.const 0x0.0000000000001p-1022) (f64.const inf) (f64.const -inf)))
  (func (export "pass_f32")
    (call $seeF32
      (f32.const nan:0x200001) (f32.const -nan:0x7fffff) (f32.const nan:0x1) (f32.const -nan)
      (f32.const -0) (f32.const 0x1p-149) (f32.const inf) (f32.const -inf)))
  (func (export "ret_i64") (param i64 i64 i64) (result i64) (call $getI64))
  (func (export "ret_i32") (result i64) (i64.extend_i32_s (call $getI32)))
  (func (export "ret_f64_bits") (result i64) (i64.reinterpret_f64 (call $getF64)))
  (func (export "ret_f32_bits") (result i64) (i64.extend_i32_u (i32.reinterpret_f32 (call $getF32))))
  (func (export "ret_multi") (result i32 i64 i64)
    (local $f f64)
    (call $getMulti)
    (local.set $f)
    (i64.reinterpret_f64 (local.get $f)))
  (func (export "ret_floats_bits") (result i64 i64)
    (local $b f32)
    (call $getFloats)
    (local.set $b)
    (i64.reinterpret_f64)
    (i64.extend_i32_u (i32.reinterpret_f32 (local.get $b))))
)`

/** What the imports saw last (raw, and as bits), and what they return next. */
interface Host {
  seen: unknown[]
  seenBits: unknown[]
  next: unknown
}

type V8Exports = Record<string, (...args: unknown[]) => unknown>


/** The guest on the engine and on V8, sharing one set of imports. */
function setup() {
  const host: Host = { seen: [], seenBits: [], next: undefined }
  const see: HostFunction = (_caller, ...args) => {
    host.seenBits = args.map(bitsOf)
    host.seen = args
  }
  const get = (() => host.next) as HostFunction
  const env: Record<string, HostFunction> = {
    seeI64: see,
    seeI32: see,
    seeF64: see,
    seeF32: see,
    getI64: get,
    getI32: get,
    getF64: get,
    getF32: get,
    getMulti: get,
    getFloats: get,
  }
  const engine = new WasmEngine({}, { imports: { env } })
  const handle = engine.createInstance(engine.compile(BOUNDARY_GUEST), 1, 0)
  const v8Env = Object.fromEntries(
    Object.entries(env).map(([name, fn]) => [
      name,
      (...args: unknown[]) => (fn as (...a: unknown[]) => unknown)(undefined, ...args),
    ]),
  )
  const v8 = new V8WebAssembly.Instance(new V8WebAssembly.Module(watToWasm(BOUNDARY_GUEST)), { env: v8Env })
    .exports as unknown as V8Exports
  /** Calls export `name` on both. */
  const both = (name: string, ...args: Array<number | bigint>) => ({
    v8: v8[name](...args),
    engine: engine.call(handle, name, ...args),
  })
  /** Calls export `name` (a float result) on both and takes the bits at once. */
  const bothBits = (name: string, ...args: Array<number | bigint>) => ({
    v8: bitsOf(v8[name](...args)) as bigint,
    engine: bitsOf(engine.call(handle, name, ...args)) as bigint,
  })
  /** Calls export `name` on both and returns what the imports saw each time. */
  const seenBy = (name: string, ...args: Array<number | bigint>) => {
    v8[name](...args)
    const byV8 = { seen: host.seen, bits: host.seenBits }
    host.seen = host.seenBits = []
    engine.call(handle, name, ...args)
    return { v8: byV8, engine: { seen: host.seen, bits: host.seenBits } }
  }
  return { engine, handle, v8, host, both, bothBits, seenBy }
}

// ---------------------------------------------------------------- i64

test('i64 extremes pass through export arguments and results unchanged, on every call path', async (t) => {
  const { engine, handle, v8, both } = setup()
  const fn = engine.getFunction(handle, 'id_i64')
  for (const v of I64_EDGES) {
    const got = both('id_i64', v)
    t.is(got.v8, v)
    t.is(got.engine, v, `call id_i64(${v})`)
    t.is(fn(v), v, `getFunction id_i64(${v})`)
    t.is(engine.call3i64(handle, 'first3', v, 1n, 2n), v, `call3i64(${v})`)
    t.is(engine.call2i64(handle, 'first2', v, 1n), v, `call2i64(${v})`)
    t.is(await engine.call3i64Blocking(handle, 'first3', v, 1n, 2n), v, `call3i64Blocking(${v})`)
    t.is(await engine.call2i64Blocking(handle, 'first2', v, 1n), v, `call2i64Blocking(${v})`)
  }
  // Safe-integer numbers stand for i64 exactly, at the very edge of the safe range.
  t.is(engine.call(handle, 'id_i64', Number.MAX_SAFE_INTEGER), BigInt(Number.MAX_SAFE_INTEGER))
  t.is(engine.call(handle, 'id_i64', Number.MIN_SAFE_INTEGER), BigInt(Number.MIN_SAFE_INTEGER))
  t.is(engine.call3i64(handle, 'first3', Number.MAX_SAFE_INTEGER, 0, 0), BigInt(Number.MAX_SAFE_INTEGER))
  t.is(engine.call(handle, 'id_i64', -0), 0n)
  // Results: the four extremes as constants.
  t.deepEqual(v8.i64_edges(), I64_EDGES)
  t.deepEqual(engine.call(handle, 'i64_edges'), I64_EDGES)
  engine.close()
})

test('i64 arguments past the safe-integer range or outside i64 are TypeErrors, never rounded or wrapped', async (t) => {
  const { engine, handle } = setup()
  const fn = engine.getFunction(handle, 'id_i64')
  const unsafe = [2 ** 53, -(2 ** 53), 2 ** 53 + 2, 2 ** 63, -(2 ** 63), 1e300, Number.MAX_VALUE]
  const outside = [2n ** 63n, I64_MIN - 1n, 2n ** 64n - 1n, 2n ** 64n, -(2n ** 64n), 2n ** 200n]
  for (const bad of [...unsafe, ...outside]) {
    const what = `${typeof bad} ${bad}`
    t.throws(() => engine.call(handle, 'id_i64', bad), { instanceOf: TypeError, message: /i64/ }, `call ${what}`)
    t.throws(() => fn(bad), { instanceOf: TypeError }, `getFunction ${what}`)
    t.throws(() => engine.call3i64(handle, 'first3', bad, 0n, 0n), { instanceOf: TypeError }, `call3i64 ${what}`)
    t.throws(() => engine.call3i64(handle, 'first3', 0n, 0n, bad), { instanceOf: TypeError }, `call3i64 arg 3 ${what}`)
    t.throws(() => engine.call2i64(handle, 'first2', 0n, bad), { instanceOf: TypeError }, `call2i64 ${what}`)
    await t.throwsAsync(engine.call3i64Blocking(handle, 'first3', bad, 0n, 0n), { instanceOf: TypeError }, `blocking ${what}`)
    await t.throwsAsync(engine.call2i64Blocking(handle, 'first2', 0n, bad), { instanceOf: TypeError }, `blocking2 ${what}`)
  }
  // Nor are non-integers, NaN or infinities accepted as i64.
  for (const bad of [0.5, -1.5, Infinity, -Infinity]) {
    t.throws(() => engine.call(handle, 'id_i64', bad), { instanceOf: TypeError }, String(bad))
  }
  t.throws(() => engine.call(handle, 'id_i64', Number.NaN), { instanceOf: TypeError })
  // The engine is still fine afterwards.
  t.is(engine.call(handle, 'id_i64', 7n), 7n)
  engine.close()
})

test('i64 extremes reach JavaScript imports unchanged, as V8 passes them', (t) => {
  const { engine, seenBy } = setup()
  const got = seenBy('pass_i64', 0n, 0n, 0n)
  t.deepEqual(got.v8.seen, I64_EDGES)
  t.deepEqual(got.engine.seen, I64_EDGES)
  engine.close()
})

test('i64 results of JavaScript imports reach the guest exactly; u64 bigints wrap like V8', (t) => {
  const { engine, handle, host, both } = setup()
  const cases: Array<[bigint, bigint]> = [
    [I64_MIN, I64_MIN],
    [I64_MAX, I64_MAX],
    [-1n, -1n],
    [0n, 0n],
    [2n ** 64n - 1n, -1n], // u64 max wraps to -1
    [2n ** 63n, I64_MIN], // u64 2^63 wraps to the i64 minimum
  ]
  for (const [given, expected] of cases) {
    host.next = given
    const got = both('ret_i64', 0n, 0n, 0n)
    t.is(got.v8, expected, `V8 ${given}`)
    t.is(got.engine, expected, `engine ${given}`)
    t.is(engine.call3i64(handle, 'ret_i64', 0n, 0n, 0n), expected, `call3i64 ${given}`)
  }
  engine.close()
})

// ---------------------------------------------------------------- i32

test('i32 results above 2^31 come back as V8 returns them: signed numbers', (t) => {
  const { engine, both } = setup()
  const high = both('i32_high')
  t.is(high.v8, -2147483648)
  t.is(high.engine, high.v8 as number)
  const ones = both('i32_ones')
  t.is(ones.v8, -1)
  t.is(ones.engine, ones.v8 as number)
  engine.close()
})

test('i32 arguments given as unsigned numbers wrap like V8', (t) => {
  const { engine, handle, both } = setup()
  for (const [given, expected] of [
    [0x80000000, -2147483648],
    [0xffffffff, -1],
    [0xfffffffe, -2],
    [0x7fffffff, 0x7fffffff],
    [-2147483648, -2147483648],
    [-0, 0],
  ]) {
    const got = both('id_i32', given)
    t.is(got.v8, expected, `V8 ${given}`)
    t.true(Object.is(got.engine, got.v8), `engine id_i32(${given}) = ${got.engine}, V8 ${got.v8}`)
    // The guest sees the same 32 bits.
    t.is(engine.call(handle, 'i32_as_i64', given), BigInt(expected >>> 0), `bits of ${given}`)
  }
  engine.close()
})

test('i32 arguments to imports are signed numbers, and unsigned i32 results of imports wrap, like V8', (t) => {
  const { engine, host, both, seenBy } = setup()
  const got = seenBy('pass_i32')
  t.deepEqual(got.v8.seen, [-2147483648, -1, 2147483647, 0])
  t.deepEqual(got.engine.seen, got.v8.seen)
  for (const [given, expected] of [
    [0xffffffff, -1n],
    [0x80000000, -2147483648n],
    [-1, -1n],
    [0x7fffffff, 2147483647n],
  ]) {
    host.next = given
    const results = both('ret_i32')
    t.is(results.v8, expected, `V8 ${given}`)
    t.is(results.engine, expected, `engine ${given}`)
  }
  engine.close()
})

// ---------------------------------------------------------------- floats

test('NaN results keep the sign and payload bits V8 gives them', (t) => {
  const { engine, handle, bothBits } = setup()
  // f64 NaNs keep every bit, signalling ones too (V8 on x64 and arm64).
  const f64: Record<string, bigint> = {
    f64_neg_nan: 0xfff8000000000000n,
    f64_nan_payload: 0x7ff4000000000001n,
    f64_neg_nan_full: 0xffffffffffffffffn,
    f64_nan_low: 0x7ff0000000000001n,
  }
  for (const [name, bits] of Object.entries(f64)) {
    const got = bothBits(name)
    t.is(hex(got.v8), hex(bits), `V8 ${name}`)
    t.is(hex(got.engine), hex(got.v8), name)
    t.is(hex(bitsOf(engine.getFunction(handle, name)())), hex(got.v8), `getFunction ${name}`)
  }
  // f32 NaNs become f64 numbers: whatever V8 makes of them, the engine must make too.
  for (const name of ['f32_nan_payload', 'f32_neg_nan_full', 'f32_nan_low', 'f32_neg_nan']) {
    const got = bothBits(name)
    t.is(hex(got.engine), hex(got.v8), name)
    t.is(hex(bitsOf(engine.getFunction(handle, name)())), hex(got.v8), `getFunction ${name}`)
  }
  // The payload and sign survive at all: not a canonical NaN.
  // nan:0x200001 widened: payload << 29, quiet bit set (V8 widens f32 the same way).
  t.is(hex(bothBits('f32_nan_payload').engine), hex(0x7ffc000020000000n))
  t.is(hex(bothBits('f32_neg_nan_full').engine), hex(0xffffffffe0000000n))
  engine.close()
})

test('NaN arguments with payloads reach the guest with the bits V8 gives them', (t) => {
  const { engine, handle, both } = setup()
  const fn64 = engine.getFunction(handle, 'bits_f64')
  const nans = [
    0x7ff8000000000000n,
    0xfff8000000000000n,
    0x7ff8000000000001n,
    0x7ffc000000000001n,
    0xfffc00000000abcdn,
    0x7fffffffffffffffn,
    0xffffffffffffffffn,
    0x7ff4000000000001n, // signalling
    0x7ff0000000000001n, // signalling, lowest payload
  ]
  for (const bits of nans) {
    const got = both('bits_f64', fromF64Bits(bits))
    // V8 in Node 22 and later quiets a signalling NaN on its way into a
    // guest (Node 20 keeps it); the engine keeps every NaN exactly.
    const expected = signalling(bits) ? bits : got.v8
    if (!signalling(bits)) t.is(hex(got.v8), hex(bits), `V8 f64 ${hex(bits)}`)
    t.is(hex(got.engine), hex(expected), `f64 ${hex(bits)}`)
    t.is(hex(fn64(fromF64Bits(bits))), hex(expected), `getFunction f64 ${hex(bits)}`)
    // The same NaN demoted to an f32 parameter.
    const demoted = both('bits_f32', fromF64Bits(bits))
    t.is(hex(demoted.engine), hex(demoted.v8), `f64 ${hex(bits)} as f32`)
  }
  // f32 NaNs as JavaScript gets them from a Float32Array.
  for (const bits of [0x7fc00000, 0xffc00000, 0x7fc00001, 0xffffffff, 0x7fa00001, 0x7f800001]) {
    const got = both('bits_f32', fromF32Bits(bits))
    t.is(hex(got.engine), hex(got.v8), `f32 0x${bits.toString(16)}`)
  }
  t.is(engine.call(handle, 'bits_f32', fromF32Bits(0xffffffff)), 0xffffffffn)
  t.is(engine.call(handle, 'bits_f32', fromF32Bits(0x7fc00001)), 0x7fc00001n)
  engine.close()
})

test('-0, infinities and subnormals pass exactly both ways, f64 and f32', (t) => {
  const { engine, handle, both } = setup()
  const f64Values = [
    -0,
    0,
    Infinity,
    -Infinity,
    Number.MIN_VALUE,
    -Number.MIN_VALUE,
    2.225073858507201e-308, // largest subnormal
    2.2250738585072014e-308, // smallest normal
    Number.MAX_VALUE,
    Number.EPSILON,
  ]
  for (const x of f64Values) {
    const got = both('id_f64', x)
    t.true(Object.is(got.v8, x))
    t.true(Object.is(got.engine, x), `id_f64(${x}) = ${got.engine}`)
    t.is(engine.call(handle, 'bits_f64', x), BigInt.asIntN(64, f64Bits(x)), `bits of ${x}`)
  }
  t.is(engine.call(handle, 'bits_f64', -0), -(2n ** 63n))
  t.is(engine.call(handle, 'bits_f64', Number.MIN_VALUE), 1n)
  const f32Values = [
    -0,
    Infinity,
    -Infinity,
    2 ** -149, // smallest f32 subnormal
    -(2 ** -149),
    2 ** -126 - 2 ** -149, // largest f32 subnormal
    2 ** -150, // halfway to the smallest subnormal: rounds to even, 0
    3 * 2 ** -150, // halfway between two subnormals: rounds to even
    Number.MIN_VALUE, // an f64 subnormal: 0 as f32
    -Number.MIN_VALUE, // -0 as f32
    0.1,
    3.4028235677973366e38, // rounds to f32 infinity
    3.4028234663852886e38, // f32 max
  ]
  for (const x of f32Values) {
    const got = both('id_f32', x)
    t.true(Object.is(got.v8, Math.fround(x)))
    t.true(Object.is(got.engine, got.v8), `id_f32(${x}) = ${got.engine}, V8 ${got.v8}`)
  }
  t.is(engine.call(handle, 'bits_f32', 2 ** -149), 1n)
  t.is(engine.call(handle, 'bits_f32', -0), 0x80000000n)
  // Constant results.
  for (const name of [
    'f64_neg_zero',
    'f32_neg_zero',
    'f64_min_subnormal',
    'f32_min_subnormal',
    'f32_max_subnormal',
    'f64_inf',
    'f32_neg_inf',
  ]) {
    const got = both(name)
    t.true(Object.is(got.engine, got.v8), `${name}: engine ${got.engine}, V8 ${got.v8}`)
  }
  t.true(Object.is(engine.call(handle, 'f64_neg_zero'), -0))
  t.true(Object.is(engine.call(handle, 'f32_neg_zero'), -0))
  t.is(engine.call(handle, 'f64_min_subnormal'), Number.MIN_VALUE)
  t.is(engine.call(handle, 'f32_min_subnormal'), 2 ** -149)
  t.is(engine.call(handle, 'f32_max_subnormal'), 2 ** -126 - 2 ** -149)
  engine.close()
})

test('JavaScript imports receive f64 and f32 NaN payloads, -0, subnormals and infinities as V8 passes them', (t) => {
  const { engine, seenBy } = setup()
  const f64 = seenBy('pass_f64')
  t.deepEqual(
    f64.v8.bits.map(hex),
    [
      0x7ff4000000000001n,
      0xfff8000000000000n,
      0xffffffffffffffffn,
      0x7ff8000000000001n,
      0x8000000000000000n,
      0x0000000000000001n,
      0x7ff0000000000000n,
      0xfff0000000000000n,
    ].map(hex),
  )
  t.deepEqual(f64.engine.bits.map(hex), f64.v8.bits.map(hex))
  t.true(Object.is(f64.engine.seen[4], -0))
  const f32 = seenBy('pass_f32')
  t.is(f32.engine.bits.length, 8)
  t.deepEqual(f32.engine.bits.map(hex), f32.v8.bits.map(hex))
  t.true(Object.is(f32.engine.seen[4], -0))
  t.is(f32.engine.seen[5], 2 ** -149)
  t.deepEqual(f32.engine.seen.slice(6), [Infinity, -Infinity])
  engine.close()
})

test('NaN payloads, -0, infinities and subnormals returned by JavaScript imports reach the guest exactly', (t) => {
  const { engine, handle, host, both } = setup()
  const f64Cases = [
    0x7ff8000000000001n,
    0xfff8000000000000n,
    0x7ffc00000000beefn,
    0xffffffffffffffffn,
    0x7ff4000000000001n, // signalling
    0x8000000000000000n, // -0
    0x0000000000000001n, // smallest subnormal
    0x7ff0000000000000n, // inf
    0xfff0000000000000n, // -inf
  ]
  for (const bits of f64Cases) {
    host.next = fromF64Bits(bits)
    const got = both('ret_f64_bits')
    // As for arguments: V8 in Node 22 and later quiets signalling NaNs.
    if (!signalling(bits)) t.is(hex(got.v8), hex(bits), `V8 f64 ${hex(bits)}`)
    t.is(hex(got.engine), hex(signalling(bits) ? bits : got.v8), `f64 ${hex(bits)}`)
  }
  // f32 results: numbers demoted to f32 the way V8 demotes them.
  const f32Cases: Array<[string, () => number]> = [
    ['f64 nan:0x1', () => fromF64Bits(0x7ff8000000000001n)],
    ['f64 -nan:0x40000beef', () => fromF64Bits(0xfffc00000000beefn)],
    ['f32 nan:0x200001 as a number', () => fromF64Bits(0x7ffc000020000000n)],
    ['f32 -nan:0x7fffff', () => fromF32Bits(0xffffffff)],
    ['f32 nan:0x200001', () => fromF32Bits(0x7fa00001)],
    ['-0', () => -0],
    ['2^-149', () => 2 ** -149],
    ['2^-150', () => 2 ** -150],
    ['f64 min subnormal', () => Number.MIN_VALUE],
    ['inf', () => Infinity],
    ['-inf', () => -Infinity],
    ['0.1', () => 0.1],
  ]
  for (const [label, make] of f32Cases) {
    host.next = make()
    const got = both('ret_f32_bits')
    t.is(hex(got.engine), hex(got.v8), `f32 ${label}`)
  }
  host.next = fromF32Bits(0xffffffff)
  t.is(engine.call(handle, 'ret_f32_bits'), 0xffffffffn)
  host.next = -0
  t.is(engine.call(handle, 'ret_f32_bits'), 0x80000000n)
  engine.close()
})

// ---------------------------------------------------------------- multi-value

test('an export with several results returns an array, like V8, NaN bits included', (t) => {
  const { engine, handle, v8 } = setup()
  const byV8 = v8.multi() as unknown[]
  const byEngine = engine.call(handle, 'multi') as unknown[]
  t.true(Array.isArray(byEngine))
  t.is(byEngine.length, 3)
  t.is(byEngine[0], -1)
  t.is(byEngine[0], byV8[0])
  t.is(byEngine[1], I64_MIN)
  t.is(byEngine[1], byV8[1])
  t.is(hex(bitsOf(byV8[2])), hex(0xfff8000000000001n))
  t.is(hex(bitsOf(byEngine[2])), hex(bitsOf(byV8[2])))
  const viaFunction = engine.getFunction(handle, 'multi')() as unknown[]
  t.is(viaFunction[1], I64_MIN)
  t.is(hex(bitsOf(viaFunction[2])), hex(bitsOf(byV8[2])))
  // Only floats: an array of numbers, where NaNs are easily canonicalized.
  const floatsV8 = v8.multi_floats() as unknown[]
  const floats = engine.call(handle, 'multi_floats') as unknown[]
  t.is(floats.length, 3)
  t.is(hex(bitsOf(floatsV8[0])), hex(0x7ff4000000000001n))
  for (let i = 0; i < 3; i++) t.is(hex(bitsOf(floats[i])), hex(bitsOf(floatsV8[i])), `multi_floats[${i}]`)
  engine.close()
})

test('an import with several results returns an array, and its values reach the guest exactly', (t) => {
  const { engine, host, both } = setup()
  // Built so that the array holds boxed numbers: no NaN passes through an array of doubles.
  const results: unknown[] = [0n, 0n, 0n]
  results[0] = 0xffffffff
  results[1] = 2n ** 64n - 1n
  results[2] = fromF64Bits(0xfffc00000000abcdn)
  host.next = results
  const got = both('ret_multi') as { v8: unknown[]; engine: unknown[] }
  t.deepEqual(got.v8, [-1, -1n, BigInt.asIntN(64, 0xfffc00000000abcdn)])
  t.deepEqual(got.engine, got.v8)
  host.next = [-2147483648, I64_MIN, -0]
  t.deepEqual(both('ret_multi').engine, [-2147483648, I64_MIN, I64_MIN]) // -0 is the sign bit alone
  const floats: unknown[] = ['', '']
  floats[0] = fromF64Bits(0x7ff4000000000001n)
  floats[1] = fromF32Bits(0x7fa00001)
  host.next = floats
  const floatBits = both('ret_floats_bits') as { v8: unknown[]; engine: unknown[] }
  t.is(hex(floatBits.engine[0]), hex(0x7ff4000000000001n)) // kept exactly (see above)
  t.is(hex(floatBits.engine[1]), hex(floatBits.v8[1]))
  engine.close()
})

test('an import with several results must return an array of exactly that many values', (t) => {
  const { engine, handle, host } = setup()
  for (const bad of [5, undefined, 2n, [1, 2n], [1, 2n, 3, 4], { length: 3, 0: 1, 1: 2n, 2: 3 }]) {
    host.next = bad
    t.throws(() => engine.call(handle, 'ret_multi'), { instanceOf: RuntimeError, message: /env\.getMulti/ }, String(bad))
  }
  // Wrong types inside the array are refused too.
  host.next = [1, 2, 3] // a number where the i64 is
  t.throws(() => engine.call(handle, 'ret_multi'), { instanceOf: RuntimeError })
  t.true(engine.isHealthy())
  host.next = [1, 2n, 3]
  t.deepEqual(engine.call(handle, 'ret_multi'), [1, 2n, f64Bits(3)])
  engine.close()
})

// ---------------------------------------------------------------- function lifetime

const LIFETIME_GUEST = `
(module
  (import "env" "twice" (func $twice (param i64) (result i64)))
  (func (export "id") (param i64) (result i64) (local.get 0))
  (func (export "twice") (param i64) (result i64) (call $twice (local.get 0))))`

function lifetimeEngine() {
  const engine = new WasmEngine({}, { imports: { env: { twice: (_caller, n) => (n as bigint) * 2n } } })
  const handle = engine.createInstance(engine.compile(LIFETIME_GUEST), 5, 0)
  return { engine, handle }
}

test('a function from getFunction called after dropInstance throws InvalidHandleError, and keeps doing so', (t) => {
  const { engine, handle } = lifetimeEngine()
  const id = engine.getFunction(handle, 'id')
  const twice = engine.getFunction(handle, 'twice')
  t.is(id(3n), 3n)
  t.is(twice(3n), 6n)
  engine.dropInstance(handle)
  for (let i = 0; i < 3; i++) {
    for (const fn of [id, twice]) {
      const err = t.throws(() => fn(3n), { instanceOf: InvalidHandleError })
      t.true(err instanceof OtherError)
      t.true(err instanceof WasmError)
      t.is(err?.code, 'OTHER')
    }
  }
  // Another instance on the same engine is unaffected.
  const other = engine.createInstance(engine.compile(LIFETIME_GUEST), 6, 0)
  t.is(engine.getFunction(other, 'twice')(4n), 8n)
  engine.close()
})

test('a function from getFunction called after close() throws EngineClosedError, and keeps doing so', (t) => {
  const { engine, handle } = lifetimeEngine()
  const id = engine.getFunction(handle, 'id')
  const twice = engine.getFunction(handle, 'twice')
  engine.close()
  for (let i = 0; i < 3; i++) {
    for (const fn of [id, twice]) {
      const err = t.throws(() => fn(3n), { instanceOf: EngineClosedError })
      t.true(err instanceof OtherError)
      t.is(err?.code, 'OTHER')
    }
  }
  // Dropping first, then closing: still a clean error.
  const second = lifetimeEngine()
  const fn = second.engine.getFunction(second.handle, 'twice')
  second.engine.dropInstance(second.handle)
  second.engine.close()
  const err = t.throws(() => fn(1n))
  t.true(err instanceof OtherError, String(err))
})

test.serial('a function from getFunction keeps its engine and host functions alive after the engine is unreachable', async (t) => {
  // The handle is kept; the engine is not.
  const made = (() => {
    const { engine, handle } = lifetimeEngine()
    return { twice: engine.getFunction(handle, 'twice'), id: engine.getFunction(handle, 'id'), handle, engine: new WeakRef(engine) }
  })()
  await collectGarbage()
  t.not(made.engine.deref(), undefined, 'the engine was collected while a function of it was held')
  t.is(made.twice(21n), 42n)
  t.is(made.id(I64_MIN), I64_MIN)
  await collectGarbage()
  t.is(made.twice(-4n), -8n)
})

// A function from getFunction keeps its instance alive, as a V8 exported
// function does: `engine.getFunction(engine.createInstance(m, 7, 0), 'f')` is
// the natural way to write it, and the handle is unreachable at once.
test.serial('a function from getFunction keeps working when its InstanceHandle is unreachable', async (t) => {
  const made = (() => {
    const engine = new WasmEngine()
    const module = engine.compile('(module (func (export "id") (param i64) (result i64) (local.get 0)))')
    return { id: engine.getFunction(engine.createInstance(module, 7, 0), 'id'), engine }
  })()
  t.is(made.id(9n), 9n)
  await collectGarbage()
  t.is(made.id(9n), 9n) // today: InvalidHandleError "instance 7 was dropped"
  made.engine.close()
})

// ---------------------------------------------------------------- error fields

const ERRORS_GUEST = `
(module
  (import "env" "fail" (func $fail (param i64) (result i64)))
  (func (export "trap") (param i64 i64 i64) (result i64) unreachable)
  (func (export "trap2") (param i64 i64) (result i64) (i64.div_s (local.get 0) (local.get 1)))
  (func (export "host") (param i64 i64 i64) (result i64) (call $fail (local.get 0)))
  (func (export "host2") (param i64 i64) (result i64) (call $fail (local.get 0))))`

function errorsEngine(id: bigint | number) {
  const thrown = { object: new Error('host object'), primitive: 'a primitive string' }
  let which: 'object' | 'primitive' = 'object'
  const engine = new WasmEngine(
    {},
    {
      imports: {
        env: {
          fail: () => {
            throw thrown[which]
          },
        },
      },
    },
  )
  const handle = engine.createInstance(engine.compile(ERRORS_GUEST), id, 0)
  return { engine, handle, thrown, throwing: (w: 'object' | 'primitive') => (which = w) }
}

test('a trap is a RuntimeError with trapCode, instanceId and exportName, sync and blocking (rejected)', async (t) => {
  const id = 2n ** 62n + 12345n
  const { engine, handle } = errorsEngine(id)
  const check = (err: RuntimeError | undefined, exportName: string, trapCode: TrapCode) => {
    t.is(err?.code, 'RUNTIME')
    t.is(err?.trapCode, trapCode)
    t.is(typeof err?.instanceId, 'bigint')
    t.is(err?.instanceId, id)
    t.is(err?.exportName, exportName)
    t.is(err?.cause, undefined)
  }
  check(t.throws(() => engine.call(handle, 'trap', 1n, 2n, 3n), { instanceOf: RuntimeError }), 'trap', 'unreachable_code_reached')
  check(t.throws(() => engine.getFunction(handle, 'trap')(1n, 2n, 3n), { instanceOf: RuntimeError }), 'trap', 'unreachable_code_reached')
  check(t.throws(() => engine.call3i64(handle, 'trap', 1n, 2n, 3n), { instanceOf: RuntimeError }), 'trap', 'unreachable_code_reached')
  check(t.throws(() => engine.call2i64(handle, 'trap2', 1n, 0n), { instanceOf: RuntimeError }), 'trap2', 'integer_division_by_zero')
  check(
    await t.throwsAsync(engine.call3i64Blocking(handle, 'trap', 1n, 2n, 3n), { instanceOf: RuntimeError }),
    'trap',
    'unreachable_code_reached',
  )
  check(
    await t.throwsAsync(engine.call2i64Blocking(handle, 'trap2', I64_MIN, -1n), { instanceOf: RuntimeError }),
    'trap2',
    'integer_overflow',
  )
  // A number id comes back as a bigint.
  const small = errorsEngine(7)
  const err = t.throws(() => small.engine.call3i64(small.handle, 'trap', 0n, 0n, 0n), { instanceOf: RuntimeError })
  t.is(err?.instanceId, 7n)
  small.engine.close()
  engine.close()
})

test('a missing export is an ExportError with exportName and instanceId, sync and blocking (rejected)', async (t) => {
  const { engine, handle } = errorsEngine(31n)
  const check = (err: ExportError | undefined) => {
    t.is(err?.code, 'EXPORT')
    t.is(err?.exportName, 'no_such_export')
    t.is(err?.instanceId, 31n)
  }
  check(t.throws(() => engine.getFunction(handle, 'no_such_export'), { instanceOf: ExportError }))
  check(t.throws(() => engine.call(handle, 'no_such_export'), { instanceOf: ExportError }))
  check(t.throws(() => engine.call3i64(handle, 'no_such_export', 0n, 0n, 0n), { instanceOf: ExportError }))
  check(t.throws(() => engine.callVoid(handle, 'no_such_export'), { instanceOf: ExportError }))
  check(await t.throwsAsync(engine.call3i64Blocking(handle, 'no_such_export', 0n, 0n, 0n), { instanceOf: ExportError }))
  check(await t.throwsAsync(engine.call2i64Blocking(handle, 'no_such_export', 0n, 0n), { instanceOf: ExportError }))
  engine.close()
})

test("a host function's thrown value (object or primitive) is the cause, sync and blocking (rejected)", async (t) => {
  const { engine, handle, thrown, throwing } = errorsEngine(99n)
  for (const which of ['object', 'primitive'] as const) {
    throwing(which)
    const check = (err: RuntimeError | undefined, exportName: string) => {
      t.is(err?.code, 'RUNTIME')
      t.is(err?.cause, thrown[which], `${which} via ${exportName}`)
      t.is(err?.trapCode, undefined)
      t.is(err?.instanceId, 99n)
      t.is(err?.exportName, exportName)
    }
    check(t.throws(() => engine.call(handle, 'host', 1n, 2n, 3n), { instanceOf: RuntimeError }), 'host')
    check(t.throws(() => engine.getFunction(handle, 'host')(1n, 2n, 3n), { instanceOf: RuntimeError }), 'host')
    check(t.throws(() => engine.call3i64(handle, 'host', 1n, 2n, 3n), { instanceOf: RuntimeError }), 'host')
    check(t.throws(() => engine.call2i64(handle, 'host2', 1n, 2n), { instanceOf: RuntimeError }), 'host2')
    check(await t.throwsAsync(engine.call3i64Blocking(handle, 'host', 1n, 2n, 3n), { instanceOf: RuntimeError }), 'host')
    check(await t.throwsAsync(engine.call2i64Blocking(handle, 'host2', 1n, 2n), { instanceOf: RuntimeError }), 'host2')
  }
  t.true(engine.isHealthy())
  engine.close()
})

test('blocking calls reject, never resolve, with their errors', async (t) => {
  const { engine, handle } = errorsEngine(1n)
  const outcomes = await Promise.allSettled([
    engine.call3i64Blocking(handle, 'trap', 0n, 0n, 0n),
    engine.call3i64Blocking(handle, 'host', 0n, 0n, 0n),
    engine.call3i64Blocking(handle, 'missing', 0n, 0n, 0n),
    engine.call2i64Blocking(handle, 'trap2', 1n, 0n),
    engine.call3i64Blocking(handle, 'trap', 2n ** 64n, 0n, 0n),
  ])
  t.deepEqual(
    outcomes.map((o) => o.status),
    ['rejected', 'rejected', 'rejected', 'rejected', 'rejected'],
  )
  const reasons = outcomes.map((o) => (o as PromiseRejectedResult).reason)
  t.true(reasons[0] instanceof RuntimeError)
  t.true(reasons[1] instanceof RuntimeError)
  t.true(reasons[2] instanceof ExportError)
  t.true(reasons[3] instanceof RuntimeError)
  t.true(reasons[4] instanceof TypeError)
  engine.close()
  await t.throwsAsync(engine.call3i64Blocking(handle, 'trap', 0n, 0n, 0n), { instanceOf: EngineClosedError })
})

// ---------------------------------------------------------------- codes

test('error and trap codes cannot drift from the native ones', (t) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const binding = require('../binding.cjs') as { errorCodes(): string[]; trapCodes(): string[] }
  t.deepEqual(binding.errorCodes(), [...WASM_ERROR_CODES])
  t.deepEqual(binding.trapCodes(), [...TRAP_CODES])
})
