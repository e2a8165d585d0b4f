import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { boardDriver, buildDistrict, type Fleet, provisionDistrict } from '../../firmware-sim/index.ts'
import { AuditLog } from '../../src/audit/index.ts'
import type { Command } from '../../src/commands/index.ts'
import { UserStore } from '../../src/console/index.ts'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'
import { liveFleet } from '../harness/fleet.ts'
import { freePort } from '../harness/ports.ts'

/**
 * Issue 17 through the real system: the all-in-one app (aedes broker with its ACL, ingest, SQLite
 * store, API), a console officer's session, a village gateway and a simulated soil node running
 * its johnny-five firmware on a mock board.
 */
const FAST = { resendAfterS: 1, checkEveryMs: 200 }

interface Session {
  cookie: string
  'x-csrf-token': string
}

async function login(t: TestApp): Promise<Session> {
  // the officer of every village registered so far (issue 16: an officer acts only in theirs)
  await new UserStore(t.app.registry).add({
    id: 'petugas',
    role: 'officer',
    password: 'petugas-password-1',
    villages: t.app.registry.listVillages().map((v) => v.id),
  })
  const res = await fetch(`${t.apiUrl}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'petugas', password: 'petugas-password-1' }),
  })
  expect(res.status).toBe(200)
  return {
    cookie: res.headers.get('set-cookie')!.split(';')[0]!,
    'x-csrf-token': ((await res.json()) as { csrfToken: string }).csrfToken,
  }
}

function client(t: TestApp, session: Session) {
  return {
    async send(
      device: string,
      body: unknown,
    ): Promise<{ status: number; body: Command & { error?: string } }> {
      const res = await fetch(`${t.apiUrl}/api/v1/devices/${device}/commands`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...session },
        body: JSON.stringify(body),
      })
      return { status: res.status, body: (await res.json()) as Command & { error?: string } }
    },
    async get(id: string): Promise<Command> {
      const res = await fetch(`${t.apiUrl}/api/v1/commands/${id}`, { headers: { ...session } })
      expect(res.status).toBe(200)
      return (await res.json()) as Command
    },
    async list(device: string): Promise<Command[]> {
      const res = await fetch(`${t.apiUrl}/api/v1/devices/${device}/commands`, { headers: { ...session } })
      return ((await res.json()) as { commands: Command[] }).commands
    },
  }
}

describe('commands: API → broker → gateway → node firmware → ack', () => {
  let t: TestApp
  let fleet: Fleet | undefined
  let driver: ReturnType<typeof boardDriver> | undefined

  beforeAll(async () => {
    t = await startApp({ commands: FAST })
  })
  afterAll(async () => {
    await fleet?.stop()
    driver?.stop()
    await t?.stop()
  })

  it('waits for an offline node, reaches it when it comes back, changes its report interval and its valve; another expires', async () => {
    const startMs = Date.now() - 5_000
    const villages = buildDistrict({ seed: 7, villages: 1, fieldsPerVillage: 2, treesPerVillage: 0, startMs })
    const village = villages[0]!
    const node = village.nodes.find((n) => n.kind === 'soil')!
    const other = village.nodes.filter((n) => n.kind === 'soil')[1]!
    village.nodes = [node]
    const secrets = await provisionDistrict(t.app.registry, villages)
    await t.addDevice({ id: other.id, village: village.id })
    const api = client(t, await login(t))

    // The node is offline (no gateway yet): commands wait, queued.
    const setConfig = { id: 'cmd-interval-1', kind: 'set_config', params: { reportIntervalS: 3 } }
    const first = await api.send(node.id, setConfig)
    expect(first.status).toBe(201)
    expect(first.body).toMatchObject({
      id: 'cmd-interval-1',
      device: node.id,
      state: 'queued',
      createdBy: 'petugas',
    })
    // Idempotent: the same id and content again changes nothing; other content under it is refused.
    const again = await api.send(node.id, setConfig)
    expect(again.status).toBe(200)
    expect(again.body).toEqual(first.body)
    const conflict = await api.send(node.id, { ...setConfig, params: { reportIntervalS: 5 } })
    expect(conflict.status).toBe(409)
    expect(conflict.body.error).toBe('command_exists')
    // in the audit trail once, with the officer who sent it (the repeat changed nothing)
    const audited = new AuditLog(t.app.registry)
      .list()
      .filter((e) => e.action === 'command.send' && e.target === setConfig.id)
    expect(audited.map((e) => [e.actor, e.target])).toEqual([['petugas', setConfig.id]])
    const bad = await api.send(node.id, { id: 'cmd-bad', kind: 'valve_open', params: {} })
    expect(bad.status).toBe(400)
    expect((await api.send(node.id, { id: 'cmd-x', kind: 'self_destruct' })).status).toBe(400)
    expect((await api.send('no-such-node', { id: 'cmd-y', kind: 'reboot' })).status).toBe(404)
    expect(
      (await api.send(node.id, { id: 'cmd-valve-1', kind: 'valve_open', params: { maxDurationS: 2 } }))
        .status,
    ).toBe(201)
    const metrics = await (await fetch(`${t.apiUrl}/metrics`)).text()
    expect(metrics).toMatch(/^kampung_commands_open 2$/m)
    // A node that never comes back within its command's expiry.
    expect((await api.send(other.id, { id: 'cmd-expires', kind: 'reboot', expiresInS: 1 })).status).toBe(201)
    await new Promise((r) => setTimeout(r, 600))
    expect((await api.get('cmd-interval-1')).state).toBe('queued')

    // The node comes online through its village gateway, reporting every second.
    driver = boardDriver(1_000)
    fleet = await liveFleet(t, { villages, secrets, startMs, driver })
    await waitFor(
      'set_config acknowledged',
      async () => (await api.get('cmd-interval-1')).state === 'acknowledged',
    )
    const ackedAtMs = Date.now()
    const acked = await api.get('cmd-interval-1')
    expect(acked.sends).toBeGreaterThanOrEqual(1)
    expect(acked.acks).toBeGreaterThanOrEqual(1)
    await waitFor(
      'valve_open acknowledged',
      async () => (await api.get('cmd-valve-1')).state === 'acknowledged',
    )
    const fw = driver.firmwareOf(node.id)!
    expect(fw.intervalMs).toBe(3_000)
    expect(fw.valveOpen).toBe(true)
    // No valve_close is sent: the firmware closes it after maxDurationS (2 s).
    await waitFor('valve closed by itself', () => !fw.valveOpen, 4_000)
    expect(fw.executed).toBe(2)

    await waitFor(
      'the other node’s command expired',
      async () => (await api.get('cmd-expires')).state === 'expired',
    )
    const expired = await api.get('cmd-expires')
    expect(expired.sends).toBe(0)
    expect((await api.list(other.id)).map((c) => [c.id, c.state])).toEqual([['cmd-expires', 'expired']])

    // The effect in the stored data: readings one second apart before, three seconds apart after.
    await new Promise((r) => setTimeout(r, 10_000))
    const readings = await t.app.store.query({ quantity: 'soil_moisture', device: node.id })
    const times = readings.map((r) => r.timeMs).sort((a, b) => a - b)
    const gaps = times.slice(1).map((x, i) => x - times[i]!)
    const before = gaps.filter((_, i) => times[i + 1]! < ackedAtMs - 1_500)
    const after = gaps.filter((_, i) => times[i]! > ackedAtMs + 1_000)
    expect(before.length).toBeGreaterThanOrEqual(3)
    expect(new Set(before)).toEqual(new Set([1_000]))
    expect(after.length).toBeGreaterThanOrEqual(2)
    expect(new Set(after)).toEqual(new Set([3_000]))
  }, 60_000)
})

describe('commands across a service restart, and the ACL', () => {
  let t: TestApp
  let mqttPort: number
  let apiPort: number
  let dataDir: string
  const devices: MqttClient[] = []

  const connect = async (id: string, secret: string, reconnectPeriod = 0) => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
      clientId: id,
      username: id,
      password: secret,
      protocolVersion: 4,
      reconnectPeriod,
    })
    devices.push(c)
    return c
  }

  beforeAll(async () => {
    mqttPort = await freePort()
    apiPort = await freePort()
    t = await startApp({ commands: FAST, broker: { port: mqttPort }, api: { port: apiPort } })
    dataDir = t.dataDir
  })
  afterAll(async () => {
    for (const d of devices) await d.endAsync(true).catch(() => {})
    await t?.stop()
  })

  it('loses no command when the service stops between send and ack; a second ack changes nothing', async () => {
    const secret = await t.addDevice({ id: 'sawah-raw', village: 'kemiren' })
    const api = client(t, await login(t))
    // A device that receives but does not answer yet (as if its ack were still on its way).
    const device = await connect('sawah-raw', secret, 100)
    const received: string[] = []
    device.on('message', (_topic, payload) =>
      received.push((JSON.parse(payload.toString()) as { id: string }).id),
    )
    await device.subscribeAsync('kampung/kemiren/sawah-raw/down', { qos: 1 })
    expect((await api.send('sawah-raw', { id: 'cmd-r1', kind: 'reboot' })).status).toBe(201)
    await waitFor('command delivered', () => received.length === 1)
    await waitFor('state sent', async () => (await api.get('cmd-r1')).state === 'sent')

    // The service goes down before the device answers, and comes back on the same data.
    await t.app.stop()
    t = await startApp({ commands: FAST, broker: { port: mqttPort }, api: { port: apiPort } }, dataDir)
    const api2 = client(t, await login2(t))
    expect((await api2.get('cmd-r1')).state).toBe('sent')
    // The device reconnects and resubscribes: the unacknowledged command comes again (same id).
    await waitFor('command sent again after the restart', () => received.length >= 2, 10_000)
    expect(new Set(received)).toEqual(new Set(['cmd-r1']))
    await device.publishAsync('kampung/kemiren/sawah-raw/ack', JSON.stringify({ id: 'cmd-r1', ok: true }), {
      qos: 1,
    })
    const done = await api2.get('cmd-r1')
    expect(done).toMatchObject({ state: 'acknowledged', acks: 1 })
    // Acknowledging twice changes nothing but the count; an acknowledged command is not sent again.
    await device.publishAsync(
      'kampung/kemiren/sawah-raw/ack',
      JSON.stringify({ id: 'cmd-r1', ok: false, error: 'late' }),
      { qos: 1 },
    )
    const twice = await api2.get('cmd-r1')
    expect(twice).toEqual({ ...done, acks: 2 })
    const receivedBefore = received.length
    await new Promise((r) => setTimeout(r, 1_500)) // longer than resendAfterS
    expect(received.length).toBe(receivedBefore)
  }, 40_000)

  it('a device cannot send commands, answer for another, or read another device’s down topic', async () => {
    const a = await t.addDevice({ id: 'sawah-a', village: 'kemiren' })
    const b = await t.addDevice({ id: 'sawah-b', village: 'kemiren' })
    const deviceB = await connect('sawah-b', b)
    const gotB: string[] = []
    deviceB.on('message', (topic) => gotB.push(topic))
    await deviceB.subscribeAsync('kampung/kemiren/sawah-b/down', { qos: 1 })

    // Reading another's down topic: refused (SUBACK 128); its own: granted.
    const deviceA = await connect('sawah-a', a)
    // mqtt.js rejects a SUBACK holding any 128 and attaches the packet: read the grants from it
    const suback = await deviceA
      .subscribeAsync(
        ['kampung/kemiren/sawah-b/down', 'kampung/kemiren/+/down', 'kampung/kemiren/sawah-a/down'],
        {
          qos: 1,
        },
      )
      .then(
        () => undefined,
        (err: { packet?: { granted?: number[] } }) => err.packet,
      )
    expect(suback?.granted).toEqual([128, 128, 1])
    // Nor another's acks (a device could learn what was commanded elsewhere).
    const ackSub = await deviceA.subscribeAsync('kampung/kemiren/sawah-b/ack', { qos: 1 }).then(
      () => undefined,
      (err: { packet?: { granted?: number[] } }) => err.packet,
    )
    expect(ackSub?.granted).toEqual([128])

    // Publishing on another's down (a command), on its own down, or on another's ack: refused, the
    // connection is dropped, and nothing reaches device B or the command records.
    for (const topic of [
      'kampung/kemiren/sawah-b/down',
      'kampung/kemiren/sawah-a/down',
      'kampung/kemiren/sawah-b/ack',
    ]) {
      const attacker = await connect('sawah-a', a)
      const closed = new Promise<void>((resolve) => attacker.once('close', () => resolve()))
      attacker.publish(
        topic,
        JSON.stringify({ id: 'evil', kind: 'valve_open', params: { maxDurationS: 60 } }),
        {
          qos: 1,
        },
      )
      await closed
    }
    await new Promise((r) => setTimeout(r, 300))
    expect(gotB).toEqual([])
    expect(t.app.broker!.stats().refused.publish_topic).toBeGreaterThanOrEqual(3)
  }, 30_000)
})

/** After a restart the user exists; a new session is needed (sessions survive, but keep it simple). */
async function login2(t: TestApp): Promise<Session> {
  const res = await fetch(`${t.apiUrl}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'petugas', password: 'petugas-password-1' }),
  })
  expect(res.status).toBe(200)
  return {
    cookie: res.headers.get('set-cookie')!.split(';')[0]!,
    'x-csrf-token': ((await res.json()) as { csrfToken: string }).csrfToken,
  }
}
