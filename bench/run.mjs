// `npm run bench`: runs every side of the benchmark in its own process on
// the same modules, then writes the medians, the ratios and the performance
// targets to BENCHMARKS.md. `--smoke` runs each workload briefly and only
// checks that every side still reports every row (used by CI).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'

import { watToWasm } from '../index.ts'
import { largeModule } from '../__test__/helpers/guests.ts'
import { V8Delegate } from './freenet-v8.mjs'
import { DELEGATE_GUEST, DELEGATE_MESSAGES, DELEGATE_PARAMETERS, DELEGATE_ROWS, FREENET_INPUTS, freenetGuest, WASI_ROWS } from './measure.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const smoke = process.argv.includes('--smoke')
const flags = smoke ? ['--smoke'] : []
const env = { ...process.env, WASM_ENGINE_CACHE_DIR: 'off' }

// The delegate rows compare like with like only if the V8 host answers the
// batch as wasm-engine/freenet does: check it once, under each profile.
{
  const { ContractRuntime } = createRequire(import.meta.url)('../lib/freenet')
  const plain = (messages) => messages.map((m) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, ArrayBuffer.isView(v) ? Buffer.from(v).toString('hex') : v])))
  for (const [row, abi] of DELEGATE_ROWS) {
    const runtime = new ContractRuntime({ abi })
    const engine = plain(runtime.loadDelegate(freenetGuest(DELEGATE_GUEST)).processSync(DELEGATE_PARAMETERS, null, DELEGATE_MESSAGES))
    runtime.close()
    const v8 = plain(new V8Delegate(freenetGuest(DELEGATE_GUEST), { abi }).process(DELEGATE_PARAMETERS, null, DELEGATE_MESSAGES))
    if (!isDeepStrictEqual(v8, engine)) {
      throw new Error(`${row}: the V8 host answers ${JSON.stringify(v8)}, wasm-engine ${JSON.stringify(engine)}`)
    }
  }
}

// Built for the host triple explicitly, as `napi build` builds the addon:
// the two then share one target directory and its compiled wasmtime.
const host = /^host: (\S+)$/m.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))?.[1]
console.log(`building the native side for ${host}`)
execFileSync('cargo', ['build', '--release', '--quiet', '--target', host, '--example', 'native-bench'], { cwd: root, stdio: 'inherit' })
const nativeBench = join(root, 'target', host, 'release', 'examples', process.platform === 'win32' ? 'native-bench.exe' : 'native-bench')
const scratch = mkdtempSync(join(tmpdir(), 'wasm-engine-bench-'))
const large = join(scratch, 'large.wasm')
const largeBytes = watToWasm(largeModule(8000, 1))
writeFileSync(large, largeBytes)

const sides = {}
const collect = (output) => {
  for (const line of output.split('\n').filter((l) => l.startsWith('{'))) {
    const { side, results } = JSON.parse(line)
    sides[side] = results
  }
}
for (const side of ['v8', 'engine', 'engine-metered']) {
  console.log(`running ${side}`)
  collect(execFileSync(process.execPath, ['--import=tsx', '--expose-gc', join(root, 'bench', 'side.mjs'), side, ...flags], { cwd: root, env, encoding: 'utf8' }))
  if (side === 'v8') {
    console.log('running isolated-vm')
    // isolated-vm requires --no-node-snapshot on Node 20 and later.
    collect(execFileSync(process.execPath, ['--no-node-snapshot', join(root, 'bench', 'isolated-vm.mjs'), ...flags], { cwd: root, env, encoding: 'utf8' }))
  }
}
console.log('running native')
collect(execFileSync(nativeBench, ['--large', large, ...flags], { cwd: root, encoding: 'utf8' }))
rmSync(scratch, { recursive: true, force: true })

const columns = ['v8', 'isolated-vm', 'engine', 'engine-metered', 'native', 'native-metered']
const rows = [...new Set(Object.values(sides).flatMap((results) => Object.keys(results)))]
const time = (ns) =>
  ns === undefined ? '' : ns < 1e3 ? `${ns.toFixed(0)} ns` : ns < 1e6 ? `${(ns / 1e3).toFixed(1)} µs` : `${(ns / 1e6).toFixed(2)} ms`
// Rows that measure bytes, not time.
const bytes = (n) => (n === undefined ? '' : `${(n / 1048576).toFixed(1)} MiB`)
const format = (row, value) => (row.startsWith('RSS') ? bytes(value) : time(value))
const ratio = (a, b) => (a === undefined || b === undefined ? '' : `${(a / b).toFixed(2)}x`)
const table = [
  '| Workload | V8 | isolated-vm | engine | engine, metered | native wasmtime | native, metered | engine / V8 | engine / isolated-vm | metered / V8 | engine / native |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map((row) => {
    const cell = (side) => sides[side]?.[row]
    return `| ${row} | ${columns.map((side) => format(row, cell(side))).join(' | ')} | ${ratio(cell('engine'), cell('v8'))} | ${ratio(cell('engine'), cell('isolated-vm'))} | ${ratio(cell('engine-metered'), cell('v8'))} | ${ratio(cell('engine'), cell('native'))} |`
  }),
].join('\n')
console.log(`\n${table}\n`)

const FREENET_ROWS = FREENET_INPUTS.map(([row]) => row)
const DELEGATE_ROW_NAMES = DELEGATE_ROWS.map(([row]) => row)
const WASI_ROW_NAMES = WASI_ROWS.map(([row]) => row)
const expectedRows = {
  v8: [
    'call sync',
    'compute: mix',
    'compute: sieve',
    'instantiate + set_id + drop',
    'instantiate + set_id + drop, 1 MiB data',
    'host import sync',
    'compile cold (1 MiB+)',
    ...FREENET_ROWS,
    ...DELEGATE_ROW_NAMES,
    ...WASI_ROW_NAMES,
  ],
  'isolated-vm': ['call sync', 'call sync, with timeout', 'compute: mix', 'compute: sieve', 'instantiate + set_id + drop', 'host import sync'],
  engine: [
    'call sync',
    'call(), generic',
    'getFunction, call',
    'callVoid',
    'call, f64 signature',
    'call blocking, sequential',
    'call blocking, 64 engines',
    'event-loop stall, blocking calls on 64 engines',
    'compute: mix',
    'compute: sieve',
    'instantiate + set_id + drop',
    'instantiate + set_id + drop, 1 MiB data',
    'instantiate + set_id + drop, on demand (instancePoolSize 0)',
    'host import sync',
    'event-loop stall in the second after 1M host calls',
    'RSS growth after 1M host calls',
    'host import async',
    'compile, disk cache hit',
    ...FREENET_ROWS,
    ...FREENET_ROWS.map((row) => `${row}, async`),
    ...DELEGATE_ROW_NAMES,
    ...DELEGATE_ROW_NAMES.map((row) => `${row}, async`),
    ...WASI_ROW_NAMES,
  ],
  'engine-metered': ['call sync', 'compute: mix', 'compute: sieve'],
  native: ['call sync', 'compute: mix', 'compute: sieve', 'instantiate + set_id + drop', 'instantiate + set_id + drop, 1 MiB data', 'compile cold (1 MiB+)'],
  'native-metered': ['compute: mix', 'compute: sieve'],
}
const missing = Object.entries(expectedRows).flatMap(([side, names]) => names.filter((name) => sides[side]?.[name] === undefined).map((name) => `${side}: ${name}`))
if (missing.length > 0) {
  console.error(`missing results: ${missing.join(', ')}`)
  process.exit(1)
}
if (smoke) {
  console.log('bench smoke run: every side reported every workload')
  process.exit(0)
}

const e = sides.engine
const m = sides['engine-metered']
const v = sides.v8
const targets = [
  ['Unmetered compute (mix) within 1.15x of V8', e['compute: mix'] / v['compute: mix'], 1.15, 'x'],
  ['Unmetered compute (sieve) within 1.15x of V8', e['compute: sieve'] / v['compute: sieve'], 1.15, 'x'],
  ['Fuel-metered compute (mix) within 1.5x of V8 unmetered', m['compute: mix'] / v['compute: mix'], 1.5, 'x'],
  ['Fuel-metered compute (sieve) within 1.5x of V8 unmetered', m['compute: sieve'] / v['compute: sieve'], 1.5, 'x'],
  ['`call3i64` round trip at most 250 ns', e['call sync'], 250, 'ns'],
  ['Generic `call()` at most 500 ns', e['call(), generic'], 500, 'ns'],
  ['`callVoid` at most 200 ns', e['callVoid'], 200, 'ns'],
  ['Sync host import round trip at most 500 ns', e['host import sync'], 500, 'ns'],
  ['No deferred cost: longest event-loop stall in the second after 1M host calls at most 10 ms', e['event-loop stall in the second after 1M host calls'] / 1e6, 10, 'ms'],
  ['No deferred cost: RSS after 1M host calls within 10 MiB', Math.abs(e['RSS growth after 1M host calls']) / 1048576, 10, 'MiB'],
  ['`call3i64Blocking` round trip at most 20 µs, sequential', e['call blocking, sequential'] / 1e3, 20, 'µs'],
  ['`call3i64Blocking` at least 150,000 calls/s with 64 engines', 1e9 / e['call blocking, 64 engines'], 150_000, 'calls/s', 'min'],
  ['Event loop never stalls more than 10 ms while 64 engines run blocking calls', e['event-loop stall, blocking calls on 64 engines'] / 1e6, 10, 'ms'],
  ['Instantiate + `__frnt_set_id` + drop at most 5 µs', e['instantiate + set_id + drop'] / 1e3, 5, 'µs'],
  ['The same with a 1 MiB data segment at most 5 µs', e['instantiate + set_id + drop, 1 MiB data'] / 1e3, 5, 'µs'],
  ['Freenet `validateState` (node-style, log contract, 1 KiB) no slower than V8 running the same protocol', e['freenet validateState, log contract, 1 KiB state'] / v['freenet validateState, log contract, 1 KiB state'], 1, 'x'],
  ...DELEGATE_ROWS.map(([row, abi]) => [
    `Freenet delegate \`process\` (3 messages) no slower than V8 running the same protocol, abi ${abi}`,
    e[row] / v[row],
    1,
    'x',
  ]),
  ['Freenet overhead beyond the guest, sync (contract that answers at once), at most 15 µs', e['freenet validateState, instant contract'] / 1e3, 15, 'µs'],
  ['Freenet overhead beyond the guest, async, at most 30 µs', e['freenet validateState, instant contract, async'] / 1e3, 30, 'µs'],
  ['Memory-cache-hit compile at least 50x faster than cold', e['compile cold (1 MiB+)'] / e['compile, memory cache hit'], 50, 'x faster', 'min'],
  ['Disk-cache-hit compile at least 50x faster than cold', e['compile cold (1 MiB+)'] / e['compile, disk cache hit'], 50, 'x faster', 'min'],
]
const targetRows = targets.map(([name, value, bound, unit, kind = 'max']) => {
  const met = kind === 'max' ? value <= bound : value >= bound
  const shown = unit === 'calls/s' ? Math.round(value).toLocaleString('en-US') : value.toFixed(2)
  const gap = met ? 'met' : `**missed** by ${(kind === 'max' ? value / bound : bound / value).toFixed(2)}x`
  return `| ${name} | ${shown} ${unit} | ${gap} |`
})
const cargoLock = readFileSync(join(root, 'Cargo.lock'), 'utf8')
const wasmtime = /name = "wasmtime"\nversion = "([^"]+)"/.exec(cargoLock)?.[1]
const markdown = `# Benchmarks

Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench\` on ${cpus()[0]?.model ?? 'an unknown CPU'} (${cpus().length} cores), Node ${process.version}, wasmtime ${wasmtime}.
Every side runs in its own process on the same modules (\`bench/guests/\`; the 1 MiB+ module
is ${(largeBytes.length / 1048576).toFixed(2)} MiB of generated functions). Cells are medians over repeated runs, per operation.

- **V8**: Node's own \`WebAssembly\`, no limits.
- **isolated-vm**: V8's \`WebAssembly\` inside an [isolated-vm](https://github.com/laverdet/isolated-vm) isolate; each call from the host
  (\`Reference.applySync\`) and each host import (an \`ivm.Callback\`) crosses the isolate boundary.
- **engine**: this package, metering off (epoch deadlines always on); **engine, metered**: fuel on.
- **native wasmtime**: the same engine configuration called from Rust (\`bench/native.rs\`), the floor for this package.

${table}

## Targets

| Target | Measured | Status |
| --- | ---: | --- |
${targetRows.join('\n')}

Cranelift runs at \`OptLevel::Speed\` (Freenet uses \`None\`, which compiles faster and runs
slower); fuel and epoch checks are compiled in only where used: an unmetered engine carries no
fuel accounting, every engine carries the epoch checks that make deadlines work.
`
// The hand-written analysis below the notes marker survives regeneration.
const marker = '<!-- notes: kept when npm run bench rewrites this file -->'
const previous = existsSync(join(root, 'BENCHMARKS.md')) ? readFileSync(join(root, 'BENCHMARKS.md'), 'utf8') : ''
const notes = previous.includes(marker) ? previous.slice(previous.indexOf(marker)) : `${marker}\n`
writeFileSync(join(root, 'BENCHMARKS.md'), `${markdown}\n${notes}`)
console.log('wrote BENCHMARKS.md')
