/** Runs a fixture in a child Node process under a watchdog. */
import { spawn } from 'node:child_process'
import { join } from 'node:path'

export interface ChildResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** Wall-clock milliseconds until the child exited. */
  elapsed: number
  /** True when the watchdog had to kill the child. */
  killed: boolean
}

/** How a fixture's process is started. */
export interface FixtureOptions {
  /** Largest file the child may write, in KiB (the shell's `ulimit -f`; Unix only). */
  fileSizeLimitKiB?: number
  /** Another user to run the child as (`runuser`; Linux, as root only). */
  user?: string
}

/** Runs `__test__/fixtures/<name>` with tsx, killing it after `watchdogMs`. */
export function runFixture(
  name: string,
  args: string[] = [],
  watchdogMs = 20_000,
  options: FixtureOptions = {},
): Promise<ChildResult> {
  const started = performance.now()
  const command = [process.execPath, '--import=tsx', join(__dirname, '..', 'fixtures', name), ...args]
  // Node ignores SIGXFSZ itself, so writes past the limit fail with EFBIG.
  const limited =
    options.fileSizeLimitKiB === undefined
      ? command
      : ['/bin/sh', '-c', `ulimit -f ${options.fileSizeLimitKiB} && exec "$0" "$@"`, ...command]
  const run = options.user === undefined ? limited : ['runuser', '-u', options.user, '--', ...limited]
  const child = spawn(run[0], run.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  let killed = false
  const watchdog = setTimeout(() => {
    killed = true
    child.kill('SIGKILL')
  }, watchdogMs)
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog)
      resolve({ code, signal, stdout, stderr, elapsed: performance.now() - started, killed })
    })
  })
}
