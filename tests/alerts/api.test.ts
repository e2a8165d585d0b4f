import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiServer } from '../../src/api/index.ts'
import { IngestPipeline } from '../../src/ingest/index.ts'
import { Metrics } from '../../src/metrics.ts'
import { SqliteStore } from '../../src/store/index.ts'
import { only, PHONE_A, type Rig, rig, seed } from './helpers.ts'

let r: Rig | undefined
let stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const s of stops.reverse()) await s()
  stops = []
  await r?.stop()
  r = undefined
})

describe('alerts HTTP API and the ingest hook', () => {
  it('a reading POSTed to the telemetry API reaches the engine (onStored); officers list, ack, add fields, farmers and silences', async () => {
    // Real time here: the reading's time is now.
    r = await rig(
      {
        ...only('dry'),
        groupWaitMs: 0,
        rules: { crops: { chili: { dry: { thresholdPct: 25, forMs: 0 } } } },
      },
      { startMs: Date.now() },
    )
    await seed(r)
    const store = new SqliteStore({ path: path.join(r.dir, 'telemetry.db') })
    const metrics = new Metrics()
    const pipeline = new IngestPipeline({
      store,
      metrics,
      batchMaxReadings: 100,
      batchMaxWaitMs: 5,
      maxPendingReadings: 1000,
    })
    const engine = r.engine
    const clock = r.clock
    pipeline.onStored((readings) => {
      clock.now = Date.now()
      engine.enqueueReadings(readings) // as the service wires it: gathered for 25 ms
    })
    await store.start()
    await pipeline.start()
    const api = new ApiServer({
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: 65536,
      registry: r.registry,
      pipeline,
      store,
      metrics,
      alerts: engine,
    })
    await api.start()
    stops.push(
      () => store.stop(),
      () => pipeline.stop(),
      () => api.stop(),
    )
    const base = `http://127.0.0.1:${api.port}`
    const soilSecret = await r.registry.rotateSecret('soil-1')
    const { secret: officerSecret } = await r.registry.addDevice({
      id: 'console',
      village: 'kemiren',
      kind: 'service',
      format: 'json',
    })
    const auth = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
    const officer = { authorization: auth('console', officerSecret), 'content-type': 'application/json' }

    const post = await fetch(`${base}/api/v1/telemetry`, {
      method: 'POST',
      headers: { authorization: auth('soil-1', soilSecret), 'content-type': 'application/json' },
      body: JSON.stringify({ values: { soil_moisture: 17.5 } }),
    })
    expect(post.status).toBeLessThan(300)
    const deadline = Date.now() + 10_000
    while (r.outbox.to(PHONE_A).length === 0 && Date.now() < deadline)
      await new Promise((ok) => setTimeout(ok, 10))
    expect(r.outbox.to(PHONE_A)[0]!.text).toMatch(
      // 17.5 % on loam (θFC 25 %), chili Zr 0.75 m: Dr = 10 × 7.5 × 0.75 = 56.25 mm (FAO-56 ch. 8).
      /^SAWAH1 kering: kelembapan tanah 18% \(batas 25%\)\. Siram ~56 mm = 84\.000 L utk 0,15 ha\. Balas OK \d+$/,
    )

    // Auth: none → 401; a soil device → 403.
    expect((await fetch(`${base}/api/v1/alerts`)).status).toBe(401)
    expect(
      (await fetch(`${base}/api/v1/alerts`, { headers: { authorization: auth('soil-1', soilSecret) } }))
        .status,
    ).toBe(403)

    const list = (await (await fetch(`${base}/api/v1/alerts?state=firing`, { headers: officer })).json()) as {
      alerts: Array<{ id: number; rule: string; field: string }>
    }
    expect(list.alerts).toHaveLength(1)
    expect(list.alerts[0]).toMatchObject({ rule: 'dry', field: 'kemiren-sawah1' })
    expect((await fetch(`${base}/api/v1/alerts?state=bogus`, { headers: officer })).status).toBe(400)

    const ack = await fetch(`${base}/api/v1/alerts/${list.alerts[0]!.id}/ack`, {
      method: 'POST',
      headers: officer,
    })
    expect(ack.status).toBe(200)
    expect(((await ack.json()) as { alert: { ackedBy: string } }).alert.ackedBy).toBe('officer:console')
    expect((await fetch(`${base}/api/v1/alerts/999/ack`, { method: 'POST', headers: officer })).status).toBe(
      404,
    )

    const field = await fetch(`${base}/api/v1/fields`, {
      method: 'POST',
      headers: officer,
      body: JSON.stringify({
        id: 'kemiren-jagung1',
        village: 'kemiren',
        name: 'Jagung 1',
        crop: 'maize',
        plantedAt: '2026-06-01T07:00:00+07:00',
        areaHa: 0.25,
      }),
    })
    expect(field.status).toBe(201)
    const badField = await fetch(`${base}/api/v1/fields`, {
      method: 'POST',
      headers: officer,
      body: JSON.stringify({
        id: 'x',
        village: 'kemiren',
        name: 'X',
        crop: 'cassava',
        areaHa: -1,
        colour: 'red',
      }),
    })
    expect(badField.status).toBe(400)
    const problems = ((await badField.json()) as { problems: string[] }).problems
    expect(problems.length).toBeGreaterThanOrEqual(3) // crop, areaHa, unknown key: all at once
    const fields = (await (
      await fetch(`${base}/api/v1/fields?village=kemiren`, { headers: officer })
    ).json()) as { fields: unknown[] }
    expect(fields.fields).toHaveLength(3)

    const farmer = await fetch(`${base}/api/v1/farmers`, {
      method: 'POST',
      headers: officer,
      body: JSON.stringify({
        id: 'pak-joko',
        name: 'Pak Joko',
        phone: '0812 3456 7890',
        fields: ['kemiren-jagung1'],
      }),
    })
    expect(farmer.status).toBe(201)
    expect(((await farmer.json()) as { farmer: { phone: string } }).farmer.phone).toBe('+6281234567890')
    const badPhone = await fetch(`${base}/api/v1/farmers`, {
      method: 'POST',
      headers: officer,
      body: JSON.stringify({ id: 'pak-x', name: 'X', phone: '12345' }),
    })
    expect(badPhone.status).toBe(400)
    const farmers = (await (await fetch(`${base}/api/v1/farmers`, { headers: officer })).json()) as {
      farmers: Array<{ id: string; fields: string[] }>
    }
    expect(farmers.farmers.find((f) => f.id === 'pak-joko')!.fields).toEqual(['kemiren-jagung1'])

    const silence = await fetch(`${base}/api/v1/silences`, {
      method: 'POST',
      headers: officer,
      body: JSON.stringify({
        matchers: { village: 'kemiren' },
        endsAt: Date.now() + 3_600_000,
        comment: 'sensor maintenance',
      }),
    })
    expect(silence.status).toBe(201)
    expect(engine.listSilences(Date.now())).toHaveLength(1)
    const badSilence = await fetch(`${base}/api/v1/silences`, {
      method: 'POST',
      headers: officer,
      body: JSON.stringify({ matchers: {}, endsAt: 1, comment: 'x' }),
    })
    expect(badSilence.status).toBe(400)
  })
})
