/** The `wasm-engine` command-line tool, run as a user would. */
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import test from 'ava'

const CLI = join(__dirname, '..', 'bin', 'wasm-engine.js')
const GUEST = join(__dirname, '..', 'examples', 'guest.wat')

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr })
    })
  })
}

test('run prints the result, fuel consumed, peak memory and elapsed time', async (t) => {
  const { code, stdout } = await cli('run', GUEST, 'fib', '20', '0', '0', '--fuel')
  t.is(code, 0)
  t.regex(stdout, /^result: 6765$/m)
  t.regex(stdout, /^fuel consumed: \d+$/m)
  t.regex(stdout, /^peak memory: 1 pages$/m)
  t.regex(stdout, /^elapsed: [\d.]+ ms$/m)
})

test('--json reports the same as one JSON object', async (t) => {
  const { code, stdout } = await cli('run', GUEST, 'grow', '3', '0', '0', '--json', '--fuel', '--max-pages', '8')
  t.is(code, 0)
  const report = JSON.parse(stdout)
  t.like(report, { export: 'grow', result: '1', peakMemoryPages: 4 })
  t.true(BigInt(report.fuelConsumed) > 0n)
  t.is(typeof report.elapsedMs, 'number')
})

test('without --fuel no fuel is counted', async (t) => {
  const { stdout } = await cli('run', GUEST, 'fib', '10', '0', '0', '--json')
  t.is(JSON.parse(stdout).fuelConsumed, null)
})

test('failures print the error class, code and message and exit non-zero', async (t) => {
  const trap = await cli('run', GUEST, 'divide', '1', '0', '0')
  t.is(trap.code, 1)
  t.regex(trap.stderr, /RuntimeError \(RUNTIME, trap integer_division_by_zero\)/)
  const gas = await cli('run', GUEST, 'fib', '40', '0', '0', '--fuel', '--timeout', '0.001', '--json')
  t.is(gas.code, 1)
  t.true(['OUT_OF_GAS', 'TIMEOUT'].includes(JSON.parse(gas.stdout).error.code))
  const cap = await cli('run', GUEST, 'grow', '20', '0', '0', '--max-pages', '16', '--json')
  t.is(JSON.parse(cap.stdout).result, '-1')
  const missing = await cli('run', GUEST, 'nope', '--json')
  t.like(JSON.parse(missing.stdout).error, { class: 'ExportError', code: 'EXPORT' })
  const args = await cli('run', GUEST, 'fib', '1')
  t.is(args.code, 1)
  t.regex(args.stderr, /takes 3 arguments, got 1/)
})

test('negative numbers are arguments, not options, wherever the options are', async (t) => {
  const json = await cli('run', GUEST, '--json', 'divide', '-12', '-3', '0', '--fuel')
  t.is(json.code, 0, json.stderr)
  t.like(JSON.parse(json.stdout), { args: ['-12', '-3', '0'], result: '4' })
  const text = await cli('run', GUEST, 'divide', '-7', '2', '-0')
  t.is(text.code, 0, text.stderr)
  t.regex(text.stdout, /^result: -3$/m)
  const terminated = await cli('run', GUEST, 'fib', '--', '1', '--json', '0')
  t.is(terminated.code, 2)
  t.regex(terminated.stderr, /argument --json is not a number/)
})

test('a guest that never ends is stopped by --timeout', async (t) => {
  const { code, stderr } = await cli('run', join(__dirname, 'fixtures', 'forever.wat'), 'forever', '--timeout', '0.2')
  t.is(code, 1)
  t.regex(stderr, /TimeoutError \(TIMEOUT\)/)
})

test('--help documents every option; usage errors exit with 2', async (t) => {
  const help = await cli('--help')
  t.is(help.code, 0)
  for (const option of ['--fuel', '--metering', '--timeout', '--max-pages', '--json']) t.true(help.stdout.includes(option), option)
  const unknown = await cli('run', GUEST, 'fib', '--bogus')
  t.is(unknown.code, 2)
  t.regex(unknown.stderr, /unknown option --bogus/)
  t.regex(unknown.stderr, /^Usage: wasm-engine run/m)
  t.regex((await cli('run', GUEST, 'fib', '-x')).stderr, /unknown option -x/)
  t.regex((await cli('run', GUEST, 'fib', '--json=yes')).stderr, /--json takes no value/)
  t.regex((await cli('run', GUEST, 'fib', '--timeout')).stderr, /--timeout needs a value/)
  t.is((await cli('run', GUEST)).code, 2)
  t.is((await cli('frobnicate')).code, 2)
  t.is((await cli('run', GUEST, 'fib', '1', '--timeout', '-1')).code, 2)
  const missing = await cli('run', '/nonexistent.wasm', 'f')
  t.is(missing.code, 1)
  t.regex(missing.stderr, /cannot run/)
})

const LOG_CONTRACT = join(__dirname, 'freenet', 'guests', 'build', 'log_contract_streaming.wasm')

/** Writes the contract CLI's input files into a fresh directory. */
function contractInputs(files: Record<string, Uint8Array | string>): (name: string) => string {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-engine-cli-'))
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data)
  return (name) => join(dir, name)
}

/** The log contract's parameters: its maximum state length, u32 little-endian. */
const MAX_1_MIB = new Uint8Array([0, 0, 16, 0])

test('contract runs each operation of a Freenet contract and prints the decoded result', async (t) => {
  const file = contractInputs({ params: MAX_1_MIB, state: 'log:hello', delta: 'XY', summary: new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0]) })
  const validate = await cli('contract', 'validate', LOG_CONTRACT, '--parameters', file('params'), '--state', file('state'), '--fuel')
  t.is(validate.code, 0, validate.stderr)
  t.regex(validate.stdout, /^log \(instance \d+\): hello$/m)
  t.regex(validate.stdout, /^result: \{"type":"valid"\}$/m)
  t.regex(validate.stdout, /^fuel consumed: [1-9]\d*$/m)
  const update = await cli('contract', 'update', LOG_CONTRACT, '--parameters', file('params'), '--state', file('state'), '--update', file('delta'), '--json')
  t.is(update.code, 0, update.stderr)
  t.deepEqual(JSON.parse(update.stdout).result, { newState: Buffer.from('log:helloXY').toString('hex'), related: [] })
  const summary = await cli('contract', 'summarize', LOG_CONTRACT, '--parameters', file('params'), '--state', file('state'))
  t.regex(summary.stdout, /^result: 0900000000000000$/m)
  const delta = await cli('contract', 'delta', LOG_CONTRACT, '--parameters', file('params'), '--state', file('state'), '--summary', file('summary'), '--json')
  t.is(JSON.parse(delta.stdout).result, Buffer.from('g:hello').toString('hex'))
})

test("contract prints a contract's error with its kind and reason and exits with 1; usage errors exit with 2", async (t) => {
  const file = contractInputs({ params: MAX_1_MIB, state: 'other:boom' })
  const failed = await cli('contract', 'validate', LOG_CONTRACT, '--parameters', file('params'), '--state', file('state'), '--json')
  t.is(failed.code, 1)
  t.like(JSON.parse(failed.stdout).error, { class: 'ContractError', code: 'CONTRACT', kind: 'other', reason: 'boom' })
  const text = await cli('contract', 'validate', LOG_CONTRACT, '--parameters', file('params'), '--state', file('state'))
  t.regex(text.stderr, /^error: ContractError \(CONTRACT, other: boom\)/m)
  t.is((await cli('contract', 'delta', LOG_CONTRACT, '--parameters', file('params'), '--state', file('state'))).code, 2)
  t.is((await cli('contract', 'replace', LOG_CONTRACT)).code, 2)
  t.is((await cli('contract', 'update', LOG_CONTRACT, '--parameters', file('params'), '--state', file('state'))).code, 2)
})

test('contract --abi picks the freenet-core release: 0.2.154 answers as 0.2.48 does; another value is a usage error', async (t) => {
  const file = contractInputs({ params: MAX_1_MIB, state: 'log:hello', delta: 'XY' })
  const args = ['contract', 'update', LOG_CONTRACT, '--parameters', file('params'), '--state', file('state'), '--update', file('delta'), '--json']
  const [plain, newer, older] = await Promise.all([cli(...args), cli(...args, '--abi', '0.2.154'), cli(...args, '--abi', '0.2.48')])
  t.is(newer.code, 0, newer.stderr)
  t.deepEqual(JSON.parse(newer.stdout).result, JSON.parse(plain.stdout).result)
  t.deepEqual(JSON.parse(older.stdout).result, JSON.parse(plain.stdout).result)
  t.deepEqual([plain, newer, older].map(({ stdout }) => JSON.parse(stdout).abi), ['0.2.48', '0.2.154', '0.2.48'])
  const text = await cli('contract', 'validate', LOG_CONTRACT, '--parameters', file('params'), '--state', file('state'), '--abi', '0.2.154')
  t.regex(text.stdout, /^result: \{"type":"valid"\}$/m)
  const invalid = await cli(...args, '--abi', '0.3.0')
  t.is(invalid.code, 2)
  t.regex(invalid.stderr, /--abi must be 0\.2\.48 or 0\.2\.154, got 0\.3\.0/)
  t.is((await cli('run', GUEST, 'fib', '1', '0', '0', '--abi', '0.2.48')).code, 2)
})

const DELEGATE = join(__dirname, 'freenet', 'guests', 'build', 'delegate.wasm')
const DELEGATE_V2 = join(__dirname, 'freenet', 'guests', 'build', 'delegate_v2.wasm')

/** A --message file's JSON: an ApplicationMessage whose payload is `command`, hex. */
function appMessage(command: string): string {
  return JSON.stringify({ type: 'applicationMessage', payload: Buffer.from(command).toString('hex') })
}

test('delegate process runs the --message files in one call and prints the outbound messages decoded', async (t) => {
  const file = contractInputs({ params: '', hi: appMessage('echo:hi'), there: appMessage('echo:there') })
  const args = ['delegate', 'process', DELEGATE, '--parameters', file('params'), '--message', file('hi'), '--message', file('there')]
  const text = await cli(...args, '--fuel')
  t.is(text.code, 0, text.stderr)
  t.regex(text.stdout, /^message 1: applicationMessage payload=6869 "hi" context=\(empty\) processed=true\nmessage 2: applicationMessage payload=7468657265 "there" context=\(empty\) processed=true$/m)
  t.regex(text.stdout, /^fuel consumed: [1-9]\d*$/m)
  const json = await cli(...args, '--json')
  t.is(json.code, 0, json.stderr)
  const report = JSON.parse(json.stdout)
  t.like(report, { ok: true, abi: '0.2.48', fuelConsumed: null, logs: [] })
  t.deepEqual(report.messages, [
    { type: 'applicationMessage', payload: Buffer.from('hi').toString('hex'), context: '', processed: true },
    { type: 'applicationMessage', payload: Buffer.from('there').toString('hex'), context: '', processed: true },
  ])
})

test('delegate process hands the delegate the --origin and shows a payload that is not text in hex only', async (t) => {
  const app = 'ab'.repeat(32)
  const file = contractInputs({ params: '', origin: appMessage('origin'), app: JSON.stringify({ type: 'webApp', contractId: app }), none: 'null' })
  const args = ['delegate', 'process', DELEGATE, '--parameters', file('params'), '--message', file('origin')]
  // The delegate answers the origin's bincode: WebApp is variant 0, a u32, then the contract id.
  const webApp = await cli(...args, '--origin', file('app'))
  t.is(webApp.code, 0, webApp.stderr)
  t.regex(webApp.stdout, new RegExp(`^message 1: applicationMessage payload=00000000${app} context=\\(empty\\) processed=true$`, 'm'))
  const none = await cli(...args, '--origin', file('none'), '--json')
  t.is(JSON.parse(none.stdout).messages[0].payload, '')
})

test("delegate process prints a delegate's error as contract does and exits with 1", async (t) => {
  const file = contractInputs({ params: '', fail: appMessage('fail:boom') })
  const args = ['delegate', 'process', DELEGATE, '--parameters', file('params'), '--message', file('fail')]
  const text = await cli(...args)
  t.is(text.code, 1)
  t.regex(text.stderr, /^error: ContractError \(CONTRACT, other: boom\)/m)
  t.notRegex(text.stdout, /^message/m)
  const json = await cli(...args, '--json')
  t.is(json.code, 1)
  const report = JSON.parse(json.stdout)
  t.is(report.ok, false)
  t.like(report.error, { class: 'ContractError', code: 'CONTRACT', kind: 'other', reason: 'boom' })
})

test('delegate process --abi 0.2.154 refuses a delegate that imports what freenet-core 0.2.154 removed; 0.2.48 runs it', async (t) => {
  const file = contractInputs({ params: '', hi: appMessage('echo:hi') })
  const args = ['delegate', 'process', DELEGATE_V2, '--parameters', file('params'), '--message', file('hi')]
  const refused = await cli(...args, '--abi', '0.2.154')
  t.is(refused.code, 1)
  t.regex(refused.stderr, /^error: InstantiationError \(INSTANTIATION\): .*freenet_delegate_contracts\.__frnt__delegate__put_contract_state.*0\.2\.154 removed/m)
  const json = await cli(...args, '--abi', '0.2.154', '--json')
  t.like(JSON.parse(json.stdout), { ok: false, abi: '0.2.154', error: { class: 'InstantiationError' } })
  const loaded = await cli(...args, '--abi', '0.2.48')
  t.is(loaded.code, 0, loaded.stderr)
  t.regex(loaded.stdout, /^message 1: applicationMessage payload=6869 "hi"/m)
})

test('delegate process: a message file that is not a message is a usage error naming it; so are missing options', async (t) => {
  const file = contractInputs({
    params: '',
    hi: appMessage('echo:hi'),
    broken: '{"type": "applicationMessage",',
    hex: JSON.stringify({ type: 'applicationMessage', payload: 'xyz' }),
    type: JSON.stringify({ type: 'applicationMesage', payload: '' }),
    field: JSON.stringify({ type: 'applicationMessage', payload: '', proccessed: true }),
    short: JSON.stringify({ type: 'getContractResponse', contractId: 'abcd', state: null }),
    origin: JSON.stringify({ type: 'webApp' }),
  })
  const run = (...extra: string[]) => cli('delegate', 'process', DELEGATE, '--parameters', file('params'), ...extra)
  const cases: [string, RegExp][] = [
    ['broken', /is not JSON/],
    ['hex', /field payload must be a hex string, got "xyz"/],
    ['type', /must have a "type" of applicationMessage, .*; got "applicationMesage"/],
    ['field', /has no field "proccessed"/],
    ['short', /field contractId must be 32 bytes \(64 hex digits\), got 2 bytes/],
  ]
  for (const [name, problem] of cases) {
    const bad = await run('--message', file('hi'), '--message', file(name))
    t.is(bad.code, 2, name)
    t.true(bad.stderr.includes(`wasm-engine: --message ${file(name)}`), bad.stderr)
    t.regex(bad.stderr, problem)
  }
  const origin = await run('--message', file('hi'), '--origin', file('origin'))
  t.is(origin.code, 2)
  t.true(origin.stderr.includes(`--origin ${file('origin')}: the origin (webApp) needs the field "contractId"`), origin.stderr)
  t.regex((await run()).stderr, /needs at least one --message FILE/)
  t.is((await cli('delegate', 'process', DELEGATE, '--message', file('hi'))).code, 2)
  t.is((await cli('delegate', 'call', DELEGATE)).code, 2)
  t.is((await run('--message', file('hi'), '--abi', 'latest')).code, 2)
  t.regex((await run('--message', file('hi'), '--state', file('params'))).stderr, /delegate process takes no --state/)
})

const TOOL = join(__dirname, 'wasi', 'programs', 'build', 'tool.wasm')

test('run --wasi prints the program output and exits with its exit code', async (t) => {
  const echo = await cli('run', TOOL, '--wasi', '--', 'echo', 'from', 'the', 'cli')
  t.is(echo.code, 0)
  t.is(echo.stdout, 'from the cli\n')
  const exit = await cli('run', TOOL, '--wasi', '--', 'exit', '7')
  t.is(exit.code, 7)
  t.is(exit.stdout, 'bye\n')
  const stopped = await cli('run', TOOL, '--wasi', '--timeout', '0.2', '--', 'spin')
  t.is(stopped.code, 1)
  t.is(stopped.stdout, 'spinning\n')
  t.regex(stopped.stderr, /^error: TimeoutError \(TIMEOUT\)/m)
})

test('run --wasi streams the output as the program writes it', async (t) => {
  const child = spawn(process.execPath, [CLI, 'run', TOOL, '--wasi', '--', 'sleep', '1500'])
  const started = Date.now()
  let firstOutput = -1
  let stdout = ''
  child.stdout.on('data', (chunk) => {
    if (firstOutput < 0) firstOutput = Date.now() - started
    stdout += chunk
  })
  const code = await new Promise((resolve) => child.on('exit', resolve))
  const exited = Date.now() - started
  t.is(code, 0)
  t.is(stdout, 'sleeping\nawake\n')
  t.true(firstOutput >= 0 && exited - firstOutput >= 1000, `first output at ${firstOutput} ms, exit at ${exited} ms`)
})

test('run --wasi gives the program only --env, --stdin and --dir, read-only with :ro', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-engine-cli-wasi-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'input.txt'), 'host file\n')
  writeFileSync(join(dir, 'stdin.txt'), 'piped in\n')
  t.is((await cli('run', TOOL, '--wasi', '--env', 'NAME=a=b', '--', 'env', 'NAME')).stdout, 'a=b\n')
  t.is((await cli('run', TOOL, '--wasi', '--', 'env', 'HOME')).code, 1)
  t.is((await cli('run', TOOL, '--wasi', '--stdin', join(dir, 'stdin.txt'), '--', 'cat')).stdout, 'piped in\n')
  t.is((await cli('run', TOOL, '--wasi', '--dir', `/data=${dir}:ro`, '--', 'read', '/data/input.txt')).stdout, 'host file\n')
  const refused = await cli('run', TOOL, '--wasi', '--dir', `/data=${dir}:ro`, '--', 'write', '/data/x.txt', 'no')
  t.is(refused.code, 1)
  t.regex(refused.stderr, /cannot create \/data\/x\.txt/)
  const written = await cli('run', TOOL, '--wasi', '--dir', `/data=${dir}`, '--json', '--fuel', '--', 'write', '/data/x.txt', 'yes')
  t.like(JSON.parse(written.stdout), { exitCode: 0, stdout: '', args: ['write', '/data/x.txt', 'yes'] })
  t.true(BigInt(JSON.parse(written.stdout).fuelConsumed) > 0n)
  const misplaced = await cli('run', GUEST, 'fib', '1', '0', '0', '--env', 'A=1')
  t.is(misplaced.code, 2)
  t.regex(misplaced.stderr, /--env is for run --wasi/)
  const malformed = await cli('run', TOOL, '--wasi', '--dir', 'nonsense')
  t.is(malformed.code, 2)
  t.regex(malformed.stderr, /--dir takes GUEST=HOST/)
})
