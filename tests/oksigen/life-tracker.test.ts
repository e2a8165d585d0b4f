import { describe, expect, it } from 'vitest'
import {
  type DendroDay,
  LIFE_DEFAULTS,
  LifeTracker,
  VillageWeather,
  vpdKpa,
  type WeatherDay,
} from '../../src/oksigen/dendro/index.ts'

const DAY = 86_400_000
const WIB = 7 * 3_600_000
const evergreen = { isLeafless: () => false }
const teak = { isLeafless: (m: number) => m >= 7 && m <= 10 }

/** A processor day (only what the tracker reads). */
function day(dayStartMs: number, groIncreaseUm: number, extra: Partial<DendroDay> & { mdsUm?: number } = {}) {
  return {
    dayStartMs,
    minUm: 0,
    maxUm: 0,
    amplitudeUm: 0,
    minAtMs: 0,
    maxAtMs: 0,
    groUm: 0,
    twdUm: 0,
    groIncreaseUm,
    nightGroIncreaseUm: groIncreaseUm,
    coverage: 1,
    cycleCosUm: 10,
    cycleSinUm: 0,
    cycleR2: 0.9,
    ...extra,
  } as DendroDay
}

const weatherDay = (dayStartMs: number, vpd: number, rainMm: number | null = 5): WeatherDay => ({
  dayStartMs,
  samples: 144,
  vpdMeanKpa: vpd,
  vpdMaxKpa: 2 * vpd,
  rhMeanPct: 80,
  rainMm,
  complete: true,
})

/** `n` days from a local date with growth, VPD and MDS given per day index. */
function series(
  from: number,
  n: number,
  f: (i: number) => { gro: number; vpd: number; mds?: number; rain?: number | null },
) {
  const days: DendroDay[] = []
  const wx = new Map<number, WeatherDay>()
  for (let i = 0; i < n; i++) {
    const t = from + i * DAY
    const v = f(i)
    days.push(day(t, v.gro, v.mds === undefined ? {} : { mdsUm: v.mds }))
    wx.set(t, weatherDay(t, v.vpd, v.rain === undefined ? 5 : v.rain))
  }
  return { days, weather: (t: number) => wx.get(t) }
}

const jan = Date.UTC(2025, 0, 1) - WIB

describe('LifeTracker', () => {
  it('proves growth from many growth days, and loses the proof within days of the last growth', () => {
    const s = series(jan, 40, (i) => ({ gro: i < 30 ? 40 : 0, vpd: 1 }))
    const t = new LifeTracker()
    t.ingest(s.days.slice(0, 30), s.weather, evergreen)
    expect(t.evidence().growthProven).toBe(true)
    t.ingest(s.days, s.weather, evergreen)
    expect(t.evidence().growthProven).toBe(false)
    expect(t.evidence().provenEver).toBe(true)
  })

  it('does not take a swelling post for growth: a couple of new maxima of one daily swing', () => {
    // a 20 µm humidity swing; two wet days push the running maximum up by 15 µm each
    const s = series(jan, 30, (i) => ({ gro: i === 5 || i === 20 ? 15 : 0, vpd: 1 }))
    const t = new LifeTracker()
    t.ingest(s.days, s.weather, evergreen)
    expect(t.evidence().growthProven).toBe(false)
  })

  it('fails after 60 growing-season days without growth; dormant and dry days do not count', () => {
    const wet = series(jan, 90, (i) => ({ gro: 0, vpd: i % 10 === 0 ? 0.2 : 1 })) // every 10th day a wet day
    const t = new LifeTracker()
    t.ingest(wet.days, wet.weather, evergreen)
    const e = t.evidence()
    // each wet day and the 2 after it are dormant: 9 × 3 = 27 of 90 days not counted
    expect(e.seasonDaysWithoutGrowth).toBe(63)
    expect(e.failed).toBe(true)
    // the same 90 days with no rain at all: a dry spell (drought), never counted after the first week
    const dry = series(jan, 90, () => ({ gro: 0, vpd: 1, rain: 0 }))
    const d = new LifeTracker()
    d.ingest(dry.days, dry.weather, evergreen)
    expect(d.evidence().seasonDaysWithoutGrowth).toBeLessThan(LIFE_DEFAULTS.dryWindowDays)
    expect(d.evidence().failed).toBe(false)
    // dry-season months (May–Oct) are not growing season
    const july = Date.UTC(2025, 6, 1) - WIB
    const leafless = series(july, 90, () => ({ gro: 0, vpd: 1 }))
    const l = new LifeTracker()
    l.ingest(leafless.days, leafless.weather, teak)
    expect(l.evidence({ month: 9, species: teak })).toMatchObject({
      dormancy: 'leafless',
      failed: false,
      seasonDaysWithoutGrowth: 0,
    })
  })

  it('judges coupling to VPD only on MDS: larger shrinkage on high-VPD days is coupled, the reverse is not', () => {
    const vpd = (i: number) => 0.6 + 0.8 * Math.abs(Math.sin(i * 1.7))
    const harmonic = series(jan, 40, (i) => ({ gro: 40, vpd: vpd(i) }))
    const h = new LifeTracker()
    h.ingest(harmonic.days, harmonic.weather, evergreen)
    expect(h.evidence().coupling).toMatchObject({ status: 'unknown', why: expect.stringMatching(/MDS/) })
    const coupled = series(jan, 40, (i) => ({ gro: 40, vpd: vpd(i), mds: 10 + 20 * vpd(i) }))
    const c = new LifeTracker()
    c.ingest(coupled.days, coupled.weather, evergreen)
    expect(c.evidence().coupling.status).toBe('coupled')
    expect(c.evidence().coupling.r).toBeGreaterThan(0.9)
    const reverse = series(jan, 40, (i) => ({ gro: 40, vpd: vpd(i), mds: 50 - 20 * vpd(i) }))
    const r = new LifeTracker()
    r.ingest(reverse.days, reverse.weather, evergreen)
    expect(r.evidence().coupling.status).toBe('not_coupled')
  })

  it('waits for the village weather of a day, then goes without it after two days', () => {
    const t = new LifeTracker()
    const d0 = day(jan, 40)
    const incomplete = (ms: number) => ({ ...weatherDay(ms, 1), complete: false })
    expect(t.ingest([d0], incomplete, evergreen)).toBe(0)
    expect(t.ingest([d0, day(jan + DAY, 40), day(jan + 2 * DAY, 40)], incomplete, evergreen)).toBe(1)
  })

  it('snapshot/restore through JSON continues exactly', () => {
    const s = series(jan, 80, (i) => ({ gro: i < 20 ? 30 : 0, vpd: 1 }))
    const whole = new LifeTracker()
    whole.ingest(s.days, s.weather, evergreen)
    const half = new LifeTracker()
    half.ingest(s.days.slice(0, 40), s.weather, evergreen)
    const again = LifeTracker.restore(JSON.parse(JSON.stringify(half.snapshot())))
    again.ingest(s.days, s.weather, evergreen)
    expect(again.evidence()).toEqual(whole.evidence())
  })
})

describe('VillageWeather', () => {
  it('pairs temperature and humidity into VPD per local day, and sums rain', () => {
    const w = new VillageWeather()
    const t0 = jan + 6 * 3_600_000
    w.push('kemiren', 'wx', t0, 'air_temperature', 30)
    w.push('kemiren', 'wx', t0, 'relative_humidity', 60)
    w.push('kemiren', 'wx', t0 + 600_000, 'rainfall', 1.2)
    w.push('kemiren', 'wx', t0 + 1_200_000, 'rainfall', 0.8)
    const d = w.day('kemiren', jan)!
    expect(d.samples).toBe(1)
    expect(d.vpdMeanKpa).toBeCloseTo(vpdKpa(30, 60), 10)
    expect(vpdKpa(30, 60)).toBeCloseTo(0.4 * 4.2431, 3) // FAO-56: es(30 °C) = 4.243 kPa
    expect(d.rainMm).toBeCloseTo(2, 10)
    expect(d.complete).toBe(false)
    w.push('kemiren', 'wx', jan + DAY + 1000, 'air_temperature', 25)
    w.push('kemiren', 'wx', jan + DAY + 1000, 'relative_humidity', 90)
    expect(w.day('kemiren', jan)!.complete).toBe(true)
    expect(w.day('olehsari', jan)).toBeUndefined()
  })
})
