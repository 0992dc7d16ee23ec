/**
 * What `wasm-engine/freenet` bounds so that no caller or guest can grow the
 * host without limit or crash it: a guest's log, the in-memory secret
 * store, caller arrays with a forged length, a clock that returns nonsense.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { watToWasm } from '../index'
import { ContractRuntime } from '../lib/freenet'

const GUESTS = join(__dirname, 'freenet', 'guests', 'build')
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * A contract whose validate_state logs 64 KiB `lines` times, then answers
 * Valid; it takes no input, so every buffer is the same static one.
 */
const floodingContract = (lines: number) =>
  watToWasm(`(module
  (import "freenet_log" "__frnt__logger__info" (func $log (param i64 i64 i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "\\40\\00\\00\\00\\00\\00\\00\\00")
  (data (i32.const 16) "\\28\\00\\00\\00\\00\\00\\00\\00\\2c\\00\\00\\00\\00\\00\\00\\00")
  (data (i32.const 1024) "\\10\\04\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\08\\00\\00\\00")
  (func (export "__frnt__initiate_buffer") (param i32) (result i64) (i32.store (i32.const 8) (local.get 0)) (i64.const 0))
  (func (export "validate_state") (param i64 i64 i64) (result i64) (local $i i32)
    (loop $more
      (call $log (i64.const 0) (i64.const 65536) (i32.const 65536))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const ${lines}))))
    (i64.const 1024)))`)

test("a guest's log is kept up to 1 MiB per operation; a last line counts the lines dropped", async (t) => {
  const lines: string[] = []
  const runtime = new ContractRuntime({}, { log: (message) => lines.push(message) })
  t.teardown(() => runtime.close())
  const contract = runtime.loadContract(floodingContract(100))
  t.deepEqual(await contract.validateState(new Uint8Array(), new Uint8Array()), { type: 'valid' })
  t.is(lines.length, 17)
  t.is(lines.slice(0, 16).reduce((n, line) => n + line.length, 0), 16 * 65536)
  t.is(lines[16], '(84 more lines dropped: an operation keeps at most 1048576 bytes of log)')
  // The cap is per operation: the next one logs again.
  lines.length = 0
  contract.validateStateSync(new Uint8Array(), new Uint8Array())
  t.is(lines.length, 17)
})

test('the in-memory secret store holds at most 64 MiB: past it set_secret gets STORAGE_FAILED, and removing frees room', async (t) => {
  const logs: string[] = []
  const runtime = new ContractRuntime({}, { log: (message) => logs.push(message) })
  t.teardown(() => runtime.close())
  const delegate = runtime.loadDelegate(readFileSync(join(GUESTS, 'delegate.wasm')))
  const value = 'v'.repeat(20 << 20)
  const set = async (key: string) => {
    const [answer] = await delegate.process(encoder.encode('p'), null, [{ type: 'applicationMessage', payload: encoder.encode(`secret-set:${key}=${value}`) }])
    return decoder.decode((answer as { payload: Uint8Array }).payload)
  }
  t.deepEqual([await set('a'), await set('b'), await set('c')], ['0', '0', '0'])
  t.is(await set('d'), '-3')
  t.true(logs.some((line) => line.includes('the in-memory secret store is full')), logs.join('\n'))
  // Replacing a secret counts its new size only once.
  t.is(await set('c'), '0')
  await delegate.process(encoder.encode('p'), null, [{ type: 'applicationMessage', payload: encoder.encode('secret-del:a') }])
  t.is(await set('d'), '0')
})

test('an array with a forged length is refused, not allocated', (t) => {
  const runtime = new ContractRuntime()
  t.teardown(() => runtime.close())
  const contract = runtime.loadContract(readFileSync(join(GUESTS, 'log_contract.wasm')))
  const updates: never[] = []
  updates.length = 2 ** 32 - 1
  t.throws(() => contract.updateStateSync(new Uint8Array(4), new Uint8Array(), updates), {
    instanceOf: TypeError,
    message: /updates\[0\]/,
  })
  const delegate = runtime.loadDelegate(readFileSync(join(GUESTS, 'delegate.wasm')))
  t.throws(() => delegate.processSync(new Uint8Array(), null, updates), { instanceOf: TypeError, message: /messages\[0\]/ })
})

test('a clock that returns no valid time is a TypeError for sync calls and a rejection for async ones', async (t) => {
  const runtime = new ContractRuntime({}, { clock: () => new Date('not a date') })
  t.teardown(() => runtime.close())
  const contract = runtime.loadContract(readFileSync(join(GUESTS, 'log_contract.wasm')))
  const parameters = new Uint8Array([0, 0, 1, 0])
  const message = /host\.clock\(\) must return a valid Date or a number of milliseconds, got Invalid Date/
  t.throws(() => contract.summarizeStateSync(parameters, encoder.encode('time')), { instanceOf: TypeError, message })
  await t.throwsAsync(contract.summarizeState(parameters, encoder.encode('time')), { instanceOf: TypeError, message })
})
