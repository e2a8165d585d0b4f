import { describe, expect, it } from 'vitest'
import {
  effectiveRainfallDailyMm,
  effectiveRainfallMm,
  effectiveRainfallMonthlyMm,
  irrigationAdvice,
  mmOverAreaToLitres,
} from '../../src/agronomy/water-balance.ts'
import { KampungError } from '../../src/errors.ts'

describe('effective rainfall (USDA-SCS)', () => {
  // The monthly formula is the one two reference implementations use for CROPWAT's USDA-SCS method:
  // pyCropWat `cropwat_effective_precip` (montimaj/pyCropWat, pycropwat/methods.py) and the R
  // package FAO56 `EffPrec` (cran/FAO56, R/EffPrec.R): P (125 − 0.2 P)/125 for P ≤ 250, else
  // 0.1 P + 125. Neither publishes output values; these are the formula's own.
  it('monthly: P(125 − 0.2P)/125 up to 250 mm, then 125 + 0.1P', () => {
    expect(effectiveRainfallMonthlyMm(0)).toBe(0)
    expect(effectiveRainfallMonthlyMm(100)).toBeCloseTo(84, 10)
    expect(effectiveRainfallMonthlyMm(250)).toBeCloseTo(150, 10)
    expect(effectiveRainfallMonthlyMm(300)).toBeCloseTo(155, 10)
  })

  it('is continuous at the break for any period length', () => {
    for (const days of [1, 7, 10, 30]) {
      const brk = (250 * days) / 30
      expect(effectiveRainfallMm(brk - 1e-9, days)).toBeCloseTo(effectiveRainfallMm(brk + 1e-9, days), 6)
    }
  })

  // CROPWAT's 10-day form is not in any source read for this test (FAO-56 has no effective-rain
  // method): this is our 30/n scaling of the monthly curve at n = 10.
  it('10-day form: P(125 − 0.6P)/125 below 250/3 mm (the monthly curve scaled to 10 days)', () => {
    expect(effectiveRainfallMm(50, 10)).toBeCloseTo((50 * (125 - 0.6 * 50)) / 125, 10)
  })

  it('daily: the monthly curve scaled to one day', () => {
    expect(effectiveRainfallDailyMm(5)).toBeCloseTo(3.8, 10) // 5 · (125 − 0.2·30·5)/125
    expect(effectiveRainfallDailyMm(50)).toBeCloseTo(125 / 30 + 5, 10)
  })

  it('rejects negative rain', () => {
    expect(() => effectiveRainfallMm(-1)).toThrow(KampungError)
  })
})

describe('irrigationAdvice', () => {
  it('12 mm over 0.15 ha is 18 000 L (1 mm · 1 ha = 10 000 L)', () => {
    expect(mmOverAreaToLitres(12, 0.15)).toBeCloseTo(18_000, 6)
    // Maize in mid season (Kc 1.2), two dry days of ET0 5 mm: 2 · 1.2 · 5 = 12 mm.
    const a = irrigationAdvice({
      et0Mm: [5, 5],
      rainMm: [0, 0],
      crop: 'maize',
      daysSincePlanting: 80,
      areaHa: 0.15,
    })
    expect(a.netNeedMm).toBeCloseTo(12, 10)
    expect(a.litres).toBeCloseTo(18_000, 6)
    expect(a.stageToday).toBe('mid')
    expect(a.etcMmPerDay).toBeCloseTo(6, 10)
  })

  it('matches a hand-computed paddy balance over a week', () => {
    // Rice, day 100 (mid season, Kc 1.20), ET0 4 mm/day for 7 days, one 20 mm rain, percolation 3 mm/day.
    //   ETc  = 7 · 1.2 · 4                         = 33.6 mm
    //   perc = 7 · 3                               = 21.0 mm
    //   Peff = 20 · (125 − 0.2 · 30/7 · 20) / 125  = 17.2571 mm  (20 ≤ 250 · 7/30)
    //   need = 33.6 + 21 − 17.2571                 = 37.3429 mm → 0.15 ha: 56 014 L
    const a = irrigationAdvice({
      et0Mm: [4, 4, 4, 4, 4, 4, 4],
      rainMm: [0, 0, 20, 0, 0, 0, 0],
      crop: 'rice',
      daysSincePlanting: 100,
      areaHa: 0.15,
    })
    expect(a.daysCounted).toBe(7)
    expect(a.etcMm).toBeCloseTo(33.6, 10)
    expect(a.percolationMm).toBeCloseTo(21, 10)
    expect(a.effectiveRainMm).toBeCloseTo(17.257_142_857, 6)
    expect(a.netNeedMm).toBeCloseTo(37.342_857_143, 6)
    expect(a.litres).toBeCloseTo(56_014.285_714, 3)
  })

  it('follows Kc day by day and leaves out days before planting', () => {
    // Maize planted 1 day before the last day: the window's first day is before planting.
    const a = irrigationAdvice({
      et0Mm: [5, 5, 5],
      rainMm: [9, 0, 0],
      crop: 'maize',
      daysSincePlanting: 1,
      areaHa: 1,
    })
    expect(a.daysCounted).toBe(2)
    expect(a.perDay.map((d) => d.daysSincePlanting)).toEqual([0, 1])
    expect(a.rainMm).toBe(0)
    expect(a.netNeedMm).toBeCloseTo(2 * 0.3 * 5, 10)
  })

  it('is zero, not negative, after plenty of rain; soil water credit lowers the need', () => {
    const wet = irrigationAdvice({
      et0Mm: [4, 4],
      rainMm: [30, 10],
      crop: 'chili',
      daysSincePlanting: 70,
      areaHa: 0.2,
    })
    expect(wet.netNeedMm).toBe(0)
    expect(wet.litres).toBe(0)
    const dry = irrigationAdvice({
      et0Mm: [4, 4],
      rainMm: [0, 0],
      crop: 'chili',
      daysSincePlanting: 70,
      areaHa: 0.2,
    })
    const credited = irrigationAdvice({
      et0Mm: [4, 4],
      rainMm: [0, 0],
      crop: 'chili',
      daysSincePlanting: 70,
      areaHa: 0.2,
      soilWaterCreditMm: 3,
    })
    expect(dry.netNeedMm - credited.netNeedMm).toBeCloseTo(3, 10)
  })

  it('reports every bad input at once', () => {
    let err: unknown
    try {
      irrigationAdvice({
        et0Mm: [4, Number.NaN],
        rainMm: [0],
        crop: 'rice',
        daysSincePlanting: -2,
        areaHa: 0,
      })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(KampungError)
    const msg = (err as KampungError).message
    for (const part of ['rainMm has 1', 'et0Mm[1]', 'daysSincePlanting', 'areaHa'])
      expect(msg).toContain(part)
  })
})
