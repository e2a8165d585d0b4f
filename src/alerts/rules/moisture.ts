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
    /**
     * Alert this far ahead of the threshold at the crop's ETc (FAO-56 ch. 8: Dr,i = Dr,i−1 + ETc),
     * until the field's own stress point is learned (`learnStress`); from then on, at that point.
     */
    leadMs: durationMs.default(0),
    /**
     * Learn θFC − θWP from the slowing of the field's drying once past the stress point (FAO-56
     * eq. 84). Off by default: in the benchmark no cycle went far enough past the stress point for
     * the slowing to stand out of the day-to-day error of the station's ETc (README).
     */
    learnStress: z.boolean().default(false),
    /** A knee is learned when it explains a cycle's daily means this much better than a straight drying (F). */
    kneeMinF: z.number().positive().default(20),
    /** …and the cycle went past it: the fit's Ks at the cycle's end at most this. */
    kneeMaxEndKs: z.number().gt(0).lt(1).default(0.9),
    /** The dry rule compares the mean of the readings of this long (0: the newest alone; probe noise near the threshold). */
    smoothMs: durationMs.default(0),
    /**
     * Once θ has read below the threshold, it stays "below" until it reads this far above it [% VWC]
     * (a Schmitt trigger on the way in; 0: off): near the threshold the probe's noise (0.3 % VWC)
     * outweighs hours of drying, and every reading above drops the pending alert and its `forMs`.
     */
    entryBandPct: z.number().min(0).max(5).default(0),
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
  /** θFC − θWP learned from the slowing of the field's drying (probe units), when it has shown it. */
  learnedBandPct?: number
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
  const learnedBandPct = margin.learnProbeFc && margin.learnStress ? learnedBand(ctx, field) : undefined
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
      kind === 'dry' && learnedBandPct !== undefined
        ? Math.min(fcRefPct, fcRefPct - p * learnedBandPct)
        : kind === 'dry'
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
    ...(learnedBandPct === undefined ? {} : { learnedBandPct }),
  }
}

function etcOf(ctx: RuleContext, field: Field, atMs: number): { etcMmPerDay?: number } {
  const etc = ctx.etcMmPerDay(field, atMs)
  return etc === undefined ? {} : { etcMmPerDay: etc }
}

/**
 * What a field's probe teaches the dry rule (class-configured fields; README "The dry threshold
 * under uncertainty"), kept per engine in memory and in SQLite (`field_soil_learned`, through
 * `RuleContext.learnedSoil` / `saveLearnedSoil`), so a restart keeps it:
 *
 * - `probeFcPct`: field-capacity readings (FAO-56 ch. 8: after a soaking rain or irrigation the
 *   root zone drains to field capacity, Dr = 0). A wetting is a rise of `wetRisePct` above the
 *   lowest reading since the last one; `settleMs` later the median reading of the window's second
 *   half plus the ETc until it (what the crop drew while the soil drained) is one estimate (on a
 *   field watered every night the reading at `settleMs` is the next pulse's top); the field-capacity reading is the median of
 *   the last three (the higher of two): a light shower that wets only part of the root zone reads
 *   low once, a noisy or still-draining reading high once. Clamped to the class's θFC range widened
 *   by the probe's accuracy: a saturated reading after a storm is not field capacity.
 * - `bandPct`: θFC − θWP in the probe's units, from the slowing of a drying cycle that went past
 *   the stress point (`fitDryingCycle`: FAO-56 eq. 84, ETa = Ks·ETc, Ks falling linearly from 1 at
 *   Dr = RAW to 0 at TAW); the median of the last three.
 */
export interface LearnedSoil {
  probeFcPct: number[]
  bandPct: number[]
}

/** One day (24 h from the wetting) of a drying cycle: the mean reading, the ETc and rain of the day, p. */
export interface DryingDay {
  thetaPct: number | undefined
  etcMm: number
  rainMm: number
  p: number
}

interface Cycle {
  wetAtMs: number
  dayStartMs: number
  sum: number
  n: number
  days: DryingDay[]
}
interface ProbeState {
  lowPct: number
  lastMs: number
  wetAtMs?: number
  /**
   * The readings of the settle window's second half (θ; their times summed): on a field watered at
   * the same hour every night, `settleMs` after a wetting is the top of the next pulse, while the
   * soil drained in between (a real probe series, tests/alerts/real-probe.test.ts); their median
   * is the drained level, robust to the pulse and to the probe's noise.
   */
  settle?: { thetas: number[]; sumMs: number }
  learned: LearnedSoil
  cycle?: Cycle
  /** Readings of the last `smoothMs` (time, value), for the smoothed θ the dry rule compares. */
  recent: Array<[number, number]>
  /** θ has read below the dry threshold and not yet `entryBandPct` above it since (`dryBelow`). */
  below?: boolean
}
const probeStates = new WeakMap<object, Map<string, ProbeState>>()
/** FAO-56 Table 22's p holds for ETc ≈ 5 mm/day: the day's ETc assumed where the advisor has none. */
const REFERENCE_ETC_MM_PER_DAY = 5
/** Readings kept of a settle window's second half (12 h of one a minute). */
const MAX_SETTLE_READINGS = 720
/** No cycle is fitted beyond this many days (a field left dry for weeks has long shown its knee). */
const MAX_CYCLE_DAYS = 30

function stateOf(ctx: RuleContext, fieldId: string): ProbeState | undefined {
  return probeStates.get(ctx)?.get(fieldId)
}

const median = (xs: readonly number[]): number | undefined => {
  if (xs.length === 0) return undefined
  const sorted = [...xs].sort((a, b) => a - b)
  // Of two, the higher: a partial wetting reads low.
  return sorted.length === 2 ? Math.max(...sorted) : sorted[Math.floor(sorted.length / 2)]
}

/** The plain median of a non-empty list. */
function middleOf(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  const m = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2
}

/** The learned field-capacity reading [% VWC] of a field, if it has one. */
export function probeFc(ctx: RuleContext, field: Field): number | undefined {
  return median(loadState(ctx, field)?.learned.probeFcPct ?? [])
}

/** The learned θFC − θWP [% VWC, probe units] of a field, if its drying has shown it. */
export function learnedBand(ctx: RuleContext, field: Field): number | undefined {
  const bands = loadState(ctx, field)?.learned.bandPct ?? []
  if (bands.length === 0) return undefined
  // Of two, the narrower: the earlier alert.
  const sorted = [...bands].sort((a, b) => a - b)
  return sorted.length === 2 ? sorted[0] : sorted[Math.floor(sorted.length / 2)]
}

/**
 * The dry rule's "below the threshold" with the entry band: below at θ < threshold; once below,
 * until θ ≥ threshold + entryBandPct. Without learner state (learnProbeFc off) the plain comparison.
 */
export function dryBelow(ctx: RuleContext, field: Field, thetaPct: number, thresholdPct: number): boolean {
  const band = ctx.config.rules.crops[field.crop].dryMargin.entryBandPct
  const s = stateOf(ctx, field.id)
  if (!s || band === 0) return thetaPct < thresholdPct
  s.below = thetaPct < thresholdPct || (s.below === true && thetaPct < thresholdPct + band)
  return s.below
}

/** The mean of the field's readings over the last `smoothMs` (the newest alone when 0). */
export function smoothedTheta(ctx: RuleContext, field: Field): number | undefined {
  const s = stateOf(ctx, field.id)
  if (!s || s.recent.length === 0) return undefined
  return s.recent.reduce((a, [, v]) => a + v, 0) / s.recent.length
}

/** The field's state, read from SQLite on first sight (what it learned before a restart). */
function loadState(ctx: RuleContext, field: Field): ProbeState | undefined {
  const margin = ctx.config.rules.crops[field.crop].dryMargin
  if (!margin.learnProbeFc) return undefined
  let byField = probeStates.get(ctx)
  if (!byField) {
    byField = new Map()
    probeStates.set(ctx, byField)
  }
  let s = byField.get(field.id)
  if (!s) {
    const stored = ctx.learnedSoil(field.id)
    s = {
      lowPct: Number.POSITIVE_INFINITY,
      lastMs: Number.NEGATIVE_INFINITY,
      learned: { probeFcPct: stored?.probeFcPct ?? [], bandPct: stored?.bandPct ?? [] },
      recent: [],
    }
    byField.set(field.id, s)
  }
  return s
}

/** Feed the field's newest θ to its learners (readings in device time; older ones are ignored). */
export function observeProbe(ctx: RuleContext, field: Field, thetaPct: number, atMs: number): void {
  const margin = ctx.config.rules.crops[field.crop].dryMargin
  const s = loadState(ctx, field)
  if (!s || atMs <= s.lastMs) return
  s.lastMs = atMs
  s.recent.push([atMs, thetaPct])
  while (s.recent.length > 1 && s.recent[0]![0] <= atMs - margin.smoothMs) s.recent.shift()
  if (s.lowPct === Number.POSITIVE_INFINITY) {
    s.lowPct = thetaPct
    return
  }
  if (thetaPct - s.lowPct >= margin.wetRisePct) {
    if (s.cycle && margin.learnStress) learnFromCycle(ctx, field, s)
    s.wetAtMs = atMs
    s.settle = undefined
    s.lowPct = thetaPct
    s.cycle = { wetAtMs: atMs, dayStartMs: atMs, sum: 0, n: 0, days: [] }
    return
  }
  if (s.cycle) addToCycle(ctx, field, s.cycle, thetaPct, atMs)
  if (s.wetAtMs !== undefined && atMs >= s.wetAtMs + margin.settleMs) {
    // The sample: the median of the window's second half (at its readings' mean time), else this one.
    const [sampleTheta, sampleMs] =
      s.settle !== undefined && s.settle.thetas.length > 0
        ? [middleOf(s.settle.thetas), s.settle.sumMs / s.settle.thetas.length]
        : [thetaPct, atMs]
    const soil = ctx.soil(field)
    const etc = ctx.etcMmPerDay(field, atMs) ?? 0
    const drawn = (etc * (sampleMs - s.wetAtMs)) / DAY_MS / (10 * soil.rootDepthM)
    const r = soilRanges(soil).fcPct
    const acc = margin.probeAccuracyPct
    s.learned.probeFcPct.push(Math.min(r[1] + acc, Math.max(r[0] - acc, sampleTheta + drawn)))
    if (s.learned.probeFcPct.length > 3) s.learned.probeFcPct.shift()
    ctx.saveLearnedSoil(field.id, s.learned, atMs)
    s.wetAtMs = undefined
    s.settle = undefined
    s.lowPct = thetaPct
    return
  }
  if (s.wetAtMs !== undefined && atMs >= s.wetAtMs + margin.settleMs / 2) {
    s.settle ??= { thetas: [], sumMs: 0 }
    if (s.settle.thetas.length < MAX_SETTLE_READINGS) {
      s.settle.thetas.push(thetaPct)
      s.settle.sumMs += atMs
    }
  }
  if (s.wetAtMs === undefined) s.lowPct = Math.min(s.lowPct, thetaPct)
}

/** Close the cycle's days up to atMs (ETc from the advisor, rain from the village's gauge) and add the reading. */
function addToCycle(ctx: RuleContext, field: Field, c: Cycle, thetaPct: number, atMs: number): void {
  while (atMs >= c.dayStartMs + DAY_MS && c.days.length <= MAX_CYCLE_DAYS) {
    const endMs = c.dayStartMs + DAY_MS
    const etc = ctx.etcMmPerDay(field, endMs)
    c.days.push({
      thetaPct: c.n === 0 ? undefined : c.sum / c.n,
      // Without the advisor's ETc (no weather station) every day draws alike: the fit's rate absorbs it.
      etcMm: etc ?? REFERENCE_ETC_MM_PER_DAY,
      rainMm: ctx.villageRainMm(field.village, DAY_MS, endMs),
      p: depletionFraction(ctx.soil(field), etc),
    })
    c.dayStartMs = endMs
    c.sum = 0
    c.n = 0
  }
  c.sum += thetaPct
  c.n++
}

function learnFromCycle(ctx: RuleContext, field: Field, s: ProbeState): void {
  const margin = ctx.config.rules.crops[field.crop].dryMargin
  const c = s.cycle!
  s.cycle = undefined
  const soil = ctx.soil(field)
  const r = soilRanges(soil)
  const acc = margin.probeAccuracyPct
  const fit = fitDryingCycle(c.days, {
    minBandPct: margin.minBandPct,
    maxBandPct: r.fcPct[1] - r.wpPct[0] + 2 * acc,
  })
  if (!fit || fit.f < margin.kneeMinF || fit.endKs > margin.kneeMaxEndKs) return
  // Hung from the field-capacity reading the threshold uses, so that threshold = the reading where it slowed.
  const fcRefPct = probeFc(ctx, field) ?? soil.fcPct
  s.learned.bandPct.push(Math.max(margin.minBandPct, (fcRefPct - fit.kneePct) / fit.p))
  if (s.learned.bandPct.length > 3) s.learned.bandPct.shift()
  ctx.saveLearnedSoil(field.id, s.learned, c.dayStartMs)
}

export interface DryingFit {
  /** θFC − θWP [% VWC, probe units]: the knee depth / p. */
  bandPct: number
  /** Depth below the cycle's start level where the drying slowed [% VWC]. */
  kneeDepthPct: number
  /** The reading where it slowed [% VWC]: the fitted start level minus the knee depth. */
  kneePct: number
  /** The cycle's mean p (from the advisor's ETc), at which the knee is θFC − p (θFC − θWP). */
  p: number
  /** The unstressed drying [% VWC per mm of ETc]: 1 / (10 Zr) times the probe's gain. */
  pctPerMm: number
  /** Ks at the end of the cycle, by the fit. */
  endKs: number
  /** (SSE without knee − SSE with) / (SSE with / (n − 3)). */
  f: number
}

/**
 * The stress point of one drying cycle (daily means from the wetting; day 0, the drainage, is not
 * fitted): FAO-56's bucket, Dr growing at ETc·Ks − rain with Ks = 1 until Dr = p·TAW, then
 * Ks = (TAW − Dr)/((1 − p) TAW) (eq. 84), in the probe's units: d = θ0 − θ grows at k·(ETc·Ks − P).
 * The unstressed rate k per mm of ETc is the field's own (probe gain and root depth cancel), fitted
 * with the knee depth and θ0 by least squares over a grid. The caller accepts it only when the knee
 * explains the curve better than a straight drying (`f`, dryMargin.kneeMinF) and the cycle went past
 * it (`endKs` ≤ dryMargin.kneeMaxEndKs): a cycle that never slowed teaches nothing of θWP.
 */
export function fitDryingCycle(
  days: readonly DryingDay[],
  o: { minBandPct: number; maxBandPct: number },
): DryingFit | undefined {
  const pts: Array<{ i: number; theta: number }> = []
  days.forEach((d, i) => {
    if (i > 0 && d.thetaPct !== undefined) pts.push({ i, theta: d.thetaPct })
  })
  const n = pts.length
  if (n < 5) return undefined
  const pMean = days.reduce((a, d) => a + d.p, 0) / days.length
  // Depth at each day's middle for a knee at kneeDepth (Infinity: never stressed) and a rate k.
  const depths = (k: number, kneeDepth: number, out: number[]): { endKs: number } => {
    const band = kneeDepth / pMean
    const ks = (d: number) => (d <= kneeDepth ? 1 : Math.max(0, (band - d) / (band - kneeDepth)))
    let d = 0
    for (let i = 0; i < days.length; i++) {
      const day = days[i]!
      // Two half-day steps: Ks moves a few % a day past the knee.
      const half = (dd: number) => Math.max(0, dd + (k * (day.etcMm * ks(dd) - day.rainMm)) / 2)
      const mid = half(d)
      out[i] = mid
      d = half(mid)
    }
    return { endKs: ks(d) }
  }
  const startOf = (model: number[]): number => {
    // θ = θ0 − d: θ0 is the mean of θ + d.
    let m = 0
    for (const p of pts) m += p.theta + model[p.i]!
    return m / n
  }
  const sse = (model: number[]): number => {
    const m = startOf(model)
    let e = 0
    for (const p of pts) e += (p.theta + model[p.i]! - m) ** 2
    return e
  }
  // The straight drying: θ = θ0 − k·X, X the cumulative ETc − rain at each day's middle (least squares).
  let x = 0
  const xs: number[] = days.map((d) => {
    const mid = x + (d.etcMm - d.rainMm) / 2
    x += d.etcMm - d.rainMm
    return mid
  })
  const mx = pts.reduce((a, p) => a + xs[p.i]!, 0) / n
  const mt = pts.reduce((a, p) => a + p.theta, 0) / n
  let sxy = 0
  let sxx = 0
  for (const p of pts) {
    sxy += (xs[p.i]! - mx) * (p.theta - mt)
    sxx += (xs[p.i]! - mx) ** 2
  }
  if (sxx <= 0 || sxy >= 0) return undefined // not drying
  const kLin = -sxy / sxx
  let eLin = 0
  for (const p of pts) eLin += (p.theta - (mt - kLin * (xs[p.i]! - mx))) ** 2
  // The knee: for each depth on a 0.05 % VWC grid, the rate by golden-section search.
  const buf = new Array<number>(days.length)
  const sseAt = (k: number, knee: number) => {
    const { endKs } = depths(k, knee, buf)
    return { e: sse(buf), endKs }
  }
  const GOLD = (Math.sqrt(5) - 1) / 2
  let best: { e: number; k: number; knee: number; endKs: number } | undefined
  for (let knee = o.minBandPct * pMean; knee <= o.maxBandPct * pMean; knee += 0.05) {
    let lo = kLin * 0.8
    let hi = kLin * 3
    for (let it = 0; it < 30; it++) {
      const a = hi - GOLD * (hi - lo)
      const b = lo + GOLD * (hi - lo)
      if (sseAt(a, knee).e < sseAt(b, knee).e) hi = b
      else lo = a
    }
    const k = (lo + hi) / 2
    const at = sseAt(k, knee)
    if (!best || at.e < best.e) best = { e: at.e, k, knee, endKs: at.endKs }
  }
  if (!best || best.e <= 0) return undefined
  const f = Math.max(0, eLin - best.e) / (best.e / (n - 3))
  depths(best.k, best.knee, buf)
  const startPct = startOf(buf)
  return {
    bandPct: best.knee / pMean,
    kneeDepthPct: best.knee,
    kneePct: startPct - best.knee,
    p: pMean,
    pctPerMm: best.k,
    endKs: best.endKs,
    f,
  }
}

/** Default Table 22 p of a crop (for docs and tests). */
export const tableP = (crop: CropId) => CROP_SOIL_WATER[crop].p
