import { afterEach, describe, expect, it } from 'vitest'
import { MIN, only, type Rig, reading, rig, seed, wib } from './helpers.ts'

let r: Rig | undefined
afterEach(async () => {
  await r?.stop()
  r = undefined
})

const rowOf = (x: Rig, device: string) =>
  (
    x.registry.database().prepare('SELECT last_ms FROM device_seen WHERE device = ?').get(device) as
      | { last_ms: number }
      | undefined
  )?.last_ms

/**
 * A device's last-seen row is written when it is first seen, then only every 10 min of its
 * readings (offlineAfterMs / 6 at most) and at stop; the tick and the map read memory over it.
 */
describe('last seen (device_seen)', () => {
  const t0 = wib(2026, 7, 2, 9)

  it('is written at first, then every 10 min of readings; the tick, the map and a restart see the newest', async () => {
    r = await rig(only('sensor'), { startMs: t0 })
    await seed(r)
    r.engine.onReadings([reading('soil-1', 'soil_moisture', 30, t0)])
    expect(rowOf(r, 'soil-1')).toBe(t0)
    for (let m = 1; m <= 9; m++) r.engine.onReadings([reading('soil-1', 'soil_moisture', 30, t0 + m * MIN)])
    expect(rowOf(r, 'soil-1')).toBe(t0) // not written for each report
    expect(r.engine.devicesLastSeenMs().get('soil-1')).toBe(t0 + 9 * MIN) // memory over the row
    r.engine.onReadings([reading('soil-1', 'soil_moisture', 30, t0 + 10 * MIN)])
    expect(rowOf(r, 'soil-1')).toBe(t0 + 10 * MIN)
    r.engine.onReadings([reading('soil-1', 'soil_moisture', 30, t0 + 12 * MIN)])
    // The tick judges offline from the newest reading, not the row: 60 min after t0 + 10 min it
    // is still online, 60 min after t0 + 12 min it is offline.
    r.engine.tick(t0 + 71 * MIN)
    expect(r.engine.listAlerts({ state: 'firing' }).filter((a) => a.rule === 'device_offline')).toEqual([])
    await r.restart() // stop writes what memory held
    expect(rowOf(r, 'soil-1')).toBe(t0 + 12 * MIN)
    r.engine.tick(t0 + 71 * MIN)
    expect(r.engine.listAlerts({ state: 'firing' }).filter((a) => a.rule === 'device_offline')).toEqual([])
    r.engine.tick(t0 + 72 * MIN)
    const [offline] = r.engine.listAlerts({ state: 'firing' }).filter((a) => a.rule === 'device_offline')
    expect(offline).toMatchObject({ device: 'soil-1', value: t0 + 12 * MIN })
  })

  it("is read at start with the history: after a restart a known node's report is no write of its own", async () => {
    r = await rig(only('sensor'), { startMs: t0 })
    await seed(r)
    r.engine.onReadings([reading('soil-1', 'soil_moisture', 30, t0)])
    await r.restart()
    // Both were read by start(): with the journal emptied behind its back, the history is still there.
    r.registry.database().prepare('DELETE FROM alert_history').run()
    expect(r.engine.historySize('soil-1', 'soil_moisture')).toBe(1)
    r.engine.onReadings([reading('soil-1', 'soil_moisture', 30, t0 + MIN)])
    expect(rowOf(r, 'soil-1')).toBe(t0) // the row read at start holds it: not written again
    expect(r.engine.devicesLastSeenMs().get('soil-1')).toBe(t0 + MIN)
    r.engine.onReadings([reading('soil-1', 'soil_moisture', 30, t0 + 10 * MIN)])
    expect(rowOf(r, 'soil-1')).toBe(t0 + 10 * MIN) // every 10 min of readings, as before the restart
    // A device the row does not know is written at its first report, as before.
    r.engine.onReadings([reading('wx-1', 'air_temperature', 27, t0 + 10 * MIN)])
    expect(rowOf(r, 'wx-1')).toBe(t0 + 10 * MIN)
  })

  it('is written at once when a device moves to another village', async () => {
    r = await rig(only('sensor'), { startMs: t0 })
    await seed(r)
    r.registry.addVillage({ id: 'olehsari', name: 'Olehsari' })
    r.engine.onReadings([reading('soil-1', 'soil_moisture', 30, t0)])
    r.engine.onReadings([reading('soil-1', 'soil_moisture', 30, t0 + MIN, 'olehsari')])
    const row = r.registry
      .database()
      .prepare('SELECT village, last_ms FROM device_seen WHERE device = ?')
      .get('soil-1') as { village: string; last_ms: number }
    expect(row).toEqual({ village: 'olehsari', last_ms: t0 + MIN })
  })
})
