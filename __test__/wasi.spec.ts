/**
 * WASI programs under the engine's limits: a C program built with clang
 * and wasi-libc (`__test__/wasi/programs/tool.c`) run by `runWasiSync` and
 * `runWasi`, with what it may see given by the options and nothing else.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import test from 'ava'

import {
  AbortedError,
  InstantiationError,
  OutOfGasError,
  RuntimeError,
  TimeoutError,
  type WasiOptions,
  type WasiResult,
  WasmEngine,
  type WasmError,
} from '../index'

const TOOL = readFileSync(join(__dirname, 'wasi', 'programs', 'build', 'tool.wasm'))
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** Runs the tool with `args` (after its name) on a fresh engine of `config`. */
function tool(args: string[], options: WasiOptions = {}, config = {}): WasiResult {
  const engine = new WasmEngine(config)
  try {
    return engine.runWasiSync(engine.compile(TOOL), { ...options, args: ['tool', ...args] })
  } finally {
    engine.close()
  }
}

/** A scratch directory for one test, removed after it. */
function scratch(t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-engine-wasi-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('arguments reach the program, its output comes back, and returning from main is exit code 0', (t) => {
  const result = tool(['echo', 'hello,', 'wasi', 'with spaces'])
  t.is(result.exitCode, 0)
  t.is(text(result.stdout), 'hello, wasi with spaces\n')
  t.is(text(result.stderr), '')
  t.is(result.fuelConsumed, undefined)
  t.true(result.elapsedMs > 0)
})

test('the environment is only what was given', (t) => {
  t.like(tool(['env', 'GREETING'], { env: { GREETING: 'hi there' } }), { exitCode: 0 })
  t.is(text(tool(['env', 'GREETING'], { env: { GREETING: 'hi there' } }).stdout), 'hi there\n')
  // Nothing of the host's environment leaks in.
  t.is(process.env.HOME === undefined, false)
  const unset = tool(['env', 'HOME'])
  t.is(unset.exitCode, 1)
  t.is(text(unset.stdout), '(unset)\n')
})

test('stdin is the given bytes or string, then end of file; stderr is captured apart', (t) => {
  t.is(text(tool(['cat'], { stdin: 'line one\nline two\n' }).stdout), 'line one\nline two\n')
  const bytes = new Uint8Array(100_000).map((_, i) => i % 251)
  t.deepEqual(tool(['cat'], { stdin: bytes }).stdout, bytes)
  t.is(text(tool(['cat']).stdout), '')
  const result = tool(['stderr', 'warning: careful'])
  t.is(text(result.stderr), 'warning: careful')
  t.is(text(result.stdout), '')
})

test('exit(n) is a result with exitCode n, not an error', (t) => {
  for (const code of [0, 1, 42, 125]) {
    const result = tool(['exit', String(code)])
    t.is(result.exitCode, code)
    t.is(text(result.stdout), 'bye\n')
  }
})

test('no file system unless a directory is preopened', (t) => {
  const result = tool(['read', '/etc/passwd'])
  t.is(result.exitCode, 1)
  t.regex(text(result.stderr), /cannot open \/etc\/passwd/)
  t.is(text(result.stdout), '')
})

test('a read-only preopen can be read and listed, never written, and .. does not escape it', (t) => {
  const root = scratch(t)
  const data = join(root, 'data')
  mkdirSync(data)
  writeFileSync(join(data, 'input.txt'), 'from the host\n')
  writeFileSync(join(root, 'secret.txt'), 'outside the preopen\n')
  const options: WasiOptions = { preopens: { '/data': { hostPath: data, readOnly: true } } }
  t.is(text(tool(['read', '/data/input.txt'], options).stdout), 'from the host\n')
  t.is(text(tool(['ls', '/data'], options).stdout), 'input.txt\n')
  const write = tool(['write', '/data/new.txt', 'nope'], options)
  t.is(write.exitCode, 1)
  t.regex(text(write.stderr), /cannot create \/data\/new\.txt/)
  t.throws(() => readFileSync(join(data, 'new.txt')))
  const escape = tool(['read', '/data/../secret.txt'], options)
  t.is(escape.exitCode, 1)
  t.regex(text(escape.stderr), /cannot open/)
  t.is(text(escape.stdout), '')
  // Nor does a symbolic link that points out of it (Windows lets only
  // administrators create one).
  if (process.platform !== 'win32') {
    symlinkSync(join(root, 'secret.txt'), join(data, 'link.txt'))
    const linked = tool(['read', '/data/link.txt'], options)
    t.is(linked.exitCode, 1)
    t.is(text(linked.stdout), '')
  }
})

test('a writable preopen takes new files, which the host sees', (t) => {
  const dir = scratch(t)
  const result = tool(['write', '/out/result.txt', 'written by the guest'], { preopens: { '/out': { hostPath: dir } } })
  t.is(result.exitCode, 0)
  t.is(readFileSync(join(dir, 'result.txt'), 'utf8'), 'written by the guest')
})

test('output past maxOutputBytes fails as a broken pipe, and what fit is kept', (t) => {
  const result = tool(['flood', '5000'], { maxOutputBytes: 1200 })
  t.is(result.exitCode, 1)
  t.is(result.stdout.length, 1200)
  // The write that crossed the cap failed whole, though its first 200 bytes were kept.
  t.regex(text(result.stderr), /write failed after 1000 bytes: Broken pipe/)
})

test('deterministic runs read a fixed clock and seeded randomness; others the host', (t) => {
  const deterministic = { startMs: 1_700_000_000_000, seed: 7n }
  const time = text(tool(['time'], { deterministic }).stdout)
  t.is(time, 'wall 1700000000000000000 1700000000001000000\nmonotonic 0 1000000\n')
  const random = text(tool(['random'], { deterministic }).stdout)
  t.is(text(tool(['random'], { deterministic }).stdout), random)
  t.not(text(tool(['random'], { deterministic: { ...deterministic, seed: 8 } }).stdout), random)
  t.not(text(tool(['random']).stdout), text(tool(['random']).stdout))
  t.regex(text(tool(['time'], { deterministic: true }).stdout), /^wall 0 1000000\n/)
  const wall = BigInt(/^wall (\d+)/.exec(text(tool(['time']).stdout))?.[1] ?? '0')
  const now = BigInt(Date.now()) * 1_000_000n
  t.true(wall > now - 60_000_000_000n && wall < now + 60_000_000_000n, `${wall} vs ${now}`)
})

test('the deadline, a trap and fuel stop the program with their errors, carrying its output', (t) => {
  const timeout = t.throws(() => tool(['spin'], {}, { maxExecutionSeconds: 0.2 }), { instanceOf: TimeoutError }) as WasmError
  t.is(text(timeout.stdout ?? new Uint8Array()), 'spinning\n')
  t.is(text(timeout.stderr ?? new Uint8Array([1])), '')
  const trap = t.throws(() => tool(['trap']), { instanceOf: RuntimeError }) as RuntimeError
  t.is(trap.trapCode, 'unreachable_code_reached')
  t.is(text(trap.stdout ?? new Uint8Array()), 'about to trap\n')
  const fuel = t.throws(() => tool(['spin'], {}, { enableMetering: true, cpuCyclesPerSecond: 1e6 }), { instanceOf: OutOfGasError }) as WasmError
  t.is(text(fuel.stdout ?? new Uint8Array()), 'spinning\n')
  const metered = tool(['echo', 'counted'], {}, { enableMetering: true })
  t.true(typeof metered.fuelConsumed === 'bigint' && metered.fuelConsumed > 0n)
})

test('a sleeping program wakes on time, and one sleeping past its deadline or abort is stopped then, not when it wakes', async (t) => {
  const started = Date.now()
  t.is(text(tool(['sleep', '50']).stdout), 'sleeping\nawake\n')
  t.true(Date.now() - started >= 50)
  const sleeper = Date.now()
  const timeout = t.throws(() => tool(['sleep', '3600000'], {}, { maxExecutionSeconds: 0.2 }), { instanceOf: TimeoutError }) as WasmError
  t.is(text(timeout.stdout ?? new Uint8Array()), 'sleeping\n')
  t.true(Date.now() - sleeper < 3000, `stopped after ${Date.now() - sleeper} ms`)
  const engine = new WasmEngine({ maxExecutionSeconds: 3600 })
  t.teardown(() => engine.close())
  const aborted = Date.now()
  await t.throwsAsync(engine.runWasi(engine.compile(TOOL), { args: ['tool', 'sleep', '3600000'], signal: AbortSignal.timeout(100) }), {
    instanceOf: AbortedError,
  })
  t.true(Date.now() - aborted < 3000, `aborted after ${Date.now() - aborted} ms`)
})

test('the page cap bounds what the program can allocate: malloc fails inside it', (t) => {
  // 64 pages, 4 MiB: the program's own data and heap must fit in it.
  const result = tool(['alloc', '16'], {}, { maxMemoryPages: 64 })
  t.is(result.exitCode, 1)
  t.regex(text(result.stdout), /^allocated [0-3] MiB\n$/)
  t.is(text(tool(['alloc', '16']).stdout), 'allocated 16 MiB\n')
})

test('runWasi runs on a worker, in parallel across engines, with the same results', async (t) => {
  const engines = [new WasmEngine(), new WasmEngine()]
  t.teardown(() => engines.forEach((engine) => engine.close()))
  const results = await Promise.all(
    engines.map((engine, i) => engine.runWasi(engine.compile(TOOL), { args: ['tool', 'echo', `engine ${i}`] })),
  )
  t.deepEqual(results.map((result) => [result.exitCode, text(result.stdout)]), [
    [0, 'engine 0\n'],
    [0, 'engine 1\n'],
  ])
  const engine = engines[0]
  const error = await t.throwsAsync(engine.runWasi(engine.compile(TOOL), { args: ['tool', 'trap'] }), { instanceOf: RuntimeError })
  t.is(text((error as WasmError).stdout ?? new Uint8Array()), 'about to trap\n')
})

test('an AbortSignal stops a running program, keeping its output; one aborted before it starts never runs', async (t) => {
  const engine = new WasmEngine({ maxExecutionSeconds: 30 })
  t.teardown(() => engine.close())
  const module = engine.compile(TOOL)
  const controller = new AbortController()
  const running = engine.runWasi(module, { args: ['tool', 'spin'], signal: controller.signal })
  setTimeout(() => controller.abort(), 100)
  const error = (await t.throwsAsync(running, { instanceOf: AbortedError })) as WasmError
  t.is(text(error.stdout ?? new Uint8Array()), 'spinning\n')
  const early = (await t.throwsAsync(engine.runWasi(module, { args: ['tool', 'spin'], signal: AbortSignal.abort() }), {
    instanceOf: AbortedError,
  })) as WasmError
  t.deepEqual(early.stdout, new Uint8Array())
  t.throws(() => engine.runWasiSync(module, { signal: controller.signal }), { instanceOf: TypeError, message: /runWasi/ })
})

test('runWasiSync hands output to onStdout and onStderr at each write, while the program runs', (t) => {
  const chunks: Array<[string, string, number]> = []
  const started = Date.now()
  const listen = (stream: string) => (chunk: Uint8Array) => chunks.push([stream, text(chunk), Date.now() - started])
  const result = tool(['sleep', '100'], { onStdout: listen('out'), onStderr: listen('err') })
  const ended = Date.now() - started
  t.true(chunks.every(([stream]) => stream === 'out'))
  t.is(chunks.map(([, chunk]) => chunk).join(''), 'sleeping\nawake\n')
  // What the program wrote before it slept was seen then, not when it ended.
  const early = chunks.filter(([, , at]) => ended - at >= 90).map(([, chunk]) => chunk)
  t.is(early.join(''), 'sleeping\n', `chunks ${JSON.stringify(chunks)}, end at ${ended} ms`)
  t.is(text(result.stdout), 'sleeping\nawake\n')
  const errors: string[] = []
  t.is(tool(['stderr', 'oops'], { onStderr: (chunk) => errors.push(text(chunk)) }).exitCode, 0)
  t.deepEqual(errors, ['oops'])
})

test.serial('runWasi hands output to listeners on the event loop while the program runs on a worker, all before it settles', async (t) => {
  const engine = new WasmEngine()
  t.teardown(() => engine.close())
  const module = engine.compile(TOOL)
  const started = Date.now()
  const seen: Array<[string, number]> = []
  let settled = false
  const run = engine.runWasi(module, {
    args: ['tool', 'sleep', '300'],
    onStdout: (chunk) => seen.push([text(chunk), Date.now() - started]),
  })
  void run.then(() => (settled = true))
  while (seen.length === 0 && Date.now() - started < 5000) await new Promise((resolve) => setTimeout(resolve, 5))
  t.false(settled, 'the first chunk came while the program still slept')
  const result = await run
  const ended = Date.now() - started
  t.deepEqual(seen.map(([chunk]) => chunk).join(''), 'sleeping\nawake\n')
  t.true(ended - seen[0][1] >= 200, `first chunk at ${seen[0][1]} ms, settled at ${ended} ms, after a 300 ms sleep`)
  t.is(text(result.stdout), 'sleeping\nawake\n')
})

test('listeners see no more than maxOutputBytes, and many writes reach runWasi listeners joined', async (t) => {
  const engine = new WasmEngine()
  t.teardown(() => engine.close())
  const module = engine.compile(TOOL)
  let sync = 0
  const capped = engine.runWasiSync(module, { args: ['tool', 'flood', '5000'], maxOutputBytes: 2500, onStdout: (chunk) => (sync += chunk.length) })
  t.is(capped.exitCode, 1)
  t.is(sync, 2500)
  const sizes: number[] = []
  const flooded = await engine.runWasi(module, { args: ['tool', 'flood', '1000000'], onStdout: (chunk) => sizes.push(chunk.length) })
  t.is(flooded.exitCode, 0)
  t.is(sizes.reduce((sum, n) => sum + n, 0), 1_000_000)
  // 1,000 writes of 1,000 bytes: the event loop took them in fewer, larger chunks.
  t.true(sizes.length <= 1000, `${sizes.length} chunks`)
})

test('a listener that throws stops the program, and the run fails with what it threw', async (t) => {
  const engine = new WasmEngine({ maxExecutionSeconds: 30 })
  t.teardown(() => engine.close())
  const module = engine.compile(TOOL)
  const refusal = new Error('no more output, please')
  const refuse = () => {
    throw refusal
  }
  const started = Date.now()
  t.is(t.throws(() => engine.runWasiSync(module, { args: ['tool', 'spin'], onStdout: refuse })), refusal)
  t.is(await t.throwsAsync(engine.runWasi(module, { args: ['tool', 'spin'], onStdout: refuse })), refusal)
  // Stopped at once, not by the 30 s deadline.
  t.true(Date.now() - started < 10_000, `took ${Date.now() - started} ms`)
  // One that throws after the program's last write still fails the run.
  t.is(await t.throwsAsync(engine.runWasi(module, { args: ['tool', 'echo', 'hi'], onStdout: refuse })), refusal)
  t.true(engine.isHealthy())
})

test('options are checked, each bad one named', (t) => {
  const engine = new WasmEngine()
  t.teardown(() => engine.close())
  const module = engine.compile(TOOL)
  const bad: Array<[unknown, RegExp]> = [
    [{ args: 'tool' }, /options\.args/],
    [{ args: ['tool', 3] }, /options\.args/],
    [{ env: { A: 1 } }, /options\.env\.A/],
    [{ env: { 'A=B': 'c' } }, /options\.env/],
    [{ stdin: 42 }, /options\.stdin/],
    [{ preopens: { '/x': {} } }, /options\.preopens\["\/x"\]\.hostPath/],
    [{ maxOutputBytes: -1 }, /options\.maxOutputBytes/],
    [{ deterministic: { startMs: 1.5 } }, /startMs/],
    [{ deterministic: { seed: -1n } }, /seed/],
    [{ onStdout: 'print' }, /options\.onStdout must be a function/],
    [{ onStderr: {} }, /options\.onStderr must be a function/],
  ]
  for (const [options, message] of bad) {
    t.throws(() => engine.runWasiSync(module, options as WasiOptions), { message }, JSON.stringify(options, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)))
  }
  const missing = join(tmpdir(), 'wasm-engine-no-such-dir')
  t.throws(() => engine.runWasiSync(module, { preopens: { '/gone': { hostPath: missing } } }), { message: new RegExp(`${missing}.*/gone`) })
})

test('a WASI module outside runWasi is refused at instantiation with the way to run it', (t) => {
  const engine = new WasmEngine()
  t.teardown(() => engine.close())
  t.throws(() => engine.createInstance(engine.compile(TOOL), 1, 0), {
    instanceOf: InstantiationError,
    message: /wasi_snapshot_preview1\.\w+, which this engine does not provide \(it is a WASI program or library: run it with runWasi/,
  })
})

test('a WASI reactor from createInstance is initialised, combines WASI with JavaScript imports, and its output is taken', (t) => {
  const engine = new WasmEngine({}, { imports: { env: { twice: (_caller, n) => (n as bigint) * 2n } } })
  t.teardown(() => engine.close())
  const reactor = engine.compile(readFileSync(join(__dirname, 'wasi', 'programs', 'build', 'reactor.wasm')))
  const handle = engine.createInstance(reactor, 1, 0, { wasi: { env: { UNUSED: '1' } } })
  t.deepEqual(
    [text(engine.takeWasiOutput(handle).stdout), text(engine.takeWasiOutput(handle).stdout)],
    ['initialised\n', ''],
  )
  t.is(engine.call3i64(handle, 'render', 21n, 4n, 2n), 42_042n)
  t.is(engine.call3i64(handle, 'render', 1n, 0n, 0n), 2000n)
  const { stdout, stderr } = engine.takeWasiOutput(handle)
  t.is(text(stdout), 'render 21\nrender 1\n')
  t.is(text(stderr), '')
  // Without a wasi option the module's WASI imports are refused, and an
  // instance without WASI has no output to take.
  t.throws(() => engine.createInstance(reactor, 2, 0), { instanceOf: InstantiationError })
  const plain = engine.createInstance(engine.compile('(module)'), 3, 0)
  t.throws(() => engine.takeWasiOutput(plain), { message: /without a wasi option/ })
  t.throws(() => engine.createInstance(reactor, 4, 0, { wasi: { signal: AbortSignal.abort() } }), { instanceOf: TypeError })
  t.throws(() => engine.createInstance(reactor, 4, 0, { wasi: { onStdout: () => {} } }), { instanceOf: TypeError, message: /takeWasiOutput/ })
})
