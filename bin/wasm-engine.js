#!/usr/bin/env node
// wasm-engine: run one export of a WebAssembly module under limits and
// report what it did. `wasm-engine --help` documents the options.
'use strict'

const { readFileSync } = require('node:fs')
const { WasmEngine, WasmError, WASM_PAGE_SIZE } = require('..')

const HELP = `Usage: wasm-engine run <file.wasm|file.wat> <export> [args...] [options]

Runs <export> of the module in a fresh engine and prints its result, the fuel
it consumed, the peak size of its memory and the time it took.

Arguments are passed by the export's parameter types: integers for i32 and
i64 (written in decimal, e.g. 42 or -7), decimals for f32 and f64.

Options:
  --fuel, --metering   count fuel (budget: timeout x 3e9 x 1.2) and report it
  --timeout <s>        wall-clock limit in seconds (default 5)
  --max-pages <n>      cap on the memory in 64 KiB pages (default 4096)
  --json               print one JSON object instead of text
  -h, --help           show this help
  -v, --version        show the version

Exit status: 0 on success, 1 when the module fails (the error's class, code
and message are printed), 2 for a usage error.

Examples:
  wasm-engine run fib.wat fib 30 --fuel
  wasm-engine run contract.wasm validate_state 1024 2048 0 --timeout 0.5 --json`

class UsageError extends Error {}

/** Parses argv into a command, positional arguments and options. */
function parse(argv) {
  const options = { metering: false, timeout: 5, maxPages: 4096, json: false }
  const positional = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      const next = argv[++i]
      if (next === undefined) throw new UsageError(`${arg} needs a value`)
      return next
    }
    if (arg === '-h' || arg === '--help') return { command: 'help' }
    if (arg === '-v' || arg === '--version') return { command: 'version' }
    if (arg === '--fuel' || arg === '--metering') options.metering = true
    else if (arg === '--json') options.json = true
    else if (arg === '--timeout') options.timeout = number(value(), arg, (n) => n > 0)
    else if (arg === '--max-pages') options.maxPages = number(value(), arg, (n) => Number.isInteger(n) && n >= 0)
    else if (arg.startsWith('--') || (arg.startsWith('-') && !/^-\d/.test(arg))) throw new UsageError(`unknown option ${arg}`)
    else positional.push(arg)
  }
  const [command, file, exportName, ...args] = positional
  if (command === undefined) return { command: 'help' }
  if (command !== 'run') throw new UsageError(`unknown command "${command}"`)
  if (file === undefined || exportName === undefined) throw new UsageError('run needs a module file and an export name')
  return { command, file, exportName, args: args.map(argument), options }
}

function number(text, option, valid) {
  const n = Number(text)
  if (!Number.isFinite(n) || !valid(n)) throw new UsageError(`${option} got an invalid value: ${text}`)
  return n
}

/** An integer argument becomes a bigint (any i32 or i64), anything else a number. */
function argument(text) {
  if (/^-?\d+$/.test(text)) return BigInt(text)
  const n = Number(text)
  if (Number.isNaN(n) && text !== 'NaN') throw new UsageError(`argument ${text} is not a number`)
  return n
}

function run({ file, exportName, args, options }) {
  const bytes = readFileSync(file)
  const code = /\.wat$/i.test(file) ? bytes.toString('utf8') : bytes
  const engine = new WasmEngine({
    enableMetering: options.metering,
    maxExecutionSeconds: options.timeout,
    maxMemoryPages: options.maxPages,
  })
  const report = { module: file, export: exportName, args: args.map(String) }
  const started = process.hrtime.bigint()
  try {
    const instance = engine.createInstance(engine.compile(code), 1n, 0)
    const budget = engine.remainingFuel()
    const result = engine.call(instance, exportName, ...args)
    report.result = result === undefined ? null : Array.isArray(result) ? result.map(String) : String(result)
    report.fuelConsumed = budget === undefined ? null : String(budget - engine.remainingFuel())
    report.peakMemoryPages = peakPages(engine, instance)
    return report
  } catch (err) {
    if (!(err instanceof WasmError) && !(err instanceof TypeError)) throw err
    report.error = { class: err.name, code: err.code ?? null, trapCode: err.trapCode ?? null, message: err.message }
    return report
  } finally {
    report.elapsedMs = Number(process.hrtime.bigint() - started) / 1e6
    engine.close()
  }
}

function peakPages(engine, instance) {
  try {
    // Memories never shrink: the size after the call is the peak.
    return engine.memoryInfo(instance).size / WASM_PAGE_SIZE
  } catch {
    return 0
  }
}

function print(report, json) {
  if (json) {
    console.log(JSON.stringify(report, null, 2))
    return
  }
  const elapsed = `${report.elapsedMs.toFixed(3)} ms`
  if (report.error) {
    const { error } = report
    const trap = error.trapCode ? `, trap ${error.trapCode}` : ''
    console.error(`error: ${error.class} (${error.code ?? 'no code'}${trap}): ${error.message}`)
    console.error(`elapsed: ${elapsed}`)
    return
  }
  const result = report.result === null ? '(no result)' : [].concat(report.result).join(' ')
  console.log(`result: ${result}`)
  console.log(`fuel consumed: ${report.fuelConsumed ?? 'not metered (use --fuel)'}`)
  console.log(`peak memory: ${report.peakMemoryPages} pages`)
  console.log(`elapsed: ${elapsed}`)
}

function main() {
  let parsed
  try {
    parsed = parse(process.argv.slice(2))
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    console.error(`wasm-engine: ${err.message}\n\n${HELP}`)
    return 2
  }
  if (parsed.command === 'help') {
    console.log(HELP)
    return 0
  }
  if (parsed.command === 'version') {
    console.log(require('../package.json').version)
    return 0
  }
  let report
  try {
    report = run(parsed)
  } catch (err) {
    console.error(`wasm-engine: cannot run ${parsed.file}: ${err.message}`)
    return 1
  }
  print(report, parsed.options.json)
  return report.error ? 1 : 0
}

process.exitCode = main()
