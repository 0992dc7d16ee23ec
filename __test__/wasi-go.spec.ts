/**
 * A Go program on WASI (`__test__/wasi/programs/go`, built with
 * GOOS=wasip1): Go's runtime brings its own scheduler, garbage collector
 * and timers, so goroutines, sleeps and allocation all reach the host
 * through WASI, under the engine's limits.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import test from 'ava'

import { OutOfGasError, type RuntimeConfig, TimeoutError, type WasiOptions, WasmEngine, type WasmError } from '../index'

const GO_TOOL = readFileSync(join(__dirname, 'wasi', 'programs', 'go', 'build', 'gotool.wasm'))
const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes ?? new Uint8Array())

/** An engine of `config` with the Go program compiled (about a second cold; the disk cache keeps it). */
function goEngine(config: RuntimeConfig = {}) {
  const engine = new WasmEngine(config)
  return { engine, program: engine.compile(GO_TOOL) }
}

const run = (config: RuntimeConfig, args: string[], options: WasiOptions = {}) => {
  const { engine, program } = goEngine(config)
  try {
    return engine.runWasiSync(program, { ...options, args: ['gotool', ...args] })
  } finally {
    engine.close()
  }
}

test('a Go program gets its arguments and environment, and exits with its code', (t) => {
  const { engine, program } = goEngine()
  t.teardown(() => engine.close())
  const hello = engine.runWasiSync(program, { args: ['gotool', 'hello', 'a b', 'c'], env: { GREETING: 'hi' } })
  t.is(hello.exitCode, 0)
  t.is(text(hello.stdout), 'hello from Go, args ["a b" "c"], GREETING="hi"\n')
  const exit = engine.runWasiSync(program, { args: ['gotool', 'exit', '42'] })
  t.is(exit.exitCode, 42)
  t.is(text(exit.stdout), 'bye\n')
  t.is(text(engine.runWasiSync(program, { args: ['gotool', 'stdin'], stdin: 'shout this\n' }).stdout), 'SHOUT THIS\n')
})

test('goroutines sleeping on timers run on runWasi, and a preopened directory is read and written', async (t) => {
  const { engine, program } = goEngine()
  t.teardown(() => engine.close())
  const workers = await engine.runWasi(program, { args: ['gotool', 'workers', '50'] })
  t.is(text(workers.stdout), `50 workers, sum of squares ${(50 * 51 * 101) / 6}\n`)
  const dir = mkdtempSync(join(tmpdir(), 'wasm-engine-go-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'given.txt'), 'from the host')
  const files = await engine.runWasi(program, { args: ['gotool', 'files', '/work'], preopens: { '/work': { hostPath: dir } } })
  t.is(text(files.stdout), 'read back: written by Go\nentries: from-go.txt given.txt\n')
  t.is(readFileSync(join(dir, 'from-go.txt'), 'utf8'), 'written by Go\n')
  const readOnly = await engine.runWasi(program, { args: ['gotool', 'files', '/work'], preopens: { '/work': { hostPath: dir, readOnly: true } } })
  t.regex(text(readOnly.stdout), /^write failed: .*\n/)
})

test('a spinning Go program meets the deadline and fuel; one sleeping past its deadline is stopped then', (t) => {
  const timeout = t.throws(() => run({ maxExecutionSeconds: 0.5 }, ['spin']), { instanceOf: TimeoutError }) as WasmError
  t.is(text(timeout.stdout), 'spinning\n')
  const starved = t.throws(() => run({ enableMetering: true, cpuCyclesPerSecond: 2e7, maxExecutionSeconds: 1 }, ['spin']), {
    instanceOf: OutOfGasError,
  }) as WasmError
  t.is(text(starved.stdout), 'spinning\n')
  const started = Date.now()
  const asleep = t.throws(() => run({ maxExecutionSeconds: 0.5 }, ['sleep', '3600000']), { instanceOf: TimeoutError }) as WasmError
  t.is(text(asleep.stdout), 'sleeping\n')
  t.true(Date.now() - started < 5000, `stopped after ${Date.now() - started} ms`)
})

test("the page cap stops Go's heap inside it: the runtime reports out of memory and exits", (t) => {
  t.is(text(run({}, ['alloc', '64']).stdout), 'allocated 64 MiB\n')
  // 512 pages, 32 MiB, for a program that wants 64 MiB kept alive.
  const capped = run({ maxMemoryPages: 512 }, ['alloc', '64'])
  t.is(capped.exitCode, 2)
  t.regex(text(capped.stderr), /fatal error: out of memory/)
  t.is(text(capped.stdout), '')
})
