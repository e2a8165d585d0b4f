import { KampungError } from '../errors.ts'
import { CROPS, type CropId, type GrowthStage, growthStageOnDay, kcOnDay } from './crops.ts'

/** 1 mm of water over 1 ha is 10 m³: 10⁻³ m × 10⁴ m² = 10 m³ = 10 000 L. */
export const LITRES_PER_MM_HA = 10_000
/** USDA-SCS formula as given by FAO (CROPWAT): written for monthly totals of 30 days. */
const USDA_SCS_MONTH_DAYS = 30
/** Above this monthly rain [mm] the USDA-SCS formula switches to its linear branch. */
const USDA_SCS_BREAK_MONTHLY_MM = 250

export function mmOverAreaToLitres(depthMm: number, areaHa: number): number {
  return depthMm * areaHa * LITRES_PER_MM_HA
}

/**
 * Effective rainfall [mm] by the USDA Soil Conservation Service method in FAO's simplified form
 * (as in CROPWAT), for a monthly total P:
 *   Peff = P (125 − 0.2 P) / 125   for P ≤ 250 mm
 *   Peff = 125 + 0.1 P             for P > 250 mm
 * (the formula of pyCropWat's and R FAO56's CROPWAT method). For a period of n days the same curve
 * is applied to the rain *rate* scaled to 30 days, which should be CROPWAT's 10-day form
 * (P(125 − 0.6 P)/125 below 250/3 mm; not confirmed from a CROPWAT source):
 *   Peff = P (125 − 0.2 · (30/n) · P) / 125   for P ≤ 250 · n/30
 *   Peff = 125 · n/30 + 0.1 P                 otherwise
 * This is an approximation for short periods: the formula was fitted to monthly data, and on one
 * day it treats all rain above ~8 mm as mostly lost (runoff, deep percolation).
 */
export function effectiveRainfallMm(rainMm: number, periodDays = USDA_SCS_MONTH_DAYS): number {
  if (!Number.isFinite(rainMm) || rainMm < 0 || !Number.isFinite(periodDays) || periodDays <= 0) {
    throw new KampungError(
      'invalid_agronomy_input',
      `effective rainfall needs rainMm ≥ 0 and periodDays > 0, got ${rainMm} mm over ${periodDays} days`,
      { retryable: false },
    )
  }
  const scale = USDA_SCS_MONTH_DAYS / periodDays
  if (rainMm <= USDA_SCS_BREAK_MONTHLY_MM / scale) return (rainMm * (125 - 0.2 * scale * rainMm)) / 125
  return 125 / scale + 0.1 * rainMm
}

/** USDA-SCS effective rainfall for a monthly total [mm]. */
export function effectiveRainfallMonthlyMm(rainMm: number): number {
  return effectiveRainfallMm(rainMm, USDA_SCS_MONTH_DAYS)
}

/** Daily variant: the monthly curve scaled to one day (see effectiveRainfallMm). An approximation. */
export function effectiveRainfallDailyMm(rainMm: number): number {
  return effectiveRainfallMm(rainMm, 1)
}

export interface IrrigationAdviceInput {
  /** Daily ET0 [mm] of the recent days, oldest first, ending today. */
  et0Mm: readonly number[]
  /** Daily rain [mm] for the same days. */
  rainMm: readonly number[]
  crop: CropId
  /** Days since planting on the last (most recent) day of the window; 0 = planted that day. */
  daysSincePlanting: number
  areaHa: number
  /** Deep percolation [mm/day]; defaults to the crop's (3 for paddy rice, 0 for upland crops). */
  percolationMmPerDay?: number
  /**
   * Water the crop can still take from the root zone without stress [mm], e.g. from a soil
   * moisture reading (readily available water minus depletion); subtracted from the need.
   */
  soilWaterCreditMm?: number
  /** The variety's season length [days] (season.ts); stages scale to it. Default: the Table 11 row. */
  seasonDays?: number
}

export interface IrrigationDay {
  daysSincePlanting: number
  et0Mm: number
  kc: number
  etcMm: number
  rainMm: number
  percolationMm: number
}

export interface IrrigationAdvice {
  /** Days of the window on or after planting (earlier days are left out of the balance). */
  daysCounted: number
  /** ΣETc = Σ Kc,i · ET0,i [mm]. */
  etcMm: number
  percolationMm: number
  rainMm: number
  /** USDA-SCS effective rain over the counted days, scaled to their number (see effectiveRainfallMm). */
  effectiveRainMm: number
  soilWaterCreditMm: number
  /** Net irrigation depth to apply [mm], ≥ 0. Field-application losses are not included. */
  netNeedMm: number
  /** netNeedMm over the field's area [L] (1 mm over 1 ha = 10 000 L). */
  litres: number
  /** Mean ETc over the counted days [mm/day]: what the field uses per day from now on. */
  etcMmPerDay: number
  stageToday: GrowthStage
  perDay: IrrigationDay[]
}

function checkInput(input: IrrigationAdviceInput): void {
  const problems: string[] = []
  if (input.et0Mm.length === 0) problems.push('et0Mm must hold at least one day')
  if (input.et0Mm.length !== input.rainMm.length) {
    problems.push(`et0Mm has ${input.et0Mm.length} days but rainMm has ${input.rainMm.length}`)
  }
  input.et0Mm.forEach((v, i) => {
    if (!Number.isFinite(v) || v < 0) problems.push(`et0Mm[${i}] must be a finite number ≥ 0, got ${v}`)
  })
  input.rainMm.forEach((v, i) => {
    if (!Number.isFinite(v) || v < 0) problems.push(`rainMm[${i}] must be a finite number ≥ 0, got ${v}`)
  })
  if (!(input.crop in CROPS)) problems.push(`unknown crop ${input.crop}`)
  if (!Number.isFinite(input.daysSincePlanting) || input.daysSincePlanting < 0) {
    problems.push(`daysSincePlanting must be a finite number ≥ 0, got ${input.daysSincePlanting}`)
  }
  if (!Number.isFinite(input.areaHa) || input.areaHa <= 0)
    problems.push(`areaHa must be > 0, got ${input.areaHa}`)
  for (const key of ['percolationMmPerDay', 'soilWaterCreditMm'] as const) {
    const v = input[key]
    if (v !== undefined && (!Number.isFinite(v) || v < 0)) problems.push(`${key} must be ≥ 0, got ${v}`)
  }
  if (problems.length > 0) {
    throw new KampungError('invalid_agronomy_input', problems.join('; '), { retryable: false })
  }
}

/**
 * Irrigation advice from a simple water balance over the last n days (FAO-56 ch. 6 crop ET,
 * USDA-SCS effective rain):
 *   need = Σ Kc,i · ET0,i  +  n · percolation  −  Peff(ΣP, n)  −  soil water credit,  floored at 0
 * It replaces what the crop used (and a paddy lost downwards) since the field was last full, less
 * what rain supplied. It assumes the field was at field capacity (paddy: at its target water
 * depth) at the start of the window, so the window should start at the last irrigation or soaking
 * rain. Days before planting are left out. Throws a non-retryable KampungError listing every bad
 * input.
 */
export function irrigationAdvice(input: IrrigationAdviceInput): IrrigationAdvice {
  checkInput(input)
  const percolationMmPerDay = input.percolationMmPerDay ?? CROPS[input.crop].defaultPercolationMmPerDay
  const soilWaterCreditMm = input.soilWaterCreditMm ?? 0
  const n = input.et0Mm.length
  const perDay: IrrigationDay[] = []
  for (let i = 0; i < n; i++) {
    const dsp = input.daysSincePlanting - (n - 1 - i)
    if (dsp < 0) continue
    const et0Mm = input.et0Mm[i]!
    const kc = kcOnDay(input.crop, dsp, input.seasonDays)
    perDay.push({
      daysSincePlanting: dsp,
      et0Mm,
      kc,
      etcMm: kc * et0Mm,
      rainMm: input.rainMm[i]!,
      percolationMm: percolationMmPerDay,
    })
  }
  const sum = (f: (d: IrrigationDay) => number) => perDay.reduce((acc, d) => acc + f(d), 0)
  const etcMm = sum((d) => d.etcMm)
  const percolationMm = sum((d) => d.percolationMm)
  const rainMm = sum((d) => d.rainMm)
  const effectiveRainMm = perDay.length > 0 ? effectiveRainfallMm(rainMm, perDay.length) : 0
  const netNeedMm = Math.max(0, etcMm + percolationMm - effectiveRainMm - soilWaterCreditMm)
  return {
    daysCounted: perDay.length,
    etcMm,
    percolationMm,
    rainMm,
    effectiveRainMm,
    soilWaterCreditMm,
    netNeedMm,
    litres: mmOverAreaToLitres(netNeedMm, input.areaHa),
    etcMmPerDay: perDay.length > 0 ? etcMm / perDay.length : 0,
    stageToday: growthStageOnDay(input.crop, input.daysSincePlanting, input.seasonDays),
    perDay,
  }
}
