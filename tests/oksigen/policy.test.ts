import { describe, expect, it } from 'vitest'
import { assess, type GrowthEvidence, policySchema } from '../../src/oksigen/policy.ts'

const DAY = 86_400_000
const policy = { ...policySchema.parse({}), minIncrementMm: 5 }
const now = Date.UTC(2026, 5, 1)
const healthy = (over: Partial<GrowthEvidence> = {}): GrowthEvidence => ({
  daysObserved: 60,
  groUm: 3000,
  twdUm: 20,
  growthUmPerDay7d: 60,
  growthUmPerDay30d: 50,
  dailyAmplitudeUm: 60,
  alive: true,
  flags: [],
  ...over,
})
const flag = (kind: string, severity: 'failure' | 'warning' | 'info' = 'failure') => ({
  kind,
  severity,
  message: `${kind} happened`,
})

describe('verification policy', () => {
  it('waits for enough days of data', () => {
    expect(assess(healthy({ daysObserved: 3 }), policy, now)).toMatchObject({
      state: 'awaiting_data',
      reason: '3 of 7 days of dendrometer data',
    })
  })

  it('is growing, with progress and a projected date from the recent growth rate', () => {
    const a = assess(healthy(), policy, now)
    expect(a).toMatchObject({ state: 'growing', progressPct: 60 })
    // 2 000 µm to go at 50 µm/day: 40 days
    expect(a.projectedEligibleMs).toBe(now + 40 * DAY)
  })

  it('is eligible once the increment is reached, growth goes on and the tree is alive', () => {
    expect(assess(healthy({ groUm: 5200 }), policy, now).state).toBe('eligible')
    expect(assess(healthy({ groUm: 5200, alive: 'unknown' }), policy, now).state).toBe('growing')
    expect(assess(healthy({ groUm: 5200, growthUmPerDay30d: 1 }), policy, now).state).toBe('growing')
  })

  it('fails on a failure flag whatever the growth, and names it', () => {
    for (const kind of ['no_daily_cycle', 'wrong_phase', 'location_changed']) {
      expect(assess(healthy({ groUm: 9000, flags: [flag(kind)] }), policy, now)).toMatchObject({
        state: 'failed',
        reason: `${kind} happened`,
      })
    }
    expect(assess(healthy({ flags: [flag('growth_not_at_night', 'warning')] }), policy, now).state).toBe(
      'growing',
    )
  })

  it('puts a tree at risk when its data stopped, when it is drought-stressed, or when growth stalled', () => {
    expect(assess(healthy({ flags: [flag('data_stopped')] }), policy, now)).toMatchObject({
      state: 'at_risk',
      reason: 'data_stopped happened',
    })
    expect(assess(healthy({ growthUmPerDay7d: 0, twdUm: 200 }), policy, now).reason).toMatch(
      /^drought stress/,
    )
    expect(assess(healthy({ growthUmPerDay30d: 0, growthUmPerDay7d: 0 }), policy, now).reason).toMatch(
      /^growth stalled/,
    )
  })

  it('is dormant, not failed nor at risk, while leafless or in a wet spell without proven growth', () => {
    const leafless = healthy({
      alive: false,
      dormancy: 'leafless',
      growthUmPerDay7d: 0,
      growthUmPerDay30d: 0,
      twdUm: 400,
    })
    expect(assess(leafless, policy, now)).toMatchObject({
      state: 'dormant',
      reason: expect.stringMatching(/leafless/),
    })
    const wet = healthy({ alive: false, dormancy: 'wet_spell', growthUmPerDay7d: 0, growthUmPerDay30d: 0 })
    expect(assess(wet, policy, now).state).toBe('dormant')
    // growth proven: it grows in the rain, it is not dormant
    expect(assess(healthy({ dormancy: 'wet_spell' }), policy, now).state).toBe('growing')
    // a failure (a growing season without growth) still wins over dormancy
    const failing = { ...wet, flags: [flag('no_growth_in_growing_season')] }
    expect(assess(failing, policy, now).state).toBe('failed')
  })
})
