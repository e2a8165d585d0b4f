import { describe, expect, it } from 'vitest'
import { CROP_IDS, CROPS, growthStageOnDay, kcOnDay, seasonLengthDays } from '../../src/agronomy/crops.ts'
import { KampungError } from '../../src/errors.ts'

// Checked on 2026-12-03 against the book's text (FAO-56 pp. 104–111): Table 12 rice 1.05 / 1.20 /
// 0.90–0.60, cereals Kc ini 0.3 with maize (grain) 1.20 / 0.60, 0.35, Solanum family Kc ini 0.6 with
// sweet peppers 1.05 / 0.90; Table 11 rice "30 30 60 30 150 Dec; May, Tropics", maize (grain)
// "25 40 45 30 140 Dec/Jan, Arid Climate", sweet peppers "25/30 35 40 20 125 April/June, Europe
// and Medit." (we take the 25-day initial stage: 120 days; the printed 125 goes with 30).
describe('crop coefficients (FAO-56 Table 12) and stage lengths (Table 11)', () => {
  it('holds the Table 12 values', () => {
    expect([CROPS.rice.kcInitial, CROPS.rice.kcMid, CROPS.rice.kcEnd]).toEqual([1.05, 1.2, 0.75])
    expect([CROPS.maize.kcInitial, CROPS.maize.kcMid, CROPS.maize.kcEnd]).toEqual([0.3, 1.2, 0.35])
    expect([CROPS.chili.kcInitial, CROPS.chili.kcMid, CROPS.chili.kcEnd]).toEqual([0.6, 1.05, 0.9])
  })

  it('season lengths add up', () => {
    expect(seasonLengthDays('rice')).toBe(150)
    expect(seasonLengthDays('maize')).toBe(140)
    expect(seasonLengthDays('chili')).toBe(120)
  })
})

describe('kcOnDay (FAO-56 Fig. 34, eq. 66)', () => {
  it('maize: constant, rising, flat, falling, then Kc end after harvest', () => {
    // Stages 25 / 40 / 45 / 30 days.
    expect(kcOnDay('maize', 0)).toBe(0.3)
    expect(kcOnDay('maize', 24)).toBe(0.3)
    expect(kcOnDay('maize', 25)).toBeCloseTo(0.3, 12)
    // Halfway through development: 0.3 + 20/40 · (1.2 − 0.3) = 0.75
    expect(kcOnDay('maize', 45)).toBeCloseTo(0.75, 12)
    expect(kcOnDay('maize', 65)).toBe(1.2)
    expect(kcOnDay('maize', 109)).toBe(1.2)
    // Late stage day 10 of 30: 1.2 + 10/30 · (0.35 − 1.2) = 0.9167
    expect(kcOnDay('maize', 120)).toBeCloseTo(1.2 + (10 / 30) * (0.35 - 1.2), 12)
    expect(kcOnDay('maize', 140)).toBe(0.35)
    expect(growthStageOnDay('maize', 140)).toBe('after-season')
  })

  it('is continuous at every stage boundary for every crop', () => {
    for (const crop of CROP_IDS) {
      const l = CROPS[crop].stageLengthsDays
      for (const boundary of [l.initial, l.initial + l.development, l.initial + l.development + l.mid]) {
        expect(Math.abs(kcOnDay(crop, boundary) - kcOnDay(crop, boundary - 1e-9))).toBeLessThan(1e-6)
      }
      expect(Math.abs(kcOnDay(crop, seasonLengthDays(crop) - 1e-9) - CROPS[crop].kcEnd)).toBeLessThan(1e-6)
    }
  })

  it('rice stages: 30 / 30 / 60 / 30', () => {
    expect(growthStageOnDay('rice', 29)).toBe('initial')
    expect(growthStageOnDay('rice', 30)).toBe('development')
    expect(growthStageOnDay('rice', 60)).toBe('mid')
    expect(growthStageOnDay('rice', 120)).toBe('late')
    expect(kcOnDay('rice', 45)).toBeCloseTo(1.125, 12)
  })

  it('rejects a negative or non-finite day', () => {
    expect(() => kcOnDay('rice', -1)).toThrow(KampungError)
    expect(() => kcOnDay('rice', Number.NaN)).toThrow(KampungError)
  })
})

describe('one crop list', () => {
  it('the alerts rules have defaults for exactly the agronomy crops', async () => {
    const { parseAlertsConfig } = await import('../../src/alerts/config.ts')
    expect(Object.keys(parseAlertsConfig().rules.crops).sort()).toEqual([...CROP_IDS].sort())
    expect(Object.keys(CROPS).sort()).toEqual([...CROP_IDS].sort())
  })
})
