/** The `AbortSignal` wiring of the calls that run off the JavaScript thread. */
import { AbortedError } from './errors'
import { type CallSignal, native } from './native'

/** Runs `start` with a native token that `signal` fires. */
export async function withSignal<T>(signal: AbortSignal, start: (token: CallSignal) => Promise<T>): Promise<T> {
  if (!(signal instanceof AbortSignal)) {
    throw new TypeError('options.signal must be an AbortSignal')
  }
  if (signal.aborted) {
    throw new AbortedError('the call was aborted before it started', { cause: signal.reason })
  }
  const token = new native.CallSignal()
  const abort = () => token.abort()
  signal.addEventListener('abort', abort, { once: true })
  try {
    return await start(token)
  } finally {
    signal.removeEventListener('abort', abort)
  }
}
