// What the benchmark sides share: the run's scale, the guests and their
// arguments, and timing by medians over repeated runs.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

/** `--smoke`: run every workload briefly (CI checks that every row is reported). */
export const smoke = process.argv.includes('--smoke')

/** `n` operations, or a hundredth of them in a smoke run. */
export const scale = (n) => (smoke ? Math.max(1, Math.floor(n / 100)) : n)

/** The binary of `bench/guests/<name>.wat`, translated by `watToWasm`. */
export const guest = (name, watToWasm) =>
  watToWasm(readFileSync(join(here, 'guests', `${name}.wat`), 'utf8').replace('@MEBIBYTE@', '\\2a'.repeat(1 << 20)))

/** Arguments of the `mix` and `sieve` guests. */
export const MIX = [BigInt(1 << 20), BigInt(scale(20)), 7n]
export const SIEVE = [1_000_000n, BigInt(scale(5)), 0n]

/** The binary of a Freenet test guest (`__test__/freenet/guests/build/<name>.wasm`). */
export const freenetGuest = (name) => readFileSync(join(here, '..', '__test__', 'freenet', 'guests', 'build', `${name}.wasm`))

/** `u32` little-endian: the log contract's parameters (its maximum state length). */
const maxLength = (n) => new Uint8Array(new Uint32Array([n]).buffer)
/** No related contracts, as bincode (a `u64` count of 0). */
const NO_RELATED = new Uint8Array(8)

/**
 * The Freenet rows: a node-style `validate_state` (a fresh instance, the
 * buffers, the call, the decoded answer, the drop) on a contract that
 * answers at once (the runtime's own overhead) and on the C log contract.
 */
export const FREENET_INPUTS = [
  ['freenet validateState, instant contract', 'instant', { parameters: new Uint8Array(4), state: new Uint8Array(16), related: NO_RELATED, ops: 20_000 }],
  ['freenet validateState, log contract, 1 KiB state', 'log_contract_streaming', { parameters: maxLength(1 << 20), state: new Uint8Array(1024).fill(7), related: NO_RELATED, ops: 10_000 }],
  ['freenet validateState, log contract, 300 KiB streamed', 'log_contract_streaming', { parameters: maxLength(1 << 20), state: new Uint8Array(300 * 1024).fill(7), related: NO_RELATED, ops: 500 }],
]

/** The delegate of the delegate rows (its commands: `__test__/freenet/guests/delegate.c`). */
export const DELEGATE_GUEST = 'delegate'

/** The delegate's parameters. */
export const DELEGATE_PARAMETERS = new TextEncoder().encode('bench')

/** The batch of one `process` call: set the context, read it back, echo 64 bytes. */
export const DELEGATE_MESSAGES = ['ctx-set:abc', 'ctx-get', `echo:${'x'.repeat(64)}`].map((command) => ({
  type: 'applicationMessage',
  payload: new TextEncoder().encode(command),
}))

/** The Freenet delegate rows: one `process` call of the batch, fresh instance and all, under each delegate ABI. */
export const DELEGATE_ROWS = ['0.2.48', '0.2.154'].map((abi) => [`freenet delegate process, 3 messages, abi ${abi}`, abi, 10_000])

/** The WASI test program (`__test__/wasi/programs/tool.c`), built with wasi-libc. */
export const wasiTool = () => readFileSync(join(here, '..', '__test__', 'wasi', 'programs', 'build', 'tool.wasm'))

/** Rows of WASI runs: name, argv, runs per measurement. */
export const WASI_ROWS = [
  // 50 runs a measurement: Node 20's node:wasi crashed (SIGSEGV) after about a
  // thousand runs in one process, each a new WebAssembly.Instance.
  ['WASI run: echo (start-up to exit)', ['tool', 'echo', 'hello'], 50],
  ['WASI run: primes below 2,000,000', ['tool', 'primes', '2000000'], 3],
]

/** Runs `fn` (which performs `ops` operations) `runs` times after a warm-up; returns the median nanoseconds per operation. */
export async function perOp(ops, fn, runs = 7) {
  await fn()
  const samples = []
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint()
    await fn()
    samples.push(Number(process.hrtime.bigint() - started) / ops)
  }
  samples.sort((a, b) => a - b)
  return samples[Math.floor(samples.length / 2)]
}

/** Prints one side's results as a JSON line for bench/run.mjs. */
export function report(side, results) {
  console.log(JSON.stringify({ side, results }))
}
