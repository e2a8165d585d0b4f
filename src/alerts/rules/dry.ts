import { cropsSchema, dryBelow, fieldMoistureRule, observeProbe, smoothedTheta } from './moisture.ts'
import { SOIL } from './quantities.ts'
import { n, valueAndLimit } from './schema.ts'
import {
  type AlertView,
  type FieldTarget,
  type Finding,
  fieldFinding,
  type RuleContext,
  type RuleFamily,
} from './types.ts'

const vl = (a: AlertView, l: 'id' | 'en') => valueAndLimit(a.value!, a.threshold!, l)

/**
 * Dry soil: θ below the field's threshold (from its soil: θFC − p (θFC − θWP), FAO-56) for `forMs`.
 * Not for a paddy that has an AWD tube (its water level says more: water-level.ts), nor for a
 * paddy in its drain-down before harvest or after it (IRRI: drained 10–15 days before harvest).
 */
export function paddySkipsDry(ctx: RuleContext, t: FieldTarget): boolean {
  const { field, atMs } = t
  if (field.crop !== 'rice') return false
  if (ctx.fieldWaterLevel(field) !== undefined) return true
  const season = ctx.season(field, atMs)
  const toHarvest = season?.daysToHarvest
  return toHarvest !== undefined && toHarvest <= ctx.config.rules.waterLevel.drainDownDays
}

/** "~12 mm = 18.000 L utk 0,15 ha": the depth to whole mm and the litres of that depth (1 mm on 1 ha = 10 000 L). */
export function water(
  a: Pick<AlertView, 'needMm' | 'areaHa'>,
  lang: 'id' | 'en',
): { mm: string; litres: string; area: string } | undefined {
  if (a.needMm === undefined || a.needMm < 1 || a.areaHa === undefined) return undefined
  const mm = Math.max(1, Math.round(a.needMm))
  return {
    mm: String(mm),
    litres: n(Math.round((mm * a.areaHa * 10_000) / 100) * 100, lang, 0),
    area: n(a.areaHa, lang, 2),
  }
}

const paddy = (a: AlertView) => a.crop === 'rice'

export const dry: RuleFamily<'dry'> = {
  family: 'dry',
  ids: ['dry'],
  configKey: 'crops',
  schema: cropsSchema,
  quantities: [SOIL],
  trigger: 'field',
  describe:
    'soil moisture below θFC − p·(θFC − θWP)q + ETc·1 d/(1000 Zr): FAO-56 RAW (Table 19/22, p adjusted for ETc) at the narrow 5 % of the soils the class admits, from the probe’s own field-capacity reading (optionally leadMs ahead at ETc); for forMs; not for paddies with an AWD tube or in drain-down',
  evaluate(ctx, t) {
    if (t.kind !== 'field') return []
    const { field, atMs } = t
    const m = ctx.fieldMoisture(field)
    if (!m) return []
    observeProbe(ctx, field, m.value, m.timeMs)
    const theta = smoothedTheta(ctx, field) ?? m.value
    const rule = fieldMoistureRule(ctx, field, 'dry', atMs)
    if (!rule.enabled) return []
    const skip = paddySkipsDry(ctx, t)
    const f: Finding = fieldFinding(field, {
      rule: 'dry',
      category: 'field',
      severity: rule.severity,
      // A paddy that should not alert on % VWC resolves a dry alert it had (the farmer drained it).
      active: !skip && dryBelow(ctx, field, theta, rule.thresholdPct),
      clear: skip || theta >= rule.thresholdPct + rule.hysteresisPct,
      value: theta,
      threshold: rule.thresholdPct,
      atMs,
      forMs: rule.forMs,
    })
    return [f]
  },
  texts: {
    dry: {
      id: {
        label: () => 'kering',
        firing: (a, l) => {
          const w = water(a, l)
          // A paddy is flooded ("airi"), an upland field watered ("siram").
          const verb = paddy(a) ? 'Airi' : 'Siram'
          const advice = w
            ? ` ${verb} ~${w.mm} mm = ${w.litres} L utk ${w.area} ha.`
            : ` Segera ${paddy(a) ? 'airi sawah' : 'siram'}.`
          return `${a.fieldName} kering: kelembapan tanah ${vl(a, l)[0]}% (batas ${vl(a, l)[1]}%).${advice}`
        },
        resolved: (a) => `${a.fieldName} sudah normal, tidak kering lagi (#${a.id}).`,
      },
      en: {
        label: () => 'dry',
        firing: (a, l) => {
          const w = water(a, l)
          const advice = w ? ` Irrigate ~${w.mm} mm = ${w.litres} L for ${w.area} ha.` : ' Irrigate soon.'
          return `${a.fieldName} dry: soil moisture ${vl(a, l)[0]}% (limit ${vl(a, l)[1]}%).${advice}`
        },
        resolved: (a) => `${a.fieldName} back to normal, no longer dry (#${a.id}).`,
      },
    },
  },
}
