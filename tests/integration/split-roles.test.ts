import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KampungApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config.ts'
import { waitFor } from '../harness/app.ts'
import { mosquittoPub, runClient } from '../harness/clients.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { influxCount } from '../harness/influxql.ts'
import { runFleet } from '../harness/publishers.ts'

/**
 * `kampung broker` and `kampung ingest` as separate roles: ingest is an ordinary MQTT 3.1.1 client
 * of our own broker, authenticated as a service principal.
 */
describe('broker and ingest as separate roles', () => {
  const V = 'glagah'
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-split-'))
  let influx: InfluxdHandle
  let broker: KampungApp
  let ingest: KampungApp
  const secrets: Record<string, string> = {}

  beforeAll(async () => {
    influx = await startInfluxd()
    broker = new KampungApp(parseConfig({ dataDir, broker: { host: '127.0.0.1', port: 0 } }), {
      broker: true,
      ingest: false,
      api: false,
    })
    await broker.start()
    broker.registry.addVillage({ id: V, name: 'Glagah' })
    broker.registry.addVillage({ id: 'ops', name: 'Operations' })
    const service = await broker.registry.addDevice({
      id: 'ingest-1',
      village: 'ops',
      kind: 'service',
      format: 'json',
    })
    for (const id of ['a', 'b', 'c', 'd']) {
      secrets[id] = (await broker.registry.addDevice({ id, village: V, kind: 'soil', format: 'json' })).secret
    }
    ingest = new KampungApp(
      parseConfig({
        dataDir,
        store: { kind: 'influx', influx: { url: influx.url } },
        ingest: {
          mode: 'mqtt',
          maxPendingReadings: 400,
          mqtt: {
            url: `mqtt://127.0.0.1:${broker.broker!.port}`,
            username: 'ingest-1',
            password: service.secret,
            clientId: 'ingest-1',
            protocolVersion: 4,
            maxInFlightMessages: 50,
          },
        },
      }),
      { broker: false, ingest: true, api: false },
    )
    await ingest.start()
  })

  afterAll(async () => {
    await ingest?.stop()
    await broker?.stop()
    await influx?.stop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('stores every reading once, keeping at most maxInFlightMessages taken and not yet durable', async () => {
    let maxInFlight = 0
    const sampler = setInterval(() => {
      maxInFlight = Math.max(maxInFlight, ingest.mqttIngest!.inFlightMessages)
    }, 1)
    await runFleet({
      url: `mqtt://127.0.0.1:${broker.broker!.port}`,
      village: V,
      devices: Object.entries(secrets).map(([id, secret]) => ({ id, secret })),
      messagesPerDevice: 500,
      baseTimeMs: Date.UTC(2026, 9, 1),
      window: 50,
    })
    await waitFor(
      '2 000 reports stored',
      async () => (await influxCount(influx.url, 'kampung', 'soil_moisture')) === 2000,
    )
    clearInterval(sampler)
    for (const q of ['soil_temperature', 'battery_voltage', 'signal_strength']) {
      expect(await influxCount(influx.url, 'kampung', q)).toBe(2000)
    }
    expect(maxInFlight).toBeGreaterThan(0)
    expect(maxInFlight).toBeLessThanOrEqual(50)
  })

  it('reports a malformed payload to the device through the broker', async () => {
    const port = broker.broker!.port
    const errors = runClient('mosquitto_sub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-u',
      'a',
      '-P',
      secrets.a!,
      '-i',
      'a:sub',
      '-t',
      `kampung/${V}/a/errors`,
      '-q',
      '1',
      '-C',
      '1',
      '-W',
      '15',
    ])
    await new Promise((r) => setTimeout(r, 300))
    const pub = await mosquittoPub({
      port,
      username: 'a',
      password: secrets.a!,
      topic: `kampung/${V}/a/up`,
      message: '{"values":',
    })
    expect(pub.code).toBe(0)
    const report = JSON.parse((await errors).stdout)
    expect(report).toMatchObject({
      source: `kampung/${V}/a/up`,
      accepted: 0,
      rejected: [{ reason: 'malformed' }],
    })
  })
})
