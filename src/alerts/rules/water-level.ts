import { z } from 'zod'
import { WATER_LEVEL } from './quantities.ts'
import { durationMs, HOUR_MS, n, severity } from './schema.ts'
import type { RuleFamily } from './types.ts'

/**
 * Paddy water level under safe AWD (IRRI brochure "Overview of AWD", irri.org; Lampayan et al.
 * 2015, Field Crops Research 170): the field is let dry until the water in a perforated field tube
 * is 15 cm below the soil surface, then re-flooded to 3–5 cm; it is kept flooded during flowering,
 * when the plants are very sensitive to dry conditions (a week before to a week after, DOMAIN.md);
 * 10–15 days before harvest it is drained. IRRI starts AWD two weeks after transplanting; that is
 * not enforced here (a field's planting date may be its sowing date).
 * So: below `awdMinCm` (−15) → alert; within `floweringWindowDays` of flowering below
 * `floweringMinCm` (0: no standing water) → alert, critical; in the drain-down (`drainDownDays`
 * before the expected harvest) and after it → nothing. Flowering day: season.ts
 * (seasonDays − 30, IRRI's ~30-day ripening phase). Only fields with a tube reporting water_level.
 */
export const waterLevelSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Safe AWD threshold [cm relative to the soil surface]: re-flood when the tube falls below it. */
    awdMinCm: z.number().min(-40).max(0).default(-15),
    /** Days either side of flowering to keep the field flooded. */
    floweringWindowDays: z.number().int().min(0).max(21).default(7),
    /** Level [cm] the field must stay above around flowering (0 = standing water). */
    floweringMinCm: z.number().min(-40).max(10).default(0),
    /** The drain-down before harvest: no water alert this many days before the expected harvest. */
    drainDownDays: z.number().int().min(0).max(30).default(15),
    /** How far back above the threshold [cm] the level must come to resolve (re-flooding gives ~+5). */
    hysteresisCm: z.number().min(0).max(20).default(2),
    forMs: durationMs.default(HOUR_MS),
    severity: severity.default('warning'),
    floweringSeverity: severity.default('critical'),
  })
  .strict()
  .prefault({})

export const waterLevel: RuleFamily<'water_low'> = {
  family: 'water-level',
  ids: ['water_low'],
  configKey: 'waterLevel',
  schema: waterLevelSchema,
  quantities: [WATER_LEVEL],
  trigger: 'field',
  describe:
    'paddy water level (AWD tube) below −15 cm; below 0 cm from a week before to a week after flowering (critical); none in the drain-down 15 days before harvest',
  evaluate(ctx, t) {
    const cfg = ctx.config.rules.waterLevel
    if (t.kind !== 'field' || !cfg.enabled || t.field.crop !== 'rice') return []
    const { field, atMs } = t
    const level = ctx.fieldWaterLevel(field)
    if (!level) return []
    const season = ctx.season(field, atMs)
    const base = {
      rule: 'water_low' as const,
      subject: `field:${field.id}`,
      category: 'field' as const,
      village: field.village,
      field: field.id,
      value: level.value,
      atMs,
      forMs: cfg.forMs,
    }
    if (season?.daysToHarvest !== undefined && season.daysToHarvest <= cfg.drainDownDays) {
      // Drained on purpose: a water alert still firing resolves.
      return [{ ...base, severity: cfg.severity, active: false, clear: true }]
    }
    const flowering =
      season?.daysFromFlowering !== undefined && Math.abs(season.daysFromFlowering) <= cfg.floweringWindowDays
    const threshold = flowering ? cfg.floweringMinCm : (field.thresholds?.waterLevelMinCm ?? cfg.awdMinCm)
    return [
      {
        ...base,
        severity: flowering ? cfg.floweringSeverity : cfg.severity,
        active: level.value < threshold,
        clear: level.value >= threshold + cfg.hysteresisCm,
        threshold,
      },
    ]
  },
  texts: {
    water_low: {
      id: {
        label: () => 'air sawah kurang',
        firing: (a, l) =>
          a.threshold !== undefined && a.threshold >= 0
            ? `${a.fieldName}: sawah kering saat berbunga (air ${n(a.value!, l)} cm). Airi sawah, jaga genangan ~5 cm.`
            : `${a.fieldName}: air sawah ${n(-a.value!, l)} cm di bawah tanah (batas ${n(-a.threshold!, l, 0)} cm). Airi sawah sampai tergenang ~5 cm.`,
        resolved: (a) => `${a.fieldName} sudah normal, air sawah cukup lagi (#${a.id}).`,
      },
      en: {
        label: () => 'paddy water low',
        firing: (a, l) =>
          a.threshold !== undefined && a.threshold >= 0
            ? `${a.fieldName}: paddy dry at flowering (water ${n(a.value!, l)} cm). Flood it, keep ~5 cm standing.`
            : `${a.fieldName}: water ${n(-a.value!, l)} cm below the soil (limit ${n(-a.threshold!, l, 0)} cm). Flood the paddy to ~5 cm.`,
        resolved: (a) => `${a.fieldName} back to normal, paddy water restored (#${a.id}).`,
      },
    },
  },
}
