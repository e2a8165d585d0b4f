import { afterEach, describe, expect, it } from 'vitest'
import { fieldMoistureRule } from '../../src/alerts/rules/index.ts'
import { HOUR, MIN, only, PHONE_A, type Rig, reading, rig, seed, wib } from './helpers.ts'

let r: Rig | undefined
afterEach(async () => {
  await r?.stop()
  r = undefined
})

function at(rg: Rig, t: number, ...rs: ReturnType<typeof reading>[]): void {
  rg.clock.now = t
  if (rs.length) rg.engine.onReadings(rs)
  rg.engine.tick(t)
}

const firing = (rg: Rig) =>
  rg.engine
    .listAlerts({ state: 'firing' })
    .map((a) => `${a.rule}:${a.subject}`)
    .sort()

describe('rules', () => {
  it('rice at flowering (mid stage) is critical; in the initial stage a warning', async () => {
    const t0 = wib(2026, 7, 2, 9)
    r = await rig(
      { groupWaitMs: 0, rules: { ...only('dry').rules, crops: { rice: { dry: { forMs: 0 } } } } },
      { startMs: t0 },
    )
    await seed(r, 'rice') // planted 60 days ago: mid season of a 115-day variety (days 46–91)
    r.registry
      .database()
      .prepare("UPDATE fields SET planted_at_ms = ? WHERE id = 'kemiren-sawah2'")
      .run(t0 - 5 * 86_400_000)
    // Issue 13: the threshold follows from the soil (loam θFC 25, θWP 12, rice p 0.20 → 22,4 %),
    // no longer the fixed 38 % of the simulator's loam; 20 % is dry.
    at(r, t0, reading('soil-1', 'soil_moisture', 20, t0), reading('soil-2', 'soil_moisture', 20, t0))
    const bySubject = Object.fromEntries(r.engine.listAlerts().map((a) => [a.field, a.severity]))
    expect(bySubject).toEqual({ 'kemiren-sawah1': 'critical', 'kemiren-sawah2': 'warning' })
    expect(r.outbox.to(PHONE_A)[0]!.critical).toBe(true)
  })

  it('waterlogged, moisture drop, heat stress and disease risk', async () => {
    const t0 = wib(2026, 7, 2, 0)
    r = await rig({ ...only('waterlogged', 'drop', 'heat', 'disease'), groupWaitMs: 0 }, { startMs: t0 })
    await seed(r)
    // 24 h of humid nights: RH 95 % at 24 °C from 00:00 to 13:00, then dry and hot (36 °C) afternoon.
    for (let m = 0; m <= 16 * 60; m += 30) {
      const t = t0 + m * MIN
      const humid = m < 13 * 60
      at(
        r,
        t,
        reading('wx-1', 'relative_humidity', humid ? 95 : 50, t),
        reading('wx-1', 'air_temperature', humid ? 24 : 36, t),
        reading('soil-1', 'soil_moisture', m < 10 * 60 ? 41 : 30, t), // waterlogged until 10:00, then a drop
        reading('soil-2', 'soil_moisture', 30, t),
      )
      if (m === 10 * 60) expect(firing(r)).toContain('moisture_drop:field:kemiren-sawah1') // 41 → 30 in an hour
      if (m === 12 * 60 + 30) {
        // 12.5 h humid at 24 °C: one humid night is no disease risk (issue 13: the published model
        // needs a week of conducive days, and only for rice); the drop is an hour old: resolved.
        expect(firing(r)).toEqual([])
      }
    }
    // Waterlogged needed 6 h above 38 % (00:00–06:00 → fired), resolved at 30 % ≤ 35 %.
    const wet = r.engine.listAlerts().find((a) => a.rule === 'waterlogged')!
    expect(wet.firedAtMs).toBe(t0 + 6 * HOUR)
    expect(wet.state).toBe('resolved')
    // Heat: above 35 °C from 13:00; 2 h later it fires.
    const heat = r.engine.listAlerts().filter((a) => a.rule === 'heat_stress')
    expect(heat).toHaveLength(2)
    expect(heat.every((a) => a.state === 'firing' && a.firedAtMs === t0 + 15 * HOUR)).toBe(true)
    expect(r.outbox.to(PHONE_A).some((m) => /SAWAH1 panas: suhu 36,0 C \(batas 35 C\)/.test(m.text))).toBe(
      true,
    )
  })

  it('sensor health: stuck value, implausible value, battery low; a node silent for an hour is offline', async () => {
    const t0 = wib(2026, 7, 2, 8)
    r = await rig({ ...only('sensor'), groupWaitMs: 0 }, { startMs: t0 })
    await seed(r)
    for (let m = 0; m <= 7 * 60; m += 30) {
      const t = t0 + m * MIN
      at(
        r,
        t,
        reading('soil-1', 'soil_moisture', 27.3, t), // frozen
        reading('soil-2', 'soil_moisture', m >= 60 ? 0.5 : 28 + (m % 60) / 100, t), // out of the soil after 1 h
        reading('soil-2', 'battery_voltage', 3.4, t),
      )
    }
    expect(firing(r)).toEqual([
      'battery_low:device:soil-2',
      'out_of_range:device:soil-2:soil_moisture',
      'stuck:device:soil-1:soil_moisture',
      'stuck:device:soil-2:soil_moisture', // 0.5 for 6 h: stuck as well as implausible
    ])
    const stuck = r.engine
      .listAlerts()
      .find((a) => a.subject === 'device:soil-1:soil_moisture' && a.rule === 'stuck')!
    expect(stuck.firedAtMs).toBe(t0 + 6 * HOUR)
    // soil-1 moves again: stuck resolves. soil-2 goes silent: offline after 60 min.
    const t1 = t0 + 7 * HOUR + 30 * MIN
    at(r, t1, reading('soil-1', 'soil_moisture', 27.9, t1))
    at(r, t0 + 8 * HOUR + 5 * MIN)
    expect(firing(r)).toEqual([
      'battery_low:device:soil-2',
      'device_offline:device:soil-2',
      'out_of_range:device:soil-2:soil_moisture',
      'stuck:device:soil-2:soil_moisture',
    ])
    // Inhibition: soil-2 is offline, so its other sensor alerts are held; Bu Sri (SAWAH2) was told
    // about them before it went silent, and now only about the node being offline.
    const sri = r.outbox.to('+6281200000002').map((m) => m.text)
    expect(sri.at(-1)).toMatch(
      /^SAWAH2: sensor soil-2 tdk kirim data sejak 15.00\. Cek baterai\/alat\. Balas OK \d+$/,
    )
  })
  it('a node reporting every 10 s: one history row a minute per series, rain carried, the rules still hold', async () => {
    const t0 = wib(2026, 7, 2, 8)
    r = await rig({ ...only('sensor', 'heavyRain', 'heat'), groupWaitMs: 0 }, { startMs: t0 })
    await seed(r)
    const every = 10_000
    let rainFiredAt: number | undefined
    for (let t = t0; t <= t0 + 6 * HOUR + 10 * MIN; t += every) {
      at(
        r,
        t,
        reading('soil-1', 'soil_moisture', 27.3, t), // frozen
        reading('soil-2', 'soil_moisture', 28 + ((t - t0) % 7), t), // alive
        reading('wx-1', 'rainfall', 0.5, t), // 0.5 mm every 10 s: 50 mm after 100 readings
        // hot for one reading of every six: what the rule sees is the newest, not a kept row
        reading('wx-1', 'air_temperature', (t - t0) % MIN === 30_000 ? 40 : 30, t),
      )
      if ((t - t0) % MIN === 30_000) expect(r.engine.villageWeather('kemiren', t).airTemperatureC).toBe(40)
      if ((t - t0) % MIN === 40_000) expect(r.engine.villageWeather('kemiren', t).airTemperatureC).toBe(30)
      if (rainFiredAt === undefined && firing(r).some((a) => a.startsWith('heavy_rain'))) rainFiredAt = t
    }
    const rows = (device: string, quantity: string) => r!.engine.historySize(device, quantity)
    const minutes = 6 * 60 + 10
    expect(rows('soil-1', 'soil_moisture')).toBe(minutes + 1)
    expect(rows('wx-1', 'rainfall')).toBe(minutes + 1)
    // Every reading's rain counts, in a row or carried: the 100th (at 16:30, between two kept
    // rows) brings it to 50 mm; the last reading is on a minute, so its row carries the rest.
    expect(rainFiredAt).toBe(t0 + 99 * every)
    const end = t0 + 6 * HOUR + 10 * MIN
    expect(r.engine.villageWeather('kemiren', end).rainMm).toBe((minutes * 6 + 1) * 0.5)
    expect(firing(r)).toContain('stuck:device:soil-1:soil_moisture')
    expect(firing(r)).not.toContain('stuck:device:soil-2:soil_moisture')
    // The history is journalled per batch: a restart (or a crash after the batch) remembers it all,
    // the rain in the kept rows included (the last reading is on a minute: nothing was carried).
    const window = r.engine.window('soil-2', 'soil_moisture', t0, end)
    await r.restart()
    expect(rows('soil-1', 'soil_moisture')).toBe(minutes + 1)
    expect(rows('wx-1', 'rainfall')).toBe(minutes + 1)
    expect(r.engine.window('soil-2', 'soil_moisture', t0, end)).toEqual(window)
    expect(r.engine.villageWeather('kemiren', end).rainMm).toBe((minutes * 6 + 1) * 0.5)
    expect(r.engine.villageWeather('kemiren', end).airTemperatureC).toBe(30)
    // The node stays stuck after the restart: the evidence before the window is remembered too.
    at(r, end + MIN, reading('soil-1', 'soil_moisture', 27.3, end + MIN))
    expect(firing(r)).toContain('stuck:device:soil-1:soil_moisture')
    // History is committed with synchronous = NORMAL; the registry is left at its FULL afterwards.
    expect(r.registry.database().pragma('synchronous', { simple: true })).toBe(2)
  })

  it('the history keeps each quantity as long as a rule looks back on it, the newest always, across restarts', async () => {
    const t0 = wib(2026, 7, 2, 8)
    r = await rig({ ...only('sensor', 'heavyRain', 'drop') }, { startMs: t0 })
    await seed(r)
    const step = 10 * MIN
    const end = t0 + 9 * HOUR
    for (let t = t0; t <= end; t += step)
      at(
        r,
        t,
        reading('soil-1', 'soil_moisture', 30 + ((t - t0) % 3), t),
        reading('wx-1', 'rainfall', 0.1, t),
        reading('wx-1', 'relative_humidity', 80 + (((t - t0) / step) % 10), t),
      )
    const kept = (device: string, quantity: string) => r!.engine.historySize(device, quantity)
    // Pruned every 10 min (the last at `end`): soil moisture for the stuck window (6 h + 1 h),
    // rain for the heavy-rain window (24 h), relative humidity (no rule looks back) its newest only.
    const soil = kept('soil-1', 'soil_moisture')
    expect(soil).toBe(7 * 6 + 1)
    expect(kept('wx-1', 'rainfall')).toBe(9 * 6 + 1)
    expect(kept('wx-1', 'relative_humidity')).toBe(1)
    const rh = r.engine.latest('wx-1', 'relative_humidity')
    expect(rh).toEqual({ value: 80 + (((end - t0) / step) % 10), timeMs: end })
    await r.restart()
    // the journal was compacted into one row of what is kept; a restart replays exactly that
    expect(
      (r.registry.database().prepare('SELECT count(*) AS n FROM alert_history').get() as { n: number }).n,
    ).toBe(1)
    expect(kept('soil-1', 'soil_moisture')).toBe(soil)
    expect(kept('wx-1', 'rainfall')).toBe(9 * 6 + 1)
    expect(r.engine.latest('wx-1', 'relative_humidity')).toEqual(rh)
    expect(r.engine.villageWeather('kemiren', end).rainMm).toBeCloseTo(0.1 * (9 * 6 + 1), 9)
  })

  it('a field’s dry threshold: its own, else the crop’s, else its soil with p adjusted for its ETc (FAO-56 p. 162)', async () => {
    const t0 = wib(2026, 7, 2, 9)
    r = await rig({}, { startMs: t0 })
    await seed(r, 'maize')
    const d = () => r!.engine.directory
    const field = () => d().getField('kemiren-sawah1')!
    const threshold = () => fieldMoistureRule(r!.engine, field(), 'dry', t0)
    // Loam (the district default) known by its class alone: θFC 20–30 %, θWP 7–17 % (Table 19).
    // The narrow-end band θFC − θWP at q = 5 % of two uniforms 10 wide: 3 + 10·√(2·0.05) (the
    // triangular tail), so 25 − 0.55 × 6.16 = 21.61 % with Table 22's p (FAO-56 mid-range: 17.85).
    const band = 3 + 10 * Math.sqrt(0.1)
    expect(threshold()).toMatchObject({ source: 'soil', p: 0.55, fcRefPct: 25 })
    expect(threshold().thresholdPct).toBeCloseTo(25 - 0.55 * band, 6)
    // Yesterday's advice says the maize used 8 mm/day: p = 0.55 + 0.04 × (5 − 8) = 0.43 (no lead
    // by default: dryMargin.leadMs 0; tests/alerts/probe-fc.test.ts covers a configured one).
    r.registry
      .database()
      .prepare('INSERT INTO irrigation_advice (field, day_start_ms, detail) VALUES (?, ?, ?)')
      .run('kemiren-sawah1', wib(2026, 7, 1), JSON.stringify({ dayStartMs: wib(2026, 7, 1), etcMmPerDay: 8 }))
    await r.restart() // a process reads a field's advice once per day close

    expect(threshold().p).toBeCloseTo(0.43, 12)
    expect(threshold().thresholdPct).toBeCloseTo(25 - 0.43 * band, 6)
    // The field's own measured soil (no class range: FAO-56's θFC − p (θFC − θWP)), then its own threshold, win.
    d().updateField('kemiren-sawah1', { soil: { fcPct: 30, wpPct: 14, p: 0.5 } })
    expect(threshold()).toMatchObject({ source: 'soil', p: 0.5 })
    expect(threshold().thresholdPct).toBeCloseTo(22, 10)
    d().updateField('kemiren-sawah1', { thresholds: { dryPct: 20 } })
    expect(threshold()).toMatchObject({ source: 'field', thresholdPct: 20 })
  })
})
