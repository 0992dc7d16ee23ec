// Builds the release addon for this machine and packs, into ./dist-pack/,
// the main package and the linux-x64-gnu platform package exactly as
// `npm publish` would ship them; then checks what each tarball holds.
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const platform = 'linux-x64-gnu'
const out = join(root, 'dist-pack')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

const run = (command, args, cwd = root) => execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })

rmSync(out, { recursive: true, force: true })
mkdirSync(out)
console.log('building the release addon and the TypeScript layer')
execFileSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit' })
const binary = `wasm-engine.${platform}.node`
copyFileSync(join(root, binary), join(root, 'npm', platform, binary))

/** Packs `dir` into ./dist-pack and returns the tarball's name and file list. */
function pack(dir) {
  // --ignore-scripts: the build above already ran; packing must not rebuild.
  const [report] = JSON.parse(run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', out], dir))
  return { tarball: report.filename, files: report.files.map((file) => file.path).sort() }
}

const expectations = [
  {
    dir: root,
    required: ['LICENSE', 'README.md', 'binding.cjs', 'binding.d.ts', 'bin/wasm-engine.js', 'index.d.ts', 'index.js', 'lib/errors.js', 'lib/errors.d.ts', 'package.json'],
  },
  { dir: join(root, 'npm', platform), required: [binary, 'README.md', 'package.json'] },
]
const forbidden = [/\.ts$(?<!\.d\.ts)/, /^crate\//, /^__test__\//, /^scripts\//, /^target\//, /\.rs$/, /Cargo\.(toml|lock)$/, /^examples\//]

let failed = false
for (const { dir, required } of expectations) {
  const { tarball, files } = pack(dir)
  console.log(`\n${tarball}:\n  ${files.join('\n  ')}`)
  for (const file of required) {
    if (!files.includes(file)) {
      console.error(`  missing: ${file}`)
      failed = true
    }
  }
  for (const file of files) {
    if (forbidden.some((pattern) => pattern.test(file))) {
      console.error(`  must not ship: ${file}`)
      failed = true
    }
  }
  if (dir === root && files.some((file) => file.endsWith('.node'))) {
    console.error('  the main package must not ship a binary: platform packages do')
    failed = true
  }
}
if (failed) process.exit(1)
console.log(`\npacked into ${out}`)
