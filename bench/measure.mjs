// Timing helpers shared by the benchmark sides: medians over repeated runs.

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
