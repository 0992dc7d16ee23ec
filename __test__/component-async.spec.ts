/**
 * Components on the engine's workers: `instance.exportsAsync`, whose calls
 * are queued like `call3i64Blocking` and whose JavaScript imports may
 * answer with promises, awaited by the guest on its worker; and
 * `compileComponentAsync`.
 */
import test from 'ava'

import { AbortedError, ComponentError, RuntimeError, TimeoutError, WasmEngine } from '../index'

/** `local:demo/calc`: `twice(x)` = get(x) + get(x), `check(x)` = verify(x) as result<u32, string>, `spin()`. */
const CALC = `(component
  (import "local:demo/host" (instance $host
    (export "get" (func (param "x" u32) (result u32)))))
  (core func $get (canon lower (func $host "get")))
  (core module $m
    (import "host" "get" (func $get (param i32) (result i32)))
    (func (export "twice") (param i32) (result i32) local.get 0 call $get local.get 0 call $get i32.add)
    (func (export "spin") (loop br 0)))
  (core instance $i (instantiate $m (with "host" (instance (export "get" (func $get))))))
  (func $twice (param "x" u32) (result u32) (canon lift (core func $i "twice")))
  (func $spin (canon lift (core func $i "spin")))
  (instance $e (export "twice" (func $twice)) (export "spin" (func $spin)))
  (export "local:demo/calc" (instance $e)))`

const later = <T>(value: T, ms = 10) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms))

test('exportsAsync calls run on a worker and await imports that return promises', async (t) => {
  const engine = new WasmEngine({ maxExecutionSeconds: 2 })
  const component = await engine.compileComponentAsync(CALC)
  const seen: number[] = []
  const instance = engine.instantiateComponent(component, {
    imports: { 'local:demo/host': { get: (x: number) => (seen.push(x), x % 2 === 0 ? later(x * 10) : x + 1) } },
  })
  t.is(await instance.exportsAsync.calc.twice(4), 80)
  t.is(await instance.exportsAsync['local:demo/calc'].twice(3), 8)
  t.deepEqual(seen, [4, 4, 3, 3])
  // Concurrent calls are queued on the engine, each with its own answers.
  t.deepEqual(await Promise.all([2, 5, 6].map((x) => instance.exportsAsync.calc.twice(x))), [40, 12, 120])
  // The synchronous path cannot wait for a promise: the guest traps, saying why.
  t.throws(() => instance.exports.calc.twice(2), { instanceOf: RuntimeError, message: /returned a promise.*exportsAsync/ })
  engine.close()
})

test('an import promise that rejects traps the guest; the rejection is in the message', async (t) => {
  const engine = new WasmEngine({ maxExecutionSeconds: 2 })
  const instance = engine.instantiateComponent(engine.compileComponent(CALC), {
    imports: { 'local:demo/host': { get: () => Promise.reject(new Error('no answer today')) } },
  })
  await t.throwsAsync(instance.exportsAsync.calc.twice(1), { instanceOf: RuntimeError, message: /local:demo\/host#get rejected.*no answer today/ })
  engine.close()
})

test('the deadline stops an async call, also one waiting for an import that never answers', async (t) => {
  const engine = new WasmEngine({ maxExecutionSeconds: 0.2 })
  const component = engine.compileComponent(CALC)
  const spinning = engine.instantiateComponent(component, { imports: { 'local:demo/host': { get: (x: number) => x } } })
  const started = Date.now()
  await t.throwsAsync(spinning.exportsAsync.calc.spin(), { instanceOf: TimeoutError })
  t.true(Date.now() - started < 5000)
  const waiting = engine.instantiateComponent(component, { imports: { 'local:demo/host': { get: () => new Promise(() => {}) } } })
  await t.throwsAsync(waiting.exportsAsync.calc.twice(1), { instanceOf: TimeoutError })
  engine.close()
})

test('withSignal stops an async call with AbortedError; an already aborted signal never starts it', async (t) => {
  const engine = new WasmEngine({ maxExecutionSeconds: 5 })
  const instance = engine.instantiateComponent(engine.compileComponent(CALC), { imports: { 'local:demo/host': { get: (x: number) => x } } })
  const controller = new AbortController()
  setTimeout(() => controller.abort(), 30)
  await t.throwsAsync(instance.exportsAsync.calc.spin.withSignal(controller.signal)(), { instanceOf: AbortedError })
  await t.throwsAsync(instance.exportsAsync.calc.twice.withSignal(controller.signal)(1), { instanceOf: AbortedError })
  engine.close()
})

test('an async call keeps its instance when the caller drops every reference and the GC runs', async (t) => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) return t.pass('needs --expose-gc')
  const engine = new WasmEngine({ maxExecutionSeconds: 5 })
  const component = engine.compileComponent(CALC)
  // Instantiated first (instantiation is synchronous, and the engine is
  // busy once a call runs), then called, every reference dropped.
  const queue = () => {
    const instances = Array.from({ length: 10 }, () =>
      engine.instantiateComponent(component, { imports: { 'local:demo/host': { get: (x: number) => later(x, 30) } } }),
    )
    return instances.map((instance, i) => instance.exportsAsync.calc.twice(i))
  }
  const calls = queue()
  gc()
  await later(null, 5)
  gc()
  t.deepEqual(await Promise.all(calls), Array.from({ length: 10 }, (_, i) => 2 * i))
  engine.close()
})

test('a result-returning export called through exportsAsync rejects with ComponentError for err', async (t) => {
  const engine = new WasmEngine({})
  const component = engine.compileComponent(`(component
    (core module $m (func (export "f") (param i32) (result i32) local.get 0))
    (core instance $i (instantiate $m))
    (type $r (result))
    (func $f (param "fail" bool) (result $r) (canon lift (core func $i "f")))
    (export "maybe" (func $f)))`)
  const instance = engine.instantiateComponent(component)
  t.is(await instance.exportsAsync.maybe(false), undefined)
  const err = await t.throwsAsync(instance.exportsAsync.maybe(true), { instanceOf: ComponentError })
  t.is(err.payload, undefined)
  engine.close()
})
