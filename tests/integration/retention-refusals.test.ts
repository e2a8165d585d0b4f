import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { influxCount, influxQuery } from '../harness/influxql.ts'

const DAY_MS = 86_400_000
const V = 'kemiren'

interface ErrorReport {
  accepted: number
  rejected: Array<{ path: string; reason: string; message: string }>
}

/**
 * One message never fails another (issue 18): a device sending readings older than InfluxDB's raw
 * retention, into the real influxd, through the embedded broker. Its readings are refused at decode
 * (`bad_time`, on its errors topic); a neighbour's PUBACKs are not delayed. And when InfluxDB still
 * refuses lines the decoder let through (its policy shorter than configured), the partial write is
 * settled per message: stored messages are acknowledged, the refused readings reported.
 */
describe('readings beyond the retention, real InfluxDB', () => {
  let influx: InfluxdHandle
  let t: TestApp
  const secrets: Record<string, string> = {}
  const clients: mqtt.MqttClient[] = []

  beforeAll(async () => {
    influx = await startInfluxd()
    t = await startApp({ store: { kind: 'influx', influx: { url: influx.url, database: 'kampung' } } })
    for (const id of ['old-clock', 'neighbour', 'mixed'])
      secrets[id] = await t.addDevice({ id, village: V, format: 'json' })
  })

  afterAll(async () => {
    for (const c of clients) c.end(true)
    await t?.stop()
    await influx?.stop()
  })

  async function connect(id: string): Promise<{ client: mqtt.MqttClient; reports: ErrorReport[] }> {
    const client = mqtt.connect(`mqtt://127.0.0.1:${t.mqttPort}`, {
      clientId: id,
      username: id,
      password: secrets[id],
      reconnectPeriod: 0,
    })
    clients.push(client)
    const reports: ErrorReport[] = []
    client.on('message', (_topic, payload) => reports.push(JSON.parse(payload.toString()) as ErrorReport))
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve())
      client.once('error', reject)
    })
    await client.subscribeAsync(`kampung/${V}/${id}/errors`, { qos: 1 })
    return { client, reports }
  }

  /** Publishes at QoS 1; resolves with the ms until the PUBACK. */
  async function publish(client: mqtt.MqttClient, id: string, body: unknown): Promise<number> {
    const started = performance.now()
    await client.publishAsync(`kampung/${V}/${id}/up`, JSON.stringify(body), { qos: 1 })
    return performance.now() - started
  }

  it('refuses beyond-retention readings at decode (bad_time) without delaying a neighbour', async () => {
    const bad = await connect('old-clock')
    const good = await connect('neighbour')
    const now = Date.now()
    const old = now - 100 * DAY_MS // after 2020, before the 90-day raw retention
    const N = 150
    const badAcks = Array.from({ length: N }, (_, i) =>
      publish(bad.client, 'old-clock', { ts: old + i * 1000, values: { soil_moisture: 30 } }),
    )
    const goodAcks = Array.from({ length: N }, (_, i) =>
      publish(good.client, 'neighbour', { ts: now - i * 1000, values: { soil_moisture: 25 } }),
    )
    const goodMs = await Promise.all(goodAcks)
    await Promise.all(badAcks)
    // Every PUBACK of the neighbour came (a stalled batch never acknowledges), and quickly.
    expect(goodMs).toHaveLength(N)
    expect(Math.max(...goodMs)).toBeLessThan(5_000)
    expect(await influxCount(influx.url, 'kampung', 'soil_moisture', `WHERE "device" = 'neighbour'`)).toBe(N)
    expect(await influxCount(influx.url, 'kampung', 'soil_moisture', `WHERE "device" = 'old-clock'`)).toBe(0)
    await waitFor('old-clock error reports', () => bad.reports.length === N)
    const first = bad.reports[0]!
    expect(first.accepted).toBe(0)
    expect(first.rejected).toEqual([
      expect.objectContaining({
        path: '$.ts',
        reason: 'bad_time',
        message: expect.stringMatching(/older than the store keeps readings \(90 days/),
      }),
    ])
    expect(good.reports).toEqual([])
  })

  it('over HTTP: a reading beyond the retention is a 422 with bad_time, not a 500 on every retry', async () => {
    const basic = `Basic ${Buffer.from(`old-clock:${secrets['old-clock']}`).toString('base64')}`
    const now = Date.now()
    const res = await fetch(`${t.apiUrl}/api/v1/telemetry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic },
      body: JSON.stringify([
        { ts: now - 100 * DAY_MS, values: { soil_moisture: 30 } },
        { ts: now, values: { soil_moisture: 31 } },
      ]),
    })
    expect(res.status).toBe(422)
    expect(await res.json()).toMatchObject({
      error: 'partially_rejected',
      accepted: 1,
      rejected: [{ path: '$[0].ts', reason: 'bad_time' }],
    })
  })

  it('settles a partial write per message when InfluxDB refuses lines the decoder let through', async () => {
    // InfluxDB's policy shorter than the store was configured with (changed behind its back):
    // the decoder lets 2-day-old readings through, InfluxDB drops them ("beyond retention policy").
    const res = await fetch(`${influx.url}/query`, {
      method: 'POST',
      body: new URLSearchParams({ q: 'ALTER RETENTION POLICY "raw" ON "kampung" DURATION 1d' }),
    })
    expect(res.ok).toBe(true)
    const mixed = await connect('mixed')
    const good = await connect('neighbour')
    const now = Date.now()
    const acks = await Promise.all([
      publish(mixed.client, 'mixed', [
        { ts: now - 2 * DAY_MS, values: { soil_moisture: 40 } },
        { ts: now, values: { soil_moisture: 41 } },
      ]),
      ...Array.from({ length: 20 }, (_, i) =>
        publish(good.client, 'neighbour', { ts: now + 1 + i, values: { soil_moisture: 26 } }),
      ),
    ])
    expect(acks).toHaveLength(21)
    // The mixed message's fresh reading is stored, the refused one reported; the neighbour's all stored.
    const rows = await influxQuery(
      influx.url,
      'kampung',
      `SELECT "value" FROM "kampung"."raw"."soil_moisture" WHERE "device" = 'mixed'`,
    )
    expect(rows).toEqual([expect.objectContaining({ time: now, value: 41 })])
    expect(
      await influxCount(
        influx.url,
        'kampung',
        'soil_moisture',
        `WHERE "device" = 'neighbour' AND time > ${now}ms`,
      ),
    ).toBe(20)
    await waitFor('mixed error report', () => mixed.reports.length === 1)
    expect(mixed.reports[0]).toMatchObject({
      accepted: 1,
      rejected: [{ path: '$', reason: 'store_refused', message: expect.stringMatching(/beyond retention/) }],
    })
  })
})
