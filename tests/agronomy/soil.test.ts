import { describe, expect, it } from 'vitest'
import {
  adjustedP,
  bandQuantilePct,
  calibratedPct,
  depletionFraction,
  depletionFromThetaMm,
  dryAlertPct,
  dryThresholdPct,
  floweringDay,
  growthStageOnDay,
  probeFcRange,
  SOIL_TEXTURES,
  seasonDay,
  soilProblems,
  soilRanges,
  soilWater,
  stressCoefficient,
  totalAvailableWaterMm,
} from '../../src/agronomy/index.ts'
import { KampungError } from '../../src/errors.ts'

describe('soil water (FAO-56 chapter 8)', () => {
  it('Table 19 ranges as published (θFC / θWP, m³/m³)', () => {
    expect(SOIL_TEXTURES['sandy-loam']).toEqual({ fc: [0.18, 0.28], wp: [0.06, 0.16] })
    expect(SOIL_TEXTURES.loam).toEqual({ fc: [0.2, 0.3], wp: [0.07, 0.17] })
    expect(SOIL_TEXTURES.clay).toEqual({ fc: [0.32, 0.4], wp: [0.2, 0.24] })
    for (const [name, t] of Object.entries(SOIL_TEXTURES)) {
      expect(t.wp[1], name).toBeLessThan(t.fc[1])
      expect(t.wp[0], name).toBeLessThan(t.fc[0])
    }
  })

  it('defaults are the middle of the range; thresholds follow θFC − p (θFC − θWP)', () => {
    const clayMaize = soilWater('maize', { texture: 'clay' })
    expect(clayMaize.fcPct).toBeCloseTo(36, 10)
    expect(clayMaize.wpPct).toBeCloseTo(22, 10)
    expect(clayMaize.rootDepthM).toBeCloseTo(1.35, 10) // Table 22 maize 1.0–1.7 m
    expect(dryThresholdPct(clayMaize, 0.55)).toBeCloseTo(28.3, 10)
    const sandyChili = soilWater('chili', { texture: 'sandy-loam' })
    expect(dryThresholdPct(sandyChili, 0.3)).toBeCloseTo(19.4, 10)
    // Measured values win over the texture.
    expect(soilWater('chili', { texture: 'clay', fcPct: 30, wpPct: 14 }).fcPct).toBe(30)
  })

  it('TAW, RAW and Ks (eq. 82–84); Dr from a probe', () => {
    const s = soilWater('maize', { fcPct: 30, wpPct: 14, rootDepthM: 1 })
    expect(totalAvailableWaterMm(s)).toBeCloseTo(160, 10) // 1000 × 0.16 × 1
    expect(depletionFromThetaMm(s, 22)).toBeCloseTo(80, 10) // 1000 × (0.30 − 0.22) × 1
    expect(depletionFromThetaMm(s, 33)).toBe(0) // wetter than FC drains
    expect(stressCoefficient(s, 88, 0.55)).toBe(1) // Dr = RAW
    expect(stressCoefficient(s, 124, 0.55)).toBeCloseTo((160 - 124) / (0.45 * 160), 10)
    expect(stressCoefficient(s, 160, 0.55)).toBe(0)
  })

  it('p adjusted for ETc (FAO-56 p. 162): p = p_table + 0.04 (5 − ETc), within 0.1–0.8', () => {
    expect(adjustedP(0.55, 5)).toBeCloseTo(0.55, 12)
    expect(adjustedP(0.55, 8)).toBeCloseTo(0.43, 12)
    expect(adjustedP(0.55, 3)).toBeCloseTo(0.63, 12)
    expect(adjustedP(0.2, 12)).toBe(0.1)
    expect(adjustedP(0.55, 0)).toBeCloseTo(0.75, 12)
    const fixed = soilWater('maize', { p: 0.4 })
    expect(depletionFraction(fixed, 8)).toBe(0.4) // the officer's own p is not adjusted
    expect(depletionFraction(soilWater('maize'), 8)).toBeCloseTo(0.43, 12)
  })

  it('probe calibration: θ = slope · raw + offset', () => {
    expect(calibratedPct({ calibration: { slope: 1.1, offset: -2 } }, 30)).toBeCloseTo(31, 10)
    expect(calibratedPct({}, 30)).toBe(30)
  })

  it('impossible soils are refused, each problem naming its field', () => {
    expect(soilProblems({ fcPct: 20, wpPct: 25 })).toEqual([
      'soil.wpPct: the wilting point (25 %) must be below field capacity (20 %)',
    ])
    expect(soilProblems({ p: 1.2, rootDepthM: -0.5 })).toEqual([
      'soil.rootDepthM: a depth in metres > 0 and ≤ 3, got -0.5',
      'soil.p: a depletion fraction between 0 and 1, got 1.2',
    ])
    expect(soilProblems({ fcPct: 30 })).toEqual([
      'soil.fcPct and soil.wpPct: give both measured values, or neither',
    ])
    expect(() => soilWater('rice', { fcPct: 20, wpPct: 20 })).toThrow(KampungError)
  })
})

describe('season calendars of local varieties', () => {
  it('rice 115 days: Table 11 fractions scaled, flowering 30 days before harvest', () => {
    // Table 11 tropics row 30/30/60/30 of 150 days → 23/23/46/23 of 115.
    expect(growthStageOnDay('rice', 22, 115)).toBe('initial')
    expect(growthStageOnDay('rice', 23, 115)).toBe('development')
    expect(growthStageOnDay('rice', 46, 115)).toBe('mid')
    expect(growthStageOnDay('rice', 92, 115)).toBe('late')
    expect(growthStageOnDay('rice', 115, 115)).toBe('after-season')
    expect(floweringDay('rice', 115)).toBe(85)
    expect(floweringDay('rice', 125)).toBe(95)
    expect(seasonDay('rice', 104, 115)).toMatchObject({ daysToHarvest: 11, daysFromFlowering: 19 })
  })

  it('maize hybrid 100 days: the harvest comes at day 100, not 140', () => {
    expect(growthStageOnDay('maize', 99, 100)).toBe('late')
    expect(growthStageOnDay('maize', 100, 100)).toBe('after-season')
    expect(seasonDay('maize', 60, 100).daysFromFlowering).toBeUndefined()
  })
})

describe('FAO-56 Example 36: readily available soil water for tomato on three soils', () => {
  // Allen et al. (1998), ch. 8, Example 36: Zr 0.8 m, p 0.40 (Table 22, tomato); TAW as printed,
  // RAW to the whole mm. Our functions with the example's inputs, not our crops' defaults.
  const soils = [
    { name: 'loamy sand', fc: 15, wp: 6, taw: 72, raw: 29 },
    { name: 'silt', fc: 32, wp: 15, taw: 136, raw: 54 },
    { name: 'silty clay', fc: 35, wp: 23, taw: 96, raw: 38 },
  ]
  for (const s of soils)
    it(`${s.name}: TAW ${s.taw} mm, RAW ${s.raw} mm; stress from θ = θFC − p (θFC − θWP)`, () => {
      const soil = soilWater('maize', { fcPct: s.fc, wpPct: s.wp, rootDepthM: 0.8, p: 0.4 })
      const taw = totalAvailableWaterMm(soil)
      expect(taw).toBeCloseTo(s.taw, 9)
      expect(Math.round(0.4 * taw)).toBe(s.raw)
      const theta = dryThresholdPct(soil, 0.4)
      // The θ where Dr reaches RAW is where Ks leaves 1 (eq. 84).
      expect(depletionFromThetaMm(soil, theta)).toBeCloseTo(0.4 * taw, 9)
      expect(stressCoefficient(soil, depletionFromThetaMm(soil, theta - 0.01), 0.4)).toBeLessThan(1)
      expect(stressCoefficient(soil, depletionFromThetaMm(soil, theta + 0.01), 0.4)).toBe(1)
      // A measured soil has no range: the dry alert without lead is exactly FAO-56's threshold.
      expect(
        dryAlertPct({ soil, p: 0.4, accuracyPct: 3, quantile: 0.05, leadDays: 1 }).thresholdPct,
      ).toBeCloseTo(theta, 9)
    })
})

describe('the dry threshold under uncertainty (class ranges, probe accuracy, a day ahead)', () => {
  it('the band θFC − θWP of two uniform ranges: closed-form quantiles', () => {
    // Loam: θFC 20–30, θWP 7–17: θFC − θWP is triangular on 3–23, F(x) = (x − 3)² / 200 below 13.
    const loam = soilRanges(soilWater('chili', { texture: 'loam' }))
    expect(loam).toEqual({ fcPct: [20, 30], wpPct: [7, 17] })
    expect(bandQuantilePct(loam, 0.05)).toBeCloseTo(3 + Math.sqrt(0.05 * 200), 6)
    expect(bandQuantilePct(loam, 0.5)).toBeCloseTo(13, 6)
    // Widths 6 and 10 (a trapezoid): F(x) = (x − 5)² / 120 on 5–11.
    expect(bandQuantilePct({ fcPct: [22, 28], wpPct: [7, 17] }, 0.05)).toBeCloseTo(5 + Math.sqrt(6), 6)
    // Known values: the band itself.
    expect(bandQuantilePct({ fcPct: [30, 30], wpPct: [14, 14] }, 0.05)).toBe(16)
    expect(soilRanges(soilWater('chili', { texture: 'clay', fcPct: 30, wpPct: 14 }))).toEqual({
      fcPct: [30, 30],
      wpPct: [14, 14],
    })
  })

  it('the probe’s field-capacity reading narrows θFC to ± its accuracy and cancels its offset', () => {
    expect(probeFcRange([20, 30], 25, 3)).toEqual([22, 28])
    expect(probeFcRange([20, 30], 29, 3)).toEqual([26, 30])
    // Far outside the class (a probe reading 8 % high, or another soil): the probe alone.
    expect(probeFcRange([20, 30], 38, 3)).toEqual([35, 41])
    const soil = soilWater('chili', { texture: 'loam' })
    const at = (probeFcPct: number) =>
      dryAlertPct({ soil, p: 0.3, probeFcPct, accuracyPct: 3, quantile: 0.05, leadDays: 1 })
    // The threshold hangs from the probe's own reading (its offset cancels); θFC is then 24–30.
    expect(at(27).fcRefPct).toBe(27)
    expect(at(27).thresholdPct).toBeCloseTo(
      27 - 0.3 * bandQuantilePct({ fcPct: [24, 30], wpPct: [7, 17] }, 0.05),
      9,
    )
    expect(at(25).thresholdPct).toBeCloseTo(25 - 0.3 * (5 + Math.sqrt(6)), 6)
    // Without the probe's reading: the class's θFC and its whole range.
    const classOnly = dryAlertPct({ soil, p: 0.3, accuracyPct: 3, quantile: 0.05, leadDays: 1 })
    expect(classOnly.fcRefPct).toBe(25)
    expect(classOnly.thresholdPct).toBeCloseTo(25 - 0.3 * (3 + Math.sqrt(10)), 6)
  })

  it('no soil holds less than Table 19’s smallest θFC − θWP (sand, 5 % VWC): the band is floored there', () => {
    // A silt loam whose probe reads 22.9 at field capacity: θFC 22–25.9, θWP 9–21 admit bands near 1 %.
    const soil = soilWater('chili', { texture: 'silt-loam' })
    const ranges = { fcPct: [22, 25.9] as const, wpPct: [9, 21] as const }
    expect(bandQuantilePct(ranges, 0.05)).toBeLessThan(5)
    const o = { soil, p: 0.3, probeFcPct: 22.9, accuracyPct: 3, quantile: 0.05, leadDays: 1 }
    expect(dryAlertPct(o).bandPct).toBeCloseTo(bandQuantilePct(ranges, 0.05), 9)
    expect(dryAlertPct({ ...o, minBandPct: 5 })).toMatchObject({ bandPct: 5, thresholdPct: 22.9 - 0.3 * 5 })
  })

  it('a day ahead: the drying of one day at ETc, ETc / (1000 Zr) (FAO-56 ch. 8 daily balance)', () => {
    const soil = soilWater('chili', { fcPct: 30, wpPct: 14, rootDepthM: 0.75 })
    const base = dryAlertPct({ soil, p: 0.3, accuracyPct: 3, quantile: 0.05, leadDays: 1 })
    const ahead = dryAlertPct({ soil, p: 0.3, accuracyPct: 3, quantile: 0.05, leadDays: 1, etcMmPerDay: 6 })
    // Dr,i = Dr,i−1 + ETc: 6 mm over 750 mm of root zone is 0.8 % VWC.
    expect(ahead.leadPct).toBeCloseTo(0.8, 12)
    expect(ahead.thresholdPct - base.thresholdPct).toBeCloseTo(0.8, 12)
    // Never above field capacity, however high ETc.
    expect(
      dryAlertPct({ soil, p: 0.1, accuracyPct: 3, quantile: 0.05, leadDays: 5, etcMmPerDay: 10 })
        .thresholdPct,
    ).toBe(30)
  })
})
