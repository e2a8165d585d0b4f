import { z } from 'zod'
import {
  CROP_SOIL_WATER,
  type CropId,
  depletionFraction,
  dryThresholdPct,
  SEASON_DAYS,
  type SoilWater,
} from '../../agronomy/index.ts'
import type { Field } from '../directory.ts'
import { durationMs, HOUR_MS, type Severity, severity } from './schema.ts'
import type { RuleContext } from './types.ts'

/**
 * The `alerts.rules.crops` section shared by the dry and waterlogged rules (soil-moisture rules on
 * % VWC), and how a field's thresholds follow from its soil:
 *   dry         θ < θFC − p (θFC − θWP)      (FAO-56 eq. 83–84: stress once Dr > RAW)
 *   waterlogged θ > θFC + aboveFcPct         (water the soil cannot hold drains for days)
 * p is FAO-56 Table 22's (or the crop's / field's override), adjusted for the field's recent ETc
 * (p. 162). Precedence, first set wins: the field's own threshold, the stage override, the
 * crop's district-wide `thresholdPct`, the soil.
 */

const STAGE_KEYS = ['initial', 'development', 'mid', 'late'] as const
export type StageKey = (typeof STAGE_KEYS)[number]

function moistureThreshold(d: {
  forMs: number
  enabled?: boolean
  severity?: Severity
  aboveFcPct?: number
}) {
  return z
    .object({
      enabled: z.boolean().default(d.enabled ?? true),
      /** A district-wide θ [% VWC] for this crop; unset: from each field's soil (recommended). */
      thresholdPct: z.number().min(0).max(100).optional(),
      /** waterlogged only: how far above field capacity [% VWC] when the threshold comes from the soil. */
      aboveFcPct: z
        .number()
        .min(0)
        .max(50)
        .default(d.aboveFcPct ?? 10),
      forMs: durationMs.default(d.forMs),
      /** How far back past the threshold θ must come to resolve (capped at half the RAW band). */
      hysteresisPct: z.number().min(0).max(50).default(3),
      severity: severity.default(d.severity ?? 'warning'),
    })
    .strict()
    .prefault({})
}
export interface MoistureThreshold {
  enabled: boolean
  thresholdPct?: number
  aboveFcPct: number
  forMs: number
  hysteresisPct: number
  severity: Severity
}

/** Stage overrides carry only what they change (no defaults, or they would mask the crop's rule). */
const moistureOverride = z
  .object({
    enabled: z.boolean(),
    thresholdPct: z.number().min(0).max(100),
    forMs: durationMs,
    hysteresisPct: z.number().min(0).max(50),
    severity,
  })
  .partial()
  .strict()
const stageOverrides = z
  .object({ dry: moistureOverride.optional(), waterlogged: moistureOverride.optional() })
  .strict()
type StageOverrides = z.input<typeof stageOverrides>

function cropRules(
  crop: CropId,
  dry: Parameters<typeof moistureThreshold>[0],
  waterlogged: Parameters<typeof moistureThreshold>[0],
  stages: Partial<Record<StageKey, StageOverrides>> = {},
) {
  return z
    .object({
      dry: moistureThreshold(dry),
      waterlogged: moistureThreshold(waterlogged),
      /** Per growth stage (FAO-56 stages), merged over the crop's rule. */
      stages: z
        .object(
          Object.fromEntries(STAGE_KEYS.map((s) => [s, stageOverrides.optional()])) as {
            [K in StageKey]: z.ZodOptional<typeof stageOverrides>
          },
        )
        .strict()
        .default(stages),
      /** Depletion fraction for every field of this crop (default FAO-56 Table 22, ETc-adjusted). */
      p: z.number().gt(0).lt(1).optional(),
      /** Effective root depth Zr [m] (default: middle of FAO-56 Table 22's range). */
      rootDepthM: z.number().gt(0).max(3).optional(),
      /** The district's usual variety's season [days] (a field's own `seasonDays` wins). */
      seasonDays: z.number().int().min(60).max(240).default(SEASON_DAYS[crop].default),
    })
    .strict()
    .prefault({})
}

/*
 * Defaults: forMs from how fast each crop suffers. A paddy's soil stays wet; its "dry" on % VWC is
 * the fallback for paddies without an AWD tube (p 0.20: the soil itself is drying) and is critical
 * at flowering; waterlogging is what a paddy is for (off).
 */
export const cropsSchema = z
  .object({
    rice: cropRules(
      'rice',
      { forMs: 3 * HOUR_MS },
      { forMs: 2 * HOUR_MS, enabled: false },
      { mid: { dry: { severity: 'critical' } } },
    ),
    maize: cropRules('maize', { forMs: 3 * HOUR_MS }, { forMs: 12 * HOUR_MS, aboveFcPct: 10 }),
    // Chili roots rot after a few hours in saturated soil.
    chili: cropRules('chili', { forMs: 2 * HOUR_MS }, { forMs: 6 * HOUR_MS, aboveFcPct: 8 }),
  })
  .strict()
  .prefault({})
export type CropRules = z.infer<typeof cropsSchema>['rice']

/** A field's effective threshold for one moisture rule. */
export interface FieldMoistureRule extends MoistureThreshold {
  thresholdPct: number
  /** Where the threshold came from (shown by `kampung fields show` and the README). */
  source: 'field' | 'stage' | 'crop' | 'soil'
  soil: SoilWater
  p: number
}

/** The crop's rule with the stage's overrides, and the field's threshold from its soil. */
export function fieldMoistureRule(
  ctx: RuleContext,
  field: Field,
  kind: 'dry' | 'waterlogged',
  atMs: number,
): FieldMoistureRule {
  const crop = ctx.config.rules.crops[field.crop]
  const stage = ctx.season(field, atMs)?.stage
  const stageKey: StageKey | undefined =
    stage === undefined ? undefined : stage === 'after-season' ? 'late' : stage
  const override = stageKey ? crop.stages[stageKey]?.[kind] : undefined
  const rule = { ...crop[kind], ...override }
  const soil = ctx.soil(field)
  const p = depletionFraction(soil, ctx.etcMmPerDay(field, atMs))
  const fromField = kind === 'dry' ? field.thresholds?.dryPct : field.thresholds?.waterloggedPct
  let thresholdPct: number
  let source: FieldMoistureRule['source']
  if (fromField !== undefined) {
    thresholdPct = fromField
    source = 'field'
  } else if (override?.thresholdPct !== undefined) {
    thresholdPct = override.thresholdPct
    source = 'stage'
  } else if (crop[kind].thresholdPct !== undefined) {
    thresholdPct = crop[kind].thresholdPct!
    source = 'crop'
  } else {
    thresholdPct = kind === 'dry' ? dryThresholdPct(soil, p) : soil.fcPct + rule.aboveFcPct
    source = 'soil'
  }
  // From the soil, a dry alert must be able to clear before field capacity: at most half the way back.
  const band = Math.abs(soil.fcPct - thresholdPct)
  const hysteresisPct =
    source === 'soil' && band > 0 ? Math.min(rule.hysteresisPct, band / 2) : rule.hysteresisPct
  return { ...rule, thresholdPct, hysteresisPct, source, soil, p }
}

/** Default Table 22 p of a crop (for docs and tests). */
export const tableP = (crop: CropId) => CROP_SOIL_WATER[crop].p
