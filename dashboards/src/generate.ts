import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { renderAll } from './index.ts'

/**
 * `npm run dashboards`: writes dashboards/generated/*.json from the TypeScript sources and removes
 * JSON of dashboards that no longer exist. `--check` writes nothing and exits 1 when the committed
 * JSON differs from what the sources generate.
 */
export const GENERATED_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'generated')

export function diffGenerated(dir = GENERATED_DIR): string[] {
  const wanted = renderAll()
  const problems: string[] = []
  const present = new Set(readdirSync(dir).filter((f) => f.endsWith('.json')))
  for (const [file, text] of wanted) {
    if (!present.has(file)) problems.push(`${file}: missing`)
    else if (readFileSync(path.join(dir, file), 'utf8') !== text) problems.push(`${file}: out of date`)
  }
  for (const file of present) if (!wanted.has(file)) problems.push(`${file}: no longer generated`)
  return problems
}

function main(): void {
  if (process.argv.includes('--check')) {
    const problems = diffGenerated()
    for (const p of problems) console.error(p)
    if (problems.length) {
      console.error('run `npm run dashboards` and commit dashboards/generated')
      process.exit(1)
    }
    console.log('dashboards/generated is up to date')
    return
  }
  mkdirSync(GENERATED_DIR, { recursive: true })
  const wanted = renderAll()
  for (const file of readdirSync(GENERATED_DIR))
    if (file.endsWith('.json') && !wanted.has(file)) rmSync(path.join(GENERATED_DIR, file))
  for (const [file, text] of wanted) writeFileSync(path.join(GENERATED_DIR, file), text)
  console.log(`wrote ${wanted.size} dashboards to ${path.relative(process.cwd(), GENERATED_DIR)}`)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
