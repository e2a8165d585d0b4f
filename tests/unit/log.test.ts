import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { getLogger, LOGGER_NAME } from '../../src/log.ts'

const SRC = join(import.meta.dirname, '../../src')

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

  it('refuses a name in another style', () => {
    expect(() => getLogger('ingest-mqtt')).toThrow(/capability\[\.part\]/)
    expect(() => getLogger('Alerts')).toThrow()
    expect(getLogger('alerts.feed')).toBeDefined()
  })
})
