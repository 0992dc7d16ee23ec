// The host side of Freenet's contract ABI in JavaScript, on Node's own
// WebAssembly: what a Node user would write to run a contract on V8, and
// the comparison for wasm-engine/freenet in `npm run bench`. It follows
// freenet-core's protocol (a fresh instance per operation, one buffer per
// input, streamed for modules that import freenet_contract_io) and decodes
// only what `validate_state` answers.
import { randomFillSync } from 'node:crypto'

const STREAM_CHUNK = 64 * 1024
let nextId = 1

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
      freenet_log: { __frnt__logger__info() {} },
      freenet_rand: {
        __frnt__rand__rand_bytes(_id, ptr, len) {
          randomFillSync(new Uint8Array(exports.memory.buffer, Number(ptr), len))
        },
      },
      freenet_time: {
        __frnt__time__utc_now(_id, ptr) {
          new Uint8Array(exports.memory.buffer, Number(ptr), 12).fill(0)
        },
      },
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
