/**
 * WASI programs: the options a caller gives `runWasi` and `runWasiSync`,
 * the result they answer with, and the checks that turn the options into
 * what the native side runs.
 */
import type { WasiSpec } from '../binding'
import { WasmError } from './errors'
import type { Module, NativeEngine } from './native'
import { withSignal } from './signal'

/** A host directory the program sees at a guest path. */
export interface WasiPreopen {
  /** The directory on the host; it must exist. */
  hostPath: string
  /** Refuse every write, creation, rename and deletion under it (default false). */
  readOnly?: boolean
}

/**
 * Fixed clocks and seeded randomness, so that a run can be replayed: with
 * fuel metering, the same module and inputs give the same run.
 */
export interface WasiDeterminism {
  /**
   * Wall-clock time at the program's first reading, in milliseconds since
   * the Unix epoch (default 0). The monotonic clock starts at 0. Each clock
   * moves 1 ms at each reading of it, so that a program waiting for time to
   * pass sees it pass.
   */
  startMs?: number
  /** Seed of every random source the program can read (default 0). */
  seed?: number | bigint
}

/**
 * What a WASI program may see. Deny-by-default: without these it has no
 * arguments, no environment, an empty standard input, no files and no
 * network.
 */
export interface WasiOptions {
  /** `argv`, the program's name first (default: none at all). */
  args?: string[]
  /** Environment variables. */
  env?: Record<string, string>
  /** All that standard input reads, then end of file; strings as UTF-8. */
  stdin?: Uint8Array | string
  /** Host directories by the guest path they appear at, e.g. `{ '/data': { hostPath: './data', readOnly: true } }`. */
  preopens?: Record<string, WasiPreopen>
  /**
   * Bytes kept of standard output and of standard error, each (default
   * 16 MiB). A write that crosses it fails as on a closed pipe (`EPIPE`),
   * and so does every later one; the bytes that fit are kept.
   */
  maxOutputBytes?: number
  /** `true` or settings for a deterministic run (default: the host's clocks and randomness). */
  deterministic?: boolean | WasiDeterminism
  /** Stops the run (`runWasi` only): before it starts it never runs; while it runs the program is interrupted, and the promise rejects with `AbortedError`. */
  signal?: AbortSignal
  /**
   * Called with each chunk of standard output as the program writes it
   * (`runWasi` and `runWasiSync`; an instance's output is taken with
   * `takeWasiOutput`). The chunk is the listener's to keep. The output is
   * still kept for the result too, and `maxOutputBytes` bounds what
   * listeners see as well.
   *
   * `runWasiSync` calls it on this thread while the program runs, at each
   * write. `runWasi` calls it on the event loop while the program runs on a
   * worker, with writes that came together joined into one chunk, and
   * always before its promise settles. A listener that throws stops the
   * program, and the run fails with what it threw.
   */
  onStdout?: OutputListener
  /** As `onStdout`, for standard error. */
  onStderr?: OutputListener
}

/** Takes a chunk of a program's output as it is written. */
export type OutputListener = (chunk: Uint8Array) => void

/** How a WASI program ended. */
export interface WasiResult {
  /** 0 when `_start` returned, else the status it gave `proc_exit` (0 to 125). */
  exitCode: number
  /** Standard output, as far as it was kept. */
  stdout: Uint8Array
  /** Standard error, as far as it was kept. */
  stderr: Uint8Array
  /** Fuel the run used, when the engine meters fuel. */
  fuelConsumed?: bigint
  /** Wall-clock milliseconds from the call to the end of the run. */
  elapsedMs: number
}

/** What the native side answers with: an exit code or the error that stopped the program. */
interface NativeRun {
  exitCode?: number
  error?: WasmError
  stdout: Uint8Array
  stderr: Uint8Array
  fuelConsumed?: bigint
  elapsedMs: number
}

/**
 * The output listeners of one run, behind the one callback the native side
 * calls; it never throws, and answers false once a listener has thrown.
 */
class Listeners {
  readonly #stdout: OutputListener | undefined
  readonly #stderr: OutputListener | undefined
  /** What the first listener to throw threw. */
  failure: { thrown: unknown } | undefined
  /** Aborted when a listener throws, to stop a run on a worker. */
  readonly stopped = new AbortController()

  private constructor(stdout: OutputListener | undefined, stderr: OutputListener | undefined) {
    this.#stdout = stdout
    this.#stderr = stderr
  }

  /** The listeners of `options`, checked; `undefined` when there are none. */
  static of({ onStdout, onStderr }: WasiOptions): Listeners | undefined {
    for (const [name, listener] of [['onStdout', onStdout], ['onStderr', onStderr]] as const) {
      if (listener !== undefined && typeof listener !== 'function') throw new TypeError(`options.${name} must be a function`)
    }
    return onStdout === undefined && onStderr === undefined ? undefined : new Listeners(onStdout, onStderr)
  }

  /** Stream 1 is standard output, 2 standard error. */
  readonly dispatch = (stream: number, chunk: Uint8Array): boolean => {
    if (this.failure !== undefined) return false
    try {
      ;(stream === 1 ? this.#stdout : this.#stderr)?.(chunk)
      return true
    } catch (thrown) {
      this.failure = { thrown }
      this.stopped.abort(thrown)
      return false
    }
  }
}

/** Runs `module` as a WASI command on this thread. */
export function runWasiSync(engine: NativeEngine, module: Module, options: WasiOptions = {}): WasiResult {
  if (options.signal !== undefined) {
    throw new TypeError('options.signal is for runWasi: a run on this thread cannot be aborted from it')
  }
  const spec = wasiSpec(options)
  const listeners = Listeners.of(options)
  const run = engine.runWasiSync(module, spec, listeners?.dispatch) as NativeRun
  if (listeners?.failure !== undefined) throw listeners.failure.thrown
  return settle(run)
}

/** Runs `module` as a WASI command on the engine's workers. */
export async function runWasi(engine: NativeEngine, module: Module, options: WasiOptions = {}): Promise<WasiResult> {
  const spec = wasiSpec(options)
  const listeners = Listeners.of(options)
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new TypeError('options.signal must be an AbortSignal')
  }
  const signal =
    listeners === undefined
      ? options.signal
      : options.signal === undefined
        ? listeners.stopped.signal
        : AbortSignal.any([options.signal, listeners.stopped.signal])
  const run = signal === undefined
    ? engine.runWasi(module, spec, undefined, listeners?.dispatch)
    : withSignal(signal, (token) => engine.runWasi(module, spec, token, listeners?.dispatch))
  try {
    const result = settle((await run) as NativeRun)
    // A listener threw after the program's last write.
    if (listeners?.failure !== undefined) throw listeners.failure.thrown
    return result
  } catch (err) {
    // A listener threw: that is why the run stopped.
    if (listeners?.failure !== undefined) throw listeners.failure.thrown
    // The run never started (engine closed, queue overloaded, aborted before its turn): it wrote nothing.
    if (err instanceof WasmError && err.stdout === undefined) {
      Object.assign(err, { stdout: new Uint8Array(), stderr: new Uint8Array() })
    }
    throw err
  }
}

/** The result of `run`, or its error thrown with the output kept. */
function settle(run: NativeRun): WasiResult {
  if (run.error !== undefined) {
    throw Object.assign(run.error, { stdout: run.stdout, stderr: run.stderr })
  }
  const { exitCode = 0, stdout, stderr, fuelConsumed, elapsedMs } = run
  return fuelConsumed === undefined ? { exitCode, stdout, stderr, elapsedMs } : { exitCode, stdout, stderr, fuelConsumed, elapsedMs }
}

const encoder = new TextEncoder()

/** Checks `options` and builds what the native side runs; a bad option is a `TypeError` or `RangeError` naming it. */
export function wasiSpec(options: WasiOptions): WasiSpec {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  const { args = [], env = {}, stdin = new Uint8Array(), preopens = {}, maxOutputBytes, deterministic } = options
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === 'string')) {
    throw new TypeError('options.args must be an array of strings')
  }
  if (typeof env !== 'object' || env === null) throw new TypeError('options.env must be an object of strings')
  const pairs = Object.entries(env).flatMap(([name, value]) => {
    if (typeof value !== 'string') throw new TypeError(`options.env.${name} must be a string`)
    if (name === '' || name.includes('=')) throw new RangeError(`options.env has a variable named ${JSON.stringify(name)}: names are non-empty and have no "="`)
    return [name, value]
  })
  const input = typeof stdin === 'string' ? encoder.encode(stdin) : stdin
  if (!(input instanceof Uint8Array)) throw new TypeError('options.stdin must be a Uint8Array or a string')
  if (typeof preopens !== 'object' || preopens === null) throw new TypeError('options.preopens must be an object')
  const dirs = Object.entries(preopens).map(([guest, preopen]) => {
    if (typeof preopen?.hostPath !== 'string' || preopen.hostPath === '') {
      throw new TypeError(`options.preopens[${JSON.stringify(guest)}].hostPath must be a non-empty string`)
    }
    return { guest, hostPath: preopen.hostPath, readOnly: preopen.readOnly === true }
  })
  if (maxOutputBytes !== undefined && !(Number.isSafeInteger(maxOutputBytes) && maxOutputBytes >= 0)) {
    throw new RangeError(`options.maxOutputBytes must be a whole number of bytes, got ${maxOutputBytes}`)
  }
  return { args, env: pairs, stdin: input, preopens: dirs, maxOutputBytes, ...determinism(deterministic) }
}

/** The clock start and seed of a deterministic run, or nothing. */
function determinism(deterministic: WasiOptions['deterministic']): Pick<WasiSpec, 'startMs' | 'seed'> {
  if (deterministic === undefined || deterministic === false) return {}
  const { startMs = 0, seed = 0 } = deterministic === true ? {} : deterministic
  if (!(Number.isSafeInteger(startMs) && startMs >= 0)) {
    throw new RangeError(`options.deterministic.startMs must be a whole number of milliseconds from 0, got ${startMs}`)
  }
  const bits = BigInt(seed)
  if (bits < 0n || bits >= 1n << 64n) {
    throw new RangeError(`options.deterministic.seed must fit in 64 bits without sign, got ${seed}`)
  }
  return { startMs, seed: bits }
}
