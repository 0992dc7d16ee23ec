#!/usr/bin/env node
// wasm-engine: run one export of a WebAssembly module under limits and
// report what it did. `wasm-engine --help` documents the options.
'use strict'

const { readFileSync } = require('node:fs')
const { basename } = require('node:path')
const { parseArgs } = require('node:util')
const { WasmEngine, WasmError, WASM_PAGE_SIZE } = require('..')

const HELP = `Usage: wasm-engine run <file.wasm|file.wat> <export> [args...] [options]
       wasm-engine run <program.wasm> --wasi [--dir GUEST=HOST[:ro]]... [--env NAME=VALUE]...
                   [--stdin FILE] [options] [-- args...]
       wasm-engine contract <validate|update|summarize|delta> <module.wasm>
                   --parameters FILE --state FILE [--summary FILE]
                   [--update FILE --update-type state|delta]... [options]

run: runs <export> of the module in a fresh engine and prints its result, the
fuel it consumed, the peak size of its memory and the time it took.

run --wasi: runs a WASI command (its _start) deny-by-default: it sees the
args after the file (its argv[0] is the file's name), the --env variables,
the --stdin file and the --dir directories (":ro" makes one read-only), and
nothing else. Its stdout and stderr are streamed as it writes them (with
--json, they are part of the report instead), and wasm-engine exits with
its exit code (1 when it is stopped: trap, timeout, fuel).

contract: runs one operation of a Freenet contract the way freenet-core does
(wasm-engine/freenet) and prints the decoded result or the contract's error.
validate_state gets no related contracts; update_state gets the --update
files in order, each as a state or a delta (default delta); get_state_delta
needs --summary. Byte results are printed in hex.

Arguments are passed by the export's parameter types: integers for i32 and
i64 (written in decimal, e.g. 42 or -7), decimals for f32 and f64. Every word
after -- is an argument, even one that starts with a dash (e.g. -.5).

Options:
  --fuel, --metering   count fuel (budget: timeout x 3e9 x 1.2) and report it
  --timeout <s>        wall-clock limit in seconds (default 5)
  --max-pages <n>      cap on the memory in 64 KiB pages (default 4096)
  --json               print one JSON object instead of text
  --wasi               run a WASI command (see above)
  --dir <g>=<h>[:ro]   (--wasi) show host directory <h> to the program as <g>
  --env <name>=<value> (--wasi) set an environment variable
  --stdin <file>       (--wasi) what the program's standard input reads
  -h, --help           show this help
  -v, --version        show the version

Exit status: 0 on success, 1 when the module fails (the error's class, code
and message are printed), 2 for a usage error; with --wasi, the program's
own exit code when it ends by itself.

Examples:
  wasm-engine run fib.wat fib 30 --fuel
  wasm-engine run contract.wasm validate_state 1024 2048 0 --timeout 0.5 --json
  wasm-engine run tool.wasm --wasi --dir /data=./data:ro --fuel -- read /data/input.txt
  wasm-engine contract validate contract.wasm --parameters params.bin --state state.bin
  wasm-engine contract update contract.wasm --parameters p.bin --state s.bin --update d.bin --json`

class UsageError extends Error {}

const OPERATIONS = ['validate', 'update', 'summarize', 'delta']

/** The options as parseArgs reads them; `parse` gives them their meaning, in order. */
const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  fuel: { type: 'boolean' },
  metering: { type: 'boolean' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  'max-pages': { type: 'string' },
  parameters: { type: 'string' },
  state: { type: 'string' },
  summary: { type: 'string' },
  update: { type: 'string' },
  'update-type': { type: 'string' },
  wasi: { type: 'boolean' },
  dir: { type: 'string' },
  env: { type: 'string' },
  stdin: { type: 'string' },
}

/** Parses argv into a command, positional arguments and options. */
function parse(argv) {
  const options = { metering: false, timeout: 5, maxPages: 4096, json: false, updates: [], wasi: false, preopens: {}, env: {} }
  const positional = []
  // Not strict, because strict parseArgs rejects a negative argument such as
  // `-7` as an unknown option; the tokens are checked here instead, in order,
  // which --update-type needs anyway (it applies to the --update before it).
  const { tokens } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: false, tokens: true })
  // A negative argument comes as short options, one token per character (`-12`
  // as -1 and -2) that all carry its index: it is taken once, whole.
  let positionalAt = -1
  for (const token of tokens) {
    if (token.kind === 'option-terminator' || token.index === positionalAt) continue
    const arg = argv[token.index]
    if (token.kind === 'positional' || /^-\d/.test(arg)) {
      positional.push(arg)
      positionalAt = token.index
      continue
    }
    const { name, rawName: option, value } = token
    if (!Object.hasOwn(OPTIONS, name)) throw new UsageError(`unknown option ${arg}`)
    if (OPTIONS[name].type === 'boolean' && value !== undefined) throw new UsageError(`${option} takes no value`)
    if (OPTIONS[name].type === 'string' && value === undefined) throw new UsageError(`${option} needs a value`)
    if (name === 'help') return { command: 'help' }
    if (name === 'dir' || name === 'env' || name === 'stdin') options.wasiOption ??= option
    if (name === 'version') return { command: 'version' }
    if (name === 'fuel' || name === 'metering') options.metering = true
    else if (name === 'json') options.json = true
    else if (name === 'wasi') options.wasi = true
    else if (name === 'dir') {
      const [, guest, host, ro] = /^([^=]+)=(.+?)(:ro)?$/.exec(value) ?? fail(`--dir takes GUEST=HOST or GUEST=HOST:ro, got ${value}`)
      options.preopens[guest] = { hostPath: host, readOnly: ro !== undefined }
    } else if (name === 'env') {
      const [, variable, text] = /^([^=]+)=(.*)$/s.exec(value) ?? fail(`--env takes NAME=VALUE, got ${value}`)
      options.env[variable] = text
    } else if (name === 'stdin') options.stdin = value
    else if (name === 'timeout') options.timeout = number(value, option, (n) => n > 0)
    else if (name === 'max-pages') options.maxPages = number(value, option, (n) => Number.isInteger(n) && n >= 0)
    else if (name === 'parameters' || name === 'state' || name === 'summary') options[name] = value
    else if (name === 'update') options.updates.push({ file: value, type: 'delta' })
    else if (name === 'update-type') {
      const last = options.updates.at(-1)
      if (last === undefined) throw new UsageError('--update-type must follow an --update')
      if (value !== 'state' && value !== 'delta') throw new UsageError(`--update-type must be state or delta, got ${value}`)
      last.type = value
    }
  }
  const [command, file, exportName, ...args] = positional
  if (command === undefined) return { command: 'help' }
  if (command === 'contract') return contractCommand(positional.slice(1), options)
  if (command !== 'run') throw new UsageError(`unknown command "${command}"`)
  if (options.wasi) {
    if (file === undefined) throw new UsageError('run --wasi needs a program file')
    return { command: 'wasi', file, args: positional.slice(2), options }
  }
  if (options.wasiOption !== undefined) throw new UsageError(`${options.wasiOption} is for run --wasi`)
  if (file === undefined || exportName === undefined) throw new UsageError('run needs a module file and an export name')
  return { command, file, exportName, args: args.map(argument), options }
}

function contractCommand([operation, file, ...extra], options) {
  if (!OPERATIONS.includes(operation)) throw new UsageError(`contract needs an operation: ${OPERATIONS.join(', ')}`)
  if (file === undefined) throw new UsageError('contract needs a module file')
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`)
  if (options.parameters === undefined || options.state === undefined) {
    throw new UsageError('contract needs --parameters FILE and --state FILE')
  }
  if (operation === 'delta' && options.summary === undefined) throw new UsageError('contract delta needs --summary FILE')
  if (operation === 'update' && options.updates.length === 0) throw new UsageError('contract update needs at least one --update FILE')
  return { command: 'contract', operation, file, options }
}

function fail(message) {
  throw new UsageError(message)
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
    report.error = errorReport(err)
    return report
  } finally {
    report.elapsedMs = Number(process.hrtime.bigint() - started) / 1e6
    engine.close()
  }
}

/**
 * Runs a WASI command; its exit code is the report's `exitCode`. Its output
 * is streamed to this process's, or with --json kept for the report.
 */
async function runWasi({ file, args, options }) {
  const engine = new WasmEngine({
    enableMetering: options.metering,
    maxExecutionSeconds: options.timeout,
    maxMemoryPages: options.maxPages,
  })
  const report = { module: file, args }
  const started = process.hrtime.bigint()
  let output = { stdout: new Uint8Array(), stderr: new Uint8Array() }
  try {
    const result = await engine.runWasi(engine.compile(readFileSync(file)), {
      args: [basename(file), ...args],
      env: options.env,
      stdin: options.stdin === undefined ? undefined : readFileSync(options.stdin),
      preopens: options.preopens,
      ...(options.json ? {} : { onStdout: (chunk) => process.stdout.write(chunk), onStderr: (chunk) => process.stderr.write(chunk) }),
    })
    output = result
    report.exitCode = result.exitCode
    report.fuelConsumed = result.fuelConsumed === undefined ? null : String(result.fuelConsumed)
  } catch (err) {
    report.error = errorReport(err)
    output = { stdout: err.stdout ?? output.stdout, stderr: err.stderr ?? output.stderr }
  } finally {
    report.elapsedMs = Number(process.hrtime.bigint() - started) / 1e6
    engine.close()
  }
  report.stdout = Buffer.from(output.stdout).toString('utf8')
  report.stderr = Buffer.from(output.stderr).toString('utf8')
  return report
}

function printWasi(report, json) {
  if (json) {
    console.log(JSON.stringify(report, null, 2))
    return
  }
  // The output was streamed as it was written.
  if (report.error) printError(report.error)
}

/** A `WasmError` (or an argument's `TypeError`) as the report shows it; anything else is rethrown. */
function errorReport(err) {
  if (!(err instanceof WasmError) && !(err instanceof TypeError)) throw err
  const error = { class: err.name, code: err.code ?? null, trapCode: err.trapCode ?? null, message: err.message }
  if (err.code === 'CONTRACT') Object.assign(error, { kind: err.kind, reason: err.reason })
  return error
}

/** Prints a reported error on one line: class, code, trap or contract error kind, message. */
function printError(error) {
  const trap = error.trapCode ? `, trap ${error.trapCode}` : ''
  const kind = error.kind ? `, ${error.kind}${error.reason === null ? '' : `: ${error.reason}`}` : ''
  console.error(`error: ${error.class} (${error.code ?? 'no code'}${trap}${kind}): ${error.message}`)
}

/** Byte values in a contract's answer, as hex strings. */
function hexed(value) {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
  if (Array.isArray(value)) return value.map(hexed)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, hexed(item)]))
  }
  return value
}

async function runContract({ operation, file, options }) {
  const { ContractRuntime } = require('../lib/freenet')
  const logs = []
  const runtime = new ContractRuntime(
    { enableMetering: options.metering, maxExecutionSeconds: options.timeout, maxMemoryPages: options.maxPages },
    { log: (message, { instanceId }) => logs.push({ instanceId: String(instanceId), message }) },
  )
  const report = { module: file, operation }
  // Every operation starts with the full budget, which is what is left now.
  const budget = runtime.remainingFuel()
  const started = process.hrtime.bigint()
  try {
    const contract = runtime.loadContract(readFileSync(file))
    const parameters = readFileSync(options.parameters)
    const state = readFileSync(options.state)
    let result
    if (operation === 'validate') result = await contract.validateState(parameters, state, [])
    else if (operation === 'summarize') result = await contract.summarizeState(parameters, state)
    else if (operation === 'delta') result = await contract.getStateDelta(parameters, state, readFileSync(options.summary))
    else {
      const updates = options.updates.map(({ file: path, type }) =>
        type === 'state' ? { type, state: readFileSync(path) } : { type, delta: readFileSync(path) },
      )
      result = await contract.updateState(parameters, state, updates)
    }
    report.result = hexed(result)
  } catch (err) {
    report.error = errorReport(err)
  } finally {
    report.elapsedMs = Number(process.hrtime.bigint() - started) / 1e6
    const left = runtime.remainingFuel()
    report.fuelConsumed = left === undefined || budget === undefined ? null : String(budget - left)
    report.logs = logs
    runtime.close()
  }
  return report
}

function printContract(report, json) {
  if (json) {
    console.log(JSON.stringify(report, null, 2))
    return
  }
  for (const { instanceId, message } of report.logs) console.log(`log (instance ${instanceId}): ${message}`)
  if (report.error) {
    printError(report.error)
  } else {
    const { result } = report
    console.log(`result: ${typeof result === 'string' ? result || '(empty)' : JSON.stringify(result)}`)
  }
  console.log(`fuel consumed: ${report.fuelConsumed ?? 'not metered (use --fuel)'}`)
  console.log(`elapsed: ${report.elapsedMs.toFixed(3)} ms`)
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
    printError(report.error)
    console.error(`elapsed: ${elapsed}`)
    return
  }
  const result = report.result === null ? '(no result)' : [].concat(report.result).join(' ')
  console.log(`result: ${result}`)
  console.log(`fuel consumed: ${report.fuelConsumed ?? 'not metered (use --fuel)'}`)
  console.log(`peak memory: ${report.peakMemoryPages} pages`)
  console.log(`elapsed: ${elapsed}`)
}

async function main() {
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
    report =
      parsed.command === 'contract' ? await runContract(parsed) : parsed.command === 'wasi' ? await runWasi(parsed) : run(parsed)
  } catch (err) {
    console.error(`wasm-engine: cannot run ${parsed.file}: ${err.message}`)
    return 1
  }
  if (parsed.command === 'contract') printContract(report, parsed.options.json)
  else if (parsed.command === 'wasi') printWasi(report, parsed.options.json)
  else print(report, parsed.options.json)
  return report.error ? 1 : (report.exitCode ?? 0)
}

main().then((code) => {
  process.exitCode = code
})
