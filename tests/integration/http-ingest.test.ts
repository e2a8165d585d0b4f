import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChannelMap, DecodeResult } from '../../src/telemetry/index.ts'
import { startApp, type TestApp } from '../harness/app.ts'

/** Gateways that cannot speak MQTT POST the same payloads; here on the embedded (SQLite) store. */
describe('POST /api/v1/telemetry', () => {
  let t: TestApp
  let gwSecret: string
  let nodeSecret: string
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
  const post = (query: string, body: string, auth?: string) =>
    fetch(`${t.apiUrl}/api/v1/telemetry${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
      body,
    })

  beforeAll(async () => {
    t = await startApp({ api: { maxBodyBytes: 64 * 1024 } })
    gwSecret = await t.addDevice({ id: 'gw-kemiren', village: 'kemiren', kind: 'gateway' })
    nodeSecret = await t.addDevice({ id: 'sawah-1', village: 'kemiren' })
    await t.addDevice({ id: 'sawah-9', village: 'glagah' })
    await t.addDevice({
      id: 'lora-7',
      village: 'kemiren',
      format: 'chirpstack',
      channels: { '1': { quantity: 'soil_moisture', sensor: 'probe' } },
    })
  })
  afterAll(() => t?.stop())

  it('a gateway flushes a backlog for a node of its village; 200 once stored', async () => {
    const base = Date.UTC(2026, 10, 20)
    const backlog = Array.from({ length: 50 }, (_, i) => ({
      ts: base + i * 60_000,
      values: { soil_moisture: 30 + i / 10 },
    }))
    const res = await post('?device=sawah-1', JSON.stringify(backlog), basic('gw-kemiren', gwSecret))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ accepted: 50, rejected: [] })
    const stored = await t.app.store.query({ quantity: 'soil_moisture', device: 'sawah-1' })
    expect(stored).toHaveLength(50)
    expect(stored[49]).toMatchObject({
      timeMs: base + 49 * 60_000,
      value: 34.9,
      village: 'kemiren',
      sensor: 'main',
    })
  })

  it('lists each rejected reading and why, storing the good ones (422)', async () => {
    const body = [
      { ts: Date.UTC(2026, 10, 21), values: { soil_moisture: 33, soil_temperature: 999, wetness: 3 } },
      { ts: 'yesterday', values: { soil_moisture: 34 } },
    ]
    const res = await post('', JSON.stringify(body), basic('sawah-1', nodeSecret))
    expect(res.status).toBe(422)
    const out = (await res.json()) as {
      accepted: number
      rejected: Array<{ path: string; reason: string; message: string }>
    }
    expect(out.accepted).toBe(1)
    const reasons = out.rejected.map((r) => r.reason).sort()
    expect(reasons).toEqual(['bad_time', 'out_of_range', 'unknown_quantity'])
    for (const r of out.rejected) expect(r.path).toMatch(/^\$\[/)
    expect(
      await t.app.store.count({
        quantity: 'soil_moisture',
        device: 'sawah-1',
        fromMs: Date.UTC(2026, 10, 21),
      }),
    ).toBe(1)
  })

  it('malformed JSON is a 422 naming the problem, not a crash', async () => {
    const res = await post('', '{"values": [', basic('sawah-1', nodeSecret))
    expect(res.status).toBe(422)
    const out = (await res.json()) as { accepted: number; rejected: Array<{ reason: string }> }
    expect(out.accepted).toBe(0)
    expect(out.rejected[0]!.reason).toBe('malformed')
  })

  it('refuses bad credentials (401), another village (403), unknown device (404), unknown format (400), too large (413)', async () => {
    const body = JSON.stringify({ values: { soil_moisture: 30 } })
    expect((await post('', body)).status).toBe(401)
    expect((await post('', body, basic('gw-kemiren', 'wrong'))).status).toBe(401)
    const foreign = await post('?device=sawah-9', body, basic('gw-kemiren', gwSecret))
    expect(foreign.status).toBe(403)
    expect(((await foreign.json()) as { message: string }).message).toContain('sawah-9')
    expect((await post('?device=nope', body, basic('gw-kemiren', gwSecret))).status).toBe(404)
    expect((await post('?format=xml', body, basic('gw-kemiren', gwSecret))).status).toBe(400)
    // a node may post only for itself
    expect((await post('?device=sawah-1', body, basic('sawah-1', nodeSecret))).status).toBe(200)
    const big = await post(
      '',
      JSON.stringify({ values: { soil_moisture: 1 }, pad: 'x'.repeat(80 * 1024) }),
      basic('sawah-1', nodeSecret),
    )
    expect(big.status).toBe(413)
    expect(((await big.json()) as { error: string }).error).toBe('too_large')
  })

  it('takes ChirpStack v4 uplinks (device named in the payload; LPP in data) and acknowledges other events', async () => {
    const uplink = {
      deduplicationId: 'a1b2',
      time: '2026-11-22T01:00:00Z',
      deviceInfo: { devEui: '0004a30b001c0530', deviceName: 'lora-7' },
      fCnt: 12,
      fPort: 1,
      data: Buffer.from('01020c4e', 'hex').toString('base64'), // ch1 analog 31.50 → soil_moisture
      rxInfo: [{ rssi: -97, snr: 7.5 }],
    }
    const res = await post(
      '?event=up&format=chirpstack',
      JSON.stringify(uplink),
      basic('gw-kemiren', gwSecret),
    )
    expect(res.status).toBe(200)
    const sm = await t.app.store.query({ quantity: 'soil_moisture', device: 'lora-7' })
    expect(sm).toEqual([
      {
        timeMs: Date.UTC(2026, 10, 22, 1),
        village: 'kemiren',
        device: 'lora-7',
        sensor: 'probe',
        quantity: 'soil_moisture',
        value: 31.5,
      },
    ])
    const join = await post(
      '?event=join&format=chirpstack',
      JSON.stringify({ deviceInfo: { deviceName: 'lora-7' } }),
      basic('gw-kemiren', gwSecret),
    )
    expect(join.status).toBe(200)
  })

  it("stores every reading of The Things Stack's CayenneLPP formatter uplinks (golden fixtures)", async () => {
    for (const name of ['tts-lpp-formatter', 'tts-lpp-formatter-soil-node']) {
      const dir = join(import.meta.dirname, '../../src/telemetry/testdata', name)
      const context = JSON.parse(readFileSync(join(dir, 'context.json'), 'utf8')) as {
        device: string
        channels: ChannelMap
      }
      const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as DecodeResult
      await t.addDevice({ id: context.device, village: 'kemiren', format: 'tts', channels: context.channels })
      // The webhook's base URL carries ?format=tts; TTS names the device in end_device_ids.
      const res = await post(
        '?format=tts',
        readFileSync(join(dir, 'input.json'), 'utf8'),
        basic('gw-kemiren', gwSecret),
      )
      const body = (await res.json()) as {
        accepted: number
        rejected: Array<{ path: string; reason: string }>
      }
      expect(res.status, JSON.stringify(body)).toBe(expected.errors.length === 0 ? 200 : 422)
      expect(body.accepted).toBe(expected.readings.length)
      expect(body.rejected.map(({ path, reason }) => ({ path, reason }))).toEqual(
        expected.errors.map(({ path, reason }) => ({ path, reason })),
      )
      expect(expected.readings.length).toBeGreaterThan(2)
      for (const reading of expected.readings) {
        const stored = await t.app.store.query({
          quantity: reading.quantity,
          device: context.device,
          sensor: reading.sensor,
        })
        expect(stored, `${name}: ${reading.sensor} ${reading.quantity}`).toEqual([
          { ...reading, village: 'kemiren' },
        ])
      }
    }
  })

  it('serves stored readings to authenticated callers, limited to their village', async () => {
    const get = (query: string, auth?: string) =>
      fetch(`${t.apiUrl}/api/v1/readings${query}`, { headers: auth ? { authorization: auth } : {} })
    expect((await get('?quantity=soil_moisture')).status).toBe(401)
    const ok = await get('?quantity=soil_moisture&device=sawah-1&limit=2', basic('gw-kemiren', gwSecret))
    expect(ok.status).toBe(200)
    const body = (await ok.json()) as { readings: Array<{ device: string; value: number; timeMs: number }> }
    expect(body.readings).toHaveLength(2)
    expect(body.readings[0]).toMatchObject({ device: 'sawah-1', value: 30, timeMs: Date.UTC(2026, 10, 20) })
    expect((await get('?quantity=soil_moisture&village=glagah', basic('gw-kemiren', gwSecret))).status).toBe(
      403,
    )
    const bad = await get('?quantity=moisture_of_soil&from=yesterday', basic('gw-kemiren', gwSecret))
    expect(bad.status).toBe(400)
    const problems = ((await bad.json()) as { problems: string[] }).problems
    expect(problems.map((p) => p.split(':')[0])).toEqual(['quantity', 'from'])
  })

  it('serves health and Prometheus metrics', async () => {
    const health = (await (await fetch(`${t.apiUrl}/health`)).json()) as Record<string, unknown>
    expect(health).toMatchObject({ status: 'ok', store: expect.any(String) })
    const metrics = await (await fetch(`${t.apiUrl}/metrics`)).text()
    expect(metrics).toMatch(/kampung_readings_accepted_total\{format="json"\} 5[0-9]/)
    expect(metrics).toMatch(/kampung_readings_rejected_total\{reason="unknown_quantity"\} 1/)
    expect(metrics).toContain('kampung_store_write_seconds_bucket')
  })
})
