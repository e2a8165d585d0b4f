import { rmSync } from 'node:fs'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { boardDriver, buildDistrict, type Fleet, provisionDistrict } from '../../firmware-sim/index.ts'
import { createSimNode } from '../../firmware-sim/node/sim-node.ts'
import { AuditLog } from '../../src/audit/index.ts'
import type { Command, NodeConfigView } from '../../src/commands/index.ts'
import { UserStore } from '../../src/console/index.ts'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'
import { liveFleet } from '../harness/fleet.ts'

/**
 * Issue 17 scope 2 through the real system: the all-in-one app (aedes broker with its ACL, ingest,
 * SQLite store, API), a console officer's session, a village gateway and simulated nodes running
 * their johnny-five firmware on mock boards. The desired configuration is set over the API while the
 * nodes are offline, reaches them when they come online, and what they report applied comes back.
 */
const FAST = { resendAfterS: 1, checkEveryMs: 200 }

interface Session {
  cookie: string
  'x-csrf-token': string
}

async function login(t: TestApp, id: string, villages: string[]): Promise<Session> {
  await new UserStore(t.app.registry).add({ id, role: 'officer', password: `${id}-password-1`, villages })
  const res = await fetch(`${t.apiUrl}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: id, password: `${id}-password-1` }),
  })
  expect(res.status).toBe(200)
  return {
    cookie: res.headers.get('set-cookie')!.split(';')[0]!,
    'x-csrf-token': ((await res.json()) as { csrfToken: string }).csrfToken,
  }
}

type View = NodeConfigView & { error?: string; problems?: string[] }

function client(t: TestApp, session: Session) {
  return {
    async put(device: string, body: unknown): Promise<{ status: number; body: View }> {
      const res = await fetch(`${t.apiUrl}/api/v1/devices/${device}/config`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...session },
        body: JSON.stringify(body),
      })
      return { status: res.status, body: (await res.json()) as View }
    },
    async get(device: string): Promise<{ status: number; body: View }> {
      const res = await fetch(`${t.apiUrl}/api/v1/devices/${device}/config`, { headers: { ...session } })
      return { status: res.status, body: (await res.json()) as View }
    },
    async command(id: string): Promise<Command> {
      const res = await fetch(`${t.apiUrl}/api/v1/commands/${id}`, { headers: { ...session } })
      expect(res.status).toBe(200)
      return (await res.json()) as Command
    },
  }
}

/** Gaps between a device's stored soil moisture readings, split at `atMs`. */
async function gapsAround(t: TestApp, device: string, atMs: number, marginMs: number) {
  const readings = await t.app.store.query({ quantity: 'soil_moisture', device })
  const times = readings.map((r) => r.timeMs).sort((a, b) => a - b)
  const gaps = times.slice(1).map((x, i) => [times[i]!, x - times[i]!] as const)
  return {
    before: gaps.filter(([from, gap]) => from + gap < atMs - marginMs).map(([, gap]) => gap),
    after: gaps.filter(([from]) => from > atMs + marginMs).map(([, gap]) => gap),
  }
}

describe('node configuration: desired (API) → set_config → gateway → firmware → reported', () => {
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
    if (t) rmSync(t.dataDir, { recursive: true, force: true }) // after the restart, t keeps its directory
  })

  it('versions each change, supersedes an unsent version, reaches the node when it comes online, and the node reports the desired version', async () => {
    const startMs = Date.now() - 5_000
    const villages = buildDistrict({
      seed: 11,
      villages: 1,
      fieldsPerVillage: 1,
      treesPerVillage: 0,
      startMs,
    })
    const village = villages[0]!
    const node = village.nodes.find((n) => n.kind === 'soil')!
    const wx = village.nodes.find((n) => n.kind === 'weather')!
    const secrets = await provisionDistrict(t.app.registry, villages)
    const api = client(t, await login(t, 'petugas', [village.id]))

    // Offline (no gateway yet): nothing set, then version 1 waits, queued.
    expect((await api.get(node.id)).body).toMatchObject({ device: node.id, status: 'none', history: [] })
    const v1 = await api.put(node.id, { reportIntervalS: 5 })
    expect(v1.status).toBe(201)
    expect(v1.body).toMatchObject({
      status: 'waiting',
      desired: { version: 1, settings: { reportIntervalS: 5 }, createdBy: 'petugas' },
      command: { id: `config-${node.id}-v1`, kind: 'set_config', state: 'queued' },
    })
    expect(v1.body.waitingSinceMs).toBe(v1.body.desired!.createdAtMs)
    // The same configuration again is no change: no new version.
    const same = await api.put(node.id, { reportIntervalS: 5 })
    expect(same.status).toBe(200)
    expect(same.body.desired!.version).toBe(1)
    // Two more changes while it is offline: each a new version; the older unsent ones are withdrawn.
    expect((await api.put(node.id, { reportIntervalS: 2 })).body.desired!.version).toBe(2)
    const v3 = await api.put(node.id, { reportIntervalS: 3, dryThresholdPct: 5, irrigateS: 60 })
    expect(v3.status).toBe(201)
    expect(v3.body.desired).toMatchObject({ version: 3 })
    expect(v3.body.history.map((h) => [h.version, h.state, h.error])).toEqual([
      [3, 'queued', undefined],
      [2, 'expired', 'superseded by version 3'],
      [1, 'expired', 'superseded by version 2'],
    ])
    // Refused settings: listed, no version made.
    const bad = await api.put(node.id, { reportIntervalS: 0, colour: 'red' })
    expect(bad.status).toBe(400)
    expect(bad.body.error).toBe('invalid_config')
    expect(bad.body.problems!.length).toBe(2)
    // The weather station has no valve: its node will refuse a local dry threshold.
    expect((await api.put(wx.id, { dryThresholdPct: 20 })).status).toBe(201)
    // Every change is in the audit trail, with the officer and the version.
    const audited = new AuditLog(t.app.registry).list().filter((e) => e.action === 'config.set')
    expect(audited.map((e) => [e.actor, e.target, e.detail.version])).toEqual([
      ['petugas', wx.id, 1],
      ['petugas', node.id, 3],
      ['petugas', node.id, 2],
      ['petugas', node.id, 1],
    ])
    // An officer of another village sees no such device.
    t.app.registry.addVillage({ id: 'licin', name: 'Licin' })
    const other = client(t, await login(t, 'lain', ['licin']))
    expect((await other.get(node.id)).status).toBe(404)
    expect((await other.put(node.id, { reportIntervalS: 60 })).status).toBe(404)
    await new Promise((r) => setTimeout(r, 600))
    expect((await api.get(node.id)).body.status).toBe('waiting')

    // The nodes come online through their village gateway, reporting every second.
    driver = boardDriver(1_000)
    fleet = await liveFleet(t, { villages, secrets, startMs, driver })
    await waitFor('version 3 in sync', async () => (await api.get(node.id)).body.status === 'in_sync')
    const syncedAtMs = Date.now()
    const synced = (await api.get(node.id)).body
    expect(synced.reported).toMatchObject({
      version: 3,
      settings: { reportIntervalS: 3, dryThresholdPct: 5, irrigateS: 60 },
      commandId: `config-${node.id}-v3`,
    })
    expect(synced.reported!.version).toBe(synced.desired!.version)
    expect(synced.command).toMatchObject({ state: 'acknowledged' })
    const fw = driver.firmwareOf(node.id)!
    expect(fw.intervalMs).toBe(3_000)
    expect(fw.configVersion).toBe(3)
    expect(fw.dryThresholdPct).toBe(5)
    // The superseded versions never went out, so the node applied only version 3.
    expect((await api.command(`config-${node.id}-v1`)).sends).toBe(0)
    expect((await api.command(`config-${node.id}-v2`)).sends).toBe(0)
    expect(fw.executed).toBe(1)

    // The weather station refused its configuration: failed, with its reason; it reports what it runs.
    await waitFor('weather config answered', async () => (await api.get(wx.id)).body.status === 'failed')
    const refused = (await api.get(wx.id)).body
    expect(refused.error).toBe('no valve on this node (dryThresholdPct)')
    expect(refused.reported).toMatchObject({ version: 0, settings: { reportIntervalS: 1 } })

    // The effect in the stored data: one second apart before version 3, three seconds after it.
    await new Promise((r) => setTimeout(r, 10_000))
    const beforeV4Ms = Date.now()
    const around3 = await gapsAround(t, node.id, syncedAtMs, 1_500)
    expect(around3.before.length).toBeGreaterThanOrEqual(3)
    expect(new Set(around3.before)).toEqual(new Set([1_000]))
    expect(around3.after.length).toBeGreaterThanOrEqual(2)
    expect(new Set(around3.after)).toEqual(new Set([3_000]))

    // A change while online: version 4 arrives at once, and the readings come two seconds apart.
    const v4 = await api.put(node.id, { reportIntervalS: 2 })
    expect(v4.body.desired!.version).toBe(4)
    await waitFor('version 4 in sync', async () => (await api.get(node.id)).body.reported?.version === 4)
    const v4AtMs = Date.now()
    expect((await api.get(node.id)).body).toMatchObject({
      status: 'in_sync',
      reported: { version: 4, settings: { reportIntervalS: 2 } },
    })
    expect(fw.dryThresholdPct).toBeUndefined() // version 4 left it out: the rule is off
    expect(fw.executed).toBe(2)
    await new Promise((r) => setTimeout(r, 8_000))
    const around4 = await gapsAround(t, node.id, v4AtMs, 1_000)
    expect(around4.before.filter((g) => g !== 3_000 && g !== 1_000)).toEqual([])
    expect(beforeV4Ms).toBeLessThan(v4AtMs)
    expect(around4.after.length).toBeGreaterThanOrEqual(2)
    expect(new Set(around4.after)).toEqual(new Set([2_000]))
    await fleet.stop()
    driver.stop()
    fleet = undefined
    driver = undefined
  }, 60_000)

  it('a version sent but overtaken is withdrawn, and the node does not apply it after the newer one', async () => {
    const secret = await t.addDevice({ id: 'sawah-raw', village: 'kemiren' })
    const api = client(t, await login(t, 'petugas2', ['kemiren']))
    // The node's firmware behind a plain MQTT connection that holds what it receives until told.
    const node = await createSimNode({
      config: { kind: 'soil', deviceId: 'sawah-raw', intervalMs: 60_000 },
      environment: () => ({ soil_moisture: 30, soil_temperature: 27, battery_voltage: 4 }),
    })
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${t.mqttPort}`, {
      clientId: 'sawah-raw',
      username: 'sawah-raw',
      password: secret,
      protocolVersion: 4,
      reconnectPeriod: 0,
    })
    const held: Buffer[] = []
    device.on('message', (_topic, payload) => held.push(payload))
    await device.subscribeAsync('kampung/kemiren/sawah-raw/down', { qos: 1 })
    const answer = async (payload: Buffer) => {
      const ack = node.firmware.handleCommand(payload)
      await device.publishAsync('kampung/kemiren/sawah-raw/ack', JSON.stringify(ack), { qos: 1 })
    }
    try {
      expect((await api.put('sawah-raw', { reportIntervalS: 600 })).status).toBe(201)
      await waitFor('version 1 delivered', () => held.length === 1)
      await waitFor('version 1 sent', async () => (await api.command('config-sawah-raw-v1')).state === 'sent')
      // Version 2 while version 1 is still unanswered: 1 is withdrawn (not sent again), 2 goes out.
      const isV1 = (p: Buffer) => (JSON.parse(p.toString()) as { id: string }).id === 'config-sawah-raw-v1'
      expect((await api.put('sawah-raw', { reportIntervalS: 300 })).body.history[1]).toMatchObject({
        version: 1,
        state: 'expired',
        error: 'superseded by version 2',
      })
      const v1Deliveries = held.filter(isV1).length
      await waitFor('version 2 delivered', () =>
        held.some((p) => (JSON.parse(p.toString()) as { id: string }).id === 'config-sawah-raw-v2'),
      )
      const v1 = held.find(isV1)!
      const v2 = held.find((p) => (JSON.parse(p.toString()) as { id: string }).id === 'config-sawah-raw-v2')!
      // The node handles them out of order: 2, then the late 1.
      await answer(v2)
      await answer(v1)
      expect(node.firmware.intervalMs).toBe(300_000)
      expect(node.firmware.configVersion).toBe(2)
      const view = (await api.get('sawah-raw')).body
      expect(view).toMatchObject({
        status: 'in_sync',
        desired: { version: 2 },
        reported: { version: 2, settings: { reportIntervalS: 300 } },
      })
      expect(await api.command('config-sawah-raw-v1')).toMatchObject({
        state: 'failed',
        error: 'superseded: version 2 is applied',
      })
      await new Promise((r) => setTimeout(r, 1_500)) // longer than resendAfterS: nothing more comes
      expect(held.filter(isV1).length).toBe(v1Deliveries)
    } finally {
      await device.endAsync(true)
      node.stop()
    }
  }, 30_000)

  it('a version set before a service restart reaches the node after it, once, and is reported', async () => {
    const secret = await t.addDevice({ id: 'sawah-restart', village: 'kemiren' })
    const before = client(t, await login(t, 'petugas3', ['kemiren']))
    expect((await before.put('sawah-restart', { reportIntervalS: 120 })).status).toBe(201)
    // The service goes down with version 1 queued, and comes back on the same data.
    const dataDir = t.dataDir
    await t.app.stop()
    t = await startApp({ commands: FAST }, dataDir)
    const node = await createSimNode({
      config: { kind: 'soil', deviceId: 'sawah-restart', intervalMs: 60_000 },
      environment: () => ({ soil_moisture: 30, soil_temperature: 27, battery_voltage: 4 }),
    })
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${t.mqttPort}`, {
      clientId: 'sawah-restart',
      username: 'sawah-restart',
      password: secret,
      protocolVersion: 4,
      reconnectPeriod: 0,
    })
    device.on('message', (_topic, payload) => {
      const ack = node.firmware.handleCommand(payload)
      if (ack) device.publish('kampung/kemiren/sawah-restart/ack', JSON.stringify(ack), { qos: 1 })
    })
    try {
      await device.subscribeAsync('kampung/kemiren/sawah-restart/down', { qos: 1 })
      await waitFor(
        'in sync after the restart',
        () => t.app.nodeConfig!.get('sawah-restart').status === 'in_sync',
      )
      expect(t.app.nodeConfig!.get('sawah-restart')).toMatchObject({
        desired: { version: 1, createdBy: 'petugas3' },
        reported: { version: 1, settings: { reportIntervalS: 120 } },
      })
      expect(node.firmware.intervalMs).toBe(120_000)
      expect(node.firmware.executed).toBe(1)
    } finally {
      await device.endAsync(true)
      node.stop()
    }
  }, 30_000)
})
