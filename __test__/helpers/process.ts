/** Readings of this process's resources, for tests that check for leaks. */
import { readFileSync } from 'node:fs'

/** Number of memory mappings of this process. */
export function mapCount(): number {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').length
}

/** Number of threads of this process. */
export function threadCount(): number {
  const match = /^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))
  return match ? Number(match[1]) : Number.NaN
}
