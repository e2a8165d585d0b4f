import { z } from 'zod'
import { water } from './dry.ts'
import { severity } from './schema.ts'
import { fieldFinding, type RuleFamily } from './types.ts'

export const irrigateSchema = z
  .object({
    enabled: z.boolean().default(true),
    severity: severity.default('warning'),
  })
  .strict()
  .prefault({})

const DAY_MS = 86_400_000

/**
 * Irrigate now: a field without a fresh probe whose FAO-56 root-zone balance (`../irrigation.ts`,
 * one day at each day close) has used up its readily available water, Dr ≥ RAW (FAO-56 p. 171:
 * "irrigations should be applied before or at the moment when the readily available soil water is
 * depleted"; Example 38, note 7: "Irrigation is required when Dr,i ≥ RAW"). The SMS gives Dr, the
 * net depth that refills the root zone (less what the farmer reported since). A field whose probe
 * reads has the dry rule instead (its θ is Dr measured, eq. 87); a paddy is judged by its water,
 * which the root-zone balance does not see, so none for rice. Judged at each day close; clears when
 * a closed day ends below RAW (after SUDAH or AIR, or rain; measured by a probe back online too).
 */
export const irrigate: RuleFamily<'irrigate'> = {
  family: 'irrigate',
  ids: ['irrigate'],
  configKey: 'irrigate',
  schema: irrigateSchema,
  quantities: [],
  trigger: 'day',
  describe:
    'no fresh probe: the FAO-56 daily root-zone balance (Ks, DP, rain, reported water) at a day close has Dr ≥ RAW (p. 171, Example 38); not for rice',
  evaluate(ctx, t) {
    const cfg = ctx.config.rules.irrigate
    if (t.kind !== 'field' || !cfg.enabled || t.field.crop === 'rice') return []
    const { field, atMs } = t
    // The day just closed ends at atMs; a day without its balance (no ET0) decides nothing.
    const day = ctx.fieldBalance(field)
    if (!day || day.dayStartMs !== atMs - DAY_MS) return []
    // It clears only below RAW, whichever way Dr was found: a probe back online on a dry field
    // must not bring "enough water again" (the dry rule speaks for the probe from then on).
    return [
      fieldFinding(field, {
        rule: 'irrigate',
        category: 'field',
        severity: cfg.severity,
        active: day.source === 'balance' && day.irrigate,
        clear: !day.irrigate,
        value: day.depletionMm,
        threshold: day.rawMm,
        atMs,
        forMs: 0,
      }),
    ]
  },
  texts: {
    irrigate: {
      id: {
        label: () => 'perlu siram',
        firing: (a, l) => {
          const w = water(a, l)
          const advice = w ? ` Siram ~${w.mm} mm = ${w.litres} L utk ${w.area} ha.` : ' Segera siram.'
          return `${a.fieldName}: tanah mulai kering menurut hitungan cuaca.${advice}`
        },
        resolved: (a) => `${a.fieldName}: air tanah cukup lagi (#${a.id}).`,
      },
      en: {
        label: () => 'needs water',
        firing: (a, l) => {
          const w = water(a, l)
          const advice = w ? ` Irrigate ~${w.mm} mm = ${w.litres} L for ${w.area} ha.` : ' Irrigate soon.'
          return `${a.fieldName}: soil drying out by the weather count.${advice}`
        },
        resolved: (a) => `${a.fieldName}: enough soil water again (#${a.id}).`,
      },
    },
  },
}
