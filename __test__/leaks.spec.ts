/**
 * Resource leaks, measured on this process's memory maps. The tests run
 * serially in their own worker so that no other test's engines are created
 * or collected while one measures.
 */
import test from 'ava'

import { type RuntimeConfig, WASM_PAGE_SIZE, WasmEngine } from '../index'
import { FREENET_GUEST } from './helpers/guests'
import { collectGarbage, mapCount, whereCountable } from './helpers/process'

test.before(collectGarbage)

const countingTest = whereCountable(test.serial)

countingTest('memory maps stay bounded over 20,000 create/drop cycles', (t) => {
  const engine = new WasmEngine()
  t.teardown(() => engine.close())
  const module = engine.compile(FREENET_GUEST)
  // One instance that lives throughout must not pin its dead neighbours.
  const keeper = engine.createInstance(module, -1, 0)
  const warm = () => {
    for (let i = 0; i < 1000; i++) engine.dropInstance(engine.createInstance(module, i, 2 * WASM_PAGE_SIZE))
  }
  warm()
  const before = mapCount()
  let peak = before
  for (let round = 0; round < 19; round++) {
    warm()
    peak = Math.max(peak, mapCount())
  }
  t.true(peak - before < 2000, `maps grew from ${before} to ${peak}`)
  t.is(engine.call3i64(keeper, 'get_id', 0n, 0n, 0n), -1n)
})

// On demand, every instance maps its own memory, so maps show what is held.
const onDemand = { instancePoolSize: 0 }

countingTest('instances whose handles are garbage-collected are dropped', async (t) => {
  const engine = new WasmEngine(onDemand)
  t.teardown(() => engine.close())
  const module = engine.compile(FREENET_GUEST)
  const before = mapCount()
  for (let i = 0; i < 2000; i++) engine.createInstance(module, i, 0)
  const held = mapCount() - before
  await collectGarbage()
  // Finalized handles dropped their stores as they ran (the engine was idle); later operations keep nothing either.
  for (let i = 0; i < 300; i++) engine.dropInstance(engine.createInstance(module, i, 0))
  const after = mapCount() - before
  t.true(held > 1000, `2000 live instances should hold maps, held ${held}`)
  t.true(after < held / 4, `maps left: ${after} of ${held}`)
})

test.serial('garbage-collected instances give their pool slots back', async (t) => {
  const engine = new WasmEngine({ instancePoolSize: 500 })
  t.teardown(() => engine.close())
  const module = engine.compile(FREENET_GUEST)
  for (let i = 0; i < 500; i++) engine.createInstance(module, i, 0)
  t.throws(() => engine.createInstance(module, 500, 0), { message: /instance pool is full/ })
  await collectGarbage()
  // A whole pool's worth again: only slots given back make room for them.
  for (let i = 0; i < 500; i++) engine.createInstance(module, i, 0)
  t.is(engine.stats().instances, 500)
})

const liveEngines = async (config: RuntimeConfig) => {
  for (let i = 0; i < 300; i++) {
    const engine = new WasmEngine(config)
    const handle = engine.createInstance(engine.compile(FREENET_GUEST), i, 4 * WASM_PAGE_SIZE)
    engine.writeMemory(handle, 0, new Uint8Array(1024).fill(7))
  }
}

countingTest('engines left to the garbage collector release their memory', async (t) => {
  await collectGarbage()
  const before = mapCount()
  await liveEngines(onDemand)
  const leaked = mapCount() - before
  await collectGarbage()
  const after = mapCount() - before
  t.true(leaked > 300, `300 live engines should hold maps, held ${leaked}`)
  t.true(after < leaked / 4, `maps left after GC: ${after} of ${leaked}`)
})

countingTest('pooled engines left to the garbage collector leave nothing behind that grows', async (t) => {
  // The pool keeps a bounded number of freed slots warm (mapped with the
  // image of the module they held), so the first round may leave maps; a
  // leak would leave more with every round.
  await liveEngines({})
  await collectGarbage()
  const settled = mapCount()
  await liveEngines({})
  await collectGarbage()
  const grown = mapCount() - settled
  t.true(grown < 150, `maps grew by ${grown} over 300 more engines`)
})
