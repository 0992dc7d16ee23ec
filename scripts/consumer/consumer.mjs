// The package from an ES module.
import { WasmEngine, TimeoutError, WASM_PAGE_SIZE } from 'wasm-engine'
import { ContractRuntime, ContractError } from 'wasm-engine/freenet'

const engine = new WasmEngine({ maxExecutionSeconds: 0.1 })
const instance = engine.createInstance(
  engine.compile('(module (memory (export "memory") 1) (func (export "spin") (param i64 i64 i64) (result i64) (loop $l (br $l)) (i64.const 0)))'),
  1n,
  0,
)
const timedOut = await engine.call3i64Blocking(instance, 'spin', 0n, 0n, 0n).catch((err) => err instanceof TimeoutError)
// An empty module is no contract: a typed error (it has no memory for the
// inputs), not a ContractError.
const runtime = new ContractRuntime()
const notAContract = await runtime
  .loadContract(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))
  .validateState(new Uint8Array(), new Uint8Array())
  .then(
    () => 'answered',
    (err) => (err instanceof ContractError ? 'ContractError' : err.name),
  )
runtime.close()
console.log(`esm consumer: ${engine.memoryInfo(instance).size === WASM_PAGE_SIZE} ${timedOut} ${notAContract}`)
engine.close()
