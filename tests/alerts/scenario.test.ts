import { afterEach, describe, expect, it } from 'vitest'
import { SoilModel, WeatherModel, WeatherStation } from '../../firmware-sim/models/index.ts'
import type { Quantity } from '../../src/telemetry/quantities.ts'
import { DAY, HOUR, MIN, only, PHONE_A, PHONE_B, type Rig, reading, rig, seed, wib } from './helpers.ts'

let r: Rig | undefined
afterEach(async () => {
  await r?.stop()
  r = undefined
})

describe('alert scenarios on simulated days', () => {
  it('a dry spell: one SMS per farmer, reminders only after the repeat interval, all clear after rain', async () => {
    const start = wib(2026, 7, 1)
    r = await rig({ ...only('dry', 'sensor'), repeatIntervalMs: 24 * HOUR }, { startMs: start })
    await seed(r, 'chili')
    const weather = new WeatherModel({ seed: 7 })
    weather.forceDrySpell(start, start + 10 * DAY)
    const rainAt = start + 10 * DAY + 14 * HOUR
    weather.forceRain(rainAt, 80, 3 * HOUR)
    const plantedAtMs = start - 60 * DAY
    const soil1 = new SoilModel({ weather, crop: 'chili', plantedAtMs, startMs: start, seed: 3 })
    // SAWAH2 is irrigated whenever it gets dry: it must never alert.
    const soil2 = new SoilModel({
      weather,
      crop: 'chili',
      plantedAtMs,
      startMs: start,
      seed: 4,
      autoIrrigation: { belowVwcPct: 27, mm: 15 },
    })
    const station = new WeatherStation({ weather, startMs: start })
    const rd = (device: string, t: number) => (x: { quantity: string; value: number }) =>
      reading(device, x.quantity as Quantity, x.value, t)
    for (let t = start + 30 * MIN; t <= start + 13 * DAY; t += 30 * MIN) {
      r.clock.now = t
      r.engine.onReadings([
        ...soil1.step(t).map(rd('soil-1', t)),
        ...soil2.step(t).map(rd('soil-2', t)),
        ...station.step(t).map(rd('wx-1', t)),
      ])
      r.engine.tick(t)
    }
    const alerts = r.engine.listAlerts()
    const dry = alerts.filter((a) => a.rule === 'dry')
    expect(dry).toHaveLength(1)
    const [alert] = dry as [(typeof dry)[number]]
    expect(alert.field).toBe('kemiren-sawah1')
    expect(alert.state).toBe('resolved')
    expect(alert.resolvedAtMs!).toBeGreaterThan(rainAt)
    // No sensor alerts from healthy nodes.
    expect(alerts.filter((a) => a.category === 'sensor')).toHaveLength(0)

    for (const phone of [PHONE_A, PHONE_B]) {
      const msgs = r.outbox.to(phone)
      const firing = msgs.filter((m) => m.text.includes('kering:'))
      const reminders = firing.filter((m) => m.text.startsWith('Pengingat'))
      const first = firing.filter((m) => !m.text.startsWith('Pengingat'))
      expect(first).toHaveLength(1)
      expect(first[0]!.text).toMatch(/^SAWAH1 kering: kelembapan tanah \d+% \(batas 25%\)\..* Balas OK \d+$/)
      // Reminders: one per full repeat interval while firing and unacknowledged, no sooner.
      const firingFor = alert.resolvedAtMs! - alert.firedAtMs!
      expect(reminders.length).toBeGreaterThanOrEqual(Math.floor(firingFor / (24 * HOUR)) - 1)
      expect(reminders.length).toBeLessThanOrEqual(Math.floor(firingFor / (24 * HOUR)))
      const times = firing.map((m) => m.enqueuedAtMs)
      for (let i = 1; i < times.length; i++)
        expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(24 * HOUR)
      const clear = msgs.filter((m) => m.text.includes('sudah normal'))
      expect(clear).toHaveLength(1)
      expect(clear[0]!.text).toBe(`SAWAH1 sudah normal, tidak kering lagi (#${alert.id}).`)
      expect(clear[0]!.enqueuedAtMs).toBeGreaterThan(rainAt)
      expect(msgs).toHaveLength(firing.length + 1)
    }
    expect(r.outbox.duplicates).toBe(0)
  })

  it('moisture flapping around the threshold does not make an SMS storm', async () => {
    const start = wib(2026, 7, 1, 8)
    r = await rig({ ...only('dry'), groupWaitMs: 0 }, { startMs: start })
    await seed(r)
    // 3 days, a reading every 10 min, swinging 23–27 %VWC around the 25 % threshold every hour.
    let t = start
    for (let i = 0; i < 3 * 144; i++) {
      t = start + i * 10 * MIN
      r.clock.now = t
      const value = 25 + 2 * Math.sin((2 * Math.PI * i) / 6)
      r.engine.onReadings([reading('soil-1', 'soil_moisture', value, t)])
      r.engine.tick(t)
    }
    // Each dip below 25 % lasts under an hour, never the 2 h the rule asks for: pending alerts are
    // opened and dropped (Prometheus `for`), nothing fires, nothing is sent.
    expect(r.outbox.messages).toHaveLength(0)
    expect(r.engine.listAlerts({ state: 'firing' })).toHaveLength(0)
    // Now flapping with longer dips (3 h below, 3 h at 26.5 %): fires once, never resolves.
    for (let i = 1; i <= 3 * 144; i++) {
      const tt = t + i * 10 * MIN
      r.clock.now = tt
      const value = Math.floor(i / 18) % 2 === 0 ? 23.5 : 26.5
      r.engine.onReadings([reading('soil-1', 'soil_moisture', value, tt)])
      r.engine.tick(tt)
    }
    const dry = r.engine.listAlerts().filter((a) => a.rule === 'dry')
    expect(dry).toHaveLength(1)
    expect(dry[0]!.state).toBe('firing')
    // Hysteresis: 26.5 % is not back to 28 %, so it stays one firing alert for the 72 h. The
    // farmer gets the first SMS (2 h into the first dip) and a reminder every 12 h: 1 + 5, not one
    // per dip (12 dips) or one per reading.
    const a = r.outbox.to(PHONE_A)
    expect(a).toHaveLength(6)
    expect(a.filter((m) => m.text.startsWith('Pengingat'))).toHaveLength(5)
  })

  it('02:00 WIB: a non-critical alert waits for 06:00 (notBeforeMs); a critical one goes at once', async () => {
    const t0 = wib(2026, 7, 2, 1, 50)
    r = await rig(
      {
        ...only('dry', 'heavyRain'),
        groupWaitMs: 0,
        rules: {
          ...only('dry', 'heavyRain').rules,
          crops: { chili: { dry: { thresholdPct: 25, forMs: 0 } } },
        },
      },
      { startMs: t0 },
    )
    await seed(r)
    const t = wib(2026, 7, 2, 2, 0)
    r.clock.now = t
    r.engine.onReadings([reading('soil-1', 'soil_moisture', 18, t)])
    const [dry] = r.outbox.to(PHONE_A)
    expect(dry!.text).toMatch(/^SAWAH1 kering/)
    expect(dry!.notBeforeMs).toBe(wib(2026, 7, 2, 6, 0))
    expect(dry!.critical).toBe(false)
    // 60 mm in the hour: heavy rain, critical by default.
    const t2 = t + 5 * MIN
    r.clock.now = t2
    r.engine.onReadings([reading('wx-1', 'rainfall', 60, t2)])
    r.engine.tick(t2)
    const rain = r.outbox.to(PHONE_A).filter((m) => m.text.includes('hujan lebat'))
    expect(rain).toHaveLength(1)
    expect(rain[0]!.notBeforeMs).toBeUndefined()
    expect(rain[0]!.critical).toBe(true)
    expect(rain[0]!.enqueuedAtMs).toBe(t2)
  })

  it('two near-simultaneous batches crossing the threshold open one alert (two engines, one database)', async () => {
    const t0 = wib(2026, 7, 2, 9)
    r = await rig(
      {
        ...only('dry'),
        groupWaitMs: 0,
        rules: { crops: { chili: { dry: { thresholdPct: 25, forMs: 0 } } } },
      },
      { startMs: t0 },
    )
    await seed(r)
    const other = await r.second()
    // Both engines see a crossing at almost the same time, interleaved.
    await Promise.all([
      Promise.resolve().then(() => r!.engine.onReadings([reading('soil-1', 'soil_moisture', 20, t0)])),
      Promise.resolve().then(() =>
        other.engine.onReadings([reading('soil-1', 'soil_moisture', 19.5, t0 + 1)]),
      ),
      Promise.resolve().then(() => r!.engine.onReadings([reading('soil-1', 'soil_moisture', 19, t0 + 2)])),
    ])
    const dry = r.engine.listAlerts().filter((a) => a.rule === 'dry')
    expect(dry).toHaveLength(1)
    expect(dry[0]!.state).toBe('firing')
    expect(r.outbox.to(PHONE_A)).toHaveLength(1)
    expect(r.outbox.to(PHONE_B)).toHaveLength(1)
  })

  it('a restart mid-alert sends nothing twice and carries on (repeat, then all clear)', async () => {
    const t0 = wib(2026, 7, 2, 9)
    r = await rig({ ...only('dry'), groupWaitMs: 0 }, { startMs: t0 })
    await seed(r)
    for (let i = 0; i <= 18; i++) {
      const t = t0 + i * 10 * MIN
      r.clock.now = t
      r.engine.onReadings([reading('soil-1', 'soil_moisture', 20, t)])
      r.engine.tick(t)
    }
    const before = r.engine.listAlerts()
    expect(before).toHaveLength(1)
    expect(before[0]!.state).toBe('firing')
    expect(r.outbox.to(PHONE_A)).toHaveLength(1)
    // A message was written but the process died before handing it to the outbox.
    r.registry
      .database()
      .prepare(
        `INSERT INTO alert_messages (key, recipient, phone, text, critical, not_before_ms, alerts, created_at_ms)
         VALUES ('test-unsent', 'farmer:pak-budi', ?, 'x', 0, NULL, '[]', ?)`,
      )
      .run(PHONE_A, r.clock.now)
    await r.restart()
    await r.restart()
    expect(r.outbox.messages.filter((m) => m.key === 'test-unsent')).toHaveLength(1)
    for (let i = 1; i <= 6 * 6; i++) {
      const t = t0 + 3 * HOUR + i * 10 * MIN
      r.clock.now = t
      r.engine.onReadings([reading('soil-1', 'soil_moisture', 20, t)])
      r.engine.tick(t)
    }
    expect(r.engine.listAlerts()).toHaveLength(1)
    // Still firing, no new alert and no second SMS before the repeat interval.
    expect(r.outbox.to(PHONE_A).filter((m) => m.text.includes('kering:'))).toHaveLength(1)
    await r.restart()
    const t = t0 + 15 * HOUR
    r.clock.now = t
    r.engine.onReadings([reading('soil-1', 'soil_moisture', 20, t)])
    r.engine.tick(t)
    expect(r.outbox.to(PHONE_A).filter((m) => m.text.startsWith('Pengingat'))).toHaveLength(1)
    await r.restart()
    r.clock.now = t + HOUR
    r.engine.onReadings([reading('soil-1', 'soil_moisture', 31, t + HOUR)])
    r.engine.tick(t + HOUR)
    expect(r.outbox.to(PHONE_A).filter((m) => m.text.includes('sudah normal'))).toHaveLength(1)
    expect(r.engine.listAlerts()[0]!.state).toBe('resolved')
    // Every message's key is unique and nothing was handed twice.
    expect(r.outbox.duplicates).toBe(0)
  })
})
