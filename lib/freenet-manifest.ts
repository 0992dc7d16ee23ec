/**
 * A delegate's `freenet-manifest` custom section (freenet-stdlib 0.12),
 * read with the node's rules: JSON of at most 4,096 bytes, one section at
 * most, `manifest_version` required (1 or more), unknown fields and names
 * ignored, wake-ups bounded.
 *
 * @module
 */

/** The lifecycle events a delegate can ask for. */
export type LifecycleEventName = 'installed' | 'nodeStarted'

/** A wake-up a delegate asks for: a `wakeupFired` message carrying the UTF-8 bytes of `tag`, every `everySecs` seconds. */
export interface Wakeup {
  tag: string
  /** Clamped to [60, 604800] (a minute to a week), as the node does. */
  everySecs: number
}

/** What a delegate's manifest declares, as the node acts on it. */
export interface DelegateManifest {
  manifestVersion: number
  /** The lifecycle events to deliver (`lifecycle` messages), names the node does not know left out. */
  lifecycle: LifecycleEventName[]
  /** Capabilities it asks for (`'background'`: runs without a client request, for lifecycle events and wake-ups). */
  capabilities: 'background'[]
  /** At most 4, each tag 1 to 64 bytes and unique; others left out, as the node leaves them. */
  wakeups: Wakeup[]
}

/** The most bytes of JSON the node reads from the section. */
const MAX_MANIFEST_BYTES = 4096
const MAX_WAKEUPS = 4
const MAX_TAG_BYTES = 64
const MIN_EVERY_SECS = 60
const MAX_EVERY_SECS = 7 * 24 * 60 * 60

const LIFECYCLE: Record<string, LifecycleEventName> = { installed: 'installed', node_started: 'nodeStarted' }

/** Known names from `value` when it is an array (anything else reads as none). */
function names<T>(value: unknown, known: Record<string, T>): T[] {
  if (!Array.isArray(value)) return []
  const found: T[] = []
  for (const entry of value) {
    if (typeof entry === 'string' && Object.hasOwn(known, entry) && !found.includes(known[entry]!)) found.push(known[entry]!)
  }
  return found
}

function wakeups(value: unknown): Wakeup[] {
  if (!Array.isArray(value)) return []
  const taken: Wakeup[] = []
  for (const entry of value) {
    if (taken.length === MAX_WAKEUPS) break
    if (typeof entry !== 'object' || entry === null) continue
    const { tag, every_secs: every } = entry as Record<string, unknown>
    if (typeof tag !== 'string' || typeof every !== 'number' || !Number.isInteger(every) || every < 0) continue
    const bytes = Buffer.byteLength(tag, 'utf8')
    if (bytes < 1 || bytes > MAX_TAG_BYTES || taken.some((w) => w.tag === tag)) continue
    taken.push({ tag, everySecs: Math.min(Math.max(every, MIN_EVERY_SECS), MAX_EVERY_SECS) })
  }
  return taken
}

/** The manifest in `sections` (the payloads of the module's `freenet-manifest` sections), or why the node would ignore it. */
export function readManifest(sections: Uint8Array[]): { manifest: DelegateManifest | null; problem: string | null } {
  const refuse = (problem: string) => ({ manifest: null, problem })
  if (sections.length === 0) return { manifest: null, problem: null }
  if (sections.length > 1) return refuse(`the module has ${sections.length} freenet-manifest sections; the node reads a module with one at most`)
  const [bytes] = sections as [Uint8Array]
  if (bytes.length > MAX_MANIFEST_BYTES) {
    return refuse(`the freenet-manifest section holds ${bytes.length} bytes; the node reads at most ${MAX_MANIFEST_BYTES}`)
  }
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err) {
    return refuse(`the freenet-manifest section is not UTF-8 JSON: ${(err as Error).message}`)
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return refuse('the freenet-manifest section is not a JSON object')
  const record = json as Record<string, unknown>
  const version = record.manifest_version
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > 0xffff) {
    return refuse(`the freenet-manifest section's manifest_version must be an integer from 1 to 65535, got ${JSON.stringify(version)}`)
  }
  return {
    manifest: {
      manifestVersion: version,
      lifecycle: names(record.lifecycle, LIFECYCLE),
      capabilities: names(record.capabilities, { background: 'background' as const }),
      wakeups: wakeups(record.wakeups),
    },
    problem: null,
  }
}
