// Builds the test guests into committed binaries with fixed flags: the C
// guests of the Freenet runtime (the guest side of freenet-stdlib 0.6.0's
// contract/delegate ABI) into __test__/freenet/guests/build/*.wasm, the C
// WASI test programs (wasi-libc) into __test__/wasi/programs/build/*.wasm,
// and the Go WASI test program into __test__/wasi/programs/go/build/.
//
//   node scripts/build-guests.mjs           rebuild the committed binaries
//   node scripts/build-guests.mjs --check   rebuild into a temporary directory and
//                                           exit 1 if any differs byte for byte from
//                                           the committed ones (CI proves the binaries
//                                           come from the sources)
//
// Needs clang and wasm-ld, and for the WASI programs wasi-libc and the
// wasm32 compiler runtime (Debian/Ubuntu: `apt-get install clang lld
// wasi-libc libclang-rt-14-dev-wasm32`); the CLANG environment variable may
// name another clang binary. The C binaries are
// reproducible for a given clang/lld version; the `producers` custom section
// (which names the compiler vendor and version) is removed so that equal code
// gives equal bytes. The Go program needs a `go` command of Go 1.21 or later:
// GOTOOLCHAIN pins the release that builds it (fetched from the Go module
// proxy when the local one differs), and -trimpath keeps paths out, so its
// bytes are reproducible too.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const clang = process.env.CLANG || 'clang'
/** The Go release that built the committed Go program. */
const GO_TOOLCHAIN = 'go1.26.8'

/** Each group: its source directory (binaries go to `build/` in it), flags, and guests (output, C source, extra flags). */
const GROUPS = [
  {
    sources: join(root, '__test__', 'freenet', 'guests'),
    flags: ['--target=wasm32', '-nostdlib', '-O2', '-std=c11', '-Wall', '-Wextra', '-Wl,--no-entry', '-Wl,--export-dynamic'],
    guests: [
      { out: 'log_contract.wasm', src: 'log_contract.c', extra: [] },
      { out: 'log_contract_streaming.wasm', src: 'log_contract.c', extra: ['-DSTREAMING'] },
      { out: 'liar.wasm', src: 'liar.c', extra: [] },
      { out: 'delegate.wasm', src: 'delegate.c', extra: [] },
      // clang 14 cannot emit custom sections from C: the manifest is appended after linking.
      { out: 'delegate_0_2_154.wasm', src: 'delegate.c', extra: ['-DFREENET_0_2_154'], sections: { 'freenet-manifest': 'delegate_0_2_154.manifest.json' } },
      { out: 'delegate_v2.wasm', src: 'delegate_v2.c', extra: [] },
    ],
  },
  {
    sources: join(root, '__test__', 'wasi', 'programs'),
    // gnu11: wasi-libc declares clock_gettime and getentropy outside strict C.
    flags: ['--target=wasm32-wasi', '-O2', '-std=gnu11', '-Wall', '-Wextra', '-Wl,--strip-debug'],
    guests: [
      { out: 'tool.wasm', src: 'tool.c', extra: [] },
      { out: 'reactor.wasm', src: 'reactor.c', extra: ['-mexec-model=reactor', '-Wl,--allow-undefined'] },
    ],
  },
  {
    sources: join(root, '__test__', 'wasi', 'programs', 'go'),
    go: true,
    guests: [{ out: 'gotool.wasm', src: '.' }],
  },
]
const GUESTS = GROUPS.flatMap((group) => group.guests.map((guest) => ({ ...guest, group })))

function fail(message) {
  console.error(`build-guests: ${message}`)
  process.exit(2)
}

function requireTool(command, what) {
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8' })
  if (probe.error || probe.status !== 0) {
    fail(`${what} (\`${command}\`) was not found or does not run.\n` +
      '  The test guests are C compiled to wasm32 with clang and linked with wasm-ld.\n' +
      '  On Debian/Ubuntu install them with: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32')
  }
  return probe.stdout.split('\n')[0].trim()
}

/** Drops the custom section named `name` from a wasm binary. */
function dropCustomSection(bytes, name) {
  const readLeb = (at) => {
    let value = 0
    let shift = 0
    let pos = at
    for (;;) {
      const byte = bytes[pos++]
      value += (byte & 0x7f) * 2 ** shift
      shift += 7
      if ((byte & 0x80) === 0) return [value, pos]
    }
  }
  const kept = [bytes.subarray(0, 8)]
  let pos = 8
  while (pos < bytes.length) {
    const start = pos
    const id = bytes[pos++]
    const [size, body] = readLeb(pos)
    const end = body + size
    let drop = false
    if (id === 0) {
      const [nameLen, nameAt] = readLeb(body)
      drop = Buffer.from(bytes.subarray(nameAt, nameAt + nameLen)).toString('utf8') === name
    }
    if (!drop) kept.push(bytes.subarray(start, end))
    pos = end
  }
  return Buffer.concat(kept)
}

/** `bytes` with a custom section `name` holding `payload` appended. */
function appendCustomSection(bytes, name, payload) {
  const leb = (value) => {
    const out = []
    do {
      let byte = value & 0x7f
      value >>>= 7
      if (value !== 0) byte |= 0x80
      out.push(byte)
    } while (value !== 0)
    return Buffer.from(out)
  }
  const label = Buffer.from(name, 'utf8')
  const body = Buffer.concat([leb(label.length), label, payload])
  return Buffer.concat([bytes, Buffer.from([0]), leb(body.length), body])
}

/** Builds the Go package `guest.src` into `target` for WASI preview 1. */
function buildGo(guest, target) {
  const env = { ...process.env, GOOS: 'wasip1', GOARCH: 'wasm', GOTOOLCHAIN: GO_TOOLCHAIN, CGO_ENABLED: '0' }
  const args = ['build', '-trimpath', '-o', target, guest.src]
  const run = spawnSync('go', args, { cwd: guest.group.sources, env, encoding: 'utf8' })
  if (run.error || run.status !== 0) {
    fail(`building ${guest.out} failed:\n  go ${args.join(' ')}\n${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? String(run.error) : ''}\n` +
      `  It needs Go 1.21 or later (https://go.dev/dl/), which fetches ${GO_TOOLCHAIN} from the Go module proxy.`)
  }
}

/** Builds every guest into `outDir(group)`. */
function build(outDir) {
  for (const guest of GUESTS) {
    mkdirSync(outDir(guest.group), { recursive: true })
    const target = join(outDir(guest.group), guest.out)
    if (guest.group.go) {
      buildGo(guest, target)
      continue
    }
    const args = [...guest.group.flags, ...guest.extra, '-o', target, guest.src]
    // Relative source paths from a fixed directory: nothing machine-specific reaches the binary.
    const run = spawnSync(clang, args, { cwd: guest.group.sources, encoding: 'utf8' })
    if (run.error || run.status !== 0) {
      const output = `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? String(run.error) : ''}`
      if (/wasm-ld/.test(output) && /(not found|No such file|unable to execute|invalid linker)/i.test(output)) {
        fail(`clang could not run wasm-ld to link ${guest.out}.\n  On Debian/Ubuntu install it with: apt-get install lld\n${output}`)
      }
      if (/(stdio\.h|crt1|libclang_rt|libc\.a).*(not found|No such file|cannot find)/i.test(output)) {
        fail(`${guest.out} needs wasi-libc and the wasm32 compiler runtime.\n  On Debian/Ubuntu: apt-get install wasi-libc libclang-rt-14-dev-wasm32\n${output}`)
      }
      fail(`compiling ${guest.out} failed:\n  ${clang} ${args.join(' ')}\n${output}`)
    }
    if (run.stderr.trim()) process.stderr.write(run.stderr)
    let bytes = dropCustomSection(readFileSync(target), 'producers')
    for (const [name, file] of Object.entries(guest.sections ?? {})) {
      bytes = appendCustomSection(bytes, name, readFileSync(join(guest.group.sources, file)))
    }
    writeFileSync(target, bytes)
  }
}

const check = process.argv.includes('--check')
const clangVersion = requireTool(clang, 'clang')
requireTool('wasm-ld', 'wasm-ld')

const committed = (group) => join(group.sources, 'build')
if (!check) {
  build(committed)
  console.log(`built ${GUESTS.length} guests into ${GROUPS.map(committed).join(' and ')} (${clangVersion})`)
} else {
  const scratch = mkdtempSync(join(tmpdir(), 'test-guests-'))
  const fresh = (group) => join(scratch, String(GROUPS.indexOf(group)))
  try {
    build(fresh)
    const differing = []
    for (const guest of GUESTS) {
      const mine = join(committed(guest.group), guest.out)
      if (!existsSync(mine)) {
        differing.push(`${guest.out}: missing from ${committed(guest.group)}`)
        continue
      }
      const rebuilt = readFileSync(join(fresh(guest.group), guest.out))
      if (!rebuilt.equals(readFileSync(mine))) differing.push(`${guest.out}: differs from a fresh build`)
    }
    if (differing.length) {
      console.error(`build-guests --check: the committed guests do not match their sources (${clangVersion}):`)
      for (const line of differing) console.error(`  ${line}`)
      console.error('  Rebuild them with `node scripts/build-guests.mjs` and commit the result.')
      process.exitCode = 1
    } else {
      console.log(`build-guests --check: all ${GUESTS.length} guests match their sources (${clangVersion})`)
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}
