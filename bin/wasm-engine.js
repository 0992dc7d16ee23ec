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
                   [--update FILE --update-type state|delta]... [--abi VERSION] [options]
       wasm-engine delegate process <module.wasm> --parameters FILE --message FILE...
                   [--origin FILE] [--abi VERSION] [options]

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

delegate process: runs a Freenet delegate's process the way freenet-core
does (wasm-engine/freenet): the --message files in order, in one call, sent
from the --origin (default: none), and prints the outbound messages decoded
(freenet-core's rules applied), one line each: bytes in hex, a payload that
is printable UTF-8 also as text; or the delegate's error. --parameters is
the parameters' raw bytes. Each --message file is ONE inbound message as
JSON, the InboundDelegateMsg type of wasm-engine/freenet with every byte
field a hex string ("" is empty), contract ids 32 bytes, and a DelegateKey
as {"key": HEX, "codeHash": HEX}:
  {"type": "applicationMessage", "payload": "6563686f3a6869"}    ("echo:hi")
  {"type": "applicationMessage", "payload": HEX, "context": HEX, "processed": false}
  {"type": "userResponse", "requestId": 1, "response": HEX}
  {"type": "getContractResponse", "contractId": HEX, "state": HEX or null}
  {"type": "putContractResponse", "contractId": HEX, "error": null}
    (also updateContractResponse, subscribeContractResponse and, 0.2.154,
    unsubscribeContractResponse; "error" is a string or null)
  {"type": "contractNotification", "contractId": HEX, "newState": HEX}
  {"type": "delegateMessage", "target": KEY, "sender": KEY, "payload": HEX}
  {"type": "wakeupFired", "tag": HEX}                            (0.2.154)
  {"type": "lifecycle", "event": {"type": "installed"}}          (0.2.154)
  {"type": "lifecycle", "event": {"type": "nodeStarted", "downSinceMs": null}}
"context" (default empty) may be given to every type but wakeupFired and
lifecycle, "processed" (default false) to applicationMessage and
delegateMessage. The --origin file is JSON too: {"type": "webApp",
"contractId": HEX}, {"type": "delegate", "key": KEY} or null. With --json,
the report's "messages" are the OutboundDelegateMsg objects, bytes in hex.

--abi VERSION (contract, delegate): the freenet-core release to follow,
0.2.48 (the default) or 0.2.154, today's node, which takes the messages
marked 0.2.154 above and refuses delegates that import the contract-writing
functions it removed.

Arguments are passed by the export's parameter types: integers for i32 and
i64 (written in decimal, e.g. 42 or -7), decimals for f32 and f64. Every word
after -- is an argument, even one that starts with a dash (e.g. -.5).

Options:
  --fuel, --metering   count fuel (budget: timeout x 3e9 x 1.2) and report it
  --timeout <s>        wall-clock limit in seconds (default 5)
  --max-pages <n>      cap on the memory in 64 KiB pages (default 4096)
  --json               print one JSON object instead of text
  --abi <version>      (contract, delegate) 0.2.48 (default) or 0.2.154
  --message <file>     (delegate) one inbound message, JSON (see above)
  --origin <file>      (delegate) the messages' origin, JSON (see above)
  --wasi               run a WASI command (see above)
  --dir <g>=<h>[:ro]   (--wasi) show host directory <h> to the program as <g>
  --env <name>=<value> (--wasi) set an environment variable
  --stdin <file>       (--wasi) what the program's standard input reads
  -h, --help           show this help
  -v, --version        show the version

Exit status: 0 on success, 1 when the module fails (the error's class, code
and message are printed; for a contract's or delegate's own error, also its
kind and reason), 2 for a usage error (also a --message or --origin file
that does not hold a valid message); with --wasi, the program's own exit
code when it ends by itself.

Examples:
  wasm-engine run fib.wat fib 30 --fuel
  wasm-engine run contract.wasm validate_state 1024 2048 0 --timeout 0.5 --json
  wasm-engine run tool.wasm --wasi --dir /data=./data:ro --fuel -- read /data/input.txt
  wasm-engine contract validate contract.wasm --parameters params.bin --state state.bin
  wasm-engine contract update contract.wasm --parameters p.bin --state s.bin --update d.bin --json
  wasm-engine contract validate contract.wasm --parameters p.bin --state s.bin --abi 0.2.154
  wasm-engine delegate process delegate.wasm --parameters p.bin --message hello.json --json
  wasm-engine delegate process delegate.wasm --parameters p.bin --message a.json --message b.json
  wasm-engine delegate process delegate.wasm --parameters p.bin --message a.json --origin app.json --abi 0.2.154`

class UsageError extends Error {}

const OPERATIONS = ['validate', 'update', 'summarize', 'delta']

/** The freenet-core releases whose ABI `--abi` selects (config.abi). */
const ABIS = ['0.2.48', '0.2.154']

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
  abi: { type: 'string' },
  message: { type: 'string' },
  origin: { type: 'string' },
  wasi: { type: 'boolean' },
  dir: { type: 'string' },
  env: { type: 'string' },
  stdin: { type: 'string' },
}

/** Parses argv into a command, positional arguments and options. */
function parse(argv) {
  const options = { metering: false, timeout: 5, maxPages: 4096, json: false, updates: [], messages: [], wasi: false, preopens: {}, env: {} }
  /** The first option given of each command-specific kind, to refuse it where it does not apply. */
  const given = {}
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
    given[name] ??= option
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
    else if (name === 'parameters' || name === 'state' || name === 'summary' || name === 'origin') options[name] = value
    else if (name === 'message') options.messages.push(value)
    else if (name === 'abi') {
      if (!ABIS.includes(value)) throw new UsageError(`--abi must be ${ABIS.join(' or ')}, got ${value}`)
      options.abi = value
    }
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
  if (command === 'contract') {
    refuse(given, ['message', 'origin', 'wasi', 'dir', 'env', 'stdin'], 'contract')
    return contractCommand(positional.slice(1), options)
  }
  if (command === 'delegate') {
    refuse(given, ['state', 'summary', 'update', 'update-type', 'wasi', 'dir', 'env', 'stdin'], 'delegate process')
    return delegateCommand(positional.slice(1), options)
  }
  if (command !== 'run') throw new UsageError(`unknown command "${command}"`)
  for (const name of ['abi', 'message', 'origin']) {
    if (given[name] !== undefined) throw new UsageError(`${given[name]} is for ${name === 'abi' ? 'contract and delegate' : 'delegate process'}`)
  }
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

function delegateCommand([action, file, ...extra], options) {
  if (action !== 'process') throw new UsageError('delegate needs an action: process')
  if (file === undefined) throw new UsageError('delegate process needs a module file')
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`)
  if (options.parameters === undefined) throw new UsageError('delegate process needs --parameters FILE')
  if (options.messages.length === 0) throw new UsageError('delegate process needs at least one --message FILE')
  return { command: 'delegate', file, options }
}

/** Refuses the first of `names` given: they are not options of `command`. */
function refuse(given, names, command) {
  for (const name of names) if (given[name] !== undefined) throw new UsageError(`${command} takes no ${given[name]}`)
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

/**
 * Runs `body(runtime, report)` on a fresh ContractRuntime with the
 * command's limits and profile; the report (which starts as `fields` and
 * the profile) gets the error, if any, the time, the fuel and the log.
 */
async function reported(options, fields, body) {
  const { ContractRuntime } = require('../lib/freenet')
  const logs = []
  const runtime = new ContractRuntime(
    { enableMetering: options.metering, maxExecutionSeconds: options.timeout, maxMemoryPages: options.maxPages, abi: options.abi },
    { log: (message, { instanceId }) => logs.push({ instanceId: String(instanceId), message }) },
  )
  const report = { ...fields, abi: runtime.abi }
  // Every operation starts with the full budget, which is what is left now.
  const budget = runtime.remainingFuel()
  const started = process.hrtime.bigint()
  try {
    await body(runtime, report)
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

function runContract({ operation, file, options }) {
  return reported(options, { module: file, operation }, async (runtime, report) => {
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
  })
}

/**
 * Prints a Freenet report (contract or delegate): as JSON, or the log
 * lines, the error or what `printResult` makes of the answer, the fuel and
 * the time.
 */
function printFreenet(report, json, printResult) {
  if (json) {
    console.log(JSON.stringify(report, null, 2))
    return
  }
  for (const { instanceId, message } of report.logs) console.log(`log (instance ${instanceId}): ${message}`)
  if (report.error) printError(report.error)
  else printResult(report)
  console.log(`fuel consumed: ${report.fuelConsumed ?? 'not metered (use --fuel)'}`)
  console.log(`elapsed: ${report.elapsedMs.toFixed(3)} ms`)
}

function printContract(report, json) {
  printFreenet(report, json, ({ result }) => {
    console.log(`result: ${typeof result === 'string' ? result || '(empty)' : JSON.stringify(result)}`)
  })
}

/**
 * How each type of inbound message (InboundDelegateMsg) is written in a
 * --message file: its fields and their kinds. `?` marks an optional field.
 */
const CONTEXT = { context: 'bytes?' }
const RESPONSE = { contractId: 'id', error: 'string|null?', ...CONTEXT }
const INBOUND = {
  applicationMessage: { payload: 'bytes', ...CONTEXT, processed: 'boolean?' },
  userResponse: { requestId: 'u32', response: 'bytes', ...CONTEXT },
  getContractResponse: { contractId: 'id', state: 'bytes|null', ...CONTEXT },
  putContractResponse: RESPONSE,
  updateContractResponse: RESPONSE,
  subscribeContractResponse: RESPONSE,
  contractNotification: { contractId: 'id', newState: 'bytes', ...CONTEXT },
  delegateMessage: { target: 'key', sender: 'key', payload: 'bytes', ...CONTEXT, processed: 'boolean?' },
  unsubscribeContractResponse: RESPONSE,
  wakeupFired: { tag: 'bytes' },
  lifecycle: { event: 'event' },
}
const ORIGINS = { webApp: { contractId: 'id' }, delegate: { key: 'key' } }
const EVENTS = { installed: {}, nodeStarted: { downSinceMs: 'ms|null?' } }

/** Reads a JSON file given with `option`; content that is not JSON is a usage error naming the file. */
function readJson(option, path) {
  const text = readFileSync(path, 'utf8')
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new UsageError(`${option} ${path} is not JSON: ${err.message}`)
  }
}

/**
 * A tagged JSON object as the freenet API takes it, by the field kinds of
 * `types[value.type]`. `label` names the file in errors, `path` the field
 * (empty for the file's whole `what`).
 */
function tagged(value, types, label, path, what) {
  const at = path === '' ? `${label}: the ${what}` : `${label}: field ${path}`
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail(`${at} must be ${what === 'origin' ? 'null or ' : ''}a JSON object with a "type", got ${JSON.stringify(value)}`)
  }
  const { type, ...fields } = value
  if (typeof type !== 'string' || !Object.hasOwn(types, type)) {
    fail(`${at} must have a "type" of ${Object.keys(types).join(', ')}; got ${JSON.stringify(type)}`)
  }
  const kinds = types[type]
  const inner = (name) => (path === '' ? name : `${path}.${name}`)
  for (const name of Object.keys(fields)) {
    if (!Object.hasOwn(kinds, name)) fail(`${at} (${type}) has no field "${name}"; its fields: ${Object.keys(kinds).join(', ') || 'none'}`)
  }
  const decoded = { type }
  for (const [name, kind] of Object.entries(kinds)) {
    const optional = kind.endsWith('?')
    if (fields[name] === undefined) {
      if (!optional) fail(`${at} (${type}) needs the field "${name}"`)
      continue
    }
    decoded[name] = field(fields[name], optional ? kind.slice(0, -1) : kind, label, inner(name))
  }
  return decoded
}

/** Field `path` of a message file, of `kind` (see INBOUND). */
function field(value, kind, label, path) {
  const at = `${label}: field ${path}`
  const got = `got ${JSON.stringify(value)}`
  if (kind.endsWith('|null')) return value === null ? null : field(value, kind.slice(0, -'|null'.length), label, path)
  switch (kind) {
    case 'bytes':
    case 'id': {
      if (typeof value !== 'string' || !/^(?:[0-9a-f]{2})*$/i.test(value)) fail(`${at} must be a hex string, ${got}`)
      const bytes = Buffer.from(value, 'hex')
      if (kind === 'id' && bytes.length !== 32) fail(`${at} must be 32 bytes (64 hex digits), got ${bytes.length} byte${bytes.length === 1 ? '' : 's'}`)
      return bytes
    }
    case 'key': {
      const shape = `must be a delegate key, {"key": HEX, "codeHash": HEX}`
      if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(`${at} ${shape}, ${got}`)
      const { key, codeHash, ...rest } = value
      const [extra] = Object.keys(rest)
      if (extra !== undefined || key === undefined || codeHash === undefined) fail(`${at} ${shape}, ${got}`)
      return { key: field(key, 'id', label, `${path}.key`), codeHash: field(codeHash, 'id', label, `${path}.codeHash`) }
    }
    case 'boolean':
      if (typeof value !== 'boolean') fail(`${at} must be true or false, ${got}`)
      return value
    case 'string':
      if (typeof value !== 'string') fail(`${at} must be a string or null, ${got}`)
      return value
    case 'u32':
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) fail(`${at} must be an integer from 0 to 4294967295, ${got}`)
      return value
    case 'ms':
      if (!Number.isSafeInteger(value) || value < 0) fail(`${at} must be a whole number of milliseconds since the epoch, or null, ${got}`)
      return value
    case 'event':
      return tagged(value, EVENTS, label, path, 'event')
    default:
      throw new Error(`unknown field kind ${kind}`)
  }
}

/** The inbound messages and origin of `delegate process`, read from their files. */
function delegateInputs(options) {
  const messages = options.messages.map((path) => tagged(readJson('--message', path), INBOUND, `--message ${path}`, '', 'message'))
  let origin = null
  if (options.origin !== undefined) {
    const value = readJson('--origin', options.origin)
    if (value !== null) origin = tagged(value, ORIGINS, `--origin ${options.origin}`, '', 'origin')
  }
  return { messages, origin }
}

function runDelegate({ file, options }) {
  // Read first: a message file that is not a message is a usage error.
  const { messages, origin } = delegateInputs(options)
  return reported(options, { ok: false, module: file }, async (runtime, report) => {
    const delegate = runtime.loadDelegate(readFileSync(file))
    const outbound = await delegate.process(readFileSync(options.parameters), origin, messages)
    report.ok = true
    report.messages = hexed(outbound)
  })
}

/** Byte fields whose value is also shown as text when it is printable UTF-8. */
const TEXT_FIELDS = new Set(['payload', 'message'])

/** An outbound message's field (already in hex) for a text line: `(empty)` for no bytes, objects as `{name=value, ...}`. */
function describe(value, name) {
  if (Array.isArray(value)) return `[${value.map((item) => describe(item)).join(', ')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([key, item]) => `${key}=${describe(item, key)}`).join(', ')}}`
  }
  if (typeof value !== 'string' || name === 'type' || name === 'error') return String(value)
  if (value === '') return '(empty)'
  if (!TEXT_FIELDS.has(name)) return value
  const text = printable(Buffer.from(value, 'hex'))
  return text === undefined ? value : `${value} ${JSON.stringify(text)}`
}

/** The bytes as text when they are valid UTF-8 without control characters (but tab and newlines). */
function printable(bytes) {
  let text
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return undefined
  }
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/.test(text) ? undefined : text
}

function printDelegate(report, json) {
  printFreenet(report, json, ({ messages }) => {
    if (messages.length === 0) console.log('messages: none')
    messages.forEach(({ type, ...fields }, i) => {
      const described = Object.entries(fields).map(([name, value]) => `${name}=${describe(value, name)}`)
      console.log(`message ${i + 1}: ${[type, ...described].join(' ')}`)
    })
  })
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
    return usage(err)
  }
  if (parsed.command === 'help') {
    console.log(HELP)
    return 0
  }
  if (parsed.command === 'version') {
    console.log(require('../package.json').version)
    return 0
  }
  const runners = { contract: runContract, delegate: runDelegate, wasi: runWasi, run }
  let report
  try {
    report = await runners[parsed.command](parsed)
  } catch (err) {
    if (err instanceof UsageError) return usage(err)
    console.error(`wasm-engine: cannot run ${parsed.file}: ${err.message}`)
    return 1
  }
  if (parsed.command === 'contract') printContract(report, parsed.options.json)
  else if (parsed.command === 'delegate') printDelegate(report, parsed.options.json)
  else if (parsed.command === 'wasi') printWasi(report, parsed.options.json)
  else print(report, parsed.options.json)
  return report.error ? 1 : (report.exitCode ?? 0)
}

/** Prints a usage error and the help; the exit status is 2. */
function usage(err) {
  console.error(`wasm-engine: ${err.message}\n\n${HELP}`)
  return 2
}

main().then((code) => {
  process.exitCode = code
})
