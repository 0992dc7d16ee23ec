// One side of the benchmark, in its own process: `v8` (Node's own
// WebAssembly), `engine` (this package, metering off) or `engine-metered`.
// Prints {"side", "results": {workload: ns per op}} as one JSON line.
import { mkdtempSync, rmSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { largeModule } from '../__test__/helpers/guests.ts'
import {
  DELEGATE_GUEST,
  DELEGATE_MESSAGES,
  DELEGATE_PARAMETERS,
  DELEGATE_ROWS,
  FREENET_INPUTS,
  freenetGuest,
  guest,
  MIX,
  perOp,
  report,
  SIEVE,
  scale,
  smoke,
  WASI_ROWS,
  wasiTool,
} from './measure.mjs'
import { V8Contract, V8Delegate } from './freenet-v8.mjs'

const require = createRequire(import.meta.url)
const { WasmEngine, watToWasm } = require('..')

const side = process.argv[2]
/** Rows of instantiate + `__frnt_set_id` + drop, and their guests. */
const INSTANTIATE_ROWS = [
  ['instantiate + set_id + drop', 'instantiate'],
  ['instantiate + set_id + drop, 1 MiB data', 'instantiate_data'],
]
const wasm = (name) => guest(name, watToWasm)
const results = {}

if (side === 'v8') {
  // node:wasi: a WASI instance per run, as for the engine; output to the null
  // device. First, while this process has created few other instances: after
  // the tens of thousands of the rows below, node:wasi crashed (SIGSEGV).
  const { WASI } = await import('node:wasi')
  const { openSync, closeSync } = await import('node:fs')
  const { devNull } = await import('node:os')
  const sink = openSync(devNull, 'w')
  const tool = new WebAssembly.Module(wasiTool())
  for (const [row, args, runs] of WASI_ROWS) {
    const count = scale(runs) || 1
    results[row] = await perOp(count, () => {
      for (let i = 0; i < count; i++) {
        const wasi = new WASI({ version: 'preview1', args, env: {}, returnOnExit: true, stdout: sink })
        if (wasi.start(new WebAssembly.Instance(tool, wasi.getImportObject())) !== 0) throw new Error(`${row} failed`)
      }
    })
  }
  closeSync(sink)
  const instance = (name, imports = {}) => new WebAssembly.Instance(new WebAssembly.Module(wasm(name)), imports).exports
  const add3 = instance('add3').add3
  const calls = scale(200_000)
  results['call sync'] = await perOp(calls, () => {
    for (let i = 0; i < calls; i++) add3(1n, 2n, 3n)
  })
  const { noop, addf } = instance('calls')
  results['callVoid'] = await perOp(calls, () => {
    for (let i = 0; i < calls; i++) noop()
  })
  results['call, f64 signature'] = await perOp(calls, () => {
    for (let i = 0; i < calls; i++) addf(1.5, 2.5)
  })
  const { mix } = instance('mix')
  results['compute: mix'] = await perOp(1, () => mix(...MIX))
  const { sieve } = instance('sieve')
  results['compute: sieve'] = await perOp(1, () => sieve(...SIEVE))
  const count = scale(10_000)
  for (const [row, name] of INSTANTIATE_ROWS) {
    const module = new WebAssembly.Module(wasm(name))
    results[row] = await perOp(count, () => {
      for (let i = 0; i < count; i++) new WebAssembly.Instance(module).exports.__frnt_set_id(BigInt(i))
    })
  }
  const host = instance('host', { env: { ping: (n) => n, wait: (n) => n } })
  const pings = scale(100_000)
  results['host import sync'] = await perOp(pings, () => host.ping(BigInt(pings), 0n, 0n))
  const big = watToWasm(largeModule(8000, 1))
  results['compile cold (1 MiB+)'] = await perOp(1, () => new WebAssembly.Module(big), 3)
  for (const [row, contract, inputs] of FREENET_INPUTS) {
    const v8 = new V8Contract(contract === 'instant' ? wasm('instant_contract') : freenetGuest(contract))
    const ops = scale(inputs.ops)
    results[row] = await perOp(ops, () => {
      for (let i = 0; i < ops; i++) v8.validateState(inputs.parameters, inputs.state, inputs.related)
    })
  }
  for (const [row, abi, runs] of DELEGATE_ROWS) {
    const v8 = new V8Delegate(freenetGuest(DELEGATE_GUEST), { abi })
    const ops = scale(runs)
    results[row] = await perOp(ops, () => {
      for (let i = 0; i < ops; i++) v8.process(DELEGATE_PARAMETERS, null, DELEGATE_MESSAGES)
    })
  }
} else if (side === 'engine' || side === 'engine-metered') {
  const metered = side === 'engine-metered'
  const config = { enableMetering: metered, maxExecutionSeconds: 60, compileCache: false }
  const engineWith = (name, options) => {
    const engine = new WasmEngine(config, options)
    return { engine, handle: engine.createInstance(engine.compile(wasm(name)), 1n, 0) }
  }
  const { engine, handle } = engineWith('add3')
  const calls = scale(200_000)
  results['call sync'] = await perOp(calls, () => {
    for (let i = 0; i < calls; i++) engine.call3i64(handle, 'add3', 1n, 2n, 3n)
  })
  results['call(), generic'] = await perOp(calls, () => {
    for (let i = 0; i < calls; i++) engine.call(handle, 'add3', 1n, 2n, 3n)
  })
  const add3 = engine.getFunction(handle, 'add3')
  results['getFunction, call'] = await perOp(calls, () => {
    for (let i = 0; i < calls; i++) add3(1n, 2n, 3n)
  })
  const shapes = engineWith('calls')
  results['callVoid'] = await perOp(calls, () => {
    for (let i = 0; i < calls; i++) shapes.engine.callVoid(shapes.handle, 'noop')
  })
  results['call, f64 signature'] = await perOp(calls, () => {
    for (let i = 0; i < calls; i++) shapes.engine.call(shapes.handle, 'addf', 1.5, 2.5)
  })
  const sequential = scale(20_000)
  results['call blocking, sequential'] = await perOp(sequential, async () => {
    for (let i = 0; i < sequential; i++) await engine.call3i64Blocking(handle, 'add3', 1n, 2n, 3n)
  })
  for (const concurrency of [8, 64]) {
    const engines = Array.from({ length: concurrency }, () => engineWith('add3'))
    const each = Math.max(1, Math.floor(scale(64_000) / concurrency))
    const delay = monitorEventLoopDelay({ resolution: 1 })
    delay.enable()
    results[`call blocking, ${concurrency} engines`] = await perOp(each * concurrency, () =>
      Promise.all(
        engines.map(async ({ engine: e, handle: h }) => {
          for (let i = 0; i < each; i++) await e.call3i64Blocking(h, 'add3', 1n, 2n, 3n)
        }),
      ),
    )
    delay.disable()
    // The longest the event loop waited while the calls ran (ns).
    results[`event-loop stall, blocking calls on ${concurrency} engines`] = delay.max
    for (const { engine: e } of engines) e.close()
  }
  const mix = engineWith('mix')
  // The fuel budget (60 s x 3e9) outlasts every run.
  results['compute: mix'] = await perOp(1, () => mix.engine.call3i64(mix.handle, 'mix', ...MIX))
  const sieve = engineWith('sieve')
  results['compute: sieve'] = await perOp(1, () => sieve.engine.call3i64(sieve.handle, 'sieve', ...SIEVE))
  const count = scale(10_000)
  const onDemand = new WasmEngine({ ...config, instancePoolSize: 0 })
  for (const [row, name] of INSTANTIATE_ROWS) {
    for (const [suffix, owner] of [['', engine], [', on demand (instancePoolSize 0)', onDemand]]) {
      const module = owner.compile(wasm(name))
      results[row + suffix] = await perOp(count, () => {
        for (let i = 0; i < count; i++) owner.dropInstance(owner.createInstance(module, BigInt(i), 0))
      })
    }
  }
  onDemand.close()
  const host = engineWith('host', { imports: { env: { ping: (_c, n) => n } }, asyncImports: { env: { wait: async (_c, n) => n } } })
  const pings = scale(100_000)
  results['host import sync'] = await perOp(pings, () => host.engine.call3i64(host.handle, 'ping', BigInt(pings), 0n, 0n))
  // Deferred cost: work a million host calls leave for later shows up as a
  // long event-loop stall (and retained memory) in the second after them.
  // What earlier rows left (the finalizers of 80,000 instance handles) runs
  // first, so that it is not counted here.
  for (let i = 0; i < 5; i++) {
    global.gc?.()
    await new Promise((resolve) => setImmediate(resolve))
  }
  const rssBefore = process.memoryUsage().rss
  host.engine.call3i64(host.handle, 'ping', BigInt(scale(1_000_000)), 0n, 0n)
  const after = monitorEventLoopDelay({ resolution: 1 })
  after.enable()
  await new Promise((resolve) => setTimeout(resolve, smoke ? 50 : 1000))
  after.disable()
  global.gc?.()
  results['event-loop stall in the second after 1M host calls'] = after.max
  results['RSS growth after 1M host calls'] = process.memoryUsage().rss - rssBefore
  const remote = scale(20_000)
  results['host import sync, from a blocking call'] = await perOp(remote, () =>
    host.engine.call3i64Blocking(host.handle, 'ping', BigInt(remote), 0n, 0n),
  )
  results['host import async'] = await perOp(remote, () =>
    host.engine.call3i64AsyncImports(host.handle, 'wait', BigInt(remote), 0n, 0n),
  )
  if (!metered) {
    const big = watToWasm(largeModule(8000, 1))
    results['compile cold (1 MiB+)'] = await perOp(1, () => new WasmEngine({ ...config, moduleCacheCapacity: 0 }).compile(big), 3)
    const cached = new WasmEngine(config)
    cached.compile(big)
    results['compile, memory cache hit'] = await perOp(1, () => cached.compile(big))
    const dir = mkdtempSync(join(tmpdir(), 'wasm-engine-bench-'))
    new WasmEngine({ ...config, compileCache: true, compileCacheDir: dir }).compile(big)
    results['compile, disk cache hit'] = await perOp(1, () => new WasmEngine({ ...config, compileCache: true, compileCacheDir: dir }).compile(big), 3)
    rmSync(dir, { recursive: true, force: true })
    const tool = engine.compile(wasiTool())
    for (const [row, args, runs] of WASI_ROWS) {
      const count = scale(runs) || 1
      results[row] = await perOp(count, () => {
        for (let i = 0; i < count; i++) {
          if (engine.runWasiSync(tool, { args }).exitCode !== 0) throw new Error(`${row} failed`)
        }
      })
    }
    const { ContractRuntime } = require('../lib/freenet')
    const runtime = new ContractRuntime(config)
    for (const [row, contract, inputs] of FREENET_INPUTS) {
      const loaded = runtime.loadContract(contract === 'instant' ? wasm('instant_contract') : freenetGuest(contract))
      // The engine decodes the related contracts' bincode itself: it gets them as objects.
      const ops = scale(inputs.ops)
      results[row] = await perOp(ops, () => {
        for (let i = 0; i < ops; i++) loaded.validateStateSync(inputs.parameters, inputs.state, [])
      })
      results[`${row}, async`] = await perOp(ops, async () => {
        for (let i = 0; i < ops; i++) await loaded.validateState(inputs.parameters, inputs.state, [])
      })
    }
    runtime.close()
    for (const [row, abi, runs] of DELEGATE_ROWS) {
      const profile = new ContractRuntime({ ...config, abi })
      const delegate = profile.loadDelegate(freenetGuest(DELEGATE_GUEST))
      const ops = scale(runs)
      results[row] = await perOp(ops, () => {
        for (let i = 0; i < ops; i++) delegate.processSync(DELEGATE_PARAMETERS, null, DELEGATE_MESSAGES)
      })
      results[`${row}, async`] = await perOp(ops, async () => {
        for (let i = 0; i < ops; i++) await delegate.process(DELEGATE_PARAMETERS, null, DELEGATE_MESSAGES)
      })
      profile.close()
    }
  }
} else {
  console.error(`unknown side ${side}`)
  process.exit(2)
}
report(side, results)
