/** JavaScript host functions imported by guests, sync and async, on every call path. */
import test from 'ava'

import {
  AbortedError,
  type AsyncHostFunction,
  type Caller,
  type HostFunction,
  InstantiationError,
  MemoryError,
  RuntimeError,
  TimeoutError,
  WasmEngine,
} from '../index'
import { runFixture } from './helpers/child'
import { IMPORTING_GUEST, START_CALLS_IMPORT } from './helpers/guests'
import { longestEventLoopGap } from './helpers/timing'

type Imports = Record<string, HostFunction>
type AsyncImports = Record<string, AsyncHostFunction>

const noop: HostFunction = () => undefined

/** An engine with IMPORTING_GUEST instantiated; `env` overrides the default imports. */
function setup(env: Imports = {}, asyncEnv: AsyncImports = {}, config = {}) {
  const imports: Imports = {
    add: (_caller, a, b, c) => BigInt(a as number) + (b as bigint) + BigInt(c as number),
    log: noop,
    pair: () => [-3, 10n],
    floats: (_caller, a, b) => (a as number) * 2 + (b as number),
    grown: noop,
    ...env,
  }
  const asyncImports: AsyncImports = {
    wait: async (_caller, ms) => {
      await new Promise((resolve) => setTimeout(resolve, Number(ms)))
      return (ms as bigint) + 1n
    },
    ...asyncEnv,
  }
  const engine = new WasmEngine(config, { imports: { env: imports }, asyncImports: { env: asyncImports } })
  const handle = engine.createInstance(engine.compile(IMPORTING_GUEST), 77n, 0)
  return { engine, handle }
}

test('sync imports receive typed arguments and return typed results on every call path', async (t) => {
  const { engine, handle } = setup()
  t.is(engine.call3i64(handle, 'add', 1n, 2n, 3n), 6n)
  t.is(await engine.call3i64Blocking(handle, 'add', 1n, 2n ** 40n, 3n), 2n ** 40n + 4n)
  t.is(await engine.call3i64AsyncImports(handle, 'add', -1n, 0n, 0n), -1n)
  t.is(engine.call3i64(handle, 'pair', 0n, 0n, 0n), 7n) // several results as an array
  t.is(await engine.call3i64Blocking(handle, 'floats', 0n, 0n, 0n), 5n) // f32/f64 both ways
  engine.close()
})

test('arguments arrive as numbers for i32/f32/f64 and bigints for i64', (t) => {
  let seen: unknown[] = []
  const { engine, handle } = setup({
    add: (_caller, ...args) => {
      seen = args
      return 0n
    },
  })
  engine.call3i64(handle, 'add', 2n ** 32n + 5n, -(2n ** 63n), 7n)
  t.deepEqual(seen, [5, -(2n ** 63n), 7])
  engine.close()
})

test('callVoid, createInstance and the start function reach imports too', async (t) => {
  const calls: Array<[bigint, number]> = []
  const engine = new WasmEngine(
    {},
    { imports: { env: { started: (caller, n) => void calls.push([caller.instanceId, n as number]) } } },
  )
  const module = engine.compile(START_CALLS_IMPORT)
  engine.createInstance(module, 5n, 0)
  t.deepEqual(calls, [[5n, 7]])
  const logged: string[] = []
  const { engine: other, handle } = setup({
    log: (caller, ptr, len) => void logged.push(Buffer.from(caller.read(ptr as number, len as number)).toString()),
  })
  other.call3i64(handle, 'log', 0n, 0n, 0n)
  await other.call3i64Blocking(handle, 'log', 0n, 0n, 0n)
  t.deepEqual(logged, ['hello', 'hello'])
  engine.close()
  other.close()
})

test('the Caller sees the instance id and live memory, also after memory.grow', async (t) => {
  const seen: Array<{ id: bigint; size: number; last: number }> = []
  const { engine, handle } = setup({
    grown: (caller, last) => {
      const at = last as number
      seen.push({ id: caller.instanceId, size: caller.memorySize, last: caller.read(at, 1)[0] })
      caller.write(at - 1, new Uint8Array([99]))
    },
  })
  t.is(engine.call3i64(handle, 'grow_then_call', 2n, 0n, 0n), 99n)
  t.is(await engine.call3i64Blocking(handle, 'grow_then_call', 3n, 0n, 0n), 99n)
  t.deepEqual(seen, [
    { id: 77n, size: 3 * 65536, last: 42 },
    { id: 77n, size: 6 * 65536, last: 42 },
  ])
  engine.close()
})

test('Caller memory access is bounds-checked', (t) => {
  const errors: unknown[] = []
  const { engine, handle } = setup({
    log: (caller) => {
      for (const access of [
        () => caller.read(caller.memorySize, 1),
        () => caller.read(-1, 1),
        () => caller.read(0, caller.memorySize + 1),
        () => caller.write(caller.memorySize - 1, new Uint8Array(2)),
      ]) {
        try {
          access()
        } catch (err) {
          errors.push(err)
        }
      }
    },
  })
  engine.call3i64(handle, 'log', 0n, 0n, 0n)
  t.is(errors.length, 4)
  t.true(errors.every((err) => err instanceof MemoryError))
  engine.close()
})

test('a Caller is no longer valid once its host function has returned', async (t) => {
  let kept: Caller | undefined
  const { engine, handle } = setup({
    log: (caller) => {
      kept = caller
    },
  })
  engine.call3i64(handle, 'log', 0n, 0n, 0n)
  t.throws(() => kept?.read(0, 1), { instanceOf: MemoryError, message: /no longer|call is over/ })
  t.is(kept?.memorySize, 0)
  engine.close()
})

test('a sync import that throws fails the call with RuntimeError whose cause is the thrown value', async (t) => {
  const thrown = new Error('host exploded')
  const { engine, handle } = setup({
    add: () => {
      throw thrown
    },
    log: () => {
      throw 'a string'
    },
  })
  const sync = t.throws(() => engine.call3i64(handle, 'add', 1n, 2n, 3n), { instanceOf: RuntimeError })
  t.is(sync?.cause, thrown)
  t.is(sync?.trapCode, undefined)
  t.regex(sync?.message ?? '', /env\.add/)
  t.regex(sync?.message ?? '', /host exploded/)
  const blocking = await t.throwsAsync(engine.call3i64Blocking(handle, 'add', 1n, 2n, 3n), { instanceOf: RuntimeError })
  t.is(blocking?.cause, thrown)
  const stringly = t.throws(() => engine.call3i64(handle, 'log', 0n, 0n, 0n), { instanceOf: RuntimeError })
  t.is(stringly?.cause, 'a string')
  t.true(engine.isHealthy())
  t.is(engine.call3i64(handle, 'pair', 0n, 0n, 0n), 7n)
  engine.close()
})

test('an async import that rejects fails the call with RuntimeError whose cause is the reason', async (t) => {
  const reason = new RangeError('no such contract')
  const { engine, handle } = setup({}, { wait: async () => Promise.reject(reason) })
  const err = await t.throwsAsync(engine.call3i64AsyncImports(handle, 'wait', 1n, 0n, 0n), { instanceOf: RuntimeError })
  t.is(err?.cause, reason)
  t.regex(err?.message ?? '', /env\.wait rejected/)
  t.true(engine.isHealthy())
  engine.close()
})

test('wrong result types are clear errors', async (t) => {
  const cases: Array<[Imports, string, RegExp]> = [
    [{ add: () => 5 }, 'add', /number 5 where i64/],
    [{ add: () => 'five' as unknown as bigint }, 'add', /returned "five"/],
    [{ add: () => undefined }, 'add', /0 values, expected i64/],
    [{ pair: () => 3 }, 'pair', /1 values, expected an array of i32/],
    [{ pair: () => [1, 2, 3] }, 'pair', /3 values/],
    [{ floats: () => 2n }, 'floats', /bigint .* where f32/],
    [{ log: () => 1 }, 'log', /1 values, expected nothing/],
    [{ add: () => 2n ** 64n }, 'add', /where i64/],
    [{ add: (async () => 1n) as unknown as HostFunction }, 'add', /returned a promise/],
  ]
  for (const [env, name, message] of cases) {
    const { engine, handle } = setup(env)
    const err = t.throws(() => engine.call3i64(handle, name, 0n, 0n, 0n), { instanceOf: RuntimeError }, String(message))
    t.regex(err?.message ?? '', message)
    t.true(engine.isHealthy())
    engine.close()
  }
})

test('results wrap like WebAssembly: unsigned i32 numbers and u64 bigints', (t) => {
  const { engine, handle } = setup({ add: () => 2n ** 64n - 1n, pair: () => [4_294_967_295, 0n] })
  t.is(engine.call3i64(handle, 'add', 0n, 0n, 0n), -1n)
  t.is(engine.call3i64(handle, 'pair', 0n, 0n, 0n), -1n)
  engine.close()
})

test.serial('async imports suspend the guest, not the event loop', async (t) => {
  const { engine, handle } = setup()
  let result = 0n
  const gap = await longestEventLoopGap(async () => {
    result = await engine.call3i64AsyncImports(handle, 'wait_twice', 150n, 0n, 0n)
  })
  t.is(result, 302n)
  t.true(gap < 100, `longest gap between 5 ms ticks: ${gap.toFixed(1)} ms`)
  engine.close()
})

test.serial('40 guests on 40 engines each awaiting a 100 ms timer finish in well under a second', async (t) => {
  const setups = Array.from({ length: 40 }, () => setup())
  const started = performance.now()
  const results = await Promise.all(setups.map(({ engine, handle }) => engine.call3i64AsyncImports(handle, 'wait', 100n, 0n, 0n)))
  const elapsed = performance.now() - started
  t.deepEqual(results, Array(40).fill(101n))
  // One after another they would take 4 s.
  t.true(elapsed < 900, `took ${elapsed.toFixed(0)} ms`)
  for (const { engine } of setups) engine.close()
})

test('the deadline covers time spent awaiting an import; a late settlement is ignored', async (t) => {
  let settle: ((value: bigint) => void) | undefined
  const { engine, handle } = setup({}, { wait: () => new Promise<bigint>((resolve) => (settle = resolve)) }, { maxExecutionSeconds: 0.2 })
  const started = performance.now()
  const err = await t.throwsAsync(engine.call3i64AsyncImports(handle, 'wait', 1n, 0n, 0n), { instanceOf: TimeoutError })
  const elapsed = performance.now() - started
  t.true(elapsed >= 190 && elapsed < 1500, `timed out after ${elapsed.toFixed(0)} ms`)
  t.regex(err?.message ?? '', /"wait"/)
  settle?.(5n)
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.true(engine.isHealthy())
  t.is(engine.call3i64(handle, 'pair', 0n, 0n, 0n), 7n)
  engine.close()
})

test('an AbortSignal stops a guest that awaits an import', async (t) => {
  const { engine, handle } = setup({}, { wait: () => new Promise<bigint>(() => undefined) }, { maxExecutionSeconds: 30 })
  const controller = new AbortController()
  const call = engine.call3i64AsyncImports(handle, 'wait', 1n, 0n, 0n, { signal: controller.signal })
  setTimeout(() => controller.abort(), 50)
  await t.throwsAsync(call, { instanceOf: AbortedError })
  t.is(engine.call3i64(handle, 'add', 1n, 1n, 1n), 3n)
  engine.close()
})

test('a sync call into a guest that needs an async import fails fast, pointing at call3i64AsyncImports', (t) => {
  const { engine, handle } = setup({}, { wait: () => new Promise<bigint>(() => undefined) })
  const started = performance.now()
  const err = t.throws(() => engine.call3i64(handle, 'wait', 1n, 0n, 0n), { instanceOf: RuntimeError })
  t.regex(err?.message ?? '', /call3i64AsyncImports/)
  t.true(performance.now() - started < 1000)
  t.true(engine.isHealthy())
  engine.close()
})

test('moduleHasAsyncImports is true for modules importing a registered async import', (t) => {
  const { engine } = setup()
  t.true(engine.moduleHasAsyncImports(engine.compile(IMPORTING_GUEST)))
  t.false(engine.moduleHasAsyncImports(engine.compile('(module (import "env" "add" (func (param i32 i64 f64) (result i64))))')))
  engine.close()
})

test('imports that cannot be satisfied are InstantiationErrors naming them', (t) => {
  const { engine } = setup()
  const cases: Array<[string, RegExp]> = [
    ['(module (import "env" "missing" (func)))', /env\.missing/],
    ['(module (import "other" "add" (func)))', /other\.add/],
    ['(module (import "env" "add" (memory 1)))', /env\.add as a memory/],
    ['(module (import "env" "add" (func (param v128))))', /v128/],
  ]
  for (const [wat, message] of cases) {
    t.throws(() => engine.createInstance(engine.compile(wat), 1, 0), { instanceOf: InstantiationError, message })
  }
  engine.close()
})

test('import options are validated', (t) => {
  t.throws(() => new WasmEngine({}, { imports: { env: { f: 5 as unknown as HostFunction } } }), { instanceOf: TypeError, message: /env\.f/ })
  t.throws(() => new WasmEngine({}, { imports: { env: null as unknown as Imports } }), { instanceOf: TypeError })
  t.throws(() => new WasmEngine({}, { imports: { env: { f: noop } }, asyncImports: { env: { f: async () => 1n } } }), {
    instanceOf: TypeError,
    message: /both/,
  })
})

test('host functions that call back into their own engine get EngineBusyError, never a deadlock', async (t) => {
  const result = await runFixture('reentrant.ts', [], 20_000)
  t.false(result.killed, `deadlocked: ${result.stderr}`)
  t.is(result.code, 0, result.stderr)
  t.deepEqual(JSON.parse(result.stdout), {
    'sync call from a sync import on the JavaScript thread': 'EngineBusyError',
    'sync call from a sync import of a blocking call': 'EngineBusyError',
    'blocking call awaited by an async import': 'EngineBusyError',
    'async-imports call awaited by an async import': 'EngineBusyError',
    'memory read of the running engine from an async import': 'EngineBusyError',
    'blocking call on another engine awaited by an async import': 'value 6',
  })
})
