// The host side of Freenet's contract and delegate ABI in JavaScript, on
// Node's own WebAssembly: what a Node user would write to run a contract or
// a delegate on V8, and the comparison for wasm-engine/freenet in
// `npm run bench`. It follows freenet-core's protocol (a fresh instance per
// operation, one buffer per input, streamed for contracts that import
// freenet_contract_io) and decodes only what `validate_state` answers and
// what a delegate's `process` needs to route its messages.
import { randomFillSync } from 'node:crypto'

const STREAM_CHUNK = 64 * 1024
let nextId = 1

/** The imports contracts and delegates share: log (discarded), rand and time (zero), over the memory `buffer()` returns. */
function hostImports(buffer) {
  return {
    freenet_log: { __frnt__logger__info() {} },
    freenet_rand: {
      __frnt__rand__rand_bytes(_id, ptr, len) {
        randomFillSync(new Uint8Array(buffer(), Number(ptr), len))
      },
    },
    freenet_time: {
      __frnt__time__utc_now(_id, ptr) {
        new Uint8Array(buffer(), Number(ptr), 12).fill(0)
      },
    },
  }
}

export class V8Contract {
  #module
  #streaming

  constructor(bytes) {
    this.#module = new WebAssembly.Module(bytes)
    this.#streaming = WebAssembly.Module.imports(this.#module).some((i) => i.module === 'freenet_contract_io')
  }

  /** `validate_state(parameters, state, related)` on a fresh instance: 'valid', 'invalid' or 'requestRelated'. */
  validateState(parameters, state, related) {
    let exports
    const pending = new Map()
    const view = () => new DataView(exports.memory.buffer)
    const imports = {
      ...hostImports(() => exports.memory.buffer),
      freenet_contract_io: {
        __frnt__fill_buffer(_id, at) {
          const rest = pending.get(at)
          if (rest === undefined || rest.length === 0) return 0
          const dv = view()
          const buffer = Number(at)
          const start = Number(dv.getBigInt64(buffer, true))
          const chunk = rest.subarray(0, dv.getUint32(buffer + 8, true))
          new Uint8Array(exports.memory.buffer).set(chunk, start)
          dv.setUint32(Number(dv.getBigInt64(buffer + 16, true)), 0, true)
          dv.setUint32(Number(dv.getBigInt64(buffer + 24, true)), chunk.length, true)
          pending.set(at, rest.subarray(chunk.length))
          return chunk.length
        },
      },
    }
    exports = new WebAssembly.Instance(this.#module, imports).exports
    exports.__frnt_set_id(BigInt(nextId++))
    const need = parameters.length + state.length + related.length
    const have = exports.memory.buffer.byteLength
    if (need > have) exports.memory.grow(Math.ceil((need - have) / 65536))
    const write = (data) => {
      const streaming = this.#streaming
      const capacity = streaming ? Math.min(STREAM_CHUNK, data.length + 4) : data.length
      const at = exports.__frnt__initiate_buffer(capacity)
      const dv = view()
      const buffer = Number(at)
      const start = Number(dv.getBigInt64(buffer, true))
      const memory = new Uint8Array(exports.memory.buffer)
      let sent = data.length
      if (streaming) {
        sent = capacity - 4
        dv.setUint32(start, data.length, true)
        memory.set(data.subarray(0, sent), start + 4)
        if (sent < data.length) pending.set(at, data.subarray(sent))
      } else {
        memory.set(data, start)
      }
      dv.setUint32(Number(dv.getBigInt64(buffer + 24, true)), capacity, true)
      return at
    }
    const result = Number(exports.validate_state(write(parameters), write(state), write(related)))
    const dv = view()
    const ptr = Number(dv.getBigInt64(result, true))
    if (dv.getInt32(result + 8, true) !== 0) throw new Error('validate_state answered with another result kind')
    if (dv.getUint32(ptr, true) !== 0) throw new Error('validate_state failed')
    return ['valid', 'invalid', 'requestRelated'][dv.getUint32(ptr + 4, true)]
  }
}

/** Memory a delegate's instance starts with, as freenet-core asks for. */
const DELEGATE_REQ_BYTES = 4096
/** freenet-stdlib's limit on a delegate context (exclusive). */
const MAX_CONTEXT_BYTES = 4096 * 10 * 10
/** How long (ms) freenet-core 0.2.154 keeps a delegate context after its last write. */
const CONTEXT_TTL_MS = 600_000
/** The delegate imports' codes. */
const NOT_IN_PROCESS = -1
const SECRET_NOT_FOUND = -2
const STORAGE_FAILED = -3
const INVALID_PARAM = -4
const MEMORY_BOUNDS = -7

/** bincode of an `InboundDelegateMsg::ApplicationMessage`: tag, payload, context, processed. */
function encodeApplicationMessage(payload, context, processed) {
  const bytes = new Uint8Array(4 + 8 + payload.length + 8 + context.length + 1)
  const dv = new DataView(bytes.buffer)
  let at = 4 // tag 0
  dv.setBigUint64(at, BigInt(payload.length), true)
  bytes.set(payload, (at += 8))
  dv.setBigUint64((at += payload.length), BigInt(context.length), true)
  bytes.set(context, (at += 8))
  bytes[at + context.length] = processed ? 1 : 0
  return bytes
}

/** A reader of bincode 1 (little-endian, fixed-width integers, `u64` lengths, `u32` tags). */
class Bincode {
  constructor(bytes) {
    this.bytes = bytes
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.at = 0
  }
  u8() {
    return this.dv.getUint8(this.at++)
  }
  u32() {
    const value = this.dv.getUint32(this.at, true)
    this.at += 4
    return value
  }
  /** `n` raw bytes, copied (the instance's memory goes with it). */
  raw(n) {
    if (this.at + n > this.bytes.length) throw new RangeError('the delegate result ends early')
    const value = this.bytes.slice(this.at, this.at + n)
    this.at += n
    return value
  }
  bytesField() {
    const n = Number(this.dv.getBigUint64(this.at, true))
    this.at += 8
    return this.raw(n)
  }
  bool() {
    return this.u8() !== 0
  }
}

/** The outbound messages of `Result<Vec<OutboundDelegateMsg>, DelegateError>`, as far as routing needs them. */
function decodeOutbound(bytes) {
  const r = new Bincode(bytes)
  if (r.u32() !== 0) {
    const kind = ['deser', 'other'][r.u32()] ?? 'unknown'
    throw new Error(`process failed with the delegate's error ${kind}: ${new TextDecoder().decode(r.bytesField())}`)
  }
  const count = Number(r.dv.getBigUint64(r.at, true))
  r.at += 8
  const messages = []
  for (let i = 0; i < count; i++) {
    const tag = r.u32()
    switch (tag) {
      case 0:
        messages.push({ type: 'applicationMessage', payload: r.bytesField(), context: r.bytesField(), processed: r.bool() })
        break
      case 2:
        messages.push({ type: 'contextUpdated', context: r.bytesField() })
        break
      case 3:
      case 6:
        messages.push({
          type: tag === 3 ? 'getContractRequest' : 'subscribeContractRequest',
          contractId: r.raw(32),
          context: r.bytesField(),
          processed: r.bool(),
        })
        break
      default:
        throw new Error(`process answered outbound variant ${tag}, which this V8 host does not decode`)
    }
  }
  return messages
}

/**
 * A delegate on V8, run as freenet-core runs one `process` call of several
 * messages (`inbound_app_message`): one fresh instance, the running context
 * behind `freenet_delegate_ctx`, each message written as bincode into
 * one-shot buffers, the outbound messages routed (context updates and
 * processed requests move the context; the first message for the outside
 * world and everything after it are returned, that first application
 * message without its context). With `abi: '0.2.154'` the context is kept
 * between calls (for 10 minutes, by parameters), as today's node keeps it.
 * No secret store and no contract states: those imports answer "not found".
 */
export class V8Delegate {
  #module
  #abi
  /** 0.2.154: the kept contexts, by parameters: `{ context, expires }`. */
  #contexts = new Map()

  constructor(bytes, { abi = '0.2.48' } = {}) {
    this.#module = new WebAssembly.Module(bytes)
    this.#abi = abi
  }

  /**
   * `process` over `messages` (`{ type: 'applicationMessage', payload, processed? }`)
   * from `origin` (a 32-byte web app contract id, or `null`): the outbound messages.
   */
  process(parameters, origin, messages) {
    if (messages.length === 0) return []
    const current = this.#abi === '0.2.154'
    // An absent origin is an empty buffer; a web app is `MessageOrigin::WebApp` (tag 0, 32 bytes).
    const originBytes = origin === null ? new Uint8Array(0) : new Uint8Array(36)
    if (origin !== null) originBytes.set(origin, 4)
    const user = current ? Buffer.from(parameters.buffer, parameters.byteOffset, parameters.byteLength).toString('latin1') : undefined
    let context = new Uint8Array(0)
    if (current) {
      const kept = this.#contexts.get(user)
      if (kept !== undefined && kept.expires > Date.now()) context = kept.context
    }
    let exports
    let inProcess = false
    const memory = () => new Uint8Array(exports.memory.buffer)
    const secret = () => (inProcess ? SECRET_NOT_FOUND : NOT_IN_PROCESS)
    const imports = {
      ...hostImports(() => exports.memory.buffer),
      freenet_delegate_ctx: {
        __frnt__delegate__ctx_len: () => (inProcess ? context.length : NOT_IN_PROCESS),
        __frnt__delegate__ctx_read(ptr, len) {
          if (!inProcess) return NOT_IN_PROCESS
          if (len < 0) return INVALID_PARAM
          const n = Math.min(context.length, len)
          if (n === 0) return 0
          const m = memory()
          const at = Number(ptr)
          if (at < 0 || at + n > m.length) return MEMORY_BOUNDS
          m.set(n === context.length ? context : context.subarray(0, n), at)
          return n
        },
        __frnt__delegate__ctx_write(ptr, len) {
          if (!inProcess) return NOT_IN_PROCESS
          if (len < 0) return INVALID_PARAM
          if (len === 0) {
            context = new Uint8Array(0)
            return 0
          }
          const m = memory()
          const at = Number(ptr)
          if (at < 0 || at + len > m.length) return MEMORY_BOUNDS
          context = m.slice(at, at + len)
          return 0
        },
      },
      freenet_delegate_secrets: {
        __frnt__delegate__get_secret_len: secret,
        __frnt__delegate__get_secret: secret,
        __frnt__delegate__set_secret: () => (inProcess ? STORAGE_FAILED : NOT_IN_PROCESS),
        __frnt__delegate__has_secret: () => (inProcess ? 0 : NOT_IN_PROCESS),
        __frnt__delegate__remove_secret: () => (inProcess ? 0 : NOT_IN_PROCESS),
        __frnt__delegate__list_secrets_len: () => (inProcess ? 0 : NOT_IN_PROCESS),
        __frnt__delegate__list_secrets: () => (inProcess ? 0 : NOT_IN_PROCESS),
      },
    }
    exports = new WebAssembly.Instance(this.#module, imports).exports
    exports.__frnt_set_id(BigInt(nextId++))
    const have = exports.memory.buffer.byteLength
    if (have < DELEGATE_REQ_BYTES) exports.memory.grow(Math.ceil((DELEGATE_REQ_BYTES - have) / 65536))
    const write = (data) => {
      const at = exports.__frnt__initiate_buffer(data.length)
      const dv = new DataView(exports.memory.buffer)
      const buffer = Number(at)
      memory().set(data, Number(dv.getBigInt64(buffer, true)))
      dv.setUint32(Number(dv.getBigInt64(buffer + 24, true)), data.length, true)
      return at
    }
    const results = []
    for (const message of messages) {
      if (message.type !== 'applicationMessage') throw new Error(`this V8 host sends only application messages, not ${message.type}`)
      if (context.length >= MAX_CONTEXT_BYTES) throw new Error(`the delegate's context holds ${context.length} bytes`)
      // The running context replaces the one the caller gave.
      const inbound = encodeApplicationMessage(message.payload, context, message.processed ?? false)
      inProcess = true
      let at
      try {
        at = Number(exports.process(write(parameters), write(originBytes), write(inbound)))
      } finally {
        inProcess = false
      }
      const dv = new DataView(exports.memory.buffer)
      const ptr = Number(dv.getBigInt64(at, true))
      const size = dv.getUint32(at + 8, true)
      const outbound = decodeOutbound(new Uint8Array(exports.memory.buffer, ptr, size))
      // Route: context updates and processed requests move the context; the
      // first message for the outside world and all after it are returned.
      for (let i = 0; i < outbound.length; i++) {
        const out = outbound[i]
        if (out.type === 'contextUpdated' || (out.type !== 'applicationMessage' && out.processed)) {
          context = out.context
          continue
        }
        if (out.type === 'applicationMessage') out.context = new Uint8Array(0)
        for (let j = i; j < outbound.length; j++) results.push(outbound[j])
        break
      }
    }
    if (current) {
      // An empty context deletes the entry; one too large is dropped.
      if (context.length === 0 || context.length >= MAX_CONTEXT_BYTES) this.#contexts.delete(user)
      else this.#contexts.set(user, { context, expires: Date.now() + CONTEXT_TTL_MS })
    }
    return results
  }
}
