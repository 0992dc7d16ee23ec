/**
 * `wasm-engine/freenet` under its two profiles: `abi: '0.2.48'` (the
 * default, freenet-core 0.2.48) and `abi: '0.2.154'` (the node the network
 * runs today), over the C test delegate (delegate.c, built as
 * delegate.wasm and, with freenet-stdlib 0.12's imports, as
 * delegate_0_2_154.wasm; its header comment gives the command language).
 * The expected answers are freenet-core 0.2.154's where the profiles
 * differ (docs/freenet-abi.md §3).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { InstantiationError, RuntimeError, TimeoutError } from '../index'
import {
  ContractError,
  ContractRuntime,
  type Delegate,
  type FreenetHostOptions,
  type FreenetRuntimeConfig,
  type InboundDelegateMsg,
  type OutboundDelegateMsg,
} from '../lib/freenet'

const GUESTS = join(__dirname, 'freenet', 'guests', 'build')
const guest = (file: string) => new Uint8Array(readFileSync(join(GUESTS, file)))
const text = (value: string) => new TextEncoder().encode(value)
const read = (value: Uint8Array) => new TextDecoder().decode(value)
const app = (command: string | Uint8Array): InboundDelegateMsg => ({
  type: 'applicationMessage',
  payload: typeof command === 'string' ? text(command) : command,
})
const PARAMS = text('params')

function runtime(config: FreenetRuntimeConfig = {}, host: FreenetHostOptions = {}): ContractRuntime {
  return new ContractRuntime({ maxExecutionSeconds: 5, ...config }, host)
}

/** The payloads of the application messages in `out`, as text. */
function payloads(out: OutboundDelegateMsg[]): string[] {
  return out.map((m) => (m.type === 'applicationMessage' ? read(m.payload) : `<${m.type}>`))
}

async function say(delegate: Delegate, ...commands: (string | Uint8Array)[]): Promise<string[]> {
  return payloads(await delegate.process(PARAMS, null, commands.map(app)))
}

/** The `list_secrets` records (u32 little-endian length, then the key) as keys. */
function records(payload: Uint8Array): string[] {
  const keys: string[] = []
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength)
  for (let at = 0; at < payload.length; ) {
    const len = view.getUint32(at, true)
    keys.push(read(payload.subarray(at + 4, at + 4 + len)))
    at += 4 + len
  }
  return keys
}

async function listed(delegate: Delegate, prefix: string): Promise<string[] | string> {
  const [out] = await delegate.process(PARAMS, null, [app(`list:${prefix}`)])
  if (out?.type !== 'applicationMessage') throw new Error('no answer')
  const answer = read(out.payload)
  return answer.startsWith('err:') ? answer : records(out.payload)
}

const TODAY = guest('delegate_0_2_154.wasm')
const BEFORE = guest('delegate.wasm')

test('the profile is 0.2.48 unless asked, and a wrong one is a TypeError', (t) => {
  t.is(runtime().abi, '0.2.48')
  t.is(runtime({ abi: '0.2.154' }).abi, '0.2.154')
  t.throws(() => runtime({ abi: '0.2.100' as never }), { instanceOf: TypeError, message: /'0\.2\.48' or '0\.2\.154'/ })
  t.throws(() => runtime({ clock: 'maybe' as never }), { instanceOf: TypeError, message: /'warn' or 'refuse'/ })
  t.throws(() => runtime({ delegateContextTtlSeconds: 0 }), { instanceOf: TypeError })
})

test('0.2.154 refuses at load a delegate importing the contract-writing imports, naming them; 0.2.48 loads it', (t) => {
  const v2 = guest('delegate_v2.wasm')
  t.truthy(runtime().loadDelegate(v2))
  const err = t.throws(() => runtime({ abi: '0.2.154' }).loadDelegate(v2), { instanceOf: InstantiationError })
  for (const name of ['put_contract_state', 'update_contract_state', 'subscribe_contract']) t.regex(err.message, new RegExp(name))
  t.regex(err.message, /0\.2\.154/)
})

test('a delegate that lists secrets does not run under 0.2.48, which lacks the imports', async (t) => {
  const err = await t.throwsAsync(
    (async () => {
      const delegate = runtime().loadDelegate(TODAY)
      await delegate.process(PARAMS, null, [app('echo:x')])
    })(),
  )
  t.regex(err.message, /list_secrets/)
})

test('list_secrets: the records of the keys with the prefix, in first-set order, the hidden prefix left out, codes for short buffers', async (t) => {
  const delegate = runtime({ abi: '0.2.154' }).loadDelegate(TODAY)
  for (const key of ['b/2', 'a/1', 'b/1', '\0freenet-migrate/marker']) {
    t.deepEqual(await say(delegate, `secret-set:${key}=v`), ['0'])
  }
  t.deepEqual(await listed(delegate, ''), ['b/2', 'a/1', 'b/1'])
  t.deepEqual(await listed(delegate, 'b/'), ['b/2', 'b/1'])
  t.deepEqual(await listed(delegate, 'zz'), [])
  t.deepEqual(await listed(delegate, '\0freenet'), [])
  // Buffer one byte short: -6 and nothing written.
  t.deepEqual(await say(delegate, 'list-small:b/'), ['rc:-6'])
  // Another delegate key (other parameters) sees none of them.
  const other = await delegate.process(text('other'), null, [app('list:')])
  t.deepEqual(payloads(other), [''])
})

test('list_secrets: a lying guest gets the node codes, and an empty prefix is not a pointer', async (t) => {
  const delegate = runtime({ abi: '0.2.154' }).loadDelegate(TODAY)
  await say(delegate, 'secret-set:k=v')
  const cases: [string, string][] = [
    ['prefix-past-memory', 'rc:-7'],
    ['prefix-negative', 'rc:-4'],
    ['prefix-overflow', 'rc:-7'],
    ['empty-prefix-bad-pointer', 'rc:5'],
    ['out-past-memory', 'rc:-7'],
    ['out-negative', 'rc:-4'],
    ['out-overflow', 'rc:-7'],
    ['len-prefix-past-memory', 'rc:-7'],
  ]
  for (const [lie, code] of cases) t.deepEqual(await say(delegate, `list-lie:${lie}`), [code], lie)
})

test('list_secrets through a user secret store: list(delegate, prefix), sync or promise, capped at 4,096; a store without list lists nothing and says why', async (t) => {
  const keys = Array.from({ length: 5000 }, (_, i) => text(`k${i}`))
  const asked: string[] = []
  const store = {
    get: () => null,
    set: () => {},
    remove: () => {},
    list: (_delegate: unknown, prefix: Uint8Array) => {
      asked.push(read(prefix))
      return read(prefix) === 'async' ? Promise.resolve([text('async/1')]) : keys
    },
  }
  const delegate = runtime({ abi: '0.2.154' }, { secrets: store }).loadDelegate(TODAY)
  const all = await listed(delegate, '')
  t.is(all.length, 4096)
  t.is(all[4095], 'k4095')
  t.deepEqual(await listed(delegate, 'async'), ['async/1'])
  // Each listing asks twice: for the length, then for the records, as the node collects twice.
  t.deepEqual(asked, ['', '', 'async', 'async'])
  const [sync] = delegate.processSync(PARAMS, null, [app('list:')])
  t.is(records((sync as { payload: Uint8Array }).payload).length, 4096)

  const lines: string[] = []
  const { list: _, ...withoutList } = store
  const bare = runtime({ abi: '0.2.154' }, { secrets: withoutList, log: (line) => lines.push(line) }).loadDelegate(TODAY)
  t.deepEqual(await listed(bare, ''), [])
  t.true(lines.some((line) => /list_secrets.*no list\(delegate, prefix\)/.test(line)), lines.join('\n'))
})

test('the new inbound messages reach the delegate under 0.2.154 and are refused under 0.2.48', async (t) => {
  const today = runtime({ abi: '0.2.154' }).loadDelegate(TODAY)
  const answers = await today.process(PARAMS, null, [
    { type: 'wakeupFired', tag: text('tick') },
    { type: 'lifecycle', event: { type: 'installed' } },
    { type: 'lifecycle', event: { type: 'nodeStarted', downSinceMs: 5 } },
    { type: 'lifecycle', event: { type: 'nodeStarted' } },
    { type: 'unsubscribeContractResponse', contractId: new Uint8Array(32).fill(3), error: 'gone' },
  ])
  const raw = answers.map((m) => (m as { payload: Uint8Array }).payload)
  t.is(read(raw[0]!), 'wake:tick')
  t.deepEqual([...raw[1]!], [...text('life:'), 0, 0, 0, 0])
  t.deepEqual([...raw[2]!], [...text('life:'), 1, 0, 0, 0, 1, 5, 0, 0, 0, 0, 0, 0, 0])
  t.deepEqual([...raw[3]!], [...text('life:'), 1, 0, 0, 0, 0])
  t.is(read(raw[4]!), 'got:8')

  const before = runtime().loadDelegate(BEFORE)
  for (const message of [
    { type: 'wakeupFired', tag: text('tick') },
    { type: 'lifecycle', event: { type: 'installed' } },
    { type: 'unsubscribeContractResponse', contractId: new Uint8Array(32) },
  ] as InboundDelegateMsg[]) {
    await t.throwsAsync(before.process(PARAMS, null, [message]), { instanceOf: TypeError, message: new RegExp(`${message.type}.*'0\\.2\\.48'`) })
  }
  await t.throwsAsync(today.process(PARAMS, null, [{ type: 'lifecycle', event: { type: 'rebooted' } } as never]), { instanceOf: TypeError })
})

test('an unsubscribe request fails the call as today\'s node does; under 0.2.48 the result does not decode', async (t) => {
  const id = String.fromCharCode(...new Array(32).fill(65))
  const today = runtime({ abi: '0.2.154' }).loadDelegate(TODAY)
  const first = await t.throwsAsync(today.process(PARAMS, null, [app(`unsubscribe:${id}`)]), { instanceOf: ContractError })
  t.is(first.kind, 'unexpectedMessage')
  t.regex(first.message, /Received an unexpected message.*UnsubscribeContractRequest is not implemented/)
  const drained = await t.throwsAsync(today.process(PARAMS, null, [app(`app-unsubscribe:${id}`)]), { instanceOf: ContractError })
  t.is(drained.kind, 'unexpectedMessage')
  t.notRegex(drained.message, /Received an unexpected message/)

  const before = runtime().loadDelegate(BEFORE)
  const old = await t.throwsAsync(before.process(PARAMS, null, [app(`unsubscribe:${id}`)]), { instanceOf: ContractError })
  t.is(old.kind, 'other')
  t.regex(old.message, /does not decode.*0\.2\.48/)
})

test('under 0.2.154 every drain attests unprocessed delegate messages; under 0.2.48 only a first delegate message', async (t) => {
  const target = String.fromCharCode(...new Array(64).fill(66))
  for (const [abi, code] of [['0.2.154', TODAY], ['0.2.48', BEFORE]] as const) {
    const delegate = runtime({ abi }).loadDelegate(code)
    const out = await delegate.process(PARAMS, null, [app(`app-send:${target}`)])
    t.is(out.length, 2)
    const send = out[1]
    if (send?.type !== 'sendDelegateMessage') return t.fail('no delegate message')
    const attested = abi === '0.2.154' ? delegate.key(PARAMS) : { key: new Uint8Array(32), codeHash: new Uint8Array(32) }
    t.deepEqual(send.sender, attested, abi)
  }
})

test('under 0.2.154 the context outlives the call, per delegate and user; under 0.2.48 every call starts empty', async (t) => {
  const before = runtime().loadDelegate(BEFORE)
  await say(before, 'ctx-set:kept?')
  t.deepEqual(await say(before, 'ctx-get'), [''])

  const rt = runtime({ abi: '0.2.154' })
  const delegate = rt.loadDelegate(TODAY)
  t.deepEqual(await say(delegate, 'ctx-set:asked the user'), ['ok'])
  t.deepEqual(await say(delegate, 'ctx-get'), ['asked the user'])
  t.is(rt.delegateContexts, 1)
  // Another user, other parameters (another delegate key): their own.
  t.deepEqual(payloads(await delegate.process(PARAMS, null, [app('ctx-get')], { user: text('alice') })), [''])
  await delegate.process(PARAMS, null, [app('ctx-set:hers')], { user: text('alice') })
  t.deepEqual(payloads(delegate.processSync(PARAMS, null, [app('ctx-get')], { user: text('alice') })), ['hers'])
  t.deepEqual(payloads(await delegate.process(text('other'), null, [app('ctx-get')])), [''])
  t.deepEqual(await say(delegate, 'ctx-get'), ['asked the user'])
  t.is(rt.delegateContexts, 2)
  // A failed call leaves the context as it was.
  await t.throwsAsync(delegate.process(PARAMS, null, [app('ctx-set:lost'), app('fail:no')]), { instanceOf: ContractError })
  t.deepEqual(await say(delegate, 'ctx-get'), ['asked the user'])
  // An empty context deletes the entry; clearing drops the rest.
  await say(delegate, 'ctx-set:')
  t.is(rt.delegateContexts, 1)
  t.is(rt.clearDelegateContext(delegate.key(PARAMS)), 1)
  t.is(rt.delegateContexts, 0)
  t.deepEqual(payloads(await delegate.process(PARAMS, null, [app('ctx-get')], { user: text('alice') })), [''])
  await say(delegate, 'ctx-set:again')
  t.is(rt.clearDelegateContext(), 1)
  t.deepEqual(await say(delegate, 'ctx-get'), [''])
})

test('under 0.2.154 a context expires after its time to live, and one of 409,600 bytes or more is dropped with a warning', async (t) => {
  const lines: string[] = []
  const rt = runtime({ abi: '0.2.154', delegateContextTtlSeconds: 1 }, { log: (line) => lines.push(line) })
  const delegate = rt.loadDelegate(TODAY)
  await say(delegate, 'ctx-set:soon gone')
  t.deepEqual(await say(delegate, 'ctx-get'), ['soon gone'])
  await new Promise((resolve) => setTimeout(resolve, 1200))
  t.deepEqual(await say(delegate, 'ctx-get'), [''])
  t.is(rt.delegateContexts, 0)

  const huge = new Uint8Array(409_600 + 8).fill(120)
  huge.set(text('ctx-set:'))
  t.deepEqual(await say(delegate, huge), ['ok'])
  t.true(lines.some((line) => /409600 bytes is not kept/.test(line)), lines.join('\n'))
  t.deepEqual(await say(delegate, 'ctx-get'), [''])
  const fits = new Uint8Array(409_599 + 8).fill(121)
  fits.set(text('ctx-set:'))
  await say(delegate, fits)
  t.is((await say(delegate, 'ctx-get'))[0]!.length, 409_599)
})

test('per-entry deadlines: three messages that each fit pass under 0.2.154 and time out together under 0.2.48', async (t) => {
  const batch = ['wait:150', 'wait:150', 'wait:150']
  const today = runtime({ abi: '0.2.154', maxExecutionSeconds: 0.3 }).loadDelegate(TODAY)
  t.deepEqual(await say(today, ...batch), ['waited', 'waited', 'waited'])
  const before = runtime({ maxExecutionSeconds: 0.3 }).loadDelegate(BEFORE)
  await t.throwsAsync(say(before, ...batch), { instanceOf: TimeoutError })
  // One entry past the deadline still stops under 0.2.154.
  await t.throwsAsync(say(today, 'wait:500'), { instanceOf: TimeoutError })
})

test('fuel is still per instance under 0.2.154: a batch shares one budget', async (t) => {
  const metered = runtime({ abi: '0.2.154', enableMetering: true, maxExecutionSeconds: 0.05, cpuCyclesPerSecond: 1e7 })
  const delegate = metered.loadDelegate(TODAY)
  await say(delegate, 'echo:a')
  const one = 5e5 * 1.2 - Number(metered.remainingFuel())
  t.true(one > 0)
  await say(delegate, ...Array.from({ length: 5 }, () => 'echo:a'))
  const five = 5e5 * 1.2 - Number(metered.remainingFuel())
  t.true(five > one * 3, `${one} then ${five}`)
})

test('delegate.manifest reads the freenet-manifest section with the node\'s rules', (t) => {
  const delegate = runtime({ abi: '0.2.154' }).loadDelegate(TODAY)
  t.deepEqual(delegate.manifest, {
    manifestVersion: 1,
    lifecycle: ['installed', 'nodeStarted'],
    capabilities: ['background'],
    wakeups: [
      { tag: 'tick', everySecs: 60 },
      { tag: 'daily', everySecs: 86_400 },
    ],
  })
  t.is(delegate.manifestProblem, null)
  const none = runtime().loadDelegate(BEFORE)
  t.is(none.manifest, null)
  t.is(none.manifestProblem, null)
})

test('under 0.2.154 a contract using the host clock is warned about once per code hash, or refused with clock: refuse', async (t) => {
  const contract = guest('log_contract.wasm')
  const lines: string[] = []
  const warned = runtime({ abi: '0.2.154' }, { log: (line) => lines.push(line) }).loadContract(contract)
  await warned.summarizeState(new Uint8Array(4).fill(255), text('time'))
  await warned.summarizeState(new Uint8Array(4).fill(255), text('time'))
  t.is(lines.filter((line) => /deprecates the host clock/.test(line)).length, 1, lines.join('\n'))

  const quiet: string[] = []
  await runtime({}, { log: (line) => quiet.push(line) }).loadContract(contract).summarizeState(new Uint8Array(4).fill(255), text('time'))
  t.false(quiet.some((line) => /deprecates/.test(line)))

  const refusing = runtime({ abi: '0.2.154', clock: 'refuse' })
  const refused = refusing.loadContract(contract)
  await t.throwsAsync(refused.summarizeState(new Uint8Array(4).fill(255), text('time')), {
    instanceOf: RuntimeError,
    message: /utc_now.*clock: 'refuse'/,
  })
  // Importing without calling still works, and delegates keep the clock.
  t.truthy(await refused.validateState(new Uint8Array(4).fill(255), text('ok')))
  t.is((await refusing.loadDelegate(TODAY).process(PARAMS, null, [app('time')]))[0]?.type, 'applicationMessage')
})

test('contracts answer the same under both profiles', async (t) => {
  const contract = guest('log_contract_streaming.wasm')
  const state = new Uint8Array(200_000).map((_, i) => i % 251)
  const params = new Uint32Array([300_000]).buffer
  const answers = []
  for (const abi of ['0.2.48', '0.2.154'] as const) {
    const loaded = runtime({ abi }).loadContract(contract)
    const summary = await loaded.summarizeState(new Uint8Array(params), state)
    answers.push([
      await loaded.validateState(new Uint8Array(params), state),
      summary,
      await loaded.getStateDelta(new Uint8Array(params), state, summary),
    ])
  }
  t.deepEqual(answers[0], answers[1])
})
