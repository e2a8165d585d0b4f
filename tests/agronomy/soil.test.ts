import { describe, expect, it } from 'vitest'
import {
  adjustedP,
  bandQuantilePct,
  CROP_SOIL_WATER,
  calibratedPct,
  depletionFraction,
  depletionFromThetaMm,
  dryAlertPct,
  dryThresholdPct,
  floweringDay,
  growthStageOnDay,
  probeFcRange,
  rootZoneDay,
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
  it('Table 19 ranges as printed (FAO-56 p. 144; θFC / θWP, m³/m³)', () => {
    expect(SOIL_TEXTURES).toEqual({
      sand: { fc: [0.07, 0.17], wp: [0.02, 0.07] },
      'loamy-sand': { fc: [0.11, 0.19], wp: [0.03, 0.1] },
      'sandy-loam': { fc: [0.18, 0.28], wp: [0.06, 0.16] },
      loam: { fc: [0.2, 0.3], wp: [0.07, 0.17] },
      'silt-loam': { fc: [0.22, 0.36], wp: [0.09, 0.21] },
      silt: { fc: [0.28, 0.36], wp: [0.12, 0.22] },
      'silty-clay-loam': { fc: [0.3, 0.37], wp: [0.17, 0.24] }, // printed "Silt clay loam"
      'silty-clay': { fc: [0.3, 0.42], wp: [0.17, 0.29] },
      clay: { fc: [0.32, 0.4], wp: [0.2, 0.24] },
    })
    for (const [name, t] of Object.entries(SOIL_TEXTURES)) {
      expect(t.wp[1], name).toBeLessThan(t.fc[1])
      expect(t.wp[0], name).toBeLessThan(t.fc[0])
    }
  })

  it('Table 22 as printed (FAO-56 pp. 163–164): maximum root depth and p for ETc ≈ 5 mm/day', () => {
    // Maize, field (grain) 1.0–1.7 m, 0.55; sweet peppers (bell) 0.5–1.0 m, 0.30; rice 0.5–1.0 m,
    // 0.20 ("of saturation", its note 4).
    expect(CROP_SOIL_WATER).toEqual({
      maize: { p: 0.55, rootDepthM: [1.0, 1.7] },
      chili: { p: 0.3, rootDepthM: [0.5, 1.0] },
      rice: { p: 0.2, rootDepthM: [0.5, 1.0] },
    })
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

/**
 * FAO-56 worked examples of chapter 8, values as printed in the book: Allen, Pereira, Raes & Smith
 * (1998), Crop evapotranspiration, FAO Irrigation and Drainage Paper 56, pp. 166–173 (the book is
 * online at fao.org/3/x0490e/). Read on 2026-12-03 from the book's full text (its PDF text layer),
 * page numbers as printed.
 */
describe('FAO-56 Example 36: readily available soil water for various crops and soil types (p. 166)', () => {
  // "Estimate RAW for a full-grown onion, tomato and maize crop … cultivated on loamy sand, silt and
  // silty clay soils." From Table 22: onion Zr ≈ 0.4 m, p 0.30; tomato 0.8 m, 0.40; maize 1.2 m,
  // 0.55. From Table 19: loamy sand θFC 0.15 / θWP 0.06 (90 mm/m), silt 0.32 / 0.15 (170 mm/m),
  // silty clay 0.35 / 0.23 (120 mm/m). Printed TAW (eq. 82) and RAW (eq. 83), whole mm:
  const soils = { 'loamy sand': [15, 6], silt: [32, 15], 'silty clay': [35, 23] } as const
  const printed = [
    { crop: 'onion', zr: 0.4, p: 0.3, taw: [36, 68, 48], raw: [11, 20, 14] },
    { crop: 'tomato', zr: 0.8, p: 0.4, taw: [72, 136, 96], raw: [29, 54, 38] },
    { crop: 'maize', zr: 1.2, p: 0.55, taw: [108, 204, 144], raw: [59, 112, 79] },
  ]
  for (const row of printed)
    Object.entries(soils).forEach(([name, [fc, wp]], i) => {
      it(`${row.crop} on ${name}: TAW ${row.taw[i]} mm, RAW ${row.raw[i]} mm`, () => {
        // Our functions with the example's inputs (measured θ, its Zr and p), not our crops' defaults.
        const soil = soilWater('maize', { fcPct: fc, wpPct: wp, rootDepthM: row.zr, p: row.p })
        expect(10 * (fc - wp)).toBeCloseTo([90, 170, 120][i]!, 9) // 1000 (θFC − θWP), mm per m
        const taw = totalAvailableWaterMm(soil)
        expect(taw).toBeCloseTo(row.taw[i]!, 9)
        expect(Math.round(row.p * taw)).toBe(row.raw[i])
        // Not printed, our consequence of it: the θ where Dr reaches RAW is where Ks leaves 1 (eq. 84).
        const theta = dryThresholdPct(soil, row.p)
        expect(depletionFromThetaMm(soil, theta)).toBeCloseTo(row.p * taw, 9)
        expect(stressCoefficient(soil, depletionFromThetaMm(soil, theta - 0.01), row.p)).toBeLessThan(1)
        expect(stressCoefficient(soil, depletionFromThetaMm(soil, theta + 0.01), row.p)).toBe(1)
        // A measured soil has no range: the dry alert without lead is exactly FAO-56's threshold.
        expect(
          dryAlertPct({ soil, p: row.p, accuracyPct: 3, quantile: 0.05, leadDays: 1 }).thresholdPct,
        ).toBeCloseTo(theta, 9)
      })
    })
})

describe('FAO-56 Example 37: effect of water stress on crop evapotranspiration (p. 168)', () => {
  // Full-grown tomato, Zr 0.8 m, p 0.40, on a silty soil θFC 0.32, θWP 0.12 (so printed, though
  // Example 36's silt has θWP 0.15); Dr 55 mm at the start, no rain or irrigation, ETo 5 mm/day,
  // Kc 1.2. Printed: TAW 160 mm, RAW 64 mm, and per day Dr start, Ks (2 decimals), ETc adj and
  // Dr end (1 decimal). Our balance carries unrounded values; each printed one is met within
  // half its last digit.
  const soil = soilWater('maize', { fcPct: 32, wpPct: 12, rootDepthM: 0.8, p: 0.4 })
  const days = [
    // [Dr start, Ks, ETc adj, Dr end]
    [55.0, 1.0, 6.0, 61.0],
    [61.0, 1.0, 6.0, 67.0],
    [67.0, 0.97, 5.8, 72.8],
    [72.8, 0.91, 5.4, 78.3],
    [78.3, 0.85, 5.1, 83.4],
    [83.4, 0.8, 4.8, 88.2],
    [88.2, 0.75, 4.5, 92.6],
    [92.6, 0.7, 4.2, 96.9],
    [96.9, 0.66, 3.9, 100.8],
    [100.8, 0.62, 3.7, 104.5],
  ] as const
  const within = (x: number, printedValue: number, halfDigit: number) =>
    expect(Math.abs(x - printedValue)).toBeLessThanOrEqual(halfDigit + 1e-9)

  it('TAW 160 mm, RAW 64 mm (eq. 82, 83)', () => {
    expect(totalAvailableWaterMm(soil)).toBeCloseTo(160, 9)
    expect(0.4 * totalAvailableWaterMm(soil)).toBeCloseTo(64, 9)
  })

  it('ten days of Ks (eq. 84) and the daily balance (eq. 85) as printed', () => {
    let dr = 55
    for (const [i, [start, ks, etcAdj, end]] of days.entries()) {
      within(dr, start, 0.05)
      const day = rootZoneDay(soil, { depletionMm: dr, etcMm: 1.2 * 5, p: 0.4 })
      within(day.ks, ks, 0.005)
      within(day.etcAdjMm, etcAdj, 0.05)
      within(day.depletionMm, end, 0.05)
      expect(day.deepPercolationMm, `day ${i + 1}`).toBe(0)
      dr = day.depletionMm
    }
  })
})

describe('FAO-56 Example 38: irrigation scheduling to avoid crop water stress (pp. 172–173)', () => {
  // Example 35's field (θFC 0.23, θWP 0.10: TAW = 130 Zr, RAW = 0.6 TAW = 78 Zr), p 0.6, Zr from
  // 0.30 m on day 1 to 0.35 m on day 10, rain and irrigation early in the day, Dr at the start of
  // day 1 = RAW = 78 (0.3) = 23 mm; 40 mm irrigated on day 1, 6 mm rain on day 6, and on day 10
  // "an irrigation with a net depth of 27 mm refills the root zone". ETc (column 12) is printed to
  // 0.1 mm (its Kc = Ks Kcb + Ke comes from Example 35's dual coefficients); RAW, DP and Dr whole.
  const printed = [
    // [ETc, P − RO, I, RAW, Dr start, DP, Dr end]
    [5.5, 0, 40, 23, 0, 17, 5],
    [6.1, 0, 0, 24, 5, 0, 12],
    [4.0, 0, 0, 24, 12, 0, 16],
    [2.9, 0, 0, 25, 16, 0, 18],
    [2.5, 0, 0, 25, 18, 0, 21],
    [2.7, 6, 0, 26, 15, 0, 18],
    [4.7, 0, 0, 26, 18, 0, 22],
    [2.8, 0, 0, 26, 22, 0, 25],
    [2.2, 0, 0, 27, 25, 0, 27],
    [6.3, 0, 27, 27, 0, 0, 6],
  ] as const
  // Whole mm; our running balance uses the one-decimal ETc, so a value may sit exactly on a half.
  const within = (x: number, printedValue: number) =>
    expect(Math.abs(x - printedValue)).toBeLessThanOrEqual(0.5 + 1e-9)

  it('early wetting: the root zone refills, the excess drains, the day’s ET comes after', () => {
    let dr = 78 * 0.3
    for (const [i, [etc, rain, irrigation, raw, start, dp, end]] of printed.entries()) {
      const zr = 0.3 + (0.05 * i) / 9
      const soil = soilWater('maize', { fcPct: 23, wpPct: 10, rootDepthM: zr, p: 0.6 })
      within(0.6 * totalAvailableWaterMm(soil), raw)
      within(Math.max(0, dr - rain - irrigation), start)
      // Day 10's irrigation is the depletion itself (27 mm printed): the zone is refilled exactly.
      const irr = i === 9 ? dr : irrigation
      if (i === 9) within(irr, 27)
      const day = rootZoneDay(soil, {
        depletionMm: dr,
        etcMm: etc,
        p: 0.6,
        effectiveRainMm: rain,
        irrigationMm: irr,
        wettingEarly: true,
      })
      expect(day.ks, `day ${i + 1}`).toBe(1) // printed Ks 1 every day: Dr start stays ≤ RAW
      within(day.deepPercolationMm, dp)
      within(day.depletionMm, end)
      dr = day.depletionMm
    }
  })

  it('eq. 85/88 as written put the wetting after the day’s ET: on day 1 that drains less', () => {
    const soil = soilWater('maize', { fcPct: 23, wpPct: 10, rootDepthM: 0.3, p: 0.6 })
    const late = rootZoneDay(soil, { depletionMm: 23.4, etcMm: 5.5, p: 0.6, irrigationMm: 40 })
    // DP = I − ETc − Dr,i−1 = 40 − 5.5 − 23.4 (eq. 88), and the zone ends the day at field capacity.
    expect(late.deepPercolationMm).toBeCloseTo(11.1, 9)
    expect(late.depletionMm).toBe(0)
  })

  it('refuses impossible inputs, naming each', () => {
    const soil = soilWater('maize', { fcPct: 23, wpPct: 10, rootDepthM: 0.3 })
    expect(() => rootZoneDay(soil, { depletionMm: -1, etcMm: Number.NaN, p: 1 })).toThrow(
      /depletionMm.*etcMm.*p: a depletion fraction/,
    )
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
