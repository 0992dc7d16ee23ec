// `npm run check:cycles`: fails when any module of the house imports,
// directly or through others, a module that imports it back.
//
// Checked: each Rust crate under crate/ (modules are files; an edge is any
// `crate::a::b` or `super::b` path outside comments, tests excluded) and
// the TypeScript layer (index.ts and lib/; `import` and `import type`
// alike, since a type-only circle is still a circle for the reader).
// Prints every circle as its strongly connected component, one line each.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** Every file under `dir` whose name ends with `ext`. */
function files(dir, ext) {
  if (!existsSync(dir)) return []
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return files(path, ext)
    return path.endsWith(ext) ? [path] : []
  })
}

/** Source text without line and block comments, string contents left. */
const uncommented = (text) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')

/** The module graph of the Rust crate whose root file is `rootFile`. */
function rustGraph(rootFile) {
  const base = dirname(rootFile)
  const modules = new Map()
  for (const file of files(base, '.rs')) {
    const rel = relative(base, file)
    if (/_tests\.rs$/.test(rel) || rel.startsWith('tests')) continue
    let path = rel.replace(/\.rs$/, '').split(/[\\/]/)
    if (path.at(-1) === 'mod') path = path.slice(0, -1)
    if (file === rootFile) path = []
    modules.set(path.join('::'), file)
  }
  const graph = new Map()
  for (const [name, file] of modules) {
    const here = name === '' ? [] : name.split('::')
    const parent = modules.has(name) && file.endsWith('mod.rs') ? here : here.slice(0, -1)
    const text = uncommented(readFileSync(file, 'utf8')).replace(/#\[cfg\(test\)\][\s\S]*$/, '')
    const edges = new Set()
    const add = (path) => {
      // The longest prefix of `path` that is a module file.
      for (let n = path.length; n > 0; n--) {
        const target = path.slice(0, n).join('::')
        if (modules.has(target)) {
          if (target !== name) edges.add(target)
          return
        }
      }
    }
    // `use crate::{a, b::c}` groups, then every other path.
    for (const [, prefix, group] of text.matchAll(/\b(crate|super)::\{([^}]*)\}/g)) {
      const start = prefix === 'crate' ? [] : parent
      for (const item of group.split(',')) add([...start, ...item.trim().split('::').filter(Boolean)])
    }
    for (const [, prefix, rest] of text.matchAll(/\b(crate|super)((?:::\w+)+)/g)) {
      add([...(prefix === 'crate' ? [] : parent), ...rest.split('::').filter(Boolean)])
    }
    graph.set(name === '' ? '(root)' : name, [...edges].map((e) => (e === '' ? '(root)' : e)))
  }
  return graph
}

/** The import graph of the TypeScript files `entries` and what they reach. */
function tsGraph(entries) {
  const graph = new Map()
  const pending = [...entries]
  while (pending.length > 0) {
    const file = pending.pop()
    if (graph.has(file)) continue
    const edges = []
    const text = uncommented(readFileSync(file, 'utf8'))
    for (const [, spec] of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
      const target = ['.ts', '/index.ts', '.d.ts'].map((ext) => resolve(dirname(file), spec.replace(/\.(c?js|ts)$/, '') + ext)).find(existsSync)
      if (target !== undefined && !target.endsWith('.d.ts')) {
        edges.push(target)
        pending.push(target)
      }
    }
    graph.set(file, edges)
  }
  return new Map([...graph].map(([file, edges]) => [relative(root, file), edges.map((e) => relative(root, e))]))
}

/** Strongly connected components of more than one node (Tarjan). */
function circles(graph) {
  let next = 0
  const index = new Map()
  const low = new Map()
  const stack = []
  const onStack = new Set()
  const found = []
  const visit = (node) => {
    index.set(node, next)
    low.set(node, next++)
    stack.push(node)
    onStack.add(node)
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to)
        low.set(node, Math.min(low.get(node), low.get(to)))
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node), index.get(to)))
      }
    }
    if (low.get(node) === index.get(node)) {
      const component = []
      let member
      do {
        member = stack.pop()
        onStack.delete(member)
        component.push(member)
      } while (member !== node)
      if (component.length > 1) found.push(component.sort())
    }
  }
  for (const node of graph.keys()) if (!index.has(node)) visit(node)
  return found
}

const houses = {
  'crate/core': rustGraph(join(root, 'crate/core/src/lib.rs')),
  'crate/binding': rustGraph(join(root, 'crate/binding/lib.rs')),
  ...(existsSync(join(root, 'crate/freenet/src/lib.rs')) ? { 'crate/freenet': rustGraph(join(root, 'crate/freenet/src/lib.rs')) } : {}),
  TypeScript: tsGraph([join(root, 'index.ts'), ...files(join(root, 'lib'), '.ts').filter((f) => !f.endsWith('.d.ts'))]),
}
let failed = false
for (const [house, graph] of Object.entries(houses)) {
  const found = circles(graph)
  const edges = [...graph.values()].reduce((n, e) => n + e.length, 0)
  if (found.length === 0) {
    console.log(`${house}: ${graph.size} modules, ${edges} imports, no circle`)
    continue
  }
  failed = true
  for (const component of found) console.log(`${house}: circle of ${component.length}: ${component.join(', ')}`)
}
process.exit(failed ? 1 : 0)
