/** The `wasm-engine` command-line tool, run as a user would. */
import { execFile } from 'node:child_process'
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
  t.is((await cli('run', GUEST)).code, 2)
  t.is((await cli('frobnicate')).code, 2)
  t.is((await cli('run', GUEST, 'fib', '1', '--timeout', '-1')).code, 2)
  const missing = await cli('run', '/nonexistent.wasm', 'f')
  t.is(missing.code, 1)
  t.regex(missing.stderr, /cannot run/)
})
