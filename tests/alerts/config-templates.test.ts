import { describe, expect, it } from 'vitest'
import { type AlertView, formatNumber, parseAlertsConfig, renderGroup } from '../../src/alerts/index.ts'
import { RULE_IDS } from '../../src/alerts/rules/index.ts'
import { ConfigError, parseConfig } from '../../src/config.ts'

/** GSM 03.38 basic set and extension table (extension characters cost 2 septets). */
const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà'
const GSM7_EXT = '^{}\\[~]|€'
function gsm7Septets(text: string): number | undefined {
  let n = 0
  for (const ch of text) {
    if (GSM7_BASIC.includes(ch)) n += 1
    else if (GSM7_EXT.includes(ch)) n += 2
    else return undefined
  }
  return n
}

describe('alerts config', () => {
  it('reports every error at once with its path, unknown keys included', () => {
    let error: unknown
    try {
      parseConfig({
        alerts: {
          groupWaitMs: -1,
          quietHours: { start: '25:00' },
          rules: {
            crops: { chili: { dry: { thresholdPct: 200, bogus: 1 } } },
            heavyRain: { mm: 'lots' },
          },
          extra: true,
        },
      })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ConfigError)
    const problems = (error as ConfigError).problems
    expect(problems).toHaveLength(6)
    for (const path of [
      'alerts.groupWaitMs:',
      'alerts.quietHours.start:',
      'alerts.rules.crops.chili.dry.thresholdPct:',
      'alerts.rules.crops.chili.dry:',
      'alerts.rules.heavyRain.mm:',
      'alerts:',
    ])
      expect(
        problems.some((p) => p.startsWith(path)),
        path,
      ).toBe(true)
  })

  it('defaults per crop; a partial override keeps the crop’s other values; stages merge over the crop', () => {
    const c = parseAlertsConfig({ rules: { crops: { maize: { dry: { thresholdPct: 19 } } } } })
    expect(c.rules.crops.maize.dry).toEqual({
      enabled: true,
      thresholdPct: 19,
      aboveFcPct: 10,
      forMs: 3 * 3_600_000,
      hysteresisPct: 3,
      severity: 'warning',
    })
    // Issue 13: no district-wide % VWC by default; each field's threshold follows from its soil.
    expect(c.rules.crops.chili.dry.thresholdPct).toBeUndefined()
    expect(c.rules.crops.rice.seasonDays).toBe(115)
    expect(c.soil.texture).toBe('loam')
    expect(c.rules.crops.rice.waterlogged.enabled).toBe(false)
    expect(c.rules.crops.rice.stages.mid).toEqual({ dry: { severity: 'critical' } })
    expect(c.repeatIntervalMs).toBe(12 * 3_600_000)
    expect(c.quietHours).toEqual({ start: '21:00', end: '06:00' })
  })
})

describe('SMS templates', () => {
  it('numbers in Indonesian and English format', () => {
    expect(formatNumber(18000, 0, 'id')).toBe('18.000')
    expect(formatNumber(0.15, 2, 'id')).toBe('0,15')
    expect(formatNumber(1234567.891, 1, 'id')).toBe('1.234.567,9')
    expect(formatNumber(18000, 0, 'en')).toBe('18,000')
    expect(formatNumber(-3.25, 1, 'id')).toBe('-3,3')
  })

  it('the brief’s example with the correct arithmetic: 12 mm on 0.15 ha = 18 000 L, one GSM-7 segment', () => {
    const a: AlertView = {
      id: 123,
      rule: 'dry',
      fieldName: 'SAWAH1',
      village: 'kemiren',
      value: 18,
      threshold: 25,
      needMm: 12,
      litres: 12 * 0.15 * 10_000,
      areaHa: 0.15,
    }
    const text = renderGroup([{ alert: a, kind: 'firing' }], 'id')
    expect(text).toBe(
      'SAWAH1 kering: kelembapan tanah 18% (batas 25%). Siram ~12 mm = 18.000 L utk 0,15 ha. Balas OK 123',
    )
    expect(gsm7Septets(text)).toBeLessThanOrEqual(160)
  })

  it('every rule’s text, both languages, is GSM-7 and one segment for a 10-character field name', () => {
    const rules = RULE_IDS // every rule the engine can raise (src/alerts/rules/ids.ts)
    for (const lang of ['id', 'en'] as const) {
      for (const rule of rules) {
        const a: AlertView = {
          id: 12345,
          rule,
          fieldName: 'KEBUNCABE1',
          device: 'kemiren-soil-12',
          village: 'kemiren',
          value: 123.4,
          threshold: 100,
          needMm: 38,
          litres: 57_000,
          areaHa: 0.15,
          sinceLocal: '21:40',
        }
        for (const kind of ['firing', 'repeat', 'resolved'] as const) {
          const text = renderGroup([{ alert: a, kind }], lang)
          const septets = gsm7Septets(text)
          expect(septets, `${lang} ${rule} ${kind}: ${text}`).toBeDefined()
          expect(septets!, `${lang} ${rule} ${kind}: ${text}`).toBeLessThanOrEqual(160)
        }
      }
    }
  })
})
