import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import { waitFor } from '../harness/app.ts'
import { freePort } from '../harness/ports.ts'
import { type KampungProcess, runKampung, spawnKampung } from '../harness/process.ts'
import { type RedisHandle, startRedis } from '../harness/redis.ts'

const V = 'tamansari'

/**
 * Commands with `commands.sendFrom: broker` (the default) on the aedes cluster: two `kampung
 * broker` instances on one Redis and one registry file, each sending to the devices connected to
 * it. A command reaches its device once, from the instance the device is on (also when it was
 * queued while the device was away and the device comes back on the other instance), and the
 * device's ack, taken by that instance, makes it acknowledged for everyone.
 */
describe('commands on the aedes cluster (sendFrom: broker)', () => {
  let redis: RedisHandle
  const root = mkdtempSync(path.join(os.tmpdir(), 'kampung-redis-commands-'))
  const registryPath = path.join(root, 'registry.db')
  const secrets: Record<string, string> = {}
  const ports = { a: 0, b: 0 }
  const brokers: KampungProcess[] = []
  const clients: mqtt.MqttClient[] = []

  const startBroker = async (name: 'a' | 'b') => {
    const p = spawnKampung(['broker'], {
      KAMPUNG_DATA_DIR: path.join(root, `broker-${name}`),
      KAMPUNG_REGISTRY_PATH: registryPath,
      KAMPUNG_MQTT_HOST: '127.0.0.1',
      KAMPUNG_MQTT_PORT: String(ports[name]),
      KAMPUNG_BROKER_REDIS_URL: redis.url,
    })
    brokers.push(p)
    await p.waitForOutput(/smart-kampung running/)
  }

  /** A device on instance `on`, subscribed to its down topic; returns the command ids it receives. */
  const device = async (id: string, on: 'a' | 'b') => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports[on]}`, {
      clientId: id,
      username: id,
      password: secrets[id],
      protocolVersion: 4,
      reconnectPeriod: 0,
    })
    clients.push(client)
    const received: string[] = []
    client.on('message', (_topic, payload) =>
      received.push((JSON.parse(payload.toString()) as { id: string }).id),
    )
    await client.subscribeAsync(`kampung/${V}/${id}/down`, { qos: 1 })
    const ack = (commandId: string) =>
      client.publishAsync(`kampung/${V}/${id}/ack`, JSON.stringify({ id: commandId, ok: true }), { qos: 1 })
    return { client, received, ack }
  }

  const kampung = async (...args: string[]) => {
    const r = await runKampung(root, args)
    if (r.code !== 0) throw new Error(`kampung ${args.join(' ')}: ${r.err}`)
    return r.out
  }
  /** A command's state as both instances read it: the shared registry file (each CLI call costs seconds under load). */
  let reader: Registry | undefined
  const show = async (id: string) =>
    reader!.database().prepare('SELECT state, sends, acks FROM commands WHERE id = ?').get(id) as {
      state: string
      sends: number
      acks: number
    }

  beforeAll(async () => {
    redis = await startRedis()
    ports.a = await freePort()
    ports.b = await freePort()
    const registry = new Registry({ path: registryPath, schemas: SCHEMAS })
    await registry.start()
    registry.addVillage({ id: V, name: 'Tamansari' })
    for (const id of ['pump-x', 'pump-y'])
      secrets[id] = (await registry.addDevice({ id, village: V, kind: 'soil', format: 'json' })).secret
    await registry.stop()
    await Promise.all([startBroker('a'), startBroker('b')])
    reader = new Registry({ path: registryPath, schemas: SCHEMAS })
    await reader.start()
  }, 60_000)

  afterAll(async () => {
    await reader?.stop()
    for (const c of clients) await c.endAsync(true).catch(() => {})
    for (const b of brokers) await b.kill('SIGKILL')
    await redis?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  it('each instance sends to its own devices once; the acks count everywhere', async () => {
    const x = await device('pump-x', 'a')
    const y = await device('pump-y', 'b')
    await kampung('commands', 'send', 'pump-x', 'reboot', '--id', 'c-x1')
    await kampung('commands', 'send', 'pump-y', 'reboot', '--id', 'c-y1')
    await waitFor('both delivered', () => x.received.length >= 1 && y.received.length >= 1, 15_000)
    await x.ack('c-x1')
    await y.ack('c-y1')
    await waitFor('both acknowledged', async () => (await show('c-x1')).state === 'acknowledged', 15_000)
    await waitFor('y acknowledged', async () => (await show('c-y1')).state === 'acknowledged', 15_000)
    // Several checks of both instances later (checkEveryMs 1 s): nobody sent again.
    await new Promise((r) => setTimeout(r, 3_000))
    expect(x.received).toEqual(['c-x1'])
    expect(y.received).toEqual(['c-y1'])
    expect(await show('c-x1')).toMatchObject({ state: 'acknowledged', sends: 1, acks: 1 })
    expect(await show('c-y1')).toMatchObject({ state: 'acknowledged', sends: 1, acks: 1 })
  }, 90_000)

  it('a command queued while its device is away goes out from the instance it comes back on', async () => {
    const first = clients.find((c) => c.options.clientId === 'pump-x')!
    await first.endAsync()
    await kampung('commands', 'send', 'pump-x', 'reboot', '--id', 'c-x2')
    await new Promise((r) => setTimeout(r, 2_500))
    expect(await show('c-x2')).toMatchObject({ state: 'queued', sends: 0 })
    const x = await device('pump-x', 'b')
    await waitFor('delivered on b', () => x.received.length >= 1, 15_000)
    await x.ack('c-x2')
    await waitFor('acknowledged', async () => (await show('c-x2')).state === 'acknowledged', 15_000)
    await new Promise((r) => setTimeout(r, 3_000))
    expect(x.received).toEqual(['c-x2'])
    expect(await show('c-x2')).toMatchObject({ state: 'acknowledged', sends: 1, acks: 1 })
  }, 90_000)
})
