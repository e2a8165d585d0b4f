import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Broker } from '../../broker/index.ts'
import { type Device, Registry } from '../../src/registry/index.ts'
import { topics } from '../../src/telemetry/index.ts'
import { mosquittoPub, runClient } from '../harness/clients.ts'

interface Uplink {
  device: Device
  topic: string
  payload: string
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } {
  let resolve!: () => void
  let reject!: (err: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** A raw MQTT 3.1.1 CONNECT of a registered device, for tests that speak to the broker's socket. */
function connectPacket(id: string, secret: string): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    clientId: id,
    keepalive: 0,
    username: id,
    password: Buffer.from(secret),
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

describe('Broker', () => {
  let dir: string
  let registry: Registry
  let broker: Broker
  const secrets: Record<string, string> = {}
  const devices: Record<string, Device> = {}
  const uplinks: Uplink[] = []
  /** What onUplink awaits; tests swap it to hold or fail the acknowledgement. */
  let gate: () => Promise<void> = async () => {}
  const clients: MqttClient[] = []

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-broker-'))
    registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: [] })
    await registry.start()
    registry.addVillage({ id: 'desa-a', name: 'Desa A' })
    registry.addVillage({ id: 'desa-b', name: 'Desa B' })
    for (const [id, village, kind] of [
      ['soil-1', 'desa-a', 'soil'],
      ['soil-2', 'desa-b', 'soil'],
      ['ingest', 'desa-a', 'service'],
    ] as const) {
      const added = await registry.addDevice({ id, village, kind, format: 'json' })
      secrets[id] = added.secret
      devices[id] = added.device
    }
    // openssl is one of the Debian packages `npm test` installs
    let tls: { port: number; keyPath: string; certPath: string } | undefined
    {
      const keyPath = path.join(dir, 'k.pem')
      const certPath = path.join(dir, 'c.pem')
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1'].concat([
          '-addext',
          'subjectAltName=DNS:localhost,IP:127.0.0.1',
          '-keyout',
          keyPath,
          '-out',
          certPath,
        ]),
        { stdio: 'ignore' },
      )
      tls = { port: 0, keyPath, certPath }
    }
    broker = new Broker({
      host: '127.0.0.1',
      port: 0,
      tls,
      registry,
      onUplink: (device, topic, payload, done) => {
        uplinks.push({ device, topic, payload: payload.toString() })
        gate().then(() => done(), done)
      },
    })
    await broker.start()
  })

  afterAll(async () => {
    for (const c of clients) c.end(true)
    await broker?.stop()
    await registry?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  beforeEach(() => {
    uplinks.length = 0
    gate = async () => {}
  })

  function connect(id: string, extra: IClientOptions = {}): MqttClient {
    const client = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, {
      protocolVersion: 4,
      clientId: id,
      username: id,
      password: secrets[id],
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      ...extra,
    })
    clients.push(client)
    return client
  }

  async function connected(id: string, extra: IClientOptions = {}): Promise<MqttClient> {
    const client = connect(id, extra)
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve())
      client.once('error', reject)
    })
    return client
  }

  /** The CONNACK return code of a refused connection. */
  async function refusedCode(id: string, extra: IClientOptions): Promise<number | undefined> {
    const client = connect(id, extra)
    return new Promise((resolve) => {
      client.once('connect', () => resolve(0))
      client.once('error', (err) => resolve((err as { code?: number }).code))
    })
  }

  const pub = (id: string, topic: string, message: string, clientId = id, password = secrets[id]!) =>
    mosquittoPub({ port: broker.port, username: id, password, clientId, topic, message })

  it('accepts a good publish from mosquitto_pub and hands it to onUplink', async () => {
    const result = await pub('soil-1', topics.up('desa-a', 'soil-1'), '{"soil_moisture":31.5}')
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(uplinks).toHaveLength(1)
    expect(uplinks[0]!.device.id).toBe('soil-1')
    expect(uplinks[0]!.topic).toBe('kampung/desa-a/soil-1/up')
    expect(uplinks[0]!.payload).toBe('{"soil_moisture":31.5}')
  })

  it('refuses a wrong password with CONNACK 4 (bad user name or password)', async () => {
    const result = await pub('soil-1', topics.up('desa-a', 'soil-1'), '{}', 'soil-1', `${secrets['soil-1']}x`)
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain('Connection Refused: bad user name or password')
    expect(await refusedCode('soil-1', { password: 'wrong' })).toBe(4)
    expect(await refusedCode('ghost', { password: 'whatever' })).toBe(4)
    expect(uplinks).toHaveLength(0)
    expect(broker.stats().refused.bad_credentials).toBeGreaterThanOrEqual(3)
  })

  it('refuses a client id that belongs to another device with CONNACK 2 (identifier rejected)', async () => {
    const result = await pub('soil-2', topics.up('desa-b', 'soil-2'), '{}', 'soil-1')
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain('Connection Refused: identifier rejected')
    expect(await refusedCode('soil-2', { clientId: 'soil-1' })).toBe(2)
    expect(await refusedCode('soil-2', { clientId: 'soil-2x' })).toBe(2)
    // `<id>:…` is the device's own; `<id>-…` is not (ids contain '-'), a service's is
    expect(await refusedCode('soil-2', { clientId: 'soil-2-a' })).toBe(2)
    const b = await connected('soil-2', { clientId: 'soil-2:b' })
    const c = await connected('ingest', { clientId: 'ingest-c' })
    b.end()
    c.end()
    expect(uplinks).toHaveLength(0)
  })

  it('refuses a will aimed outside the device’s own status topic with CONNACK 5', async () => {
    const code = await refusedCode('soil-1', {
      will: { topic: topics.up('desa-b', 'soil-2'), payload: Buffer.from('x'), qos: 1, retain: false },
    })
    expect(code).toBe(5)
  })

  it('refuses publishing to another device’s topic: no onUplink, no PUBACK, disconnected', async () => {
    const client = await connected('soil-1')
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
    let acked = false
    client.publish(topics.up('desa-b', 'soil-2'), '{"soil_moisture":1}', { qos: 1 }, (err) => {
      if (!err) acked = true
    })
    await closed
    await sleep(100)
    expect(acked).toBe(false)
    expect(uplinks).toHaveLength(0)
    expect(broker.stats().refused.publish_topic).toBeGreaterThanOrEqual(1)
  })

  it('refuses sub-levels under up and topics outside kampung/', async () => {
    for (const topic of [`${topics.up('desa-a', 'soil-1')}/extra`, '$SYS/x', 'other/topic']) {
      const client = await connected('soil-1')
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
      client.publish(topic, '{}', { qos: 1 })
      await closed
    }
    expect(uplinks).toHaveLength(0)
  })

  it('refuses an oversized payload (just over the limit: ACL; far over: dropped at the frame header)', async () => {
    const before = broker.stats().refused
    for (const bytes of [65 * 1024, 1024 * 1024]) {
      const client = await connected('soil-1')
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
      let acked = false
      client.publish(topics.up('desa-a', 'soil-1'), Buffer.alloc(bytes, 0x41), { qos: 1 }, (err) => {
        if (!err) acked = true
      })
      await closed
      expect(acked).toBe(false)
    }
    const after = broker.stats().refused
    expect(after.payload_too_large).toBe(before.payload_too_large + 1)
    expect(after.packet_too_large).toBe(before.packet_too_large + 1)
    expect(uplinks).toHaveLength(0)
  })

  it('sends the PUBACK only after onUplink called back', async () => {
    const durable = deferred()
    gate = () => durable.promise
    const client = await connected('soil-1')
    let ackedAtMs: number | undefined
    const acked = new Promise<void>((resolve) =>
      client.publish(topics.up('desa-a', 'soil-1'), '{"n":1}', { qos: 1 }, () => {
        ackedAtMs = Date.now()
        resolve()
      }),
    )
    await until('onUplink to be called', () => uplinks.length === 1)
    await sleep(300)
    expect(ackedAtMs).toBeUndefined() // still not durable: no PUBACK yet
    const resolvedAtMs = Date.now()
    durable.resolve()
    await acked
    expect(ackedAtMs).toBeGreaterThanOrEqual(resolvedAtMs)
    client.end()
  })

  it('acknowledges uplinks that became durable together with one write per socket, in their order', async () => {
    const durable = deferred()
    gate = () => durable.promise
    const socket = net.connect(broker.port, '127.0.0.1')
    socket.on('error', () => {})
    const chunks: Buffer[] = []
    const connack = new Promise<Buffer>((resolve) => socket.once('data', resolve))
    socket.write(connectPacket('soil-1', secrets['soil-1']!))
    expect((await connack)[3]).toBe(0)
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    const ids = [7, 300, 2, 65535, 41]
    // All five in one chunk; stored together (the gate opens once for all).
    socket.write(
      Buffer.concat(
        ids.map((messageId, n) =>
          mqttPacket.generate({
            cmd: 'publish',
            topic: topics.up('desa-a', 'soil-1'),
            payload: `{"n":${n}}`,
            qos: 1,
            messageId,
            retain: false,
            dup: false,
          }),
        ),
      ),
    )
    await until('all five handed to onUplink', () => uplinks.length === 5)
    await sleep(100)
    expect(chunks).toEqual([]) // nothing durable yet: no PUBACK
    durable.resolve()
    await until('five PUBACKs', () => Buffer.concat(chunks).length >= 20)
    await sleep(100)
    const expected = Buffer.concat(ids.map((id) => Buffer.from([0x40, 0x02, id >> 8, id & 0xff])))
    expect(Buffer.concat(chunks)).toEqual(expected)
    expect(chunks).toHaveLength(1) // one write of 20 bytes, not five
    socket.destroy()
  })

  it('a PUBLISH sent right behind its CONNECT (before the CONNACK) is acknowledged after the CONNACK', async () => {
    const socket = net.connect(broker.port, '127.0.0.1')
    socket.on('error', () => {})
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    const received: Buffer[] = []
    socket.on('data', (chunk: Buffer) => received.push(chunk))
    socket.write(connectPacket('soil-2', secrets['soil-2']!))
    // Its own write, not waiting for the CONNACK (authentication is still running).
    socket.write(
      mqttPacket.generate({
        cmd: 'publish',
        topic: topics.up('desa-b', 'soil-2'),
        payload: '{"n":1}',
        qos: 1,
        messageId: 9,
        retain: false,
        dup: false,
      }),
    )
    await until('CONNACK and PUBACK', () => Buffer.concat(received).length >= 8)
    expect(Buffer.concat(received)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x00, 0x40, 0x02, 0x00, 0x09]))
    expect(uplinks.map((u) => u.payload)).toEqual(['{"n":1}'])
    socket.destroy()
  })

  it('withholds the PUBACK when onUplink calls back with an error; the resent message is then acknowledged', async () => {
    let failures = 1
    gate = async () => {
      if (failures-- > 0) throw new Error('store down')
    }
    // mqtt.js with a persistent session resends unacknowledged QoS 1 messages after reconnecting
    const client = connect('soil-1', { reconnectPeriod: 200, clean: false, clientId: 'soil-1:resend' })
    const acked = new Promise<void>((resolve) =>
      client.publish(topics.up('desa-a', 'soil-1'), '{"n":2}', { qos: 1 }, () => resolve()),
    )
    await acked
    expect(uplinks.map((u) => u.payload)).toEqual(['{"n":2}', '{"n":2}'])
    expect(broker.stats().refused.uplink_failed).toBeGreaterThanOrEqual(1)
    client.end()
  })

  it('publishes retained online / offline status, visible to a service principal', async () => {
    const service = await connected('ingest')
    const seen: string[] = []
    service.on('message', (topic, payload, packet) => {
      // live deliveries only: the retained state of earlier tests arrives first with retain set
      if (topic === topics.status('desa-b', 'soil-2') && !packet.retain)
        seen.push(JSON.parse(payload.toString()).state)
    })
    await service.subscribeAsync('kampung/+/+/status', { qos: 1 })
    const device = await connected('soil-2')
    await until('online', () => seen.includes('online'))
    device.end()
    await until('offline', () => seen.includes('offline'))
    expect(seen).toEqual(['online', 'offline'])

    // retained: a late subscriber still gets the last state
    const late = await connected('ingest', { clientId: 'ingest-late' })
    const retained = new Promise<string>((resolve) =>
      late.on('message', (topic, payload, packet) => {
        if (topic === topics.status('desa-b', 'soil-2') && packet.retain) resolve(payload.toString())
      }),
    )
    await late.subscribeAsync(topics.status('desa-b', 'soil-2'), { qos: 1 })
    expect(JSON.parse(await retained)).toMatchObject({ state: 'offline', atMs: expect.any(Number) })
    service.end()
    late.end()
  })

  it('writes its own "offline" in place of a device’s will on its status topic', async () => {
    const status = topics.status('desa-a', 'soil-1')
    const service = await connected('ingest', { clientId: 'ingest-will' })
    const seen: string[] = []
    service.on('message', (topic, payload) => {
      if (topic === status) seen.push(payload.toString())
    })
    await service.subscribeAsync(status, { qos: 1 })
    const device = await connected('soil-1', {
      will: { topic: status, payload: Buffer.from('{"state":"lost"}'), qos: 1, retain: true },
    })
    await until('online', () => seen.some((s) => s.includes('online')))
    device.stream.destroy() // an unclean disconnect: the broker publishes the will
    await until('offline', () => seen.some((s) => s.includes('offline')))
    await sleep(200)
    expect(seen).not.toContain('{"state":"lost"}')
    expect(JSON.parse(seen.at(-1)!)).toEqual({ state: 'offline', atMs: expect.any(Number) })
    service.end()
  })

  it('lets a device subscribe only to its own down and errors topics (others granted 128)', async () => {
    const client = await connected('soil-1')
    const filters = [
      topics.down('desa-a', 'soil-1'),
      `${topics.down('desa-a', 'soil-1')}/#`,
      topics.errors('desa-a', 'soil-1'),
      topics.down('desa-b', 'soil-2'),
      'kampung/#',
      topics.up('desa-a', 'soil-1'),
    ]
    // mqtt.js rejects a SUBACK holding any 128 and attaches the packet: read the grants from it
    const suback = await client
      .subscribeAsync(Object.fromEntries(filters.map((topic) => [topic, { qos: 1 as const }])))
      .then(
        () => undefined,
        (err: { packet?: { granted?: number[] } }) => err.packet,
      )
    expect(suback?.granted).toEqual([1, 1, 1, 128, 128, 128])
    expect(broker.stats().refused.subscribe_topic).toBeGreaterThanOrEqual(3)
    client.end()
  })

  it('delivers publishError reports to the device’s errors topic', async () => {
    const client = await connected('soil-1')
    await client.subscribeAsync(topics.errors('desa-a', 'soil-1'), { qos: 1 })
    const got = new Promise<string>((resolve) =>
      client.on('message', (_t, payload) => resolve(payload.toString())),
    )
    await broker.publishError(devices['soil-1']!, { reason: 'malformed', message: 'bad JSON' })
    expect(JSON.parse(await got)).toEqual({ reason: 'malformed', message: 'bad JSON' })
    client.end()
  })

  it('lets a service publish downlinks and a device receive them', async () => {
    const device = await connected('soil-1')
    await device.subscribeAsync(topics.down('desa-a', 'soil-1'), { qos: 1 })
    const got = new Promise<string>((resolve) =>
      device.on('message', (_t, payload) => resolve(payload.toString())),
    )
    const result = await pub('ingest', topics.down('desa-a', 'soil-1'), '{"intervalMs":60000}')
    expect(result.code).toBe(0)
    expect(await got).toBe('{"intervalMs":60000}')
    device.end()
  })

  it('keeps serving other clients while one sends garbage', async () => {
    const errorsBefore = broker.stats().clientErrors
    const socket = net.connect(broker.port, '127.0.0.1')
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    const dropped = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    socket.on('error', () => {})
    // reserved packet type 0 with a 6-byte body: not oversized, so the MQTT parser itself must reject it
    socket.write(Buffer.from([0x00, 0x06, 0xde, 0xad, 0xbe, 0xef, 0x13, 0x37]))
    await dropped
    await until('the error to be counted', () => broker.stats().clientErrors > errorsBefore)
    const result = await pub('soil-1', topics.up('desa-a', 'soil-1'), '{"still":"alive"}')
    expect(result.code).toBe(0)
    expect(uplinks.map((u) => u.payload)).toEqual(['{"still":"alive"}'])
  })

  it('accepts MQTT over TLS (mosquitto_pub --cafile)', async () => {
    const args = ['-h', '127.0.0.1', '-p', String(broker.tlsPort), '--cafile', path.join(dir, 'c.pem')]
    args.push('-u', 'soil-1', '-P', secrets['soil-1']!, '-i', 'soil-1', '-q', '1')
    args.push('-t', topics.up('desa-a', 'soil-1'), '-m', '{"over":"tls"}')
    const result = await runClient('mosquitto_pub', args)
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(uplinks.map((u) => u.payload)).toEqual(['{"over":"tls"}'])
  })
})
