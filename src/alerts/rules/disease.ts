import { z } from 'zod'
import type { WeatherDay } from '../irrigation.ts'
import { AIR, RH } from './quantities.ts'
import { n, severity } from './schema.ts'
import { fieldFinding, type RuleFamily } from './types.ts'

/**
 * Rice blast (Magnaporthe oryzae) risk, after the forecasting rule on the Rice Knowledge Management
 * Portal of ICAR's Directorate of Rice Research ("Forecasting of Rice Blast disease",
 * rkmp.co.in/content/forecasting-of-rice-blast-disease, file courtesy BAU Ranchi): "Forecasting
 * blast of rice can be made on the basis of minimum night temperature range of 20-26 °C in
 * association with a high relative humidity range of 90 per cent and above lasting for a period of
 * a week or more during any of the three susceptible phases of crop growth, viz., seedling stage,
 * post transplanting tillering stage and neck emergence stage."
 *
 * The portal does not say how many hours of RH ≥ 90 % make a humid day. We take "more than 9 h" from
 * Kapoor, Prasad & Sood (2004), "Forecasting of rice blast in Kangra district of Himachal Pradesh",
 * Indian Phytopathology 57(4): 440–445, whose abstract reports "temperature (18-28 °C) and RH (more
 * than 9 h > 90%)" in the crop seasons as "within the optimum range required for disease
 * development" (an observed optimum, not a forecasting rule of theirs; their leaf-blast rules, for
 * a hill district, are other: RH > 80 %, "low temperature (16-19 °C)", maximum < 28 °C for 6–8 days). A
 * conducive day therefore needs BOTH its night (18.00–06.00 WIB) minimum in 20–26 °C and more than
 * 9 humid hours; the risk needs `consecutiveDays` (7) such days in a row, at a susceptible stage:
 *   seedling + tillering: from sowing to panicle initiation (~30 days before flowering),
 *   neck emergence: within `headingWindowDays` of flowering.
 * One humid night is never enough. No published model is implemented for maize or chili: no
 * disease SMS for them. The SMS advises scouting first (IPM), spraying only if lesions are found.
 */
export const diseaseRiskSchema = z
  .object({
    enabled: z.boolean().default(true),
    nightTempMinC: z.number().default(20),
    nightTempMaxC: z.number().default(26),
    rhAbovePct: z.number().min(0).max(100).default(90),
    /** A humid day has MORE than this many hours with RH ≥ rhAbovePct. */
    humidHoursOver: z.number().min(0).max(24).default(9),
    consecutiveDays: z.number().int().min(1).max(30).default(7),
    /** Panicle initiation this many days before flowering: tillering ends there. */
    panicleInitiationBeforeFloweringDays: z.number().int().min(0).max(60).default(30),
    /** Neck emergence: within this many days of flowering. */
    headingWindowDays: z.number().int().min(0).max(21).default(7),
    severity: severity.default('warning'),
  })
  .strict()
  .prefault({})
export type DiseaseRiskConfig = z.infer<typeof diseaseRiskSchema>

/** Whether one closed day is conducive (needs its night minimum and humid hours). */
export function blastConduciveDay(day: WeatherDay, cfg: DiseaseRiskConfig): boolean {
  if (day.nightTMinC === undefined || day.humidHours === undefined) return false
  return (
    day.nightTMinC >= cfg.nightTempMinC &&
    day.nightTMinC <= cfg.nightTempMaxC &&
    day.humidHours > cfg.humidHoursOver
  )
}

/** Consecutive conducive days ending with the newest (days newest first; a missing day breaks the run). */
export function blastConduciveRun(
  days: ReadonlyArray<{ dayStartMs: number; day: WeatherDay }>,
  cfg: DiseaseRiskConfig,
): number {
  let run = 0
  let expected = days[0]?.dayStartMs
  for (const d of days) {
    if (d.dayStartMs !== expected || !blastConduciveDay(d.day, cfg)) break
    run++
    expected = d.dayStartMs - 86_400_000
  }
  return run
}

export const disease: RuleFamily<'disease_risk'> = {
  family: 'disease',
  ids: ['disease_risk'],
  configKey: 'diseaseRisk',
  schema: diseaseRiskSchema,
  quantities: [RH, AIR],
  trigger: 'day',
  describe:
    'rice blast: 7 consecutive days with night minimum 20–26 °C and > 9 h RH ≥ 90 %, at seedling/tillering or neck emergence (DRR/RKMP rule; Kapoor et al. 2004)',
  evaluate(ctx, t) {
    const cfg = ctx.config.rules.diseaseRisk
    if (t.kind !== 'field' || !cfg.enabled || t.field.crop !== 'rice') return []
    const { field, atMs } = t
    // The day just closed ends at atMs (the engine evaluates this family when a village's day closes).
    const closedDayStart = atMs - 86_400_000
    const season = ctx.season(field, closedDayStart)
    if (!season) return []
    const f = season.daysFromFlowering
    // Without a calendar (a field known by its stage) only seedling and tillering are recognisable.
    const susceptible =
      f === undefined
        ? season.stage === 'initial' || season.stage === 'development'
        : (season.daysSincePlanting ?? -1) >= 0 &&
          (f <= -cfg.panicleInitiationBeforeFloweringDays || Math.abs(f) <= cfg.headingWindowDays)
    const days = ctx.weatherDays(field.village, closedDayStart, cfg.consecutiveDays + 1)
    const run = blastConduciveRun(days, cfg)
    const active = susceptible && run >= cfg.consecutiveDays
    return [
      fieldFinding(field, {
        rule: 'disease_risk',
        category: 'weather',
        severity: cfg.severity,
        active,
        clear: !active,
        value: run,
        threshold: cfg.consecutiveDays,
        atMs,
        forMs: 0,
      }),
    ]
  },
  texts: {
    disease_risk: {
      id: {
        label: () => 'risiko blas',
        firing: (a, l) =>
          `${a.fieldName}: ${n(a.value!, l, 0)} hari lembap, awas penyakit blas. Cek daun dulu, semprot hanya bila ada bercak.`,
      },
      en: {
        label: () => 'blast risk',
        firing: (a, l) =>
          `${a.fieldName}: ${n(a.value!, l, 0)} humid days in a row, blast risk. Scout leaves first, spray only if spots found.`,
      },
    },
  },
}
