/**
 * A real Freenet contract module built by Freenet's own tooling: the
 * website container contract that freenet-core's `fdev` tool embeds, as
 * shipped inside the `fdev` crate on crates.io. Fetched once (pinned by
 * hash) into `.cache/`, not committed.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'

const CRATE = 'https://static.crates.io/crates/fdev/fdev-0.3.211.crate'
const CRATE_SHA256 = '65a5b750f6a033524e6e4f1207ede9dc320c76633d2e9762c1ac96f076260cce'
const MEMBER = 'fdev-0.3.211/resources/website_contract.wasm'
const WASM_SHA256 = '58025bc15f31e18b982f07efaf8b103badebbc8201c74bf08514ae17e24dbcc6'
const CACHED = join(__dirname, '..', '..', '.cache', 'freenet', 'website_contract.wasm')

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

/** The file `name` of a (gunzipped) tar archive. */
function untar(archive: Buffer, name: string): Buffer {
  for (let at = 0; at + 512 <= archive.length; ) {
    const header = archive.subarray(at, at + 512)
    const field = (from: number, to: number) => header.subarray(from, to).toString('latin1').replace(/\0.*$/s, '')
    const path = [field(345, 500), field(0, 100)].filter(Boolean).join('/')
    const size = Number.parseInt(field(124, 136).trim() || '0', 8)
    if (path === '') break
    if (path === name) return archive.subarray(at + 512, at + 512 + size)
    at += 512 + Math.ceil(size / 512) * 512
  }
  throw new Error(`${name} is not in the archive`)
}

/** The website contract's bytes, downloaded from crates.io on first use. */
export async function websiteContract(): Promise<Uint8Array> {
  if (existsSync(CACHED)) {
    const cached = readFileSync(CACHED)
    if (sha256(cached) === WASM_SHA256) return cached
  }
  const response = await fetch(CRATE)
  if (!response.ok) throw new Error(`cannot download ${CRATE}: HTTP ${response.status}`)
  const crate = Buffer.from(await response.arrayBuffer())
  if (sha256(crate) !== CRATE_SHA256) throw new Error(`${CRATE} does not have the pinned hash`)
  const wasm = untar(gunzipSync(crate), MEMBER)
  if (sha256(wasm) !== WASM_SHA256) throw new Error(`${MEMBER} does not have the pinned hash`)
  mkdirSync(join(CACHED, '..'), { recursive: true })
  writeFileSync(CACHED, wasm)
  return wasm
}
