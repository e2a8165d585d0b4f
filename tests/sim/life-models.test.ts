import { describe, expect, it } from 'vitest'
import {
  SimNode,
  StemModel,
  validateFaultSpecs,
  WeatherModel,
  WeatherStation,
} from '../../firmware-sim/models/index.ts'

const DAY = 86_400_000
const WIB = 7 * 3_600_000
const STEP = 600_000
const local = (y: number, m: number, d: number) => Date.UTC(y, m - 1, d) - WIB

/** Per local day: max − min, the local hour of the minimum, and the true growth at the day's end. */
function days(stem: StemModel, from: number, n: number) {
  const out: Array<{ amp: number; minHour: number; growthUm: number; truth: string; leafless: boolean }> = []
  stem.step(from)
  for (let d = 0; d < n; d++) {
    let max = Number.NEGATIVE_INFINITY
    let min = Number.POSITIVE_INFINITY
    let minHour = 0
    for (let t = from + d * DAY + STEP; t < from + (d + 1) * DAY; t += STEP) {
      const v = stem.step(t)[0]!.value
      max = Math.max(max, v)
      if (v < min) {
        min = v
        minHour = ((t + WIB) % DAY) / 3_600_000
      }
    }
    const s = stem.state()
    out.push({ amp: max - min, minHour, growthUm: s.growthUm, truth: s.truth, leafless: s.leafless })
  }
  return out
}

describe('life cases in the stem model (issue 14)', () => {
  it('a forced wet spell: rain every day, air near saturation, low VPD', () => {
    const start = local(2025, 8, 1)
    const weather = new WeatherModel({ seed: 4 }).forceWetSpell(start, start + 7 * DAY)
    for (let d = 0; d < 7; d++) {
      expect(weather.rainMmBetween(start + d * DAY, start + (d + 1) * DAY)).toBeGreaterThan(5)
      let vpd = 0
      for (let t = start + d * DAY; t < start + (d + 1) * DAY; t += STEP) vpd += weather.at(t).vpdKpa
      expect(vpd / 144).toBeLessThan(0.3)
    }
    // the day after: fair dry-season weather again
    let vpd = 0
    for (let t = start + 8 * DAY; t < start + 9 * DAY; t += STEP) vpd += weather.at(t).vpdKpa
    expect(vpd / 144).toBeGreaterThan(0.6)
  })

  it('a post and a dead stem: no growth, a humidity cycle thinnest in the afternoon like a living stem', () => {
    const start = local(2025, 1, 5)
    const weather = new WeatherModel({ seed: 5 })
    const mk = (conditions?: ConstructorParameters<typeof StemModel>[0]['conditions']) =>
      new StemModel({
        weather,
        species: 'sengon',
        plantedAtMs: start,
        startMs: start,
        seed: 1,
        noise: false,
        conditions,
      })
    const alive = days(mk(), start, 20)
    const post = days(mk([{ kind: 'hygroscopic_post', fromMs: start }]), start, 20)
    const dead = days(mk([{ kind: 'dead_stem', fromMs: start + 2 * DAY }]), start, 20)
    expect(post.every((d) => d.truth === 'post')).toBe(true)
    expect(dead.at(-1)!.truth).toBe('dead')
    expect(post.at(-1)!.growthUm).toBe(post[0]!.growthUm)
    expect(dead.at(-1)!.growthUm).toBe(dead[2]!.growthUm)
    expect(alive.at(-1)!.growthUm - alive[0]!.growthUm).toBeGreaterThan(500)
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    for (const wood of [post, dead.slice(3)]) {
      expect(median(wood.map((d) => d.amp))).toBeGreaterThan(8) // a cycle the size of a sapling's
      const hour = median(wood.map((d) => d.minHour))
      expect(hour).toBeGreaterThan(12) // thinnest in the afternoon, as a living stem
      expect(hour).toBeLessThan(19)
    }
  })

  it('a teak drops its leaves in July, stops growing and cycling, and grows again after the rains', () => {
    const start = local(2025, 6, 1)
    const weather = new WeatherModel({ seed: 6 })
    const teak = days(
      new StemModel({ weather, species: 'teak', plantedAtMs: start, startMs: start, seed: 2, noise: false }),
      start,
      200,
    )
    const june = teak.slice(0, 29)
    const august = teak.slice(61, 92)
    expect(june.every((d) => !d.leafless)).toBe(true)
    expect(august.every((d) => d.leafless)).toBe(true)
    expect(august.at(-1)!.growthUm).toBe(august[0]!.growthUm)
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
    expect(mean(august.map((d) => d.amp))).toBeLessThan(0.4 * mean(june.map((d) => d.amp)))
    const last = teak.at(-1)!
    expect(last.leafless).toBe(false)
    expect(last.growthUm).toBeGreaterThan(august.at(-1)!.growthUm + 100)
  })

  it('model faults are validated and reach the stem model through the node; other models refuse them', () => {
    expect(
      validateFaultSpecs([
        { kind: 'dead_stem', fromMs: 1 },
        { kind: 'hygroscopic_post', fromMs: 2 },
      ]).ok,
    ).toBe(true)
    const bad = validateFaultSpecs([{ kind: 'hygroscopic_post', fromMs: 2, postDiameterUm: -1 }])
    expect(bad.ok).toBe(false)
    const start = local(2025, 1, 5)
    const weather = new WeatherModel({ seed: 7 })
    const stem = new StemModel({ weather, species: 'durian', plantedAtMs: start, startMs: start, seed: 3 })
    const node = new SimNode({
      model: stem,
      seed: 1,
      status: false,
      faults: [{ kind: 'dead_stem', fromMs: start + DAY }],
    })
    node.sample(start + 2 * DAY)
    expect(stem.truth()).toBe('dead')
    expect(
      () =>
        new SimNode({
          model: new WeatherStation({ weather, startMs: start }),
          seed: 1,
          faults: [{ kind: 'dead_stem', fromMs: start }],
        }),
    ).toThrow(/stem model/)
  })
})
