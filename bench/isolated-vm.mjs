// The isolated-vm side of the benchmark, in its own process: the guests run on
// V8's WebAssembly inside an `isolated-vm` isolate, the npm package users pick
// to run code with timeouts on the JavaScript thread. Every host -> guest and
// guest -> host call crosses the isolate boundary, as it does for its users.
// Prints {"side": "isolated-vm", "results": {workload: ns per op}} as one JSON line.
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'

import { guest, MIX, perOp, report, SIEVE, scale } from './measure.mjs'

// isolated-vm requires `--no-node-snapshot` on Node 20 and later.
if (!process.execArgv.includes('--no-node-snapshot')) {
  execFileSync(process.execPath, ['--no-node-snapshot', ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' })
  process.exit(0)
}

const require = createRequire(import.meta.url)
const ivm = require('isolated-vm')
const { watToWasm } = require('..')

const wasm = (name) => guest(name, watToWasm)
const results = {}

const isolate = new ivm.Isolate({ memoryLimit: 512 })
const context = isolate.createContextSync()
// Copies a guest's bytes into the isolate; `$0` in `source` is the ArrayBuffer there.
const inIsolate = (name, source, extra = [], options = {}) => {
  const bytes = wasm(name)
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  return context.evalClosureSync(source, [new ivm.ExternalCopy(buffer).copyInto({ release: true }), ...extra], options)
}
// A Reference to one export of a guest instantiated inside the isolate.
const exported = (name, fn, imports = '{}', extra = []) =>
  inIsolate(name, `return new WebAssembly.Instance(new WebAssembly.Module($0), ${imports}).exports.${fn}`, extra, {
    result: { reference: true },
  })

const add3 = exported('add3', 'add3')
const calls = scale(200_000)
results['call sync'] = await perOp(calls, () => {
  for (let i = 0; i < calls; i++) add3.applySync(undefined, [1n, 2n, 3n])
})
const withTimeout = { timeout: 60_000 }
results['call sync, with timeout'] = await perOp(calls, () => {
  for (let i = 0; i < calls; i++) add3.applySync(undefined, [1n, 2n, 3n], withTimeout)
})
const mix = exported('mix', 'mix')
results['compute: mix'] = await perOp(1, () => mix.applySync(undefined, MIX))
const sieve = exported('sieve', 'sieve')
results['compute: sieve'] = await perOp(1, () => sieve.applySync(undefined, SIEVE))
// The loop runs inside the isolate: one host -> isolate crossing per `count`
// operations, so this row excludes the per-op boundary crossing (which
// 'call sync' measures).
const instantiate = inIsolate(
  'instantiate',
  `const small = new WebAssembly.Module($0)
  return (count) => {
    for (let i = 0; i < count; i++) new WebAssembly.Instance(small).exports.__frnt_set_id(BigInt(i))
  }`,
  [],
  { result: { reference: true } },
)
const count = scale(10_000)
results['instantiate + set_id + drop'] = await perOp(count, () => instantiate.applySync(undefined, [count]))
// env.ping is a host-side function: each guest -> host call crosses the
// isolate boundary through an ivm.Callback (synchronous by default).
const ping = exported('host', 'ping', '{ env: { ping: $1, wait: (n) => n } }', [new ivm.Callback((n) => n)])
const pings = scale(100_000)
results['host import sync'] = await perOp(pings, () => ping.applySync(undefined, [BigInt(pings), 0n, 0n]))

report('isolated-vm', results)
