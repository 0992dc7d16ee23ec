import test from 'ava'

import { ExportError, MemoryError, WASM_PAGE_SIZE, WasmEngine } from '../index'
import { FREENET_GUEST, NO_MEMORY } from './helpers/guests'

function setup() {
  const engine = new WasmEngine()
  const handle = engine.createInstance(engine.compile(FREENET_GUEST), 1, 0)
  return { engine, handle }
}

test('writeMemory and readMemory round-trip bytes', (t) => {
  const { engine, handle } = setup()
  const data = new Uint8Array([1, 2, 3, 250, 0, 77])
  engine.writeMemory(handle, 100, data)
  t.deepEqual(engine.readMemory(handle, 100, data.length), data)
  t.is(engine.call3i64(handle, 'sum_bytes', 100n, 6n, 0n), 333n)
  t.deepEqual(engine.readMemory(handle, 0, 0), new Uint8Array(0))
  engine.close()
})

test('readMemory sees what the guest wrote', (t) => {
  const { engine, handle } = setup()
  engine.callVoid(handle, 'write_hello')
  t.is(Buffer.from(engine.readMemory(handle, 16, 5)).toString(), 'hello')
  engine.close()
})

test('readMemory returns a copy', (t) => {
  const { engine, handle } = setup()
  const copy = engine.readMemory(handle, 0, 4)
  copy[0] = 99
  t.is(engine.readMemory(handle, 0, 1)[0], 0)
  engine.close()
})

test('memoryInfo and memory access follow memory.grow live', (t) => {
  const { engine, handle } = setup()
  t.is(engine.memoryInfo(handle).size, WASM_PAGE_SIZE)
  const past = WASM_PAGE_SIZE + 10
  t.throws(() => engine.writeMemory(handle, past, new Uint8Array([5])), { instanceOf: MemoryError })
  engine.call3i64(handle, 'grow', 2n, 0n, 0n)
  t.is(engine.memoryInfo(handle).size, 3 * WASM_PAGE_SIZE)
  engine.writeMemory(handle, past, new Uint8Array([5]))
  t.deepEqual(engine.readMemory(handle, past, 1), new Uint8Array([5]))
  engine.close()
})

test('out-of-bounds accesses are MemoryErrors naming offset, length and size', (t) => {
  const { engine, handle } = setup()
  const size = WASM_PAGE_SIZE
  const cases: Array<[number, number]> = [
    [size, 1],
    [size - 1, 2],
    [0, size + 1],
    [-1, 1],
    [0, -1],
    [Number.MAX_SAFE_INTEGER, 1],
    [1, Number.MAX_SAFE_INTEGER],
    [2 ** 32, 1],
  ]
  for (const [offset, length] of cases) {
    const err = t.throws(() => engine.readMemory(handle, offset, length), { instanceOf: MemoryError })
    t.is(err?.code, 'MEMORY')
    t.regex(err?.message ?? '', new RegExp(`${size} bytes`))
  }
  t.throws(() => engine.writeMemory(handle, size - 1, new Uint8Array(2)), { instanceOf: MemoryError })
  t.throws(() => engine.writeMemory(handle, -1, new Uint8Array(1)), { instanceOf: MemoryError })
  t.notThrows(() => engine.readMemory(handle, size, 0))
  t.notThrows(() => engine.writeMemory(handle, size - 2, new Uint8Array(2)))
  engine.close()
})

test('memory arguments of the wrong type are TypeErrors', (t) => {
  const { engine, handle } = setup()
  t.throws(() => engine.readMemory(handle, 1.5, 1), { instanceOf: TypeError })
  t.throws(() => engine.readMemory(handle, 0, Number.POSITIVE_INFINITY), { instanceOf: TypeError })
  t.throws(() => engine.readMemory(handle, '0' as unknown as number, 1), { instanceOf: TypeError })
  t.throws(() => engine.writeMemory(handle, 0, [1, 2] as unknown as Uint8Array), { instanceOf: TypeError })
  t.throws(() => engine.writeMemory(handle, 0, 'ab' as unknown as Uint8Array), { instanceOf: TypeError })
  engine.close()
})

test('an instance without exported memory gives ExportError on memory calls', (t) => {
  const engine = new WasmEngine()
  const handle = engine.createInstance(engine.compile(NO_MEMORY), 1, 0)
  t.throws(() => engine.memoryInfo(handle), { instanceOf: ExportError, message: /memory/ })
  t.throws(() => engine.readMemory(handle, 0, 1), { instanceOf: ExportError })
  t.throws(() => engine.writeMemory(handle, 0, new Uint8Array(1)), { instanceOf: ExportError })
  engine.close()
})

test('initiateBuffer returns a buffer struct the host can fill', (t) => {
  const { engine, handle } = setup()
  const struct = engine.initiateBuffer(handle, 64)
  const view = Buffer.from(engine.readMemory(handle, Number(struct), 32))
  const start = view.readBigInt64LE(0)
  t.is(view.readUInt32LE(8), 64)
  const lastWrite = Number(view.readBigInt64LE(24))
  // Write like Freenet's host: bytes at start + *last_write, then bump the counter.
  engine.writeMemory(handle, Number(start), new Uint8Array([9, 8, 7]))
  const counter = Buffer.alloc(4)
  counter.writeUInt32LE(3)
  engine.writeMemory(handle, lastWrite, counter)
  t.is(engine.call3i64(handle, 'sum_bytes', start, 3n, 0n), 24n)
  t.true(engine.initiateBuffer(handle, 16) > struct)
  engine.close()
})

test('initiateBuffer validates its size and the export', (t) => {
  const { engine, handle } = setup()
  t.throws(() => engine.initiateBuffer(handle, -1), { instanceOf: TypeError })
  t.throws(() => engine.initiateBuffer(handle, 2 ** 32), { instanceOf: TypeError })
  const bare = engine.createInstance(engine.compile(NO_MEMORY), 2, 0)
  t.throws(() => engine.initiateBuffer(bare, 8), { instanceOf: ExportError, message: /__frnt__initiate_buffer/ })
  engine.close()
})
