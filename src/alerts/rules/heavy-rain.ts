import { z } from 'zod'
import { RAIN } from './quantities.ts'
import { durationMs, HOUR_MS, n, severity } from './schema.ts'
import { type AlertView, fieldFinding, type RuleFamily } from './types.ts'

/**
 * BMKG daily rainfall classes [mm/day]: ringan 0.5–20, sedang 20–50, lebat 50–100, sangat lebat
 * 100–150, ekstrem > 150. The rule fires from `mm` (lebat by default) over the window; the SMS
 * names the class of the amount, so 120 mm is "sangat lebat", not "lebat".
 */
export const BMKG_RAIN_CLASSES = [
  { fromMm: 150, id: 'ekstrem', en: 'extreme' },
  { fromMm: 100, id: 'sangat lebat', en: 'very heavy' },
  { fromMm: 50, id: 'lebat', en: 'heavy' },
  { fromMm: 20, id: 'sedang', en: 'moderate' },
  { fromMm: 0.5, id: 'ringan', en: 'light' },
] as const

/** The BMKG class of a 24-hour amount (boundaries belong to the higher class, except > 150). */
export function bmkgRainClass(mm: number): (typeof BMKG_RAIN_CLASSES)[number] | undefined {
  return BMKG_RAIN_CLASSES.find((c) => (c.fromMm === 150 ? mm > c.fromMm : mm >= c.fromMm))
}

export const heavyRainSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Fires from this amount in the window (BMKG "lebat" starts at 50 mm/day). */
    mm: z.number().positive().default(50),
    windowMs: durationMs.default(24 * HOUR_MS),
    hysteresisMm: z.number().min(0).default(10),
    severity: severity.default('critical'),
  })
  .strict()
  .prefault({})

const cls = (a: AlertView, lang: 'id' | 'en') =>
  bmkgRainClass(a.value ?? 0)?.[lang] ?? (lang === 'id' ? 'lebat' : 'heavy')

export const heavyRain: RuleFamily<'heavy_rain'> = {
  family: 'heavy-rain',
  ids: ['heavy_rain'],
  configKey: 'heavyRain',
  schema: heavyRainSchema,
  quantities: [RAIN],
  trigger: 'village',
  describe:
    'rain ≥ 50 mm within 24 h at the village station, labelled by BMKG class (lebat, sangat lebat, ekstrem)',
  windowMs: (c) => c.rules.heavyRain.windowMs,
  evaluate(ctx, t) {
    const rain = ctx.config.rules.heavyRain
    if (t.kind !== 'field' || !rain.enabled) return []
    const { field, atMs } = t
    const mm = ctx.villageRainMm(field.village, rain.windowMs, atMs)
    return [
      fieldFinding(field, {
        rule: 'heavy_rain',
        category: 'weather',
        severity: rain.severity,
        active: mm >= rain.mm,
        clear: mm < rain.mm - rain.hysteresisMm,
        value: mm,
        threshold: rain.mm,
        atMs,
        forMs: 0,
      }),
    ]
  },
  texts: {
    heavy_rain: {
      id: {
        label: (a) => `hujan ${cls(a, 'id')}`,
        firing: (a, l) =>
          `${a.fieldName}: hujan ${cls(a, 'id')} ${n(a.value!, l, 0)} mm dlm 24 jam. Cek saluran pembuangan dan pematang.`,
      },
      en: {
        label: (a) => `${cls(a, 'en')} rain`,
        firing: (a, l) =>
          `${a.fieldName}: ${cls(a, 'en')} rain, ${n(a.value!, l, 0)} mm in 24 h. Check drains and bunds.`,
      },
    },
  },
}
