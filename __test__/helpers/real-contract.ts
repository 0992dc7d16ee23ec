/**
 * Real Freenet contract modules built by their projects' own tooling, as
 * shipped inside crates on crates.io: freenet-core's website container
 * contract (embedded by the `fdev` tool) and River's chat room contract
 * (bundled by its `riverctl` CLI). Each is fetched once (the crate and the
 * module pinned by hash) into `.cache/`, not committed.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'

/** A contract module inside a crate: where to download it and what its bytes must hash to. */
interface Pinned {
  crate: string
  crateSha256: string
  member: string
  wasmSha256: string
  cached: string
}

const CACHE = join(__dirname, '..', '..', '.cache', 'freenet')

const WEBSITE: Pinned = {
  crate: 'https://static.crates.io/crates/fdev/fdev-0.3.211.crate',
  crateSha256: '65a5b750f6a033524e6e4f1207ede9dc320c76633d2e9762c1ac96f076260cce',
  member: 'fdev-0.3.211/resources/website_contract.wasm',
  wasmSha256: '58025bc15f31e18b982f07efaf8b103badebbc8201c74bf08514ae17e24dbcc6',
  cached: join(CACHE, 'website_contract.wasm'),
}

const ROOM: Pinned = {
  crate: 'https://static.crates.io/crates/riverctl/riverctl-0.2.24.crate',
  crateSha256: 'b27e25c29833718bd2171bc3f7d9a6c776d11d8395cb500009b58484de5c4e81',
  member: 'riverctl-0.2.24/contracts/room_contract.wasm',
  wasmSha256: '2eafd872bb0d7aa87d5033053f199d48ef1b0f4f455fe98070aa25fbd5e4c5ef',
  cached: join(CACHE, 'room_contract.wasm'),
}

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

/** The module's bytes: from the cache when it holds the pinned ones, else downloaded from crates.io and cached. */
async function pinnedContract(pin: Pinned): Promise<Uint8Array> {
  if (existsSync(pin.cached)) {
    const cached = readFileSync(pin.cached)
    if (sha256(cached) === pin.wasmSha256) return cached
  }
  const response = await fetch(pin.crate)
  if (!response.ok) throw new Error(`cannot download ${pin.crate}: HTTP ${response.status}`)
  const crate = Buffer.from(await response.arrayBuffer())
  if (sha256(crate) !== pin.crateSha256) throw new Error(`${pin.crate} does not have the pinned hash`)
  const wasm = untar(gunzipSync(crate), pin.member)
  if (sha256(wasm) !== pin.wasmSha256) throw new Error(`${pin.member} does not have the pinned hash`)
  mkdirSync(join(pin.cached, '..'), { recursive: true })
  writeFileSync(pin.cached, wasm)
  return wasm
}

/** The website contract's bytes (`fdev` 0.3.211), downloaded from crates.io on first use. */
export const websiteContract = (): Promise<Uint8Array> => pinnedContract(WEBSITE)

/** River's room contract's bytes (`riverctl` 0.2.24), downloaded from crates.io on first use. */
export const roomContract = (): Promise<Uint8Array> => pinnedContract(ROOM)
