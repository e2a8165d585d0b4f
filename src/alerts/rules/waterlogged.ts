import { cropsSchema, fieldMoistureRule } from './moisture.ts'
import { SOIL } from './quantities.ts'
import { valueAndLimit } from './schema.ts'
import { type AlertView, fieldFinding, type RuleFamily } from './types.ts'

const vl = (a: AlertView, l: 'id' | 'en') => valueAndLimit(a.value!, a.threshold!, l)

/**
 * Waterlogged upland soil: θ above field capacity + `aboveFcPct` (or the field's / crop's own
 * threshold) for `forMs`; chili roots rot within hours in saturated soil. Off for rice.
 */
export const waterlogged: RuleFamily<'waterlogged'> = {
  family: 'waterlogged',
  ids: ['waterlogged'],
  configKey: 'crops',
  schema: cropsSchema,
  quantities: [SOIL],
  trigger: 'field',
  describe: 'soil moisture above θFC + aboveFcPct (chili 8, maize 10 % VWC) for forMs; off for rice',
  evaluate(ctx, t) {
    if (t.kind !== 'field') return []
    const { field, atMs } = t
    const m = ctx.fieldMoisture(field)
    if (!m) return []
    const rule = fieldMoistureRule(ctx, field, 'waterlogged', atMs)
    if (!rule.enabled) return []
    return [
      fieldFinding(field, {
        rule: 'waterlogged',
        category: 'field',
        severity: rule.severity,
        active: m.value > rule.thresholdPct,
        clear: m.value <= rule.thresholdPct - rule.hysteresisPct,
        value: m.value,
        threshold: rule.thresholdPct,
        atMs,
        forMs: rule.forMs,
      }),
    ]
  },
  texts: {
    waterlogged: {
      id: {
        label: () => 'tergenang',
        firing: (a, l) =>
          `${a.fieldName} tergenang: kelembapan tanah ${vl(a, l)[0]}% (batas ${vl(a, l)[1]}%). Buka saluran pembuangan.`,
        resolved: (a) => `${a.fieldName} sudah normal, tidak tergenang lagi (#${a.id}).`,
      },
      en: {
        label: () => 'waterlogged',
        firing: (a, l) =>
          `${a.fieldName} waterlogged: soil moisture ${vl(a, l)[0]}% (limit ${vl(a, l)[1]}%). Open the drains.`,
        resolved: (a) => `${a.fieldName} back to normal, no longer waterlogged (#${a.id}).`,
      },
    },
  },
}
