import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildDistrict } from '../../firmware-sim/district.ts'
import { Fleet, provisionDistrict } from '../../firmware-sim/fleet.ts'
import { KampungApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config.ts'
import { waitFor } from '../harness/app.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { influxQuery } from '../harness/influxql.ts'
import { type MosquittoHandle, startMosquitto } from '../harness/mosquitto.ts'

const DAY = 86_400_000

/** `kampung sim` against any broker: the fleet through Mosquitto, ingest as an MQTT 5 client of it. */
describe('simulated fleet through Mosquitto', () => {
  let influx: InfluxdHandle
  let mosquitto: MosquittoHandle
  let ingest: KampungApp
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-fleet-mq-'))

  beforeAll(async () => {
    influx = await startInfluxd()
    mosquitto = await startMosquitto()
    ingest = new KampungApp(
      parseConfig({
        dataDir,
        store: { kind: 'influx', influx: { url: influx.url } },
        ingest: { mode: 'mqtt', mqtt: { url: mosquitto.url, clientId: 'ingest-fleet', protocolVersion: 5 } },
      }),
      { broker: false, ingest: true, api: false },
    )
    await ingest.start()
  })

  afterAll(async () => {
    await ingest?.stop()
    await mosquitto?.stop()
    await influx?.stop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('every report of every node of two villages is stored once', async () => {
    const startMs = Date.now() - 3 * DAY
    const villages = buildDistrict({ seed: 3, villages: 2, fieldsPerVillage: 2, treesPerVillage: 1, startMs })
    // Mosquitto here allows anonymous clients; the registry still maps topics to devices for ingest.
    const secrets = await provisionDistrict(ingest.registry, villages)
    const fleet = new Fleet({
      villages,
      url: mosquitto.url,
      dataDir,
      secrets,
      reportIntervalMs: 30 * 60_000,
      startMs,
      endMs: startMs + 2 * DAY,
      speed: 10_000_000,
      tickMs: 20,
      gateway: { maxMessagesPerSec: 500 },
    })
    await fleet.start()
    await fleet.done
    await fleet.stop()
    // Mosquitto acknowledged the gateways on receipt; ingest stores shortly after.
    const counts = () =>
      influxQuery(
        influx.url,
        'kampung',
        `SELECT count("value") FROM "kampung"."raw"."battery_voltage" WHERE time >= ${startMs}ms GROUP BY "device"`,
      ).catch(() => [])
    await waitFor('every report stored', async () => {
      const rows = await counts()
      return rows.length === 8 && rows.every((r) => r.count === 2 * 48 + 1)
    })
    const rows = await counts()
    // 2 days of half-hourly reports + the one at the end time, for each of the 2 × 4 nodes
    expect(rows).toHaveLength(8)
    for (const r of rows) expect(r.count, String(r.device)).toBe(2 * 48 + 1)
  })
})
