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

/** Runs `__test__/fixtures/<name>` with tsx, killing it after `watchdogMs`. */
export function runFixture(name: string, args: string[] = [], watchdogMs = 20_000): Promise<ChildResult> {
  const started = performance.now()
  const child = spawn(process.execPath, ['--import=tsx', join(__dirname, '..', 'fixtures', name), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
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
