/**
 * Checks of JavaScript arguments before they reach the native addon: the
 * addon's own conversions would silently wrap or truncate.
 */

const I64_MIN = -(2n ** 63n)
const I64_MAX = 2n ** 63n - 1n
const U32_MAX = 2 ** 32 - 1

/** `value` as an i64 bigint; a bigint in range or a safe-integer number, else `TypeError`. */
export function toI64(value: unknown, name: string): bigint {
  if (typeof value === 'bigint') {
    if (value < I64_MIN || value > I64_MAX) {
      throw new TypeError(`${name} must fit in a signed 64-bit integer, got ${value}`)
    }
    return value
  }
  if (typeof value === 'number' && Number.isSafeInteger(value)) {
    return BigInt(value)
  }
  throw new TypeError(`${name} must be a bigint or a safe integer, got ${describe(value)}`)
}

/**
 * `value` as an integer number (an offset, a length or a size); bigints are
 * accepted when they are safe integers. Range checks against memory happen
 * natively and throw `MemoryError`.
 */
export function toInteger(value: unknown, name: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) {
    return value
  }
  if (typeof value === 'bigint' && value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return Number(value)
  }
  throw new TypeError(`${name} must be a safe integer or bigint, got ${describe(value)}`)
}

/** `value` as an unsigned 32-bit integer, else `TypeError`. */
export function toU32(value: unknown, name: string): number {
  const n = toInteger(value, name)
  if (n < 0 || n > U32_MAX) {
    throw new TypeError(`${name} must be in [0, ${U32_MAX}], got ${n}`)
  }
  return n
}

/** `value` as a string, else `TypeError`. */
export function toName(value: unknown, name: string): string {
  if (typeof value !== 'string') {
    throw new TypeError(`${name} must be a string, got ${describe(value)}`)
  }
  return value
}

/** `value` as a byte view (a `Uint8Array`, a `Buffer` or an `ArrayBuffer`), else `TypeError`. */
export function toBytes(value: unknown, name: string): Uint8Array {
  if (value instanceof Uint8Array) return value
  if (value instanceof ArrayBuffer) return new Uint8Array(value)
  throw new TypeError(`${name} must be a Uint8Array, got ${describe(value)}`)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'object') return value.constructor?.name ?? 'object'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  return `${typeof value} ${String(value)}`
}
