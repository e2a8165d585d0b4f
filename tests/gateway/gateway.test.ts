import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Gateway, type GatewayOptions, type NodeCredentials } from '../../gateway/gateway.ts'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { influxCount, influxQuery } from '../harness/influxql.ts'
import { freePort } from '../harness/ports.ts'
import { type MqttTap, startTap } from './mqtt-tap.ts'

/**
 * The gateway against the real system: our broker (aedes, auth, ACL) and ingest in one app, the
 * real influxd behind it. Each test uses its own node ids, so counts per device are exact.
 */
const V = 'kemiren'
const DB = 'kampung'
const MINUTE_MS = 60_000
/** Fast reconnects: the tests stop and restart the broker. */
const FAST = {
  reconnectBackoff: { initialMs: 100, maxMs: 400 },
  refusedBackoff: { initialMs: 200, maxMs: 1_000 },
  connectTimeoutMs: 2_000,
}

describe('gateway → broker → ingest → InfluxDB', () => {
  let influx: InfluxdHandle
  let t: TestApp
  let mqttPort: number
  let appDir: string
  let watcher: MqttClient
  /** Between the gateways and the broker: what went over the wire. */
  let tap: MqttTap
  /** Last status and last health report per device, as a subscriber sees them. */
  const statuses = new Map<string, Record<string, unknown>>()
  const healths = new Map<string, Record<string, unknown>>()
  const cleanups: Array<() => Promise<void>> = []
  const gwSecret: { id: string; secret: string } = { id: 'gw-01', secret: '' }

  const appConfig = () => ({
    store: { kind: 'influx' as const, influx: { url: influx.url, database: DB, requestTimeoutMs: 2000 } },
    broker: { port: mqttPort },
  })

  async function connectWatcher(secret: string): Promise<void> {
    watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
      clientId: 'watcher',
      username: 'watcher',
      password: secret,
      protocolVersion: 4,
      reconnectPeriod: 50,
    })
    watcher.on('message', (topic, payload) => {
      const [, , device, leaf] = topic.split('/')
      if (leaf === 'status') statuses.set(device!, JSON.parse(payload.toString()))
      if (leaf === 'health') healths.set(device!, JSON.parse(payload.toString()))
    })
    await watcher.subscribeAsync([`kampung/${V}/+/status`, `kampung/${V}/+/health`], { qos: 1 })
  }

  beforeAll(async () => {
    influx = await startInfluxd()
    mqttPort = await freePort()
    appDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-gw-app-'))
    t = await startApp(appConfig(), appDir)
    tap = await startTap(() => mqttPort)
    gwSecret.secret = await t.addDevice({ id: gwSecret.id, village: V, kind: 'gateway' })
    // Re-read on reconnect: the watcher survives the broker restart of the outage test.
    await connectWatcher(await t.addDevice({ id: 'watcher', village: V, kind: 'service' }))
  })

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
  })

  afterAll(async () => {
    await watcher?.endAsync(true)
    await tap?.close()
    await t?.stop()
    rmSync(appDir, { recursive: true, force: true })
    await influx?.stop()
  })

  async function addNodes(ids: string[]): Promise<Record<string, NodeCredentials>> {
    const nodes: Record<string, NodeCredentials> = {}
    for (const id of ids) nodes[id] = { village: V, secret: await t.addDevice({ id, village: V }) }
    return nodes
  }

  function newGateway(nodes: Record<string, NodeCredentials>, extra: Partial<GatewayOptions> = {}) {
    const dataDir = extra.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'kampung-gw-'))
    const gw = new Gateway({
      gateway: { id: gwSecret.id, village: V, secret: gwSecret.secret },
      url: `mqtt://127.0.0.1:${tap.port}`,
      nodes,
      dataDir,
      ...FAST,
      ...extra,
    })
    cleanups.push(async () => {
      await gw.stop({ drainTimeoutMs: 0 })
      if (!extra.dataDir) rmSync(dataDir, { recursive: true, force: true })
    })
    return { gw, dataDir }
  }

  /** The `up` messages of one device that went over the wire since `from` (an index into tap.publishes). */
  const upsOf = (device: string, from = 0) =>
    tap.publishes
      .slice(from)
      .filter((p) => p.topic === `kampung/${V}/${device}/up`)
      .map((p) => ({ atMs: p.atMs, ts: (JSON.parse(p.payload) as Array<{ ts: number }>).map((e) => e.ts) }))

  const count = (device: string, quantity = 'soil_moisture') =>
    influxCount(influx.url, DB, quantity, `WHERE "device" = '${device}'`).catch(() => 0)

  it('forwards readings with their tags and times; stamps readings without a time with its clock', async () => {
    const nodes = await addNodes(['t1-soil', 't1-wx'])
    // Within the raw retention (90 days) and not in the future (the server refuses node clocks ahead).
    const gatewayNowMs = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 60 * MINUTE_MS
    const { gw } = newGateway(nodes, { clock: () => gatewayNowMs, healthIntervalMs: 200 })
    await gw.start()
    const nodeTimeMs = gatewayNowMs - 30 * MINUTE_MS
    expect(gw.submit('t1-soil', { sensor: 'probe1', values: { soil_moisture: 31.5 } }, nodeTimeMs)).toEqual({
      ok: true,
    })
    expect(gw.submit('t1-soil', { values: { soil_moisture: 30.25, battery_voltage: 3.71 } })).toEqual({
      ok: true,
    })
    expect(gw.submit('t1-wx', { sensor: 'bme280', values: { air_temperature: 29.5 } }, nodeTimeMs)).toEqual({
      ok: true,
    })
    // Refusals are results, not exceptions.
    expect(gw.submit('stranger', { values: { soil_moisture: 1 } })).toMatchObject({
      ok: false,
      reason: 'unknown_device',
    })
    expect(gw.submit('t1-soil', { values: { soil_moisture: Number.NaN } })).toMatchObject({
      ok: false,
      reason: 'invalid',
    })

    await waitFor('3 points of t1-soil and t1-wx', async () => (await count('t1-soil')) === 2)
    await waitFor('t1-wx', async () => (await count('t1-wx', 'air_temperature')) === 1)
    const soil = await influxQuery(
      influx.url,
      DB,
      `SELECT * FROM "${DB}"."raw"."soil_moisture" WHERE "device" = 't1-soil' ORDER BY time`,
    )
    expect(soil).toEqual([
      { time: nodeTimeMs, value: 31.5, village: V, device: 't1-soil', sensor: 'probe1', unit: '%VWC' },
      { time: gatewayNowMs, value: 30.25, village: V, device: 't1-soil', sensor: 'main', unit: '%VWC' },
    ])
    const vbat = await influxQuery(
      influx.url,
      DB,
      `SELECT * FROM "${DB}"."raw"."battery_voltage" WHERE "device" = 't1-soil'`,
    )
    expect(vbat).toEqual([
      { time: gatewayNowMs, value: 3.71, village: V, device: 't1-soil', sensor: 'main', unit: 'V' },
    ])
    const wx = await influxQuery(
      influx.url,
      DB,
      `SELECT * FROM "${DB}"."raw"."air_temperature" WHERE "device" = 't1-wx'`,
    )
    expect(wx).toEqual([
      { time: nodeTimeMs, value: 29.5, village: V, device: 't1-wx', sensor: 'bme280', unit: 'Cel' },
    ])

    await waitFor('queue empty', () => gw.health().queueDepth === 0)
    const h = gw.health()
    expect(h).toMatchObject({
      state: 'online',
      queueDepth: 0,
      oldestQueuedMs: 0,
      forwarded: 3,
      refusedInvalid: 2,
    })
    expect(h.uplink.state).toBe('connected')
    // The health is published retained on the gateway's own health topic; its status is the
    // broker's alone.
    await waitFor('health on the health topic', () => healths.get(gwSecret.id)?.forwarded === 3)
    expect(statuses.get(gwSecret.id)).toEqual({ state: 'online', atMs: expect.any(Number) })
    expect(healths.get(gwSecret.id)).toMatchObject({
      state: 'online',
      queueDepth: 0,
      oldestQueuedMs: 0,
      uplink: { state: 'connected' },
    })
  })

  it('uplink cut then restored: forwards every queued reading once, in order, with its original time', async () => {
    const ids = ['t2-a', 't2-b', 't2-c']
    const nodes = await addNodes(ids)
    const { gw } = newGateway(nodes, { healthIntervalMs: 200 })
    await gw.start()
    await waitFor('uplink connected', () => gw.health().uplink.state === 'connected')

    await t.stop() // the broker side is gone: same dataDir and port come back below
    await waitFor('uplink down', () => gw.health().uplink.state !== 'connected')
    const perNode = 700 // 3 × 700 entries × 2 quantities = 4 200 readings
    const baseTimeMs = Math.floor((Date.now() - 3 * 24 * 3600_000) / MINUTE_MS) * MINUTE_MS
    for (let i = 0; i < perNode; i++) {
      for (const id of ids) {
        const r = gw.submit(
          id,
          { values: { soil_moisture: 20 + (i % 40), battery_voltage: 3.6 } },
          baseTimeMs + i * MINUTE_MS,
        )
        expect(r.ok).toBe(true)
      }
    }
    await new Promise((r) => setTimeout(r, 500)) // a little while down: nothing may leave the queue
    const down = gw.health()
    expect(down.queueDepth).toBe(perNode * ids.length)
    expect(down.oldestQueuedMs).toBeGreaterThan(0)
    expect(down.uplink.state).not.toBe('connected')
    expect(down.forwarded).toBe(0)

    const sentBefore = tap.publishes.length
    t = await startApp(appConfig(), appDir)
    await waitFor('queue drained', () => gw.health().queueDepth === 0, 20_000)
    expect(gw.health().forwarded).toBe(perNode * ids.length)
    for (const id of ids) {
      expect(await count(id), id).toBe(perNode)
      expect(await count(id, 'battery_voltage'), id).toBe(perNode)
      const rows = await influxQuery(
        influx.url,
        DB,
        `SELECT "value" FROM "${DB}"."raw"."soil_moisture" WHERE "device" = '${id}' ORDER BY time`,
      )
      expect(rows.map((r) => r.time)).toEqual(
        Array.from({ length: perNode }, (_, i) => baseTimeMs + i * MINUTE_MS),
      )
      expect(rows[123]).toMatchObject({ time: baseTimeMs + 123 * MINUTE_MS, value: 20 + (123 % 40) })
      // In original order at the broker, in batches, none more than once (no PUBACK was lost here).
      const sent = upsOf(id, sentBefore)
      const times = sent.flatMap((s) => s.ts)
      expect(times).toEqual(Array.from({ length: perNode }, (_, i) => baseTimeMs + i * MINUTE_MS))
      expect(Math.max(...sent.map((s) => s.ts.length))).toBeLessThanOrEqual(200)
    }
    await waitFor('health says connected again', () => healths.get(gwSecret.id)?.queueDepth === 0)
  })

  it('gateway process killed (kill -9) with a queue: a new gateway on the same dir forwards it', async () => {
    const ids = ['t3-a', 't3-b']
    const nodes = await addNodes(ids)
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-gw-kill-'))
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }))
    const perNode = 300
    const baseTimeMs = Math.floor((Date.now() - 2 * 24 * 3600_000) / MINUTE_MS) * MINUTE_MS
    const deadPort = await freePort() // nothing listens: the uplink is down for the whole life of the process
    const options: GatewayOptions = {
      gateway: { id: gwSecret.id, village: V, secret: gwSecret.secret },
      url: `mqtt://127.0.0.1:${deadPort}`,
      nodes,
      dataDir,
      ...FAST,
    }
    const child = spawn(process.execPath, ['--import', 'tsx', 'tests/gateway/fixtures/queue-then-hang.ts'], {
      env: { ...process.env, GATEWAY_FIXTURE: JSON.stringify({ options, nodes: ids, perNode, baseTimeMs }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise((r) => child.once('exit', r))
    cleanups.push(async () => {
      child.kill('SIGKILL')
      await exited
    })
    let out = ''
    child.stdout!.on('data', (d) => {
      out += d.toString()
    })
    child.stderr!.on('data', (d) => {
      out += d.toString()
    })
    await waitFor(`the child queued its readings (output: ${out})`, () => /queued \d+/.test(out), 20_000)
    expect(out).toContain(`queued ${perNode * ids.length}`)
    child.kill('SIGKILL')
    await exited

    const { gw } = newGateway(nodes, { dataDir })
    await gw.start()
    expect(gw.health().queueDepth).toBe(perNode * ids.length)
    await waitFor('queue drained', () => gw.health().queueDepth === 0, 20_000)
    for (const id of ids) {
      expect(await count(id), id).toBe(perNode)
      const last = await influxQuery(
        influx.url,
        DB,
        `SELECT last("value") FROM "${DB}"."raw"."soil_moisture" WHERE "device" = '${id}'`,
      )
      expect(last[0]?.time).toBe(baseTimeMs + (perNode - 1) * MINUTE_MS)
    }
  })

  it('a node with wrong credentials stays queued and does not block the others', async () => {
    const nodes = await addNodes(['t4-good', 't4-bad'])
    nodes['t4-bad'] = { village: V, secret: 'not-the-secret' }
    const { gw } = newGateway(nodes)
    await gw.start()
    const baseTimeMs = Math.floor((Date.now() - 24 * 3600_000) / MINUTE_MS) * MINUTE_MS
    for (let i = 0; i < 50; i++) {
      gw.submit('t4-bad', { values: { soil_moisture: 25 } }, baseTimeMs + i * MINUTE_MS)
      gw.submit('t4-good', { values: { soil_moisture: 26 } }, baseTimeMs + i * MINUTE_MS)
    }
    await waitFor('good node forwarded', async () => (await count('t4-good')) === 50)
    await waitFor('bad node refused', () => gw.health().nodes['t4-bad']?.state === 'refused')
    // Later readings of the good node still flow while the bad one keeps being refused.
    gw.submit('t4-good', { values: { soil_moisture: 27 } }, baseTimeMs + 50 * MINUTE_MS)
    await waitFor('later good reading', async () => (await count('t4-good')) === 51)
    const h = gw.health()
    expect(h.queueDepth).toBe(50)
    expect(h.nodes['t4-good']).toMatchObject({ state: 'connected', forwarded: 51 })
    expect(h.nodes['t4-bad']).toMatchObject({ state: 'refused', forwarded: 0 })
    expect(await count('t4-bad')).toBe(0)
    // Backing off, not spinning: a handful of attempts in this time, not hundreds.
    const refused = t.app.broker?.stats().refused.bad_credentials ?? 0
    expect(refused).toBeGreaterThan(0)
    expect(refused).toBeLessThan(20)
  })

  it('keeps at most maxInFlightPerNode messages unacknowledged and at most maxMessagesPerSec', async () => {
    const nodes = await addNodes(['t5-a'])
    const { gw } = newGateway(nodes, {
      maxInFlightPerNode: 2,
      maxEntriesPerMessage: 10,
      maxMessagesPerSec: 20,
    })
    await gw.start()
    await waitFor('node connected', () => gw.health().nodes['t5-a']?.state === 'connected')
    const baseTimeMs = Math.floor((Date.now() - 12 * 3600_000) / MINUTE_MS) * MINUTE_MS
    const entries = Array.from({ length: 200 }, (_, i) => ({
      values: { soil_moisture: 30 },
      timeMs: baseTimeMs + i * MINUTE_MS,
    }))
    const sentBefore = tap.publishes.length
    expect(gw.submitMany('t5-a', entries)).toEqual({ ok: true })
    await waitFor('all forwarded', () => gw.health().queueDepth === 0, 20_000)
    expect(await count('t5-a')).toBe(200)
    const stats = gw.health().nodes['t5-a']!
    expect(stats.maxInFlightSeen).toBeGreaterThanOrEqual(1)
    expect(stats.maxInFlightSeen).toBeLessThanOrEqual(2)
    // On the wire: never more than 2 PUBLISHes without their PUBACK.
    expect(tap.maxInFlight.get('t5-a:gw')).toBeGreaterThanOrEqual(1)
    expect(tap.maxInFlight.get('t5-a:gw')).toBeLessThanOrEqual(2)
    // 20 messages of 10 at 20 messages/s: spread over ≥ 19 intervals of 50 ms on the wire.
    const sent = upsOf('t5-a', sentBefore)
    expect(sent).toHaveLength(20)
    expect(sent.every((s) => s.ts.length === 10)).toBe(true)
    expect(sent.at(-1)!.atMs - sent[0]!.atMs).toBeGreaterThanOrEqual(19 * 50 - 20)
  })
})
