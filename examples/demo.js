// A tour of wasm-engine: compile a bundled guest, run it metered under a page
// cap, and meet a trap and an out-of-gas as typed errors.
//
//   npm install && npm run demo
'use strict'

const { readFileSync } = require('node:fs')
const { join } = require('node:path')
const { WasmEngine, WasmError, WASM_PAGE_SIZE } = require('..')

const guest = readFileSync(join(__dirname, 'guest.wat'), 'utf8')

// A tight engine: 16 pages (1 MiB) of memory, a 1 s deadline per call and
// fuel for 1 s at 1e7 units/s (1.2e7 with the default 20% margin).
const config = { enableMetering: true, maxMemoryPages: 16, maxExecutionSeconds: 1, cpuCyclesPerSecond: 1e7 }
const engine = new WasmEngine(config)
console.log('engine config:', config)

const compiled = engine.compile(guest)
console.log('compiled guest.wat; exports:', compiled.exports.join(', '))

const show = (label, run) => {
  const before = engine.remainingFuel()
  try {
    const result = run()
    const used = before - engine.remainingFuel()
    console.log(`${label.padEnd(34)} = ${String(result).padEnd(22)} fuel used: ${used}`)
  } catch (err) {
    if (!(err instanceof WasmError)) throw err
    const trap = err.trapCode ? ` trapCode=${err.trapCode}` : ''
    console.log(`${label.padEnd(34)} ! ${err.name} code=${err.code}${trap}\n${' '.repeat(37)}${err.message.split('\n')[0]}`)
  }
}

// Fuel is reset to the full budget at each createInstance.
let instance = engine.createInstance(compiled, 1n, 2 * WASM_PAGE_SIZE)
console.log(`instance ${instance.id}: memory ${engine.memoryInfo(instance).size} bytes, fuel ${engine.remainingFuel()}`)

// Pass input the Freenet way: through a guest buffer.
const input = Buffer.from('hello from the host')
const buffer = engine.initiateBuffer(instance, input.length)
const header = Buffer.from(engine.readMemory(instance, Number(buffer), 32))
engine.writeMemory(instance, Number(header.readBigInt64LE(0)), input)
const written = Buffer.alloc(4)
written.writeUInt32LE(input.length)
engine.writeMemory(instance, Number(header.readBigInt64LE(24)), written)

show('checksum("hello from the host")', () => `0x${BigInt.asUintN(64, engine.call3i64(instance, 'checksum', buffer, 0n, 0n)).toString(16)}`)
show('fib(20)', () => engine.call3i64(instance, 'fib', 20n, 0n, 0n))
show('grow memory by 10 pages', () => engine.call3i64(instance, 'grow', 10n, 0n, 0n))
show('grow past the 16-page cap', () => engine.call3i64(instance, 'grow', 10n, 0n, 0n))
show('divide(1, 0)', () => engine.call3i64(instance, 'divide', 1n, 0n, 0n))
show('fib(40) on a 1.2e7 fuel budget', () => engine.call3i64(instance, 'fib', 40n, 0n, 0n))
console.log(`fuel left after running out: ${engine.remainingFuel()}`)

instance = engine.createInstance(compiled, 2n, 0)
console.log(`new instance ${instance.id}: fuel reset to ${engine.remainingFuel()}`)
show('fib(25)', () => engine.call3i64(instance, 'fib', 25n, 0n, 0n))

engine.close()
console.log('engine closed; healthy:', engine.isHealthy())
