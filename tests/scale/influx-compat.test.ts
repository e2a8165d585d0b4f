import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KampungError } from '../../src/errors.ts'
import { InfluxStore } from '../../src/store/index.ts'
import type { Reading } from '../../src/telemetry/reading.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'

const ADMIN = { username: 'admin', password: 'rahasia-admin' }
const WRITER = { username: 'writer', password: 'rahasia-writer' }

const readings = (n: number, baseMs: number): Reading[] =>
  Array.from({ length: n }, (_, i) => ({
    timeMs: baseMs + i * 60_000,
    village: 'kemiren',
    device: 'soil-01',
    sensor: 'main',
    quantity: 'soil_moisture',
    value: 30 + i,
  }))

/**
 * What the InfluxDB HTTP choices look like against a real influxd 1.6.7 with authentication on,
 * reached through a reverse proxy under a path prefix (as behind a load balancer). The proxy
 * records each request's URL and Authorization header so the test sees what was sent.
 */
describe('InfluxStore with authentication, through a proxy', () => {
  let influx: InfluxdHandle
  let proxy: http.Server
  let base = ''
  const seen: Array<{ url: string; authorization?: string }> = []

  beforeAll(async () => {
    influx = await startInfluxd({ admin: ADMIN })
    const target = new URL(influx.url)
    proxy = http.createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization })
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: (req.url ?? '').replace(/^\/influx/, ''),
          headers: req.headers,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers)
          up.pipe(res)
        },
      )
      upstream.on('error', () => res.writeHead(502).end())
      req.pipe(upstream)
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/influx`
  }, 60_000)

  afterAll(async () => {
    await new Promise((r) => proxy?.close(r))
    await influx?.stop()
  })

  const admin = async (q: string) => {
    const res = await fetch(`${influx.url}/query`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`,
      },
      body: new URLSearchParams({ q }),
    })
    expect(res.status).toBe(200)
  }

  const failure = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('expected a failure')
      },
      (err: unknown) => {
        expect(err).toBeInstanceOf(KampungError)
        return err as KampungError
      },
    )

  it('username/password go as HTTP Basic (never in the URL); the admin makes the schema and writes', async () => {
    seen.length = 0
    const store = new InfluxStore({ url: base, database: 'kampung', ...ADMIN })
    await store.start()
    await store.write(readings(3, Date.UTC(2026, 10, 1)))
    expect(await store.count({ quantity: 'soil_moisture' })).toBe(3)
    expect(await store.query({ quantity: 'soil_moisture', limit: 1 })).toMatchObject([{ value: 30 }])
    await store.stop()
    expect(seen.length).toBeGreaterThan(3)
    for (const r of seen) {
      expect(r.url).not.toMatch(/[?&][up]=/)
      expect(r.authorization).toBe(`Basic ${Buffer.from('admin:rahasia-admin').toString('base64')}`)
    }
  })

  it('a wrong password or none: not authorised, and not worth retrying', async () => {
    const wrong = await failure(
      new InfluxStore({ url: base, database: 'kampung', username: 'admin', password: 'salah' }).start(),
    )
    expect(wrong).toMatchObject({ code: 'store_unauthorized', retryable: false })
    const none = await failure(new InfluxStore({ url: base, database: 'kampung' }).start())
    expect(none).toMatchObject({ code: 'store_unauthorized', retryable: false })
  })

  it('a user without admin rights (like a 2.x token scoped to one bucket) works with manageSchema off', async () => {
    await admin(`CREATE USER "${WRITER.username}" WITH PASSWORD '${WRITER.password}'`)
    await admin('CREATE DATABASE "scoped"')
    await admin('GRANT ALL ON "scoped" TO "writer"')
    // Managing the schema needs an admin: refused, and not retried forever.
    const managed = await failure(new InfluxStore({ url: base, database: 'scoped', ...WRITER }).start())
    expect(managed.retryable).toBe(false)
    // Without the retention policy (on 2.x: the DBRP mapping) start() says what to create.
    const external = () => new InfluxStore({ url: base, database: 'scoped', manageSchema: false, ...WRITER })
    const missing = await failure(external().start())
    expect(missing).toMatchObject({ code: 'config_invalid', retryable: false })
    expect(missing.message).toMatch(/influx v1 dbrp create --db scoped --rp raw/)
    // The administrator creates it; the writer can now start, write and read.
    await admin('CREATE RETENTION POLICY "raw" ON "scoped" DURATION 90d REPLICATION 1 DEFAULT')
    const store = external()
    await store.start()
    await store.write(readings(5, Date.UTC(2026, 10, 2)))
    expect(await store.count({ quantity: 'soil_moisture' })).toBe(5)
    await store.stop()
  })

  it('a token goes as "Authorization: Token …"; influxd 1.6.7 does not take "user:password" there (1.8+ does)', async () => {
    seen.length = 0
    const token = `${ADMIN.username}:${ADMIN.password}`
    const err = await failure(new InfluxStore({ url: base, database: 'kampung', token }).start())
    expect(err).toMatchObject({ code: 'store_unauthorized', retryable: false })
    expect(seen[0]?.authorization).toBe(`Token ${token}`)
    expect(seen[0]?.url).not.toMatch(/[?&][up]=/)
  })

  it('refuses token together with username, and a username without password', async () => {
    const both = await failure(
      new InfluxStore({ url: base, database: 'kampung', token: 't', ...ADMIN }).start(),
    )
    expect(both).toMatchObject({ code: 'config_invalid' })
    const half = await failure(new InfluxStore({ url: base, database: 'kampung', username: 'admin' }).start())
    expect(half).toMatchObject({ code: 'config_invalid' })
  })
})
