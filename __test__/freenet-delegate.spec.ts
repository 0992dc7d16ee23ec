/**
 * `wasm-engine/freenet` delegates: ContractRuntime.loadDelegate / Delegate
 * over the C test guests in __test__/freenet/guests (delegate.c and
 * delegate_v2.c; their header comments give the exact command language).
 *
 * The expected answers are freenet-core 0.2.48's `inbound_app_message`:
 * one instance per process call, a running context that starts empty and
 * replaces each application message's own, `contextUpdated` and processed
 * requests applied (not returned), the first message for the outside world
 * and everything after it returned, unprocessed delegate messages carrying
 * the real sender. Return codes of the host imports are Freenet's
 * (docs/freenet-abi.md §1.5–§2).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import test, { type ExecutionContext } from 'ava'

import { EngineClosedError } from '../index'
import {
  ContractError,
  type ContractErrorKind,
  ContractRuntime,
  type Delegate,
  type DelegateKey,
  type FreenetHostOptions,
  type InboundDelegateMsg,
  type MessageOrigin,
  type OutboundDelegateMsg,
  type RuntimeConfig,
  WasmError,
} from '../lib/freenet'

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const GUESTS = join(__dirname, 'freenet', 'guests', 'build')
const DELEGATE = 'delegate.wasm'
const DELEGATE_V2 = 'delegate_v2.wasm'

/** The bytes of a built test guest. */
function guest(file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(GUESTS, file)))
}

/** UTF-8 bytes of a string. */
function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

function asBytes(value: string | Uint8Array): Uint8Array {
  return typeof value === 'string' ? bytes(value) : value
}

/** A u32 little endian (bincode's enum tags). */
function u32le(n: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n, true)
  return out
}

/** 32 bytes, all `fill`. */
function key(fill: number): Uint8Array {
  return new Uint8Array(32).fill(fill)
}

/** A 32-byte id with 32 different bytes (0x00 and ':' included). */
const ID = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 0x3a) & 0xff)
const EMPTY = new Uint8Array(0)
const PARAMS = bytes('params-A')
const OTHER_PARAMS = bytes('params-B')

/** Every byte value once. */
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i)

/** `length` bytes of a pattern that differs with `seed`. */
function patterned(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (i * 31 + (i >>> 8) * 7 + seed) & 0xff
  return out
}

/** An inbound application message carrying `payload` (a command). */
function app(payload: string | Uint8Array, extra: { context?: Uint8Array; processed?: boolean } = {}): InboundDelegateMsg {
  return { type: 'applicationMessage', payload: asBytes(payload), ...extra }
}

/** The guest's reply: an application message with an empty context, processed. */
function reply(payload: string | Uint8Array): OutboundDelegateMsg {
  return { type: 'applicationMessage', payload: asBytes(payload), context: EMPTY, processed: true }
}

/**
 * A deep copy with every Uint8Array (a Buffer too) as a plain Uint8Array,
 * so `t.deepEqual` compares bytes. Arrays of numbers stay arrays, and then
 * do not equal the expected Uint8Array.
 */
function plain<T>(value: T): T {
  if (value instanceof Uint8Array) return Uint8Array.from(value) as T
  if (Array.isArray(value)) return value.map(plain) as T
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)])) as T
  }
  return value
}

function hex(value: Uint8Array): string {
  return Buffer.from(value).toString('hex')
}

/** A runtime closed when the test ends. */
function runtime(t: ExecutionContext, config: RuntimeConfig = {}, host: FreenetHostOptions = {}): ContractRuntime {
  const rt = new ContractRuntime(config, host)
  t.teardown(() => rt.close())
  return rt
}

type Mode = 'sync' | 'async'
const MODES: Mode[] = ['sync', 'async']

type Proc = (parameters: Uint8Array, origin: MessageOrigin | null, messages: InboundDelegateMsg[]) => Promise<OutboundDelegateMsg[]>

/** `process` (async) or `processSync` of `delegate` as a promise of plain outbound messages. */
function runner(delegate: Delegate, mode: Mode): Proc {
  if (mode === 'sync') {
    return (parameters, origin, messages) =>
      new Promise((resolve) => {
        const value = delegate.processSync(parameters, origin, messages)
        if (value instanceof Promise) throw new Error('processSync returned a promise')
        resolve(plain(value))
      })
  }
  return (parameters, origin, messages) =>
    new Promise((resolve, reject) => {
      let value: Promise<OutboundDelegateMsg[]>
      try {
        value = delegate.process(parameters, origin, messages)
      } catch (err) {
        // The delegate's and the engine's failures must reject the promise, not throw from the call.
        reject(new Error(`process threw synchronously: ${err}`, { cause: err }))
        return
      }
      if (!(value instanceof Promise)) throw new Error('process did not return a promise')
      resolve(value.then(plain))
    })
}

interface Setup {
  rt: ContractRuntime
  delegate: Delegate
  proc: Proc
  /** Processes one application message per command, with `parameters` (default PARAMS) and `origin` (default null). */
  run: (commands: (string | Uint8Array)[], parameters?: Uint8Array, origin?: MessageOrigin | null) => Promise<OutboundDelegateMsg[]>
}

function setup(
  t: ExecutionContext,
  mode: Mode,
  options: { file?: string; config?: RuntimeConfig; host?: FreenetHostOptions; rt?: ContractRuntime } = {},
): Setup {
  const rt = options.rt ?? runtime(t, options.config, options.host)
  const delegate = rt.loadDelegate(guest(options.file ?? DELEGATE))
  const proc = runner(delegate, mode)
  const run = (commands: (string | Uint8Array)[], parameters = PARAMS, origin: MessageOrigin | null = null) =>
    proc(parameters, origin, commands.map((command) => app(command)))
  return { rt, delegate, proc, run }
}

/** Asserts that `promise` rejects with a ContractError of `kind` and `reason`. */
async function contractError(t: ExecutionContext, promise: Promise<unknown>, kind: ContractErrorKind, reason: string, what: string) {
  const err = await t.throwsAsync(promise, { instanceOf: ContractError }, what)
  if (!err) return
  t.true(err instanceof WasmError, `${what}: a WasmError`)
  t.is(err.name, 'ContractError', what)
  t.is(err.code, 'CONTRACT', what)
  t.is(err.kind, kind, what)
  t.is(err.reason, reason, what)
  t.is(typeof err.instanceId, 'bigint', `${what}: instanceId`)
}

/** The module with a custom section appended: the same code, another code hash. */
function withCustomSection(code: Uint8Array): Uint8Array {
  const name = bytes('copy')
  const content = concat(Uint8Array.of(name.length), name, bytes('another build'))
  return concat(code, Uint8Array.of(0, content.length), content)
}

// BLAKE3 (hash mode, 32-byte output), to check the key derivation independently.
const B3_IV = Uint32Array.of(0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)
const B3_PERMUTATION = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8]
const [CHUNK_START, CHUNK_END, PARENT, ROOT] = [1, 2, 4, 8]

function b3compress(cv: Uint32Array, block: Uint32Array, counter: number, blockLen: number, flags: number): Uint32Array {
  const s = Uint32Array.of(...cv, B3_IV[0], B3_IV[1], B3_IV[2], B3_IV[3], counter >>> 0, Math.floor(counter / 2 ** 32), blockLen, flags)
  let m = Uint32Array.from(block)
  const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n))
  const g = (a: number, b: number, c: number, d: number, x: number, y: number) => {
    s[a] = s[a] + s[b] + x
    s[d] = rotr(s[d] ^ s[a], 16)
    s[c] = s[c] + s[d]
    s[b] = rotr(s[b] ^ s[c], 12)
    s[a] = s[a] + s[b] + y
    s[d] = rotr(s[d] ^ s[a], 8)
    s[c] = s[c] + s[d]
    s[b] = rotr(s[b] ^ s[c], 7)
  }
  for (let round = 0; round < 7; round++) {
    g(0, 4, 8, 12, m[0], m[1])
    g(1, 5, 9, 13, m[2], m[3])
    g(2, 6, 10, 14, m[4], m[5])
    g(3, 7, 11, 15, m[6], m[7])
    g(0, 5, 10, 15, m[8], m[9])
    g(1, 6, 11, 12, m[10], m[11])
    g(2, 7, 8, 13, m[12], m[13])
    g(3, 4, 9, 14, m[14], m[15])
    const prev = m
    m = Uint32Array.from(B3_PERMUTATION, (i) => prev[i])
  }
  for (let i = 0; i < 8; i++) s[i] ^= s[i + 8]
  return s.slice(0, 8)
}

function b3words(block: Uint8Array): Uint32Array {
  const padded = new Uint8Array(64)
  padded.set(block)
  const view = new DataView(padded.buffer)
  return Uint32Array.from({ length: 16 }, (_, i) => view.getUint32(i * 4, true))
}

function b3node(input: Uint8Array, chunk: number, root: boolean): Uint32Array {
  if (input.length > 1024) {
    let left = 1024
    while (left * 2 < input.length) left *= 2
    const l = b3node(input.subarray(0, left), chunk, false)
    const r = b3node(input.subarray(left), chunk + left / 1024, false)
    return b3compress(B3_IV, Uint32Array.of(...l, ...r), 0, 64, PARENT | (root ? ROOT : 0))
  }
  let cv: Uint32Array = B3_IV
  const blocks = Math.max(1, Math.ceil(input.length / 64))
  for (let i = 0; i < blocks; i++) {
    const block = input.subarray(i * 64, i * 64 + 64)
    const last = i === blocks - 1
    const flags = (i === 0 ? CHUNK_START : 0) | (last ? CHUNK_END : 0) | (last && root ? ROOT : 0)
    cv = b3compress(cv, b3words(block), chunk, block.length, flags)
  }
  return cv
}

function blake3(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(32)
  const view = new DataView(out.buffer)
  b3node(input, 0, true).forEach((word, i) => view.setUint32(i * 4, word, true))
  return out
}

// ---------------------------------------------------------------------------
// Per mode: delegate.c's commands
// ---------------------------------------------------------------------------

for (const mode of MODES) {
  test(`${mode}: echo answers one application message per inbound message, context empty, processed`, async (t) => {
    const { run } = setup(t, mode)
    t.deepEqual(await run(['echo:hi']), [reply('hi')])
    t.deepEqual(await run(['echo:']), [reply('')])
    t.deepEqual(await run([concat(bytes('echo:'), ALL_BYTES)]), [reply(ALL_BYTES)], 'binary payload, NUL bytes included')
    t.deepEqual(await run(['echo:a', 'echo:b', 'echo:c']), [reply('a'), reply('b'), reply('c')], 'results concatenated in order')
  })

  test(`${mode}: the context runs from message to message within one process call`, async (t) => {
    const { run, proc } = setup(t, mode)
    t.deepEqual(await run(['ctx-get', 'ctx-msg']), [reply(''), reply('')], 'starts empty')
    t.deepEqual(await run(['ctx-set:abc', 'ctx-get', 'ctx-msg']), [reply('ok'), reply('abc'), reply('abc')])
    t.deepEqual(await run(['ctx-set:abc', 'ctx-set:xy', 'ctx-get']), [reply('ok'), reply('ok'), reply('xy')], 'replaced, not appended')
    t.deepEqual(await run(['ctx-set:abc', 'ctx-set:', 'ctx-get', 'ctx-msg']), [reply('ok'), reply('ok'), reply(''), reply('')], 'cleared')
    const big = patterned(100_000, 3)
    t.deepEqual(await run([concat(bytes('ctx-set:'), big), 'ctx-get', 'echo:between', 'ctx-msg']), [
      reply('ok'),
      reply(big),
      reply('between'),
      reply(big),
    ])
    // The client's own context on an application message is replaced by the running context.
    t.deepEqual(
      await proc(PARAMS, null, [app('ctx-msg', { context: bytes('client') }), app('ctx-get', { context: bytes('client') })]),
      [reply(''), reply('')],
    )
    t.deepEqual(
      await proc(PARAMS, null, [app('ctx-set:abc'), app('ctx-msg', { context: bytes('client'), processed: true })]),
      [reply('ok'), reply('abc')],
    )
  })

  test(`${mode}: the context is not carried across separate process calls`, async (t) => {
    const { run } = setup(t, mode)
    t.deepEqual(await run(['ctx-set:abc']), [reply('ok')])
    t.deepEqual(await run(['ctx-get', 'ctx-msg']), [reply(''), reply('')])
    t.deepEqual(await run(['ctx-updated:q']), [reply('after')])
    t.deepEqual(await run(['ctx-msg', 'ctx-get']), [reply(''), reply('')])
  })

  test(`${mode}: the running context goes through other inbound variants, and theirs does not replace it`, async (t) => {
    const { proc } = setup(t, mode)
    t.deepEqual(
      await proc(PARAMS, null, [
        app('ctx-set:abc'),
        { type: 'userResponse', requestId: 1, response: bytes('yes'), context: bytes('theirs') },
        app('ctx-get'),
        app('ctx-msg'),
      ]),
      [reply('ok'), reply('got:1'), reply('abc'), reply('abc')],
    )
    t.deepEqual(
      await proc(PARAMS, null, [{ type: 'getContractResponse', contractId: ID, state: null, context: bytes('theirs') }, app('ctx-get')]),
      [reply('got:2'), reply('')],
    )
  })

  test(`${mode}: contextUpdated is applied, not returned, and the next message sees it`, async (t) => {
    const { run } = setup(t, mode)
    t.deepEqual(await run(['ctx-updated:XY']), [reply('after')], 'only the application message after it')
    t.deepEqual(await run(['ctx-updated:XY', 'ctx-get', 'ctx-msg']), [reply('after'), reply('XY'), reply('XY')])
    t.deepEqual(
      await run(['ctx-set:abc', 'ctx-updated:', 'ctx-get', 'ctx-msg']),
      [reply('ok'), reply('after'), reply(''), reply('')],
      'an empty contextUpdated clears the context',
    )
    t.deepEqual(await run(['ctx-updated:one', 'ctx-set:two', 'ctx-msg']), [reply('after'), reply('ok'), reply('two')])
    t.deepEqual(
      await run([concat(bytes('ctx-updated:'), ALL_BYTES), 'ctx-get']),
      [reply('after'), reply(ALL_BYTES)],
      'binary context',
    )
  })

  test(`${mode}: getContractRequest carries the current context and comes back unprocessed`, async (t) => {
    const { run } = setup(t, mode)
    const get = (context: Uint8Array): OutboundDelegateMsg => ({ type: 'getContractRequest', contractId: ID, context, processed: false })
    t.deepEqual(await run([concat(bytes('get:'), ID)]), [get(EMPTY)])
    t.deepEqual(await run(['ctx-set:abc', concat(bytes('get:'), ID)]), [reply('ok'), get(bytes('abc'))])
    t.deepEqual(await run(['ctx-updated:upd', concat(bytes('get:'), ID)]), [reply('after'), get(bytes('upd'))])
    // The later messages of the call still run.
    t.deepEqual(await run([concat(bytes('get:'), ID), 'echo:next']), [get(EMPTY), reply('next')])
    t.deepEqual(await run([concat(bytes('get:'), key(0))]), [
      { type: 'getContractRequest', contractId: key(0), context: EMPTY, processed: false },
    ])
  })

  test(`${mode}: subscribeContractRequest and updateContractRequest come back as the guest wrote them`, async (t) => {
    const { run } = setup(t, mode)
    const subscribe: OutboundDelegateMsg = { type: 'subscribeContractRequest', contractId: ID, context: EMPTY, processed: false }
    t.deepEqual(await run([concat(bytes('subscribe:'), ID)]), [subscribe])
    t.deepEqual(await run(['ctx-set:abc', concat(bytes('subscribe:'), ID)]), [reply('ok'), subscribe], 'its own (empty) context')

    const update = (delta: Uint8Array): OutboundDelegateMsg => ({
      type: 'updateContractRequest',
      contractId: ID,
      update: { type: 'delta', delta },
      context: EMPTY,
      processed: false,
    })
    t.deepEqual(await run([concat(bytes('update:'), ID, bytes('the delta'))]), [update(bytes('the delta'))])
    t.deepEqual(await run([concat(bytes('update:'), ID)]), [update(EMPTY)], 'empty delta')
    t.deepEqual(await run([concat(bytes('update:'), ID, ALL_BYTES), 'echo:next']), [update(ALL_BYTES), reply('next')])
  })

  test(`${mode}: sendDelegateMessage comes back with the sender attested as the delegate's own key`, async (t) => {
    const { run, delegate } = setup(t, mode)
    const target: DelegateKey = { key: key(0x11), codeHash: key(0x22) }
    const send = (parameters: Uint8Array, payload: Uint8Array): OutboundDelegateMsg => ({
      type: 'sendDelegateMessage',
      target,
      sender: plain(delegate.key(parameters)),
      payload,
      context: EMPTY,
      processed: false,
    })
    const command = (payload: Uint8Array) => concat(bytes('send:'), target.key, target.codeHash, payload)
    t.deepEqual(await run([command(bytes('hello'))]), [send(PARAMS, bytes('hello'))])
    t.deepEqual(await run([command(bytes('hello'))], OTHER_PARAMS), [send(OTHER_PARAMS, bytes('hello'))], 'the key with these parameters')
    t.deepEqual(await run([command(EMPTY), 'echo:next']), [send(PARAMS, EMPTY), reply('next')])
    const [out] = await run([command(bytes('x'))])
    t.true(out.type === 'sendDelegateMessage' && hex(out.sender.key) !== hex(key(0)), 'not the all-zero sender the guest wrote')
    t.true(out.type === 'sendDelegateMessage' && hex(out.sender.codeHash) === hex(delegate.codeHash))
  })

  test(`${mode}: "two" answers both application messages, in order`, async (t) => {
    const { run } = setup(t, mode)
    t.deepEqual(await run(['two']), [reply('a'), reply('b')])
    t.deepEqual(await run(['ctx-set:abc', 'two', 'echo:c']), [reply('ok'), reply('a'), reply('b'), reply('c')])
  })

  test(`${mode}: secrets: set, get, get into a small buffer, has and remove, with Freenet's return codes`, async (t) => {
    const { run } = setup(t, mode)
    // Missing.
    t.deepEqual(await run(['secret-get:k', 'secret-get-small:k', 'secret-has:k']), [reply('err:-2'), reply('err:-2'), reply('0')])
    // Set, then read in the same call and in later calls.
    t.deepEqual(await run(['secret-set:k=v1', 'secret-get:k', 'secret-has:k']), [reply('0'), reply('v1'), reply('1')])
    t.deepEqual(await run(['secret-get:k']), [reply('v1')], 'kept across process calls')
    t.deepEqual(await run(['secret-get-small:k']), [reply('err:-6')], '2 bytes into a 1-byte buffer')
    // Overwrite; a value that fits the small buffer exactly.
    t.deepEqual(await run(['secret-set:k=z', 'secret-get:k', 'secret-get-small:k']), [reply('0'), reply('z'), reply('z')])
    // An empty value exists and reads as empty.
    t.deepEqual(await run(['secret-set:k=', 'secret-get:k', 'secret-get-small:k', 'secret-has:k']), [
      reply('0'),
      reply(''),
      reply(''),
      reply('1'),
    ])
    // Split at the first '='.
    t.deepEqual(await run(['secret-set:eq=a=b', 'secret-get:eq', 'secret-get:eq=a']), [reply('0'), reply('a=b'), reply('err:-2')])
    // Remove; removing a missing secret succeeds too.
    t.deepEqual(await run(['secret-del:k', 'secret-get:k', 'secret-has:k', 'secret-get-small:k']), [
      reply('0'),
      reply('err:-2'),
      reply('0'),
      reply('err:-2'),
    ])
    t.deepEqual(await run(['secret-del:k', 'secret-del:never-set']), [reply('0'), reply('0')])
    t.deepEqual(await run(['secret-get:eq']), [reply('a=b')], 'other keys stay')
    // The empty key is a key of its own.
    t.deepEqual(await run(['secret-set:=empty key', 'secret-get:', 'secret-has:', 'secret-has:x']), [
      reply('0'),
      reply('empty key'),
      reply('1'),
      reply('0'),
    ])
    // Binary keys and values, and a large value.
    const binaryKey = Uint8Array.of(0, 1, 0xff, 0x3a)
    const large = patterned(200_000, 9) // the value may hold any byte, '=' included
    t.deepEqual(
      await run([concat(bytes('secret-set:'), binaryKey, bytes('='), ALL_BYTES), concat(bytes('secret-get:'), binaryKey)]),
      [reply('0'), reply(ALL_BYTES)],
    )
    t.deepEqual(await run([concat(bytes('secret-set:big='), large)]), [reply('0')])
    t.deepEqual(await run(['secret-get:big']), [reply(large)])
  })

  test(`${mode}: secrets are scoped by delegate key: other parameters see none of them`, async (t) => {
    const { run } = setup(t, mode)
    t.deepEqual(await run(['secret-set:k=for A'], PARAMS), [reply('0')])
    t.deepEqual(await run(['secret-get:k', 'secret-has:k', 'secret-get-small:k'], OTHER_PARAMS), [
      reply('err:-2'),
      reply('0'),
      reply('err:-2'),
    ])
    t.deepEqual(await run(['secret-get:k'], EMPTY), [reply('err:-2')], 'empty parameters')
    t.deepEqual(await run(['secret-set:k=for B', 'secret-get:k'], OTHER_PARAMS), [reply('0'), reply('for B')])
    t.deepEqual(await run(['secret-get:k'], PARAMS), [reply('for A')], "B's set did not touch A's")
    t.deepEqual(await run(['secret-del:k'], OTHER_PARAMS), [reply('0')])
    t.deepEqual(await run(['secret-get:k'], PARAMS), [reply('for A')], "B's remove did not touch A's")
    t.deepEqual(await run(['secret-get:k'], OTHER_PARAMS), [reply('err:-2')])
  })

  test(`${mode}: secrets are scoped by code: a module with another code hash sees none of them`, async (t) => {
    const rt = runtime(t)
    const a = setup(t, mode, { rt })
    const copy = rt.loadDelegate(withCustomSection(guest(DELEGATE)))
    t.not(hex(copy.codeHash), hex(a.delegate.codeHash))
    const b = runner(copy, mode)
    t.deepEqual(await a.run(['secret-set:k=code A']), [reply('0')])
    t.deepEqual(await b(PARAMS, null, [app('secret-get:k'), app('secret-has:k')]), [reply('err:-2'), reply('0')])
    t.deepEqual(await b(PARAMS, null, [app('secret-set:k=code B'), app('secret-get:k')]), [reply('0'), reply('code B')])
    t.deepEqual(await a.run(['secret-get:k']), [reply('code A')])
  })

  test(`${mode}: secrets are kept per runtime, and shared by every load of the same code in it`, async (t) => {
    const rt = runtime(t)
    const first = setup(t, mode, { rt })
    t.deepEqual(await first.run(['secret-set:k=v1']), [reply('0')])
    const again = setup(t, mode, { rt })
    t.deepEqual(await again.run(['secret-get:k']), [reply('v1')], 'the same delegate key in the same runtime')
    const elsewhere = setup(t, mode)
    t.deepEqual(await elsewhere.run(['secret-get:k', 'secret-has:k']), [reply('err:-2'), reply('0')], 'another runtime')
    t.deepEqual(await elsewhere.run(['secret-set:k=v2']), [reply('0')])
    t.deepEqual(await first.run(['secret-get:k']), [reply('v1')])
  })

  test(`${mode}: a secret set before a failing message of the same call is kept`, async (t) => {
    // freenet-core writes secrets as they are set; a failing call does not roll them back.
    const { run } = setup(t, mode)
    await contractError(t, run(['secret-set:k=kept', 'fail:later']), 'other', 'later', 'the call fails')
    t.deepEqual(await run(['secret-get:k']), [reply('kept')])
  })

  test(`${mode}: origin reaches the guest as bincode of MessageOrigin, and null as an empty buffer`, async (t) => {
    const { run, delegate } = setup(t, mode)
    t.deepEqual(await run(['origin'], PARAMS, null), [reply(EMPTY)])
    const webApp = concat(u32le(0), ID)
    t.is(webApp.length, 36)
    t.deepEqual(await run(['origin'], PARAMS, ID), [reply(webApp)], 'a 32-byte contract id')
    t.deepEqual(await run(['origin', 'origin'], PARAMS, { type: 'webApp', contractId: ID }), [reply(webApp), reply(webApp)])
    const other: DelegateKey = { key: key(0xaa), codeHash: key(0xbb) }
    const fromDelegate = concat(u32le(1), other.key, other.codeHash)
    t.is(fromDelegate.length, 68)
    t.deepEqual(await run(['origin'], PARAMS, { type: 'delegate', key: other }), [reply(fromDelegate)])
    const self = delegate.key(OTHER_PARAMS)
    t.deepEqual(await run(['origin'], PARAMS, { type: 'delegate', key: self }), [reply(concat(u32le(1), self.key, self.codeHash))])
  })

  test(`${mode}: params reaches the guest as the raw parameter bytes`, async (t) => {
    const { run } = setup(t, mode)
    t.deepEqual(await run(['params']), [reply(PARAMS)])
    t.deepEqual(await run(['params'], EMPTY), [reply(EMPTY)])
    t.deepEqual(await run(['params', 'params'], ALL_BYTES), [reply(ALL_BYTES), reply(ALL_BYTES)])
    const large = patterned(70_000, 5)
    t.deepEqual(await run(['params'], large), [reply(large)])
  })

  test(`${mode}: log lines reach the log hook in order; one instance serves a whole process call`, async (t) => {
    const lines: { message: string; instanceId: bigint }[] = []
    const { run } = setup(t, mode, { host: { log: (message, { instanceId }) => lines.push({ message, instanceId }) } })
    t.deepEqual(await run(['log:hello']), [reply('ok')])
    t.deepEqual(
      lines.map((line) => line.message),
      ['hello'],
    )
    t.deepEqual(await run(['log:first', 'echo:x', 'log:second ✓']), [reply('ok'), reply('x'), reply('ok')])
    t.deepEqual(
      lines.map((line) => line.message),
      ['hello', 'first', 'second ✓'],
    )
    t.true(lines.every((line) => typeof line.instanceId === 'bigint'))
    t.is(lines[1].instanceId, lines[2].instanceId, 'the messages of one call share an instance')
    t.not(lines[0].instanceId, lines[1].instanceId, 'each call has its own instance')
    // A log line is delivered also when the call then fails.
    await t.throwsAsync(run(['log:before failing', 'fail:x']), { instanceOf: ContractError })
    t.is(lines.at(-1)?.message, 'before failing')
  })

  test(`${mode}: rand answers n fresh random bytes`, async (t) => {
    const { run } = setup(t, mode)
    const [a, b] = await run(['rand:32', 'rand:32'])
    const [c] = await run(['rand:32'])
    const payloads = [a, b, c].map((m) => (m.type === 'applicationMessage' ? m.payload : EMPTY))
    t.true(payloads.every((p) => p.length === 32))
    t.is(new Set(payloads.map(hex)).size, 3, 'all differ')
    t.false(payloads.some((p) => p.every((byte) => byte === 0)), 'filled by the host')
    t.deepEqual(await run(['rand:0']), [reply(EMPTY)])
    const [big] = await run(['rand:5000'])
    t.true(big.type === 'applicationMessage' && big.payload.length === 5000)
    if (big.type === 'applicationMessage') t.true(new Set(big.payload).size > 200, 'looks random')
    await contractError(t, run(['rand:lots']), 'other', 'rand needs a decimal byte count', 'rand:lots')
  })

  test(`${mode}: time with a clock hook is chrono's DateTime<Utc>, exactly`, async (t) => {
    const expected = Uint8Array.of(0x26, 0x00, 0xfd, 0x00, 0x25, 0x2b, 0x00, 0x00, 0xc0, 0xd4, 0x54, 0x07)
    const withDate = setup(t, mode, { host: { clock: () => new Date('2024-01-02T03:04:05.123Z') } })
    t.deepEqual(await withDate.run(['time']), [reply(expected)])
    const withNumber = setup(t, mode, { host: { clock: () => Date.parse('2024-01-02T03:04:05.123Z') } })
    t.deepEqual(await withNumber.run(['time']), [reply(expected)], 'a clock may return milliseconds')
    // 1970-01-01T00:00:00Z: yof 0x00F6401A, then zeros.
    let now = 0
    const ticking = setup(t, mode, { host: { clock: () => now } })
    t.deepEqual(await ticking.run(['time']), [reply(Uint8Array.of(0x1a, 0x40, 0xf6, 0x00, 0, 0, 0, 0, 0, 0, 0, 0))])
    now = Date.parse('2024-01-02T03:04:05.123Z')
    t.deepEqual(await ticking.run(['time']), [reply(expected)], 'read again for the next call')
  })

  test(`${mode}: time without a clock is the system time`, async (t) => {
    const { run } = setup(t, mode)
    const before = Date.now()
    const [out] = await run(['time'])
    const after = Date.now()
    t.true(out.type === 'applicationMessage' && out.payload.length === 12)
    if (out.type !== 'applicationMessage') return
    const view = new DataView(out.payload.buffer, out.payload.byteOffset, 12)
    const yof = view.getInt32(0, true)
    const ms =
      Date.UTC(yof >> 13, 0, 1) + (((yof >> 4) & 0x1ff) - 1) * 86_400_000 + view.getUint32(4, true) * 1000 + Math.floor(view.getUint32(8, true) / 1e6)
    t.true(ms >= before - 1000 && ms <= after + 1000, new Date(ms).toISOString())
  })

  test(`${mode}: every inbound variant reaches the guest with its tag`, async (t) => {
    const { proc } = setup(t, mode)
    const target: DelegateKey = { key: key(1), codeHash: key(2) }
    const sender: DelegateKey = { key: key(3), codeHash: key(4) }
    const messages: [InboundDelegateMsg, number][] = [
      [{ type: 'userResponse', requestId: 7, response: bytes('yes') }, 1],
      [{ type: 'userResponse', requestId: 0xffffffff, response: EMPTY, context: bytes('c') }, 1],
      [{ type: 'getContractResponse', contractId: ID, state: bytes('state') }, 2],
      [{ type: 'getContractResponse', contractId: ID, state: null, context: bytes('c') }, 2],
      [{ type: 'putContractResponse', contractId: ID }, 3],
      [{ type: 'putContractResponse', contractId: ID, error: null }, 3],
      [{ type: 'putContractResponse', contractId: ID, error: 'it failed', context: bytes('c') }, 3],
      [{ type: 'updateContractResponse', contractId: ID }, 4],
      [{ type: 'updateContractResponse', contractId: ID, error: 'no' }, 4],
      [{ type: 'subscribeContractResponse', contractId: ID }, 5],
      [{ type: 'subscribeContractResponse', contractId: ID, error: 'no' }, 5],
      [{ type: 'contractNotification', contractId: ID, newState: bytes('new') }, 6],
      [{ type: 'contractNotification', contractId: ID, newState: EMPTY, context: bytes('c') }, 6],
      [{ type: 'delegateMessage', target, sender, payload: bytes('hi') }, 7],
      [{ type: 'delegateMessage', target, sender, payload: EMPTY, context: bytes('c'), processed: true }, 7],
    ]
    for (const [message, tag] of messages) {
      t.deepEqual(await proc(PARAMS, null, [message]), [reply(`got:${tag}`)], `${message.type} alone`)
    }
    t.deepEqual(
      await proc(
        PARAMS,
        null,
        messages.map(([message]) => message),
      ),
      messages.map(([, tag]) => reply(`got:${tag}`)),
      'all in one call, in order',
    )
  })

  test(`${mode}: the delegate's errors are ContractErrors of kind other or deser, and fail the whole call`, async (t) => {
    const { run } = setup(t, mode)
    await contractError(t, run(['fail:nope']), 'other', 'nope', 'fail:nope')
    await contractError(t, run(['fail:']), 'other', '', 'fail: (empty reason)')
    await contractError(t, run(['deser']), 'deser', 'deser', 'deser')
    await contractError(t, run(['no such command']), 'other', 'unknown command', 'unknown command')
    await contractError(t, run(['secret-set:no equals sign']), 'other', 'secret-set needs <key>=<value>', 'secret-set without =')
    await contractError(t, run([concat(bytes('get:'), new Uint8Array(31))]), 'other', 'get needs a 32-byte contract id', 'get, 31 bytes')
    await contractError(t, run([concat(bytes('get:'), new Uint8Array(33))]), 'other', 'get needs a 32-byte contract id', 'get, 33 bytes')
    await contractError(
      t,
      run([concat(bytes('subscribe:'), new Uint8Array(31))]),
      'other',
      'subscribe needs a 32-byte contract id',
      'subscribe, 31 bytes',
    )
    await contractError(t, run([concat(bytes('update:'), new Uint8Array(31))]), 'other', 'update needs a 32-byte contract id', 'update')
    await contractError(
      t,
      run([concat(bytes('send:'), new Uint8Array(63))]),
      'other',
      'send needs a 32-byte key and a 32-byte code hash',
      'send, 63 bytes',
    )
    // An error in any message fails the call: the earlier results are dropped.
    await contractError(t, run(['echo:a', 'two', 'fail:third']), 'other', 'third', 'third message fails')
    await contractError(t, run(['echo:a', 'deser', 'echo:c']), 'deser', 'deser', 'second message fails')
    // The delegate still answers.
    t.deepEqual(await run(['echo:still here']), [reply('still here')])
  })

  test(`${mode}: malformed inputs are TypeErrors naming the value, and nothing runs`, async (t) => {
    const lines: string[] = []
    const { delegate, run } = setup(t, mode, { host: { log: (message) => lines.push(message) } })
    // Called directly: the asynchronous method may throw a TypeError at once or reject with it.
    const call = (parameters: unknown, origin: unknown, messages: unknown) =>
      mode === 'sync'
        ? delegate.processSync(parameters as Uint8Array, origin as MessageOrigin, messages as InboundDelegateMsg[])
        : delegate.process(parameters as Uint8Array, origin as MessageOrigin, messages as InboundDelegateMsg[])
    const typeError = (parameters: unknown, origin: unknown, messages: unknown, message: RegExp) =>
      t.throwsAsync(async () => call(parameters, origin, messages), { instanceOf: TypeError, message }, String(message))
    const logFirst = app('log:must not run')

    await typeError(PARAMS, null, [logFirst, { type: 'applicationMessage', payload: 'text' }], /messages\[1\]\.payload/)
    await typeError(PARAMS, null, [logFirst, { type: 'applicationMessage' }], /messages\[1\]\.payload/)
    await typeError(PARAMS, null, [{ type: 'bogus', payload: bytes('x') }], /messages\[0\]\.type/)
    await typeError(PARAMS, null, [{ type: 'bogus', payload: bytes('x') }], /bogus/)
    await typeError(PARAMS, null, [{ payload: bytes('echo:x') }], /messages\[0\]\.type/)
    await typeError(PARAMS, null, [logFirst, 'echo:x'], /messages\[1\]/)
    await typeError(PARAMS, null, 'echo:x', /messages/)
    await typeError(PARAMS, null, [app('echo:x', { context: 'ctx' as unknown as Uint8Array })], /messages\[0\]\.context/)
    await typeError(PARAMS, null, [app('echo:x', { processed: 'yes' as unknown as boolean })], /messages\[0\]\.processed/)
    await typeError(PARAMS, null, [logFirst, { type: 'getContractResponse', contractId: new Uint8Array(31), state: null }], /messages\[1\]\.contractId/)
    await typeError(PARAMS, null, [{ type: 'putContractResponse', contractId: new Uint8Array(33) }], /messages\[0\]\.contractId/)
    await typeError(PARAMS, null, [{ type: 'putContractResponse', contractId: ID, error: 5 }], /messages\[0\]\.error/)
    await typeError(PARAMS, null, [{ type: 'userResponse', requestId: -1, response: EMPTY }], /messages\[0\]\.requestId/)
    await typeError(PARAMS, null, [{ type: 'userResponse', requestId: 'one', response: EMPTY }], /messages\[0\]\.requestId/)
    await typeError(PARAMS, null, [{ type: 'contractNotification', contractId: ID, newState: null }], /messages\[0\]\.newState/)
    await typeError(
      PARAMS,
      null,
      [{ type: 'delegateMessage', target: { key: new Uint8Array(31), codeHash: key(1) }, sender: { key: key(1), codeHash: key(1) }, payload: EMPTY }],
      /messages\[0\]\.target\.key/,
    )
    await typeError(
      PARAMS,
      null,
      [{ type: 'delegateMessage', target: { key: key(1), codeHash: key(1) }, sender: { key: key(1) }, payload: EMPTY }],
      /messages\[0\]\.sender\.codeHash/,
    )
    await typeError(PARAMS, new Uint8Array(31), [logFirst], /origin/)
    await typeError(PARAMS, new Uint8Array(33), [logFirst], /origin/)
    await typeError(PARAMS, 'web app', [logFirst], /origin/)
    await typeError(PARAMS, { type: 'webApp', contractId: new Uint8Array(31) }, [logFirst], /origin\.contractId/)
    await typeError(PARAMS, { type: 'delegate', key: { key: key(1), codeHash: new Uint8Array(31) } }, [logFirst], /origin\.key\.codeHash/)
    await typeError(PARAMS, { type: 'somebody', contractId: ID }, [logFirst], /origin\.type/)
    for (const wrong of ['params', 1234, [1, 2, 3], new Uint16Array(2), null, undefined]) {
      await typeError(wrong, null, [logFirst], /parameters/)
    }
    t.deepEqual(lines, [], 'no message ran')
    // The delegate still answers.
    t.deepEqual(await run(['echo:fine']), [reply('fine')])
  })

  test(`${mode}: an empty message list answers [] without running the delegate`, async (t) => {
    const { proc } = setup(t, mode)
    t.deepEqual(await proc(PARAMS, null, []), [])
    t.deepEqual(await proc(PARAMS, { type: 'webApp', contractId: ID }, []), [])
    // With a memory cap below the module's own memory, an instance cannot even be created.
    const capped = setup(t, mode, { config: { maxMemoryPages: 1 } })
    t.deepEqual(await capped.proc(PARAMS, null, []), [], 'no instance was created')
    await t.throwsAsync(capped.run(['echo:x']), { instanceOf: WasmError }, 'a message does need an instance')
  })

  test(`${mode}: the V2 delegate (freenet_delegate_contracts) answers with Freenet's codes for a runtime without a contract store`, async (t) => {
    const { run, proc } = setup(t, mode, { file: DELEGATE_V2 })
    t.deepEqual(await run(['echo:v2']), [reply('v2')])
    t.deepEqual(
      await run([
        concat(bytes('cget:'), ID),
        concat(bytes('cput:'), ID, bytes('state')),
        concat(bytes('cput:'), ID),
        concat(bytes('cupdate:'), ID, bytes('state')),
        concat(bytes('csub:'), ID),
      ]),
      [reply('err:-7'), reply('-10'), reply('-10'), reply('-10'), reply('-10')],
    )
    t.deepEqual(
      await proc(PARAMS, ID, [
        { type: 'userResponse', requestId: 1, response: EMPTY },
        { type: 'contractNotification', contractId: ID, newState: bytes('s') },
        { type: 'delegateMessage', target: { key: key(1), codeHash: key(2) }, sender: { key: key(3), codeHash: key(4) }, payload: EMPTY },
      ]),
      [reply('got:1'), reply('got:6'), reply('got:7')],
    )
    await contractError(t, run([concat(bytes('cget:'), new Uint8Array(31))]), 'other', 'cget needs a 32-byte contract id', 'cget, 31 bytes')
    await contractError(t, run(['nothing']), 'other', 'unknown command', 'unknown command')
  })

  test(`${mode}: concurrent process calls each keep their own context`, async (t) => {
    const { run } = setup(t, mode)
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => run([`ctx-set:${i}`, 'echo:between', 'ctx-get'])))
    results.forEach((out, i) => t.deepEqual(out, [reply('ok'), reply('between'), reply(`${i}`)], `call ${i}`))
  })

  test(`${mode}: a running context at freenet-stdlib's limit (409,600 bytes) fails the call instead of crashing`, async (t) => {
    const { run, proc } = setup(t, mode)
    const below = patterned(409_599, 1)
    t.deepEqual(await run([concat(bytes('ctx-set:'), below), 'ctx-get']), [reply('ok'), reply(below)])
    const at = patterned(409_600, 2)
    // Only an application message is rebuilt with the running context.
    t.deepEqual(await run([concat(bytes('ctx-set:'), at)]), [reply('ok')])
    t.deepEqual(await proc(PARAMS, null, [app(concat(bytes('ctx-set:'), at)), { type: 'userResponse', requestId: 1, response: EMPTY }]), [
      reply('ok'),
      reply('got:1'),
    ])
    const err = await t.throwsAsync(run([concat(bytes('ctx-set:'), at), 'ctx-get']), { instanceOf: WasmError })
    t.false(err instanceof ContractError, `${err}`)
    t.deepEqual(await run(['echo:after']), [reply('after')])
  })
}

// ---------------------------------------------------------------------------
// Keys, loading, lifecycle
// ---------------------------------------------------------------------------

test('the BLAKE3 used here matches known digests', (t) => {
  t.is(hex(blake3(EMPTY)), 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262')
  t.is(hex(blake3(bytes('abc'))), '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85')
  // freenet-stdlib: code [01 02 03], params [09 08].
  const codeHash = blake3(Uint8Array.of(1, 2, 3))
  t.is(hex(codeHash), 'b177ec1bf26dfb3b7010d473e6d44713b29b765b99c6e60ecbfae742de496543')
  t.is(hex(blake3(concat(codeHash, Uint8Array.of(9, 8)))), 'ff65b55003d20e98dc53c31d7a23763dce1a072261c527ef5542e1196b29b5ba')
})

test('delegate keys: codeHash = blake3(code), key = blake3(codeHash ‖ parameters)', (t) => {
  const rt = runtime(t)
  for (const file of [DELEGATE, DELEGATE_V2]) {
    const code = guest(file)
    const delegate = rt.loadDelegate(code)
    t.true(delegate.codeHash instanceof Uint8Array)
    t.is(delegate.codeHash.length, 32)
    t.is(hex(delegate.codeHash), hex(blake3(code)), `${file}: code hash`)
    const a = delegate.key(PARAMS)
    const b = delegate.key(OTHER_PARAMS)
    for (const k of [a, b]) {
      t.true(k.key instanceof Uint8Array && k.key.length === 32)
      t.is(hex(k.codeHash), hex(delegate.codeHash), `${file}: key(p).codeHash is the code hash`)
    }
    t.not(hex(a.key), hex(b.key), `${file}: other parameters, another key`)
    t.is(hex(a.key), hex(blake3(concat(delegate.codeHash, PARAMS))), `${file}: key`)
    t.is(hex(delegate.key(EMPTY).key), hex(blake3(delegate.codeHash)), `${file}: key with empty parameters`)
    t.is(hex(delegate.key(PARAMS).key), hex(a.key), 'deterministic')
    // The same in another runtime, and for another load.
    const elsewhere = runtime(t).loadDelegate(code)
    t.deepEqual(plain(elsewhere.key(PARAMS)), plain(a))
  }
  const copy = rt.loadDelegate(withCustomSection(guest(DELEGATE)))
  t.not(hex(copy.key(PARAMS).key), hex(rt.loadDelegate(guest(DELEGATE)).key(PARAMS).key), 'other code, another key')
})

test('loadDelegateAsync gives a working delegate', async (t) => {
  const rt = runtime(t)
  const pending = rt.loadDelegateAsync(guest(DELEGATE))
  t.true(pending instanceof Promise)
  const delegate = await pending
  t.is(hex(delegate.codeHash), hex(blake3(guest(DELEGATE))))
  t.deepEqual(plain(await delegate.process(PARAMS, null, [app('echo:async')])), [reply('async')])
  t.deepEqual(plain(delegate.processSync(PARAMS, null, [app('echo:sync')])), [reply('sync')])
  const v2 = await rt.loadDelegateAsync(guest(DELEGATE_V2))
  t.deepEqual(plain(await v2.process(PARAMS, null, [app(concat(bytes('csub:'), ID))])), [reply('-10')])
})

test('sync and async calls share the runtime: secrets set by one are read by the other', async (t) => {
  const rt = runtime(t)
  const delegate = rt.loadDelegate(guest(DELEGATE))
  t.deepEqual(plain(delegate.processSync(PARAMS, null, [app('secret-set:k=from sync')])), [reply('0')])
  t.deepEqual(plain(await delegate.process(PARAMS, null, [app('secret-get:k'), app('secret-set:k=from async')])), [
    reply('from sync'),
    reply('0'),
  ])
  t.deepEqual(plain(delegate.processSync(PARAMS, null, [app('secret-get:k')])), [reply('from async')])
})

test('every process call runs on its own instance, dropped afterwards', async (t) => {
  const rt = runtime(t)
  const delegate = rt.loadDelegate(guest(DELEGATE))
  t.is(rt.stats().instances, 0)
  await delegate.process(PARAMS, null, [app('echo:a'), app('ctx-set:x'), app('ctx-get')])
  delegate.processSync(PARAMS, null, [app('rand:16')])
  await t.throwsAsync(delegate.process(PARAMS, null, [app('echo:a'), app('fail:x')]), { instanceOf: ContractError })
  t.throws(() => delegate.processSync(PARAMS, null, [app('deser')]), { instanceOf: ContractError })
  await Promise.all(Array.from({ length: 16 }, () => delegate.process(PARAMS, null, [app('echo:a')])))
  t.is(rt.stats().instances, 0)
  t.is(rt.stats().queued, 0)
})

for (const file of [DELEGATE, DELEGATE_V2]) {
  test(`${file}: after runtime.close() a loaded delegate fails with EngineClosedError`, async (t) => {
    const rt = new ContractRuntime()
    const delegate = rt.loadDelegate(guest(file))
    t.deepEqual(plain(delegate.processSync(PARAMS, null, [app('echo:x')])), [reply('x')])
    rt.close()
    t.notThrows(() => rt.close(), 'close() is idempotent')

    t.throws(() => delegate.processSync(PARAMS, null, [app('echo:x')]), { instanceOf: EngineClosedError })
    let pending: Promise<unknown> | undefined
    t.notThrows(() => {
      pending = delegate.process(PARAMS, null, [app('echo:x')])
    }, 'process returns a promise')
    t.true(pending instanceof Promise)
    if (pending) await t.throwsAsync(pending, { instanceOf: EngineClosedError })
    t.throws(() => rt.loadDelegate(guest(file)), { instanceOf: EngineClosedError })
    await t.throwsAsync(async () => rt.loadDelegateAsync(guest(file)), { instanceOf: EngineClosedError })
  })
}

test('[Symbol.dispose] closes the runtime for its delegates', async (t) => {
  const rt = new ContractRuntime()
  const delegate = rt.loadDelegate(guest(DELEGATE))
  rt[Symbol.dispose]()
  t.throws(() => delegate.processSync(PARAMS, null, [app('echo:x')]), { instanceOf: EngineClosedError })
  await t.throwsAsync(delegate.process(PARAMS, null, [app('echo:x')]), { instanceOf: EngineClosedError })
})
