import { describe, expect, it } from 'vitest'
import {
  adjustedP,
  calibratedPct,
  depletionFraction,
  depletionFromThetaMm,
  dryThresholdPct,
  floweringDay,
  growthStageOnDay,
  SOIL_TEXTURES,
  seasonDay,
  soilProblems,
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
