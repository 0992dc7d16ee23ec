/**
 * A second real Freenet contract through wasm-engine/freenet: River's chat
 * room contract, as bundled in the `riverctl` 0.2.24 crate (built by River's
 * tooling against river-core 0.3.1). Its parameters are
 * `ChatRoomParametersV1 { owner }` and its state `ChatRoomStateV1`, both in
 * ciborium's CBOR of their serde shapes: a struct is a map keyed by field
 * names in declaration order, a unit enum variant its name, a struct variant
 * `{ Variant: { .. } }`, `None` null, a newtype its inner value, `Vec<u8>` an
 * array of integers, an ed25519 signature an array of its 64 bytes, a
 * verifying key a byte string. Member and message ids are the i64 hash
 * `h * 31 + byte` (wrapping) of the member's key and of the message's
 * signature. Every signed record (the owner's configuration, a member's
 * invitation, a nickname, a message) is signed over the CBOR of its inner
 * struct. The states are built here and the expected answers are
 * river-core 0.3.1's rules; that the contract re-serializes a merged state to
 * the very bytes built here checks the encoding against ciborium's.
 *
 * Every check runs under both ABI profiles of the runtime.
 */
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto'

import test from 'ava'

import { type Contract, ContractError, ContractRuntime } from '../lib/freenet'
import { roomContract } from './helpers/real-contract'

// CBOR, as much as the room's types use: integers (bigint past 2^53), byte and text strings, arrays, maps, null and booleans.
type Cbor = number | bigint | boolean | null | string | Uint8Array | Cbor[] | Map<Cbor, Cbor> | { [key: string]: Cbor }

/** A CBOR head: major type and argument, in the shortest form (as ciborium writes it). */
function head(major: number, argument: bigint): Buffer {
  if (argument < 24n) return Buffer.from([(major << 5) | Number(argument)])
  const width = argument < 0x100n ? 1 : argument < 0x10000n ? 2 : argument < 0x100000000n ? 4 : 8
  const out = Buffer.alloc(1 + width)
  out[0] = (major << 5) | (24 + Math.log2(width))
  if (width === 8) out.writeBigUInt64BE(argument, 1)
  else out.writeUIntBE(Number(argument), 1, width)
  return out
}

function encode(value: Cbor): Buffer {
  if (value === null) return Buffer.from([0xf6])
  if (typeof value === 'boolean') return Buffer.from([value ? 0xf5 : 0xf4])
  if (typeof value === 'number' || typeof value === 'bigint') {
    const n = BigInt(value)
    return n >= 0n ? head(0, n) : head(1, -1n - n)
  }
  if (typeof value === 'string') return Buffer.concat([head(3, BigInt(Buffer.byteLength(value))), Buffer.from(value)])
  if (value instanceof Uint8Array) return Buffer.concat([head(2, BigInt(value.length)), value])
  if (Array.isArray(value)) return Buffer.concat([head(4, BigInt(value.length)), ...value.map(encode)])
  const entries = value instanceof Map ? [...value] : Object.entries(value)
  return Buffer.concat([head(5, BigInt(entries.length)), ...entries.flatMap(([k, v]) => [encode(k), encode(v)])])
}

/** Integers come back as bigints, maps with text keys as objects, other maps as Maps. */
function decode(bytes: Uint8Array): Cbor {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  const item = (): Cbor => {
    const first = buffer[at++]!
    const [major, info] = [first >> 5, first & 31]
    if (major === 7) {
      const simple = new Map<number, Cbor>([
        [20, false],
        [21, true],
        [22, null],
      ])
      if (!simple.has(info)) throw new Error(`unexpected CBOR simple value ${info}`)
      return simple.get(info)!
    }
    let n: bigint
    if (info < 24) n = BigInt(info)
    else if (info <= 27) {
      const width = 1 << (info - 24)
      n = width === 8 ? buffer.readBigUInt64BE(at) : BigInt(buffer.readUIntBE(at, width))
      at += width
    } else throw new Error(`unexpected CBOR head 0x${first.toString(16)}`)
    const take = () => buffer.subarray(at, (at += Number(n)))
    switch (major) {
      case 0:
        return n
      case 1:
        return -1n - n
      case 2:
        return new Uint8Array(take())
      case 3:
        return take().toString('utf8')
      case 4:
        return Array.from({ length: Number(n) }, item)
      default: {
        const entries = Array.from({ length: Number(n) }, (): [Cbor, Cbor] => [item(), item()])
        return entries.length > 0 && entries.every(([k]) => typeof k === 'string') ? Object.fromEntries(entries) : new Map(entries)
      }
    }
  }
  const value = item()
  if (at !== buffer.length) throw new Error(`${buffer.length - at} bytes after the CBOR item`)
  return value
}

/** River's `FastHash`: the wrapping i64 `h * 31 + byte`. */
function fastHash(bytes: Uint8Array | number[]): bigint {
  let hash = 0n
  for (const byte of bytes) hash = BigInt.asIntN(64, hash * 31n + BigInt(byte))
  return hash
}

/** How the contract prints a `MemberId`: the first 8 characters of the base32 of the id's little-endian bytes. */
function memberLabel(id: bigint): string {
  const bytes = Buffer.alloc(8)
  bytes.writeBigInt64LE(id)
  const bits = [...bytes].map((b) => b.toString(2).padStart(8, '0')).join('')
  return Array.from({ length: 8 }, (_, i) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[Number.parseInt(bits.slice(i * 5, i * 5 + 5), 2)]).join('')
}

interface Key {
  private: KeyObject
  public: Uint8Array
  id: bigint
}

function newKey(): Key {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32))
  return { private: privateKey, public: raw, id: fastHash(raw) }
}

/** `Vec<u8>`: an array of integers. */
const byteArray = (bytes: Uint8Array | string) => [...Buffer.from(bytes)]
/** An ed25519 signature over the CBOR of `value`, as an array of its 64 bytes. */
const signature = (signer: Key, value: Cbor) => [...sign(null, encode(value), signer.private)]
const parametersOf = (owner: Key) => new Uint8Array(encode({ owner: owner.public }))

type Struct = { [key: string]: Cbor }
type Signed = { signature: number[] } & Struct

/** A `Configuration` with River's defaults, the room named and owned by `owner`. */
function configuration(owner: Key, version: number, changes: Struct = {}): Struct {
  return {
    owner_member_id: owner.id,
    configuration_version: version,
    privacy_mode: 'Public',
    display: { name: { Public: { value: byteArray('River test room') } }, description: null },
    max_recent_messages: 100,
    max_user_bans: 10,
    max_message_size: 1000,
    max_nickname_size: 50,
    max_members: 200,
    max_room_name: 100,
    max_room_description: 500,
    ...changes,
  }
}

const authorizedConfiguration = (signer: Key, config: Struct): Signed => ({ configuration: config, signature: signature(signer, config) })

/** `who`'s membership, invited (and signed) by `inviter`. */
function member(owner: Key, inviter: Key, who: Key): Signed {
  const record = { owner_member_id: owner.id, invited_by: inviter.id, member_vk: who.public }
  return { member: record, signature: signature(inviter, record) }
}

/** `who`'s public nickname, signed by `who`. */
function nickname(who: Key, name: string): Signed {
  const record = { member_id: who.id, version: 0, preferred_nickname: { Public: { value: byteArray(name) } } }
  return { member_info: record, signature: signature(who, record) }
}

/** A public text message (`TextContentV1`) by `author` at `seconds` past the epoch. */
function message(owner: Key, author: Key, text: string, seconds: number): Signed {
  const record = {
    room_owner: owner.id,
    author: author.id,
    time: { secs_since_epoch: seconds, nanos_since_epoch: 0 },
    content: { Public: { content_type: 1, content_version: 1, data: byteArray(encode({ text })) } },
  }
  return { message: record, signature: signature(author, record) }
}

const messageId = (m: Signed) => fastHash(m.signature)
const compareIds = (a: Cbor, b: Cbor) => (BigInt(a as bigint) < BigInt(b as bigint) ? -1 : 1)

interface Room {
  configuration?: Signed
  members?: Signed[]
  nicknames?: Signed[]
  messages?: Signed[]
  version?: number
}

/** A `ChatRoomStateV1`: by default as riverctl creates a room (the owner's configuration and nickname), no bans, secrets, DMs or upgrade. */
function roomState(owner: Key, room: Room = {}): Struct {
  return {
    configuration: room.configuration ?? authorizedConfiguration(owner, configuration(owner, 1)),
    bans: [],
    members: { members: room.members ?? [] },
    member_info: { member_info: room.nicknames ?? [nickname(owner, 'Owner')] },
    secrets: { current_version: 0, versions: [], encrypted_secrets: [] },
    recent_messages: { messages: room.messages ?? [] },
    direct_messages: { messages: [], purges: [] },
    upgrade: null,
    version: room.version ?? 0,
  }
}

const bytes = (value: Cbor) => new Uint8Array(encode(value))

/** A room where the owner invited alice, who set a nickname and wrote a message. */
function aliceRoom(owner: Key, alice: Key) {
  const invitation = member(owner, owner, alice)
  const hello = message(owner, alice, 'hello from alice', 1_700_000_000)
  // The contract keeps nicknames ordered by member id.
  const nicknames = [nickname(owner, 'Owner'), nickname(alice, 'alice')]
  nicknames.sort((a, b) => compareIds((a.member_info as Struct).member_id, (b.member_info as Struct).member_id))
  const state = roomState(owner, { members: [invitation], nicknames, messages: [hello] })
  return { invitation, hello, state }
}

/** A delta (`ChatRoomStateV1Delta`) carrying only `fields`. */
function delta(fields: Struct): Uint8Array {
  const none = ['configuration', 'bans', 'members', 'ban_evidence', 'member_info', 'secrets', 'recent_messages', 'direct_messages', 'upgrade', 'version']
  return bytes({ ...Object.fromEntries(none.map((name) => [name, null])), ...fields })
}

const PROFILES = ['0.2.48', '0.2.154'] as const
type Profile = (typeof PROFILES)[number]

// One runtime per profile for the whole file (compiling the 1 MB module takes over a second; a runtime keeps it by content hash),
// so the tests run serially: a synchronous call on a runtime busy with another test's asynchronous one would be refused.
const runtimes = new Map<Profile, ContractRuntime>()
let code: Uint8Array
test.before(async () => {
  code = await roomContract()
  for (const abi of PROFILES) {
    // The `abi` option is not in RuntimeConfig yet.
    const runtime = new ContractRuntime({ maxExecutionSeconds: 5, abi } as ConstructorParameters<typeof ContractRuntime>[0])
    runtimes.set(abi, runtime)
    await runtime.loadContractAsync(code)
  }
})
test.after.always(() => {
  for (const runtime of runtimes.values()) runtime.close()
})

const setup = (abi: Profile): Contract => runtimes.get(abi)!.loadContract(code)

const verificationFailed = (reason: string) => ({ kind: 'invalidUpdateWithInfo', reason: `State verification failed: ${reason}` })

for (const abi of PROFILES) {
  for (const mode of ['sync', 'async'] as const) {
    const run = <T>(contract: Contract, op: 'validateState' | 'summarizeState', ...args: Uint8Array[]): Promise<T> =>
      mode === 'sync'
        ? Promise.resolve().then(() => (contract[`${op}Sync`] as (...a: Uint8Array[]) => T)(...args))
        : (contract[op] as (...a: Uint8Array[]) => Promise<T>)(...args)

    test.serial(`${abi} ${mode}: the empty state, a new room, a member's message and the owner's are valid; a configuration checks only its signature`, async (t) => {
      const contract = setup(abi)
      const [owner, alice] = [newKey(), newKey()]
      const parameters = parametersOf(owner)
      t.deepEqual(await run(contract, 'validateState', parameters, new Uint8Array()), { type: 'valid' })
      t.deepEqual(await run(contract, 'validateState', parameters, bytes(roomState(owner))), { type: 'valid' })
      t.deepEqual(await run(contract, 'validateState', parameters, bytes(aliceRoom(owner, alice).state)), { type: 'valid' })
      const ownerSays = roomState(owner, { messages: [message(owner, owner, 'hello from the owner', 1_700_000_001)] })
      t.deepEqual(await run(contract, 'validateState', parameters, bytes(ownerSays)), { type: 'valid' })
      t.deepEqual(await run(contract, 'validateState', parameters, bytes(roomState(owner, { version: 1 }))), { type: 'valid' })
      // An owner-signed configuration naming someone else as the owner fails the value checks, which verify does not run.
      const misnamed = authorizedConfiguration(owner, configuration(alice, 1))
      t.deepEqual(await run(contract, 'validateState', parameters, bytes(roomState(owner, { configuration: misnamed }))), { type: 'valid' })
    })

    test.serial(`${abi} ${mode}: forged signatures, strangers, too many members and an unknown version are the contract's errors`, async (t) => {
      const contract = setup(abi)
      const [owner, alice, bob] = [newKey(), newKey(), newKey()]
      const parameters = parametersOf(owner)
      const invalid = async (state: Struct, expected: object) => {
        const error = await t.throwsAsync(run(contract, 'validateState', parameters, bytes(state)), { instanceOf: ContractError })
        t.like(error, expected)
      }
      const tampered = authorizedConfiguration(owner, configuration(owner, 1))
      tampered.signature[0]! ^= 1
      await invalid(roomState(owner, { configuration: tampered }), verificationFailed('Invalid signature: signature error'))
      const byAlice = authorizedConfiguration(alice, configuration(owner, 1))
      await invalid(roomState(owner, { configuration: byAlice }), verificationFailed('Invalid signature: signature error'))

      const { invitation, hello } = aliceRoom(owner, alice)
      const edited = structuredClone(hello)
      ;(edited.message as Struct).time = { secs_since_epoch: 1_700_000_999, nanos_since_epoch: 0 }
      await invalid(
        roomState(owner, { members: [invitation], messages: [edited] }),
        verificationFailed(`Invalid message signature: id:MessageId(FastHash(${messageId(edited)}))`),
      )
      await invalid(
        roomState(owner, { messages: [message(owner, bob, 'not a member', 1)] }),
        verificationFailed(`Message author not found: MemberId(${memberLabel(bob.id)})`),
      )
      await invalid(
        roomState(owner, { members: [member(owner, bob, alice)] }),
        verificationFailed(`Inviter MemberId(${memberLabel(bob.id)}) not found for member MemberId(${memberLabel(alice.id)})`),
      )
      await invalid(
        roomState(owner, { nicknames: [nickname(owner, 'Owner'), nickname(bob, 'bob')] }),
        verificationFailed(`MemberInfo exists for non-existent member: MemberId(${memberLabel(bob.id)})`),
      )
      const oneSeat = authorizedConfiguration(owner, configuration(owner, 1, { max_members: 1 }))
      await invalid(
        roomState(owner, { configuration: oneSeat, members: [member(owner, owner, alice), member(owner, owner, bob)] }),
        verificationFailed('Too many members: 2 > 1'),
      )
      await invalid(
        roomState(owner, { version: 2 }),
        verificationFailed('Unknown state version 2. This contract supports versions 0-1. Please upgrade your client.'),
      )

      const garbage = await t.throwsAsync(run(contract, 'validateState', parameters, new Uint8Array([1, 2, 3])), { instanceOf: ContractError })
      t.like(garbage, { kind: 'deser', reason: 'Semantic(None, "invalid type: integer `1`, expected map")' })
      const noOwner = await t.throwsAsync(run(contract, 'validateState', bytes({}), bytes(roomState(owner))), { instanceOf: ContractError })
      t.like(noOwner, { kind: 'deser', reason: 'Semantic(None, "missing field `owner`")' })
    })

    test.serial(`${abi} ${mode}: the summary holds the configuration's rank, the member and message ids and the retention horizon; the empty state has none`, async (t) => {
      const contract = setup(abi)
      const [owner, alice] = [newKey(), newKey()]
      const parameters = parametersOf(owner)
      t.deepEqual(await run(contract, 'summarizeState', parameters, new Uint8Array()), new Uint8Array())

      const { state, hello } = aliceRoom(owner, alice)
      const summary = decode(await run(contract, 'summarizeState', parameters, bytes(state))) as Struct
      const [valid, version, digest] = summary.configuration as [boolean, bigint, Uint8Array]
      t.deepEqual([valid, version, digest.length], [true, 1n, 16])
      t.deepEqual(summary.members, [alice.id])
      const nicknames = summary.member_info as Map<Cbor, [bigint, Uint8Array]>
      t.deepEqual([...nicknames.keys()], [owner.id, alice.id].sort(compareIds))
      t.deepEqual([...nicknames.values()].map(([version, digest]) => [version, digest.length]), [[0n, 16], [0n, 16]])
      t.deepEqual(summary.recent_messages, { message_ids: [messageId(hello)], horizon: 'Open' })
      t.like(summary, { bans: [], upgrade: null, version: 0n })
      // The configuration's digest identifies its signature, whatever else the room holds.
      const summarize = async (room: Struct) => decode(await run(contract, 'summarizeState', parameters, bytes(room))) as Struct
      const alone = await summarize(roomState(owner, { configuration: state.configuration as Signed }))
      t.deepEqual(alone.configuration, summary.configuration)
      const renamed = configuration(owner, 1, { display: { name: { Public: { value: byteArray('renamed') } }, description: null } })
      const other = await summarize(roomState(owner, { configuration: authorizedConfiguration(owner, renamed) }))
      t.deepEqual((other.configuration as Cbor[]).slice(0, 2), [true, 1n])
      t.notDeepEqual((other.configuration as Cbor[])[2], digest)
      // A configuration failing the value checks ranks below every valid one.
      const misnamed = await summarize(roomState(owner, { configuration: authorizedConfiguration(owner, configuration(alice, 1)) }))
      t.is((misnamed.configuration as Cbor[])[0], false)

      // At max_recent_messages, the horizon is the oldest message held.
      const two = authorizedConfiguration(owner, configuration(owner, 2, { max_recent_messages: 2 }))
      const [older, newer] = [message(owner, owner, 'older', 2), message(owner, owner, 'newer', 3)]
      const full = await summarize(roomState(owner, { configuration: two, messages: [older, newer] }))
      t.deepEqual(full.recent_messages, {
        message_ids: [messageId(older), messageId(newer)].sort(compareIds),
        horizon: { OldestRetained: { time: { secs_since_epoch: 2n, nanos_since_epoch: 0n }, id: messageId(older) } },
      })
    })
  }

  test.serial(`${abi}: a whole state merges in: a member with a message stays, one without is pruned, a newer configuration wins and caps the messages`, async (t) => {
    const contract = setup(abi)
    const [owner, alice, bob] = [newKey(), newKey(), newKey()]
    const parameters = parametersOf(owner)
    const created = bytes(roomState(owner))
    const { state } = aliceRoom(owner, alice)
    // The merged state is re-serialized by the contract to the bytes built here.
    const merged = await contract.updateState(parameters, created, [{ type: 'state', state: bytes(state) }])
    t.deepEqual(merged, { newState: bytes(state), related: [] })

    const silentBob = roomState(owner, { members: [member(owner, owner, bob)], nicknames: [nickname(owner, 'Owner'), nickname(bob, 'bob')] })
    const pruned = contract.updateStateSync(parameters, created, [{ type: 'state', state: bytes(silentBob) }])
    t.deepEqual(pruned, { newState: created, related: [] })

    const two = authorizedConfiguration(owner, configuration(owner, 2, { max_recent_messages: 2 }))
    const said = ['first', 'second', 'third'].map((text, i) => message(owner, owner, text, 10 + i))
    const capped = await contract.updateState(parameters, bytes(roomState(owner, { configuration: two })), [
      { type: 'state', state: bytes(roomState(owner, { messages: said })) },
    ])
    t.deepEqual(capped.newState, bytes(roomState(owner, { configuration: two, messages: said.slice(1) })))
    // An older configuration does not replace a newer one; a forged newer one is left out of a whole-state merge.
    const backToOne = contract.updateStateSync(parameters, capped.newState!, [{ type: 'state', state: created }])
    t.deepEqual(backToOne.newState, capped.newState)
    const forged = authorizedConfiguration(owner, configuration(owner, 3))
    forged.signature[5]! ^= 1
    const unforged = await contract.updateState(parameters, created, [{ type: 'state', state: bytes(roomState(owner, { configuration: forged })) }])
    t.deepEqual(unforged, { newState: created, related: [] })
  })

  test.serial(`${abi}: a delta applies; a forged configuration delta, a related delta and a state with delta are refused; a related state is ignored`, async (t) => {
    const contract = setup(abi)
    const [owner, alice] = [newKey(), newKey()]
    const parameters = parametersOf(owner)
    const created = bytes(roomState(owner))
    const { state, invitation, hello } = aliceRoom(owner, alice)
    const joined = delta({ members: { added: [invitation] }, member_info: [nickname(alice, 'alice')], recent_messages: [hello] })
    const applied = await contract.updateState(parameters, created, [{ type: 'delta', delta: joined }])
    t.deepEqual(applied, { newState: bytes(state), related: [] })
    // Delivered again, it changes nothing; so does an empty delta.
    t.deepEqual(contract.updateStateSync(parameters, bytes(state), [{ type: 'delta', delta: joined }]).newState, bytes(state))
    t.deepEqual(contract.updateStateSync(parameters, created, [{ type: 'delta', delta: new Uint8Array() }]).newState, created)
    // A message whose author is not a member is dropped, not an error.
    const stranger = delta({ recent_messages: [message(owner, newKey(), 'who am I', 5)] })
    t.deepEqual(contract.updateStateSync(parameters, created, [{ type: 'delta', delta: stranger }]).newState, created)

    const newer = authorizedConfiguration(owner, configuration(owner, 2, { max_members: 20 }))
    t.deepEqual(
      (await contract.updateState(parameters, created, [{ type: 'delta', delta: delta({ configuration: newer }) }])).newState,
      bytes(roomState(owner, { configuration: newer })),
    )
    const forged = authorizedConfiguration(owner, configuration(owner, 2))
    forged.signature[5]! ^= 1
    const refused = await t.throwsAsync(contract.updateState(parameters, created, [{ type: 'delta', delta: delta({ configuration: forged }) }]), {
      instanceOf: ContractError,
    })
    t.like(refused, { kind: 'invalidUpdateWithInfo', reason: 'Invalid signature: signature error' })
    const garbage = t.throws(() => contract.updateStateSync(parameters, created, [{ type: 'delta', delta: new Uint8Array([1]) }]), {
      instanceOf: ContractError,
    })
    t.like(garbage, { kind: 'deser', reason: 'Semantic(None, "invalid type: integer `1`, expected map")' })

    const relatedTo = new Uint8Array(32).fill(7)
    t.deepEqual(contract.updateStateSync(parameters, created, [{ type: 'relatedState', relatedTo, state: new Uint8Array([1]) }]), {
      newState: created,
      related: [],
    })
    for (const update of [
      { type: 'relatedDelta', relatedTo, delta: joined },
      { type: 'stateAndDelta', state: bytes(state), delta: joined },
    ] as const) {
      const error = await t.throwsAsync(contract.updateState(parameters, created, [update]), { instanceOf: ContractError })
      t.like(error, { kind: 'invalidUpdate', reason: null })
    }
    // The empty state is valid, but it is not a state an update can start from.
    const fromEmpty = t.throws(() => contract.updateStateSync(parameters, new Uint8Array(), [{ type: 'delta', delta: joined }]), {
      instanceOf: ContractError,
    })
    t.like(fromEmpty, { kind: 'deser', reason: 'Io(Error { kind: UnexpectedEof, message: "failed to fill whole buffer" })' })
  })

  test.serial(`${abi}: the delta is what a summary lacks: nothing against the state's own, the newer records against an older one, nothing below the horizon`, async (t) => {
    const contract = setup(abi)
    const [owner, alice] = [newKey(), newKey()]
    const parameters = parametersOf(owner)
    const created = bytes(roomState(owner))
    const { state, invitation, hello } = aliceRoom(owner, alice)
    const current = bytes(state)
    t.deepEqual(await contract.getStateDelta(parameters, current, await contract.summarizeState(parameters, current)), new Uint8Array())

    const lacking = await contract.getStateDelta(parameters, current, contract.summarizeStateSync(parameters, created))
    t.deepEqual(decode(lacking), decode(delta({ members: { added: [invitation] }, member_info: [nickname(alice, 'alice')], recent_messages: [hello] })))
    t.deepEqual(contract.updateStateSync(parameters, created, [{ type: 'delta', delta: lacking }]).newState, current)

    const newer = authorizedConfiguration(owner, configuration(owner, 2, { max_recent_messages: 2 }))
    const configured = bytes(roomState(owner, { configuration: newer }))
    const offered = contract.getStateDeltaSync(parameters, configured, contract.summarizeStateSync(parameters, created))
    t.deepEqual(decode(offered), decode(delta({ configuration: newer })))

    // A peer at its cap of two, holding the two newest messages under the newer configuration,
    // is offered neither the older message nor the older configuration.
    const said = ['first', 'second', 'third'].map((text, i) => message(owner, owner, text, 10 + i))
    const atCap = contract.summarizeStateSync(parameters, bytes(roomState(owner, { configuration: newer, messages: said.slice(1) })))
    t.deepEqual(await contract.getStateDelta(parameters, bytes(roomState(owner, { messages: said })), atCap), new Uint8Array())

    const noSummary = await t.throwsAsync(contract.getStateDelta(parameters, current, new Uint8Array()), { instanceOf: ContractError })
    t.like(noSummary, { kind: 'deser', reason: 'Io(Error { kind: UnexpectedEof, message: "failed to fill whole buffer" })' })
  })
}

test.serial('both profiles give the same bytes for every operation on the same states', async (t) => {
  const [first, second] = PROFILES.map(setup)
  const [owner, alice] = [newKey(), newKey()]
  const parameters = parametersOf(owner)
  const created = bytes(roomState(owner))
  const current = bytes(aliceRoom(owner, alice).state)
  const answers = async (contract: Contract) => {
    const summary = await contract.summarizeState(parameters, created)
    return {
      valid: await contract.validateState(parameters, current),
      summary,
      ownSummary: contract.summarizeStateSync(parameters, current),
      delta: await contract.getStateDelta(parameters, current, summary),
      merged: contract.updateStateSync(parameters, created, [{ type: 'state', state: current }]),
    }
  }
  const [a, b] = [await answers(first!), await answers(second!)]
  t.deepEqual(a, b)
  t.true(a.summary.length > 0 && a.delta.length > 0 && a.merged.newState !== null)
})
