import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { diffGenerated, GENERATED_DIR } from '../../dashboards/src/generate.ts'
import { DASHBOARDS, renderAll } from '../../dashboards/src/index.ts'

describe('generated dashboard JSON', () => {
  it('is what the TypeScript sources generate (run `npm run dashboards` and commit when this fails)', () => {
    expect(diffGenerated()).toEqual([])
    expect(
      readdirSync(GENERATED_DIR)
        .filter((f) => f.endsWith('.json'))
        .sort(),
    ).toEqual(
      Object.keys(DASHBOARDS)
        .map((n) => `${n}.json`)
        .sort(),
    )
  })

  it('the check notices an edited, a missing and a stray file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-generated-'))
    try {
      cpSync(GENERATED_DIR, dir, { recursive: true })
      expect(diffGenerated(dir)).toEqual([])
      const [first, second] = [...renderAll().keys()]
      writeFileSync(
        path.join(dir, first!),
        renderAll().get(first!)!.replace('Smart Kampung', 'Smart Kampong'),
      )
      rmSync(path.join(dir, second!))
      writeFileSync(path.join(dir, 'old.json'), '{}\n')
      expect(diffGenerated(dir).sort()).toEqual(
        [`${first}: out of date`, `${second}: missing`, 'old.json: no longer generated'].sort(),
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('`npm run dashboards -- --check` passes on the committed JSON', () => {
    const out = execFileSync('npx', ['tsx', 'dashboards/src/generate.ts', '--check'], { encoding: 'utf8' })
    expect(out).toMatch(/up to date/)
  })

  it('every dashboard has a unique uid, the smart-kampung tag, and InfluxQL that names its retention policy', () => {
    const uids = new Set<string>()
    for (const [file, text] of renderAll()) {
      const d = JSON.parse(text) as {
        uid: string
        tags: string[]
        panels: Array<{ targets?: Array<{ query?: string }> }>
      }
      expect(uids.has(d.uid), file).toBe(false)
      uids.add(d.uid)
      expect(d.tags).toContain('smart-kampung')
      for (const p of d.panels)
        for (const t of p.targets ?? [])
          if (t.query) expect(t.query, file).toMatch(/FROM (\(.*)?"(raw|rp_1h|events|\$rp)"\."\w+"/)
    }
  })
})
