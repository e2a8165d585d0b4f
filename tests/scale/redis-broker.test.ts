import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import { waitFor } from '../harness/app.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { influxCount } from '../harness/influxql.ts'
import { freePort } from '../harness/ports.ts'
import { type KampungProcess, spawnKampung } from '../harness/process.ts'
import { runFleet } from '../harness/publishers.ts'
import { type RedisHandle, startRedis } from '../harness/redis.ts'

const V = 'tamansari'
const QUANTITIES = ['soil_moisture', 'soil_temperature', 'battery_voltage', 'signal_strength']

/**
 * Two `kampung broker` instances (aedes) sharing subscriptions, retained messages and offline
 * queues through a real Redis; devices on instance A, the ingest worker (MQTT 3.1.1, persistent
 * session) on instance B, readings into a real influxd.
 */
describe('aedes instances on Redis', () => {
  let influx: InfluxdHandle
  let redis: RedisHandle
  const root = mkdtempSync(path.join(os.tmpdir(), 'kampung-redis-broker-'))
  const registryPath = path.join(root, 'registry.db')
  const devices: Array<{ id: string; secret: string }> = []
  let serviceSecret = ''
  const ports = { a: 0, b: 0 }
  const brokers: Record<'a' | 'b', KampungProcess | undefined> = { a: undefined, b: undefined }
  let ingest: KampungProcess | undefined
  const url = (name: 'a' | 'b') => `mqtt://127.0.0.1:${ports[name]}`

  const startBroker = async (name: 'a' | 'b') => {
    const p = spawnKampung(['broker'], {
      KAMPUNG_DATA_DIR: path.join(root, `broker-${name}`),
      KAMPUNG_REGISTRY_PATH: registryPath,
      KAMPUNG_MQTT_HOST: '127.0.0.1',
      KAMPUNG_MQTT_PORT: String(ports[name]),
      KAMPUNG_BROKER_REDIS_URL: redis.url,
    })
    brokers[name] = p
    await p.waitForOutput(/smart-kampung running/)
    return p
  }

  const startIngest = async (on: 'a' | 'b') => {
    ingest = spawnKampung(['ingest'], {
      KAMPUNG_DATA_DIR: path.join(root, 'ingest'),
      KAMPUNG_REGISTRY_PATH: registryPath,
      KAMPUNG_INFLUX_URL: influx.url,
      KAMPUNG_INGEST_MQTT_URL: url(on),
      KAMPUNG_INGEST_MQTT_PROTOCOL: '4', // aedes speaks MQTT 3.1.1 only
      KAMPUNG_INGEST_MQTT_CLIENT_ID: 'ingest-1',
      KAMPUNG_INGEST_MQTT_USERNAME: 'ingest-1',
      KAMPUNG_INGEST_MQTT_PASSWORD: serviceSecret,
    })
    await ingest.waitForOutput(/ingest subscribed/)
  }

  const counts = async () =>
    Promise.all(QUANTITIES.map((q) => influxCount(influx.url, 'kampung', q).catch(() => 0)))

  beforeAll(async () => {
    ;[influx, redis] = await Promise.all([startInfluxd(), startRedis()])
    ports.a = await freePort()
    ports.b = await freePort()
    const registry = new Registry({ path: registryPath, schemas: SCHEMAS })
    await registry.start()
    registry.addVillage({ id: V, name: 'Tamansari' })
    registry.addVillage({ id: 'ops', name: 'Operations' })
    serviceSecret = (
      await registry.addDevice({ id: 'ingest-1', village: 'ops', kind: 'service', format: 'json' })
    ).secret
    for (let i = 0; i < 8; i++) {
      const id = `t-${i}`
      devices.push({
        id,
        secret: (await registry.addDevice({ id, village: V, kind: 'soil', format: 'json' })).secret,
      })
    }
    await registry.stop()
    await Promise.all([startBroker('a'), startBroker('b')])
    await startIngest('b')
  }, 60_000)

  afterAll(async () => {
    await ingest?.kill('SIGKILL')
    await brokers.a?.kill('SIGKILL')
    await brokers.b?.kill('SIGKILL')
    await redis?.stop()
    await influx?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  it('devices on A reach the ingest on B; A SIGKILLed mid-run and restarted: nothing published is lost', async () => {
    const messagesPerDevice = 750 // 8 × 750 = 6 000 reports, 24 000 readings
    let killedAt = 0
    let restarted: Promise<unknown> | undefined
    await runFleet({
      url: url('a'),
      village: V,
      devices,
      messagesPerDevice,
      baseTimeMs: Date.UTC(2026, 10, 20),
      window: 10,
      onProgress: (acked) => {
        if (acked === 2000 && !killedAt) {
          killedAt = acked
          restarted = brokers.a!.kill('SIGKILL').then(() => startBroker('a'))
        }
      },
    })
    await restarted
    expect(killedAt).toBe(2000)
    expect(brokers.a!.output()).toMatch(/smart-kampung running/)
    const total = devices.length * messagesPerDevice
    await waitFor('every reading stored', async () => (await counts()).every((n) => n >= total), 60_000)
    expect(await counts()).toEqual(QUANTITIES.map(() => total))
  }, 180_000)

  it('acknowledges a device only once its message is in Redis: an instance killed right after the PUBACK loses nothing', async () => {
    const d = devices[0]!
    const timeMs = Date.UTC(2026, 10, 20, 12)
    const where = `WHERE "device" = 't-0' AND time = ${timeMs}ms`
    const device = await mqtt.connectAsync(url('a'), {
      clientId: d.id,
      username: d.id,
      password: d.secret,
      protocolVersion: 4,
      reconnectPeriod: 200,
    })
    try {
      redis.pause() // Redis stalls: A can take the message but cannot hand it on
      const acked = device.publishAsync(
        `kampung/${V}/${d.id}/up`,
        JSON.stringify({ ts: timeMs, values: { soil_moisture: 42 } }),
        {
          qos: 1,
        },
      )
      const early = await Promise.race([
        acked.then(() => 'acknowledged'),
        new Promise((r) => setTimeout(r, 2000, 'waiting')),
      ])
      // aedes alone acknowledges before publishing; a PUBACK here would be a promise A cannot keep
      expect(early).toBe('waiting')
      await brokers.a!.kill('SIGKILL')
      redis.resume()
      await startBroker('a')
      await acked // the device resent it to the new A, which handed it to Redis, then acknowledged
      await waitFor(
        'the reading stored',
        async () => (await influxCount(influx.url, 'kampung', 'soil_moisture', where)) === 1,
        30_000,
      )
    } finally {
      redis.resume()
      await device.endAsync(true)
    }
  }, 90_000)

  it('keeps QoS 1 messages for the ingest while it is away, and hands them over on either instance', async () => {
    await ingest!.kill('SIGKILL')
    const before = await counts()
    const messagesPerDevice = 400 // 3 200 reports queued: more than the library's 1 000 per reconnect
    await runFleet({
      url: url('a'),
      village: V,
      devices,
      messagesPerDevice,
      baseTimeMs: Date.UTC(2026, 10, 21),
      window: 10,
    })
    // Nothing can have been stored: the only ingest is down.
    expect(await counts()).toEqual(before)
    await startIngest('a') // its session (subscription and queue) lives in Redis, not in B
    const expected = before.map((n) => n + devices.length * messagesPerDevice)
    await waitFor(
      'the queued readings stored',
      async () => (await counts()).every((n, i) => n >= expected[i]!),
      60_000,
    )
    expect(await counts()).toEqual(expected)
  }, 180_000)

  it('retained status survives a restart of both instances', async () => {
    await brokers.a!.kill('SIGKILL')
    await brokers.b!.kill('SIGKILL')
    await startBroker('b')
    const sub = await mqtt.connectAsync(url('b'), {
      clientId: 'ingest-1-status',
      username: 'ingest-1',
      password: serviceSecret,
      protocolVersion: 4,
      reconnectPeriod: 0,
    })
    try {
      const got = new Map<string, { state: string }>()
      sub.on('message', (topic, payload) => got.set(topic, JSON.parse(payload.toString())))
      await sub.subscribeAsync(`kampung/${V}/+/status`, { qos: 1 })
      await waitFor('a retained status per device', async () => got.size === devices.length, 10_000)
      // The fleet disconnected cleanly before the restart: each device's last word is "offline".
      for (const d of devices) expect(got.get(`kampung/${V}/${d.id}/status`)?.state).toBe('offline')
    } finally {
      await sub.endAsync(true)
    }
  }, 60_000)
})
