/** Process lifetime: nothing native keeps Node alive or crashes it at exit. */
import test from 'ava'

import { runFixture } from './helpers/child'

test('a program that makes blocking calls and finishes exits by itself', async (t) => {
  const result = await runFixture('finish.ts')
  t.false(result.killed, 'the process had to be killed: something kept it alive')
  t.is(result.code, 0, result.stderr)
  t.regex(result.stdout, /done 250/)
})

test('exiting with guests running and calls queued neither hangs nor crashes', async (t) => {
  const result = await runFixture('exit-in-flight.ts', ['3'])
  t.false(result.killed, `the process hung at exit: ${result.stderr}`)
  t.is(result.signal, null, result.stderr)
  t.is(result.code, 3, result.stderr)
  t.regex(result.stdout, /exiting/)
  t.true(result.elapsed < 10_000, `exit took ${result.elapsed} ms`)
})

test('terminating worker threads with blocking calls in flight does not crash the process', async (t) => {
  const result = await runFixture('worker-teardown.ts', ['8'], 60_000)
  t.false(result.killed, `the process hung: ${result.stderr}`)
  t.is(result.signal, null, result.stderr)
  t.is(result.code, 0, result.stderr)
  t.regex(result.stdout, /survived 8/)
})
