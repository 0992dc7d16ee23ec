/**
 * Work owns what it uses: a queued or running call keeps its instance, its
 * engine and its host functions, whatever the caller drops; no host
 * function runs for a call already declared dead; one engine cannot take a
 * whole shared pool; counters answer while a call holds the engine.
 */
import test from 'ava'

import { InstantiationError, TimeoutError, WasmEngine, type WasmValue } from '../index'

/** `spin(n, a, b)`: loops n times, then returns a + b. */
const SPIN_ADD = `(module
  (func (export "spin") (param $n i64) (param $a i64) (param $b i64) (result i64)
    (block $done (loop $l
      (br_if $done (i64.eqz (local.get $n)))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l)))
    (i64.add (local.get $a) (local.get $b)))
  (func (export "pair") (param i32 f64) (result f64 i32) (local.get 1) (local.get 0))
  (global $g (mut i32) (i32.const 0))
  (func (export "bump") (global.set $g (i32.add (global.get $g) (i32.const 1))))
  (func (export "count") (result i32) (global.get $g)))`

/** `wait(a, b, c)`: returns what the async import `host.wait(a)` answers plus b. */
const AWAITS = `(module
  (import "host" "wait" (func $wait (param i64) (result i64)))
  (func (export "wait") (param i64 i64 i64) (result i64)
    (i64.add (call $wait (local.get 0)) (local.get 1))))`

const gc = () => (globalThis as { gc?: () => void }).gc?.()

test.serial('queued blocking calls keep their instance when the caller drops every handle and the GC runs', async (t) => {
  const engine = new WasmEngine()
  t.teardown(() => engine.close())
  const module = engine.compile(SPIN_ADD)
  for (let round = 0; round < 5; round++) {
    // The handles live only inside this function: once it returns, only the queued work refers to them.
    // (Created first: a synchronous createInstance is refused while a blocking call runs.)
    const calls = (() => {
      const handles = Array.from({ length: 20 }, (_, i) => engine.createInstance(module, i, 0))
      return handles.map((handle, i) => engine.call3i64Blocking(handle, 'spin', 200_000n, BigInt(i), 1n))
    })()
    gc()
    await new Promise((resolve) => setTimeout(resolve, 1))
    gc()
    const results = await Promise.all(calls)
    t.deepEqual(results, Array.from({ length: 20 }, (_, i) => BigInt(i) + 1n))
  }
  // Each instance was released by its call as it settled, and by its handle once collected.
  gc()
  await new Promise((resolve) => setImmediate(resolve))
  t.is(engine.stats().instances, 0)
})

test.serial('a call awaiting an async import keeps its instance and its engine\'s host functions through a GC', async (t) => {
  let engine: WasmEngine | undefined = new WasmEngine(
    {},
    { asyncImports: { host: { wait: async (_caller, ms) => (await new Promise((r) => setTimeout(r, Number(ms))), 100n) } } },
  )
  const module = engine.compile(AWAITS)
  const calls = (() => {
    const handles = Array.from({ length: 20 }, (_, i) => engine!.createInstance(module, i, 0))
    return handles.map((handle, i) => engine!.call3i64AsyncImports(handle, 'wait', 50n, BigInt(i), 0n))
  })()
  // Nothing but the calls refers to the engine or its instances now.
  engine = undefined
  await new Promise((resolve) => setTimeout(resolve, 10))
  gc()
  const results = await Promise.all(calls)
  t.deepEqual(results, Array.from({ length: 20 }, (_, i) => 100n + BigInt(i)))
})

test.serial('a host function never runs for a call already declared dead', async (t) => {
  let ran = 0
  const engine = new WasmEngine(
    { maxExecutionSeconds: 0.1 },
    { imports: { host: { wait: (_caller, n) => (ran++, n) } } },
  )
  t.teardown(() => engine.close())
  const handle = engine.createInstance(engine.compile(AWAITS), 1, 0)
  const call = engine.call3i64Blocking(handle, 'wait', 1n, 2n, 0n)
  // The JavaScript thread is busy past the call's deadline: the worker gives up while the host call waits for it.
  const busyUntil = Date.now() + 400
  while (Date.now() < busyUntil);
  await t.throwsAsync(call, { instanceOf: TimeoutError })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.is(ran, 0, 'the host function ran after its call had failed')
  // The engine still answers host calls for live calls.
  t.is(await engine.call3i64Blocking(handle, 'wait', 1n, 2n, 0n), 3n)
  t.is(ran, 1)
})

test('one engine holds at most nine tenths of a shared pool by default; maxInstances sets its share', (t) => {
  // A pool size no other test uses: engines with equal settings share a pool.
  const greedy = new WasmEngine({ instancePoolSize: 20 })
  const other = new WasmEngine({ instancePoolSize: 20 })
  t.teardown(() => {
    greedy.close()
    other.close()
  })
  const module = greedy.compile(SPIN_ADD)
  const held = Array.from({ length: 18 }, (_, i) => greedy.createInstance(module, i, 0))
  const err = t.throws(() => greedy.createInstance(module, 18, 0), { instanceOf: InstantiationError })
  t.regex(err.message, /maxInstances: 18/)
  t.is(greedy.stats().maxInstances, 18)
  const otherModule = other.compile(SPIN_ADD)
  const theirs = [other.createInstance(otherModule, 100, 0), other.createInstance(otherModule, 101, 0)]
  t.is(other.call3i64(theirs[1], 'spin', 0n, 101n, 0n), 101n)
  greedy.dropInstance(held[0])
  t.is(greedy.call3i64(greedy.createInstance(module, 19, 0), 'spin', 0n, 19n, 0n), 19n)

  const small = new WasmEngine({ instancePoolSize: 21, maxInstances: 2 })
  t.teardown(() => small.close())
  const smallModule = small.compile(SPIN_ADD)
  small.createInstance(smallModule, 1, 0)
  small.createInstance(smallModule, 2, 0)
  t.throws(() => small.createInstance(smallModule, 3, 0), { message: /maxInstances: 2/ })
  t.throws(() => new WasmEngine({ maxInstances: 0 }), { message: /maxInstances must be an integer/ })
})

test.serial('stats() and remainingFuel() answer while a blocking call holds the engine, and count outcomes', async (t) => {
  const engine = new WasmEngine({ enableMetering: true, maxExecutionSeconds: 0.3 })
  t.teardown(() => engine.close())
  const handle = engine.createInstance(engine.compile(SPIN_ADD), 1, 0)
  t.is(await engine.call3i64Blocking(handle, 'spin', 10n, 1n, 2n), 3n)
  const long = engine.call3i64Blocking(handle, 'spin', 1n << 60n, 0n, 0n)
  await new Promise((resolve) => setTimeout(resolve, 50))
  const during = engine.stats()
  t.is(during.instances, 1)
  t.is(typeof engine.remainingFuel(), 'bigint')
  await t.throwsAsync(long)
  const after = engine.stats()
  t.is(after.callsCompleted, 1)
  t.is(after.callsTimedOut + after.callsOutOfFuel, 1)
  t.is(after.callsTrapped, 0)
})

test('callBlocking calls an export of any signature, callVoidBlocking a () -> () one, both on a worker', async (t) => {
  const engine = new WasmEngine()
  t.teardown(() => engine.close())
  const handle = engine.createInstance(engine.compile(SPIN_ADD), 1, 0)
  t.deepEqual(await engine.callBlocking(handle, 'pair', 7, 2.5), [2.5, 7])
  t.is(await engine.callBlocking(handle, 'spin', 0n, 40n, 2n, {}), 42n)
  await engine.callVoidBlocking(handle, 'bump')
  await engine.callVoidBlocking(handle, 'bump', { signal: new AbortController().signal })
  t.is(engine.call(handle, 'count'), 2)
  await t.throwsAsync(engine.callBlocking(handle, 'pair', 'x' as never, 1), { instanceOf: TypeError })
  await t.throwsAsync(engine.callBlocking(handle, 'missing'), { message: /no exported function "missing"/ })
  await t.throwsAsync(engine.callVoidBlocking(handle, 'count'), { message: /has type/ })
})

test.serial('instances and engines left to the collector give their pool slots back at gc(), without an event-loop turn', (t) => {
  // A pool size no other test uses. One backend, so that the module compiles once.
  const config = { instancePoolSize: 250 }
  const first = new WasmEngine(config)
  t.teardown(() => first.close())
  const module = first.compile(SPIN_ADD)
  for (let i = 0; i < 5000; i++) {
    // An engine with one instance, left to the collector; no await anywhere, so no finalizer runs.
    const engine = new WasmEngine(config, { backend: first })
    engine.createInstance(module, i, 0)
    if (i % 100 === 99) gc()
  }
  const last = first.createInstance(module, 5000, 0)
  t.is(first.call3i64(last, 'spin', 0n, 1n, 2n), 3n)
})

test.serial('a mixed load of dropped handles loses nothing: every call gets the outcome it deserves', async (t) => {
  const asyncImports = { host: { wait: async (_caller: unknown, ms: WasmValue) => (await new Promise((r) => setTimeout(r, Number(ms))), 1n) } }
  const deserved = new Set(['value', 'AbortedError', 'TimeoutError', 'EngineClosedError', 'SchedulerOverloadedError'])
  const outcomes = new Map<string, number>()
  const waves: Promise<void>[] = []
  for (let e = 0; e < 32; e++) {
    // On demand: 32 × 150 live instances would not fit a pool.
    // Every eighth engine has a short deadline and starts with a call that never ends.
    const short = e % 8 === 3
    const engine = new WasmEngine({ instancePoolSize: 0, maxExecutionSeconds: short ? 0.05 : 5 }, { asyncImports })
    const spin = engine.compile(SPIN_ADD)
    const awaits = engine.compile(AWAITS)
    const calls = (() => {
      const handles = Array.from({ length: 150 }, (_, i) => engine.createInstance(i % 10 === 2 ? awaits : spin, i, 0))
      return handles.map((handle, i) => {
        if (i % 10 === 0) {
          const controller = new AbortController()
          const call = engine.call3i64Blocking(handle, 'spin', 50_000n, 0n, 0n, { signal: controller.signal })
          controller.abort()
          return call
        }
        if (short && i === 1) return engine.call3i64Blocking(handle, 'spin', 1n << 60n, 0n, 0n)
        if (i % 10 === 2) return engine.call3i64AsyncImports(handle, 'wait', 5n, BigInt(i), 0n)
        return engine.call3i64Blocking(handle, 'spin', 1000n, BigInt(i), 0n)
      })
    })()
    if (e % 8 === 7) setTimeout(() => engine.close(), 20)
    waves.push(
      Promise.allSettled(calls).then((settled) => {
        for (const result of settled) {
          const outcome = result.status === 'fulfilled' ? 'value' : (result.reason as Error).constructor.name
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
        }
      }),
    )
  }
  const collecting = setInterval(gc, 5)
  await Promise.all(waves)
  clearInterval(collecting)
  t.log(JSON.stringify(Object.fromEntries(outcomes)))
  t.is([...outcomes.values()].reduce((a, b) => a + b, 0), 32 * 150)
  for (const outcome of outcomes.keys()) t.true(deserved.has(outcome), `a call settled with ${outcome}`)
  // Most calls ran to their value; each kind of failure happened.
  t.true((outcomes.get('value') ?? 0) > 32 * 150 * 0.5, JSON.stringify(Object.fromEntries(outcomes)))
  for (const outcome of ['AbortedError', 'TimeoutError', 'EngineClosedError']) t.true(outcomes.has(outcome), outcome)
})

test.serial('a queued WASI run, Freenet operation and async compile finish when their engine or runtime is dropped and the GC runs', async (t) => {
  const { readFileSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { ContractRuntime } = await import('../lib/freenet')
  const tool = readFileSync(join(__dirname, 'wasi', 'programs', 'build', 'tool.wasm'))
  const contractCode = readFileSync(join(__dirname, 'freenet', 'guests', 'build', 'log_contract.wasm'))
  const maxLen = new Uint8Array(4)
  new DataView(maxLen.buffer).setUint32(0, 100, true)
  const logs: string[] = []
  const work = (() => {
    // Neither the engine nor the runtime is referenced once this returns,
    // but by the work they queued (and the runtime's log hook only by the runtime).
    const engine = new WasmEngine()
    const program = engine.compile(tool)
    const runs = Array.from({ length: 5 }, (_, i) => engine.runWasi(program, { args: ['tool', 'echo', `run ${i}`] }))
    const compiled = engine.compileAsync(SPIN_ADD)
    const runtime = new ContractRuntime({}, { log: (message) => logs.push(message) })
    const contract = runtime.loadContract(contractCode)
    const verdicts = Array.from({ length: 5 }, (_, i) => contract.validateState(maxLen, new TextEncoder().encode(`log:${i}`)))
    return { runs, compiled, verdicts }
  })()
  gc()
  await new Promise((resolve) => setTimeout(resolve, 1))
  gc()
  const runs = await Promise.all(work.runs)
  t.deepEqual(
    runs.map((run) => new TextDecoder().decode(run.stdout)),
    Array.from({ length: 5 }, (_, i) => `run ${i}\n`),
  )
  t.true((await work.compiled).exports.includes('spin'))
  t.deepEqual(await Promise.all(work.verdicts), Array.from({ length: 5 }, () => ({ type: 'valid' })))
  // The log hook was held while its operations were in flight.
  t.deepEqual(logs, ['0', '1', '2', '3', '4'])
})
