import { describe, expect, it } from 'vitest'
import {
  BANYUWANGI,
  clearSkyGhiWm2,
  cropCoefficient,
  DAY_MS,
  dayOfYear,
  FaultInjector,
  gaussianAt,
  HOUR_MS,
  localHours,
  mulberry32,
  parseFaultSpecs,
  relativeHumidityPct,
  type SimReading,
  solarDeclinationRad,
  solarNoonElevationDeg,
  sunElevationDeg,
  sunPosition,
  uniformAt,
  validateFaultSpecs,
  WeatherModel,
} from '../../firmware-sim/models/index.ts'

const DEG = Math.PI / 180
const LAT = -8.2

describe('solar geometry', () => {
  it('puts the noon sun at 81.8° at −8.2° latitude on the March equinox', () => {
    // The 2025 March equinox: 20 March 09:01 UTC.
    const equinox = Date.parse('2025-03-20T09:01:00Z')
    expect(dayOfYear(Date.parse('2025-03-20T12:00:00+07:00'))).toBe(79)
    expect(Math.abs(solarDeclinationRad(equinox) / DEG)).toBeLessThan(0.02)
    expect(solarNoonElevationDeg(LAT, equinox)).toBeCloseTo(81.8, 1)
  })

  it('finds the same noon elevation by searching the day, near 11:30 WIB at Banyuwangi', () => {
    const midnight = Date.parse('2025-03-20T00:00:00+07:00')
    let best = { timeMs: 0, elevation: -90 }
    for (let t = midnight; t < midnight + DAY_MS; t += 60_000) {
      const elevation = sunElevationDeg(t, LAT, BANYUWANGI.lonDeg)
      if (elevation > best.elevation) best = { timeMs: t, elevation }
    }
    expect(best.elevation).toBeCloseTo(81.8, 0)
    // Solar noon: 12:00 − (114.37° − 105°)/15° per hour ≈ 11:23, and 7 min later for the equation of time.
    expect(localHours(best.timeMs)).toBeGreaterThan(11.3)
    expect(localHours(best.timeMs)).toBeLessThan(11.7)
    expect(sunElevationDeg(midnight, LAT, BANYUWANGI.lonDeg)).toBeLessThan(-60)
  })

  it('has the declination of the solstices', () => {
    // 2025 solstices: 21 June 02:42 UTC, 21 December 15:03 UTC.
    expect(solarDeclinationRad(Date.parse('2025-06-21T02:42:00Z')) / DEG).toBeCloseTo(23.44, 1)
    expect(solarDeclinationRad(Date.parse('2025-12-21T15:03:00Z')) / DEG).toBeCloseTo(-23.44, 1)
    // Equation of time: about −14 min mid-February, +16 min early November.
    expect(sunPosition(Date.parse('2025-02-11T12:00:00Z')).equationOfTimeH * 60).toBeCloseTo(-14.2, 0)
    expect(sunPosition(Date.parse('2025-11-03T12:00:00Z')).equationOfTimeH * 60).toBeCloseTo(16.4, 0)
  })

  it('gives about 1000 W/m² of clear-sky radiation with a high sun and none below the horizon', () => {
    expect(clearSkyGhiWm2(82)).toBeGreaterThan(980)
    expect(clearSkyGhiWm2(82)).toBeLessThan(1060)
    expect(clearSkyGhiWm2(-5)).toBe(0)
  })
})

describe('weather model', () => {
  it('is a pure function of time: at(t) does not depend on what was asked before', () => {
    const t = Date.parse('2025-02-01T15:00:00+07:00')
    const a = new WeatherModel({ seed: 3 }).at(t)
    const b = new WeatherModel({ seed: 3 })
    for (let k = 0; k < 50; k++) b.at(t - k * HOUR_MS)
    expect(b.at(t)).toEqual(a)
  })

  it('rain over consecutive intervals adds up to rain over the whole', () => {
    const w = new WeatherModel({ seed: 11 })
    const from = Date.parse('2025-01-01T00:00:00+07:00')
    const to = from + 60 * DAY_MS
    let sum = 0
    for (let t = from; t < to; t += 7 * 60_000 + 13)
      sum += w.rainMmBetween(t, Math.min(to, t + 7 * 60_000 + 13))
    expect(sum).toBeCloseTo(w.rainMmBetween(from, to), 6)
  })

  it('has a wet season much wetter than the dry season, with dry spells of weeks', () => {
    const w = new WeatherModel({ seed: 5 })
    const year = Date.parse('2025-01-01T00:00:00+07:00')
    const month = (m: number) => {
      const from = Date.parse(`2025-${String(m).padStart(2, '0')}-01T00:00:00+07:00`)
      return w.rainMmBetween(from, from + 30 * DAY_MS)
    }
    const wet = month(1) + month(2) + month(12)
    const dry = month(7) + month(8) + month(9)
    expect(wet).toBeGreaterThan(4 * dry)
    const annual = w.rainMmBetween(year, year + 365 * DAY_MS)
    expect(annual).toBeGreaterThan(800)
    expect(annual).toBeLessThan(2500)
    // Longest run of rainless days in the dry season.
    let longest = 0
    let run = 0
    const dryFrom = Date.parse('2025-06-01T00:00:00+07:00')
    for (let d = 0; d < 120; d++) {
      run = w.rainMmBetween(dryFrom + d * DAY_MS, dryFrom + (d + 1) * DAY_MS) > 0 ? 0 : run + 1
      longest = Math.max(longest, run)
    }
    expect(longest).toBeGreaterThanOrEqual(14)
  })

  it('keeps pressure near 1008–1012 hPa with a semi-diurnal tide', () => {
    const w = new WeatherModel({ seed: 2 })
    const day = Date.parse('2025-01-10T00:00:00+07:00')
    const p = (h: number) => w.at(day + h * HOUR_MS).pressureHpa
    for (let h = 0; h < 24; h++) {
      expect(p(h)).toBeGreaterThan(1005)
      expect(p(h)).toBeLessThan(1015)
    }
    expect(p(10)).toBeGreaterThan(p(16))
    expect(p(22)).toBeGreaterThan(p(16))
  })

  it('gives daily summaries for FAO-56 ET0', () => {
    const w = new WeatherModel({ seed: 2 }).forceDrySpell(
      Date.parse('2025-08-01T00:00:00+07:00'),
      Date.parse('2025-08-10T00:00:00+07:00'),
    )
    const s = w.dailySummary(Date.parse('2025-08-05T12:00:00+07:00'))
    expect(s.dayStartMs).toBe(Date.parse('2025-08-05T00:00:00+07:00'))
    expect(s.rainMm).toBe(0)
    expect(s.tMinC).toBeLessThan(s.tMaxC)
    expect(s.solarMjM2).toBeGreaterThan(15)
    expect(s.solarMjM2).toBeLessThan(30)
    expect(s.rhMeanPct).toBeGreaterThan(50)
    expect(s.rhMeanPct).toBeLessThan(95)
  })

  it('computes RH from dew point (100 % at saturation)', () => {
    expect(relativeHumidityPct(25, 25)).toBeCloseTo(100)
    expect(relativeHumidityPct(32, 22)).toBeCloseTo(55.6, 0)
  })
})

describe('crop coefficients (FAO-56 Table 12)', () => {
  it('follows initial, mid and end values by stage', () => {
    expect(cropCoefficient('maize', 5)).toBe(0.3)
    expect(cropCoefficient('maize', 80)).toBe(1.2)
    expect(cropCoefficient('maize', 139)).toBeCloseTo(0.35, 1)
    expect(cropCoefficient('rice', 0)).toBe(1.05)
    expect(cropCoefficient('rice', 90)).toBe(1.2)
    expect(cropCoefficient('chili', 10)).toBe(0.6)
    expect(cropCoefficient('chili', 70)).toBe(1.05)
    expect(cropCoefficient('chili', -3)).toBe(0.3)
  })
})

describe('random', () => {
  it('is deterministic and in range', () => {
    const a = mulberry32(9)
    const b = mulberry32(9)
    const xs = Array.from({ length: 100 }, () => a())
    expect(Array.from({ length: 100 }, () => b())).toEqual(xs)
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...xs)).toBeLessThan(1)
    expect(uniformAt(1, 1_735_689_600_000)).not.toBe(uniformAt(1, 1_735_689_600_001))
    const g = Array.from({ length: 2000 }, (_, i) => gaussianAt(4, i))
    const mean = g.reduce((x, y) => x + y, 0) / g.length
    const sd = Math.sqrt(g.reduce((x, y) => x + (y - mean) ** 2, 0) / g.length)
    expect(Math.abs(mean)).toBeLessThan(0.1)
    expect(sd).toBeCloseTo(1, 1)
  })
})

describe('fault specs', () => {
  it('accepts every kind and fills defaults', () => {
    const result = validateFaultSpecs([
      { kind: 'dropout', fromMs: 1000, toMs: 2000 },
      { kind: 'stuck', fromMs: 1000, quantity: 'soil_moisture' },
      { kind: 'spike', fromMs: 0 },
      { kind: 'drift', fromMs: 0, quantity: 'air_temperature', perDay: 0.1 },
      { kind: 'battery_decline', fromMs: 0 },
      { kind: 'clock_skew', fromMs: 0, offsetMs: -90_000 },
      { kind: 'no_clock', fromMs: 0 },
      { kind: 'dead_tree', fromMs: 0 },
      { kind: 'post', fromMs: 0 },
      { kind: 'remount', atMs: 0, offsetUm: 1500 },
      { kind: 'moved', fromMs: 0, latDeg: -8.3, lonDeg: 114.2 },
    ])
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(result.specs[0]).toMatchObject({ probability: 1 })
    expect(result.specs[2]).toMatchObject({ probability: 0.01 })
    expect(result.specs[4]).toMatchObject({ voltsPerDay: 0.05, brownOutV: 3.3 })
  })

  it('reports every error with its path', () => {
    const result = validateFaultSpecs([
      { kind: 'stuck', fromMs: 0, quantity: 'soil_wetness' },
      { kind: 'teleport', fromMs: 0 },
      { kind: 'drift', fromMs: 0, quantity: 'pressure' },
      { kind: 'dropout', fromMs: 0, probability: 2, color: 'red' },
    ])
    expect(result.ok).toBe(false)
    if (result.ok) return
    const joined = result.errors.join('\n')
    expect(joined).toMatch(/^\$\[0\]\.quantity /m)
    expect(joined).toMatch(/^\$\[1\]\.kind /m)
    expect(joined).toMatch(/^\$\[2\]\.perDay /m)
    expect(joined).toMatch(/^\$\[3\]\.probability /m)
    expect(joined).toMatch(/color/)
  })

  it('rejects a window that ends before it starts, and bad JSON', () => {
    expect(validateFaultSpecs({ kind: 'no_clock', fromMs: 5000, toMs: 5000 })).toEqual({
      ok: false,
      errors: ['$[0].toMs must be after fromMs'],
    })
    const bad = parseFaultSpecs('[{"kind":')
    expect(bad.ok).toBe(false)
    expect(parseFaultSpecs('{"kind":"remount","atMs":10,"offsetUm":-800}').ok).toBe(true)
  })
})

describe('faults', () => {
  const T0 = Date.parse('2025-01-05T00:00:00+07:00')
  const readings = (soil: number, extra: SimReading[] = []): SimReading[] => [
    { quantity: 'soil_moisture', value: soil },
    { quantity: 'air_temperature', value: 27 },
    ...extra,
  ]

  it('drops samples in a window', () => {
    const f = new FaultInjector({
      specs: [{ kind: 'dropout', fromMs: T0 + HOUR_MS, toMs: T0 + 2 * HOUR_MS }],
      seed: 1,
    })
    expect(f.apply(T0, readings(30))).not.toBeNull()
    expect(f.apply(T0 + HOUR_MS, readings(30))).toBeNull()
    expect(f.apply(T0 + 2 * HOUR_MS, readings(30))).not.toBeNull()
  })

  it('drops with a probability, one quantity only', () => {
    const f = new FaultInjector({
      specs: [{ kind: 'dropout', fromMs: T0, probability: 0.3, quantity: 'soil_moisture' }],
      seed: 1,
    })
    let lost = 0
    for (let i = 0; i < 1000; i++) {
      const s = f.apply(T0 + i * 60_000, readings(30))!
      if (!s.readings.some((r) => r.quantity === 'soil_moisture')) lost++
      expect(s.readings.some((r) => r.quantity === 'air_temperature')).toBe(true)
    }
    expect(lost).toBeGreaterThan(230)
    expect(lost).toBeLessThan(370)
  })

  it('freezes a stuck value at its last value before the fault', () => {
    const f = new FaultInjector({
      specs: [{ kind: 'stuck', fromMs: T0 + 10, quantity: 'soil_moisture' }],
      seed: 1,
    })
    f.apply(T0, readings(31))
    expect(f.apply(T0 + 10, readings(29))!.readings[0]!.value).toBe(31)
    expect(f.apply(T0 + 20, readings(20))!.readings[0]!.value).toBe(31)
    expect(f.apply(T0 + 20, readings(20))!.readings[1]!.value).toBe(27)
  })

  it('adds occasional spikes, drift, clock skew and no clock', () => {
    const f = new FaultInjector({
      specs: [
        { kind: 'spike', fromMs: T0, probability: 0.05, quantity: 'air_temperature', magnitude: 15 },
        { kind: 'drift', fromMs: T0, quantity: 'soil_moisture', perDay: -0.5 },
        { kind: 'clock_skew', fromMs: T0, toMs: T0 + DAY_MS, offsetMs: 120_000 },
        { kind: 'no_clock', fromMs: T0 + 2 * DAY_MS },
      ],
      seed: 2,
    })
    let spikes = 0
    for (let i = 0; i < 1000; i++) {
      const v = f.apply(T0 + i * 60_000, readings(30))!.readings[1]!.value
      if (v !== 27) {
        spikes++
        expect(Math.abs(v - 27)).toBe(15)
      }
    }
    expect(spikes).toBeGreaterThan(25)
    expect(spikes).toBeLessThan(80)
    const s = f.apply(T0 + HOUR_MS, readings(30))!
    expect(s.timeMs).toBe(T0 + HOUR_MS + 120_000)
    expect(f.apply(T0 + DAY_MS, readings(30))!.readings[0]!.value).toBeCloseTo(29.5)
    expect(f.apply(T0 + DAY_MS, readings(30))!.timeMs).toBe(T0 + DAY_MS)
    expect(f.apply(T0 + 3 * DAY_MS, readings(30))!.timeMs).toBeNull()
  })

  it('puts a dendrometer on a post: constant, with a tiny afternoon expansion', () => {
    const f = new FaultInjector({
      specs: [{ kind: 'post', fromMs: T0, postDiameterUm: 100_000, thermalAmplitudeUm: 1, noiseUm: 0 }],
      seed: 3,
    })
    const at = (h: number) =>
      f.apply(T0 + h * HOUR_MS, [{ quantity: 'stem_diameter', value: 15_000 + h * 10 }])!.readings[0]!.value
    expect(at(14)).toBeCloseTo(100_001)
    expect(at(2)).toBeCloseTo(99_999)
  })

  it('reports the new position of a moved node', () => {
    const f = new FaultInjector({
      specs: [{ kind: 'moved', fromMs: T0, latDeg: -8.4, lonDeg: 114.1 }],
      seed: 1,
    })
    const s = f.apply(T0, [
      { quantity: 'latitude', value: -8.2 },
      { quantity: 'longitude', value: 114.37 },
    ])!
    expect(s.readings).toEqual([
      { quantity: 'latitude', value: -8.4 },
      { quantity: 'longitude', value: 114.1 },
    ])
  })

  it('refuses invalid specs at construction', () => {
    expect(() => new FaultInjector({ specs: [{ kind: 'remount', atMs: 0, offsetUm: 0 }], seed: 1 })).toThrow(
      /offsetUm must not be 0/,
    )
  })
})
