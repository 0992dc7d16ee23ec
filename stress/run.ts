/**
 * `npm run test:stress`: the reliability suite. Hostile modules, repeated
 * timeouts, instance churn, engines left to the garbage collector and API
 * misuse, each checked for typed errors only and for flat resource use.
 * `--quick` runs a bounded version (for CI); `--no-rss` leaves RSS
 * unbounded, for runs under a sanitizer whose quarantine keeps freed
 * memory. Prints one line per check and a closing `N passed, N failed`
 * line.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

import { WasmEngine, WasmError, watToWasm, WASM_PAGE_SIZE } from '../index'
import * as guests from '../__test__/helpers/guests'
import { collectGarbage, mapCount, threadCount, uncounted } from '../__test__/helpers/process'
import { loadTest } from './load'
import { randomModule } from './random-module'
import { rng } from './seeded'

// Compiles here must not fill the user's on-disk compile cache.
process.env.WASM_ENGINE_CACHE_DIR = 'off'

const quick = process.argv.includes('--quick')
const scale = (n: number) => (quick ? Math.ceil(n / 10) : n)
let passed = 0
let failed = 0

async function check(name: string, run: () => Promise<string> | string): Promise<void> {
  const started = performance.now()
  try {
    const detail = await run()
    passed++
    console.log(`ok   ${name} (${((performance.now() - started) / 1000).toFixed(1)} s): ${detail}`)
  } catch (err) {
    failed++
    console.log(`FAIL ${name}: ${err instanceof Error ? err.stack : String(err)}`)
  }
}

function assert(condition: boolean, message: string): void {
  if (!condition) throw new Error(message)
}

/** RSS in MiB; `undefined` with `--no-rss`, where growth is not bounded. */
function rssMiB(): number | undefined {
  return process.argv.includes('--no-rss') ? undefined : process.memoryUsage().rss / 1048576
}

// Where /proc cannot count memory maps and threads, the checks that watch
// them bound RSS alone and say what they did not count.
const maps = () => (uncounted === undefined ? mapCount() : undefined)
const threads = () => (uncounted === undefined ? threadCount() : undefined)

/** Asserts that each reading grew by less than its limit; describes them all. */
function grewLess(...readings: Array<[what: string, before: number | undefined, after: number | undefined, limit: number]>): string {
  return readings
    .map(([what, before, after, limit]) => {
      if (before === undefined || after === undefined) return `${what} not counted`
      assert(after - before < limit, `${what} grew from ${before.toFixed(0)} to ${after.toFixed(0)}`)
      return `${what} ${before.toFixed(0)} -> ${after.toFixed(0)}`
    })
    .join(', ')
}

/** Compiles, instantiates and runs every export of `bytes` under fuel and a deadline; returns what happened. */
function exercise(engine: WasmEngine, bytes: Uint8Array, id: number): string {
  try {
    const module = engine.compile(bytes)
    const handle = engine.createInstance(module, id, 0)
    for (const name of module.exports) {
      try {
        engine.call(handle, name)
      } catch (err) {
        if (!(err instanceof WasmError) && !(err instanceof TypeError)) throw err
      }
    }
    engine.dropInstance(handle)
    return 'ran'
  } catch (err) {
    if (err instanceof WasmError) return err.code
    throw err
  }
}

async function main(): Promise<void> {
  const seed = Number(process.env.STRESS_SEED ?? 20261126)
  console.log(`stress suite (${quick ? 'quick' : 'full'}), seed ${seed}`)

  await check('hostile modules: bit flips of real modules', () => {
    const random = rng(seed)
    const sources = [
      ...(Object.values(guests) as unknown[]).filter((g): g is string => typeof g === 'string' && g.includes('(module')),
      ...readdirSync(join(__dirname, '..', 'bench', 'guests')).map((f) => readFileSync(join(__dirname, '..', 'bench', 'guests', f), 'utf8')),
    ].map((text) => watToWasm(text))
    const engine = new WasmEngine({ enableMetering: true, maxExecutionSeconds: 0.05, cpuCyclesPerSecond: 1e8, maxMemoryPages: 64 })
    const outcomes = new Map<string, number>()
    const count = scale(6000)
    for (let i = 0; i < count; i++) {
      const bytes = Uint8Array.from(sources[Math.floor(random() * sources.length)])
      for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips--) {
        const at = 8 + Math.floor(random() * (bytes.length - 8))
        bytes[at] ^= 1 << Math.floor(random() * 8)
      }
      const outcome = exercise(engine, bytes, i)
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    }
    assert(engine.isHealthy(), 'the engine became unhealthy')
    engine.close()
    return `${count} modules: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}`
  })

  await check('hostile modules: valid random modules', () => {
    const random = rng(seed + 1)
    const engine = new WasmEngine({ enableMetering: true, maxExecutionSeconds: 0.05, cpuCyclesPerSecond: 1e8, maxMemoryPages: 64 })
    const outcomes = new Map<string, number>()
    const count = scale(4000)
    for (let i = 0; i < count; i++) {
      const outcome = exercise(engine, watToWasm(randomModule(random)), i)
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    }
    assert(!outcomes.has('COMPILE'), 'a generated module did not compile: the generator is broken')
    engine.close()
    return `${count} modules: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}`
  })

  await check('100 consecutive timeouts: threads and RSS stay flat', async () => {
    const engine = new WasmEngine({ maxExecutionSeconds: 0.02 })
    const handle = engine.createInstance(engine.compile(guests.FREENET_GUEST), 1, 0)
    const run = async (times: number) => {
      for (let i = 0; i < times; i++) {
        await engine.call3i64Blocking(handle, 'forever', 0n, 0n, 0n).then(
          () => assert(false, 'an endless guest returned'),
          (err) => assert(err.code === 'TIMEOUT', `expected TIMEOUT, got ${err.code}`),
        )
        try {
          engine.call3i64(handle, 'forever', 0n, 0n, 0n)
        } catch (err) {
          assert((err as WasmError).code === 'TIMEOUT', 'sync timeout')
        }
      }
    }
    await run(10)
    const [threadsBefore, rss] = [threads(), rssMiB()]
    await run(100)
    const [threadsAfter, rssAfter] = [threads(), rssMiB()]
    engine.close()
    return grewLess(['threads', threadsBefore, threadsAfter, 2], ['RSS MiB', rss, rssAfter, 32])
  })

  await check(`64 engines x ${scale(10_000)} blocking calls: aborts, deadlines, async imports, closes; nothing lost`, async () => {
    const report = await loadTest({ engines: 64, callsPerEngine: scale(10_000), window: 1, seed, threads, rss: rssMiB })
    const outcomes = Object.entries(report.byOutcome)
      .sort(([, a], [, b]) => b - a)
      .map(([outcome, n]) => `${outcome} ${n}`)
      .join(', ')
    assert(report.neverSettled === 0, `${report.neverSettled} calls never settled`)
    assert(report.settledTwice === 0, `${report.settledTwice} calls settled twice`)
    assert(report.settledOnce === report.calls, `${report.settledOnce} of ${report.calls} calls settled`)
    assert(report.undeserved.length === 0, `undeserved outcomes:\n  ${report.undeserved.join('\n  ')}`)
    const calls = `${report.calls} calls in ${(report.elapsedMs / 1000).toFixed(1)} s, each settled once (${outcomes}); ${report.closedEngines} engines closed mid-flight`
    return `${calls}; ${grewLess(['threads', ...report.threads, 3], ['RSS MiB', ...report.rssMiB, 64])}`
  })

  // In a process of its own: V8's instances and this engine's stay apart from the other checks'.
  const versusV8 = (args: string[]) => {
    const run = spawnSync(process.execPath, ['--import=tsx', join(__dirname, 'versus-v8.ts'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    const summary = run.stdout.trim().split('\n').at(-1) ?? ''
    assert(run.status === 0, `${run.stdout}\nexit ${run.status}`)
    return summary.replace(/^versus V8: /, '')
  }
  if (quick) {
    const rotating = Math.floor(Date.now() / 1000) % 1_000_000_000
    await check('differential against V8: wasm-smith modules from the fixed seed (60 s)', () => versusV8(['--seed', '1', '--time-box', '60']))
    await check(`differential against V8: from the rotating seed ${rotating} (30 s)`, () => versusV8(['--seed', String(rotating), '--time-box', '30']))
  } else {
    await check('differential against V8: 10,000 wasm-smith modules', () => versusV8(['--seed', '1', '--modules', '10000']))
  }

  await check('50,000 create/call/drop cycles on one engine: maps and RSS bounded', () => {
    const engine = new WasmEngine()
    const module = engine.compile(guests.FREENET_GUEST)
    const cycle = (times: number) => {
      for (let i = 0; i < times; i++) {
        const handle = engine.createInstance(module, i, 2 * WASM_PAGE_SIZE)
        engine.writeMemory(handle, 0, new Uint8Array(4096).fill(i))
        engine.call3i64(handle, 'add3', 1n, 2n, 3n)
        engine.dropInstance(handle)
      }
    }
    cycle(2000)
    const [mapsBefore, rss] = [maps(), rssMiB()]
    let peakMaps = mapsBefore
    const total = scale(50_000)
    for (let done = 0; done < total; done += 1000) {
      cycle(1000)
      if (peakMaps !== undefined) peakMaps = Math.max(peakMaps, mapCount())
    }
    const rssAfter = rssMiB()
    engine.close()
    return `${total} cycles: ${grewLess(['peak maps', mapsBefore, peakMaps, 2000], ['RSS MiB', rss, rssAfter, 128])}`
  })

  await check('2,000 engines and instances left to the garbage collector', async () => {
    await collectGarbage()
    const [mapsBefore, rss] = [maps(), rssMiB()]
    const count = scale(2000)
    for (let i = 0; i < count; i++) {
      const engine = new WasmEngine()
      const handle = engine.createInstance(engine.compile(guests.FREENET_GUEST), i, 4 * WASM_PAGE_SIZE)
      engine.writeMemory(handle, 0, new Uint8Array(65536).fill(1))
      if (i % 100 === 0) await collectGarbage()
    }
    await collectGarbage()
    const [mapsAfter, rssAfter] = [maps(), rssMiB()]
    return `${count} engines: ${grewLess(['maps', mapsBefore, mapsAfter, 500], ['RSS MiB', rss, rssAfter, 256])}`
  })

  await check('misuse: every bad call is a typed error', async () => {
    const engine = new WasmEngine()
    const other = new WasmEngine()
    const module = engine.compile(guests.FREENET_GUEST)
    const handle = engine.createInstance(module, 1, 0)
    const foreign = other.createInstance(other.compile(guests.FREENET_GUEST), 2, 0)
    const dropped = engine.createInstance(module, 3, 0)
    engine.dropInstance(dropped)
    const closed = new WasmEngine()
    const closedHandle = closed.createInstance(closed.compile(guests.FREENET_GUEST), 4, 0)
    closed.close()
    const junk: unknown[] = [undefined, null, 0, -1, 1.5, Number.NaN, 2 ** 53, -(2 ** 60), 2n ** 64n, -1n, '', 'memory', {}, [], Symbol('x'), () => 0, new Uint8Array(3)]
    const calls: Array<(x: unknown) => unknown> = [
      (x) => engine.readMemory(x as never, 0, 1),
      (x) => engine.readMemory(handle, x as number, 1),
      (x) => engine.readMemory(handle, 0, x as number),
      (x) => engine.writeMemory(handle, x as number, new Uint8Array(1)),
      (x) => engine.writeMemory(handle, 0, x as Uint8Array),
      (x) => engine.call3i64(handle, x as string, 0n, 0n, 0n),
      (x) => engine.call3i64(handle, 'add3', x as bigint, 0n, 0n),
      (x) => engine.createInstance(module, x as bigint, 0),
      (x) => engine.createInstance(module, 1, x as number),
      (x) => engine.initiateBuffer(handle, x as number),
      (x) => engine.compile(x as string),
      (x) => engine.call(handle, 'add3', x as bigint, 0n, 0n),
      (x) => new WasmEngine(x as object),
    ]
    let typed = 0
    const attempt = async (fn: () => unknown) => {
      try {
        await fn()
      } catch (err) {
        assert(err instanceof WasmError || err instanceof TypeError, `untyped error: ${String(err)}`)
        typed++
      }
    }
    for (const call of calls) for (const x of junk) await attempt(() => call(x))
    for (const h of [foreign, dropped, closedHandle]) {
      await attempt(() => engine.call3i64(h, 'add3', 0n, 0n, 0n))
      await attempt(() => engine.call3i64Blocking(h, 'add3', 0n, 0n, 0n))
      await attempt(() => engine.readMemory(h, 0, 1))
      await attempt(() => engine.dropInstance(h))
    }
    await attempt(() => closed.call3i64(closedHandle, 'add3', 0n, 0n, 0n))
    await attempt(() => engine.readMemory(handle, 2 ** 52, 2 ** 52))
    assert(engine.isHealthy(), 'misuse made the engine unhealthy')
    assert(engine.call3i64(handle, 'add3', 1n, 2n, 3n) === 6n, 'the engine stopped working')
    engine.close()
    other.close()
    return `${typed} misuses, all typed errors`
  })

  console.log(`\n${passed} passed, ${failed} failed${uncounted === undefined ? '' : `; memory maps and threads not counted: ${uncounted}`}`)
  process.exitCode = failed === 0 ? 0 : 1
}

void main()
