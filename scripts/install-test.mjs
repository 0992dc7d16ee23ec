// Installs the packed tarballs (./dist-pack, made by `npm run pack:local`)
// into a fresh project, on a PATH without any Rust toolchain, and uses them
// as a user would: a strict TypeScript consumer type-checked against the
// published types, an ES module, a CommonJS module and the CLI.
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const packs = join(root, 'dist-pack')
const tarballs = existsSync(packs) ? readdirSync(packs).filter((name) => name.endsWith('.tgz')) : []
if (tarballs.length < 2) {
  console.error('no tarballs in ./dist-pack: run `npm run pack:local` first')
  process.exit(1)
}

// A PATH without cargo, rustc or rustup: users never build.
const rustFree = process.env.PATH.split(delimiter)
  .filter((dir) => !['cargo', 'rustc', 'rustup'].some((tool) => existsSync(join(dir, tool))))
  .join(delimiter)
const env = { ...process.env, PATH: rustFree, WASM_ENGINE_CACHE_DIR: 'off' }

const project = mkdtempSync(join(tmpdir(), 'wasm-engine-consumer-'))
const run = (command, args) => execFileSync(command, args, { cwd: project, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
let failed = false
const expect = (output, pattern, what) => {
  process.stdout.write(output)
  if (!pattern.test(output)) {
    console.error(`FAILED: ${what}: expected ${pattern}`)
    failed = true
  }
}

try {
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '1.0.0' }))
  for (const file of ['consumer.ts', 'consumer.mjs', 'consumer.cjs', 'tsconfig.json']) {
    copyFileSync(join(root, 'scripts', 'consumer', file), join(project, file))
  }
  console.log(`installing ${tarballs.join(', ')} into ${project}`)
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs.map((name) => join(packs, name))])
  // The consumer is type-checked against the installed package's own types;
  // the compiler and Node's types come from this repository.
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  run(process.execPath, [tsc, '-p', '.', '--typeRoots', join(root, 'node_modules', '@types')])
  expect(run(process.execPath, ['consumer.js']), /^typescript consumer: 6 14 unreachable_code_reached true 42,42 3$/m, 'TypeScript consumer')
  expect(run(process.execPath, ['consumer.mjs']), /^esm consumer: true true MemoryError$/m, 'ES module consumer')
  expect(run(process.execPath, ['consumer.cjs']), /^cjs consumer: hi true valid$/m, 'CommonJS consumer')
  writeFileSync(join(project, 'guest.wat'), '(module (func (export "add") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1))))')
  expect(run(join(project, 'node_modules', '.bin', 'wasm-engine'), ['run', 'guest.wat', 'add', '2', '40']), /^result: 42$/m, 'CLI')
} finally {
  rmSync(project, { recursive: true, force: true })
}
if (failed) process.exit(1)
console.log('install test passed')
