import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import { startApp, waitFor } from '../harness/app.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { influxCount } from '../harness/influxql.ts'
import { type MosquittoHandle, startMosquitto } from '../harness/mosquitto.ts'
import { freePort } from '../harness/ports.ts'
import { type KampungProcess, serviceEnv, spawnKampung } from '../harness/process.ts'
import { runFleet } from '../harness/publishers.ts'

const V = 'olehsari'
/** The quantities of one soilReport() (tests/harness/publishers.ts). */
const QUANTITIES = ['soil_moisture', 'soil_temperature', 'battery_voltage', 'signal_strength']

/** Every quantity holds exactly `perQuantity` points: nothing lost, nothing doubled. */
async function expectExactlyOnce(influxUrl: string, perQuantity: number): Promise<void> {
  await waitFor(
    `${perQuantity} points per quantity in InfluxDB`,
    async () => (await influxCount(influxUrl, 'kampung', 'signal_strength').catch(() => 0)) >= perQuantity,
    60_000,
  )
  for (const q of QUANTITIES) expect(await influxCount(influxUrl, 'kampung', q), q).toBe(perQuantity)
}

describe('nothing accepted is lost', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
  })

  it('influxd killed with SIGKILL mid-stream and restarted: every reading stored exactly once', async () => {
    const influx: InfluxdHandle = await startInfluxd()
    cleanups.push(() => influx.stop())
    const t = await startApp({
      store: { kind: 'influx', influx: { url: influx.url, requestTimeoutMs: 2000 } },
    })
    cleanups.push(() => t.stop())
    const devices = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const id = `node-${i}`
        return { id, secret: await t.addDevice({ id, village: V }) }
      }),
    )
    const messagesPerDevice = 300 // 10 × 300 × 4 = 12 000 readings
    let killed = false
    let restarted: Promise<void> | undefined
    await runFleet({
      url: `mqtt://127.0.0.1:${t.mqttPort}`,
      village: V,
      devices,
      messagesPerDevice,
      baseTimeMs: Date.UTC(2026, 10, 1),
      onProgress: (acked) => {
        if (acked === 800 && !killed) {
          killed = true
          restarted = influx.kill('SIGKILL').then(async () => {
            await new Promise((r) => setTimeout(r, 1500))
            await influx.restart()
          })
        }
      },
    })
    expect(killed).toBe(true)
    await restarted
    await expectExactlyOnce(influx.url, devices.length * messagesPerDevice)
    await waitFor(
      'spool drained',
      () =>
        t.app.health().spool !== undefined && (t.app.health().spool as { readings: number }).readings === 0,
    )
  })

  it('health says degraded while InfluxDB is down and readings wait in the spool, ok once drained', async () => {
    const influx = await startInfluxd()
    cleanups.push(() => influx.stop())
    const t = await startApp({
      store: { kind: 'influx', influx: { url: influx.url, requestTimeoutMs: 1000 } },
    })
    cleanups.push(() => t.stop())
    const secret = await t.addDevice({ id: 'h-1', village: V })
    const health = async () =>
      (await (await fetch(`${t.apiUrl}/health`)).json()) as { status: string; spool: { readings: number } }
    expect((await health()).status).toBe('ok')
    await influx.kill('SIGKILL')
    await runFleet({
      url: `mqtt://127.0.0.1:${t.mqttPort}`,
      village: V,
      devices: [{ id: 'h-1', secret }],
      messagesPerDevice: 5,
      baseTimeMs: Date.UTC(2026, 10, 4),
    })
    const down = await health()
    expect(down).toMatchObject({ status: 'degraded', spool: { readings: 20 } })
    await influx.restart()
    await waitFor('spool drained', async () => (await health()).status === 'ok', 30_000)
    expect(await influxCount(influx.url, 'kampung', 'soil_moisture')).toBe(5)
  })

  it('ingest worker (MQTT client of Mosquitto) killed with SIGKILL mid-stream and restarted: exactly once', async () => {
    const influx = await startInfluxd()
    cleanups.push(() => influx.stop())
    const mosquitto: MosquittoHandle = await startMosquitto()
    cleanups.push(() => mosquitto.stop())
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-ingest-'))
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }))
    const registry = new Registry({ path: path.join(dataDir, 'registry.db'), schemas: SCHEMAS })
    await registry.start()
    registry.addVillage({ id: V, name: 'Olehsari' })
    const devices: Array<{ id: string }> = []
    for (let i = 0; i < 8; i++) {
      await registry.addDevice({ id: `m-${i}`, village: V, kind: 'soil', format: 'json' })
      devices.push({ id: `m-${i}` })
    }
    await registry.stop()

    const env = {
      KAMPUNG_DATA_DIR: dataDir,
      KAMPUNG_INFLUX_URL: influx.url,
      KAMPUNG_INGEST_MQTT_URL: mosquitto.url,
      KAMPUNG_INGEST_MQTT_CLIENT_ID: 'ingest-test',
    }
    let worker: KampungProcess = spawnKampung(['ingest'], env)
    cleanups.push(() => worker.kill('SIGKILL').then(() => {}))
    await worker.waitForOutput(/ingest subscribed/)

    const messagesPerDevice = 1500 // 8 × 1 500 × 4 = 48 000 readings
    let killedAt = 0
    const fleet = runFleet({
      url: mosquitto.url,
      village: V,
      devices,
      messagesPerDevice,
      baseTimeMs: Date.UTC(2026, 10, 2),
      protocolVersion: 5,
    })
    await waitFor(
      'some readings stored',
      async () => (await influxCount(influx.url, 'kampung', 'signal_strength').catch(() => 0)) > 100,
      30_000,
    )
    await worker.kill('SIGKILL')
    killedAt = await influxCount(influx.url, 'kampung', 'signal_strength')
    await fleet // Mosquitto keeps accepting while the worker is down (persistent session)
    worker = spawnKampung(['ingest'], env)
    await worker.waitForOutput(/ingest subscribed|broker connection back/)
    expect(killedAt).toBeLessThan(devices.length * messagesPerDevice)
    await expectExactlyOnce(influx.url, devices.length * messagesPerDevice)
    await worker.kill('SIGTERM')
  })

  it('all-in-one process killed with SIGKILL mid-stream and restarted: devices resend, exactly once', async () => {
    const influx = await startInfluxd()
    cleanups.push(() => influx.stop())
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-up-'))
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }))
    const mqttPort = await freePort()
    const env = serviceEnv({ dataDir, influxUrl: influx.url, mqttPort, apiPort: await freePort() })
    const registry = new Registry({ path: path.join(dataDir, 'registry.db'), schemas: SCHEMAS })
    await registry.start()
    registry.addVillage({ id: V, name: 'Olehsari' })
    const devices: Array<{ id: string; secret: string }> = []
    for (let i = 0; i < 8; i++) {
      const { secret } = await registry.addDevice({ id: `u-${i}`, village: V, kind: 'soil', format: 'json' })
      devices.push({ id: `u-${i}`, secret })
    }
    await registry.stop()

    let app = spawnKampung(['up'], env)
    cleanups.push(() => app.kill('SIGKILL').then(() => {}))
    await app.waitForOutput(/smart-kampung running/)
    const messagesPerDevice = 1500
    const fleet = runFleet({
      url: `mqtt://127.0.0.1:${mqttPort}`,
      village: V,
      devices,
      messagesPerDevice,
      baseTimeMs: Date.UTC(2026, 10, 3),
    })
    await waitFor(
      'some readings stored',
      async () => (await influxCount(influx.url, 'kampung', 'signal_strength').catch(() => 0)) > 100,
      30_000,
    )
    await app.kill('SIGKILL')
    const atKill = await influxCount(influx.url, 'kampung', 'signal_strength')
    expect(atKill).toBeLessThan(devices.length * messagesPerDevice)
    app = spawnKampung(['up'], env)
    await app.waitForOutput(/smart-kampung running/)
    await fleet
    await expectExactlyOnce(influx.url, devices.length * messagesPerDevice)
    await app.kill('SIGTERM')
  })
})
