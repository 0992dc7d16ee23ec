/**
 * Load with nothing lost: many engines, each running thousands of blocking
 * calls, of which a share is aborted, a share runs into its deadline (most
 * while awaiting a slow host, some spinning in the guest), a share awaits
 * async imports, and some engines are closed mid-flight.
 * Every promise must settle exactly once, with the outcome its call
 * deserved; the engines' counters must agree with what JavaScript saw; and
 * threads and RSS must come back to where they started.
 */
import {
  AbortedError,
  EngineClosedError,
  type InstanceHandle,
  SchedulerOverloadedError,
  TimeoutError,
  WasmEngine,
} from '../index'
import { collectGarbage } from '../__test__/helpers/process'
import { rng } from './seeded'

/** The guest: an instant call, an endless one, and ones that await the host. */
const GUEST = `(module
  (import "env" "later" (func $later (param i64) (result i64)))
  (import "env" "slow" (func $slow (param i64) (result i64)))
  (func (export "add3") (param i64 i64 i64) (result i64) (i64.add (i64.add (local.get 0) (local.get 1)) (local.get 2)))
  (func (export "forever") (param i64 i64 i64) (result i64) (loop $l (br $l)) (i64.const 0))
  (func (export "awaits") (param i64 i64 i64) (result i64) (i64.add (call $later (local.get 0)) (local.get 1)))
  (func (export "stalls") (param i64 i64 i64) (result i64) (call $slow (local.get 0))))`

/**
 * The deadline of every engine: ten epoch ticks (5 ms each), far above
 * what an instant call takes even on a busy machine.
 */
const DEADLINE_SECONDS = 0.05

/** A call to the slow host answers after twice the deadline. */
const SLOW_HOST_MS = 2 * DEADLINE_SECONDS * 1000

type Kind = 'value' | 'aborted' | 'deadline' | 'spin' | 'async'

/** The errors a blocking call may deserve; anything else is named as unexpected. */
const EXPECTED_ERRORS = [AbortedError, TimeoutError, EngineClosedError, SchedulerOverloadedError]

/** What a call ended with: `value`, `wrong value`, an expected error's class name, or `unexpected ...`. */
type Outcome = string

/** How long no call may settle before the run counts the rest as never settled. */
const STALL_MS = 60_000

export interface LoadOptions {
  engines: number
  callsPerEngine: number
  /** Calls each engine keeps in flight at once. */
  window: number
  seed: number
  /** Returns live threads of the process, when they can be counted. */
  threads: () => number | undefined
  /** Returns the process's RSS in MiB, when it is to be bounded. */
  rss: () => number | undefined
}

export interface LoadReport {
  calls: number
  settledOnce: number
  byOutcome: Record<string, number>
  /** Calls whose outcome was not one they deserved, with why (the first few). */
  undeserved: string[]
  settledTwice: number
  neverSettled: number
  closedEngines: number
  elapsedMs: number
  threads: [before: number | undefined, after: number | undefined]
  rssMiB: [before: number | undefined, after: number | undefined]
}

/** Runs the load; never throws for a wrong outcome, which the report lists instead. */
export async function loadTest(options: LoadOptions): Promise<LoadReport> {
  const random = rng(options.seed)
  // Threads that live as long as the process (the epoch ticker, the
  // runtime the deliverer wakes) start with the first engine and call.
  const warm = new WasmEngine({ compileCache: false })
  await warm.call3i64Blocking(warm.createInstance(warm.compile('(module (func (export "f") (param i64 i64 i64) (result i64) (local.get 0)))'), 0, 0), 'f', 0n, 0n, 0n)
  warm.close()
  await collectGarbage()
  const baseline = { threads: options.threads(), rss: options.rss() }
  const started = performance.now()
  const byOutcome: Record<string, number> = {}
  const undeserved: string[] = []
  let settledOnce = 0
  let settledTwice = 0
  let issued = 0
  // Every eighth engine is closed when it is part way through its calls.
  const closeAt = (engine: number) => (engine % 8 === 7 ? Math.floor(options.callsPerEngine * (0.2 + 0.6 * random())) : -1)

  const runEngine = async (index: number) => {
    const engine = new WasmEngine(
      { maxExecutionSeconds: DEADLINE_SECONDS, compileCache: false },
      {
        asyncImports: {
          env: {
            later: async (_caller, n) => {
              await new Promise((resolve) => setImmediate(resolve))
              return (n as bigint) * 2n
            },
            slow: async (_caller, n) => {
              await new Promise((resolve) => setTimeout(resolve, SLOW_HOST_MS))
              return n as bigint
            },
          },
        },
      },
    )
    const handle: InstanceHandle = engine.createInstance(engine.compile(GUEST), index, 0)
    const closingAt = closeAt(index)
    let closed = false
    let next = 0
    const one = async (call: number) => {
      const draw = random()
      // A tenth each aborted, past the deadline and awaiting the host; of
      // the deadline tenth, one call in twenty spins in the guest (a
      // spinning call takes a whole deadline of CPU), the rest await a host
      // slower than the deadline.
      const kind: Kind =
        draw < 0.1 ? 'aborted' : draw < 0.195 ? 'deadline' : draw < 0.2 ? 'spin' : draw < 0.3 ? 'async' : 'value'
      const a = BigInt(call)
      const submittedAfterClose = closed
      const submitted = performance.now()
      const controller = kind === 'aborted' ? new AbortController() : undefined
      // Half the aborted calls are aborted before they are submitted.
      const abortedFirst = controller !== undefined && random() < 0.5
      if (abortedFirst) controller.abort()
      let settlements = 0
      let outcome: Outcome
      let promise: Promise<bigint>
      try {
        promise =
          kind === 'value'
            ? engine.call3i64Blocking(handle, 'add3', a, 1n, 2n)
            : kind === 'async'
              ? engine.call3i64Blocking(handle, 'awaits', a, 1n, 0n)
              : kind === 'deadline'
                ? engine.call3i64Blocking(handle, 'stalls', a, 0n, 0n)
                : engine.call3i64Blocking(handle, 'forever', a, 0n, 0n, controller ? { signal: controller.signal } : undefined)
        controller?.abort()
      } catch (err) {
        promise = Promise.reject(err)
      }
      const expected = kind === 'value' ? a + 3n : a * 2n + 1n
      try {
        const value = await promise.finally(() => settlements++)
        outcome = value === expected && (kind === 'value' || kind === 'async') ? 'value' : 'wrong value'
      } catch (err) {
        outcome = EXPECTED_ERRORS.find((error) => err instanceof error)?.name ?? `unexpected ${String(err)}`
      }
      const waited = (performance.now() - submitted) / 1000
      // Later settlements of the same promise are impossible in JavaScript;
      // this counts the native side resolving one twice, should it try.
      await new Promise((resolve) => setImmediate(resolve))
      if (settlements === 1) settledOnce++
      else settledTwice++
      byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1
      const natural: Record<Kind, Outcome> = { value: 'value', async: 'value', deadline: 'TimeoutError', spin: 'TimeoutError', aborted: 'AbortedError' }
      // An already-aborted signal is refused before the engine is asked.
      const deserved = new Set<Outcome>(submittedAfterClose && !abortedFirst ? ['EngineClosedError'] : [natural[kind]])
      // A call that waited past its deadline in the queue never starts; one
      // whose thread was descheduled past it times out: both take the time.
      if (!submittedAfterClose && waited >= DEADLINE_SECONDS && kind !== 'aborted') {
        deserved.add('SchedulerOverloadedError').add('TimeoutError')
      }
      // In flight when its engine was closed: stopped, or finished first.
      if (closed) deserved.add('EngineClosedError')
      if (!deserved.has(outcome) && undeserved.length < 20) {
        undeserved.push(`engine ${index} call ${call} (${kind}${submittedAfterClose ? ', after close' : ''}): ${outcome} after ${(waited * 1000).toFixed(1)} ms`)
      }
    }
    const worker = async () => {
      while (next < options.callsPerEngine) {
        const call = next++
        issued++
        if (call === closingAt) {
          engine.close()
          closed = true
        }
        await one(call)
      }
    }
    await Promise.all(Array.from({ length: options.window }, worker))
    if (!closed) {
      const stats = engine.stats()
      if (stats.queued !== 0 || stats.instances !== 1) {
        undeserved.push(`engine ${index}: stats say ${stats.queued} queued and ${stats.instances} instances after every call settled`)
      }
      engine.close()
    }
    return closed
  }

  const all = Promise.all(Array.from({ length: options.engines }, (_, i) => runEngine(i)))
  const stalled = new Promise<'stalled'>((resolve) => {
    let seen = -1
    const watch = setInterval(() => {
      if (settledOnce + settledTwice === seen) {
        clearInterval(watch)
        resolve('stalled')
      }
      seen = settledOnce + settledTwice
    }, STALL_MS)
    void all.finally(() => clearInterval(watch))
  })
  const finished = await Promise.race([all, stalled])
  const closedEngines = finished === 'stalled' ? -1 : finished.filter(Boolean).length
  const elapsedMs = performance.now() - started
  // Idle workers exit after 10 s; give them that and more, then compare.
  let threadsAfter = options.threads()
  for (let i = 0; i < 60 && baseline.threads !== undefined && (threadsAfter ?? 0) > baseline.threads + 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    threadsAfter = options.threads()
  }
  await collectGarbage()
  const calls = options.engines * options.callsPerEngine
  return {
    calls,
    settledOnce,
    byOutcome,
    undeserved,
    settledTwice,
    neverSettled: issued - settledOnce - settledTwice,
    closedEngines,
    elapsedMs,
    threads: [baseline.threads, threadsAfter],
    rssMiB: [baseline.rss, options.rss()],
  }
}
