import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { topics } from '../../src/telemetry/index.ts'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'

const V = 'kemiren'
const BASE_MS = Date.UTC(2026, 10, 20)

/** A JSON payload of `n` soil-moisture readings a minute apart, starting at entry `from`. */
function readings(n: number, from: number): string {
  return JSON.stringify(
    Array.from({ length: n }, (_, i) => ({
      ts: BASE_MS + (from + i) * 60_000,
      values: { soil_moisture: 30 },
    })),
  )
}

interface ErrorReport {
  source: string
  accepted: number
  rejected: Array<{ reason: string; message: string }>
}

/**
 * Per-device quotas through the running service (embedded broker, SQLite store): MQTT and HTTP
 * share one count per device; the device over its quota gets the reason on its errors topic and
 * a 429, the metric counts it, a neighbour sending at the same time is unaffected.
 */
describe('per-device quotas (MQTT and HTTP)', () => {
  let t: TestApp
  const secrets: Record<string, string> = {}
  const clients: MqttClient[] = []
  const reports: Record<string, ErrorReport[]> = {}

  const connect = async (id: string) => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${t.mqttPort}`, {
      clientId: id,
      username: id,
      password: secrets[id],
      reconnectPeriod: 0,
    })
    clients.push(client)
    reports[id] = []
    client.on('message', (_topic, payload) => reports[id]!.push(JSON.parse(payload.toString())))
    await client.subscribeAsync(topics.errors(V, id), { qos: 1 })
    return client
  }
  const count = (device: string) => t.app.store.count({ quantity: 'soil_moisture', device })
  const post = (id: string, body: string) =>
    fetch(`${t.apiUrl}/api/v1/telemetry`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${id}:${secrets[id]}`).toString('base64')}`,
      },
      body,
    })

  beforeAll(async () => {
    t = await startApp({
      deviceLimits: { quota: { messagesPerMinute: 60, messagesBurst: 10, readingsPerDay: 100 } },
    })
    for (const id of ['noisy', 'quiet', 'bulky']) secrets[id] = await t.addDevice({ id, village: V })
  })
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync()))
    await t?.stop()
  })

  it('rate: one device over its messages per minute is refused with a reason; its neighbour is not', async () => {
    const noisy = await connect('noisy')
    const quiet = await connect('quiet')
    // Both at once: 15 messages from the noisy node, 10 from the quiet one (its whole burst).
    await Promise.all([
      ...Array.from({ length: 15 }, (_, i) =>
        noisy.publishAsync(topics.up(V, 'noisy'), readings(1, i), { qos: 1 }),
      ),
      ...Array.from({ length: 10 }, (_, i) =>
        quiet.publishAsync(topics.up(V, 'quiet'), readings(1, i), { qos: 1 }),
      ),
    ])
    // Every message was acknowledged (resending would not make it storable); 10 stored each.
    expect(await count('noisy')).toBe(10)
    expect(await count('quiet')).toBe(10)
    await waitFor('the refusal on the errors topic', () => reports.noisy!.length > 0, 5_000)
    const [report] = reports.noisy!
    expect(report).toMatchObject({ source: topics.up(V, 'noisy'), accepted: 0 })
    expect(report!.rejected).toEqual([
      {
        path: '$',
        reason: 'rate_limited',
        message: expect.stringContaining('over 60 messages per minute (burst 10)'),
      },
    ])
    // Reported once for the five refusals (the metric counts all five); nothing for the neighbour.
    await new Promise((r) => setTimeout(r, 300))
    expect(reports.noisy).toHaveLength(1)
    expect(reports.quiet).toEqual([])
    const metrics = await (await fetch(`${t.apiUrl}/metrics`)).text()
    expect(metrics).toContain('kampung_quota_refusals_total{quota="rate"} 5')
    expect(metrics).toContain('kampung_readings_rejected_total{reason="rate_limited"} 5')
  })

  it('daily volume: HTTP and MQTT share one count; over it, 429 and the reason on the errors topic', async () => {
    const bulky = await connect('bulky')
    for (let i = 0; i < 3; i++) expect((await post('bulky', readings(30, i * 30))).status).toBe(200)
    const over = await post('bulky', readings(30, 90))
    expect(over.status).toBe(429)
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await over.json()).toMatchObject({
      error: 'quota_exceeded',
      accepted: 0,
      rejected: [
        { reason: 'quota_exceeded', message: expect.stringContaining('90 of 100 readings stored today') },
      ],
    })
    // What still fits is taken over MQTT; the next message is not.
    await bulky.publishAsync(topics.up(V, 'bulky'), readings(10, 120), { qos: 1 })
    await bulky.publishAsync(topics.up(V, 'bulky'), readings(1, 130), { qos: 1 })
    expect(await count('bulky')).toBe(100)
    await waitFor('the MQTT refusal on the errors topic', () => reports.bulky!.length > 0, 5_000)
    expect(reports.bulky![0]!.rejected[0]).toMatchObject({ reason: 'quota_exceeded' })
    // The quiet node still sends (one token regained per second at 60 per minute).
    const quiet = clients[1]!
    await new Promise((r) => setTimeout(r, 1100))
    await quiet.publishAsync(topics.up(V, 'quiet'), readings(1, 50), { qos: 1 })
    expect(await count('quiet')).toBe(11)
    const metrics = await (await fetch(`${t.apiUrl}/metrics`)).text()
    expect(metrics).toContain('kampung_quota_refusals_total{quota="daily"} 2')
  })
})
