// The package from CommonJS.
const { WasmEngine, MemoryError, watToWasm } = require('wasm-engine')
const { ContractRuntime } = require('wasm-engine/freenet')

const engine = new WasmEngine({ maxMemoryPages: 2 })
const instance = engine.createInstance(engine.compile('(module (memory (export "memory") 1))'), 1n, 0)
engine.writeMemory(instance, 0, Buffer.from('hi'))
let capped = false
try {
  engine.createInstance(engine.compile('(module (memory (export "memory") 1))'), 2n, 3 * 65536)
} catch (err) {
  capped = err instanceof MemoryError
}
// A Freenet contract that answers validate_state with Valid at once.
const contract = new ContractRuntime().loadContract(
  watToWasm(`(module (memory (export "memory") 1)
  (data (i32.const 0) "\\40\\00\\00\\00\\00\\00\\00\\00")
  (data (i32.const 16) "\\28\\00\\00\\00\\00\\00\\00\\00\\2c\\00\\00\\00\\00\\00\\00\\00")
  (data (i32.const 1024) "\\10\\04\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\08\\00\\00\\00")
  (func (export "__frnt__initiate_buffer") (param i32) (result i64) (i32.store (i32.const 8) (local.get 0)) (i64.const 0))
  (func (export "validate_state") (param i64 i64 i64) (result i64) (i64.const 1024)))`),
)
const verdict = contract.validateStateSync(new Uint8Array(), new Uint8Array()).type
console.log(`cjs consumer: ${Buffer.from(engine.readMemory(instance, 0, 2)).toString()} ${capped} ${verdict}`)
engine.close()
