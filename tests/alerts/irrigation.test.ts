import { afterEach, describe, expect, it } from 'vitest'
import type { FieldAdvice } from '../../src/alerts/index.ts'
import {
  DAY,
  HOUR,
  only,
  PHONE_A,
  type Rig,
  reading,
  rig,
  SOLAR_WM2,
  seed,
  syntheticWeather,
  wib,
} from './helpers.ts'

let r: Rig | undefined
afterEach(async () => {
  await r?.stop()
  r = undefined
})

/**
 * FAO-56 daily ET0 written out step by step (eq. 7, 8, 11–13, 17, 21–25, 37–40, 6) for the inputs
 * read off the synthetic day above, independently of src/agronomy.
 */
function handEt0(dayOfYear: number): number {
  const z = 50
  const P = 101.3 * ((293 - 0.0065 * z) / 293) ** 5.26
  const gamma = 0.665e-3 * P
  const e0 = (t: number) => 0.6108 * Math.exp((17.27 * t) / (t + 237.3))
  const tMin = 23
  const tMax = 32
  const tMean = (tMin + tMax) / 2
  const delta = (4098 * e0(tMean)) / (tMean + 237.3) ** 2
  const es = (e0(tMax) + e0(tMin)) / 2
  const ea = (e0(tMin) * 0.92 + e0(tMax) * 0.58) / 2
  const u2 = (18 * 2.0 + 6 * 3.2) / 24 // 2.3 m/s, anemometer at 2 m
  const phi = (-8.22 * Math.PI) / 180
  const dr = 1 + 0.033 * Math.cos(((2 * Math.PI) / 365) * dayOfYear)
  const dec = 0.409 * Math.sin(((2 * Math.PI) / 365) * dayOfYear - 1.39)
  const ws = Math.acos(-Math.tan(phi) * Math.tan(dec))
  const Ra =
    ((24 * 60) / Math.PI) *
    0.082 *
    dr *
    (ws * Math.sin(phi) * Math.sin(dec) + Math.cos(phi) * Math.cos(dec) * Math.sin(ws))
  expect(SOLAR_WM2.reduce((a, b) => a + b)).toBe(5680)
  const Rs = (SOLAR_WM2.reduce((a, b) => a + b) * 3600) / 1e6 // Σ W/m² × 1 h = 20.448 MJ/m²
  const Rso = (0.75 + 2e-5 * z) * Ra
  const Rns = 0.77 * Rs
  const Rnl =
    4.903e-9 *
    (((tMax + 273.16) ** 4 + (tMin + 273.16) ** 4) / 2) *
    (0.34 - 0.14 * Math.sqrt(ea)) *
    (1.35 * Math.min(1, Rs / Rso) - 0.35)
  const Rn = Rns - Rnl
  return (
    (0.408 * delta * Rn + gamma * (900 / (tMean + 273)) * u2 * (es - ea)) / (delta + gamma * (1 + 0.34 * u2))
  )
}

describe('irrigation advisor (FAO-56 daily water balance)', () => {
  it('equals a hand-computed balance for a chili field on 2 July 2026', async () => {
    const day1 = wib(2026, 7, 1)
    const day2 = day1 + DAY
    r = await rig({ ...only('dry'), groupWaitMs: 0 }, { startMs: day1 })
    await seed(r, 'chili')
    // SAWAH1: chili planted 70 days before 2 July (mid season, Kc mid 1.05), 0.15 ha.
    r.registry
      .database()
      .prepare('UPDATE fields SET planted_at_ms = ? WHERE id = ?')
      .run(day2 - 70 * DAY, 'kemiren-sawah1')
    for (const dayStart of [day1, day2]) {
      for (let h = 0; h < 24; h++) {
        const t = dayStart + h * HOUR
        r.clock.now = t
        r.engine.onReadings(syntheticWeather(h, t, dayStart === day2 && h === 15 ? 2 : 0))
        r.engine.tick(t)
      }
    }
    // Day 2 is closed 1 h after the next midnight.
    r.clock.now = day2 + DAY + HOUR
    r.engine.tick(r.clock.now)

    const et0Day1 = handEt0(182)
    const et0Day2 = handEt0(183)
    expect(et0Day2).toBeGreaterThan(4)
    expect(et0Day2).toBeLessThan(7)
    const kc = 1.05
    // FAO-56 ch. 8, day by day: day 1 starts at field capacity (no stored day: a cold start),
    // Dr1 = ETc1; day 2's 2 mm (runoff 0) come early, then its ET: Dr2 = Dr1 − 2 + ETc2 (eq. 85).
    // Both stay below RAW (loam θFC 25, θWP 12, Zr 0.75 m: TAW 97.5 mm, p ≈ 0.3), so Ks = 1 (eq. 84).
    const dr1 = kc * et0Day1
    const need = dr1 - 2 + kc * et0Day2
    const litres = need * 0.15 * 10_000 // 1 mm on 1 ha = 10 000 L

    const advice = r.engine.advisor.latestAdvice('kemiren-sawah1')!
    expect(advice.dayStartMs).toBe(day2)
    expect(advice.days).toBe(2)
    expect(advice.et0Mm).toBeCloseTo(et0Day2, 6)
    expect(advice.kc).toBe(kc)
    expect(advice.ks).toBe(1)
    expect(advice.etcMm).toBeCloseTo(kc * et0Day2, 6) // the day's ETc adj
    expect(advice.rainMm).toBeCloseTo(2, 9)
    expect(advice.effectiveRainMm).toBeCloseTo(2, 9)
    expect(advice.deepPercolationMm).toBe(0)
    expect(advice.tawMm).toBeCloseTo(10 * (25 - 12) * 0.75, 9)
    expect(advice.depletionMm).toBeCloseTo(need, 6)
    expect(advice.netNeedMm).toBeCloseTo(need, 6)
    expect(advice.litres).toBeCloseTo(litres, 3)
    expect(advice.irrigate).toBe(false)

    // Written as an event for InfluxDB (measurement irrigation_advice, one per field and day).
    const events = r.engine.pendingEvents().filter((e) => e.measurement === 'irrigation_advice')
    const ev = events.find((e) => e.tags.field === 'kemiren-sawah1' && e.timeMs === day2)!
    expect(ev.tags).toEqual({ village: 'kemiren', field: 'kemiren-sawah1', crop: 'chili' })
    expect(ev.fields.need_mm).toBeCloseTo(need, 6)
    expect(ev.fields.litres).toBeCloseTo(litres, 3)
    expect(events).toHaveLength(4) // 2 fields × 2 days

    // The advice was a balance (no probe reading that day). Once the probe reads, the dry SMS
    // gives the measured depletion instead (FAO-56 ch. 8, issue 13): loam θFC 25 %, chili Zr
    // 0.75 m, θ 18 %: Dr = 10 × (25 − 18) × 0.75 = 52.5 mm, rounded "~53 mm = 79.500 L".
    expect(advice.source).toBe('balance')
    const t = r.clock.now
    r.engine.onReadings([reading('soil-1', 'soil_moisture', 18, t)])
    r.clock.now = t + 3 * HOUR
    r.engine.onReadings([reading('soil-1', 'soil_moisture', 18, t + 3 * HOUR)])
    const sms = r.outbox.to(PHONE_A)[0]!
    // The SMS rounds the depth and gives the litres of that depth: N mm × 0.15 ha × 10 000 L.
    const mm = Math.round(10 * (25 - 18) * 0.75)
    expect(mm).toBe(53)
    const l = (mm * 1500).toString().replace(/\B(?=(\d{3})+(?!\d))/g, '.')
    expect(sms.text).toBe(
      `SAWAH1 kering: kelembapan tanah 18% (batas 25%). Siram ~${mm} mm = ${l} L utk 0,15 ha. Balas OK ${r.engine.listAlerts()[0]!.id}`,
    )
    expect(sms.text.length).toBeLessThanOrEqual(160)
  })

  it('a soaking rain refills the root zone: the excess drains (DP), the balance runs on from field capacity', async () => {
    const day1 = wib(2026, 7, 1)
    r = await rig(only(), { startMs: day1 })
    await seed(r, 'chili')
    for (let d = 0; d < 3; d++) {
      for (let h = 0; h < 24; h++) {
        const t = day1 + d * DAY + h * HOUR
        r.clock.now = t
        r.engine.onReadings(syntheticWeather(h, t, d === 1 && h === 16 ? 30 : 0))
      }
    }
    r.engine.tick(day1 + 3 * DAY + 2 * HOUR)
    const days = r.registry
      .database()
      .prepare("SELECT detail FROM irrigation_advice WHERE field = 'kemiren-sawah1' ORDER BY day_start_ms")
      .all()
      .map((row) => JSON.parse((row as { detail: string }).detail) as FieldAdvice)
    expect(days.map((d) => d.dayStartMs)).toEqual([day1, day1 + DAY, day1 + 2 * DAY])
    const [d1, d2, d3] = days as [FieldAdvice, FieldAdvice, FieldAdvice]
    const etc = (d: FieldAdvice) => d.kc * d.et0Mm
    expect(d1.depletionMm).toBeCloseTo(etc(d1), 9)
    // Day 2's 30 mm refill the root zone early in the day; what exceeds the depletion drains
    // (eq. 88: DP = P − Dr,i−1), and the day's ET is drawn from field capacity.
    expect(d2.rainMm).toBe(30)
    expect(d2.deepPercolationMm).toBeCloseTo(30 - d1.depletionMm, 9)
    expect(d2.depletionMm).toBeCloseTo(etc(d2), 9)
    expect(d2.days).toBe(1)
    expect(d3.days).toBe(2) // the drying run counts from the soaking day
    expect(d3.rainMm).toBe(0)
    expect(d3.depletionMm).toBeCloseTo(etc(d2) + etc(d3), 9)
    expect(r.engine.advisor.latestAdvice('kemiren-sawah1')).toEqual(d3)
  })

  it('a probe that rises by 5 % VWC within an hour saw water arrive: the balance restarts there', async () => {
    const day1 = wib(2026, 7, 1)
    r = await rig(only(), { startMs: day1 })
    await seed(r, 'chili')
    for (let d = 0; d < 3; d++) {
      for (let h = 0; h < 24; h++) {
        const t = day1 + d * DAY + h * HOUR
        r.clock.now = t
        // SAWAH2's probe (soil-2) reads 20 % until day 3, 10:00, then 27 % (watered by hand, no rain).
        const theta = d === 2 && h >= 10 ? 27 : 20
        r.engine.onReadings([...syntheticWeather(h, t), reading('soil-2', 'soil_moisture', theta, t)])
        r.engine.tick(t)
      }
    }
    r.engine.tick(day1 + 3 * DAY + 2 * HOUR)
    const water = r.engine.advisor.lastWater('kemiren-sawah2')!
    expect(water).toEqual({ atMs: day1 + 2 * DAY + 10 * HOUR, source: 'probe' })
    expect(r.engine.advisor.lastWater('kemiren-sawah1')).toBeUndefined() // no probe rise there
    const [two, one] = ['kemiren-sawah2', 'kemiren-sawah1'].map((f) => r!.engine.advisor.latestAdvice(f)!)
    expect(one!.days).toBe(3)
    expect(two!.days).toBe(1) // only day 3, from the watering on
    expect(two!.refilledAtMs).toBe(water.atMs)
  })
})

describe('the balance and the probe (FAO-56 eq. 87 and 84)', () => {
  it('a probe’s Dr replaces the day’s; once it is silent the balance carries on from it, with Ks < 1 beyond RAW, and the irrigate SMS goes', async () => {
    const day1 = wib(2026, 7, 1)
    r = await rig(
      { ...only('irrigate'), groupWaitMs: 0, quietHours: { start: '00:00', end: '00:00' } },
      { startMs: day1 },
    )
    await seed(r, 'chili')
    for (let d = 0; d < 2; d++) {
      for (let h = 0; h < 24; h++) {
        const t = day1 + d * DAY + h * HOUR
        r.clock.now = t
        // SAWAH1's probe reads 18 % through day 1, then falls silent (a flat battery).
        const probe = d === 0 ? [reading('soil-1', 'soil_moisture', 18, t)] : []
        r.engine.onReadings([...syntheticWeather(h, t), ...probe])
        r.engine.tick(t)
      }
    }
    r.clock.now = day1 + 2 * DAY + HOUR + 60_000
    r.engine.tick(r.clock.now)
    const stored = (day: number) =>
      JSON.parse(
        (
          r!.registry
            .database()
            .prepare(
              "SELECT detail FROM irrigation_advice WHERE field = 'kemiren-sawah1' AND day_start_ms = ?",
            )
            .get(day) as { detail: string }
        ).detail,
      ) as FieldAdvice
    const [d1, d2] = [stored(day1), stored(day1 + DAY)] as [FieldAdvice, FieldAdvice]
    // Day 1: the probe's Dr = 1000 (θFC − θ) Zr = 10 × (25 − 18) × 0.75 (loam, chili Zr 0.75 m).
    expect(d1.source).toBe('probe')
    expect(d1.depletionMm).toBeCloseTo(52.5, 9)
    expect(d1.balanceMm).toBeCloseTo(d1.kc * d1.et0Mm, 9) // what the balance alone had (a cold start)
    expect(d1.irrigate).toBe(true) // Dr > RAW, but a probe field is the dry rule's: no irrigate alert
    // Day 2: no probe reading; the balance goes on from the measured 52.5 mm, beyond RAW, so
    // Ks = (TAW − Dr) / ((1 − p) TAW) (eq. 84) and ETc adj = Ks Kc ET0.
    expect(d2.source).toBe('balance')
    const p = d2.rawMm / d2.tawMm
    expect(d2.tawMm).toBeCloseTo(97.5, 9)
    expect(d2.ks).toBeCloseTo((97.5 - 52.5) / ((1 - p) * 97.5), 9)
    expect(d2.ks).toBeLessThan(1)
    expect(d2.etcMm).toBeCloseTo(d2.ks * d2.kc * d2.et0Mm, 9)
    expect(d2.depletionMm).toBeCloseTo(52.5 + d2.etcMm, 9)
    expect(d2.days).toBe(2)
    // The irrigate SMS after day 2's close only (day 1 had a fresh probe), with Dr in mm and litres;
    // SAWAH2 (its probe never read: a cold-start balance far below RAW) gets none.
    const alerts = r.engine.listAlerts().filter((a) => a.rule === 'irrigate')
    expect(alerts.map((a) => [a.field, a.state])).toEqual([['kemiren-sawah1', 'firing']])
    const mm = Math.round(d2.depletionMm)
    const litres = (mm * 1500).toString().replace(/\B(?=(\d{3})+(?!\d))/g, '.')
    expect(r.outbox.to(PHONE_A).map((m) => m.text)).toEqual([
      `SAWAH1: tanah mulai kering menurut hitungan cuaca. Siram ~${mm} mm = ${litres} L utk 0,15 ha. Balas OK ${alerts[0]!.id}`,
    ])
  })

  it('no irrigate SMS for a paddy: its need is its standing water', async () => {
    const day1 = wib(2026, 7, 1)
    r = await rig(
      { ...only('irrigate'), groupWaitMs: 0, quietHours: { start: '00:00', end: '00:00' } },
      { startMs: day1 },
    )
    await seed(r, 'rice')
    // Rice on loam, Zr 0.75 m, p 0.2 (Table 22): RAW ≈ 20 mm, passed within days at ~5 mm + 3 mm percolation.
    for (let d = 0; d < 6; d++)
      for (let h = 0; h < 24; h++) {
        const t = day1 + d * DAY + h * HOUR
        r.clock.now = t
        r.engine.onReadings(syntheticWeather(h, t))
        r.engine.tick(t)
      }
    r.clock.now = day1 + 6 * DAY + HOUR + 60_000
    r.engine.tick(r.clock.now)
    const last = r.engine.advisor.latestAdvice('kemiren-sawah1')!
    expect(last.percolationMm).toBe(3)
    expect(last.irrigate).toBe(true)
    expect(r.engine.listAlerts().filter((a) => a.rule === 'irrigate')).toEqual([])
  })
})
