/**
 * Every trap kind wasmtime reports, produced by a guest and named by its
 * `trapCode`, next to what V8 (Node's own WebAssembly) reports for the same
 * binary. Trap codes no guest can produce under this engine's settings are
 * listed with the reason, and the modules that would produce them are
 * refused at compile time.
 */
import test from 'ava'

import {
  AbortedError,
  CompileError,
  OutOfGasError,
  RuntimeError,
  TimeoutError,
  TRAP_CODES,
  type TrapCode,
  WasmEngine,
  watToWasm,
} from '../index'
import { V8WebAssembly } from './helpers/v8'

interface Case {
  /** The export `f` of this module traps when called with no arguments. */
  wat: string
  /** What V8 throws: its class and message. */
  v8: [new (message?: string) => Error, RegExp]
}

/** V8 up to Node 24 says "null function or function signature mismatch", Node 26's V8 "function signature mismatch". */
const SIGNATURE_MISMATCH = /^(null function or )?function signature mismatch$/

/** Guests that trap, by the trap code this engine reports; several guests per code where V8 tells them apart. */
const TRAPS: Record<string, Array<Case>> = {
  stack_overflow: [{ wat: '(module (func $f (export "f") (call $f)))', v8: [RangeError, /^Maximum call stack size exceeded$/] }],
  memory_out_of_bounds: [
    { wat: '(module (memory 1) (func (export "f") (drop (i32.load (i32.const 65535)))))', v8: [V8WebAssembly.RuntimeError, /^memory access out of bounds$/] },
    {
      wat: '(module (memory 1) (func (export "f") (memory.fill (i32.const 65000) (i32.const 0) (i32.const 1000))))',
      v8: [V8WebAssembly.RuntimeError, /^memory access out of bounds$/],
    },
  ],
  table_out_of_bounds: [
    {
      wat: '(module (type $v (func)) (table 1 funcref) (func (export "f") (call_indirect (type $v) (i32.const 5))))',
      v8: [V8WebAssembly.RuntimeError, /^table index is out of bounds$/],
    },
    { wat: '(module (table 1 funcref) (func (export "f") (drop (table.get (i32.const 5)))))', v8: [V8WebAssembly.RuntimeError, /^table index is out of bounds$/] },
  ],
  indirect_call_to_null: [
    {
      wat: '(module (type $v (func)) (table 2 funcref) (func (export "f") (call_indirect (type $v) (i32.const 1))))',
      v8: [V8WebAssembly.RuntimeError, SIGNATURE_MISMATCH],
    },
  ],
  bad_signature: [
    {
      wat: '(module (type $v (func)) (table 1 funcref) (elem (i32.const 0) $g) (func $g (param i32)) (func (export "f") (call_indirect (type $v) (i32.const 0))))',
      v8: [V8WebAssembly.RuntimeError, SIGNATURE_MISMATCH],
    },
  ],
  integer_overflow: [
    { wat: '(module (func (export "f") (drop (i32.div_s (i32.const 0x80000000) (i32.const -1)))))', v8: [V8WebAssembly.RuntimeError, /^divide result unrepresentable$/] },
    // V8 names a float too large for the integer as it names NaN; wasmtime tells them apart.
    { wat: '(module (func (export "f") (drop (i32.trunc_f64_s (f64.const 1e10)))))', v8: [V8WebAssembly.RuntimeError, /^float unrepresentable in integer range$/] },
  ],
  integer_division_by_zero: [
    { wat: '(module (func (export "f") (drop (i32.div_s (i32.const 1) (i32.const 0)))))', v8: [V8WebAssembly.RuntimeError, /^divide by zero$/] },
    { wat: '(module (func (export "f") (drop (i64.rem_u (i64.const 1) (i64.const 0)))))', v8: [V8WebAssembly.RuntimeError, /^remainder by zero$/] },
  ],
  bad_conversion_to_integer: [
    { wat: '(module (func (export "f") (drop (i32.trunc_f32_s (f32.const nan)))))', v8: [V8WebAssembly.RuntimeError, /^float unrepresentable in integer range$/] },
  ],
  unreachable_code_reached: [{ wat: '(module (func (export "f") unreachable))', v8: [V8WebAssembly.RuntimeError, /^unreachable$/] }],
  // The garbage-collection and typed-function-reference proposals: V8 runs them from Node 22.
  null_reference: [
    { wat: '(module (type $t (func)) (func (export "f") (call_ref $t (ref.null $t))))', v8: [V8WebAssembly.RuntimeError, /^dereferencing a null pointer$/] },
    { wat: '(module (func (export "f") (drop (ref.as_non_null (ref.null func)))))', v8: [V8WebAssembly.RuntimeError, /^dereferencing a null pointer$/] },
  ],
  array_out_of_bounds: [
    {
      wat: '(module (type $a (array (mut i32))) (func (export "f") (drop (array.get $a (array.new_default $a (i32.const 1)) (i32.const 5)))))',
      v8: [V8WebAssembly.RuntimeError, /^array element access out of bounds$/],
    },
  ],
  allocation_too_large: [
    {
      wat: '(module (type $a (array (mut i64))) (func (export "f") (drop (array.new_default $a (i32.const 0x7fffffff)))))',
      v8: [V8WebAssembly.RuntimeError, /^requested new array is too large$/],
    },
  ],
  cast_failure: [
    {
      wat: '(module (type $s (struct)) (type $t (struct (field i32))) (func (export "f") (drop (ref.cast (ref $t) (struct.new $s)))))',
      v8: [V8WebAssembly.RuntimeError, /^illegal cast$/],
    },
  ],
}

/** Trap codes no guest of this engine can produce, and why. */
const NOT_FROM_GUESTS: Record<string, string> = {
  heap_misaligned: 'only atomic accesses trap on alignment, and the threads proposal is off: such modules do not compile',
  atomic_wait_non_shared_memory: 'memory.atomic.wait needs the threads proposal, which is off',
  unhandled_tag: 'needs the stack-switching proposal, which is off',
  continuation_already_consumed: 'needs the stack-switching proposal, which is off',
  interrupt: 'the epoch interrupt is how deadlines, aborts and close() stop a guest: it surfaces as TimeoutError, AbortedError or EngineClosedError',
  out_of_fuel: 'running out of fuel surfaces as OutOfGasError',
  unknown_trap: 'names a trap kind added to wasmtime after this release, should one reach a guest',
}

test('every trap code is produced by a guest or listed with why no guest can produce it', (t) => {
  t.deepEqual([...Object.keys(TRAPS), ...Object.keys(NOT_FROM_GUESTS)].sort(), [...TRAP_CODES].sort())
})

for (const [trapCode, cases] of Object.entries(TRAPS)) {
  test(`${trapCode}: a RuntimeError with its trapCode here, and V8's own error for the same binary`, (t) => {
    const engine = new WasmEngine({ compileCache: false })
    t.teardown(() => engine.close())
    for (const { wat, v8 } of cases) {
      const binary = watToWasm(wat)
      const handle = engine.createInstance(engine.compile(binary), 1, 0)
      const ours = t.throws(() => engine.getFunction(handle, 'f')(), { instanceOf: RuntimeError }, wat)
      t.is(ours?.trapCode, trapCode as TrapCode, wat)
      t.is(ours?.exportName, 'f')
      // The instance survives its trap.
      t.throws(() => engine.getFunction(handle, 'f')(), { instanceOf: RuntimeError })
      if (!V8WebAssembly.validate(binary)) {
        // Node 20's V8 has neither garbage collection nor typed function references.
        t.true(['null_reference', 'array_out_of_bounds', 'allocation_too_large', 'cast_failure'].includes(trapCode), `V8 ${process.versions.v8} refuses ${wat}`)
        t.log(`V8 ${process.versions.v8} cannot compile this guest`)
        continue
      }
      const [v8Class, v8Message] = v8
      const instance = new V8WebAssembly.Instance(new V8WebAssembly.Module(binary))
      t.throws(() => (instance.exports.f as () => void)(), { instanceOf: v8Class, message: v8Message }, wat)
    }
  })
}

test('modules that could produce the unlisted traps are refused at compile time', (t) => {
  const engine = new WasmEngine({ compileCache: false })
  t.teardown(() => engine.close())
  const refused = [
    ['(module (memory 1) (func (export "f") (result i32) (i32.atomic.load (i32.const 1))))', /threads support is not enabled/],
    ['(module (memory 1) (func (export "f") (result i32) (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 0))))', /threads support is not enabled/],
    ['(module (type $f (func)) (type $c (cont $f)) (tag $t) (func (export "f") (suspend $t)))', /stack switching is disabled/],
  ] as const
  for (const [wat, message] of refused) t.throws(() => engine.compile(watToWasm(wat)), { instanceOf: CompileError, message }, wat)
})

test('what stops a guest from outside has its own error class, not a trap code', async (t) => {
  const spin = '(module (func (export "f") (loop $l (br $l))))'
  const timed = new WasmEngine({ maxExecutionSeconds: 0.05, compileCache: false })
  t.teardown(() => timed.close())
  const timeout = t.throws(() => timed.getFunction(timed.createInstance(timed.compile(spin), 1, 0), 'f')(), { instanceOf: TimeoutError })
  t.false(timeout instanceof RuntimeError)
  const metered = new WasmEngine({ enableMetering: true, cpuCyclesPerSecond: 1e6, maxExecutionSeconds: 1, compileCache: false })
  t.teardown(() => metered.close())
  t.throws(() => metered.getFunction(metered.createInstance(metered.compile(spin), 1, 0), 'f')(), { instanceOf: OutOfGasError })
  const aborting = new WasmEngine({ maxExecutionSeconds: 30, compileCache: false })
  t.teardown(() => aborting.close())
  const handle = aborting.createInstance(aborting.compile('(module (func (export "f") (param i64 i64 i64) (result i64) (loop $l (br $l)) (i64.const 0)))'), 1, 0)
  await t.throwsAsync(aborting.call3i64Blocking(handle, 'f', 0n, 0n, 0n, { signal: AbortSignal.timeout(50) }), { instanceOf: AbortedError })
})
