import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { getLogger, LOGGER_NAME } from '../../src/log.ts'

const ROOT = join(import.meta.dirname, '../..')
const SRC = join(ROOT, 'src')
/** Programs outside src that log through src/log.ts, and the capability name they log as. */
const OTHER_PROGRAMS: Record<string, string> = { broker: 'broker', gateway: 'gateway', 'firmware-sim': 'sim' }

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(file)
    return entry.name.endsWith('.ts') ? [file] : []
  })
}

describe('logger names', () => {
  it('every getLogger(...) in src is capability[.part], and names its capability folder', () => {
    const names: Array<{ file: string; name: string }> = []
    for (const file of sourceFiles(SRC)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/getLogger\('([^']*)'\)/g)) {
        names.push({ file: file.slice(SRC.length + 1), name: m[1]! })
      }
    }
    expect(names.length).toBeGreaterThan(15)
    for (const { file, name } of names) {
      expect(name, file).toMatch(LOGGER_NAME)
      // a module under src/<capability>/ logs as <capability>...; top-level files as themselves
      const folder = file.includes('/') ? file.split('/')[0]! : file.replace(/\.ts$/, '')
      expect(name.split('.')[0], file).toBe(folder)
    }
  })

  it('the broker, gateway and simulator programs follow the same style', () => {
    let count = 0
    for (const [dir, capability] of Object.entries(OTHER_PROGRAMS)) {
      for (const file of sourceFiles(join(ROOT, dir))) {
        for (const m of readFileSync(file, 'utf8').matchAll(/getLogger\('([^']*)'\)/g)) {
          count++
          expect(m[1], file).toMatch(LOGGER_NAME)
          expect(m[1]!.split('.')[0], file).toBe(capability)
        }
      }
    }
    expect(count).toBeGreaterThanOrEqual(6)
  })

  it('refuses a name in another style', () => {
    expect(() => getLogger('ingest-mqtt')).toThrow(/capability\[\.part\]/)
    expect(() => getLogger('Alerts')).toThrow()
    expect(getLogger('alerts.feed')).toBeDefined()
  })
})
