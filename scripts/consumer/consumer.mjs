// The package from an ES module.
import { WasmEngine, TimeoutError, WASM_PAGE_SIZE } from 'wasm-engine'

const engine = new WasmEngine({ maxExecutionSeconds: 0.1 })
const instance = engine.createInstance(
  engine.compile('(module (memory (export "memory") 1) (func (export "spin") (param i64 i64 i64) (result i64) (loop $l (br $l)) (i64.const 0)))'),
  1n,
  0,
)
const timedOut = await engine.call3i64Blocking(instance, 'spin', 0n, 0n, 0n).catch((err) => err instanceof TimeoutError)
console.log(`esm consumer: ${engine.memoryInfo(instance).size === WASM_PAGE_SIZE} ${timedOut}`)
engine.close()
