// The package from CommonJS.
const { WasmEngine, MemoryError } = require('wasm-engine')

const engine = new WasmEngine({ maxMemoryPages: 2 })
const instance = engine.createInstance(engine.compile('(module (memory (export "memory") 1))'), 1n, 0)
engine.writeMemory(instance, 0, Buffer.from('hi'))
let capped = false
try {
  engine.createInstance(engine.compile('(module (memory (export "memory") 1))'), 2n, 3 * 65536)
} catch (err) {
  capped = err instanceof MemoryError
}
console.log(`cjs consumer: ${Buffer.from(engine.readMemory(instance, 0, 2)).toString()} ${capped}`)
engine.close()
