import { describe, expect, it } from 'vitest'
import { PaddyModel, PaddyWater, WeatherModel } from '../../firmware-sim/models/index.ts'

const HOUR = 3_600_000
const DAY = 24 * HOUR
const T0 = Date.UTC(2026, 5, 1, -7) // 1 Jun 2026 00:00 WIB (dry season)

/** Step a PaddyWater hourly with a constant ETc [mm/h] and no rain; returns the hourly levels. */
function run(w: PaddyWater, fromMs: number, hours: number, etcMmH: number): number[] {
  const levels: number[] = []
  for (let h = 1; h <= hours; h++) {
    w.advance(fromMs + (h - 1) * HOUR, fromMs + h * HOUR, 0, etcMmH)
    levels.push(w.state(fromMs + h * HOUR).levelCm)
  }
  return levels
}

describe('PaddyWater (AWD)', () => {
  it('standing water falls by ET + percolation; below the surface the table falls 1/Sy as fast', () => {
    // 4.8 mm/day ET + 4 mm/day percolation = 0.88 cm/day above the surface, 4.4 cm/day below.
    const w = new PaddyWater({
      plantedAtMs: T0 - 30 * DAY,
      seasonDays: 115,
      initialCm: 5,
      refloodDelayH: [0, 0],
    })
    const above = run(w, T0, 24, 0.2)
    expect(5 - above.at(-1)!).toBeCloseTo(0.88, 6)
    const w2 = new PaddyWater({
      plantedAtMs: T0 - 30 * DAY,
      seasonDays: 115,
      initialCm: -2,
      refloodDelayH: [0, 0],
    })
    const below = run(w2, T0, 24, 0.2)
    expect(-2 - below.at(-1)!).toBeCloseTo(4.4, 6)
  })

  it('the farmer re-floods to +5 cm after his delay once the tube reads −15 cm', () => {
    const w = new PaddyWater({
      plantedAtMs: T0 - 30 * DAY,
      seasonDays: 115,
      initialCm: -14,
      refloodDelayH: [10, 10],
    })
    const levels = run(w, T0, 48, 0.2)
    const crossed = levels.findIndex((l) => l <= -15)
    expect(crossed).toBeGreaterThanOrEqual(0)
    // Still below −15 until the delay is over, then flooded.
    expect(levels[crossed + 9]!).toBeLessThan(-15)
    expect(levels[crossed + 10]!).toBe(5)
    expect(w.state(T0 + 48 * HOUR).irrigations).toBe(1)
  })

  it('around flowering it is re-flooded as soon as the standing water is gone', () => {
    // Flowering on day 85 of 115; day 83 is inside the ±7-day window.
    const w = new PaddyWater({
      plantedAtMs: T0 - 83 * DAY,
      seasonDays: 115,
      initialCm: 0.5,
      refloodDelayH: [0, 0],
    })
    expect(w.state(T0).floweringWindow).toBe(true)
    const levels = run(w, T0, 72, 0.2)
    expect(Math.min(...levels)).toBeGreaterThan(-0.5)
    expect(w.state(T0 + 72 * HOUR).irrigations).toBeGreaterThanOrEqual(1)
  })

  it('in the drain-down nobody irrigates: the table falls to the floor; flood() is ignored', () => {
    const w = new PaddyWater({
      plantedAtMs: T0 - 103 * DAY,
      seasonDays: 115,
      initialCm: 0,
      refloodDelayH: [0, 0],
    })
    expect(w.state(T0).drainDown).toBe(true)
    const levels = run(w, T0, 10 * 24, 0.2)
    w.flood(T0 + 10 * DAY)
    expect(levels.at(-1)).toBe(-40)
    expect(w.state(T0 + 10 * DAY)).toMatchObject({ levelCm: -40, irrigations: 0 })
  })

  it('rain fills the soil first (Sy), then stands; the bund spills above 10 cm', () => {
    const w = new PaddyWater({ plantedAtMs: T0 - 30 * DAY, seasonDays: 115, initialCm: -10 })
    // 10 mm re-fills the 10 cm below the surface at Sy 0.2 (20 mm would); 30 mm: +1 cm standing.
    w.advance(T0, T0 + 1, 10, 0)
    expect(w.state(T0).levelCm).toBeCloseTo(-5, 3)
    w.advance(T0 + 1, T0 + 2, 20, 0)
    expect(w.state(T0).levelCm).toBeCloseTo(1, 3)
    w.advance(T0 + 2, T0 + 3, 500, 0)
    expect(w.state(T0).levelCm).toBe(10)
  })
})

describe('PaddyModel', () => {
  it('reaches the same state in 10-minute, hourly or daily steps', () => {
    const make = () =>
      new PaddyModel({
        weather: new WeatherModel({ seed: 5 }),
        plantedAtMs: T0 - 20 * DAY,
        seasonDays: 115,
        startMs: T0,
        seed: 9,
        noise: false,
      })
    const [a, b, c] = [make(), make(), make()]
    for (let t = T0; t <= T0 + 12 * DAY; t += 10 * 60_000) a.step(t)
    for (let t = T0; t <= T0 + 12 * DAY; t += HOUR) b.step(t)
    for (let t = T0; t <= T0 + 12 * DAY; t += DAY) c.step(t)
    const end = T0 + 12 * DAY
    expect(b.water.state(end).levelCm).toBeCloseTo(a.water.state(end).levelCm, 9)
    expect(c.water.state(end).levelCm).toBeCloseTo(a.water.state(end).levelCm, 9)
    const [level, moisture] = a.readings()
    expect(level).toMatchObject({ quantity: 'water_level' })
    expect(moisture).toMatchObject({ quantity: 'soil_moisture' })
  })
})
