/**
 * Random valid WebAssembly modules for the stress suite: a few exported
 * functions of random arithmetic, memory, branches, loops and calls, built
 * with a stack discipline so every module validates. Their behaviour is
 * anything: results, traps, endless loops, memory growth.
 */

const I64_BINARY = ['i64.add', 'i64.sub', 'i64.mul', 'i64.and', 'i64.or', 'i64.xor', 'i64.shl', 'i64.shr_u', 'i64.rotl', 'i64.div_u', 'i64.rem_s']
const I64_COMPARE = ['i64.eq', 'i64.ne', 'i64.lt_s', 'i64.gt_u', 'i64.le_s']

/** The WebAssembly text of one random module, drawn with `random`. */
export function randomModule(random: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const int = (max: number) => Math.floor(random() * max)
  const functions = 1 + int(4)

  function i64(depth: number, callable: number): string {
    if (depth <= 0) return random() < 0.5 ? `(i64.const ${int(2 ** 31) - 2 ** 30})` : `(local.get ${int(2)})`
    const next = depth - 1
    switch (int(9)) {
      case 0:
        return `(${pick(I64_BINARY)} ${i64(next, callable)} ${i64(next, callable)})`
      case 1:
        return `(i64.load offset=${int(70_000)} (i32.and ${i32(next, callable)} (i32.const 0xffff)))`
      case 2:
        return `(if (result i64) ${i32(next, callable)} (then ${i64(next, callable)}) (else ${i64(next, callable)}))`
      case 3:
        return `(block (result i64) (local.set ${int(2)} ${i64(next, callable)}) ${i64(next, callable)})`
      case 4:
        // A loop counting local 2 down from a small or large bound.
        return `(block (result i64) (local.set 2 (i32.const ${pick([3, 50, 100_000, 2 ** 30])}))
          (loop $l (local.set 0 (i64.add (local.get 0) ${i64(next, callable)}))
            (local.set 2 (i32.sub (local.get 2) (i32.const 1))) (br_if $l (local.get 2)))
          (local.get 0))`
      case 5:
        return callable > 0 ? `(call $f${int(callable)})` : `(i64.const 1)`
      case 6:
        return `(block (result i64) (i64.store offset=${int(70_000)} (i32.and ${i32(next, callable)} (i32.const 0xffff)) ${i64(next, callable)}) (i64.const 0))`
      case 7:
        return random() < 0.1 ? `(block (result i64) unreachable)` : `(i64.extend_i32_s ${i32(next, callable)})`
      default:
        return `(i64.clz ${i64(next, callable)})`
    }
  }

  function i32(depth: number, callable: number): string {
    if (depth <= 0) return `(i32.const ${int(64)})`
    const next = depth - 1
    switch (int(5)) {
      case 0:
        return `(${pick(I64_COMPARE)} ${i64(next, callable)} ${i64(next, callable)})`
      case 1:
        return `(i32.wrap_i64 ${i64(next, callable)})`
      case 2:
        return `(memory.grow (i32.const ${int(4)}))`
      case 3:
        return '(memory.size)'
      default:
        return `(i64.eqz ${i64(next, callable)})`
    }
  }

  // Function i may call functions 0..i-1 only: no recursion, so only loops run long.
  const bodies = Array.from(
    { length: functions },
    (_, i) => `(func $f${i} (export "f${i}") (result i64) (local i64 i64 i32) ${i64(2 + int(4), i)})`,
  )
  const start = random() < 0.2 ? `(func $start (drop (call $f0))) (start $start)` : ''
  return `(module (memory (export "memory") 1 8) ${bodies.join('\n')} ${start})`
}
