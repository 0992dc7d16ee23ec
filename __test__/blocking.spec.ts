/**
 * Blocking calls: off the JavaScript thread, FIFO per engine, stopped by
 * deadlines and abort signals. Timing tests run serially so that the bounds
 * (loose enough for a loaded 2-core machine) measure this test alone.
 */
import test, { type ExecutionContext } from 'ava'

import {
  AbortedError,
  type Caller,
  EngineBusyError,
  EngineClosedError,
  type InstanceHandle,
  InvalidHandleError,
  OutOfGasError,
  RuntimeError,
  SchedulerOverloadedError,
  TimeoutError,
  WasmEngine,
  WasmError,
} from '../index'
import { FREENET_GUEST, MARKED_SPIN, RECORDER } from './helpers/guests'
import { threadCount, whereCountable } from './helpers/process'
import { calibrateSpin, longestEventLoopGap, timed } from './helpers/timing'

function setup(config = {}) {
  const engine = new WasmEngine(config)
  const handle = engine.createInstance(engine.compile(FREENET_GUEST), 1, 0)
  return { engine, handle }
}

test('blocking calls return what the guest returns', async (t) => {
  const { engine, handle } = setup()
  t.is(await engine.call3i64Blocking(handle, 'add3', 1n, 2n, 3n), 6n)
  t.is(await engine.call3i64Blocking(handle, 'add3', 2n ** 62n, 2n ** 62n, -1n), 2n ** 63n - 1n)
  t.is(await engine.call2i64Blocking(handle, 'div2', 42n, 6n), 7n)
  engine.close()
})

test('blocking calls report errors as WasmErrors, and validate arguments', async (t) => {
  const { engine, handle } = setup()
  const trap = await t.throwsAsync(engine.call2i64Blocking(handle, 'div2', 1n, 0n), { instanceOf: RuntimeError })
  t.is(trap?.trapCode, 'integer_division_by_zero')
  await t.throwsAsync(engine.call3i64Blocking(handle, 'missing', 0n, 0n, 0n), { message: /"missing"/ })
  await t.throwsAsync(engine.call2i64Blocking(handle, 'add3', 0n, 0n), { message: /add3/ })
  await t.throwsAsync(engine.call3i64Blocking(handle, 'add3', 1.5 as unknown as bigint, 0n, 0n), { instanceOf: TypeError })
  await t.throwsAsync(engine.call3i64Blocking({} as typeof handle, 'add3', 0n, 0n, 0n), { instanceOf: TypeError })
  const other = new WasmEngine()
  await t.throwsAsync(other.call3i64Blocking(handle, 'add3', 0n, 0n, 0n), { instanceOf: InvalidHandleError })
  other.close()
  engine.dropInstance(handle)
  await t.throwsAsync(engine.call3i64Blocking(handle, 'add3', 0n, 0n, 0n), { instanceOf: InvalidHandleError })
  engine.close()
})

test('fuel exhaustion on a blocking call is an OutOfGasError', async (t) => {
  const { engine, handle } = setup({ enableMetering: true, maxExecutionSeconds: 1, cpuCyclesPerSecond: 1_000_000 })
  await t.throwsAsync(engine.call3i64Blocking(handle, 'spin', 10n ** 9n, 0n, 0n), { instanceOf: OutOfGasError })
  t.is(engine.remainingFuel(), 0n)
  engine.close()
})

test.serial('the event loop keeps ticking while a guest computes for a second', async (t) => {
  const { engine, handle } = setup()
  const n = calibrateSpin(engine, handle, 1000)
  let result = 0n
  const gap = await longestEventLoopGap(async () => {
    result = await engine.call3i64Blocking(handle, 'spin', n, 0n, 0n)
  })
  t.is(result, 42n)
  // Blocking the loop would show a gap of about a second.
  t.true(gap < 150, `longest gap between 5 ms ticks: ${gap.toFixed(1)} ms`)
  engine.close()
})

/** Runs the endless guest until its deadline stops it; returns how long that took, in ms. */
async function stopAtDeadline(t: ExecutionContext, engine: WasmEngine, handle: InstanceHandle): Promise<number> {
  const started = performance.now()
  const err = await t.throwsAsync(engine.call3i64Blocking(handle, 'forever', 0n, 0n, 0n), { instanceOf: TimeoutError })
  t.is(err?.code, 'TIMEOUT')
  return performance.now() - started
}

test.serial('an endless guest is stopped at its deadline and the CPU goes idle', async (t) => {
  const { engine, handle } = setup({ maxExecutionSeconds: 0.2 })
  const other = engine.createInstance(engine.compile(FREENET_GUEST), 2, 0)
  await engine.call3i64Blocking(handle, 'add3', 0n, 0n, 0n) // warm the thread pool
  for (let i = 0; i < 3; i++) {
    const elapsed = await stopAtDeadline(t, engine, handle)
    t.true(elapsed >= 190 && elapsed < 1000, `timed out after ${elapsed.toFixed(0)} ms`)
  }
  // A guest left running would burn a core: about 300 ms of CPU in 300 ms.
  const cpuBefore = process.cpuUsage()
  await new Promise((resolve) => setTimeout(resolve, 300))
  const cpu = process.cpuUsage(cpuBefore)
  const cpuMs = (cpu.user + cpu.system) / 1000
  t.true(cpuMs < 150, `CPU used in the 300 ms after the timeouts: ${cpuMs} ms`)
  t.true(engine.isHealthy())
  t.is(await engine.call3i64Blocking(other, 'add3', 1n, 2n, 3n), 6n)
  t.is(engine.call3i64(handle, 'add3', 1n, 1n, 1n), 3n)
  engine.close()
})

// Apart from the test above, so that where threads cannot be counted only this part is skipped.
whereCountable(test.serial)('guests stopped at their deadlines leave no threads behind', async (t) => {
  const { engine, handle } = setup({ maxExecutionSeconds: 0.2 })
  await engine.call3i64Blocking(handle, 'add3', 0n, 0n, 0n) // warm the thread pool
  const before = threadCount()
  for (let i = 0; i < 3; i++) await stopAtDeadline(t, engine, handle)
  t.true(threadCount() <= before + 1, `threads: ${before} -> ${threadCount()}`)
  engine.close()
})

test.serial('a blocking guest that uses a third of its budget never times out early', async (t) => {
  const { engine, handle } = setup({ maxExecutionSeconds: 0.9 })
  const n = calibrateSpin(engine, handle, 300)
  for (let i = 0; i < 6; i++) {
    t.is(await engine.call3i64Blocking(handle, 'spin', n, 0n, 0n), 42n)
  }
  engine.close()
})

test.serial('an AbortSignal stops a running guest with AbortedError', async (t) => {
  const { engine, handle } = setup({ maxExecutionSeconds: 30 })
  const controller = new AbortController()
  const call = engine.call3i64Blocking(handle, 'forever', 0n, 0n, 0n, { signal: controller.signal })
  const abortedAt = await new Promise<number>((resolve) =>
    setTimeout(() => {
      controller.abort()
      resolve(performance.now())
    }, 100),
  )
  const err = await t.throwsAsync(call, { instanceOf: AbortedError })
  const latency = performance.now() - abortedAt
  t.true(err instanceof WasmError)
  t.is(err?.code, 'ABORTED')
  t.true(latency < 1000, `stopped ${latency.toFixed(0)} ms after abort()`)
  t.true(engine.isHealthy())
  t.is(await engine.call3i64Blocking(handle, 'add3', 1n, 2n, 3n), 6n)
  engine.close()
})

test('an already-aborted signal never starts the guest', async (t) => {
  const engine = new WasmEngine()
  const handle = engine.createInstance(engine.compile(RECORDER), 1, 0)
  const controller = new AbortController()
  controller.abort(new Error('no longer needed'))
  const err = await t.throwsAsync(engine.call2i64Blocking(handle, 'record', 7n, 0n, { signal: controller.signal }), {
    instanceOf: AbortedError,
  })
  t.is((err?.cause as Error).message, 'no longer needed')
  // Had it run, the list would hold one entry and this call would return 2.
  t.is(await engine.call2i64Blocking(handle, 'record', 8n, 0n), 1n)
  engine.close()
})

test('a queued call whose signal fires before it starts never runs', async (t) => {
  const engine = new WasmEngine({ maxExecutionSeconds: 0.3 })
  const guest = engine.createInstance(engine.compile(FREENET_GUEST), 1, 0)
  const recorder = engine.createInstance(engine.compile(RECORDER), 2, 0)
  const controller = new AbortController()
  const first = engine.call3i64Blocking(guest, 'forever', 0n, 0n, 0n)
  const queued = engine.call2i64Blocking(recorder, 'record', 1n, 0n, { signal: controller.signal })
  controller.abort()
  await t.throwsAsync(first, { instanceOf: TimeoutError })
  await t.throwsAsync(queued, { instanceOf: AbortedError, message: /before it started/ })
  t.is(await engine.call2i64Blocking(recorder, 'record', 2n, 0n), 1n)
  engine.close()
})

test('calls on one engine run one at a time in FIFO order', async (t) => {
  const engine = new WasmEngine()
  const handles = [1, 2].map((id) => engine.createInstance(engine.compile(RECORDER), id, 0))
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => engine.call2i64Blocking(handles[0], 'record', BigInt(i), 0n)),
  )
  t.deepEqual(results, Array.from({ length: 200 }, (_, i) => BigInt(i + 1)))
  const list = Buffer.from(engine.readMemory(handles[0], 0, 200 * 8))
  t.deepEqual(
    Array.from({ length: 200 }, (_, i) => list.readBigInt64LE(i * 8)),
    Array.from({ length: 200 }, (_, i) => BigInt(i)),
  )
  engine.close()
})

test('a sync call while a blocking call holds the engine fails at once with EngineBusyError', async (t) => {
  const { engine, handle } = setup({ maxExecutionSeconds: 0.3 })
  const running = engine.call3i64Blocking(handle, 'forever', 0n, 0n, 0n)
  await new Promise((resolve) => setTimeout(resolve, 20))
  const started = performance.now()
  const err = t.throws(() => engine.call3i64(handle, 'add3', 1n, 2n, 3n), { instanceOf: EngineBusyError })
  t.is(err?.code, 'ENGINE_BUSY')
  t.true(performance.now() - started < 50)
  t.throws(() => engine.readMemory(handle, 0, 4), { instanceOf: EngineBusyError })
  await t.throwsAsync(running, { instanceOf: TimeoutError })
  t.is(engine.call3i64(handle, 'add3', 1n, 2n, 3n), 6n)
  engine.close()
})

test('a call queued past its deadline fails with SchedulerOverloadedError without running', async (t) => {
  const engine = new WasmEngine({ maxExecutionSeconds: 0.2 })
  const guest = engine.createInstance(engine.compile(FREENET_GUEST), 1, 0)
  const recorder = engine.createInstance(engine.compile(RECORDER), 2, 0)
  const first = engine.call3i64Blocking(guest, 'forever', 0n, 0n, 0n)
  const second = engine.call3i64Blocking(guest, 'forever', 0n, 0n, 0n)
  const third = engine.call2i64Blocking(recorder, 'record', 1n, 0n)
  await t.throwsAsync(first, { instanceOf: TimeoutError })
  await second.catch(() => undefined)
  const err = await t.throwsAsync(third, { instanceOf: SchedulerOverloadedError })
  t.is(err?.code, 'SCHEDULER_OVERLOADED')
  t.false(err instanceof TimeoutError)
  t.regex(err?.message ?? '', /queue/)
  t.is(await engine.call2i64Blocking(recorder, 'record', 2n, 0n), 1n)
  engine.close()
})

test('close() stops the running call and fails the queued ones', async (t) => {
  const { engine, handle } = setup({ maxExecutionSeconds: 30 })
  const running = engine.call3i64Blocking(handle, 'forever', 0n, 0n, 0n)
  const queued = engine.call3i64Blocking(handle, 'add3', 0n, 0n, 0n)
  await new Promise((resolve) => setTimeout(resolve, 50))
  const closedAt = performance.now()
  engine.close()
  await t.throwsAsync(running, { instanceOf: EngineClosedError })
  await t.throwsAsync(queued, { instanceOf: EngineClosedError })
  t.true(performance.now() - closedAt < 1000)
  await t.throwsAsync(engine.call3i64Blocking(handle, 'add3', 0n, 0n, 0n), { instanceOf: EngineClosedError })
})

test('engines sharing a backend share modules; others refuse them', async (t) => {
  const first = new WasmEngine()
  const second = new WasmEngine({}, { backend: first })
  const module = first.compile(FREENET_GUEST)
  const handle = second.createInstance(module, 5, 0)
  t.is(await second.call3i64Blocking(handle, 'add3', 1n, 2n, 3n), 6n)
  t.is(second.stats().compiles, 1)
  second.compile(FREENET_GUEST)
  t.is(first.stats().memoryCacheHits, 1)
  // Handles stay per engine.
  t.throws(() => first.call3i64(handle, 'add3', 1n, 2n, 3n), { instanceOf: InvalidHandleError })
  const stranger = new WasmEngine()
  t.throws(() => stranger.createInstance(module, 6, 0), { instanceOf: InvalidHandleError })
  t.throws(() => new WasmEngine({ enableMetering: true }, { backend: first }), { message: /metering/ })
  t.throws(() => new WasmEngine({}, { backend: {} as WasmEngine }), { instanceOf: TypeError })
  for (const engine of [first, second, stranger]) engine.close()
})

test.serial('two CPU-bound calls on two engines run at the same time, on two cores', async (t) => {
  const marks: Array<{ id: bigint; at: number }> = []
  const imports = { env: { mark: (caller: Caller) => void marks.push({ id: caller.instanceId, at: performance.now() }) } }
  const first = new WasmEngine({}, { imports })
  const second = new WasmEngine({}, { backend: first, imports })
  const module = first.compile(MARKED_SPIN)
  const a = first.createInstance(module, 1, 0)
  const b = second.createInstance(module, 2, 0)
  const n = calibrateSpin(first, a, 250)
  // Wall-clock ratios are useless on this virtual machine (a lone thread
  // runs up to twice as fast as two), so measure what parallelism means:
  // while both calls run, the process uses about two cores' worth of CPU.
  // Serialised calls would use one. Best of three rounds.
  let coresBusy = 0
  let marked: typeof marks = []
  for (let round = 0; round < 3; round++) {
    marks.length = 0
    const cpuBefore = process.cpuUsage()
    const wall = await timed(() =>
      Promise.all([first.call3i64Blocking(a, 'spin', n, 0n, 0n), second.call3i64Blocking(b, 'spin', n, 0n, 0n)]),
    )
    const cpu = process.cpuUsage(cpuBefore)
    coresBusy = Math.max(coresBusy, (cpu.user + cpu.system) / 1000 / wall)
    marked = [...marks]
  }
  // Each guest marked its start and its end: run one after the other, the
  // intervals could not overlap, however loaded the machine.
  const span = (id: bigint) => marked.filter((mark) => mark.id === id).map((mark) => mark.at)
  const [[startA, endA], [startB, endB]] = [span(1n), span(2n)]
  t.true(startA < endB && startB < endA, `intervals: [${startA}, ${endA}] and [${startB}, ${endB}]`)
  t.true(coresBusy > 1.5, `cores busy while both ran: ${coresBusy.toFixed(2)}`)
  first.close()
  second.close()
})
