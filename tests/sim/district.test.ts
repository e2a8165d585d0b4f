import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { boardDriver } from '../../firmware-sim/board-driver.ts'
import { buildDistrict } from '../../firmware-sim/district.ts'
import { Fleet, provisionDistrict } from '../../firmware-sim/fleet.ts'
import type { Reading } from '../../src/telemetry/reading.ts'
import { startApp, type TestApp } from '../harness/app.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { influxQuery } from '../harness/influxql.ts'

const DAY = 86_400_000
const WIB = 7 * 3_600_000

/**
 * A seeded 30-simulated-day run of one village: models → johnny-five firmware on mock Firmata
 * boards → village gateway → broker → ingest → InfluxDB.
 */
describe('simulated district, 30 days, through the real broker into the real InfluxDB', () => {
  let influx: InfluxdHandle
  let t: TestApp
  // Midnight in Banyuwangi 31 days ago, so the run ends in the past (the ingest refuses the future).
  const startMs = Math.floor((Date.now() + WIB) / DAY) * DAY - WIB - 31 * DAY
  const day = (n: number) => startMs + n * DAY
  const drySpell = { fromMs: day(5), toMs: day(17) }
  const storm = { atMs: day(17) + 14 * 3_600_000, mm: 60 }
  const village = 'kemiren'

  beforeAll(async () => {
    influx = await startInfluxd()
    t = await startApp({ store: { kind: 'influx', influx: { url: influx.url } } })
    const villages = buildDistrict({
      seed: 7,
      villages: 1,
      fieldsPerVillage: 2,
      treesPerVillage: 2,
      startMs,
      forcing: { drySpells: [drySpell], rain: [storm] },
      faults: { 'kemiren-pohon2': [{ kind: 'dead_tree', fromMs: startMs }] },
    })
    const secrets = await provisionDistrict(t.app.registry, villages)
    const driver = boardDriver(10 * 60_000)
    const fleet = new Fleet({
      driver,
      villages,
      url: `mqtt://127.0.0.1:${t.mqttPort}`,
      dataDir: t.dataDir,
      secrets,
      reportIntervalMs: 10 * 60_000,
      startMs,
      endMs: day(30),
      speed: 2_000_000,
      tickMs: 20,
      gateway: { maxMessagesPerSec: 500, healthIntervalMs: 1000 },
    })
    await fleet.start()
    await fleet.done
    await fleet.stop()
    driver.stop()
  }, 120_000)

  afterAll(async () => {
    await t?.stop()
    await influx?.stop()
  })

  const series = (quantity: Reading['quantity'], device: string) =>
    t.app.store.query({ quantity, device, fromMs: startMs, toMs: day(30) + 1 })

  /** Mean of the values within [from, to). */
  const mean = (rs: Reading[], from: number, to: number) => {
    const xs = rs.filter((r) => r.timeMs >= from && r.timeMs < to).map((r) => r.value)
    return xs.reduce((a, b) => a + b, 0) / xs.length
  }

  /** Mean over days of (daily max − daily min). */
  const dailyAmplitude = (rs: Reading[], fromDay: number, toDay: number) => {
    const amps: number[] = []
    for (let d = fromDay; d < toDay; d++) {
      const xs = rs.filter((r) => r.timeMs >= day(d) && r.timeMs < day(d + 1)).map((r) => r.value)
      amps.push(Math.max(...xs) - Math.min(...xs))
    }
    return amps.reduce((a, b) => a + b, 0) / amps.length
  }

  it('every report of every node arrived, tagged by village, device, sensor and unit', async () => {
    const rows = await influxQuery(
      influx.url,
      'kampung',
      `SELECT count("value") FROM "kampung"."raw"."battery_voltage" WHERE time >= ${startMs}ms GROUP BY "device"`,
    )
    // 30 days × 144 reports per day + the report at the end time, for each of the 5 nodes
    expect(rows.map((r) => [r.device, r.count]).sort()).toEqual(
      ['kemiren-pohon1', 'kemiren-pohon2', 'kemiren-sawah1', 'kemiren-sawah2', 'kemiren-wx'].map((d) => [
        d,
        30 * 144 + 1,
      ]),
    )
    const soil = await influxQuery(
      influx.url,
      'kampung',
      `SELECT * FROM "kampung"."raw"."soil_moisture" WHERE "device" = 'kemiren-sawah2' LIMIT 1`,
    )
    expect(soil[0]).toMatchObject({ village, device: 'kemiren-sawah2', sensor: 'main', unit: '%VWC' })
  })

  it('soil moisture falls through the dry spell and jumps after the storm', async () => {
    const sm = await series('soil_moisture', 'kemiren-sawah2') // maize: no standing water
    const early = mean(sm, day(5), day(6))
    const late = mean(sm, day(16), day(17))
    const after = mean(sm, day(18), day(19))
    expect(late).toBeLessThan(early - 3)
    expect(after).toBeGreaterThan(late + 3)
  })

  it('a healthy tree swells and shrinks every day and grows; a dead one does neither', async () => {
    const healthy = await series('stem_diameter', 'kemiren-pohon1')
    const dead = await series('stem_diameter', 'kemiren-pohon2')
    const healthyAmp = dailyAmplitude(healthy, 1, 5)
    const deadAmp = dailyAmplitude(dead, 1, 5)
    expect(healthyAmp).toBeGreaterThan(20) // µm
    expect(deadAmp).toBeLessThan(healthyAmp / 4)
    const growth = (rs: Reading[]) =>
      Math.max(...rs.filter((r) => r.timeMs >= day(29)).map((r) => r.value)) -
      Math.max(...rs.filter((r) => r.timeMs < day(1)).map((r) => r.value))
    expect(growth(healthy)).toBeGreaterThan(100)
    expect(Math.abs(growth(dead))).toBeLessThan(20)
  })
})
