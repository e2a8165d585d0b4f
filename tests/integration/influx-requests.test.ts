import { writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SPECIES_IDS } from '../../src/oksigen/index.ts'
import { startApp, waitFor } from '../harness/app.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { spawnKampung } from '../harness/process.ts'

const ADMIN = { username: 'kampung-admin', password: 'rahasia-9f3c' }
const BASIC = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`
const MIN = 60_000

interface Seen {
  method: string
  url: string
  authorization?: string
  body: string
  status: number
}

/** The InfluxQL statements of a /query request: `q` from the form body or the URL. */
function statements(r: Seen): string[] {
  const fromUrl = new URL(r.url, 'http://proxy').searchParams.get('q')
  const fromBody = r.url.startsWith('/query') ? new URLSearchParams(r.body).get('q') : null
  return [fromUrl, fromBody].filter((q): q is string => q !== null)
}
const SCHEMA = /^\s*(CREATE|ALTER|DROP|GRANT|REVOKE)\b/i

/**
 * Every InfluxDB request the whole system makes, read by a recording reverse proxy in front of a
 * real influxd with authentication on: the three writers (readings through the store, alert
 * events, Oksigen assessments), the queries (readings route, `kampung readings`) and the schema
 * statements. No credential may appear in any URL; with `manageSchema: false` no schema statement
 * may be sent at all.
 */
describe('InfluxDB requests of the whole system, through a recording proxy (auth on)', () => {
  let influx: InfluxdHandle
  let proxy: http.Server
  let proxyUrl = ''
  const seen: Seen[] = []

  beforeAll(async () => {
    influx = await startInfluxd({ admin: ADMIN })
    const target = new URL(influx.url)
    proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks)
        const record: Seen = {
          method: req.method ?? '',
          url: req.url ?? '',
          authorization: req.headers.authorization,
          body: body.toString('utf8'),
          status: 0,
        }
        seen.push(record)
        const upstream = http.request(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (up) => {
            record.status = up.statusCode ?? 0
            res.writeHead(up.statusCode ?? 502, up.headers)
            up.pipe(res)
          },
        )
        upstream.on('error', () => res.writeHead(502).end())
        upstream.end(body)
      })
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
  }, 60_000)

  afterAll(async () => {
    await new Promise((r) => proxy?.close(r))
    await influx?.stop()
  })

  /** An administrator's statement straight to influxd (not through the proxy, not the system's). */
  const admin = async (q: string): Promise<unknown> => {
    const res = await fetch(`${influx.url}/query`, {
      method: 'POST',
      headers: { Authorization: BASIC },
      body: new URLSearchParams({ q }),
    })
    expect(res.status).toBe(200)
    return res.json()
  }
  const count = async (database: string, rp: string, measurement: string, field: string): Promise<number> => {
    const doc = (await admin(`SELECT count("${field}") FROM "${database}"."${rp}"."${measurement}"`)) as {
      results: Array<{ series?: Array<{ values: unknown[][] }> }>
    }
    return Number(doc.results[0]?.series?.[0]?.values[0]?.[1] ?? 0)
  }

  /** Runs the all-in-one service and the `kampung readings` CLI; returns what the proxy saw. */
  async function runSystem(database: string, manageSchema: boolean): Promise<Seen[]> {
    seen.length = 0
    const influxConfig = { url: proxyUrl, database, ...ADMIN, manageSchema }
    const t = await startApp({
      store: { kind: 'influx', influx: influxConfig },
      oksigen: { evaluateEveryMs: 100 },
      alerts: {
        tickIntervalMs: 200,
        exportEveryMs: 200,
        groupWaitMs: 0,
        rules: { crops: { chili: { dry: { forMs: 20 * MIN } } }, moistureDrop: { enabled: false } },
      },
    })
    try {
      const soilSecret = await t.addDevice({ id: 'soil-1', village: 'kemiren', format: 'json' })
      const dendroSecret = await t.addDevice({
        id: 'dendro-1',
        village: 'kemiren',
        kind: 'dendrometer',
        format: 'json',
      })
      t.app.alerts!.directory.addField({
        id: 'kemiren-sawah1',
        village: 'kemiren',
        name: 'SAWAH1',
        crop: 'chili',
        plantedAtMs: Date.now() - 60 * 86_400_000,
        areaHa: 0.15,
        devices: ['soil-1'],
      })
      const oksigen = t.app.oksigen!
      oksigen.repo.addTree(
        {
          device: 'dendro-1',
          species: 'teak',
          plantedAtMs: Date.now() - 30 * 86_400_000,
          initialDiameterMm: 60,
          initialHeightM: 4,
        },
        SPECIES_IDS,
      )
      oksigen.verifier.refreshTrees()

      // Readings arrive as devices send them: MQTT to the embedded broker, then the store.
      const now = Math.floor(Date.now() / MIN) * MIN
      const publish = async (device: string, secret: string, messages: object[]) => {
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${t.mqttPort}`, {
          clientId: `${device}:${database}`,
          username: device,
          password: secret,
        })
        for (const m of messages)
          await client.publishAsync(`kampung/kemiren/${device}/up`, JSON.stringify(m), { qos: 1 })
        await client.endAsync()
      }
      // Dry (10 % < chili's 25 %) for 40 minutes: the dry alert fires and becomes an alert event.
      await publish(
        'soil-1',
        soilSecret,
        [40, 30, 20, 10, 0].map((ago) => ({ ts: now - ago * MIN, values: { soil_moisture: 10 } })),
      )
      await publish(
        'dendro-1',
        dendroSecret,
        [30, 20, 10].map((ago, i) => ({ ts: now - ago * MIN, values: { stem_diameter: 60_000 + i } })),
      )

      const writesTo = (rp: string, measurement: string) =>
        seen.some(
          (r) =>
            r.url.startsWith('/write') &&
            new URL(r.url, 'http://proxy').searchParams.get('rp') === rp &&
            r.body.startsWith(measurement) &&
            r.status === 204,
        )
      await waitFor('readings in InfluxDB', () => writesTo('raw', 'soil_moisture'))
      await waitFor('an alert event in InfluxDB', () => writesTo('events', 'alert_events'))
      await waitFor('an Oksigen assessment in InfluxDB', () => writesTo('events', 'oksigen_assessment'))

      // Queries: the readings route, as a device reading its own readings.
      const res = await fetch(`${t.apiUrl}/api/v1/readings?quantity=soil_moisture&device=soil-1`, {
        headers: { authorization: `Basic ${Buffer.from(`soil-1:${soilSecret}`).toString('base64')}` },
      })
      expect(res.status).toBe(200)
      expect(((await res.json()) as { readings: unknown[] }).readings).toHaveLength(5)

      // …and `kampung readings`, an operator's separate process with its own store.
      const configFile = path.join(t.dataDir, 'cli.json')
      writeFileSync(
        configFile,
        JSON.stringify({ dataDir: t.dataDir, store: { kind: 'influx', influx: influxConfig } }),
      )
      const cli = spawnKampung(
        ['--config', configFile, 'readings', 'soil_moisture', '--since', '2h', '--json'],
        {},
      )
      const code = await new Promise<number | null>((resolve) => cli.child.once('exit', resolve))
      expect(code, cli.output()).toBe(0)
      expect(cli.output()).toContain('"device": "soil-1"')
    } finally {
      await t.stop()
    }
    // What the proxy saw reached InfluxDB: every kind of point is there.
    expect(await count(database, 'raw', 'soil_moisture', 'value')).toBe(5)
    expect(await count(database, 'events', 'alert_events', 'alert_id')).toBeGreaterThanOrEqual(1)
    expect(await count(database, 'events', 'oksigen_assessment', 'days_observed')).toBeGreaterThanOrEqual(1)
    return [...seen]
  }

  const expectNoCredentialInUrls = (requests: Seen[]) => {
    expect(requests.length).toBeGreaterThan(10)
    for (const r of requests) {
      const url = new URL(r.url, 'http://proxy')
      for (const key of url.searchParams.keys()) expect(['u', 'p', 'token', 'password']).not.toContain(key)
      const decoded = decodeURIComponent(r.url)
      expect(decoded).not.toContain(ADMIN.password)
      expect(decoded).not.toContain(ADMIN.username)
      expect(decoded).not.toMatch(/token|password/i)
      // The credentials went in the header instead, on every request.
      expect(r.authorization).toBe(BASIC)
    }
  }

  it('manageSchema true: all three writers, queries and the schema statements; no credential in any URL', async () => {
    const requests = await runSystem('kampung_managed', true)
    expectNoCredentialInUrls(requests)
    const sent = requests.flatMap(statements)
    const schema = sent.filter((q) => SCHEMA.test(q))
    expect(schema).toContain('CREATE DATABASE "kampung_managed"')
    expect(schema.some((q) => /^(CREATE|ALTER) RETENTION POLICY "raw" ON "kampung_managed"/.test(q))).toBe(
      true,
    )
    expect(schema.some((q) => /^(CREATE|ALTER) RETENTION POLICY "events" ON "kampung_managed"/.test(q))).toBe(
      true,
    )
    expect(schema.some((q) => /^CREATE CONTINUOUS QUERY "cq_rp_1h" ON "kampung_managed"/.test(q))).toBe(true)
    // Queries were sent too (route and CLI), naming the raw policy.
    expect(
      sent.some((q) => q.startsWith('SELECT') && q.includes('"kampung_managed"."raw"."soil_moisture"')),
    ).toBe(true)
  }, 90_000)

  it('manageSchema false: the same system sends no CREATE/ALTER/DROP at all', async () => {
    // The administrator made the database and policies (on 2.x: buckets and DBRP mappings).
    await admin('CREATE DATABASE "kampung_external"')
    await admin('CREATE RETENTION POLICY "raw" ON "kampung_external" DURATION 90d REPLICATION 1 DEFAULT')
    await admin('CREATE RETENTION POLICY "events" ON "kampung_external" DURATION INF REPLICATION 1')
    const requests = await runSystem('kampung_external', false)
    expectNoCredentialInUrls(requests)
    const sent = requests.flatMap(statements)
    expect(sent.length).toBeGreaterThan(0)
    expect(sent.filter((q) => SCHEMA.test(q))).toEqual([])
    expect(
      sent.some((q) => q.startsWith('SELECT') && q.includes('"kampung_external"."raw"."soil_moisture"')),
    ).toBe(true)
  }, 90_000)
})
