import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { RULE_CONFIG_KEYS } from '../../src/alerts/config.ts'
import { type AlertView, escalationText, renderGroup } from '../../src/alerts/index.ts'
import { RULE_FAMILIES, RULE_IDS, RULE_TEXTS } from '../../src/alerts/rules/index.ts'
import { isGsm7 } from '../../src/notify/encoding.ts'
import { isQuantity } from '../../src/telemetry/quantities.ts'

/** Files in src/alerts/rules/ that are shared helpers, not rule families. */
const HELPERS = new Set(['index.ts', 'ids.ts', 'types.ts', 'schema.ts', 'moisture.ts', 'quantities.ts'])
const RULES_DIR = join(import.meta.dirname, '../../src/alerts/rules')

/** GSM-7 septets: the extension table's characters cost two. */
function septets(text: string): number {
  let n = 0
  for (const ch of text) n += '^{}\\[~]|€'.includes(ch) ? 2 : 1
  return n
}

describe('alert rule families (STYLE.md 12)', () => {
  it('every file in src/alerts/rules/ is a family listed in index.ts, and every listed family has its file', () => {
    const files = readdirSync(RULES_DIR).filter((f) => f.endsWith('.ts') && !HELPERS.has(f))
    const listed = RULE_FAMILIES.map((f) => `${f.family}.ts`)
    expect([...listed].sort()).toEqual([...files].sort())
  })

  it('every family is complete: ids with texts in both languages, a config key in the schema, known quantities', () => {
    const seen = new Map<string, string>()
    for (const f of RULE_FAMILIES) {
      expect(f.ids.length, f.family).toBeGreaterThan(0)
      expect(RULE_CONFIG_KEYS, f.family).toContain(f.configKey)
      expect(() => f.schema.parse(undefined), f.family).not.toThrow()
      expect(f.describe.length, f.family).toBeGreaterThan(10)
      expect(['field', 'village', 'device', 'day']).toContain(f.trigger)
      for (const q of f.quantities) expect(isQuantity(q), `${f.family}: ${q}`).toBe(true)
      for (const id of f.ids) {
        expect(seen.get(id), `${id} raised by two families`).toBeUndefined()
        seen.set(id, f.family)
        const texts = (f.texts as Record<string, { id: unknown; en: unknown }>)[id]
        expect(texts?.id, `${id} id text`).toBeDefined()
        expect(texts?.en, `${id} en text`).toBeDefined()
      }
    }
    // Every rule id is some family's, and has its texts.
    expect([...seen.keys()].sort()).toEqual([...RULE_IDS].sort())
    expect(Object.keys(RULE_TEXTS).sort()).toEqual([...RULE_IDS].sort())
  })

  it('every template, both languages, firing / reminder / all-clear / escalation, is ONE GSM-7 segment with the longest names', () => {
    const longestField = 'SAWAH BELAKANG MASJID PAK HARJO1' // 32 characters, the most a field name may have
    expect(longestField).toHaveLength(32)
    const longestId = `d${'x'.repeat(62)}` // device and village ids: up to 63 characters
    const variants: Array<Partial<AlertView>> = [
      { crop: 'chili', value: 18.4, threshold: 31.8, needMm: 250, areaHa: 99.99 },
      { crop: 'rice', value: 18.4, threshold: 33.2, needMm: 250, areaHa: 99.99 },
      { crop: 'maize', value: 18.4, threshold: 28.3 },
      { value: 60, threshold: 50 },
      { value: 120, threshold: 50 },
      { value: 212, threshold: 50 },
      { value: -16.4, threshold: -15, crop: 'rice' },
      { value: -3.2, threshold: 0, crop: 'rice' },
      { value: 7, threshold: 7, crop: 'rice' },
      { value: 36.4, threshold: 35, crop: 'rice' },
      { value: 3.41, threshold: 3.5 },
    ]
    let longest = { septets: 0, text: '' }
    for (const rule of RULE_IDS) {
      for (const lang of ['id', 'en'] as const) {
        for (const v of variants) {
          const a: AlertView = {
            id: 9_999_999,
            rule,
            fieldName: longestField,
            device: longestId,
            village: longestId,
            sinceLocal: '21:40',
            ...v,
          }
          const texts = [
            ...(['firing', 'repeat', 'resolved'] as const).map((kind) =>
              renderGroup([{ alert: a, kind }], lang),
            ),
            escalationText(a, 999, lang),
          ]
          for (const text of texts) {
            expect(isGsm7(text), `${lang} ${rule}: ${text}`).toBe(true)
            expect.soft(septets(text), `${lang} ${rule} (${septets(text)}): ${text}`).toBeLessThanOrEqual(160)
            if (septets(text) > longest.septets) longest = { septets: septets(text), text }
          }
        }
      }
    }
    // For the README: how close the longest comes.
    expect(longest.septets).toBeGreaterThan(100)
  })

  it('heavy rain is labelled by its BMKG class', () => {
    const at = (value: number, lang: 'id' | 'en') =>
      renderGroup(
        [
          {
            alert: { id: 5, rule: 'heavy_rain', fieldName: 'SAWAH1', village: 'k', value, threshold: 50 },
            kind: 'firing',
          },
        ],
        lang,
      )
    expect(at(60, 'id')).toBe(
      'SAWAH1: hujan lebat 60 mm dlm 24 jam. Cek saluran pembuangan dan pematang. Balas OK 5',
    )
    expect(at(100, 'id')).toMatch(/^SAWAH1: hujan sangat lebat 100 mm/)
    expect(at(150, 'id')).toMatch(/^SAWAH1: hujan sangat lebat 150 mm/)
    expect(at(151, 'id')).toMatch(/^SAWAH1: hujan ekstrem 151 mm/)
    expect(at(120, 'en')).toMatch(/^SAWAH1: very heavy rain, 120 mm in 24 h/)
  })
})
