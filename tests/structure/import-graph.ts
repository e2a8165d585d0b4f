/**
 * The import graph of the sources, read with the TypeScript parser (import and export-from
 * declarations, `import()` calls, `import x = require()`), and the rules the capabilities keep.
 * Used by imports.test.ts; pure apart from `collectImports`, which reads the files.
 *
 * A capability is a folder directly under src/ (src/alerts, src/store, ...) or one of the
 * top-level folders broker/, gateway/, firmware-sim/, dashboards/. The root files of src/
 * (config.ts, errors.ts, log.ts, metrics.ts, app.ts, schemas.ts) belong to none: errors, log and
 * metrics are shared by all, config.ts composes every capability's config schema, app.ts and
 * schemas.ts compose the capabilities themselves; any file may import them, and they may import
 * any capability's index.ts. Runnable README examples (`example.ts`) are entry points like the
 * CLI: they must use index.ts like everyone, but their imports are not their folder's (the
 * certificate example serves its page with src/api, which src/oksigen itself must not import).
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import ts from 'typescript'

export interface ImportEdge {
  /** Importing file, relative to the repository root with `/` separators. */
  from: string
  /** Imported file, same form. */
  to: string
  /** The specifier as written. */
  specifier: string
}

export interface Violation {
  rule: 'folder-cycle' | 'telemetry-imports' | 'api-import' | 'store-imports-consumer' | 'bypasses-index'
  message: string
}

export const TOP_LEVEL_CAPABILITIES = ['broker', 'gateway', 'firmware-sim', 'dashboards'] as const
export const SOURCE_DIRS = ['src', ...TOP_LEVEL_CAPABILITIES] as const
const EXTENSIONS = ['.ts', '.mts', '.mjs', '.js']
/** What src/store must never depend on: the code that uses it. */
export const STORE_CONSUMERS = ['ingest', 'alerts', 'oksigen', 'api', 'cli', 'console', 'notify'].map(
  (c) => `src/${c}`,
)

/** `src/alerts`, `broker`, ...; undefined for src/'s shared root files and anything outside. */
export function capabilityOf(file: string): string | undefined {
  const parts = file.split('/')
  if (parts[0] === 'src') return parts.length > 2 ? `src/${parts[1]}` : undefined
  return (TOP_LEVEL_CAPABILITIES as readonly string[]).includes(parts[0]!) ? parts[0] : undefined
}

/** The files another capability may import: the capability's index.ts (dashboards: dashboards/src/index.ts). */
export function isCapabilityIndex(capability: string, file: string): boolean {
  return (
    file === `${capability}/index.ts` || (capability === 'dashboards' && file === 'dashboards/src/index.ts')
  )
}

export function isEntryPoint(file: string): boolean {
  return /(^|\/)example\.(ts|mts|mjs)$/.test(file)
}

/** Every relative module specifier in one source text, read by the TypeScript parser. */
export function moduleSpecifiers(fileName: string, text: string): string[] {
  const kind = /\.m?js$/.test(fileName) ? ts.ScriptKind.JS : ts.ScriptKind.TS
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, kind)
  const found: string[] = []
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text)
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      found.push(node.moduleReference.expression.text)
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      found.push(node.arguments[0].text)
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      found.push(node.argument.literal.text) // `import('../x.ts').T` in a type position
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found.filter((s) => s.startsWith('.'))
}

function listSources(root: string, dir: string, out: string[]): void {
  let entries: import('node:fs').Dirent[]
  try {
    entries = readdirSync(path.join(root, dir), { withFileTypes: true })
  } catch {
    return
  }
  for (const e of entries) {
    const rel = `${dir}/${e.name}`
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'public' && !e.name.startsWith('.'))
        listSources(root, rel, out)
    } else if (
      EXTENSIONS.some((x) => e.name.endsWith(x)) &&
      !e.name.endsWith('.d.ts') &&
      !/\.test\.ts$/.test(e.name)
    ) {
      out.push(rel)
    }
  }
}

/** Every source file under `dirs` of `root` and the relative imports between them. */
export function collectImports(
  root: string,
  dirs: readonly string[] = SOURCE_DIRS,
): { files: string[]; edges: ImportEdge[] } {
  const files: string[] = []
  for (const dir of dirs) listSources(root, dir, files)
  const edges: ImportEdge[] = []
  for (const from of files) {
    for (const specifier of moduleSpecifiers(from, readFileSync(path.join(root, from), 'utf8'))) {
      const to = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier))
      edges.push({ from, to, specifier })
    }
  }
  return { files, edges }
}

/** Strongly connected groups of more than one capability (Tarjan), each as one cycle path. */
export function folderCycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, Set<string>>()
  for (const e of edges) {
    const a = capabilityOf(e.from)
    const b = capabilityOf(e.to)
    if (!a || !b || a === b || isEntryPoint(e.from)) continue
    if (!next.has(a)) next.set(a, new Set())
    if (!next.has(b)) next.set(b, new Set())
    next.get(a)!.add(b)
  }
  let counter = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const groups: string[][] = []
  const connect = (v: string): void => {
    index.set(v, counter)
    low.set(v, counter)
    counter++
    stack.push(v)
    onStack.add(v)
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!))
      }
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        group.push(w)
      } while (w !== v)
      if (group.length > 1) groups.push(group)
    }
  }
  for (const v of [...next.keys()].sort()) if (!index.has(v)) connect(v)
  // One concrete cycle per group, for the message: breadth-first from the group's first member back to it.
  return groups.map((group) => {
    const members = new Set(group)
    const start = [...group].sort()[0]!
    const previous = new Map<string, string>()
    const queue = [start]
    while (queue.length > 0) {
      const v = queue.shift()!
      for (const w of next.get(v) ?? []) {
        if (!members.has(w)) continue
        if (w === start) {
          const path = [start]
          for (let u: string | undefined = v; u !== undefined && u !== start; u = previous.get(u))
            path.splice(1, 0, u)
          return [...path, start]
        }
        if (!previous.has(w)) {
          previous.set(w, v)
          queue.push(w)
        }
      }
    }
    return [...group, group[0]!]
  })
}

/** Every rule broken by `edges`, one violation per offending import (cycles once per group). */
export function checkImports(edges: readonly ImportEdge[]): Violation[] {
  const violations: Violation[] = []
  for (const cycle of folderCycles(edges)) {
    const via = (a: string, b: string) =>
      edges.find((e) => capabilityOf(e.from) === a && capabilityOf(e.to) === b && !isEntryPoint(e.from))
    const steps = cycle.slice(1).map((b, i) => {
      const e = via(cycle[i]!, b)!
      return `${e.from} -> ${e.to}`
    })
    violations.push({ rule: 'folder-cycle', message: `${cycle.join(' -> ')} (${steps.join('; ')})` })
  }
  for (const e of edges) {
    const from = capabilityOf(e.from)
    const to = capabilityOf(e.to)
    if (from === to || to === undefined) continue // inside one capability, or a shared root file
    const where = `${e.from} imports '${e.specifier}'`
    if (!isEntryPoint(e.from)) {
      if (from === 'src/telemetry')
        violations.push({
          rule: 'telemetry-imports',
          message: `${where}: the telemetry model imports no other capability`,
        })
      if ((from === 'src/alerts' || from === 'src/oksigen') && to === 'src/api')
        violations.push({
          rule: 'api-import',
          message: `${where}: ${from} must not depend on the HTTP layer`,
        })
      if (from === 'src/store' && STORE_CONSUMERS.includes(to))
        violations.push({
          rule: 'store-imports-consumer',
          message: `${where}: the store must not depend on ${to}, which uses it`,
        })
    }
    if (!isCapabilityIndex(to, e.to))
      violations.push({ rule: 'bypasses-index', message: `${where}: import ${to}'s index.ts instead` })
  }
  return violations
}
