import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

import test from 'ava'

import {
  ExportError,
  InstanceHandle,
  InstantiationError,
  InvalidHandleError,
  MemoryError,
  OutOfGasError,
  RuntimeError,
  TimeoutError,
  WASM_PAGE_SIZE,
  WasmEngine,
} from '../index'
import {
  BAD_SET_ID,
  FREENET_GUEST,
  LOOPING_START,
  NEEDS_IMPORT,
  NO_MEMORY,
  TRAPPING_START,
  memoryOfPages,
} from './helpers/guests'

test('createInstance calls __frnt_set_id with the id', (t) => {
  const engine = new WasmEngine()
  const module = engine.compile(FREENET_GUEST)
  const big = engine.createInstance(module, 2n ** 62n, 0)
  const small = engine.createInstance(module, -5, 0)
  t.is(big.id, 2n ** 62n)
  t.is(engine.call3i64(big, 'get_id', 0n, 0n, 0n), 2n ** 62n)
  t.is(engine.call3i64(small, 'get_id', 0n, 0n, 0n), -5n)
  engine.close()
})

test('createInstance grows memory to at least reqBytes', (t) => {
  const engine = new WasmEngine()
  const module = engine.compile(FREENET_GUEST)
  t.is(engine.memoryInfo(engine.createInstance(module, 1, 0)).size, WASM_PAGE_SIZE)
  t.is(engine.memoryInfo(engine.createInstance(module, 2, WASM_PAGE_SIZE)).size, WASM_PAGE_SIZE)
  t.is(engine.memoryInfo(engine.createInstance(module, 3, WASM_PAGE_SIZE + 1)).size, 2 * WASM_PAGE_SIZE)
  t.is(engine.memoryInfo(engine.createInstance(module, 4, 10 * WASM_PAGE_SIZE)).size, 10 * WASM_PAGE_SIZE)
  engine.close()
})

test('reqBytes past the page cap is a MemoryError naming the sizes', (t) => {
  const engine = new WasmEngine({ maxMemoryPages: 4 })
  const module = engine.compile(FREENET_GUEST)
  t.notThrows(() => engine.createInstance(module, 1, 4 * WASM_PAGE_SIZE))
  const err = t.throws(() => engine.createInstance(module, 2, 4 * WASM_PAGE_SIZE + 1), { instanceOf: MemoryError })
  t.is(err?.code, 'MEMORY')
  t.regex(err?.message ?? '', /instance 2/)
  t.regex(err?.message ?? '', /4 pages/)
  engine.close()
})

test('reqBytes without an exported memory is a MemoryError', (t) => {
  const engine = new WasmEngine()
  const module = engine.compile(NO_MEMORY)
  t.notThrows(() => engine.createInstance(module, 1, 0))
  t.throws(() => engine.createInstance(module, 2, 1), { instanceOf: MemoryError, message: /no memory/ })
  engine.close()
})

test('the page cap holds both ways for guest memory.grow: -1, no trap', (t) => {
  const engine = new WasmEngine({ maxMemoryPages: 8 })
  const handle = engine.createInstance(engine.compile(FREENET_GUEST), 1, 0)
  t.is(engine.call3i64(handle, 'grow', 7n, 0n, 0n), 1n) // 1 -> 8 pages: allowed, returns old size
  t.is(engine.memoryInfo(handle).size, 8 * WASM_PAGE_SIZE)
  t.is(engine.call3i64(handle, 'grow', 1n, 0n, 0n), -1n) // 9 pages: refused
  t.is(engine.memoryInfo(handle).size, 8 * WASM_PAGE_SIZE)
  t.is(engine.call3i64(handle, 'grow', 0n, 0n, 0n), 8n)
  engine.close()
})

test('the default cap is 4096 pages', (t) => {
  const engine = new WasmEngine()
  const handle = engine.createInstance(engine.compile(FREENET_GUEST), 1, 0)
  t.is(engine.call3i64(handle, 'grow', 4095n, 0n, 0n), 1n)
  t.is(engine.call3i64(handle, 'grow', 1n, 0n, 0n), -1n)
  engine.close()
})

test('an initial memory over the cap is an InstantiationError', (t) => {
  const engine = new WasmEngine({ maxMemoryPages: 16 })
  t.notThrows(() => engine.createInstance(engine.compile(memoryOfPages(16)), 1, 0))
  const err = t.throws(() => engine.createInstance(engine.compile(memoryOfPages(17)), 2, 0), {
    instanceOf: InstantiationError,
  })
  t.regex(err?.message ?? '', /16 pages/)
  engine.close()
})

test('unresolved imports are an InstantiationError naming the import', (t) => {
  const engine = new WasmEngine()
  const err = t.throws(() => engine.createInstance(engine.compile(NEEDS_IMPORT), 1, 0), {
    instanceOf: InstantiationError,
  })
  t.is(err?.code, 'INSTANTIATION')
  t.regex(err?.message ?? '', /env/)
  t.regex(err?.message ?? '', /missing/)
  engine.close()
})

test('a trapping start function is an InstantiationError', (t) => {
  const engine = new WasmEngine()
  const err = t.throws(() => engine.createInstance(engine.compile(TRAPPING_START), 1, 0), {
    instanceOf: InstantiationError,
  })
  t.regex(err?.message ?? '', /unreachable/)
  t.true(engine.isHealthy())
  engine.close()
})

test('a start function that never returns is stopped by the deadline', (t) => {
  const engine = new WasmEngine({ maxExecutionSeconds: 0.2 })
  const started = Date.now()
  t.throws(() => engine.createInstance(engine.compile(LOOPING_START), 1, 0), { instanceOf: TimeoutError })
  t.true(Date.now() - started < 5000)
  t.true(engine.isHealthy())
  engine.close()
})

test('a start function that burns all fuel is an OutOfGasError', (t) => {
  const engine = new WasmEngine({ enableMetering: true, maxExecutionSeconds: 1, cpuCyclesPerSecond: 100_000 })
  t.throws(() => engine.createInstance(engine.compile(LOOPING_START), 1, 0), { instanceOf: OutOfGasError })
  engine.close()
})

test('a __frnt_set_id of the wrong type is an ExportError', (t) => {
  const engine = new WasmEngine()
  const err = t.throws(() => engine.createInstance(engine.compile(BAD_SET_ID), 1, 0), { instanceOf: ExportError })
  t.regex(err?.message ?? '', /__frnt_set_id/)
  engine.close()
})

test('a __frnt_set_id that traps is a RuntimeError', (t) => {
  const engine = new WasmEngine()
  const module = engine.compile('(module (func (export "__frnt_set_id") (param i64) unreachable))')
  const err = t.throws(() => engine.createInstance(module, 1, 0), { instanceOf: RuntimeError })
  t.is(err?.trapCode, 'unreachable_code_reached')
  engine.close()
})

test('createInstance validates its arguments', (t) => {
  const engine = new WasmEngine()
  const module = engine.compile(FREENET_GUEST)
  t.throws(() => engine.createInstance(module, 1.5, 0), { instanceOf: TypeError })
  t.throws(() => engine.createInstance(module, 2 ** 60, 0), { instanceOf: TypeError })
  t.throws(() => engine.createInstance(module, 2n ** 63n, 0), { instanceOf: TypeError })
  t.throws(() => engine.createInstance(module, '1' as unknown as number, 0), { instanceOf: TypeError })
  t.throws(() => engine.createInstance(module, 1, -1), { instanceOf: TypeError })
  t.throws(() => engine.createInstance(module, 1, Number.NaN), { instanceOf: TypeError })
  t.notThrows(() => engine.createInstance(module, -(2n ** 63n), 0))
  engine.close()
})

test('dropped and foreign handles are refused with InvalidHandleError', (t) => {
  const a = new WasmEngine()
  const b = new WasmEngine()
  const handle = a.createInstance(a.compile(FREENET_GUEST), 1, 0)
  t.throws(() => b.call3i64(handle, 'add3', 1n, 2n, 3n), { instanceOf: InvalidHandleError })
  t.throws(() => b.dropInstance(handle), { instanceOf: InvalidHandleError })
  t.is(a.call3i64(handle, 'add3', 1n, 2n, 3n), 6n)
  a.dropInstance(handle)
  for (const op of [
    () => a.call3i64(handle, 'add3', 1n, 2n, 3n),
    () => a.callVoid(handle, 'noop'),
    () => a.memoryInfo(handle),
    () => a.readMemory(handle, 0, 1),
    () => a.writeMemory(handle, 0, new Uint8Array(1)),
    () => a.initiateBuffer(handle, 16),
    () => a.dropInstance(handle),
  ]) {
    const err = t.throws(op, { instanceOf: InvalidHandleError })
    t.regex(err?.message ?? '', /instance 1 was dropped/)
  }
  t.throws(() => a.call3i64({ id: 1n } as unknown as InstanceHandle, 'add3', 1n, 2n, 3n), { instanceOf: TypeError })
  t.throws(() => new (InstanceHandle as unknown as new () => unknown)())
  a.close()
  b.close()
})

test('10,001 create/drop cycles on one engine succeed', (t) => {
  const engine = new WasmEngine()
  const module = engine.compile(FREENET_GUEST)
  for (let i = 0; i < 10_001; i++) {
    const handle = engine.createInstance(module, i, 0)
    engine.dropInstance(handle)
  }
  const last = engine.createInstance(module, 10_001, 0)
  t.is(engine.call3i64(last, 'get_id', 0n, 0n, 0n), 10_001n)
  engine.close()
})

test('a full instance pool is an InstantiationError naming instancePoolSize, until an instance is dropped', (t) => {
  // A pool size no other test uses: engines with equal settings share a pool.
  const engine = new WasmEngine({ instancePoolSize: 7 })
  t.teardown(() => engine.close())
  const module = engine.compile(FREENET_GUEST)
  const live = Array.from({ length: 7 }, (_, i) => engine.createInstance(module, i, 0))
  const err = t.throws(() => engine.createInstance(module, 7, 0), { instanceOf: InstantiationError })
  t.regex(err.message, /instance pool is full.*instancePoolSize/)
  t.is(err.instanceId, 7n)
  engine.dropInstance(live[0])
  t.is(engine.call3i64(engine.createInstance(module, 8, 0), 'get_id', 0n, 0n, 0n), 8n)
})

test('instancePoolSize 0 maps instances on demand, with no count limit', (t) => {
  const engine = new WasmEngine({ instancePoolSize: 0 })
  t.teardown(() => engine.close())
  const module = engine.compile(FREENET_GUEST)
  const live = Array.from({ length: 1100 }, (_, i) => engine.createInstance(module, i, 0))
  t.is(engine.stats().instances, 1100)
  t.is(engine.call3i64(live[1099], 'get_id', 0n, 0n, 0n), 1099n)
})

test('instancePoolSize outside [0, 10000] is refused', (t) => {
  for (const instancePoolSize of [-1, 1.5, 10_001]) {
    t.throws(() => new WasmEngine({ instancePoolSize }), { message: /instancePoolSize must be an integer in \[0, 10000\]/ })
  }
})

// `ulimit -v` caps the address space a process may reserve; there is no
// such cap to set from Node on macOS or Windows.
const withUlimit = process.platform === 'linux' ? test : test.skip
withUlimit('a process that cannot reserve a pool maps on demand by default, and a chosen size fails naming instancePoolSize', (t) => {
  const script = `
    const { WasmEngine } = require(${JSON.stringify(join(__dirname, '..', 'index.js'))})
    const fallback = new WasmEngine()
    const module = fallback.compile('(module (memory 1))')
    for (let i = 0; i < 3; i++) fallback.createInstance(module, i, 0)
    console.log('default: ' + JSON.stringify(fallback.stats()))
    try { new WasmEngine({ instancePoolSize: 1000 }); console.log('created') } catch (err) { console.log(err.code + ': ' + err.message) }`
  // 64 GiB: room for Node, not for a pool's 4 TiB.
  const child = spawnSync('bash', ['-c', 'ulimit -v 67108864 && exec "$0" -e "$1"', process.execPath, script], { encoding: 'utf8' })
  t.is(child.status, 0, child.stderr)
  t.regex(child.stdout, /^default: .*"instances":3.*"poolSlots":0/m)
  t.regex(child.stdout, /^OTHER: cannot reserve \d+ GiB of address space for an instance pool of 1000 slots.*instancePoolSize/m)
})

test.serial('a handle the garbage collector finalizes frees its pool slot for every engine sharing the pool', async (t) => {
  // A pool size no other test uses; both engines share its 5 slots.
  const holder = new WasmEngine({ instancePoolSize: 5 })
  const other = new WasmEngine({ instancePoolSize: 5 })
  t.teardown(() => {
    holder.close()
    other.close()
  })
  const module = holder.compile(FREENET_GUEST)
  ;(() => {
    for (let i = 0; i < 5; i++) holder.createInstance(module, i, 0)
  })()
  const otherModule = other.compile(FREENET_GUEST)
  t.throws(() => other.createInstance(otherModule, 99, 0), { instanceOf: InstantiationError })
  // The holder is idle and never called again: only its handles' finalizers can free the slots.
  const live = []
  for (let round = 0; round < 100 && live.length < 5; round++) {
    globalThis.gc?.()
    await new Promise((resolve) => setTimeout(resolve, 10))
    try {
      while (live.length < 5) live.push(other.createInstance(otherModule, 100 + live.length, 0))
    } catch (err) {
      t.true(err instanceof InstantiationError)
    }
  }
  t.is(live.length, 5)
  t.is(other.call3i64(live[4], 'get_id', 0n, 0n, 0n), 104n)
})

test('a __frnt_set_id or __frnt__initiate_buffer that never returns is stopped by the deadline', (t) => {
  const engine = new WasmEngine({ maxExecutionSeconds: 0.1 })
  const loopingSetId = engine.compile('(module (func (export "__frnt_set_id") (param i64) (loop $l (br $l))))')
  t.throws(() => engine.createInstance(loopingSetId, 1, 0), { instanceOf: TimeoutError, message: /__frnt_set_id/ })
  const loopingBuffer = engine.compile(
    '(module (memory (export "memory") 1) (func (export "__frnt__initiate_buffer") (param i32) (result i64) (loop $l (br $l)) (i64.const 0)))',
  )
  const handle = engine.createInstance(loopingBuffer, 2, 0)
  t.throws(() => engine.initiateBuffer(handle, 8), { instanceOf: TimeoutError, message: /__frnt__initiate_buffer/ })
  t.true(engine.isHealthy())
  engine.close()
})
