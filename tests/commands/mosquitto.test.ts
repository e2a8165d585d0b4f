import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Gateway } from '../../gateway/index.ts'
import { KampungApp } from '../../src/app.ts'
import { commandsCommand } from '../../src/cli/commands.ts'
import { type Command, defaultCommandOptions } from '../../src/commands/index.ts'
import { parseConfig } from '../../src/config.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import { waitFor } from '../harness/app.ts'
import { type MosquittoHandle, startMosquitto } from '../harness/mosquitto.ts'
import { freePort } from '../harness/ports.ts'
import { type KampungProcess, spawnKampung } from '../harness/process.ts'

const V = 'kemiren'
const INGEST_PASSWORD = 'ingest-password-1'

/**
 * Commands with an external broker: real Mosquitto with the ACL of deploy/mosquitto/kampung.acl
 * and a password file, a `kampung ingest --api` process (commands.sendFrom ingest) storing uplinks
 * and sending commands as an MQTT client, and devices as plain MQTT clients doing what the
 * deployment docs ask of a device behind Mosquitto: subscribe to its down topic, then announce a
 * retained `online` on its status topic, with a retained `offline` will.
 */
describe('commands through Mosquitto: kampung ingest sends, devices ack', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kampung-cmd-mosquitto-'))
  const registryPath = path.join(root, 'registry.db')
  let mosquitto: MosquittoHandle
  let registry: Registry
  const secrets: Record<string, string> = {}
  let officer = ''
  let apiPort = 0
  let worker: KampungProcess | undefined
  const clients: MqttClient[] = []
  const processes: KampungProcess[] = []
  const gateways: Gateway[] = []

  beforeAll(async () => {
    registry = new Registry({ path: registryPath, schemas: SCHEMAS })
    await registry.start()
    registry.addVillage({ id: V, name: 'Kemiren' })
    for (const id of ['sawah-1', 'sawah-2'])
      secrets[id] = (await registry.addDevice({ id, village: V, kind: 'soil', format: 'json' })).secret
    // a node behind a village gateway, for the gateway's test
    secrets['sawah-3'] = (
      await registry.addDevice({ id: 'sawah-3', village: V, kind: 'soil', format: 'json' })
    ).secret
    secrets['gw-1'] = (
      await registry.addDevice({ id: 'gw-1', village: V, kind: 'gateway', format: 'json' })
    ).secret
    // a second village, for the state workers' test
    registry.addVillage({ id: 'licin', name: 'Licin' })
    secrets['licin-1'] = (
      await registry.addDevice({ id: 'licin-1', village: 'licin', kind: 'soil', format: 'json' })
    ).secret
    officer = (await registry.addDevice({ id: 'officer-1', village: V, kind: 'service', format: 'json' }))
      .secret
    mosquitto = await startMosquitto({
      aclFile: 'deploy/mosquitto/kampung.acl',
      users: { ingest: INGEST_PASSWORD, ...secrets },
    })
    apiPort = await freePort()
  }, 30_000)

  afterAll(async () => {
    for (const g of gateways) await g.stop({ drainTimeoutMs: 0 })
    for (const c of clients) await c.endAsync(true).catch(() => {})
    await worker?.kill('SIGKILL')
    for (const p of processes) await p.kill('SIGKILL')
    await registry?.stop()
    await mosquitto?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  const workerEnv = (name: string, config: Record<string, unknown>) => {
    const file = path.join(root, `${name}.json`)
    writeFileSync(file, JSON.stringify(config))
    return {
      KAMPUNG_CONFIG: file,
      KAMPUNG_DATA_DIR: path.join(root, name),
      KAMPUNG_REGISTRY_PATH: registryPath,
      KAMPUNG_INGEST_MQTT_URL: mosquitto.url,
      KAMPUNG_INGEST_MQTT_USERNAME: 'ingest',
      KAMPUNG_INGEST_MQTT_PASSWORD: INGEST_PASSWORD,
    }
  }

  const startWorker = async (): Promise<KampungProcess> => {
    const p = spawnKampung(['ingest', '--api'], {
      ...workerEnv('ingest-1', {
        alerts: { enabled: false },
        oksigen: { enabled: false },
        // resends only after an hour: what the tests see is first sends and the status-driven ones
        commands: { sendFrom: 'ingest', checkEveryMs: 200, resendAfterS: 3_600 },
      }),
      KAMPUNG_INGEST_MQTT_CLIENT_ID: 'ingest-1',
      KAMPUNG_API_HOST: '127.0.0.1',
      KAMPUNG_API_PORT: String(apiPort),
    })
    await p.waitForOutput(/smart-kampung running/)
    return p
  }

  const api = {
    auth: () => `Basic ${Buffer.from(`officer-1:${officer}`).toString('base64')}`,
    async send(device: string, body: unknown): Promise<{ status: number; body: Command }> {
      const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/devices/${device}/commands`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: api.auth() },
        body: JSON.stringify(body),
      })
      return { status: res.status, body: (await res.json()) as Command }
    },
    async get(id: string): Promise<Command> {
      const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/commands/${id}`, {
        headers: { authorization: api.auth() },
      })
      expect(res.status).toBe(200)
      return (await res.json()) as Command
    },
  }

  /** A device as the docs describe it: subscribed to its down topic, then retained `online`. */
  const connectDevice = async (id: string, opts: { announce?: boolean; village?: string } = {}) => {
    const village = opts.village ?? V
    const received: Array<{ id: string; kind: string }> = []
    const client = await mqtt.connectAsync(mosquitto.url, {
      clientId: id,
      username: id,
      password: secrets[id],
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      will: {
        topic: `kampung/${village}/${id}/status`,
        payload: Buffer.from('{"state":"offline"}'),
        qos: 1,
        retain: true,
      },
    })
    clients.push(client)
    client.on('message', (topic, payload) => {
      if (topic === `kampung/${village}/${id}/down`) received.push(JSON.parse(payload.toString()))
    })
    await client.subscribeAsync(`kampung/${village}/${id}/down`, { qos: 1 })
    if (opts.announce !== false)
      await client.publishAsync(
        `kampung/${village}/${id}/status`,
        JSON.stringify({ state: 'online', atMs: Date.now() }),
        {
          qos: 1,
          retain: true,
        },
      )
    const ack = (commandId: string, ok = true) =>
      client.publishAsync(`kampung/${village}/${id}/ack`, JSON.stringify({ id: commandId, ok }), { qos: 1 })
    return { client, received, ack }
  }

  it('a command reaches an online device and its ack makes it acknowledged; one to an offline device waits for it', async () => {
    worker = await startWorker()
    const one = await connectDevice('sawah-1')

    const sent = await api.send('sawah-1', {
      id: 'm-1',
      kind: 'set_config',
      params: { reportIntervalS: 600 },
    })
    expect(sent.status).toBe(201)
    await waitFor('m-1 on the device down topic', () => one.received.some((m) => m.id === 'm-1'))
    expect(one.received[0]).toMatchObject({ id: 'm-1', kind: 'set_config', params: { reportIntervalS: 600 } })
    await waitFor('m-1 sent', async () => (await api.get('m-1')).state === 'sent')
    await one.ack('m-1')
    await waitFor('m-1 acknowledged', async () => (await api.get('m-1')).state === 'acknowledged')
    expect(await api.get('m-1')).toMatchObject({ sends: 1, acks: 1 })

    // sawah-2 has never been online: its command waits, not sent.
    expect((await api.send('sawah-2', { id: 'm-2', kind: 'reboot' })).status).toBe(201)
    await new Promise((r) => setTimeout(r, 1_000))
    expect(await api.get('m-2')).toMatchObject({ state: 'queued', sends: 0 })
    const two = await connectDevice('sawah-2')
    await waitFor('m-2 delivered when sawah-2 is back', () => two.received.some((m) => m.id === 'm-2'))
    await two.ack('m-2')
    await waitFor('m-2 acknowledged', async () => (await api.get('m-2')).state === 'acknowledged')

    // sawah-1 drops off (its will says offline): a command queued meanwhile, from the CLI this time
    // (it writes the registry file; the sender finds it there), goes out when it is back.
    one.client.stream.destroy()
    await new Promise((r) => setTimeout(r, 500))
    const out: string[] = []
    await commandsCommand(
      async () => {
        const r = new Registry({ path: registryPath, schemas: SCHEMAS })
        await r.start()
        return r
      },
      () => defaultCommandOptions,
      { out: (l) => out.push(l), err: (l) => out.push(`ERR ${l}`) },
    ).parseAsync([
      'node',
      'commands',
      'send',
      'sawah-1',
      'valve_open',
      '--param',
      'maxDurationS=60',
      '--id',
      'm-3',
    ])
    expect(out).toEqual([expect.stringMatching(/^queued: m-3 /)])
    await new Promise((r) => setTimeout(r, 1_000))
    expect(await api.get('m-3')).toMatchObject({ state: 'queued', sends: 0 })
    const oneAgain = await connectDevice('sawah-1')
    await waitFor('m-3 delivered when sawah-1 is back', () => oneAgain.received.some((m) => m.id === 'm-3'))
    expect(oneAgain.received.map((m) => m.id)).toEqual(['m-3'])
    await oneAgain.ack('m-3')
    await waitFor('m-3 acknowledged', async () => (await api.get('m-3')).state === 'acknowledged')
  })

  it('an ack published while the sender is down (SIGKILL) is recorded from its persistent session', async () => {
    const one = await connectDevice('sawah-1')
    expect((await api.send('sawah-1', { id: 'k-1', kind: 'valve_close' })).status).toBe(201)
    await waitFor('k-1 on the device', () => one.received.some((m) => m.id === 'k-1'))
    await waitFor('k-1 sent', async () => (await api.get('k-1')).state === 'sent')
    await worker!.kill('SIGKILL')
    // Mosquitto keeps it for the sender's session (clean=false): nobody has it recorded yet.
    await one.ack('k-1')
    const row = () =>
      registry.database().prepare('SELECT state, acks FROM commands WHERE id = ?').get('k-1') as {
        state: string
        acks: number
      }
    expect(row()).toEqual({ state: 'sent', acks: 0 })
    worker = await startWorker()
    await waitFor('k-1 acknowledged after the restart', () => row().state === 'acknowledged')
    expect(row().acks).toBe(1)
  })

  it('the ACL: a device reads no other device down, cannot send commands, cannot answer for another', async () => {
    const two = await connectDevice('sawah-2')
    // sawah-1, on a second connection of its own, subscribes to sawah-2's down and to every ack:
    // Mosquitto 2.0 grants the subscription and delivers nothing the ACL does not let it read.
    const spy = await mqtt.connectAsync(mosquitto.url, {
      clientId: 'sawah-1:spy',
      username: 'sawah-1',
      password: secrets['sawah-1'],
      protocolVersion: 4,
      reconnectPeriod: 0,
    })
    clients.push(spy)
    const spied: string[] = []
    spy.on('message', (topic) => spied.push(topic))
    await spy.subscribeAsync([`kampung/${V}/sawah-2/down`, `kampung/${V}/+/ack`], { qos: 1 })
    // A device publishing a command, or an ack for another device: Mosquitto drops the message
    // and the connection.
    const refused = async (topic: string, payload: object): Promise<boolean> => {
      const c = await mqtt.connectAsync(mosquitto.url, {
        clientId: 'sawah-1:evil',
        username: 'sawah-1',
        password: secrets['sawah-1'],
        protocolVersion: 4,
        reconnectPeriod: 0,
      })
      const closed = new Promise<boolean>((r) => c.once('close', () => r(true)))
      c.publish(topic, JSON.stringify(payload), { qos: 1 })
      const wasClosed = await Promise.race([
        closed,
        new Promise<boolean>((r) => setTimeout(() => r(false), 3_000)),
      ])
      c.end(true)
      return wasClosed
    }
    const evil = { id: 'evil-1', kind: 'reboot', params: {}, expiresAtMs: Date.now() + 60_000 }
    expect(await refused(`kampung/${V}/sawah-2/down`, evil)).toBe(true)

    expect((await api.send('sawah-2', { id: 'a-1', kind: 'reboot' })).status).toBe(201)
    await waitFor('a-1 on sawah-2', () => two.received.some((m) => m.id === 'a-1'))
    await waitFor('a-1 sent', async () => (await api.get('a-1')).state === 'sent')
    expect(await refused(`kampung/${V}/sawah-2/ack`, { id: 'a-1', ok: false })).toBe(true)
    // On its own ack topic the ACL lets it through; the sender ignores an ack for another's command.
    await spy.publishAsync(`kampung/${V}/sawah-1/ack`, JSON.stringify({ id: 'a-1', ok: false }), { qos: 1 })
    await new Promise((r) => setTimeout(r, 1_000))
    expect(await api.get('a-1')).toMatchObject({ state: 'sent', acks: 0 })
    await two.ack('a-1')
    await waitFor('a-1 acknowledged', async () => (await api.get('a-1')).state === 'acknowledged')
    expect(await api.get('a-1')).toMatchObject({ state: 'acknowledged', acks: 1 })
    expect(two.received.map((m) => m.id)).toEqual(['a-1'])
    expect(spied).toEqual([])
  })

  it('state workers (commands.sendFrom state): each sends to the villages it owns, and only it', async () => {
    await worker?.kill('SIGTERM')
    worker = undefined
    const state = (village: string, api?: number) => {
      const p = spawnKampung(api ? ['state', '--api'] : ['state'], {
        ...workerEnv(`state-${village}`, {
          alerts: { partition: { villages: [village] } },
          oksigen: { enabled: false },
          commands: { sendFrom: 'state', checkEveryMs: 200, resendAfterS: 3_600 },
        }),
        ...(api ? { KAMPUNG_API_HOST: '127.0.0.1', KAMPUNG_API_PORT: String(api) } : {}),
      })
      processes.push(p)
      return p
    }
    const kemiren = state(V, apiPort)
    const licin = state('licin')
    await Promise.all([kemiren, licin].map((p) => p.waitForOutput(/smart-kampung running/)))
    const one = await connectDevice('sawah-1')
    const far = await connectDevice('licin-1', { village: 'licin' })
    // Both through the kemiren worker's API; licin's command goes out from the licin worker.
    expect((await api.send('sawah-1', { id: 's-1', kind: 'reboot' })).status).toBe(201)
    expect((await api.send('licin-1', { id: 's-2', kind: 'reboot' })).status).toBe(201)
    await waitFor('s-1 and s-2 delivered', () => one.received.length > 0 && far.received.length > 0)
    await one.ack('s-1')
    await far.ack('s-2')
    await waitFor('both acknowledged', async () =>
      (await Promise.all(['s-1', 's-2'].map((id) => api.get(id)))).every((c) => c.state === 'acknowledged'),
    )
    await new Promise((r) => setTimeout(r, 1_000))
    // one sender each: a second sender would have published the queued command a second time
    expect(one.received.map((m) => m.id)).toEqual(['s-1'])
    expect(far.received.map((m) => m.id)).toEqual(['s-2'])
    for (const id of ['s-1', 's-2']) expect(await api.get(id)).toMatchObject({ sends: 1, acks: 1 })
    expect(kemiren.output()).toMatch(/"villages":\["kemiren"\].*"msg":"commands subscribed"/)
  })

  it('a node behind a village gateway: the gateway announces it, relays the command and its answer', async () => {
    // (the kemiren state worker of the previous test sends)
    const relayed: string[] = []
    const gw = new Gateway({
      gateway: { id: 'gw-1', village: V, secret: secrets['gw-1']! },
      url: mosquitto.url,
      nodes: { 'sawah-3': { village: V, secret: secrets['sawah-3']! } },
      dataDir: path.join(root, 'gateway'),
      reconnectBackoff: { initialMs: 100, maxMs: 400 },
      onCommand: (_device, payload) => {
        const { id } = JSON.parse(payload.toString()) as { id: string }
        relayed.push(id)
        return { id, ok: true }
      },
    })
    gateways.push(gw)
    expect((await api.send('sawah-3', { id: 'gw-c1', kind: 'reboot' })).status).toBe(201)
    await new Promise((r) => setTimeout(r, 500))
    expect(await api.get('gw-c1')).toMatchObject({ state: 'queued', sends: 0 })
    await gw.start()
    await waitFor('gw-c1 acknowledged', async () => (await api.get('gw-c1')).state === 'acknowledged')
    expect(relayed).toEqual(['gw-c1'])
    expect(await api.get('gw-c1')).toMatchObject({ sends: 1, acks: 1 })
    expect(gw.health().queuedAcks).toBe(0)

    // A planned stop: the node's will and the gateway's own last word leave both offline.
    await gw.stop()
    gateways.splice(0)
    const watcher = await mqtt.connectAsync(mosquitto.url, {
      clientId: 'status-watcher',
      username: 'ingest',
      password: INGEST_PASSWORD,
      protocolVersion: 4,
    })
    clients.push(watcher)
    const statuses = new Map<string, string>()
    watcher.on('message', (topic, payload) =>
      statuses.set(topic.split('/')[2]!, (JSON.parse(payload.toString()) as { state: string }).state),
    )
    await watcher.subscribeAsync(`kampung/${V}/+/status`, { qos: 1 })
    await waitFor(
      'gw-1 and sawah-3 offline',
      () => statuses.get('gw-1') === 'offline' && statuses.get('sawah-3') === 'offline',
    )
  })
})

describe('commands.sendFrom ingest', () => {
  it('is refused, before opening anything, for an ingest worker in a shared group (each would send)', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-cmd-sendfrom-'))
    try {
      const config = parseConfig({
        dataDir,
        // nothing listens there: the refusal comes before any connection
        ingest: { mode: 'mqtt', mqtt: { url: 'mqtt://127.0.0.1:1', sharedGroup: 'ingest' } },
        commands: { sendFrom: 'ingest' },
      })
      const app = new KampungApp(config, { broker: false, ingest: true, api: false })
      await expect(app.start()).rejects.toMatchObject({ code: 'config_invalid', retryable: false })
      await app.stop()
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
