// `npm run test:freenet-real -- <dir>`: runs real Freenet contract modules
// (built by Freenet's tooling; not committed here) through wasm-engine/freenet,
// synchronously and asynchronously, and compares with what freenet-core
// answered when the answers are given.
//
// For each `<name>.wasm` in <dir> (or $FREENET_CONTRACTS_DIR), the inputs
// are `<name>.parameters` and `<name>.state` (empty when absent); with
// `<name>.summary` get_state_delta runs too. When `<name>.expected.json`
// exists ({ "validate": ..., "summary": "<hex>", "delta": "<hex>" }, as
// freenet-core computed them), every answer must equal it. Exit status 1 on
// any difference, or when the two paths disagree.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'

import { createRequire } from 'node:module'

const { ContractRuntime } = createRequire(import.meta.url)('../lib/freenet') as typeof import('../lib/freenet')

const dir = process.argv[2] ?? process.env.FREENET_CONTRACTS_DIR
if (dir === undefined) {
  console.error('usage: npm run test:freenet-real -- <directory of contract .wasm files>')
  process.exit(2)
}
const hex = (value: unknown): unknown =>
  value instanceof Uint8Array
    ? Buffer.from(value).toString('hex')
    : Array.isArray(value)
      ? value.map(hex)
      : value !== null && typeof value === 'object'
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, hex(v)]))
        : value
const outcome = async (run: () => unknown): Promise<unknown> => {
  try {
    return { ok: hex(await run()) }
  } catch (err) {
    const { name, message, kind, reason } = err as Error & { kind?: string; reason?: string }
    return { error: { name, kind, reason, message } }
  }
}

const runtime = new ContractRuntime({ maxExecutionSeconds: 10 })
let failures = 0
for (const file of readdirSync(dir).filter((f) => f.endsWith('.wasm'))) {
  const name = file.slice(0, -5)
  const input = (ext: string) => (existsSync(join(dir, `${name}.${ext}`)) ? readFileSync(join(dir, `${name}.${ext}`)) : undefined)
  const parameters = input('parameters') ?? new Uint8Array()
  const state = input('state') ?? new Uint8Array()
  const summaryFile = input('summary')
  const contract = await runtime.loadContractAsync(readFileSync(join(dir, file)))
  const answers: Record<string, unknown> = {}
  for (const sync of [true, false]) {
    const got: Record<string, unknown> = {
      validate: await outcome(() => (sync ? contract.validateStateSync(parameters, state) : contract.validateState(parameters, state))),
      summary: await outcome(() => (sync ? contract.summarizeStateSync(parameters, state) : contract.summarizeState(parameters, state))),
    }
    if (summaryFile !== undefined) {
      got.delta = await outcome(() =>
        sync ? contract.getStateDeltaSync(parameters, state, summaryFile) : contract.getStateDelta(parameters, state, summaryFile),
      )
    }
    if (sync) Object.assign(answers, got)
    else if (!isDeepStrictEqual(got, answers)) {
      failures++
      console.error(`${file}: the synchronous and asynchronous answers differ`, got, answers)
    }
  }
  console.log(`${file} (streaming ${contract.streaming}):`, JSON.stringify(answers))
  const expectedFile = join(dir, `${name}.expected.json`)
  if (existsSync(expectedFile)) {
    const expected = JSON.parse(readFileSync(expectedFile, 'utf8')) as Record<string, unknown>
    for (const [key, value] of Object.entries(expected)) {
      const ok = isDeepStrictEqual((answers[key] as { ok?: unknown })?.ok, value)
      if (!ok) failures++
      console.log(`  ${key}: ${ok ? 'same as freenet-core' : `DIFFERS from freenet-core (${JSON.stringify(value)})`}`)
    }
  }
}
runtime.close()
process.exitCode = failures > 0 ? 1 : 0
