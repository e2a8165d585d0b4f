import { z } from 'zod'
import { SOIL } from './quantities.ts'
import { durationMs, HOUR_MS, n, severity } from './schema.ts'
import { fieldFinding, type RuleFamily } from './types.ts'

/** A fall within an hour, checked at most every 5 min of reading time per field. */
const DROP_CHECK_EVERY_MS = 5 * 60_000

export const moistureDropSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Fall of θ [% VWC, as the probe reads] within the window: a breached bund, a pulled probe. */
    dropPct: z.number().positive().default(8),
    windowMs: durationMs.default(HOUR_MS),
    severity: severity.default('warning'),
  })
  .strict()
  .prefault({})

/** A sudden fall of soil moisture at any probe of the field (rate of change, not a level). */
export const moistureDrop: RuleFamily<'moisture_drop'> = {
  family: 'moisture-drop',
  ids: ['moisture_drop'],
  configKey: 'moistureDrop',
  schema: moistureDropSchema,
  quantities: [SOIL],
  trigger: 'field',
  describe: 'a probe’s soil moisture falls by ≥ dropPct (8 % VWC) within windowMs (1 h)',
  windowMs: (c) => c.rules.moistureDrop.windowMs,
  evaluate(ctx, t) {
    const drop = ctx.config.rules.moistureDrop
    if (t.kind !== 'field' || !drop.enabled) return []
    const { field, atMs } = t
    if (!ctx.due('drop', field.id, atMs, DROP_CHECK_EVERY_MS)) return []
    let worst = 0
    for (const d of field.devices) {
      const { hi } = ctx.window(d, SOIL, atMs - drop.windowMs, atMs)
      const now = ctx.latest(d, SOIL)
      if (hi !== null && now) worst = Math.max(worst, hi - now.value)
    }
    return [
      fieldFinding(field, {
        rule: 'moisture_drop',
        category: 'field',
        severity: drop.severity,
        active: worst >= drop.dropPct,
        clear: worst < drop.dropPct / 2,
        value: worst,
        threshold: drop.dropPct,
        atMs,
        forMs: 0,
      }),
    ]
  },
  texts: {
    moisture_drop: {
      id: {
        label: () => 'kelembapan turun cepat',
        firing: (a, l) =>
          `${a.fieldName}: kelembapan tanah turun ${n(a.value!, l)}% dlm 1 jam. Cek pematang dan sensor.`,
      },
      en: {
        label: () => 'moisture falling fast',
        firing: (a, l) =>
          `${a.fieldName}: soil moisture fell ${n(a.value!, l)}% in 1 h. Check bunds and sensor.`,
      },
    },
  },
}
