/**
 * `wasm-engine/freenet` contracts: ContractRuntime / Contract over the C test
 * guests in __test__/freenet/guests (log_contract.c, built one-shot and
 * streaming, and liar.c). Read the header comments of those files for the
 * guests' exact behaviour.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import test, { type ExecutionContext } from 'ava'

import {
  EngineClosedError,
  ContractError as IndexContractError,
  MemoryError,
  OutOfGasError,
  RuntimeError,
  TimeoutError,
  WasmEngine,
  WasmError as IndexWasmError,
} from '../index'
import {
  type Contract,
  ContractError,
  type ContractErrorKind,
  ContractRuntime,
  type FreenetHostOptions,
  type RelatedContract,
  type RuntimeConfig,
  type UpdateData,
  type UpdateModification,
  type ValidateResult,
  WasmError,
} from '../lib/freenet'

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const GUESTS = join(__dirname, 'freenet', 'guests', 'build')

/** The bytes of a built test guest. */
function guest(file: string): Uint8Array {
  return readFileSync(join(GUESTS, file))
}

/** UTF-8 bytes of a string. */
function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

/** The log contract's parameters: u32 LE max_len. */
function params(maxLen: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, maxLen, true)
  return out
}

/** A u64 LE (the log contract's summaries). */
function u64(n: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true)
  return out
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

/** `length` bytes of a pattern that differs with `seed` and never repeats with a 64 KiB period. */
function patterned(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (i * 31 + (i >>> 8) * 7 + (i >>> 16) * 13 + seed) & 0xff
  return out
}

/** A 32-byte contract key filled with `fill`. */
function key(fill: number): Uint8Array {
  return new Uint8Array(32).fill(fill)
}

/** A `rel:` delta: the log contract answers with a related-contract request. */
function relDelta(relatedKey: Uint8Array, mode: 0 | 1): Uint8Array {
  return concat(bytes('rel:'), relatedKey, new Uint8Array([mode]))
}

/** A plain copy, so `t.deepEqual` compares bytes and not Buffer vs Uint8Array. */
function plain(value: Uint8Array | null): Uint8Array | null {
  return value === null ? null : Uint8Array.from(value)
}

/** Exact byte equality without printing megabytes on failure. */
function sameBytes(t: ExecutionContext, actual: Uint8Array | null, expected: Uint8Array, what: string) {
  t.true(actual instanceof Uint8Array, `${what} is a Uint8Array`)
  if (!(actual instanceof Uint8Array)) return
  t.is(actual.length, expected.length, `${what}: length`)
  const first = actual.findIndex((byte, i) => byte !== expected[i])
  t.is(first, -1, `${what}: first differing byte`)
}

/** A runtime closed when the test ends. */
function runtime(t: ExecutionContext, config: RuntimeConfig = {}, host: FreenetHostOptions = {}): ContractRuntime {
  const rt = new ContractRuntime(config, host)
  t.teardown(() => rt.close())
  return rt
}

function load(t: ExecutionContext, file: string, config: RuntimeConfig = {}, host: FreenetHostOptions = {}): Contract {
  return runtime(t, config, host).loadContract(guest(file))
}

type Mode = 'sync' | 'async'
const MODES: Mode[] = ['sync', 'async']

/** The four operations of `contract` as promises, run by the `Sync` twins or the asynchronous methods. */
function ops(contract: Contract, mode: Mode) {
  function sync<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve) => {
      const value = run()
      if (value instanceof Promise) throw new Error('a Sync method returned a promise')
      resolve(value)
    })
  }
  function async<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let value: Promise<T>
      try {
        value = run()
      } catch (err) {
        // The guest's failures must reject the promise, not throw from the call.
        reject(new Error(`an asynchronous method threw synchronously: ${err}`, { cause: err }))
        return
      }
      if (!(value instanceof Promise)) throw new Error('an asynchronous method did not return a promise')
      resolve(value)
    })
  }
  if (mode === 'sync') {
    return {
      validate: (p: Uint8Array, s: Uint8Array, related?: RelatedContract[]): Promise<ValidateResult> =>
        sync(() => contract.validateStateSync(p, s, related)),
      update: (p: Uint8Array, s: Uint8Array, updates: UpdateData[]): Promise<UpdateModification> =>
        sync(() => contract.updateStateSync(p, s, updates)),
      summarize: (p: Uint8Array, s: Uint8Array): Promise<Uint8Array> => sync(() => contract.summarizeStateSync(p, s)),
      delta: (p: Uint8Array, s: Uint8Array, summary: Uint8Array): Promise<Uint8Array> =>
        sync(() => contract.getStateDeltaSync(p, s, summary)),
    }
  }
  return {
    validate: (p: Uint8Array, s: Uint8Array, related?: RelatedContract[]): Promise<ValidateResult> =>
      async(() => contract.validateState(p, s, related)),
    update: (p: Uint8Array, s: Uint8Array, updates: UpdateData[]): Promise<UpdateModification> =>
      async(() => contract.updateState(p, s, updates)),
    summarize: (p: Uint8Array, s: Uint8Array): Promise<Uint8Array> => async(() => contract.summarizeState(p, s)),
    delta: (p: Uint8Array, s: Uint8Array, summary: Uint8Array): Promise<Uint8Array> =>
      async(() => contract.getStateDelta(p, s, summary)),
  }
}

/** Asserts that `promise` rejects with a ContractError of `kind` and `reason`. */
async function contractError(
  t: ExecutionContext,
  promise: Promise<unknown>,
  kind: ContractErrorKind,
  reason: string | null,
  what: string,
) {
  const err = await t.throwsAsync(promise, { instanceOf: ContractError }, what)
  if (!err) return
  t.true(err instanceof WasmError, `${what}: a WasmError`)
  t.is(err.name, 'ContractError', what)
  t.is(err.code, 'CONTRACT', what)
  t.is(err.kind, kind, what)
  t.is(err.reason, reason, what)
  t.is(typeof err.instanceId, 'bigint', `${what}: instanceId`)
}

/** Decodes chrono's in-memory `DateTime<Utc>` (yof, secs of day, nanos) into its parts. */
function decodeChrono(raw: Uint8Array) {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
  const yof = view.getInt32(0, true)
  const secs = view.getUint32(4, true)
  const nanos = view.getUint32(8, true)
  const year = yof >> 13
  const ordinal = (yof >> 4) & 0x1ff
  const ms = Date.UTC(year, 0, 1) + (ordinal - 1) * 86_400_000 + secs * 1000 + Math.floor(nanos / 1e6)
  return { year, ordinal, secs, nanos, ms }
}

const BUILDS = [
  { build: 'one-shot', file: 'log_contract.wasm', streaming: false },
  { build: 'streaming', file: 'log_contract_streaming.wasm', streaming: true },
] as const

const LIAR = 'liar.wasm'
const PARAMS_MSG = 'parameters must be 4 bytes'

// ---------------------------------------------------------------------------
// The log contract, per build and per mode
// ---------------------------------------------------------------------------

for (const { build, file, streaming } of BUILDS) {
  test(`${build}: contract.streaming is ${streaming} and WasmEngine.moduleHasStreamingIo agrees`, (t) => {
    const contract = load(t, file)
    t.is(contract.streaming, streaming)
    const engine = new WasmEngine()
    t.teardown(() => engine.close())
    t.is(engine.moduleHasStreamingIo(engine.compile(guest(file))), streaming)
  })

  for (const mode of MODES) {
    const name = `${build} ${mode}`

    test(`${name}: validateState answers valid, invalid and requestRelated`, async (t) => {
      const op = ops(load(t, file), mode)
      t.deepEqual(await op.validate(params(10), bytes('abc')), { type: 'valid' })
      t.deepEqual(await op.validate(params(3), bytes('abc')), { type: 'valid' }, 'len == max_len is valid')
      t.deepEqual(await op.validate(params(2), bytes('abc')), { type: 'invalid' }, 'len > max_len is invalid')
      t.deepEqual(await op.validate(params(0), new Uint8Array(0)), { type: 'valid' }, 'empty state')

      const [k1, k2, k3] = [key(1), key(2), key(3)]
      const need = concat(bytes('need:'), k1, k2, k3)
      // Missing keys are requested, in the order the state names them.
      const asked = await op.validate(params(1000), need, [{ key: k2, state: bytes('two') }])
      t.is(asked.type, 'requestRelated')
      if (asked.type === 'requestRelated') {
        t.true(asked.keys.every((k) => k instanceof Uint8Array))
        t.deepEqual(asked.keys.map(plain), [k1, k3])
      }
      // Without related contracts (undefined or []), every key is missing.
      const all = await op.validate(params(1000), need)
      t.deepEqual(all.type === 'requestRelated' ? all.keys.map(plain) : all, [k1, k2, k3])
      t.deepEqual(await op.validate(params(1000), need, []), { type: 'requestRelated', keys: [k1, k2, k3] })
      // A present key whose state is unknown (null) makes the state invalid.
      t.deepEqual(
        await op.validate(params(1000), need, [
          { key: k1, state: bytes('one') },
          { key: k2, state: null },
          { key: k3, state: bytes('three') },
        ]),
        { type: 'invalid' },
      )
      // Every key present with a state: valid.
      t.deepEqual(
        await op.validate(params(1000), need, [
          { key: k3, state: new Uint8Array(0) },
          { key: k1, state: bytes('one') },
          { key: k2, state: bytes('two') },
        ]),
        { type: 'valid' },
      )
    })

    test(`${name}: updateState applies every UpdateData shape, in order`, async (t) => {
      const op = ops(load(t, file), mode)
      const k = key(9)
      const result = await op.update(params(1000), bytes('ab'), [
        { type: 'delta', delta: bytes('cd') }, // "abcd"
        { type: 'state', state: bytes('X') }, // "X"
        { type: 'stateAndDelta', state: bytes('Y'), delta: bytes('Z') }, // "YZ"
        { type: 'relatedState', relatedTo: k, state: bytes('r') }, // "YZr"
        { type: 'relatedDelta', relatedTo: k, delta: bytes('d') }, // "YZrd"
        { type: 'relatedStateAndDelta', relatedTo: k, state: bytes('s'), delta: bytes('t') }, // "YZrdst"
      ])
      t.true(result.newState instanceof Uint8Array)
      t.deepEqual({ newState: plain(result.newState), related: result.related }, { newState: bytes('YZrdst'), related: [] })
      // Order matters: the same updates reversed give another state.
      const reversed = await op.update(params(1000), bytes('ab'), [
        { type: 'state', state: bytes('X') },
        { type: 'delta', delta: bytes('cd') },
      ])
      t.deepEqual(plain(reversed.newState), bytes('Xcd'))
    })

    test(`${name}: updateState gives newState null when unchanged and related requests in order`, async (t) => {
      const op = ops(load(t, file), mode)
      t.deepEqual(await op.update(params(10), bytes('ab'), [{ type: 'delta', delta: new Uint8Array(0) }]), {
        newState: null,
        related: [],
      })
      t.deepEqual(await op.update(params(10), bytes('ab'), [{ type: 'state', state: bytes('ab') }]), {
        newState: null,
        related: [],
      })

      const [k1, k2] = [key(0xa1), key(0xb2)]
      const both = await op.update(params(10), bytes('ab'), [
        { type: 'delta', delta: relDelta(k1, 0) },
        { type: 'delta', delta: bytes('e') },
        { type: 'delta', delta: relDelta(k2, 1) },
      ])
      t.deepEqual(
        {
          newState: plain(both.newState),
          related: both.related.map(({ key, mode }) => ({ key: plain(key), mode })),
        },
        {
          newState: bytes('abe'),
          related: [
            { key: k1, mode: 'stateOnce' },
            { key: k2, mode: 'stateThenSubscribe' },
          ],
        },
      )
      t.true(both.related.every(({ key }) => key instanceof Uint8Array && key.length === 32))

      // Only related requests: the state is unchanged.
      const onlyRelated = await op.update(params(10), bytes('ab'), [
        { type: 'delta', delta: relDelta(k2, 1) },
        { type: 'delta', delta: relDelta(k1, 1) },
        { type: 'delta', delta: relDelta(k2, 0) },
      ])
      t.is(onlyRelated.newState, null)
      t.deepEqual(
        onlyRelated.related.map(({ key, mode }) => ({ key: plain(key), mode })),
        [
          { key: k2, mode: 'stateThenSubscribe' },
          { key: k1, mode: 'stateThenSubscribe' },
          { key: k2, mode: 'stateOnce' },
        ],
      )
    })

    test(`${name}: summarizeState and getStateDelta`, async (t) => {
      const op = ops(load(t, file), mode)
      const summary = await op.summarize(params(10), bytes('hello'))
      t.true(summary instanceof Uint8Array)
      t.deepEqual(plain(summary), u64(5))
      t.deepEqual(plain(await op.summarize(params(10), new Uint8Array(0))), u64(0))

      const delta = await op.delta(params(10), bytes('hello'), u64(2))
      t.true(delta instanceof Uint8Array)
      t.deepEqual(plain(delta), bytes('llo'))
      t.deepEqual(plain(await op.delta(params(10), bytes('hello'), u64(0))), bytes('hello'))
      t.deepEqual(plain(await op.delta(params(10), bytes('hello'), u64(5))), new Uint8Array(0))
      // The summary of a state gives an empty delta against that state.
      const state = bytes('some state')
      t.is((await op.delta(params(100), state, await op.summarize(params(100), state))).length, 0)
    })

    test(`${name}: every ContractError kind, with its reason`, async (t) => {
      const op = ops(load(t, file), mode)
      const bad = new Uint8Array([1, 2, 3])
      await contractError(t, op.validate(bad, bytes('x')), 'deser', PARAMS_MSG, 'validate, 3-byte params')
      await contractError(t, op.validate(new Uint8Array(5), bytes('x')), 'deser', PARAMS_MSG, 'validate, 5-byte params')
      await contractError(t, op.update(bad, bytes('x'), [{ type: 'delta', delta: bytes('y') }]), 'deser', PARAMS_MSG, 'update')
      await contractError(t, op.summarize(new Uint8Array(0), bytes('x')), 'deser', PARAMS_MSG, 'summarize')
      await contractError(t, op.delta(bad, bytes('x'), u64(0)), 'deser', PARAMS_MSG, 'delta')

      await contractError(t, op.validate(params(100), bytes('other:it broke')), 'other', 'it broke', 'other')
      await contractError(t, op.validate(params(100), bytes('other:')), 'other', '', 'other, empty reason')
      await contractError(t, op.validate(params(100), bytes('bad state')), 'invalidState', null, 'invalidState')
      await contractError(t, op.validate(params(100), concat(bytes('need:'), new Uint8Array(33))), 'invalidState', null, 'need: not 32n')

      await contractError(t, op.update(params(100), bytes('x'), []), 'invalidUpdate', null, 'no updates')
      await contractError(t, op.update(params(2), bytes('x'), [{ type: 'delta', delta: bytes('yz') }]), 'invalidUpdate', null, 'too long')
      await contractError(
        t,
        op.update(params(100), bytes('x'), [
          { type: 'delta', delta: bytes('fine') },
          { type: 'delta', delta: bytes('!why not') },
        ]),
        'invalidUpdateWithInfo',
        'why not',
        'invalidUpdateWithInfo',
      )

      await contractError(t, op.delta(params(100), bytes('abc'), new Uint8Array(7)), 'invalidDelta', null, '7-byte summary')
      await contractError(t, op.delta(params(100), bytes('abc'), u64(4)), 'invalidDelta', null, 'summary past the state')
    })

    test(`${name}: states, deltas and related states past 64 KiB round-trip exactly`, async (t) => {
      const op = ops(load(t, file), mode)
      const any = params(0xffffffff)
      for (const size of [300 * 1024 + 17, 1024 * 1024 + 5]) {
        const a = patterned(size, 1)
        const b = patterned(size - 3, 2)
        // The length arrives intact: validate at the boundary, summarize.
        t.deepEqual(await op.validate(params(size), a), { type: 'valid' })
        t.deepEqual(await op.validate(params(size - 1), a), { type: 'invalid' })
        t.deepEqual(plain(await op.summarize(any, a)), u64(size))
        // The content arrives and comes back intact.
        sameBytes(t, await op.delta(any, a, u64(0)), a, `${size}: delta from 0`)
        sameBytes(t, await op.delta(any, a, u64(65_537)), a.subarray(65_537), `${size}: delta from 65537`)
        sameBytes(t, (await op.update(any, a, [{ type: 'delta', delta: b }])).newState, concat(a, b), `${size}: state + delta`)
        sameBytes(
          t,
          (await op.update(any, new Uint8Array(0), [{ type: 'state', state: b }])).newState,
          b,
          `${size}: state update`,
        )
        sameBytes(
          t,
          (await op.update(any, bytes('x'), [{ type: 'relatedStateAndDelta', relatedTo: key(7), state: a, delta: b }])).newState,
          concat(bytes('x'), a, b),
          `${size}: related state and delta`,
        )
        // A large related state is decoded exactly: the entries after it are found.
        const [k1, k2, k3] = [key(1), key(2), key(3)]
        const related = [
          { key: k1, state: a },
          { key: k2, state: null },
        ]
        t.deepEqual(await op.validate(any, concat(bytes('need:'), k1), related), { type: 'valid' })
        t.deepEqual(await op.validate(any, concat(bytes('need:'), k1, k2), related), { type: 'invalid' })
        t.deepEqual(await op.validate(any, concat(bytes('need:'), k1, k3), related), { type: 'requestRelated', keys: [k3] })
      }
    })

    test(`${name}: the clock hook sets what utc_now reports, exactly`, async (t) => {
      // 2024-01-02T03:04:05.123Z in chrono's layout: yof = 2024 << 13 | 2 << 4 | 0o06 (GF, leap year
      // starting on a Monday) = 0x00FD0026; 3*3600 + 4*60 + 5 = 11045 = 0x2B25 s; 123000000 = 0x0754D4C0 ns.
      const expected = new Uint8Array([0x26, 0x00, 0xfd, 0x00, 0x25, 0x2b, 0x00, 0x00, 0xc0, 0xd4, 0x54, 0x07])
      const date = new Date('2024-01-02T03:04:05.123Z')
      t.deepEqual(decodeChrono(expected), { year: 2024, ordinal: 2, secs: 11045, nanos: 123_000_000, ms: date.getTime() })

      const withDate = ops(load(t, file, {}, { clock: () => new Date('2024-01-02T03:04:05.123Z') }), mode)
      t.deepEqual(plain(await withDate.summarize(params(10), bytes('time'))), expected)
      const withNumber = ops(load(t, file, {}, { clock: () => date.getTime() }), mode)
      t.deepEqual(plain(await withNumber.summarize(params(10), bytes('time'))), expected, 'a clock may return milliseconds')

      // Read at each operation.
      let now = Date.UTC(2030, 5, 15, 12, 0, 0, 250)
      const ticking = ops(load(t, file, {}, { clock: () => now }), mode)
      const first = decodeChrono(await ticking.summarize(params(10), bytes('time')))
      now += 86_400_000 + 1500
      const second = decodeChrono(await ticking.summarize(params(10), bytes('time')))
      t.is(first.ms, Date.UTC(2030, 5, 15, 12, 0, 0, 250))
      t.is(second.ms, now)
    })

    test(`${name}: without a clock, utc_now reports the system time`, async (t) => {
      const op = ops(load(t, file), mode)
      const before = new Date()
      const raw = await op.summarize(params(10), bytes('time'))
      const after = new Date()
      t.is(raw.length, 12)
      const decoded = decodeChrono(raw)
      t.true(decoded.year === before.getUTCFullYear() || decoded.year === after.getUTCFullYear(), `year ${decoded.year}`)
      t.true(decoded.ms >= before.getTime() - 1000 && decoded.ms <= after.getTime() + 1000, `decoded ${new Date(decoded.ms).toISOString()}`)
    })

    test(`${name}: rand fills 16 fresh random bytes each call`, async (t) => {
      const op = ops(load(t, file), mode)
      const a = plain(await op.summarize(params(10), bytes('rand')))
      const b = plain(await op.summarize(params(10), bytes('rand')))
      t.is(a?.length, 16)
      t.is(b?.length, 16)
      t.notDeepEqual(a, b)
      t.notDeepEqual(a, new Uint8Array(16))
    })

    test(`${name}: wrong arguments are TypeErrors naming the value`, async (t) => {
      const contract = load(t, file)
      // Called directly: an asynchronous method may throw a TypeError at once or reject with it.
      const op = {
        validate: (p: Uint8Array, s: Uint8Array, related?: RelatedContract[]) =>
          mode === 'sync' ? contract.validateStateSync(p, s, related) : contract.validateState(p, s, related),
        update: (p: Uint8Array, s: Uint8Array, updates: UpdateData[]) =>
          mode === 'sync' ? contract.updateStateSync(p, s, updates) : contract.updateState(p, s, updates),
        summarize: (p: Uint8Array, s: Uint8Array) => (mode === 'sync' ? contract.summarizeStateSync(p, s) : contract.summarizeState(p, s)),
      }
      const typeError = (run: () => unknown, message: RegExp) =>
        t.throwsAsync(async () => run(), { instanceOf: TypeError, message })

      await typeError(() => op.validate(params(10), bytes('x'), [{ key: new Uint8Array(31), state: null }]), /related\[0\]\.key/)
      await typeError(
        () =>
          op.validate(params(10), bytes('x'), [
            { key: key(1), state: null },
            { key: new Uint8Array(33), state: bytes('s') },
          ]),
        /related\[1\]\.key/,
      )
      await typeError(
        () => op.update(params(10), bytes('x'), [{ type: 'bogus', delta: bytes('y') } as unknown as UpdateData]),
        /bogus/,
      )
      await typeError(
        () => op.update(params(10), bytes('x'), [{ type: 'bogus', delta: bytes('y') } as unknown as UpdateData]),
        /updates\[0\]\.type/,
      )
      await typeError(
        () => op.update(params(10), bytes('x'), [{ type: 'relatedDelta', relatedTo: new Uint8Array(4), delta: bytes('y') }]),
        /updates\[0\]\.relatedTo/,
      )
      for (const wrong of ['abcd', 1234, [1, 2, 3, 4], new Uint16Array(2), null, undefined]) {
        await typeError(() => op.validate(wrong as unknown as Uint8Array, bytes('x')), /parameters/)
        await typeError(() => op.summarize(wrong as unknown as Uint8Array, bytes('x')), /parameters/)
      }
      await typeError(() => op.summarize(params(10), 'state' as unknown as Uint8Array), /state/)
      // The contract still answers.
      t.deepEqual(await op.validate(params(10), bytes('x')), { type: 'valid' })
    })

    test(`${name}: log lines arrive in order, with a bigint instanceId, before the operation settles`, async (t) => {
      const events: string[] = []
      const ids: bigint[] = []
      const contract = load(t, file, {}, {
        log: (message, context) => {
          events.push(`log:${message}`)
          ids.push(context.instanceId)
        },
      })
      const op = ops(contract, mode)
      for (const word of ['first', 'second', 'héllo ✓']) {
        t.deepEqual(await op.validate(params(100), bytes(`log:${word}`)), { type: 'valid' })
        events.push('settled')
      }
      t.deepEqual(events, ['log:first', 'settled', 'log:second', 'settled', 'log:héllo ✓', 'settled'])
      t.true(ids.every((id) => typeof id === 'bigint'))
      t.is(new Set(ids).size, 3, 'one instance per operation')
      // Operations that log nothing call nothing.
      await op.validate(params(100), bytes('quiet'))
      t.is(events.length, 6)
    })

    test(`${name}: a throwing log hook does not lose the result`, async (t) => {
      let calls = 0
      const op = ops(
        load(t, file, {}, {
          log: () => {
            calls++
            throw new Error('the logger broke')
          },
        }),
        mode,
      )
      t.deepEqual(await op.validate(params(100), bytes('log:one')), { type: 'valid' })
      t.deepEqual(await op.validate(params(3), bytes('log:two')), { type: 'invalid' })
      t.is(calls, 2)
    })

    test(`${name}: log lines arrive also when the operation fails after logging`, async (t) => {
      // With 4 pages, a large enough state leaves no room for the result the
      // contract allocates after logging: find the largest state that is still logged.
      const logs: string[] = []
      const contract = load(t, file, { maxMemoryPages: 4 }, { log: (message) => logs.push(message) })
      const state = (size: number) => concat(bytes('log:squeezed'), new Uint8Array(size - 12))
      const logged = (size: number) => {
        logs.length = 0
        try {
          contract.validateStateSync(params(0xffffffff), state(size))
        } catch {}
        return logs.length > 0
      }
      let [lo, hi] = [64, 4 * 65536]
      t.true(logged(lo))
      t.false(logged(hi))
      while (hi - lo > 1) {
        const mid = (lo + hi) >>> 1
        if (logged(mid)) lo = mid
        else hi = mid
      }

      const events: string[] = []
      logs.length = 0
      if (mode === 'sync') {
        try {
          contract.validateStateSync(params(0xffffffff), state(lo))
          events.push('returned')
        } catch (err) {
          events.push(err instanceof RuntimeError ? 'threw RuntimeError' : `threw ${err}`)
        }
      } else {
        await contract.validateState(params(0xffffffff), state(lo)).then(
          () => events.push('resolved'),
          (err) => events.push(err instanceof RuntimeError ? 'rejected RuntimeError' : `rejected ${err}`),
        )
      }
      const failed = mode === 'sync' ? 'threw RuntimeError' : 'rejected RuntimeError'
      // The line is the whole rest of the state: "squeezed" and the zero bytes after it.
      t.is(logs[0]?.length, lo - 4)
      t.deepEqual([...logs.map((line) => `log:${line.replace(/\0+$/, '')}`), ...events], ['log:squeezed', failed])
    })
  }

  test(`${build}: log lines of concurrent operations each arrive before their own promise settles`, async (t) => {
    const events: string[] = []
    const contract = load(t, file, {}, { log: (message) => events.push(`log ${message}`) })
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        contract.validateState(params(100), bytes(`log:${i}`)).then((verdict) => {
          t.deepEqual(verdict, { type: 'valid' })
          events.push(`settled ${i}`)
        }),
      ),
    )
    for (let i = 0; i < 8; i++) {
      const logAt = events.indexOf(`log ${i}`)
      t.true(logAt >= 0 && logAt < events.indexOf(`settled ${i}`), `operation ${i}: ${events.join(', ')}`)
    }
  })

  test(`${build}: the log hook is called before a sync operation returns`, (t) => {
    const events: string[] = []
    const contract = load(t, file, {}, { log: (message) => events.push(`log ${message}`) })
    t.deepEqual(contract.validateStateSync(params(100), bytes('log:now')), { type: 'valid' })
    events.push('returned')
    t.deepEqual(events, ['log now', 'returned'])
  })
}

// ---------------------------------------------------------------------------
// The liar: broken ABI answers are typed errors, never a crash
// ---------------------------------------------------------------------------

type Expectation = { error: 'memory' } | { error: 'contract'; kind: ContractErrorKind } | { error: 'host'; importName: string }

const LIES: Record<string, Expectation> = {
  o: { error: 'memory' }, // result struct beyond memory
  y: { error: 'memory' }, // negative result struct address
  p: { error: 'memory' }, // payload runs past the end of memory
  z: { error: 'memory' }, // payload at a negative address
  h: { error: 'memory' }, // payload size 0xFFFFFFFF
  k: { error: 'contract', kind: 'deser' }, // result of the wrong kind
  t: { error: 'contract', kind: 'other' }, // Result tag 7
  u: { error: 'contract', kind: 'other' }, // truncated payload
  l: { error: 'host', importName: 'freenet_log' }, // log from beyond memory
  r: { error: 'host', importName: 'freenet_rand' }, // 0x7fffffff random bytes
  n: { error: 'host', importName: 'freenet_time' }, // utc_now to beyond memory
}

for (const mode of MODES) {
  test(`liar ${mode}: every broken answer is a typed error and the runtime keeps working`, async (t) => {
    const op = ops(load(t, LIAR, {}, { log: () => {} }), mode)
    for (const [letter, expected] of Object.entries(LIES)) {
      for (const [exportName, run] of [
        ['validate_state', () => op.validate(bytes(letter), bytes('state'))],
        ['summarize_state', () => op.summarize(bytes(letter), bytes('state'))],
      ] as const) {
        const what = `'${letter}' from ${exportName}`
        const err = await t.throwsAsync(run(), { instanceOf: WasmError }, what)
        if (!err) continue
        t.is(typeof err.instanceId, 'bigint', `${what}: instanceId`)
        switch (expected.error) {
          case 'memory':
            t.true(err instanceof MemoryError, `${what}: ${err}`)
            t.is(err.code, 'MEMORY', what)
            break
          case 'contract':
            t.true(err instanceof ContractError, `${what}: ${err}`)
            t.is(err.code, 'CONTRACT', what)
            t.is((err as ContractError).kind, expected.kind, what)
            if (expected.kind === 'other') {
              const reason = (err as ContractError).reason
              t.true(typeof reason === 'string' && reason.length > 0, `${what}: bincode's message as the reason`)
            }
            break
          case 'host':
            t.true(err instanceof RuntimeError, `${what}: ${err}`)
            t.is(err.code, 'RUNTIME', what)
            t.true(err.message.includes(expected.importName), `${what}: ${err.message}`)
            t.is((err as RuntimeError).trapCode, undefined, what)
            t.is(err.exportName, exportName, what)
            break
        }
      }
    }
    const trap = await t.throwsAsync(op.validate(bytes('x'), bytes('state')), { instanceOf: RuntimeError })
    t.is(trap?.trapCode, 'unreachable_code_reached')
    t.is(trap?.exportName, 'validate_state')
    t.is(typeof trap?.instanceId, 'bigint')
    const trap2 = await t.throwsAsync(op.summarize(bytes('x'), bytes('state')), { instanceOf: RuntimeError })
    t.is(trap2?.trapCode, 'unreachable_code_reached')
    t.is(trap2?.exportName, 'summarize_state')

    // Honest answers afterwards, from the same runtime.
    t.deepEqual(await op.validate(bytes('v'), bytes('state')), { type: 'valid' })
    t.deepEqual(await op.validate(new Uint8Array(0), bytes('state')), { type: 'valid' })
    t.deepEqual(plain(await op.summarize(bytes('v'), bytes('state'))), u64(5))
    t.deepEqual(await op.update(bytes('o'), bytes('state'), [{ type: 'delta', delta: bytes('d') }]), { newState: null, related: [] })
    t.deepEqual(plain(await op.delta(bytes('o'), bytes('state'), u64(0))), new Uint8Array(0))
  })

  test(`liar ${mode}: an endless loop is stopped with TimeoutError and the runtime still works`, async (t) => {
    const op = ops(load(t, LIAR, { maxExecutionSeconds: 0.2 }), mode)
    const started = performance.now()
    await t.throwsAsync(op.validate(bytes('g'), bytes('state')), { instanceOf: TimeoutError })
    await t.throwsAsync(op.summarize(bytes('g'), bytes('state')), { instanceOf: TimeoutError })
    t.true(performance.now() - started < 5000, 'stopped near the deadline')
    t.deepEqual(await op.validate(bytes('v'), bytes('state')), { type: 'valid' })
  })

  test(`liar ${mode}: an endless loop runs out of fuel with metering on`, async (t) => {
    const op = ops(load(t, LIAR, { enableMetering: true, maxExecutionSeconds: 0.5, cpuCyclesPerSecond: 1e6 }), mode)
    const err = await t.throwsAsync(op.validate(bytes('g'), bytes('state')), { instanceOf: OutOfGasError })
    t.is(err?.code, 'OUT_OF_GAS')
    await t.throwsAsync(op.summarize(bytes('g'), bytes('state')), { instanceOf: OutOfGasError })
    // Fuel is reset for each operation.
    t.deepEqual(await op.validate(bytes('v'), bytes('state')), { type: 'valid' })
  })

  test(`liar ${mode}: memory growth past maxMemoryPages is refused to the guest, which still answers`, async (t) => {
    const op = ops(load(t, LIAR, { maxMemoryPages: 64 }), mode)
    t.deepEqual(await op.validate(bytes('m'), bytes('state')), { type: 'valid' })
    t.deepEqual(plain(await op.summarize(bytes('m'), bytes('state'))), u64(5))
  })
}

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

test('ContractError and WasmError of wasm-engine/freenet are the classes of wasm-engine', (t) => {
  t.is(ContractError, IndexContractError)
  t.is(WasmError, IndexWasmError)
  t.true(ContractError.prototype instanceof WasmError)
})

test('host options are checked', (t) => {
  t.throws(() => new ContractRuntime({}, { log: 'no' as unknown as FreenetHostOptions['log'] }), { instanceOf: TypeError, message: /log/ })
  t.throws(() => new ContractRuntime({}, { clock: 5 as unknown as FreenetHostOptions['clock'] }), { instanceOf: TypeError, message: /clock/ })
})

for (const { build, file, streaming } of BUILDS) {
  test(`${build}: operations after close() fail with EngineClosedError`, async (t) => {
    const rt = new ContractRuntime()
    const contract = rt.loadContract(guest(file))
    t.deepEqual(contract.validateStateSync(params(10), bytes('x')), { type: 'valid' })
    rt.close()
    t.notThrows(() => rt.close(), 'close() is idempotent')

    t.throws(() => contract.validateStateSync(params(10), bytes('x')), { instanceOf: EngineClosedError })
    t.throws(() => contract.updateStateSync(params(10), bytes('x'), [{ type: 'delta', delta: bytes('y') }]), {
      instanceOf: EngineClosedError,
    })
    t.throws(() => contract.summarizeStateSync(params(10), bytes('x')), { instanceOf: EngineClosedError })
    t.throws(() => contract.getStateDeltaSync(params(10), bytes('x'), u64(0)), { instanceOf: EngineClosedError })
    await t.throwsAsync(async () => contract.validateState(params(10), bytes('x')), { instanceOf: EngineClosedError })
    await t.throwsAsync(async () => contract.updateState(params(10), bytes('x'), [{ type: 'delta', delta: bytes('y') }]), {
      instanceOf: EngineClosedError,
    })
    await t.throwsAsync(async () => contract.summarizeState(params(10), bytes('x')), { instanceOf: EngineClosedError })
    await t.throwsAsync(async () => contract.getStateDelta(params(10), bytes('x'), u64(0)), { instanceOf: EngineClosedError })
    t.throws(() => rt.loadContract(guest(file)), { instanceOf: EngineClosedError })
    await t.throwsAsync(async () => rt.loadContractAsync(guest(file)), { instanceOf: EngineClosedError })
  })

  test(`${build}: [Symbol.dispose] closes the runtime`, (t) => {
    const rt = new ContractRuntime()
    const contract = rt.loadContract(guest(file))
    rt[Symbol.dispose]()
    t.throws(() => contract.validateStateSync(params(10), bytes('x')), { instanceOf: EngineClosedError })
  })

  test(`${build}: loadContractAsync gives a working contract`, async (t) => {
    const rt = runtime(t)
    const pending = rt.loadContractAsync(guest(file))
    t.true(pending instanceof Promise)
    const contract = await pending
    t.is(contract.streaming, streaming)
    t.deepEqual(await contract.validateState(params(10), bytes('x')), { type: 'valid' })
    t.deepEqual(contract.validateStateSync(params(0), bytes('x')), { type: 'invalid' })
  })

  test(`${build}: every operation runs on its own instance, dropped afterwards`, async (t) => {
    const rt = runtime(t)
    const contract = rt.loadContract(guest(file))
    const op = ops(contract, 'async')
    t.is(rt.stats().instances, 0)
    await op.validate(params(10), bytes('x'))
    await op.update(params(10), bytes('x'), [{ type: 'delta', delta: bytes('y') }])
    await op.summarize(params(10), bytes('x'))
    await op.delta(params(10), bytes('x'), u64(0))
    contract.validateStateSync(params(10), bytes('x'))
    contract.summarizeStateSync(params(10), bytes('rand'))
    await t.throwsAsync(op.validate(params(10), bytes('other:fail')), { instanceOf: ContractError })
    t.throws(() => contract.getStateDeltaSync(params(10), bytes('x'), u64(9)), { instanceOf: ContractError })
    t.is(rt.stats().instances, 0)
    t.is(rt.stats().queued, 0)
  })

  test(`${build}: 200 sequential and 200 concurrent asynchronous validations all resolve correctly`, async (t) => {
    const rt = runtime(t)
    const contract = rt.loadContract(guest(file))
    const expected = (i: number): ValidateResult => ({ type: i <= 100 ? 'valid' : 'invalid' })
    for (let i = 0; i < 200; i++) {
      t.deepEqual(await contract.validateState(params(100), new Uint8Array(i).fill(i)), expected(i), `sequential ${i}`)
    }
    const pending = Array.from({ length: 200 }, (_, i) => contract.validateState(params(100), new Uint8Array(i).fill(i)))
    t.true(pending.every((promise) => promise instanceof Promise))
    const results = await Promise.all(pending)
    results.forEach((verdict, i) => t.deepEqual(verdict, expected(i), `concurrent ${i}`))
    t.is(rt.stats().instances, 0)
    t.is(rt.stats().queued, 0)
  })
}
