import { afterEach, describe, expect, it } from 'vitest'
import { timeSlices } from '../../src/alerts/engine.ts'
import { MIN, only, PHONE_A, type Rig, reading, rig, seed, wib } from './helpers.ts'

let r: Rig | undefined
afterEach(async () => {
  await r?.stop()
  r = undefined
})

/**
 * A gateway that was cut off stores its nodes' reports and sends them all at once when its link
 * returns; a state worker restarted after an outage gets its session's backlog in one batch. The
 * rules must see that backlog in device time: a field dry for 38 minutes of readings is dry for
 * 38 minutes, not since the batch's last reading.
 */
describe('a backlog of readings arriving in one batch', () => {
  const t0 = wib(2026, 7, 2, 9)
  // soil-1 wet twice, then dry, every 2 min for 38 min (20 readings), as a gateway forwards them
  const backlog = Array.from({ length: 20 }, (_, i) =>
    reading('soil-1', 'soil_moisture', i < 2 ? 31 : 18, t0 + i * 2 * MIN),
  )

  it('is evaluated in device time: dry for 20 min fires within the batch, started at the first dry reading', async () => {
    r = await rig(
      { groupWaitMs: 0, rules: { ...only('dry').rules, crops: { chili: { dry: { forMs: 20 * MIN } } } } },
      { startMs: t0 + 40 * MIN },
    )
    await seed(r)
    r.engine.onReadings(backlog)
    r.engine.tick(t0 + 40 * MIN)
    const [alert, ...rest] = r.engine.listAlerts()
    expect(rest).toEqual([])
    expect(alert).toMatchObject({ rule: 'dry', field: 'kemiren-sawah1', state: 'firing' })
    expect(alert!.startedAtMs).toBe(t0 + 4 * MIN)
    expect(alert!.firedAtMs).toBe(t0 + 24 * MIN) // the first reading 20 min after it began
    expect(r.outbox.to(PHONE_A)).toHaveLength(1)
  })

  it('the same readings one by one give the same alert (the batch changes nothing)', async () => {
    r = await rig(
      { groupWaitMs: 0, rules: { ...only('dry').rules, crops: { chili: { dry: { forMs: 20 * MIN } } } } },
      { startMs: t0 },
    )
    await seed(r)
    for (const x of backlog) {
      r.clock.now = x.timeMs
      r.engine.onReadings([x])
    }
    const [alert] = r.engine.listAlerts()
    expect(alert).toMatchObject({ state: 'firing', startedAtMs: t0 + 4 * MIN, firedAtMs: t0 + 24 * MIN })
  })

  it('slices: each node’s latest reports stay one slice; a backlog is one slice per report, in time order', () => {
    const live = [reading('soil-1', 'soil_moisture', 20, t0 + 5), reading('soil-2', 'soil_moisture', 20, t0)]
    expect(timeSlices(live)).toEqual([live])
    const mixed = [...backlog.slice(0, 3)].reverse().concat(live[1]!)
    expect(timeSlices(mixed).map((s) => s.map((x) => `${x.device}@${(x.timeMs - t0) / MIN}`))).toEqual([
      ['soil-1@0', 'soil-2@0'],
      ['soil-1@2'],
      ['soil-1@4'],
    ])
  })

  it('slices: a node’s two reports in one batch are two slices, adjacent or not, whatever else it sent', () => {
    const at = (device: string, quantity: 'soil_moisture' | 'battery_voltage', min: number) =>
      reading(device, quantity, quantity === 'soil_moisture' ? 20 : 3.9, t0 + min * MIN)
    const label = (slices: ReturnType<typeof timeSlices>) =>
      slices.map((s) => s.map((x) => `${x.device}:${x.quantity[0]}@${(x.timeMs - t0) / MIN}`))
    // One report of two readings, then the next report right after it (adjacent, same device).
    const adjacent = [at('soil-1', 'soil_moisture', 0), at('soil-1', 'battery_voltage', 0)]
    adjacent.push(at('soil-1', 'soil_moisture', 1), at('soil-1', 'battery_voltage', 1))
    expect(label(timeSlices(adjacent))).toEqual([
      ['soil-1:s@0', 'soil-1:b@0'],
      ['soil-1:s@1', 'soil-1:b@1'],
    ])
    // Another node between the two reports.
    const apart = [adjacent[0]!, adjacent[1]!, at('soil-2', 'soil_moisture', 0), adjacent[2]!, adjacent[3]!]
    expect(label(timeSlices(apart))).toEqual([
      ['soil-1:s@0', 'soil-1:b@0', 'soil-2:s@0'],
      ['soil-1:s@1', 'soil-1:b@1'],
    ])
    // Readings of different series at different times: each series once, one slice.
    const different = [at('soil-1', 'soil_moisture', 0), at('soil-1', 'battery_voltage', 1)]
    expect(timeSlices(different)).toEqual([different])
    // A long message of distinct series is one slice, kept in its order.
    const long = Array.from({ length: 40 }, (_, i) => ({
      ...at('soil-1', 'soil_moisture', 0),
      sensor: `p${i}`,
    }))
    expect(timeSlices(long)).toEqual([long])
  })
})
