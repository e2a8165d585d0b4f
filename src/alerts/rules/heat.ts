import { z } from 'zod'
import { AIR } from './quantities.ts'
import { durationMs, HOUR_MS, n, severity } from './schema.ts'
import { fieldFinding, type RuleFamily } from './types.ts'

export const heatStressSchema = z
  .object({
    enabled: z.boolean().default(true),
    aboveC: z.number().default(35),
    forMs: durationMs.default(2 * HOUR_MS),
    hysteresisC: z.number().min(0).default(1),
    severity: severity.default('warning'),
  })
  .strict()
  .prefault({})

/** Air above `aboveC` (35 °C: rice spikelet sterility and chili flower drop start there) for forMs. */
export const heat: RuleFamily<'heat_stress'> = {
  family: 'heat',
  ids: ['heat_stress'],
  configKey: 'heatStress',
  schema: heatStressSchema,
  quantities: [AIR],
  trigger: 'village',
  describe: 'air temperature above 35 °C for 2 h at the village station',
  evaluate(ctx, t) {
    const heat = ctx.config.rules.heatStress
    if (t.kind !== 'field' || !heat.enabled) return []
    const { field, atMs } = t
    const air = ctx.villageAir(field.village, atMs)
    if (!air) return []
    return [
      fieldFinding(field, {
        rule: 'heat_stress',
        category: 'weather',
        severity: heat.severity,
        active: air.value > heat.aboveC,
        clear: air.value <= heat.aboveC - heat.hysteresisC,
        value: air.value,
        threshold: heat.aboveC,
        atMs,
        forMs: heat.forMs,
      }),
    ]
  },
  texts: {
    heat_stress: {
      id: {
        label: () => 'panas',
        firing: (a, l) =>
          `${a.fieldName} panas: suhu ${n(a.value!, l, 1)} C (batas ${n(a.threshold!, l, 0)} C). ${a.crop === 'rice' ? 'Jaga air sawah.' : 'Siram pagi/sore.'}`,
      },
      en: {
        label: () => 'heat',
        firing: (a, l) =>
          `${a.fieldName} heat: ${n(a.value!, l, 1)} C (limit ${n(a.threshold!, l, 0)} C). ${a.crop === 'rice' ? 'Keep the paddy flooded.' : 'Water early/late.'}`,
      },
    },
  },
}
