/**
 * Rewrites every cross-capability import that bypasses the capability's index.ts (the
 * `bypasses-index` rule of tests/structure/imports.test.ts) to import the index instead. What the
 * index does not export yet, `npx tsc --noEmit` then names: add it to that index.ts.
 *
 *   node --import tsx scripts/fix-imports.ts && npx biome check --write src broker gateway firmware-sim dashboards
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { capabilityOf, collectImports, isCapabilityIndex } from '../tests/structure/import-graph.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
let rewritten = 0
for (const e of collectImports(root).edges) {
  const to = capabilityOf(e.to)
  if (!to || capabilityOf(e.from) === to || isCapabilityIndex(to, e.to)) continue
  const index = to === 'dashboards' ? 'dashboards/src/index.ts' : `${to}/index.ts`
  let specifier = path.posix.relative(path.posix.dirname(e.from), index)
  if (!specifier.startsWith('.')) specifier = `./${specifier}`
  const file = path.join(root, e.from)
  const text = readFileSync(file, 'utf8')
  const next = text.split(`'${e.specifier}'`).join(`'${specifier}'`)
  if (next === text) continue // already rewritten through another edge of the same specifier
  writeFileSync(file, next)
  console.log(`${e.from}: '${e.specifier}' -> '${specifier}'`)
  rewritten++
}
console.log(`${rewritten} import(s) rewritten`)
