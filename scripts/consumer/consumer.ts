// A small strict-mode TypeScript program that uses the installed package the
// way a user would: typed config, host functions, sync and blocking calls,
// typed errors.
import { type Caller, OutOfGasError, RuntimeError, WasmEngine, type WasmValue } from 'wasm-engine'
import { ContractRuntime, type FreenetHostOptions, type ValidateResult } from 'wasm-engine/freenet'

const GUEST = `(module
  (import "env" "double" (func $double (param i64) (result i64)))
  (memory (export "memory") 1)
  (func (export "run") (param i64 i64 i64) (result i64) (call $double (i64.add (local.get 0) (local.get 1))))
  (func (export "spin") (param i64 i64 i64) (result i64) (loop $l (br $l)) (i64.const 0))
  (func (export "trap") (param i64 i64 i64) (result i64) unreachable))`

async function main(): Promise<void> {
  const seen: bigint[] = []
  const engine = new WasmEngine(
    { enableMetering: true, maxExecutionSeconds: 1, cpuCyclesPerSecond: 1_000_000, maxMemoryPages: 16 },
    {
      imports: {
        env: {
          double: (caller: Caller, value: WasmValue): bigint => {
            seen.push(caller.instanceId)
            return (value as bigint) * 2n
          },
        },
      },
    },
  )
  const module = await engine.compileAsync(GUEST)
  const instance = engine.createInstance(module, 42n, 0)
  const sync: bigint = engine.call3i64(instance, 'run', 1n, 2n, 0n)
  const blocking: bigint = await engine.call3i64Blocking(instance, 'run', 3n, 4n, 0n)
  let trapCode: string | undefined
  try {
    engine.call3i64(instance, 'trap', 0n, 0n, 0n)
  } catch (err) {
    if (err instanceof RuntimeError) trapCode = err.trapCode
  }
  let outOfGas = false
  try {
    engine.createInstance(module, 43n, 0)
    engine.call3i64(instance, 'spin', 0n, 0n, 0n)
  } catch (err) {
    outOfGas = err instanceof OutOfGasError && err.code === 'OUT_OF_GAS'
  }
  engine.close()
  // The Freenet subpath resolves, with its types, under this tsconfig too.
  const host: FreenetHostOptions = { clock: () => new Date(0) }
  const runtime = new ContractRuntime({ maxExecutionSeconds: 1 }, host)
  const kinds: ValidateResult['type'][] = ['valid', 'invalid', 'requestRelated']
  runtime.close()
  console.log(`typescript consumer: ${sync} ${blocking} ${trapCode} ${outOfGas} ${seen.join(',')} ${kinds.length}`)
}

void main()
