/**
 * A real interpreter shipped as a WASI binary on a registry: QuickJS-NG as
 * packaged by `quickjs-wasi` on npm (a WASI reactor exporting its C API),
 * run through `createInstance` with a WASI context, as its own package runs
 * it, but under the engine's deadline, page cap and fuel.
 */
import { readFileSync } from 'node:fs'

import test from 'ava'

import { OutOfGasError, type RuntimeConfig, TimeoutError, WASM_PAGE_SIZE, WasmEngine, type WasmFunction } from '../index'

const QUICKJS = readFileSync(require.resolve('quickjs-wasi/quickjs.wasm'))

/** The host side of the package's `env` imports, answering as its own host does when unused. */
const ENV = {
  host_call: () => 0,
  host_interrupt: () => 0,
  host_promise_rejection: () => undefined,
  host_module_normalize: () => 0,
  host_module_load: () => 0,
  host_get_timezone_offset: () => 0,
}

/** A QuickJS context in an instance of a fresh engine of `config`, and a way to evaluate code in it. */
function quickjs(config: RuntimeConfig = {}) {
  const engine = new WasmEngine({ maxExecutionSeconds: 2, ...config }, { imports: { env: ENV } })
  const handle = engine.createInstance(engine.compile(QUICKJS), 1, 0, { wasi: { deterministic: true } })
  const fn = (name: string) => engine.getFunction(handle, name) as WasmFunction
  if (fn('qjs_init')() !== 0) throw new Error('qjs_init failed')
  const [malloc, free, evaluate, isException, float64] = ['wasm_malloc', 'wasm_free', 'qjs_eval', 'qjs_is_exception', 'qjs_get_float64'].map(fn)
  const cString = (text: string) => {
    const bytes = new TextEncoder().encode(`${text}\0`)
    const at = malloc(bytes.length) as number
    engine.writeMemory(handle, at, bytes)
    return { at, length: bytes.length - 1 }
  }
  /** Evaluates `code`: its number value, or 'exception' when the script threw. */
  const run = (code: string): number | 'exception' => {
    const source = cString(code)
    const name = cString('<test>')
    try {
      const value = evaluate(source.at, source.length, name.at, 0) as number
      return isException(value) !== 0 ? 'exception' : (float64(value) as number)
    } finally {
      free(source.at)
      free(name.at)
    }
  }
  return { engine, handle, run }
}

test('QuickJS from npm evaluates JavaScript inside the engine', (t) => {
  const { engine, run } = quickjs()
  t.teardown(() => engine.close())
  t.is(run('[1, 2, 3].map((x) => x * x).reduce((a, b) => a + b)'), 14)
  t.is(run('JSON.parse(\'{"a": [40, 2]}\').a.reduce((a, b) => a + b)'), 42)
  t.is(run('let fib = (n) => n < 2 ? n : fib(n - 1) + fib(n - 2); fib(20)'), 6765)
  t.is(run('throw new Error("from the guest")'), 'exception')
  // The context lives on between evaluations.
  t.is(run('fib(10)'), 55)
})

test('an endless script in QuickJS is stopped by the deadline', (t) => {
  const { engine, run } = quickjs({ maxExecutionSeconds: 0.2 })
  t.teardown(() => engine.close())
  const started = Date.now()
  t.throws(() => run('for (;;) {}'), { instanceOf: TimeoutError })
  t.true(Date.now() - started < 5000)
})

test('QuickJS under fuel runs out of gas on a long loop', (t) => {
  const { engine, run } = quickjs({ enableMetering: true, cpuCyclesPerSecond: 1e8, maxExecutionSeconds: 1 })
  t.teardown(() => engine.close())
  t.throws(() => run('let n = 0; for (let i = 0; i < 1e10; i++) n += i; n'), { instanceOf: OutOfGasError })
})

test('the page cap bounds what a script can allocate: QuickJS reports out of memory', (t) => {
  const pages = 256
  const { engine, handle, run } = quickjs({ maxMemoryPages: pages })
  t.teardown(() => engine.close())
  t.is(run('const kept = []; for (;;) kept.push(new Array(100000).fill(1.5))'), 'exception')
  t.true(engine.memoryInfo(handle).size <= pages * WASM_PAGE_SIZE)
  // The interpreter still works once the script has let go.
  t.is(run('1 + 1'), 2)
})
