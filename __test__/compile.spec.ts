import test from 'ava'

import { CompileError, InvalidHandleError, Module, WasmEngine } from '../index'
import { FREENET_GUEST, V2_DELEGATE } from './helpers/guests'

/** The smallest valid module: magic and version. */
const EMPTY_MODULE = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])

test('compiles binary modules from Uint8Array, Buffer and ArrayBuffer', (t) => {
  const engine = new WasmEngine()
  t.true(engine.compile(EMPTY_MODULE) instanceof Module)
  t.true(engine.compile(Buffer.from(EMPTY_MODULE)) instanceof Module)
  t.true(engine.compile(EMPTY_MODULE.slice().buffer) instanceof Module)
  engine.close()
})

test('compiles WebAssembly text and reports exports and imports', (t) => {
  const engine = new WasmEngine()
  const module = engine.compile(FREENET_GUEST)
  t.true(module.exports.includes('add3'))
  t.true(module.exports.includes('memory'))
  t.deepEqual(engine.compile(V2_DELEGATE).imports, [
    'freenet_delegate_contracts.__frnt__delegate__get_contract_state_len',
  ])
  engine.close()
})

test('bad bytes are a CompileError naming the size', (t) => {
  const engine = new WasmEngine()
  const err = t.throws(() => engine.compile(new Uint8Array([1, 2, 3, 4])), { instanceOf: CompileError })
  t.is(err?.code, 'COMPILE')
  t.regex(err?.message ?? '', /4 bytes/)
  // A valid header followed by garbage.
  t.throws(() => engine.compile(new Uint8Array([...EMPTY_MODULE, 0xff, 0xff])), { instanceOf: CompileError })
  engine.close()
})

test('bad text is a CompileError', (t) => {
  const engine = new WasmEngine()
  const err = t.throws(() => engine.compile('(module (func (export "f") (i32.add)))'), { instanceOf: CompileError })
  t.regex(err?.message ?? '', /text|type mismatch|expected/i)
  t.throws(() => engine.compile('(not wat'), { instanceOf: CompileError })
  engine.close()
})

test('code of the wrong type is a TypeError', (t) => {
  const engine = new WasmEngine()
  t.throws(() => engine.compile(42 as unknown as string), { instanceOf: TypeError })
  t.throws(() => engine.compile([0, 97, 115, 109] as unknown as Uint8Array), { instanceOf: TypeError })
  t.throws(() => engine.compile(null as unknown as string), { instanceOf: TypeError })
  engine.close()
})

test('moduleHasAsyncImports spots Freenet V2 delegate namespaces', (t) => {
  const engine = new WasmEngine()
  t.true(engine.moduleHasAsyncImports(engine.compile(V2_DELEGATE)))
  t.true(
    engine.moduleHasAsyncImports(
      engine.compile('(module (import "freenet_delegate_management" "__frnt__delegate__create_delegate" (func)))'),
    ),
  )
  t.false(engine.moduleHasAsyncImports(engine.compile(FREENET_GUEST)))
  t.false(engine.moduleHasAsyncImports(engine.compile('(module (import "freenet_log" "x" (func)))')))
  engine.close()
})

test('a module from another engine is refused', (t) => {
  const a = new WasmEngine()
  const b = new WasmEngine()
  const module = a.compile(FREENET_GUEST)
  t.throws(() => b.createInstance(module, 1, 0), { instanceOf: InvalidHandleError })
  t.throws(() => b.moduleHasAsyncImports(module), { instanceOf: InvalidHandleError })
  a.close()
  b.close()
})

test('something that is not a module is a TypeError', (t) => {
  const engine = new WasmEngine()
  t.throws(() => engine.createInstance({} as Module, 1, 0), { instanceOf: TypeError })
  t.throws(() => engine.moduleHasAsyncImports(null as unknown as Module), { instanceOf: TypeError })
  engine.close()
})

test('modules are not constructible from JavaScript', (t) => {
  t.throws(() => new (Module as unknown as new () => unknown)())
})

test('a cache hit compiles far faster than a miss', (t) => {
  // Many functions make the cold compile measurable.
  const funcs = Array.from({ length: 400 }, (_, i) => `(func (export "f${i}") (param i64) (result i64) (i64.mul (local.get 0) (i64.const ${i + 3})))`)
  const text = `(module ${funcs.join('\n')})`
  const engine = new WasmEngine()
  const cold = process.hrtime.bigint()
  engine.compile(text)
  const coldNs = process.hrtime.bigint() - cold
  const warm = process.hrtime.bigint()
  engine.compile(text)
  const warmNs = process.hrtime.bigint() - warm
  t.true(warmNs < coldNs, `cold ${coldNs} ns, warm ${warmNs} ns`)
  engine.close()
})
