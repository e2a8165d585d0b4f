import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config.ts'
import { startApp, type TestApp } from '../harness/app.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'

/**
 * Issue 18 scopes 6 and 8, HTTP parts, against the running app on a real InfluxDB: loopback by
 * default, /metrics behind its token, security headers, clean 400s for bad times, authentication
 * before the body, bounded error reports, empty ChirpStack uplinks refused.
 */
const METRICS_TOKEN = 'metrics-token-3c9d2e7f'
const VILLAGE = 'kemiren'

describe('API hardening', () => {
  let influx: InfluxdHandle
  let t: TestApp
  let service = ''
  let gateway = ''
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
  const post = (query: string, body: string, auth: string) =>
    fetch(`${t.apiUrl}/api/v1/telemetry${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth },
      body,
    })

  beforeAll(async () => {
    influx = await startInfluxd()
    t = await startApp({
      store: { kind: 'influx', influx: { url: influx.url, database: 'kampung' } },
      api: { metricsToken: METRICS_TOKEN },
    })
    service = basic('ops', await t.addDevice({ id: 'ops', village: VILLAGE, kind: 'service' }))
    gateway = basic('gw-1', await t.addDevice({ id: 'gw-1', village: VILLAGE, kind: 'gateway' }))
    await t.addDevice({ id: 'lora-7', village: VILLAGE, format: 'chirpstack' })
    await t.addDevice({ id: 'soil-1', village: VILLAGE })
  }, 60_000)

  afterAll(async () => {
    await t?.stop()
    await influx?.stop()
  })

  it('listens on loopback unless configured', () => {
    expect(parseConfig({}).api.host).toBe('127.0.0.1')
    expect(parseConfig({ api: { host: '0.0.0.0' } }).api.host).toBe('0.0.0.0')
    // the broker too: gateways on the LAN are an explicit choice (broker.host / KAMPUNG_MQTT_HOST)
    expect(parseConfig({}).broker.host).toBe('127.0.0.1')
    expect(parseConfig({ broker: { host: '0.0.0.0' } }).broker.host).toBe('0.0.0.0')
  })

  it('sends security headers on every response (JSON, 401, 404, metrics)', async () => {
    for (const [path, status] of [
      ['/health', 200],
      ['/api/v1/readings?quantity=soil_moisture', 401],
      ['/nowhere', 404],
      ['/metrics', 401],
    ] as const) {
      const res = await fetch(`${t.apiUrl}${path}`)
      expect(res.status, path).toBe(status)
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff')
      expect(res.headers.get('x-frame-options'), path).toBe('DENY')
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer')
      expect(res.headers.get('content-security-policy'), path).toContain("frame-ancestors 'none'")
    }
  })

  it('/metrics needs api.metricsToken when one is set', async () => {
    expect((await fetch(`${t.apiUrl}/metrics`)).status).toBe(401)
    const wrong = await fetch(`${t.apiUrl}/metrics`, {
      headers: { authorization: 'Bearer metrics-token-3c9d2e7e' },
    })
    expect(wrong.status).toBe(401)
    const ok = await fetch(`${t.apiUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain('kampung_messages_total')
  })

  it('a time InfluxDB cannot parse is a 400 naming the parameter, not a 500 with its parser text', async () => {
    for (const from of ['99999999999999999999', '-300000-01-01', `${'9'.repeat(5000)}`]) {
      const res = await fetch(`${t.apiUrl}/api/v1/readings?quantity=soil_moisture&from=${from}`, {
        headers: { authorization: service },
      })
      const body = (await res.json()) as { error: string; message: string }
      expect(res.status, from.slice(0, 30)).toBe(400)
      expect(body.error).toBe('bad_request')
      expect(body.message).toMatch(/^from: /)
      expect(body.message.length).toBeLessThan(200)
    }
    const twice = await fetch(`${t.apiUrl}/api/v1/readings?quantity=soil_moisture&from=1&from=2`, {
      headers: { authorization: service },
    })
    expect(twice.status).toBe(400)
    const fine = await fetch(`${t.apiUrl}/api/v1/readings?quantity=soil_moisture&from=0`, {
      headers: { authorization: service },
    })
    expect(fine.status).toBe(200)
  })

  it('POST /api/v1/telemetry answers 401 before reading the body, and hangs up', async () => {
    const socket = net.connect(Number(new URL(t.apiUrl).port), '127.0.0.1')
    await new Promise((r) => socket.once('connect', r))
    let answer = ''
    socket.on('data', (d: Buffer) => {
      answer += d.toString('latin1')
    })
    const closed = new Promise((r) => socket.once('close', r))
    // Announce 1 000 000 bytes and send 10: an API that reads the body first never answers.
    socket.write(
      'POST /api/v1/telemetry HTTP/1.1\r\nHost: kampung\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n[{"ts":1,',
    )
    const deadline = Date.now() + 3000
    while (!answer.includes('\r\n\r\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(answer).toMatch(/^HTTP\/1\.1 401 /)
    expect(answer.toLowerCase()).toContain('connection: close')
    await Promise.race([
      closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('not closed')), 3000)),
    ])
    socket.destroy()
  })

  it('a 0.8 MB POST of bad entries gets at most 50 errors and a summary, not a report 50 times its size', async () => {
    const entry = JSON.stringify({ ts: 'yesterday', values: { soil_moisture: 30 } })
    const count = Math.floor(800_000 / (entry.length + 1))
    const body = `[${Array(count).fill(entry).join(',')}]`
    const res = await post('?device=soil-1', body, gateway)
    const text = await res.text()
    expect(res.status).toBe(422)
    const out = JSON.parse(text) as { accepted: number; rejected: Array<{ reason: string; message: string }> }
    expect(out.accepted).toBe(0)
    expect(out.rejected).toHaveLength(51)
    expect(out.rejected[50]!.message).toBe(`${count - 50} more errors not listed`)
    expect(text.length).toBeLessThan(20_000)
  })

  it('a ChirpStack uplink with neither `object` nor `data` is refused with its reason; other events still 200', async () => {
    const empty = { deviceInfo: { deviceName: 'lora-7', devEui: '0004a30b001c0530' }, fCnt: 3, fPort: 1 }
    const res = await post('?event=up&format=chirpstack', JSON.stringify(empty), gateway)
    expect(res.status).toBe(422)
    const body = (await res.json()) as { error: string; message: string }
    expect(body.error).toBe('empty_uplink')
    expect(body.message).toMatch(/carries `object` or `data`/)
    const status = await post('?event=status&format=chirpstack', JSON.stringify(empty), gateway)
    expect(status.status).toBe(200)
  })

  it('a service account posts for a network server’s devices only, never for a node that reports by itself', async () => {
    const reading = JSON.stringify([{ ts: Date.now() - 60_000, values: { soil_moisture: 31 } }])
    const forged = await post('?device=soil-1', reading, service)
    expect(forged.status).toBe(403)
    expect(((await forged.json()) as { message: string }).message).toMatch(
      /service account "ops" may post readings only for devices registered as reached through a LoRaWAN network server.*"soil-1" is json/,
    )
    expect(await t.app.store.query({ quantity: 'soil_moisture', device: 'soil-1' })).toEqual([])
    // its own integration's device: taken
    const uplink = {
      time: new Date(Date.now() - 60_000).toISOString(),
      deviceInfo: { deviceName: 'lora-7', devEui: '0004a30b001c0530' },
      fCnt: 4,
      fPort: 1,
      object: { soil_moisture: 29.5 },
    }
    const ok = await post('?event=up&format=chirpstack', JSON.stringify(uplink), service)
    expect(ok.status, await ok.clone().text()).toBe(200)
  })
})
