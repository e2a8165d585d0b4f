import { describe, expect, it } from 'vitest'
import {
  DAY_MS,
  FaultInjector,
  HOUR_MS,
  localHours,
  SimNode,
  type SimReading,
  SoilModel,
  SPECIES,
  StemModel,
  WeatherModel,
  WeatherStation,
} from '../../firmware-sim/models/index.ts'

// A seeded 30-simulated-day run from a wet-season date: natural weather for 5 days, a forced
// 10-day dry spell, a 60 mm storm on its last afternoon, then natural weather again.
const START_MS = Date.parse('2025-01-05T00:00:00+07:00')
const STEP_MS = 10 * 60_000
const DAYS = 30
const SPELL_FROM_DAY = 5
const SPELL_TO_DAY = 15
const STORM_MS = START_MS + SPELL_TO_DAY * DAY_MS + 14 * HOUR_MS
const STORM_MM = 60
const REMOUNT_MS = START_MS + 20 * DAY_MS + 9 * HOUR_MS
const REMOUNT_UM = -1500

interface Series {
  timeMs: number[]
  values: number[]
}

function makeWeather(seed: number): WeatherModel {
  return new WeatherModel({ seed })
    .forceDrySpell(START_MS + SPELL_FROM_DAY * DAY_MS, START_MS + SPELL_TO_DAY * DAY_MS)
    .forceRain(STORM_MS, STORM_MM)
}

function record(series: Map<string, Series>, name: string, timeMs: number, readings: readonly SimReading[]) {
  for (const r of readings) {
    const key = `${name}.${r.quantity}`
    let s = series.get(key)
    if (!s) {
      s = { timeMs: [], values: [] }
      series.set(key, s)
    }
    s.timeMs.push(timeMs)
    s.values.push(r.value)
  }
}

function runScenario(seed: number) {
  const weather = makeWeather(seed)
  const station = new WeatherStation({ weather, startMs: START_MS })
  const maize = new SoilModel({
    weather,
    crop: 'maize',
    plantedAtMs: START_MS - 20 * DAY_MS,
    startMs: START_MS,
  })
  const chili = new SoilModel({
    weather,
    crop: 'chili',
    plantedAtMs: START_MS - 30 * DAY_MS,
    startMs: START_MS,
  })
  const rice = new SoilModel({
    weather,
    crop: 'rice',
    plantedAtMs: START_MS - 40 * DAY_MS,
    startMs: START_MS,
  })
  const stem = (s: number) =>
    new StemModel({ weather, species: 'durian', plantedAtMs: START_MS, startMs: START_MS, seed: s })
  const healthy = stem(seed + 1)
  const dead = new SimNode({
    model: stem(seed + 2),
    seed: seed + 2,
    status: false,
    faults: [{ kind: 'dead_tree', fromMs: START_MS }],
  })
  // The same tree as `healthy` (same seed, same weather), seen through a re-mounted dendrometer.
  const remounted = new SimNode({
    model: stem(seed + 1),
    seed: seed + 3,
    status: false,
    faults: [{ kind: 'remount', atMs: REMOUNT_MS, offsetUm: REMOUNT_UM }],
  })

  const series = new Map<string, Series>()
  const riceWaterMm: number[] = []
  for (let t = START_MS + STEP_MS; t <= START_MS + DAYS * DAY_MS; t += STEP_MS) {
    record(series, 'station', t, station.step(t))
    record(series, 'maize', t, maize.step(t))
    record(series, 'chili', t, chili.step(t))
    record(series, 'rice', t, rice.step(t))
    riceWaterMm.push(rice.state().standingWaterMm)
    record(series, 'healthy', t, healthy.step(t))
    record(series, 'dead', t, dead.sample(t)?.readings ?? [])
    record(series, 'remounted', t, remounted.sample(t)?.readings ?? [])
  }
  const get = (key: string): Series => {
    const s = series.get(key)
    if (!s) throw new Error(`no series ${key}`)
    return s
  }
  return { weather, get, riceWaterMm, healthyState: healthy.state() }
}

/** The value nearest to a local time on a day of the run. */
function valueAt(s: Series, day: number, localHour: number): number {
  const target = START_MS + day * DAY_MS + localHour * HOUR_MS
  const i = s.timeMs.findIndex((t) => t >= target)
  return s.values[i]!
}

/** Values of one run day (local midnight to midnight). */
function dayValues(s: Series, day: number): Array<{ hour: number; value: number }> {
  const from = START_MS + day * DAY_MS
  const out: Array<{ hour: number; value: number }> = []
  s.timeMs.forEach((t, i) => {
    if (t >= from && t < from + DAY_MS) out.push({ hour: localHours(t), value: s.values[i]! })
  })
  return out
}

/** Hourly means, to look at a daily cycle without the sensor noise. */
function hourlyMeans(s: Series): Series {
  const buckets = new Map<number, number[]>()
  s.timeMs.forEach((t, i) => {
    const h = Math.floor((t - 1 - START_MS) / HOUR_MS)
    const b = buckets.get(h) ?? []
    b.push(s.values[i]!)
    buckets.set(h, b)
  })
  const timeMs: number[] = []
  const values: number[] = []
  for (const [h, b] of [...buckets].sort((a, z) => a[0] - z[0])) {
    timeMs.push(START_MS + h * HOUR_MS + HOUR_MS / 2)
    values.push(b.reduce((x, y) => x + y, 0) / b.length)
  }
  return { timeMs, values }
}

/** Zweifel et al. 2016: tree water deficit = running maximum − current diameter. */
function treeWaterDeficit(s: Series): Series {
  let max = Number.NEGATIVE_INFINITY
  return {
    timeMs: s.timeMs,
    values: s.values.map((v) => {
      max = Math.max(max, v)
      return max - v
    }),
  }
}

function argMax(points: Array<{ hour: number; value: number }>): number {
  return points.reduce((best, p) => (p.value > best.value ? p : best)).hour
}
function argMin(points: Array<{ hour: number; value: number }>): number {
  return points.reduce((best, p) => (p.value < best.value ? p : best)).hour
}

const run = runScenario(42)

describe('seeded 30-day run (wet season, 10-day dry spell, then a storm)', () => {
  it('soil moisture falls through the dry spell', () => {
    for (const crop of ['maize', 'chili']) {
      const s = run.get(`${crop}.soil_moisture`)
      const daily = Array.from({ length: SPELL_TO_DAY - SPELL_FROM_DAY }, (_, k) =>
        valueAt(s, SPELL_FROM_DAY + k, 6),
      )
      // Monotonic but for sensor noise (σ 0.3 %VWC), and clearly lower at the end than at the start.
      for (let k = 1; k < daily.length; k++) expect(daily[k]!).toBeLessThan(daily[k - 1]! + 1)
      expect(daily[daily.length - 1]!).toBeLessThan(daily[0]! - 2)
    }
  })

  it('paddy rice loses its standing water in the dry spell', () => {
    const perDay = (day: number) => run.riceWaterMm[(day * DAY_MS) / STEP_MS]!
    expect(perDay(SPELL_FROM_DAY)).toBeGreaterThan(perDay(SPELL_FROM_DAY + 3))
    expect(perDay(SPELL_TO_DAY - 1)).toBe(0)
  })

  it('soil moisture jumps after the storm', () => {
    for (const crop of ['maize', 'chili', 'rice']) {
      const s = run.get(`${crop}.soil_moisture`)
      const before = valueAt(s, SPELL_TO_DAY, 13.5)
      const after = valueAt(s, SPELL_TO_DAY, 18)
      expect(after - before, crop).toBeGreaterThan(4)
    }
  })

  it('the rain gauge reports the storm and nothing during the dry spell', () => {
    const s = run.get('station.rainfall')
    const sum = (fromMs: number, toMs: number) =>
      s.values.filter((_, i) => s.timeMs[i]! > fromMs && s.timeMs[i]! <= toMs).reduce((a, b) => a + b, 0)
    expect(sum(START_MS + SPELL_FROM_DAY * DAY_MS, STORM_MS)).toBe(0)
    expect(sum(STORM_MS, STORM_MS + 2 * HOUR_MS)).toBeCloseTo(STORM_MM, 0)
  })

  it('air temperature peaks in the afternoon and bottoms out near dawn; RH the other way', () => {
    const temp = run.get('station.air_temperature')
    const rh = run.get('station.relative_humidity')
    // Dry-spell days have no storm to disturb the cycle (the storm day itself is excluded).
    for (let day = SPELL_FROM_DAY; day < SPELL_TO_DAY; day++) {
      const t = dayValues(temp, day)
      expect(argMax(t), `day ${day} max`).toBeGreaterThanOrEqual(12)
      expect(argMax(t), `day ${day} max`).toBeLessThanOrEqual(16)
      expect(argMin(t), `day ${day} min`).toBeGreaterThanOrEqual(3)
      expect(argMin(t), `day ${day} min`).toBeLessThanOrEqual(7)
      const max = Math.max(...t.map((p) => p.value))
      const min = Math.min(...t.map((p) => p.value))
      expect(min).toBeGreaterThan(20)
      expect(min).toBeLessThan(26)
      expect(max).toBeGreaterThan(29)
      expect(max).toBeLessThan(36)
      expect(valueAt(rh, day, 14)).toBeLessThan(75)
      expect(valueAt(rh, day, 4)).toBeGreaterThan(85)
    }
  })

  it('solar radiation is zero at night and near 1000 W/m² at a clear noon', () => {
    const s = run.get('station.solar_radiation')
    s.timeMs.forEach((t, i) => {
      const h = localHours(t)
      if (h < 5 || h > 19) expect(s.values[i]).toBe(0)
    })
    const noon = valueAt(s, SPELL_FROM_DAY + 3, 11.5)
    expect(noon).toBeGreaterThan(750)
    expect(noon).toBeLessThan(1150)
  })

  it('a healthy tree shrinks by day and refills by night, and grows at the species rate', () => {
    const hourly = hourlyMeans(run.get('healthy.stem_diameter'))
    const twd = treeWaterDeficit(hourly)
    let afternoonPeaks = 0
    for (let day = 1; day < DAYS; day++) {
      const points = dayValues(twd, day)
      const amplitudeUm = Math.max(...points.map((p) => p.value)) - Math.min(...points.map((p) => p.value))
      // Sensor noise is σ 1 µm; a 12 mm stem swings 0.1–0.2 % (12–24 µm) on a sunny day.
      expect(amplitudeUm, `day ${day}`).toBeGreaterThan(5)
      const peak = argMax(points)
      if (peak >= 11 && peak <= 18) afternoonPeaks++
      // The stem is full (the deficit near zero) by dawn.
      expect(valueAt(twd, day, 7), `day ${day} dawn`).toBeLessThan(3)
    }
    expect(afternoonPeaks).toBeGreaterThanOrEqual(DAYS - 4)

    const series = run.get('healthy.stem_diameter')
    const firstMax = Math.max(...dayValues(series, 0).map((p) => p.value))
    const lastMax = Math.max(...dayValues(series, DAYS - 1).map((p) => p.value))
    const nominalUm = (SPECIES.durian.diameterGrowthMmPerYear * 1000 * (DAYS - 1)) / 365.25
    expect(lastMax - firstMax).toBeGreaterThan(0.4 * nominalUm)
    expect(lastMax - firstMax).toBeLessThan(2 * nominalUm)
  })

  it('a dead tree shows no daily cycle and no growth', () => {
    const hourly = hourlyMeans(run.get('dead.stem_diameter'))
    const twd = treeWaterDeficit(hourly)
    for (let day = 1; day < DAYS; day++) {
      const points = dayValues(hourly, day)
      const amplitudeUm = Math.max(...points.map((p) => p.value)) - Math.min(...points.map((p) => p.value))
      expect(amplitudeUm, `day ${day}`).toBeLessThan(3)
    }
    expect(Math.max(...twd.values)).toBeLessThan(4)
    expect(Math.abs(hourly.values.at(-1)! - hourly.values[0]!)).toBeLessThan(3)
  })

  it('a re-mounted dendrometer jumps once, by the offset', () => {
    const s = run.get('remounted.stem_diameter')
    const healthy = run.get('healthy.stem_diameter')
    const jumps: number[] = []
    for (let i = 1; i < s.values.length; i++) {
      if (Math.abs(s.values[i]! - s.values[i - 1]!) > 200) jumps.push(s.timeMs[i]!)
    }
    expect(jumps).toEqual([REMOUNT_MS])
    const i = s.timeMs.indexOf(REMOUNT_MS)
    expect(s.values[i]! - healthy.values[i]!).toBe(REMOUNT_UM)
    expect(s.values[i - 1]).toBe(healthy.values[i - 1])
  })

  it('is deterministic: same seed, same readings; another seed, other rain', () => {
    const again = runScenario(42)
    for (const key of [
      'station.rainfall',
      'station.air_temperature',
      'maize.soil_moisture',
      'healthy.stem_diameter',
    ]) {
      expect(again.get(key).values).toEqual(run.get(key).values)
    }
    const other = new WeatherModel({ seed: 43 })
    const same = new WeatherModel({ seed: 42 })
    const window = [START_MS, START_MS + DAYS * DAY_MS] as const
    expect(other.rainEvents(...window)).not.toEqual(same.rainEvents(...window))
    expect(other.rainMmBetween(...window)).not.toBeCloseTo(same.rainMmBetween(...window), 3)
  })
})

describe('step-size independence', () => {
  it('soil and stem reach the same state at T with 10-minute, 1-hour and 1-day steps', () => {
    const endMs = START_MS + 12 * DAY_MS
    const states = [10 * 60_000, HOUR_MS, DAY_MS].map((stepMs) => {
      const weather = makeWeather(7)
      const soil = new SoilModel({ weather, crop: 'chili', plantedAtMs: START_MS, startMs: START_MS })
      const stem = new StemModel({
        weather,
        species: 'teak',
        plantedAtMs: START_MS,
        startMs: START_MS,
        seed: 1,
      })
      for (let t = START_MS + stepMs; t <= endMs; t += stepMs) {
        soil.step(t)
        stem.step(t)
      }
      return { soil: soil.state(), stem: stem.state() }
    })
    for (const s of states.slice(1)) {
      expect(s.soil.vwcPct).toBeCloseTo(states[0]!.soil.vwcPct, 9)
      expect(s.stem.diameterUm).toBeCloseTo(states[0]!.stem.diameterUm, 6)
    }
  })

  it('does not blow up with steps that are not on the internal grid', () => {
    const weather = makeWeather(9)
    const soil = new SoilModel({ weather, crop: 'maize', plantedAtMs: START_MS, startMs: START_MS })
    const reference = new SoilModel({ weather, crop: 'maize', plantedAtMs: START_MS, startMs: START_MS })
    const endMs = START_MS + 20 * DAY_MS
    for (let t = START_MS + 7_777_777; t < endMs; t += 7_777_777) soil.step(t)
    soil.step(endMs)
    reference.step(endMs)
    expect(soil.state().vwcPct).toBeCloseTo(reference.state().vwcPct, 2)
  })
})

describe('water balance', () => {
  it('closes: storage change = rain + irrigation − ET − drainage − runoff', () => {
    for (const crop of ['rice', 'maize'] as const) {
      const weather = makeWeather(5)
      const soil = new SoilModel({ weather, crop, plantedAtMs: START_MS, startMs: START_MS, noise: false })
      soil.irrigate(START_MS + 3 * DAY_MS, 25)
      const before = soil.state()
      soil.step(START_MS + DAYS * DAY_MS)
      const after = soil.state()
      const rootZoneMm = (crop === 'rice' ? 0.3 : 0.6) * 1000
      const storedMm = (s: typeof before) => (s.vwcPct / 100) * rootZoneMm + s.standingWaterMm
      const t = after.totals
      expect(storedMm(after) - storedMm(before)).toBeCloseTo(
        t.rainMm + t.irrigationMm - t.etMm - t.drainageMm - t.runoffMm,
        6,
      )
      expect(t.irrigationMm).toBe(25)
      expect(t.rainMm).toBeCloseTo(weather.rainMmBetween(START_MS, START_MS + DAYS * DAY_MS), 6)
    }
  })
})

describe('fault injector on a stream', () => {
  it('keeps a node silent after brown-out', () => {
    const faults = new FaultInjector({
      specs: [{ kind: 'battery_decline', fromMs: START_MS, voltsPerDay: 0.2 }],
      seed: 1,
    })
    const sent: Array<number | null> = []
    for (let day = 0; day < 6; day++) {
      const s = faults.apply(START_MS + day * DAY_MS, [{ quantity: 'battery_voltage', value: 4.1 }])
      sent.push(s ? s.readings[0]!.value : null)
    }
    expect(sent[0]).toBeCloseTo(4.1)
    expect(sent[2]).toBeCloseTo(3.7)
    expect(sent.slice(4)).toEqual([null, null])
  })
})

describe('drought', () => {
  it('a long dry spell stops growth and leaves the stem shrunk at dawn', () => {
    const from = Date.parse('2025-07-01T00:00:00+07:00')
    const weather = new WeatherModel({ seed: 8 }).forceDrySpell(from, from + 70 * DAY_MS)
    const tree = new StemModel({
      weather,
      species: 'sengon',
      plantedAtMs: from,
      startMs: from,
      seed: 1,
      noise: false,
    })
    const dawn = (day: number) => {
      tree.step(from + day * DAY_MS + 6 * HOUR_MS)
      return tree.state()
    }
    const early = [dawn(1), dawn(11)]
    const late = [dawn(50), dawn(60)]
    const growth = (pair: typeof early) => pair[1]!.growthUm - pair[0]!.growthUm
    expect(late[1]!.waterStress).toBeGreaterThan(0.5)
    expect(growth(late)).toBeLessThan(0.1 * growth(early))
    // At dawn a watered stem is refilled; a droughted one is not (persistent TWD).
    expect(early[1]!.twdUm).toBeLessThan(3)
    expect(late[1]!.twdUm).toBeGreaterThan(20)
  })
})
