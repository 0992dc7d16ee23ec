/**
 * A real Freenet contract through wasm-engine/freenet: the website
 * container contract of freenet-core (built by Freenet's tooling, shipped
 * in the `fdev` crate). Its state is an ed25519-signed web bundle:
 * `[u64 BE metadata length][CBOR { version, signature }][u64 BE web length][web]`,
 * the parameters the 32-byte public key. The expected answers are the
 * contract's own rules (crates/website-contract in freenet-core 0.2.48),
 * which freenet-core returns unchanged.
 */
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto'

import test from 'ava'

import { type Contract, ContractError, ContractRuntime } from '../lib/freenet'
import { websiteContract } from './helpers/real-contract'

/** CBOR of an unsigned integer below 65536. */
const cborUint = (n: number) => (n < 24 ? Buffer.from([n]) : n < 256 ? Buffer.from([0x18, n]) : Buffer.from([0x19, n >> 8, n & 255]))
const cborText = (text: string) => Buffer.concat([Buffer.from([0x60 + text.length]), Buffer.from(text)])
const u64be = (n: number) => {
  const bytes = Buffer.alloc(8)
  bytes.writeBigUInt64BE(BigInt(n))
  return bytes
}

/** A signer and the contract's parameters (its raw public key). */
function signer(): { key: KeyObject; parameters: Uint8Array } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  return { key: privateKey, parameters: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32) }
}

/** A web container state of `version` holding `web`, signed by `key` (ed25519 over version BE ‖ web). */
function webState(key: KeyObject, version: number, web: Uint8Array, tamper = false): Uint8Array {
  const message = Buffer.concat([Buffer.alloc(4), web])
  message.writeUInt32BE(version, 0)
  const signature = sign(null, message, key)
  if (tamper) signature[0]! ^= 1
  // serde's CBOR of { version: u32, signature: [u8; 64] }: a map of two text keys.
  const metadata = Buffer.concat([
    Buffer.from([0xa2]),
    cborText('version'),
    cborUint(version),
    cborText('signature'),
    Buffer.from([0x98, 64]),
    ...[...signature].map(cborUint),
  ])
  return new Uint8Array(Buffer.concat([u64be(metadata.length), metadata, u64be(web.length), web]))
}

/** A 300 KiB bundle: streamed to the contract in five chunks. */
const WEB = Buffer.alloc(300 * 1024, 0x61)

let code: Uint8Array
test.before(async () => {
  code = await websiteContract()
})

function setup(t: { teardown(fn: () => void): void }): Contract {
  const runtime = new ContractRuntime({ maxExecutionSeconds: 10 })
  t.teardown(() => runtime.close())
  return runtime.loadContract(code)
}

for (const mode of ['sync', 'async'] as const) {
  const run = <T>(contract: Contract, op: 'validateState' | 'summarizeState', ...args: Uint8Array[]): Promise<T> =>
    mode === 'sync'
      ? Promise.resolve().then(() => (contract[`${op}Sync`] as (...a: Uint8Array[]) => T)(...args))
      : ((contract[op] as (...a: Uint8Array[]) => Promise<T>)(...args))

  test(`${mode}: a signed 300 KiB state is valid; a tampered signature, version 0 and a short key are the contract's errors`, async (t) => {
    const contract = setup(t)
    t.true(contract.streaming)
    const { key, parameters } = signer()
    t.deepEqual(await run(contract, 'validateState', parameters, webState(key, 1, WEB)), { type: 'valid' })
    const tampered = await t.throwsAsync(run(contract, 'validateState', parameters, webState(key, 1, WEB, true)), { instanceOf: ContractError })
    t.like(tampered, { kind: 'other', reason: 'Signature verification failed: signature error' })
    const zero = await t.throwsAsync(run(contract, 'validateState', parameters, webState(key, 0, WEB)), { instanceOf: ContractError })
    t.like(zero, { kind: 'invalidState', reason: null })
    const short = await t.throwsAsync(run(contract, 'validateState', parameters.subarray(1), webState(key, 1, WEB)), { instanceOf: ContractError })
    t.like(short, { kind: 'other', reason: 'Parameters must be 32 bytes' })
  })

  test(`${mode}: the summary is the CBOR of the version`, async (t) => {
    const contract = setup(t)
    const { key, parameters } = signer()
    t.deepEqual(await run(contract, 'summarizeState', parameters, webState(key, 7, WEB)), new Uint8Array([7]))
    t.deepEqual(await run(contract, 'summarizeState', parameters, webState(key, 300, WEB)), new Uint8Array([0x19, 1, 44]))
    t.deepEqual(await run(contract, 'summarizeState', parameters, new Uint8Array()), new Uint8Array())
  })
}

test('update: a newer signed state replaces the old one; an older one and a delta are refused', async (t) => {
  const contract = setup(t)
  const { key, parameters } = signer()
  const v1 = webState(key, 1, WEB)
  const v2 = webState(key, 2, Buffer.from('new site'))
  t.deepEqual(await contract.updateState(parameters, v1, [{ type: 'state', state: v2 }]), { newState: v2, related: [] })
  const older = await t.throwsAsync(contract.updateState(parameters, v2, [{ type: 'state', state: v1 }]), { instanceOf: ContractError })
  t.like(older, { kind: 'invalidUpdateWithInfo', reason: 'New state version 1 must be higher than current version 2' })
  const delta = t.throws(() => contract.updateStateSync(parameters, v1, [{ type: 'delta', delta: new Uint8Array([1]) }]), { instanceOf: ContractError })
  t.like(delta, { kind: 'invalidUpdate', reason: null })
})

test('delta: the whole state for a holder of an older version, nothing for a current one', async (t) => {
  const contract = setup(t)
  const { key, parameters } = signer()
  const v3 = webState(key, 3, WEB)
  t.deepEqual(await contract.getStateDelta(parameters, v3, new Uint8Array([2])), v3)
  t.deepEqual(contract.getStateDeltaSync(parameters, v3, new Uint8Array([3])), new Uint8Array())
})
