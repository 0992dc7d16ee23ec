import test from 'ava'

import { ExportError, OutOfGasError, RuntimeError, TimeoutError, type TrapCode, WasmEngine, WasmError } from '../index'
import { FREENET_GUEST } from './helpers/guests'
import { calibrateSpin } from './helpers/timing'

function setup(config = {}) {
  const engine = new WasmEngine(config)
  const handle = engine.createInstance(engine.compile(FREENET_GUEST), 1, 0)
  return { engine, handle }
}

test('call3i64 passes three i64 and returns one', (t) => {
  const { engine, handle } = setup()
  t.is(engine.call3i64(handle, 'add3', 1n, 2n, 3n), 6n)
  t.is(engine.call3i64(handle, 'add3', -(2n ** 63n), 0n, 0n), -(2n ** 63n))
  t.is(engine.call3i64(handle, 'add3', 2n ** 63n - 1n, 1n, 0n), -(2n ** 63n)) // wraps like i64.add
  t.is(engine.call3i64(handle, 'add3', 1, 2, 3), 6n) // safe-integer numbers
  engine.close()
})

test('call3i64 refuses arguments that are not i64', (t) => {
  const { engine, handle } = setup()
  for (const bad of [1.5, 2 ** 53, 2n ** 63n, -(2n ** 63n) - 1n, '1', null, undefined]) {
    t.throws(() => engine.call3i64(handle, 'add3', bad as bigint, 0n, 0n), { instanceOf: TypeError }, String(bad))
  }
  t.throws(() => engine.call3i64(handle, 42 as unknown as string, 0n, 0n, 0n), { instanceOf: TypeError })
  engine.close()
})

test('callVoid runs a () -> () export', (t) => {
  const { engine, handle } = setup()
  t.is(engine.callVoid(handle, 'noop'), undefined)
  engine.close()
})

test('missing exports and wrong signatures are ExportErrors naming the export', (t) => {
  const { engine, handle } = setup()
  const missing = t.throws(() => engine.call3i64(handle, 'nope', 0n, 0n, 0n), { instanceOf: ExportError })
  t.is(missing?.code, 'EXPORT')
  t.regex(missing?.message ?? '', /"nope"/)
  t.regex(missing?.message ?? '', /instance 1/)
  const wrong = t.throws(() => engine.call3i64(handle, 'wrong_sig', 0n, 0n, 0n), { instanceOf: ExportError })
  t.regex(wrong?.message ?? '', /wrong_sig/)
  t.throws(() => engine.callVoid(handle, 'add3'), { instanceOf: ExportError })
  t.throws(() => engine.callVoid(handle, 'memory'), { instanceOf: ExportError })
  engine.close()
})

test('traps are RuntimeErrors with stable trap codes', (t) => {
  const { engine, handle } = setup()
  const cases: Array<[() => unknown, TrapCode]> = [
    [() => engine.callVoid(handle, 'unreachable'), 'unreachable_code_reached'],
    [() => engine.call3i64(handle, 'div', 1n, 0n, 0n), 'integer_division_by_zero'],
    [() => engine.call3i64(handle, 'div', -(2n ** 63n), -1n, 0n), 'integer_overflow'],
    [() => engine.call3i64(handle, 'load', 70_000n, 0n, 0n), 'memory_out_of_bounds'],
    [() => engine.call3i64(handle, 'recurse', 0n, 0n, 0n), 'stack_overflow'],
  ]
  for (const [call, trapCode] of cases) {
    const err = t.throws(call, { instanceOf: RuntimeError })
    t.true(err instanceof WasmError)
    t.is(err?.code, 'RUNTIME')
    t.is(err?.trapCode, trapCode)
    t.regex(err?.message ?? '', /instance 1/)
  }
  // The engine and the instance survive their traps.
  t.true(engine.isHealthy())
  t.is(engine.call3i64(handle, 'add3', 1n, 1n, 1n), 3n)
  engine.close()
})

test('metered calls consume fuel; running out is an OutOfGasError', (t) => {
  const { engine, handle } = setup({ enableMetering: true, maxExecutionSeconds: 1, cpuCyclesPerSecond: 1_000_000 })
  const full = engine.remainingFuel() ?? 0n
  engine.call3i64(handle, 'spin', 1000n, 0n, 0n)
  const afterSmall = engine.remainingFuel() ?? 0n
  t.true(afterSmall < full && afterSmall > 0n, `fuel ${full} -> ${afterSmall}`)
  const err = t.throws(() => engine.call3i64(handle, 'spin', 10_000_000n, 0n, 0n), { instanceOf: OutOfGasError })
  t.is(err?.code, 'OUT_OF_GAS')
  t.regex(err?.message ?? '', /"spin"/)
  t.is(engine.remainingFuel(), 0n)
  // A new instance resets the budget; the engine stays usable.
  const next = engine.createInstance(engine.compile(FREENET_GUEST), 2, 0)
  t.is(engine.call3i64(next, 'spin', 1000n, 0n, 0n), 42n)
  t.true(engine.isHealthy())
  engine.close()
})

test('buffer set-up and the call share one fuel budget', (t) => {
  const { engine, handle } = setup({ enableMetering: true, maxExecutionSeconds: 1, cpuCyclesPerSecond: 1_000_000 })
  const start = engine.remainingFuel() ?? 0n
  engine.initiateBuffer(handle, 32)
  const afterBuffer = engine.remainingFuel() ?? 0n
  engine.call3i64(handle, 'spin', 100n, 0n, 0n)
  const afterCall = engine.remainingFuel() ?? 0n
  t.true(start > afterBuffer && afterBuffer > afterCall)
  engine.close()
})

test('unmetered engines run without fuel limits', (t) => {
  const { engine, handle } = setup({ cpuCyclesPerSecond: 1 })
  t.is(engine.call3i64(handle, 'spin', 1_000_000n, 0n, 0n), 42n)
  engine.close()
})

test('an endless call3i64 is stopped near the deadline with TimeoutError', (t) => {
  const { engine, handle } = setup({ maxExecutionSeconds: 0.2 })
  const started = process.hrtime.bigint()
  const err = t.throws(() => engine.call3i64(handle, 'forever', 0n, 0n, 0n), { instanceOf: TimeoutError })
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6
  t.is(err?.code, 'TIMEOUT')
  t.regex(err?.message ?? '', /"forever"/)
  t.true(elapsedMs >= 190 && elapsedMs < 2000, `stopped after ${elapsedMs} ms`)
  t.true(engine.isHealthy())
  t.is(engine.call3i64(handle, 'add3', 1n, 2n, 3n), 6n)
  engine.close()
})

test('an endless callVoid is stopped by the deadline too', (t) => {
  const { engine, handle } = setup({ maxExecutionSeconds: 0.1 })
  t.throws(() => engine.callVoid(handle, 'forever_void'), { instanceOf: TimeoutError })
  engine.close()
})

test.serial('a guest that uses a third of its budget never times out early', (t) => {
  const { engine, handle } = setup({ maxExecutionSeconds: 0.9 })
  const n = calibrateSpin(engine, handle, 300)
  for (let i = 0; i < 5; i++) {
    t.is(engine.call3i64(handle, 'spin', n, 0n, 0n), 42n)
  }
  engine.close()
})

test('with metering on, deadlines still stop guests with fuel left', (t) => {
  const { engine, handle } = setup({ enableMetering: true, maxExecutionSeconds: 0.2 })
  t.throws(() => engine.call3i64(handle, 'forever', 0n, 0n, 0n), { instanceOf: TimeoutError })
  t.true((engine.remainingFuel() ?? 0n) > 0n)
  engine.close()
})

test('call runs an export of any signature with typed arguments and results', (t) => {
  const engine = new WasmEngine()
  const module = engine.compile(`(module
    (func (export "none"))
    (func (export "mix") (param i32 i64 f32 f64) (result f64)
      (f64.add (f64.add (f64.convert_i32_s (local.get 0)) (f64.convert_i64_s (local.get 1)))
               (f64.add (f64.promote_f32 (local.get 2)) (local.get 3))))
    (func (export "two") (param i64) (result i64 i32) (local.get 0) (i32.const -1))
    (func (export "v128") (param v128)))`)
  const handle = engine.createInstance(module, 1, 0)
  t.is(engine.call(handle, 'none'), undefined)
  t.is(engine.call(handle, 'mix', 1, 2n, 0.5, 0.25), 3.75)
  t.is(engine.call(handle, 'mix', 1, 2, 0.5, 0.25), 3.75) // a safe integer may stand for an i64
  t.deepEqual(engine.call(handle, 'two', -(2n ** 63n)), [-(2n ** 63n), -1])
  t.throws(() => engine.call(handle, 'mix', 1, 2n), { instanceOf: TypeError, message: /takes 4 arguments, got 2/ })
  t.throws(() => engine.call(handle, 'mix', 2n ** 40n, 2n, 0.5, 0.25), { instanceOf: TypeError, message: /argument 1 .* i32/ })
  t.is(engine.call(handle, 'mix', 1n, 2n, 0.5, 0.25), 3.75) // an integer bigint may stand for an i32
  t.throws(() => engine.call(handle, 'two', 2n ** 64n), { instanceOf: TypeError, message: /i64/ })
  t.throws(() => engine.call(handle, 'none', 'x' as unknown as number), { instanceOf: TypeError })
  t.throws(() => engine.call(handle, 'v128'), { instanceOf: ExportError, message: /v128/ })
  t.throws(() => engine.call(handle, 'nope'), { instanceOf: ExportError })
  engine.close()
})
