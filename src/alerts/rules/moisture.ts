import { z } from 'zod'
import {
  CROP_SOIL_WATER,
  type CropId,
  depletionFraction,
  dryAlertPct,
  SEASON_DAYS,
  type SoilWater,
  soilRanges,
} from '../../agronomy/index.ts'
import type { Field } from '../directory.ts'
import { DAY_MS, durationMs, HOUR_MS, type Severity, severity } from './schema.ts'
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

/**
 * How a dry threshold from the soil allows for what is not known of the field (README: "The dry
 * threshold under uncertainty"): a class-configured field's θFC/θWP lie anywhere in Table 19's
 * range and its probe has an offset. Not used for a field, stage or crop `thresholdPct`.
 */
const dryMarginSchema = z
  .object({
    /** The share of the soils the class admits whose stress may start before the alert (the narrow-RAW end). */
    quantile: z.number().gt(0).lt(0.5).default(0.05),
    /** The probe's stated accuracy [% VWC] (METER EC-5 / TEROS 10 generic calibration: ±3). */
    probeAccuracyPct: z.number().min(0).max(20).default(3),
    /**
     * The narrowest θFC − θWP a soil has [% VWC]: Table 19's smallest (sand, 0.05–0.11). Two
     * independent uniform ranges admit bands near 0 (loam θFC 0.20 with θWP 0.17) that no soil
     * has; a threshold that close to field capacity sits in the probe's noise and flaps.
     */
    minBandPct: z.number().min(0).max(50).default(5),
    /** Alert this far ahead of the threshold at the crop's ETc (FAO-56 ch. 8: Dr,i = Dr,i−1 + ETc). */
    leadMs: durationMs.default(0),
    /** Learn the probe's field-capacity reading after each wetting (class-configured fields). */
    learnProbeFc: z.boolean().default(true),
    /** A rise this large above the lowest reading since the last wetting is a wetting [% VWC]. */
    wetRisePct: z.number().positive().default(2),
    /** The reading this long after a wetting, plus the ETc since, is the field-capacity reading. */
    settleMs: durationMs.default(24 * HOUR_MS),
  })
  .strict()
  .prefault({})
export type DryMargin = z.infer<typeof dryMarginSchema>

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
      dryMargin: dryMarginSchema,
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
  /** The field-capacity level the threshold hangs from: the probe's learned reading, or the soil's θFC. */
  fcRefPct: number
  /** The probe's learned field-capacity reading, when it has shown one. */
  probeFcPct?: number
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
  const margin = crop.dryMargin
  const probeFcPct = margin.learnProbeFc ? probeFc(ctx, field) : undefined
  const fcRefPct = probeFcPct ?? soil.fcPct
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
    thresholdPct =
      kind === 'dry'
        ? dryAlertPct({
            soil,
            p,
            ...(probeFcPct === undefined ? {} : { probeFcPct }),
            accuracyPct: margin.probeAccuracyPct,
            quantile: margin.quantile,
            minBandPct: margin.minBandPct,
            ...etcOf(ctx, field, atMs),
            leadDays: margin.leadMs / DAY_MS,
          }).thresholdPct
        : soil.fcPct + rule.aboveFcPct
    source = 'soil'
  }
  // From the soil, a dry alert must be able to clear before field capacity: at most half the way back.
  const band = Math.abs((kind === 'dry' ? fcRefPct : soil.fcPct) - thresholdPct)
  const hysteresisPct =
    source === 'soil' && band > 0 ? Math.min(rule.hysteresisPct, band / 2) : rule.hysteresisPct
  return {
    ...rule,
    thresholdPct,
    hysteresisPct,
    source,
    soil,
    p,
    fcRefPct,
    ...(probeFcPct === undefined ? {} : { probeFcPct }),
  }
}

function etcOf(ctx: RuleContext, field: Field, atMs: number): { etcMmPerDay?: number } {
  const etc = ctx.etcMmPerDay(field, atMs)
  return etc === undefined ? {} : { etcMmPerDay: etc }
}

/**
 * The probe's field-capacity reading, learned from the readings (FAO-56 ch. 8: after a soaking
 * rain or irrigation the root zone drains to field capacity, Dr = 0). A wetting is a rise of
 * `wetRisePct` above the lowest reading since the last one; `settleMs` later the reading plus the
 * ETc since (what the crop drew while the soil drained) is one estimate; the field-capacity reading
 * is the median of the last three (the higher of two): a light shower that wets only part of the
 * root zone reads low once, a noisy or still-draining reading high once. Clamped to the class's θFC range widened by the probe's
 * accuracy: a saturated reading after a storm is not field capacity.
 *
 * Kept in memory per engine and field (`observeProbe`, called by the dry rule on each reading):
 * after a restart the class's θFC serves until the next wetting settles.
 */
interface ProbeFcState {
  lowPct: number
  lastMs: number
  wetAtMs?: number
  estimates: number[]
}
const probeFcStates = new WeakMap<object, Map<string, ProbeFcState>>()

function stateOf(ctx: RuleContext, fieldId: string): ProbeFcState | undefined {
  return probeFcStates.get(ctx)?.get(fieldId)
}

/** The learned field-capacity reading [% VWC] of a field, if it has one. */
export function probeFc(ctx: RuleContext, field: Field): number | undefined {
  const s = stateOf(ctx, field.id)
  if (s === undefined || s.estimates.length === 0) return undefined
  // The median of the last three: one partial wetting (reads low) or one noisy high does not move it.
  const sorted = [...s.estimates].sort((a, b) => a - b)
  return sorted.length === 2 ? Math.max(...sorted) : sorted[Math.floor(sorted.length / 2)]
}

/** Feed the field's newest θ to its field-capacity learner (readings in device time; older ones are ignored). */
export function observeProbe(ctx: RuleContext, field: Field, thetaPct: number, atMs: number): void {
  const margin = ctx.config.rules.crops[field.crop].dryMargin
  if (!margin.learnProbeFc) return
  let byField = probeFcStates.get(ctx)
  if (!byField) {
    byField = new Map()
    probeFcStates.set(ctx, byField)
  }
  const s = byField.get(field.id)
  if (!s) {
    byField.set(field.id, { lowPct: thetaPct, lastMs: atMs, estimates: [] })
    return
  }
  if (atMs <= s.lastMs) return
  s.lastMs = atMs
  if (thetaPct - s.lowPct >= margin.wetRisePct) {
    s.wetAtMs = atMs
    s.lowPct = thetaPct
    return
  }
  if (s.wetAtMs !== undefined && atMs >= s.wetAtMs + margin.settleMs) {
    const soil = ctx.soil(field)
    const etc = ctx.etcMmPerDay(field, atMs) ?? 0
    const drawn = (etc * (atMs - s.wetAtMs)) / DAY_MS / (10 * soil.rootDepthM)
    const r = soilRanges(soil).fcPct
    const acc = margin.probeAccuracyPct
    const est = Math.min(r[1] + acc, Math.max(r[0] - acc, thetaPct + drawn))
    s.estimates.push(est)
    if (s.estimates.length > 3) s.estimates.shift()
    s.wetAtMs = undefined
    s.lowPct = thetaPct
    return
  }
  if (s.wetAtMs === undefined) s.lowPct = Math.min(s.lowPct, thetaPct)
}

/** Default Table 22 p of a crop (for docs and tests). */
export const tableP = (crop: CropId) => CROP_SOIL_WATER[crop].p
