import test from 'ava'

import {
  DEFAULT_MAX_MEMORY_PAGES,
  EngineClosedError,
  InvalidHandleError,
  OtherError,
  WASM_PAGE_SIZE,
  WasmEngine,
  WasmError,
} from '../index'
import { FREENET_GUEST } from './helpers/guests'

test('constants match Freenet', (t) => {
  t.is(DEFAULT_MAX_MEMORY_PAGES, 4096)
  t.is(WASM_PAGE_SIZE, 65536)
})

test('a new engine is healthy and close() makes it unhealthy', (t) => {
  const engine = new WasmEngine()
  t.true(engine.isHealthy())
  engine.close()
  t.false(engine.isHealthy())
  engine.close()
  t.false(engine.isHealthy())
})

test('hostMem: true is refused with a WasmError', (t) => {
  const err = t.throws(() => new WasmEngine({}, { hostMem: true }), { instanceOf: OtherError })
  t.true(err instanceof WasmError)
  t.is(err?.code, 'OTHER')
  t.regex(err?.message ?? '', /hostMem/)
  t.notThrows(() => new WasmEngine({}, { hostMem: false }).close())
})

test('invalid configs are refused with clear errors', (t) => {
  t.throws(() => new WasmEngine({ maxExecutionSeconds: 0 }), { instanceOf: OtherError, message: /maxExecutionSeconds/ })
  t.throws(() => new WasmEngine({ maxExecutionSeconds: Number.NaN }), { instanceOf: OtherError })
  t.throws(() => new WasmEngine({ cpuCyclesPerSecond: -1 }), { instanceOf: OtherError, message: /cpuCyclesPerSecond/ })
  t.throws(() => new WasmEngine({ maxMemoryPages: 1.5 }), { instanceOf: OtherError, message: /maxMemoryPages/ })
  t.throws(() => new WasmEngine({ maxMemoryPages: 65537 }), { instanceOf: OtherError, message: /maxMemoryPages/ })
  t.throws(() => new WasmEngine({ moduleCacheCapacity: -1 }), { instanceOf: OtherError })
  t.throws(() => new WasmEngine({ maxExecutionSeconds: '5' as unknown as number }), { instanceOf: TypeError })
  t.throws(() => new WasmEngine({ enableMetering: 1 as unknown as boolean }), { instanceOf: TypeError })
})

test('fuel budget is maxExecutionSeconds * cpuCyclesPerSecond * (1 + safetyMargin)', (t) => {
  const engine = new WasmEngine({ enableMetering: true, maxExecutionSeconds: 2, cpuCyclesPerSecond: 1000, safetyMargin: 0.5 })
  const module = engine.compile(FREENET_GUEST)
  engine.createInstance(module, 1, 0)
  // Instantiation and __frnt_set_id burn a little fuel out of the 3000 budget.
  const left = engine.remainingFuel()
  t.true(left !== undefined && left <= 3000n && left > 2900n, `left: ${left}`)
  engine.close()
})

test('a safety margin outside [0, 1] falls back to 0.2', (t) => {
  for (const safetyMargin of [-0.5, 1.5, Number.NaN]) {
    const engine = new WasmEngine({ enableMetering: true, maxExecutionSeconds: 1, cpuCyclesPerSecond: 10_000, safetyMargin })
    engine.createInstance(engine.compile('(module)'), 1, 0)
    t.is(engine.remainingFuel(), 12_000n, `margin ${safetyMargin}`)
    engine.close()
  }
})

test('default fuel budget is 5 s * 3e9 * 1.2', (t) => {
  const engine = new WasmEngine({ enableMetering: true })
  engine.createInstance(engine.compile('(module)'), 1, 0)
  t.is(engine.remainingFuel(), 18_000_000_000n)
  engine.close()
})

test('remainingFuel is undefined when metering is off', (t) => {
  const engine = new WasmEngine()
  t.is(engine.remainingFuel(), undefined)
  engine.close()
})

test('a closed engine refuses every operation with EngineClosedError', (t) => {
  const engine = new WasmEngine()
  const module = engine.compile(FREENET_GUEST)
  const handle = engine.createInstance(module, 1, 0)
  engine.close()
  const closed = { instanceOf: EngineClosedError }
  t.throws(() => engine.compile(FREENET_GUEST), closed)
  t.throws(() => engine.createInstance(module, 2, 0), closed)
  t.throws(() => engine.call3i64(handle, 'add3', 1n, 2n, 3n), closed)
  t.throws(() => engine.readMemory(handle, 0, 1), closed)
  t.throws(() => engine.remainingFuel(), closed)
  t.throws(() => engine.moduleHasAsyncImports(module), closed)
  const err = t.throws(() => engine.dropInstance(handle), closed)
  t.true(err instanceof OtherError && !(err instanceof InvalidHandleError))
})

test('Symbol.dispose closes the engine', (t) => {
  const engine = new WasmEngine()
  engine[Symbol.dispose]()
  t.false(engine.isHealthy())
})
