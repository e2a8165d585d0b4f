import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Registry } from '../../src/registry/index.ts'
import { waitFor } from '../harness/app.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { influxCount } from '../harness/influxql.ts'
import { type MosquittoHandle, startMosquitto } from '../harness/mosquitto.ts'
import { type KampungProcess, spawnKampung } from '../harness/process.ts'
import { runFleet } from '../harness/publishers.ts'

const V = 'licin'

/**
 * Several ingest workers split the load through an MQTT 5 shared subscription on Mosquitto.
 * Mosquitto 2.0 keeps a dead worker's share queued in its persistent session (it does not hand it
 * to the others, and drops it if the session expires), so a worker is restarted under the same
 * client id, as systemd's Restart=always does: then every reading is stored exactly once.
 */
describe('ingest workers on a shared subscription', () => {
  let influx: InfluxdHandle
  let mosquitto: MosquittoHandle
  const root = mkdtempSync(path.join(os.tmpdir(), 'kampung-shared-'))
  const registryPath = path.join(root, 'registry.db')
  const workers: KampungProcess[] = []

  beforeAll(async () => {
    influx = await startInfluxd()
    mosquitto = await startMosquitto()
    const registry = new Registry({ path: registryPath })
    await registry.start()
    registry.addVillage({ id: V, name: 'Licin' })
    for (let i = 0; i < 10; i++)
      await registry.addDevice({ id: `s-${i}`, village: V, kind: 'soil', format: 'json' })
    await registry.stop()
  })

  afterAll(async () => {
    for (const w of workers) await w.kill('SIGKILL')
    await mosquitto?.stop()
    await influx?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  const startWorker = (n: number) => {
    const w = spawnKampung(['ingest'], {
      KAMPUNG_DATA_DIR: path.join(root, `worker-${n}`),
      KAMPUNG_REGISTRY_PATH: registryPath,
      KAMPUNG_INFLUX_URL: influx.url,
      KAMPUNG_INGEST_MQTT_URL: mosquitto.url,
      KAMPUNG_INGEST_MQTT_CLIENT_ID: `ingest-${n}`,
      KAMPUNG_INGEST_MQTT_SHARED_GROUP: 'ingest',
    })
    workers.push(w)
    return w
  }

  it('three workers, one killed mid-run and restarted: 50 000 readings stored exactly once', async () => {
    const [a, b, c] = [startWorker(1), startWorker(2), startWorker(3)]
    await Promise.all([a, b, c].map((w) => w!.waitForOutput(/ingest subscribed/)))
    let killed = false
    await runFleet({
      url: mosquitto.url,
      village: V,
      devices: Array.from({ length: 10 }, (_, i) => ({ id: `s-${i}` })),
      messagesPerDevice: 1250,
      baseTimeMs: Date.UTC(2026, 10, 10),
      protocolVersion: 5,
      onProgress: (acked) => {
        if (acked === 4000 && !killed) {
          killed = true
          void c!.kill('SIGKILL')
        }
      },
    })
    expect(killed).toBe(true)
    const again = startWorker(3) // the supervisor brings it back under the same client id
    await again.waitForOutput(/ingest subscribed|broker connection back/)
    await waitFor(
      'every reading stored',
      async () => (await influxCount(influx.url, 'kampung', 'signal_strength').catch(() => 0)) >= 12_500,
      40_000,
    )
    for (const q of ['soil_moisture', 'soil_temperature', 'battery_voltage', 'signal_strength']) {
      expect(await influxCount(influx.url, 'kampung', q), q).toBe(12_500)
    }
  }, 120_000)
})
