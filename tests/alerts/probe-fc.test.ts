import { describe, expect, it } from 'vitest'
import { bandQuantilePct, soilWater } from '../../src/agronomy/index.ts'
import type { Field } from '../../src/alerts/directory.ts'
import { parseAlertsConfig } from '../../src/alerts/index.ts'
import { fieldMoistureRule, type RuleContext } from '../../src/alerts/rules/index.ts'
import { dryBelow, observeProbe, probeFc, smoothedTheta } from '../../src/alerts/rules/moisture.ts'

/**
 * The dry rule learns a probe's field-capacity reading (FAO-56 ch. 8: a soaked root zone drains to
 * field capacity): the reading a day after a wetting plus the ETc drawn since, the median of the
 * last three, clamped to the class's θFC range ± the probe's accuracy. A stub context: only what
 * the learner and the threshold read.
 */
const H = 3_600_000
const config = parseAlertsConfig({})
const field = {
  id: 'f1',
  village: 'v',
  crop: 'chili',
  devices: ['s1'],
  soil: { texture: 'loam' },
} as unknown as Field
const soil = soilWater('chili', { texture: 'loam' }) // θFC 25 (20–30), θWP 12, Zr 0.75 m
const ctx = (etc: number | undefined) => {
  const learned = new Map<string, unknown>()
  return {
    config,
    learnedSoil: (id: string) => learned.get(id),
    saveLearnedSoil: (id: string, l: unknown) => learned.set(id, structuredClone(l)),
    soil: () => soil,
    etcMmPerDay: () => etc,
    season: () => undefined,
    villageRainMm: () => 0,
  } as unknown as RuleContext
}

describe('the probe’s field-capacity reading', () => {
  it('is the median reading of the second half of the day after a wetting plus the ETc until then; it then carries the dry threshold', () => {
    const c = ctx(3) // 3 mm/day over 750 mm: 0.4 % VWC a day
    let t = 0
    const feed = (theta: number, hours = 1) => {
      for (let i = 0; i < hours; i++) {
        t += H
        observeProbe(c, field, theta, t)
      }
    }
    feed(27.5, 2) // the probe reads 2.5 % above the class's θFC (its offset, or this loam's θFC)
    expect(probeFc(c, field)).toBeUndefined()
    expect(fieldMoistureRule(c, field, 'dry', t)).toMatchObject({ fcRefPct: 25 })
    feed(24, 48) // drying
    feed(27.9) // watered: a rise of 3.9 ≥ 2
    feed(27.7, 23)
    expect(probeFc(c, field)).toBeUndefined() // not settled yet
    // 24 h after the wetting: the readings of hours 12–23 (median 27.7, mean time 17.5 h) plus
    // 17.5 h × 0.4 % VWC a day; the reading at 24 h (the top of a next pulse on a field watered
    // nightly) is not the sample.
    feed(27.5)
    const learned = 27.7 + (0.4 * 17.5) / 24
    expect(probeFc(c, field)).toBeCloseTo(learned, 9)
    const rule = fieldMoistureRule(c, field, 'dry', t)
    expect(rule.fcRefPct).toBeCloseTo(learned, 9)
    expect(rule.probeFcPct).toBeCloseTo(learned, 9)
    // Hung from the learned reading, not the class's 25: θFC is 24.99–30 (27.99 ± 3 within 20–30);
    // p = 0.30 + 0.04 (5 − 3) = 0.38; no lead by default (dryMargin.leadMs 0).
    expect(rule.p).toBeCloseTo(0.38, 12)
    const band = bandQuantilePct({ fcPct: [learned - 3, 30], wpPct: [7, 17] }, 0.05)
    expect(rule.thresholdPct).toBeCloseTo(learned - 0.38 * band, 9)
    // With a day's lead configured: a day ahead at 3 mm is 0.4 % VWC above the same threshold
    // (two fresh contexts: nothing learned, the class's θFC in both).
    const leadConfig = parseAlertsConfig({ rules: { crops: { chili: { dryMargin: { leadMs: 24 * H } } } } })
    const plain = fieldMoistureRule(ctx(3), field, 'dry', t).thresholdPct
    const ahead = fieldMoistureRule({ ...ctx(3), config: leadConfig } as RuleContext, field, 'dry', t)
    expect(ahead.thresholdPct - plain).toBeCloseTo(0.4, 9)
  })

  it('a partial wetting does not lower it, one storm does not raise it (median of the last three), saturation is clamped', () => {
    const c = ctx(undefined)
    let t = 0
    const feed = (f: Field, theta: number, hours = 1) => {
      for (let i = 0; i < hours; i++) {
        t += H
        observeProbe(c, f, theta, t)
      }
    }
    feed(field, 20, 2)
    feed(field, 26, 25) // a soaking: settles at 26
    expect(probeFc(c, field)).toBe(26)
    feed(field, 21, 24)
    feed(field, 23.5, 25) // a light shower wets the top only: of two, the higher
    expect(probeFc(c, field)).toBe(26)
    feed(field, 20, 24)
    feed(field, 45, 25) // saturated a day later (ponding clay, a storm): clamped to θFC,max + accuracy = 33
    expect(probeFc(c, field)).toBe(26) // 23.5, 26, 33: the median
    const other = { ...field, id: 'f2' } as Field
    feed(other, 20, 2)
    feed(other, 45, 25)
    expect(probeFc(c, other)).toBe(33)
  })

  it('noise below the wetting rise and readings out of order teach it nothing', () => {
    const c = ctx(2)
    let t = 10 * H
    for (let i = 0; i < 200; i++) {
      t += H
      observeProbe(c, field, 24 + (i % 7) * 0.25, t)
    }
    observeProbe(c, field, 30, H) // older than the last: ignored
    expect(probeFc(c, field)).toBeUndefined()
  })
})

describe('the dry rule’s compared θ', () => {
  const withMargin = (dryMargin: Record<string, unknown>) => {
    const c = ctx(3) as unknown as Record<string, unknown>
    return {
      ...c,
      config: parseAlertsConfig({ rules: { crops: { chili: { dryMargin } } } }),
    } as unknown as RuleContext
  }

  it('smoothMs: the mean of the readings of the last smoothMs; 0: the newest alone', () => {
    const plain = withMargin({})
    const smooth = withMargin({ smoothMs: 3 * H })
    ;[24, 23, 22, 21, 20].forEach((v, i) => {
      observeProbe(plain, field, v, (i + 1) * H)
      observeProbe(smooth, field, v, (i + 1) * H)
    })
    expect(smoothedTheta(plain, field)).toBe(20)
    expect(smoothedTheta(smooth, field)).toBe(21) // 22, 21, 20 (the reading 3 h old is out)
  })

  it('entryBandPct: once below, below until that far above the threshold; 0: the plain comparison', () => {
    const plain = withMargin({})
    const banded = withMargin({ entryBandPct: 0.6 })
    for (const c of [plain, banded]) observeProbe(c, field, 22, H)
    const seq = [20.2, 19.9, 20.3, 20.5, 20.7, 20.1]
    expect(seq.map((v) => dryBelow(plain, field, v, 20))).toEqual([false, true, false, false, false, false])
    expect(seq.map((v) => dryBelow(banded, field, v, 20))).toEqual([false, true, true, true, false, false])
  })
})
