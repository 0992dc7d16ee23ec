import { chmodSync, chownSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import test from 'ava'

import { CompileError, EngineClosedError, type HostResult, InvalidHandleError, Module, WasmEngine } from '../index'
import { runFixture } from './helpers/child'
import { FREENET_GUEST, V2_DELEGATE, largeModule } from './helpers/guests'
import { longestEventLoopGap, timed } from './helpers/timing'

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

test('compileAsync compiles binaries and text off the JavaScript thread', async (t) => {
  const engine = new WasmEngine()
  const module = await engine.compileAsync(FREENET_GUEST)
  t.true(module instanceof Module)
  const handle = engine.createInstance(module, 1, 0)
  t.is(engine.call3i64(handle, 'add3', 1n, 2n, 3n), 6n)
  t.true((await engine.compileAsync(EMPTY_MODULE)) instanceof Module)
  t.true((await engine.compileAsync(EMPTY_MODULE.slice().buffer)) instanceof Module)
  await t.throwsAsync(engine.compileAsync(new Uint8Array([1, 2, 3])), { instanceOf: CompileError })
  await t.throwsAsync(engine.compileAsync('(module (func (i32.add)))'), { instanceOf: CompileError })
  await t.throwsAsync(engine.compileAsync(7 as unknown as string), { instanceOf: TypeError })
  engine.close()
  await t.throwsAsync(engine.compileAsync(FREENET_GUEST), { instanceOf: EngineClosedError })
})

test.serial('the event loop keeps ticking while a large module compiles', async (t) => {
  const engine = new WasmEngine()
  // Large enough to compile for well over 200 ms on a fast machine.
  const text = largeModule(5000, 1)
  let took = 0
  const gap = await longestEventLoopGap(async () => {
    took = await timed(() => engine.compileAsync(text))
  })
  t.true(took > 200, `the compile took ${took.toFixed(0)} ms: too short to tell`)
  t.true(gap < 150, `longest gap between 5 ms ticks: ${gap.toFixed(1)} ms while compiling for ${took.toFixed(0)} ms`)
  engine.close()
})

test('concurrent compiles of the same bytes are done once', async (t) => {
  const engine = new WasmEngine({ moduleCacheCapacity: 0 })
  const text = largeModule(300, 2)
  const modules = await Promise.all(Array.from({ length: 6 }, () => engine.compileAsync(text)))
  t.true(modules.every((module) => module instanceof Module))
  t.is(engine.stats().compiles, 1)
  // Without the memory cache, a later compile does the work again.
  await engine.compileAsync(text)
  t.is(engine.stats().compiles, 2)
  engine.close()
})

test('the memory cache answers repeated compiles, and moduleCacheCapacity 0 turns it off', (t) => {
  const cached = new WasmEngine()
  cached.compile(FREENET_GUEST)
  cached.compile(FREENET_GUEST)
  t.like(cached.stats(), { compiles: 1, memoryCacheHits: 1 })
  const uncached = new WasmEngine({ moduleCacheCapacity: 0 })
  uncached.compile(FREENET_GUEST)
  uncached.compile(FREENET_GUEST)
  t.like(uncached.stats(), { compiles: 2, memoryCacheHits: 0 })
  cached.close()
  uncached.close()
})

test.serial('the on-disk cache makes a second process compile much faster', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-engine-cache-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const first = JSON.parse((await runFixture('compile-once.ts', [dir])).stdout)
  const second = JSON.parse((await runFixture('compile-once.ts', [dir])).stdout)
  t.like(first, { compiles: 1, diskCacheHits: 0 })
  t.like(second, { compiles: 0, diskCacheHits: 1 })
  // The bench measures the real ratio; this bound only catches a cache that does nothing.
  t.true(second.ms * 5 < first.ms, `first ${first.ms.toFixed(1)} ms, second ${second.ms.toFixed(1)} ms`)
  const files = readdirSync(dir, { recursive: true }).map(String).filter((name) => name.endsWith('.cwasm'))
  t.is(files.length, 1)
})

// Windows files have no write bits for group and others to check.
const withPermissionBits = process.platform === 'win32' ? test.serial.skip : test.serial
withPermissionBits('a cached artifact others could have written is never loaded', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-engine-cache-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  t.like(JSON.parse((await runFixture('compile-once.ts', [dir])).stdout), { compiles: 1, diskCacheHits: 0 })
  const [file] = readdirSync(dir, { recursive: true }).map(String).filter((name) => name.endsWith('.cwasm'))
  chmodSync(join(dir, file), 0o666)
  t.like(JSON.parse((await runFixture('compile-once.ts', [dir])).stdout), {
    compiles: 1,
    diskCacheHits: 0,
    diskCacheRejects: 1,
  })
})

test('a damaged cache file is recompiled and replaced, never loaded', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-engine-cache-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const compileIn = () => {
    const engine = new WasmEngine({ compileCacheDir: dir })
    const module = engine.compile(FREENET_GUEST)
    t.is(engine.call3i64(engine.createInstance(module, 5, 0), 'get_id', 0n, 0n, 0n), 5n)
    const stats = engine.stats()
    engine.close()
    return stats
  }
  t.like(compileIn(), { compiles: 1, diskCacheHits: 0 })
  const [file] = readdirSync(dir, { recursive: true }).map(String).filter((name) => name.endsWith('.cwasm'))
  const path = join(dir, file)
  const whole = readFileSync(path)
  const flipped = Buffer.from(whole)
  flipped[Math.floor(whole.length / 2)] ^= 0x01
  for (const damaged of [whole.subarray(0, whole.length - 100), flipped]) {
    writeFileSync(path, damaged)
    t.like(compileIn(), { compiles: 1, diskCacheHits: 0, diskCacheRejects: 1 })
    t.deepEqual(readFileSync(path), whole)
    t.like(compileIn(), { compiles: 0, diskCacheHits: 1 })
  }
})

/** What `largeModule(2000, 7)`'s export `f5` answers to 11, compiled without any cache. */
function expectedAnswer(): HostResult {
  const engine = new WasmEngine({ compileCache: false })
  const instance = engine.createInstance(engine.compile(largeModule(2000, 7)), 1, 0)
  const answer = engine.getFunction(instance, 'f5')(11n)
  engine.close()
  return answer
}

test.serial('a process killed while writing a cache entry never leaves one that loads wrong', async (t) => {
  const expected = expectedAnswer()
  const probe = mkdtempSync(join(tmpdir(), 'wasm-engine-cache-'))
  t.teardown(() => rmSync(probe, { recursive: true, force: true }))
  const whole = await runFixture('compile-once.ts', [probe])
  // Kills spread over the second half of the child's life, where the compile ends and the write happens.
  for (let step = 1; step <= 8; step++) {
    const dir = mkdtempSync(join(tmpdir(), 'wasm-engine-cache-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const child = await runFixture('compile-once.ts', [dir], whole.elapsed * (0.55 + 0.06 * step))
    const engine = new WasmEngine({ compileCacheDir: dir })
    const module = engine.compile(largeModule(2000, 7))
    const stats = engine.stats()
    t.is(stats.diskCacheRejects, 0, `step ${step}: a killed write left a file that was read`)
    t.is(stats.compiles + stats.diskCacheHits, 1)
    t.is(engine.getFunction(engine.createInstance(module, 1, 0), 'f5')(11n), expected)
    engine.close()
    t.log(`step ${step}: ${child.killed ? 'killed' : 'finished'}, then ${stats.diskCacheHits ? 'a hit' : 'a compile'}`)
  }
})

test('a cache directory that cannot be created is skipped and counted; the compile succeeds', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-engine-cache-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // The cache root is a file: no configuration directory can be made under it.
  const root = join(dir, 'not-a-directory')
  writeFileSync(root, 'taken')
  const engine = new WasmEngine({ compileCacheDir: root })
  const module = engine.compile(FREENET_GUEST)
  t.is(engine.call3i64(engine.createInstance(module, 5, 0), 'get_id', 0n, 0n, 0n), 5n)
  t.like(engine.stats(), { compiles: 1, diskCacheHits: 0, diskCacheRejects: 0, diskCacheWriteFailures: 1 })
  engine.close()
})

// `ulimit -f` is a Unix shell's.
const withFileSizeLimit = process.platform === 'win32' ? test.serial.skip : test.serial
withFileSizeLimit('a full disk fails the cache write, counted, and leaves no partial entry', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-engine-cache-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // Every file write past 64 KiB fails as on a full disk; the artifact is larger.
  const full = await runFixture('compile-once.ts', [dir], 20_000, { fileSizeLimitKiB: 64 })
  t.is(full.code, 0, full.stderr)
  t.like(JSON.parse(full.stdout), { compiles: 1, diskCacheHits: 0, diskCacheWriteFailures: 1 })
  t.deepEqual(
    readdirSync(dir, { recursive: true }).map(String).filter((name) => /\.(cwasm|tmp)$/.test(name)),
    [],
  )
  // With room again, the entry is written and then loaded.
  t.like(JSON.parse((await runFixture('compile-once.ts', [dir])).stdout), { compiles: 1, diskCacheWriteFailures: 0 })
  t.like(JSON.parse((await runFixture('compile-once.ts', [dir])).stdout), { compiles: 0, diskCacheHits: 1 })
})

// Permission bits bind every user but root, so the child runs as `nobody`.
const asAnotherUser = process.platform === 'linux' && process.getuid?.() === 0 ? test.serial : test.serial.skip
asAnotherUser('a cache directory that becomes read-only still answers hits; new entries are skipped and counted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-engine-cache-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  chownSync(dir, 65534, 65534)
  const asNobody = (salt: string) => runFixture('compile-once.ts', [dir, 'on', salt], 20_000, { user: 'nobody' })
  const first = await asNobody('7')
  t.is(first.code, 0, first.stderr)
  t.like(JSON.parse(first.stdout), { compiles: 1, diskCacheWriteFailures: 0 })
  for (const entry of readdirSync(dir, { recursive: true })) chmodSync(join(dir, String(entry)), 0o500)
  chmodSync(dir, 0o500)
  t.like(JSON.parse((await asNobody('7')).stdout), { compiles: 0, diskCacheHits: 1 })
  t.like(JSON.parse((await asNobody('8')).stdout), { compiles: 1, diskCacheHits: 0, diskCacheRejects: 0, diskCacheWriteFailures: 1 })
})

test('the on-disk cache stays within compileCacheMaxBytes, evicting the least recently used', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-engine-cache-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const files = () => readdirSync(dir, { recursive: true }).map(String).filter((name) => name.endsWith('.cwasm'))
  const guest = (n: number) => `(module (func (export "n") (result i32) (i32.const ${n})))`
  const probe = new WasmEngine({ compileCacheDir: dir })
  probe.compile(guest(0))
  const size = statSync(join(dir, files()[0])).size
  probe.close()
  // Room for three files, never a fourth, however many modules pass.
  const engine = new WasmEngine({ compileCacheDir: dir, compileCacheMaxBytes: 3 * size + size / 2, moduleCacheCapacity: 0 })
  t.teardown(() => engine.close())
  for (let n = 1; n <= 10; n++) {
    engine.compile(guest(n))
    t.true(files().length <= 3, `${files().length} files after ${n} modules`)
  }
  // The newest are the ones kept, and they still answer.
  const before = engine.stats().diskCacheHits
  engine.compile(guest(10))
  t.is(engine.stats().diskCacheHits, before + 1)
  t.throws(() => new WasmEngine({ compileCacheMaxBytes: 1.5 }), { message: /compileCacheMaxBytes/ })
})

test.serial('compileCache: false writes nothing to disk', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-engine-cache-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (let run = 0; run < 2; run++) {
    const result = JSON.parse((await runFixture('compile-once.ts', [dir, 'off'])).stdout)
    t.like(result, { compiles: 1, diskCacheHits: 0 })
  }
  t.deepEqual(readdirSync(dir), [])
})
