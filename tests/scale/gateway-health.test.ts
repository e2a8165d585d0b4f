import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import { statusMessage, topics } from '../../src/telemetry/index.ts'
import { waitFor } from '../harness/app.ts'
import { type MosquittoHandle, startMosquitto } from '../harness/mosquitto.ts'
import { freePort } from '../harness/ports.ts'
import { type KampungProcess, serviceEnv, spawnKampung } from '../harness/process.ts'

const V = 'kemiren'
const GATEWAY_OFFLINE_AFTER_MS = 1000
const TICK_MS = 200
/** Long enough for a status to reach the engine and several ticks past GATEWAY_OFFLINE_AFTER_MS. */
const SETTLE_MS = 3 * GATEWAY_OFFLINE_AFTER_MS

/**
 * Which device statuses feed gateway health (issue 12's state-role bug): a soil node that goes
 * offline must not raise `gateway_offline` (it would hold every sensor alert of the village and
 * text the officers that their gateway is down); the village's gateway going offline must. The
 * same in both roles that see statuses: all-in-one `kampung up` (the embedded broker publishes a
 * status for every device) and `kampung state` behind a real Mosquitto (devices' wills).
 */
describe('gateway_offline from device statuses, in every role (real brokers, real processes)', () => {
  let mosquitto: MosquittoHandle
  const root = mkdtempSync(path.join(os.tmpdir(), 'kampung-gateway-health-'))
  const processes: KampungProcess[] = []
  const clients: MqttClient[] = []

  beforeAll(async () => {
    mosquitto = await startMosquitto()
  }, 60_000)

  afterAll(async () => {
    for (const c of clients) c.end(true)
    for (const p of processes) await p.kill('SIGKILL')
    await mosquitto?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  /** A registry with a soil node and the village's gateway; their MQTT secrets. */
  const seed = async (file: string): Promise<Record<'soil-1' | 'gw-1', string>> => {
    const registry = new Registry({ path: file, schemas: SCHEMAS })
    await registry.start()
    registry.addVillage({ id: V, name: 'Kemiren' })
    const soil = await registry.addDevice({ id: 'soil-1', village: V, kind: 'soil', format: 'json' })
    const gw = await registry.addDevice({ id: 'gw-1', village: V, kind: 'gateway', format: 'json' })
    await registry.stop()
    return { 'soil-1': soil.secret, 'gw-1': gw.secret }
  }

  const alertsConfig = {
    tickIntervalMs: TICK_MS,
    groupWaitMs: 0,
    rules: { sensorHealth: { gatewayOfflineAfterMs: GATEWAY_OFFLINE_AFTER_MS } },
  }

  /** gateway_offline alerts in the role's registry: [device, state]. */
  const gatewayAlerts = (registryPath: string): Array<[string, string]> => {
    const db = new Database(registryPath, { readonly: true, fileMustExist: true })
    try {
      return (
        db
          .prepare(`SELECT device, state FROM alerts WHERE rule = 'gateway_offline' ORDER BY id`)
          .all() as Array<{ device: string; state: string }>
      ).map((a) => [a.device, a.state])
    } finally {
      db.close()
    }
  }

  /**
   * A device online on the broker. `will`: with a retained will `offline` on its status topic (how
   * a device behind Mosquitto announces its loss), dropped without DISCONNECT so the broker sends
   * it; otherwise a clean disconnect, after which our embedded broker publishes the status itself.
   */
  const connect = async (url: string, id: string, secret: string | undefined, will: boolean) => {
    const status = topics.status(V, id)
    const client = await mqtt.connectAsync(url, {
      clientId: id,
      ...(secret ? { username: id, password: secret } : {}),
      reconnectPeriod: 0,
      ...(will
        ? { will: { topic: status, payload: Buffer.from(statusMessage('offline')), qos: 1, retain: true } }
        : {}),
    })
    clients.push(client)
    await client.publishAsync(status, statusMessage('online', Date.now()), { qos: 1, retain: true })
    return async () => {
      if (will) client.stream.destroy()
      else await client.endAsync()
    }
  }

  /** The soil node goes first: nothing; then the gateway: its alert, and still none for the node. */
  const soilThenGateway = async (
    registryPath: string,
    url: string,
    secrets: Record<string, string> | undefined,
    will: boolean,
  ) => {
    const dropSoil = await connect(url, 'soil-1', secrets?.['soil-1'], will)
    const dropGateway = await connect(url, 'gw-1', secrets?.['gw-1'], will)
    await dropSoil()
    await new Promise((r) => setTimeout(r, SETTLE_MS))
    expect(gatewayAlerts(registryPath)).toEqual([])
    await dropGateway()
    await waitFor(
      'gateway_offline for gw-1',
      () => gatewayAlerts(registryPath).some(([d]) => d === 'gw-1'),
      15_000,
    )
    // The node's status went out SETTLE_MS before the gateway's, on the same session: had it
    // counted, its alert would be there by now.
    await new Promise((r) => setTimeout(r, TICK_MS * 3))
    expect(gatewayAlerts(registryPath)).toEqual([['gw-1', 'firing']])
  }

  it('split: `kampung state` behind Mosquitto (devices’ wills)', async () => {
    const registryPath = path.join(root, 'state.db')
    await seed(registryPath)
    const config = path.join(root, 'state.json')
    writeFileSync(
      config,
      JSON.stringify({
        alerts: { ...alertsConfig, partition: { villages: [V] } },
        oksigen: { enabled: false },
      }),
    )
    const state = spawnKampung(['state'], {
      KAMPUNG_CONFIG: config,
      KAMPUNG_DATA_DIR: path.join(root, 'state'),
      KAMPUNG_REGISTRY_PATH: registryPath,
      KAMPUNG_INGEST_MQTT_URL: mosquitto.url,
    })
    processes.push(state)
    await state.waitForOutput(/state worker subscribed/, 60_000)
    await soilThenGateway(registryPath, mosquitto.url, undefined, true)
    expect(await state.kill('SIGTERM')).toBe(0)
  }, 120_000)

  it('all-in-one: `kampung up` with the embedded broker (its own status of every device)', async () => {
    const dataDir = path.join(root, 'up')
    const registryPath = path.join(root, 'up.db')
    const secrets = await seed(registryPath)
    const config = path.join(root, 'up.json')
    writeFileSync(config, JSON.stringify({ alerts: alertsConfig, oksigen: { enabled: false } }))
    const mqttPort = await freePort()
    const up = spawnKampung(['up'], {
      ...serviceEnv({ dataDir, mqttPort, apiPort: await freePort() }),
      KAMPUNG_CONFIG: config,
      KAMPUNG_REGISTRY_PATH: registryPath,
    })
    processes.push(up)
    await up.waitForOutput(/smart-kampung running/, 60_000)
    await soilThenGateway(registryPath, `mqtt://127.0.0.1:${mqttPort}`, secrets, false)
    expect(await up.kill('SIGTERM')).toBe(0)
  }, 120_000)
})
