/** Readings of this process's resources, for tests that check for leaks. */
import { readFileSync } from 'node:fs'
import type { ImplementationFn, SerialFn } from 'ava'

/**
 * Why this process's memory maps and threads cannot be counted here, or
 * undefined where they can: mapCount and threadCount read Linux's /proc, and
 * Node itself counts neither.
 */
export const uncounted = process.platform === 'linux' ? undefined : `${process.platform} has no /proc to count memory maps and threads from`

/**
 * Declares a serial test that calls mapCount or threadCount. Where they
 * cannot read, the test is declared skipped, with the reason in its title,
 * so that ava lists it and says why.
 */
export function whereCountable(serial: SerialFn) {
  return (title: string, implementation: ImplementationFn<[]>) =>
    uncounted === undefined ? serial(title, implementation) : serial.skip(`${title} (skipped: ${uncounted})`, implementation)
}

/** Number of memory mappings of this process. */
export function mapCount(): number {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').length
}

/** Number of threads of this process. */
export function threadCount(): number {
  const match = /^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))
  return match ? Number(match[1]) : Number.NaN
}

/** Runs full garbage collections until finalizers have had their turn. */
export async function collectGarbage(): Promise<void> {
  const gc = globalThis.gc
  if (typeof gc !== 'function') {
    throw new Error('the test suite runs with --expose-gc (see the ava config in package.json)')
  }
  for (let i = 0; i < 5; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
}
