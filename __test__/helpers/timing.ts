/** Measurements for tests whose bounds only catch the broken. */
import type { InstanceHandle, WasmEngine } from '../../index'

/** Milliseconds `run` takes. */
export async function timed(run: () => unknown): Promise<number> {
  const started = process.hrtime.bigint()
  await run()
  return Number(process.hrtime.bigint() - started) / 1e6
}

/** A `spin` count (FREENET_GUEST) that keeps the guest busy for about `ms` milliseconds. */
export function calibrateSpin(engine: WasmEngine, handle: InstanceHandle, ms: number): bigint {
  let n = 1_000_000n
  for (;;) {
    const started = process.hrtime.bigint()
    engine.call3i64(handle, 'spin', n, 0n, 0n)
    const took = Number(process.hrtime.bigint() - started) / 1e6
    if (took >= 50) return (n * BigInt(Math.round(ms * 1000))) / BigInt(Math.round(took * 1000))
    n *= 4n
  }
}

/** Largest gap between ticks of a 5 ms interval while `run` settles. */
export async function longestEventLoopGap(run: () => Promise<unknown>): Promise<number> {
  let last = performance.now()
  let longest = 0
  const timer = setInterval(() => {
    const now = performance.now()
    longest = Math.max(longest, now - last)
    last = now
  }, 5)
  try {
    await run()
  } finally {
    clearInterval(timer)
  }
  return longest
}
