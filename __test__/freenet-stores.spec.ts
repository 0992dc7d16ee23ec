/**
 * `wasm-engine/freenet` delegate stores written in JavaScript
 * (`FreenetHostOptions.secrets` and `.contracts`): the V1 and V2 C
 * delegates reach them through Freenet's imports, synchronously or with
 * promises, and see Freenet's return codes when a store refuses or fails.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { type ContractStore, ContractRuntime, type FreenetHostOptions, type SecretStore } from '../lib/freenet'

const GUESTS = join(__dirname, 'freenet', 'guests', 'build')
const encoder = new TextEncoder()
const decoder = new TextDecoder()
const PARAMS = encoder.encode('params')
const ID = new Uint8Array(32).fill(0x78)
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
const app = (payload: string | Uint8Array) => ({
  type: 'applicationMessage' as const,
  payload: typeof payload === 'string' ? encoder.encode(payload) : payload,
})
const concat = (text: string, ...parts: Uint8Array[]) => Buffer.concat([encoder.encode(text), ...parts])

/** A runtime with `host`, its two delegates, and a `run` that returns the payloads as text. */
function setup(t: { teardown(fn: () => void): void }, host: FreenetHostOptions) {
  const runtime = new ContractRuntime({}, host)
  t.teardown(() => runtime.close())
  const load = (file: string) => runtime.loadDelegate(readFileSync(join(GUESTS, file)))
  const v1 = load('delegate.wasm')
  const v2 = load('delegate_v2.wasm')
  const payloads = (out: { type: string; payload?: Uint8Array }[]) => out.map((m) => decoder.decode(m.payload))
  return {
    runtime,
    v1,
    run: async (delegate: typeof v1, commands: (string | Uint8Array)[]) => payloads(await delegate.process(PARAMS, null, commands.map(app))),
    runSync: (delegate: typeof v1, commands: (string | Uint8Array)[]) => payloads(delegate.processSync(PARAMS, null, commands.map(app))),
    v2,
  }
}

/** A secret store over a Map, keyed by delegate key and secret key; `calls` records each call. */
function mapSecrets(options: { async?: boolean; has?: boolean } = {}) {
  const map = new Map<string, Uint8Array>()
  const calls: string[] = []
  const answer = <T>(value: T) => (options.async ? Promise.resolve(value) : value)
  const id = (delegate: { key: Uint8Array }, key: Uint8Array) => hex(delegate.key) + ':' + decoder.decode(key)
  const store: SecretStore = {
    get: (delegate, key) => (calls.push(`get ${decoder.decode(key)}`), answer(map.get(id(delegate, key)) ?? null)),
    set: (delegate, key, value) => {
      calls.push(`set ${decoder.decode(key)}`)
      map.set(id(delegate, key), value)
      return answer(undefined) as void
    },
    remove: (delegate, key) => {
      calls.push(`remove ${decoder.decode(key)}`)
      map.delete(id(delegate, key))
      return answer(undefined) as void
    },
  }
  if (options.has) store.has = (delegate, key) => (calls.push(`has ${decoder.decode(key)}`), answer(map.has(id(delegate, key))))
  return { store, map, calls }
}

for (const mode of ['sync', 'async'] as const) {
  test(`${mode} secret store: set, get, has and remove reach the user's store, scoped by delegate key`, async (t) => {
    const secrets = mapSecrets()
    const { v1, run, runSync } = setup(t, { secrets: secrets.store })
    const go = mode === 'sync' ? async (commands: string[]) => runSync(v1, commands) : (commands: string[]) => run(v1, commands)
    t.deepEqual(await go(['secret-set:k=v1', 'secret-get:k', 'secret-has:k', 'secret-get-small:k']), ['0', 'v1', '1', 'err:-6'])
    t.deepEqual([...secrets.map.keys()], [`${hex(v1.key(PARAMS).key)}:k`])
    t.deepEqual(await go(['secret-del:k', 'secret-has:k', 'secret-get:k', 'secret-del:k']), ['0', '0', 'err:-2', '0'])
    t.is(secrets.map.size, 0)
    // Without `has`, existence is answered by `get`.
    t.true(secrets.calls.includes('get k'))
    t.false(secrets.calls.some((call) => call.startsWith('has')))
  })
}

test('a secret store with promises and its own has() serves process()', async (t) => {
  const secrets = mapSecrets({ async: true, has: true })
  const { v1, run } = setup(t, { secrets: secrets.store })
  t.deepEqual(await run(v1, ['secret-set:a=1', 'secret-has:a', 'secret-get:a', 'secret-has:b']), ['0', '1', '1', '0'])
  t.deepEqual(secrets.calls, ['set a', 'has a', 'get a', 'get a', 'has b'])
})

test('a secret store that returns promises cannot serve processSync: the guest sees the failure code and the log says why', (t) => {
  const logs: string[] = []
  const secrets = mapSecrets({ async: true })
  const { v1, runSync } = setup(t, { secrets: secrets.store, log: (message) => logs.push(message) })
  t.deepEqual(runSync(v1, ['secret-set:k=v', 'secret-get:k']), ['-3', 'err:-2'])
  t.true(logs.some((line) => line.includes('secrets.set returned a promise') && line.includes('use process()')), logs.join('\n'))
})

test('a throwing secret store gives Freenet storage codes, and its error reaches the log', async (t) => {
  const logs: string[] = []
  const failing: SecretStore = {
    get: () => {
      throw new Error('vault sealed')
    },
    set: () => Promise.reject(new Error('disk full')),
    remove: () => {
      throw new Error('vault sealed')
    },
  }
  const { v1, run } = setup(t, { secrets: failing, log: (message) => logs.push(message) })
  t.deepEqual(await run(v1, ['secret-set:k=v', 'secret-get:k', 'secret-has:k', 'secret-del:k']), ['-3', 'err:-2', '0', '-2'])
  t.true(logs.some((line) => line.includes('secrets.set rejected') && line.includes('disk full')), logs.join('\n'))
  t.true(logs.some((line) => line.includes('secrets.get threw') && line.includes('vault sealed')), logs.join('\n'))
})

test('a contract store serves V2 delegates with promises: get, put, update, subscribe and their refusals', async (t) => {
  const states = new Map<string, Uint8Array>()
  const subscribed: string[] = []
  const contracts: ContractStore = {
    get: async (id) => states.get(hex(id)) ?? null,
    put: async (id, state) => {
      if (id[0] === 0) return false
      states.set(hex(id), state)
    },
    update: async (id, state) => {
      if (!states.has(hex(id))) return false
      states.set(hex(id), state)
    },
    subscribe: async (id) => {
      subscribed.push(hex(id))
      return id[0] !== 0
    },
  }
  const { v2, run } = setup(t, { contracts })
  const unknown = new Uint8Array(32)
  t.deepEqual(
    await run(v2, [
      concat('cget:', ID),
      concat('cupdate:', ID, encoder.encode('new')),
      concat('cput:', ID, encoder.encode('first')),
      concat('cget:', ID),
      concat('cupdate:', ID, encoder.encode('second')),
      concat('cget:', ID),
      concat('csub:', ID),
      concat('cput:', unknown, encoder.encode('x')),
      concat('csub:', unknown),
    ]),
    ['err:-7', '-7', '0', 'first', '0', 'second', '0', '-10', '-10'],
  )
  t.deepEqual(decoder.decode(states.get(hex(ID))), 'second')
  t.deepEqual(subscribed, [hex(ID), hex(unknown)])
})

test('a contract store that throws or rejects is a store error (-8) for the guest', async (t) => {
  const logs: string[] = []
  const contracts: ContractStore = {
    get: () => {
      throw new Error('db down')
    },
    put: () => Promise.reject(new Error('db down')),
    update: () => Promise.reject(new Error('db down')),
    subscribe: () => Promise.reject(new Error('db down')),
  }
  const { v2, run } = setup(t, { contracts, log: (message) => logs.push(message) })
  t.deepEqual(await run(v2, [concat('cget:', ID), concat('cput:', ID, encoder.encode('s')), concat('csub:', ID)]), ['err:-8', '-8', '-8'])
  t.is(logs.filter((line) => line.includes('db down')).length, 3)
})

test('store options are checked when the runtime is created', (t) => {
  t.throws(() => new ContractRuntime({}, { secrets: {} as SecretStore }), { instanceOf: TypeError, message: /host\.secrets\.get must be a function/ })
  t.throws(() => new ContractRuntime({}, { contracts: { get() {} } as unknown as ContractStore }), {
    instanceOf: TypeError,
    message: /host\.contracts\.put must be a function/,
  })
})

test('a store request waiting for its promise does not outlive the deadline: the guest is stopped', async (t) => {
  const contracts: ContractStore = {
    get: () => new Promise(() => {}),
    put: async () => {},
    update: async () => {},
    subscribe: async () => {},
  }
  const runtime = new ContractRuntime({ maxExecutionSeconds: 0.2 }, { contracts })
  t.teardown(() => runtime.close())
  const v2 = runtime.loadDelegate(readFileSync(join(GUESTS, 'delegate_v2.wasm')))
  const started = Date.now()
  await t.throwsAsync(v2.process(PARAMS, null, [app(concat('cget:', ID))]), { name: 'TimeoutError' })
  t.true(Date.now() - started < 5000)
  // The runtime still answers afterwards.
  const [answer] = await v2.process(PARAMS, null, [app('echo:alive')])
  t.like(answer, { type: 'applicationMessage', payload: encoder.encode('alive') })
})
