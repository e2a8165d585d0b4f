import { afterEach, describe, expect, it } from 'vitest'
import { SimNode, SoilModel, WeatherModel } from '../../firmware-sim/models/index.ts'
import type { Quantity } from '../../src/telemetry/quantities.ts'
import { DAY, HOUR, MIN, only, PHONE_A, type Rig, reading, rig, seed, wib } from './helpers.ts'

let r: Rig | undefined
afterEach(async () => {
  await r?.stop()
  r = undefined
})

describe('sensor health from the simulator’s faults', () => {
  it('a stuck probe, a declining battery, then silence: stuck, battery low, offline (held alerts once offline)', async () => {
    const start = wib(2026, 7, 1)
    r = await rig({ ...only('sensor'), groupWaitMs: 0 }, { startMs: start })
    await seed(r)
    const weather = new WeatherModel({ seed: 11 })
    const node = new SimNode({
      model: new SoilModel({
        weather,
        crop: 'chili',
        plantedAtMs: start - 60 * DAY,
        startMs: start,
        seed: 5,
      }),
      seed: 5,
      faults: [
        { kind: 'stuck', fromMs: start + 6 * HOUR, quantity: 'soil_moisture' },
        { kind: 'battery_decline', fromMs: start, voltsPerDay: 0.4, brownOutV: 3.3 },
      ],
    })
    const events: Array<{ rule: string; atMs: number }> = []
    let lastSent = start
    for (let t = start + 10 * MIN; t <= start + 4 * DAY; t += 10 * MIN) {
      const s = node.sample(t)
      r.clock.now = t
      if (s) {
        lastSent = t
        r.engine.onReadings(
          s.readings.map((x) => reading('soil-1', x.quantity as Quantity, x.value, s.timeMs ?? t)),
        )
      }
      r.engine.tick(t)
    }
    for (const a of r.engine.listAlerts()) events.push({ rule: a.rule, atMs: a.firedAtMs ?? 0 })
    const byRule = Object.fromEntries(events.map((e) => [e.rule, e.atMs]))
    // Stuck: 6 h of identical values (the fault freezes the value of 05:50, the last reading before
    // it), checked every 10 min of readings.
    expect(byRule.stuck).toBeGreaterThanOrEqual(start + 11 * HOUR + 50 * MIN)
    expect(byRule.stuck).toBeLessThanOrEqual(start + 12 * HOUR + 20 * MIN)
    // Battery below 3.5 V for 30 min, before the brown-out silences the node; then offline 1 h later.
    expect(byRule.battery_low).toBeLessThan(lastSent)
    expect(byRule.device_offline).toBeGreaterThanOrEqual(lastSent + HOUR)
    expect(byRule.device_offline).toBeLessThanOrEqual(lastSent + HOUR + 10 * MIN)
    // The farmer heard about each once, then a reminder every 12 h while unacknowledged.
    const texts = r.outbox.to(PHONE_A).map((m) => m.text)
    expect(texts.filter((t) => /macet/.test(t) && !t.startsWith('Pengingat')).length).toBe(1)
    expect(texts.filter((t) => /baterai soil-1 lemah/.test(t) && !t.startsWith('Pengingat')).length).toBe(1)
    expect(texts.filter((t) => /tdk kirim data/.test(t) && !t.startsWith('Pengingat'))).toHaveLength(1)
    // While the node is offline its stuck and battery alerts are held: no reminder after offline.
    const offlineAt = byRule.device_offline!
    const after = r.outbox.to(PHONE_A).filter((m) => m.enqueuedAtMs > offlineAt)
    expect(after.length).toBeGreaterThan(0)
    expect(after.every((m) => !/macet|lemah/.test(m.text))).toBe(true)
  })
})
