import { KampungError } from '../errors.ts'
import type { CropId } from './crops.ts'

/**
 * Soil water of a field's root zone (FAO-56 chapter 8). A field knows its soil either by texture
 * class (FAO-56 Table 19: the middle of the typical range) or by measured θFC/θWP; from those, the
 * root depth Zr and the crop's depletion fraction p follow:
 *   TAW = 1000 (θFC − θWP) Zr                 [mm]   (eq. 82)
 *   RAW = p · TAW                             [mm]   (eq. 83)
 *   Dr  = 1000 (θFC − θ) Zr                   [mm]   (eq. 87, from a probe's θ)
 *   Ks  = (TAW − Dr) / ((1 − p) TAW), Dr > RAW        (eq. 84)
 *   Dr,i = Dr,i−1 − P − I + ETc adj + DP, 0 ≤ Dr ≤ TAW (eq. 85, 86, 88: `rootZoneDay`)
 * Stress starts when Dr > RAW, i.e. when θ < θFC − p (θFC − θWP): that θ is the field's dry
 * threshold, independent of Zr. Volumetric contents here are m³/m³ (0.30); probes and rules speak
 * % VWC (30 %), and the functions named …Pct take and give percent.
 */

/**
 * FAO-56 Table 19 "Typical soil water characteristics for different soil types": θFC and θWP ranges
 * [m³/m³]. Defaults are the middle of each range; a field with measured values should give them.
 */
export const SOIL_TEXTURES = {
  sand: { fc: [0.07, 0.17], wp: [0.02, 0.07] },
  'loamy-sand': { fc: [0.11, 0.19], wp: [0.03, 0.1] },
  'sandy-loam': { fc: [0.18, 0.28], wp: [0.06, 0.16] },
  loam: { fc: [0.2, 0.3], wp: [0.07, 0.17] },
  'silt-loam': { fc: [0.22, 0.36], wp: [0.09, 0.21] },
  silt: { fc: [0.28, 0.36], wp: [0.12, 0.22] },
  'silty-clay-loam': { fc: [0.3, 0.37], wp: [0.17, 0.24] },
  'silty-clay': { fc: [0.3, 0.42], wp: [0.17, 0.29] },
  clay: { fc: [0.32, 0.4], wp: [0.2, 0.24] },
} as const satisfies Record<string, { fc: readonly [number, number]; wp: readonly [number, number] }>

export type SoilTexture = keyof typeof SOIL_TEXTURES
export const SOIL_TEXTURE_IDS = Object.keys(SOIL_TEXTURES) as SoilTexture[]

/**
 * FAO-56 Table 22: depletion fraction p for ETc ≈ 5 mm/day, and the maximum effective root depth
 * range [m] (its middle is the default Zr). Rice: 0.20 (of saturation in the table's note; a paddy
 * is judged by its water level where it has a tube); maize (grain) 0.55; peppers 0.30.
 */
export const CROP_SOIL_WATER: Readonly<Record<CropId, { p: number; rootDepthM: readonly [number, number] }>> =
  {
    rice: { p: 0.2, rootDepthM: [0.5, 1.0] },
    maize: { p: 0.55, rootDepthM: [1.0, 1.7] },
    chili: { p: 0.3, rootDepthM: [0.5, 1.0] },
  }

/** FAO-56 p. 162: p adjusted for the day's ETc, p = p_table + 0.04 (5 − ETc), kept within 0.1–0.8. */
export const P_MIN = 0.1
export const P_MAX = 0.8
export const P_REFERENCE_ETC_MM = 5
const P_PER_MM_ETC = 0.04

export function adjustedP(pTable: number, etcMmPerDay: number): number {
  const p = pTable + P_PER_MM_ETC * (P_REFERENCE_ETC_MM - etcMmPerDay)
  return Math.min(P_MAX, Math.max(P_MIN, p))
}

/**
 * A field's soil as the rules use it. Optional calibration turns a probe's raw % reading into θ:
 * θ% = slope · raw + offset (a linear fit of the probe against gravimetric samples in that soil;
 * capacitive probes are sold with a mineral-soil curve that reads clays and andisols wrong).
 */
export interface SoilInput {
  texture?: SoilTexture
  /** Measured θ at field capacity and wilting point [% VWC]; win over the texture's defaults. */
  fcPct?: number
  wpPct?: number
  rootDepthM?: number
  /** Depletion fraction override (0–1); default FAO-56 Table 22 for the crop, ETc-adjusted. */
  p?: number
  calibration?: { slope: number; offset: number }
}

export interface SoilWater {
  texture?: SoilTexture
  fcPct: number
  wpPct: number
  rootDepthM: number
  /** p before the ETc adjustment (the field's override or Table 22). */
  pTable: number
  /** True when p was given for the field: no ETc adjustment then (the officer chose it). */
  pFixed: boolean
  /** θFC/θWP were measured (given), not the texture's defaults. */
  measured?: boolean
  calibration?: { slope: number; offset: number }
}

/** Every problem with a soil description, each naming its field ("fcPct: …"); empty when fine. */
export function soilProblems(s: SoilInput): string[] {
  const problems: string[] = []
  if (s.texture !== undefined && !(SOIL_TEXTURE_IDS as string[]).includes(s.texture))
    problems.push(`soil.texture: one of ${SOIL_TEXTURE_IDS.join(', ')}`)
  const pct = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0 && v < 100))
      problems.push(`soil.${name}: a % VWC between 0 and 100, got ${v}`)
  }
  pct('fcPct', s.fcPct)
  pct('wpPct', s.wpPct)
  if ((s.fcPct === undefined) !== (s.wpPct === undefined))
    problems.push('soil.fcPct and soil.wpPct: give both measured values, or neither')
  if (s.fcPct !== undefined && s.wpPct !== undefined && s.wpPct >= s.fcPct)
    problems.push(`soil.wpPct: the wilting point (${s.wpPct} %) must be below field capacity (${s.fcPct} %)`)
  if (s.rootDepthM !== undefined && !(Number.isFinite(s.rootDepthM) && s.rootDepthM > 0 && s.rootDepthM <= 3))
    problems.push(`soil.rootDepthM: a depth in metres > 0 and ≤ 3, got ${s.rootDepthM}`)
  if (s.p !== undefined && !(Number.isFinite(s.p) && s.p > 0 && s.p < 1))
    problems.push(`soil.p: a depletion fraction between 0 and 1, got ${s.p}`)
  if (s.calibration !== undefined) {
    const { slope, offset } = s.calibration
    if (!(Number.isFinite(slope) && slope > 0))
      problems.push(`soil.calibration.slope: a number > 0, got ${slope}`)
    if (!Number.isFinite(offset)) problems.push(`soil.calibration.offset: a number, got ${offset}`)
  }
  return problems
}

/**
 * The soil water characteristics of a field: measured θFC/θWP if given, else the texture's Table 19
 * mid-range (loam when neither is known), Zr from the field or the middle of Table 22's range.
 * Throws `invalid_agronomy_input` listing every problem.
 */
export function soilWater(crop: CropId, s: SoilInput = {}): SoilWater {
  const problems = soilProblems(s)
  if (problems.length > 0)
    throw new KampungError('invalid_agronomy_input', problems.join('; '), { retryable: false })
  const texture = s.texture ?? (s.fcPct === undefined ? 'loam' : undefined)
  const mid = (r: readonly [number, number]) => ((r[0] + r[1]) / 2) * 100
  const t = texture ? SOIL_TEXTURES[texture] : undefined
  const cropWater = CROP_SOIL_WATER[crop]
  const out: SoilWater = {
    fcPct: s.fcPct ?? mid(t!.fc),
    wpPct: s.wpPct ?? mid(t!.wp),
    rootDepthM: s.rootDepthM ?? (cropWater.rootDepthM[0] + cropWater.rootDepthM[1]) / 2,
    pTable: s.p ?? cropWater.p,
    pFixed: s.p !== undefined,
  }
  if (s.fcPct !== undefined) out.measured = true
  if (texture) out.texture = texture
  if (s.calibration) out.calibration = s.calibration
  return out
}

/** p for the day: the field's own p as given, else Table 22's adjusted for ETc (when known). */
export function depletionFraction(soil: SoilWater, etcMmPerDay?: number): number {
  if (soil.pFixed || etcMmPerDay === undefined) return soil.pTable
  return adjustedP(soil.pTable, etcMmPerDay)
}

/** θ [% VWC] below which the crop is stressed: θFC − p (θFC − θWP). */
export function dryThresholdPct(soil: SoilWater, p: number): number {
  return soil.fcPct - p * (soil.fcPct - soil.wpPct)
}

/** TAW [mm] = 1000 (θFC − θWP) Zr (θ as fractions). */
export function totalAvailableWaterMm(soil: SoilWater): number {
  return 10 * (soil.fcPct - soil.wpPct) * soil.rootDepthM
}

/** Root-zone depletion [mm] from a probe's θ: Dr = 1000 (θFC − θ) Zr (eq. 87), ≥ 0 (wetter than FC drains). */
export function depletionFromThetaMm(soil: SoilWater, thetaPct: number): number {
  return Math.max(0, 10 * (soil.fcPct - thetaPct) * soil.rootDepthM)
}

/** Water stress coefficient Ks (FAO-56 eq. 84): 1 while Dr ≤ RAW, then linear to 0 at TAW. */
export function stressCoefficient(soil: SoilWater, depletionMm: number, p: number): number {
  const taw = totalAvailableWaterMm(soil)
  if (depletionMm <= p * taw) return 1
  return Math.max(0, (taw - depletionMm) / ((1 - p) * taw))
}

export interface RootZoneDay {
  /** Ks of the day (eq. 84), from the depletion once the day's wetting (if early) has soaked in. */
  ks: number
  /** ETc adj = Ks · ETc [mm] (eq. 81). */
  etcAdjMm: number
  /** Water drained below the root zone [mm] (eq. 88). */
  deepPercolationMm: number
  /** Dr at the end of the day [mm], 0 ≤ Dr ≤ TAW (eq. 85, 86). */
  depletionMm: number
}

/**
 * One day of the root-zone water balance (FAO-56 ch. 8), capillary rise taken as 0 (a water table
 * more than about 1 m below the roots, p. 171):
 *   Ks from the depletion at the start of the day (eq. 84), ETc adj = Ks · ETc (eq. 81)
 *   Dr,i = Dr,i−1 − (P − RO)i − Ii + ETc adj,i + DPi,  0 ≤ Dr,i ≤ TAW      (eq. 85, 86)
 *   DPi  = (P − RO)i + Ii − ETc adj,i − Dr,i−1 ≥ 0                         (eq. 88)
 * That is the order of a day whose rain or irrigation comes late (after the day's ET). With
 * `wettingEarly` (FAO-56 Example 38, its note 5) the water comes first: the root zone refills,
 * what exceeds field capacity drains at once, DP = max(0, P + I − Dr,i−1), and the day's ET is
 * drawn from Dr,start = max(0, Dr,i−1 − P − I). `effectiveRainMm` is P − RO.
 */
export function rootZoneDay(
  soil: SoilWater,
  o: {
    depletionMm: number
    etcMm: number
    p: number
    effectiveRainMm?: number
    irrigationMm?: number
    wettingEarly?: boolean
  },
): RootZoneDay {
  const rain = o.effectiveRainMm ?? 0
  const irrigation = o.irrigationMm ?? 0
  const problems: string[] = []
  const nonNegative = {
    depletionMm: o.depletionMm,
    etcMm: o.etcMm,
    effectiveRainMm: rain,
    irrigationMm: irrigation,
  }
  for (const [name, v] of Object.entries(nonNegative))
    if (!(Number.isFinite(v) && v >= 0)) problems.push(`${name}: a finite number ≥ 0, got ${v}`)
  if (!(Number.isFinite(o.p) && o.p > 0 && o.p < 1))
    problems.push(`p: a depletion fraction between 0 and 1, got ${o.p}`)
  if (problems.length > 0)
    throw new KampungError('invalid_agronomy_input', problems.join('; '), { retryable: false })
  const taw = totalAvailableWaterMm(soil)
  const wetting = rain + irrigation
  if (o.wettingEarly === true) {
    const start = Math.min(taw, Math.max(0, o.depletionMm - wetting))
    const ks = stressCoefficient(soil, start, o.p)
    const etcAdjMm = ks * o.etcMm
    return {
      ks,
      etcAdjMm,
      deepPercolationMm: Math.max(0, wetting - o.depletionMm),
      depletionMm: Math.min(taw, start + etcAdjMm),
    }
  }
  const ks = stressCoefficient(soil, o.depletionMm, o.p)
  const etcAdjMm = ks * o.etcMm
  const deepPercolationMm = Math.max(0, wetting - etcAdjMm - o.depletionMm)
  const depletionMm = Math.min(taw, Math.max(0, o.depletionMm - wetting + etcAdjMm + deepPercolationMm))
  return { ks, etcAdjMm, deepPercolationMm, depletionMm }
}

/** A probe's raw % reading as θ [% VWC] in this soil (identity without a calibration). */
export function calibratedPct(soil: Pick<SoilWater, 'calibration'>, rawPct: number): number {
  if (!soil.calibration) return rawPct
  return soil.calibration.slope * rawPct + soil.calibration.offset
}

/**
 * What is known of a field's θFC and θWP [% VWC] as ranges: a texture class's Table 19 range, or
 * the measured value (a range of width 0). A probe's own field-capacity reading narrows θFC to
 * that reading ± the probe's accuracy (see `probeFcRange`).
 */
export interface SoilRanges {
  fcPct: readonly [number, number]
  wpPct: readonly [number, number]
}

/** The field's θFC/θWP ranges: Table 19's for a soil known by its class alone, else the values. */
export function soilRanges(soil: SoilWater): SoilRanges {
  if (soil.measured !== true && soil.texture !== undefined) {
    const t = SOIL_TEXTURES[soil.texture]
    const pct = (x: number) => Math.round(x * 1e8) / 1e6
    return { fcPct: [pct(t.fc[0]), pct(t.fc[1])], wpPct: [pct(t.wp[0]), pct(t.wp[1])] }
  }
  return { fcPct: [soil.fcPct, soil.fcPct], wpPct: [soil.wpPct, soil.wpPct] }
}

/**
 * θFC's range once the probe has shown its field-capacity reading: that reading ± the probe's
 * accuracy, within the class range (outside it — a probe far off, or a soil not of its class — the
 * probe's reading ± accuracy alone).
 */
export function probeFcRange(
  classFc: readonly [number, number],
  probeFcPct: number,
  accuracyPct: number,
): readonly [number, number] {
  const lo = Math.max(classFc[0], probeFcPct - accuracyPct)
  const hi = Math.min(classFc[1], probeFcPct + accuracyPct)
  return lo <= hi ? [lo, hi] : [probeFcPct - accuracyPct, probeFcPct + accuracyPct]
}

/**
 * The q-quantile of θFC − θWP [% VWC] with θFC and θWP independent and uniform over their ranges
 * (what Table 19 says of a class: a typical range, no distribution within it). The band's low
 * quantile is the soil's narrow end: RAW = p · 1000 (θFC − θWP) Zr is smallest there, so stress
 * starts soonest. A range of width 0 is a known value.
 */
export function bandQuantilePct(ranges: SoilRanges, q: number): number {
  const [a0, a1] = ranges.fcPct
  const [b0, b1] = ranges.wpPct
  const lo = a0 - b1
  const hi = a1 - b0
  if (hi - lo < 1e-9 || q <= 0) return lo
  if (q >= 1) return hi
  const wa = a1 - a0
  const wb = b1 - b0
  // One of them known: the band is uniform.
  if (wa < 1e-9 || wb < 1e-9) return lo + q * (hi - lo)
  // Two uniforms: the band's density is their convolution (a trapezoid), its CDF piecewise
  // quadratic: F(d) = ½ Σ ±max(0, d − corner)² / (wa wb) over the corners a0 − b1, a1 − b1, a0 − b0, a1 − b0.
  const r2 = (z: number) => (z > 0 ? z * z : 0)
  const cdf = (d: number) =>
    (r2(d - (a0 - b1)) - r2(d - (a1 - b1)) - r2(d - (a0 - b0)) + r2(d - (a1 - b0))) / (2 * wa * wb)
  let l = lo
  let h = hi
  for (let i = 0; i < 60; i++) {
    const m = (l + h) / 2
    if (cdf(m) < q) l = m
    else h = m
  }
  return (l + h) / 2
}

/**
 * Where the dry alert fires [% VWC, in the probe's calibrated units]: the field-capacity reading
 * less the narrow-end RAW, raised by a day's (or `leadDays`') drying at the crop's ETc:
 *   θalert = θFC,ref − p · (θFC − θWP)q + ETc · lead / (1000 Zr)
 * θFC,ref is the probe's own field-capacity reading when it has shown one (its offset and the
 * class's θFC range then cancel), else the class's θFC. With a measured soil (ranges of width 0)
 * and no lead this is FAO-56's θFC − p (θFC − θWP).
 */
export function dryAlertPct(o: {
  soil: SoilWater
  p: number
  /** The probe's field-capacity reading, when known [% VWC]. */
  probeFcPct?: number
  accuracyPct: number
  quantile: number
  /** No soil holds less than this between θFC and θWP [% VWC] (Table 19's smallest θFC − θWP: sand, 0.05). */
  minBandPct?: number
  etcMmPerDay?: number
  leadDays: number
}): { thresholdPct: number; fcRefPct: number; bandPct: number; leadPct: number } {
  const ranges = soilRanges(o.soil)
  const known = o.probeFcPct !== undefined && ranges.fcPct[1] > ranges.fcPct[0]
  const fcRange = known ? probeFcRange(ranges.fcPct, o.probeFcPct!, o.accuracyPct) : ranges.fcPct
  const bandPct = Math.max(
    o.minBandPct ?? 0,
    bandQuantilePct({ fcPct: fcRange, wpPct: ranges.wpPct }, o.quantile),
  )
  const fcRefPct = known ? o.probeFcPct! : o.soil.fcPct
  const leadPct = o.etcMmPerDay === undefined ? 0 : (o.etcMmPerDay * o.leadDays) / (10 * o.soil.rootDepthM)
  // Never above the reference field capacity: a soil at field capacity is not dry.
  const thresholdPct = Math.min(fcRefPct, fcRefPct - o.p * bandPct + leadPct)
  return { thresholdPct, fcRefPct, bandPct, leadPct }
}
