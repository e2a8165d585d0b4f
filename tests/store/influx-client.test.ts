import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KampungError } from '../../src/errors.ts'
import {
  encodePoint,
  InfluxClient,
  InfluxSchema,
  InfluxStatementError,
  InfluxStore,
} from '../../src/store/index.ts'
import { freePort } from '../harness/ports.ts'

/**
 * InfluxClient against a scripted HTTP peer: what it sends (credentials in headers only) and how
 * each answer is classified (typed, retryable or not). The real influxd side is covered by
 * tests/store/influx.test.ts and tests/integration/influx-requests.test.ts.
 */
describe('InfluxClient', () => {
  let server: http.Server
  let url = ''
  /** The next answer: status and body, or 'hang' (never answers). */
  let answer: { status: number; body: string } | 'hang' = { status: 204, body: '' }
  const seen: Array<{ url: string; authorization?: string; body: string }> = []

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        seen.push({
          url: req.url ?? '',
          authorization: req.headers.authorization,
          body: Buffer.concat(chunks).toString(),
        })
        if (answer === 'hang') return
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body)
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })

  const failure = async (p: Promise<unknown>): Promise<KampungError> => {
    try {
      await p
    } catch (err) {
      expect(err).toBeInstanceOf(KampungError)
      return err as KampungError
    }
    throw new Error('expected a failure')
  }
  const target = { database: 'kampung', retentionPolicy: 'events' }

  it('sends username/password as Basic and a token as Token, never in the URL', async () => {
    seen.length = 0
    answer = { status: 204, body: '' }
    const basic = new InfluxClient({ url: `${url}/`, username: 'u1', password: 'sandi' })
    await basic.write(target, 'm v=1 1')
    const token = new InfluxClient({ url, token: 'tok-123' })
    await token.write(target, 'm v=1 1')
    basic.close()
    token.close()
    expect(seen.map((s) => s.authorization)).toEqual([
      `Basic ${Buffer.from('u1:sandi').toString('base64')}`,
      'Token tok-123',
    ])
    for (const s of seen) {
      expect(s.url).toBe('/write?db=kampung&rp=events&precision=ms')
      expect(s.url).not.toMatch(/sandi|tok-123|[?&][up]=/)
    }
  })

  it('classifies answers by status: 5xx/408/429 retryable; 401/403/other 4xx not', async () => {
    const client = new InfluxClient({ url })
    const cases: Array<[number, string, boolean]> = [
      [500, 'store_server_error', true],
      [503, 'store_server_error', true],
      [408, 'store_server_error', true],
      [429, 'store_server_error', true],
      [401, 'store_unauthorized', false],
      [403, 'store_unauthorized', false],
      [404, 'store_bad_request', false],
      [400, 'store_bad_request', false],
    ]
    for (const [status, code, retryable] of cases) {
      answer = { status, body: JSON.stringify({ error: `status ${status}` }) }
      expect(await failure(client.write(target, 'm v=1 1'))).toMatchObject({ code, retryable })
      expect(await failure(client.query('SHOW DATABASES'))).toMatchObject({ code, retryable })
    }
    client.close()
  })

  it('a 400 partial write resolves with what was dropped; the caller decides', async () => {
    const client = new InfluxClient({ url })
    answer = {
      status: 400,
      body: JSON.stringify({ error: 'partial write: points beyond retention policy dropped=2' }),
    }
    expect(await client.write(target, 'm v=1 1')).toEqual({
      dropped: 2,
      message: 'partial write: points beyond retention policy dropped=2',
    })
    client.close()
  })

  it('statement errors are typed: database not found is its own code, never retryable', async () => {
    const client = new InfluxClient({ url })
    answer = {
      status: 200,
      body: JSON.stringify({ results: [{ statement_id: 0, error: 'database not found: x' }] }),
    }
    const missing = await failure(client.query('SHOW RETENTION POLICIES ON "x"'))
    expect(missing).toBeInstanceOf(InfluxStatementError)
    expect(missing).toMatchObject({ code: 'store_database_not_found', retryable: false })
    answer = {
      status: 200,
      body: JSON.stringify({ results: [{ statement_id: 0, error: 'error parsing query' }] }),
    }
    expect(await failure(client.query('SELEKT'))).toMatchObject({
      code: 'store_query_failed',
      retryable: false,
    })
    client.close()
  })

  it('a peer that does not answer is a retryable timeout; one that is not there is retryable too', async () => {
    answer = 'hang'
    const slow = new InfluxClient({ url, requestTimeoutMs: 200 })
    expect(await failure(slow.write(target, 'm v=1 1'))).toMatchObject({
      code: 'store_timeout',
      retryable: true,
    })
    slow.close()
    answer = { status: 204, body: '' }
    const nobody = new InfluxClient({ url: `http://127.0.0.1:${await freePort()}` })
    expect(await failure(nobody.query('SHOW DATABASES'))).toMatchObject({
      code: 'store_unreachable',
      retryable: true,
    })
    nobody.close()
  })

  it('lists every configuration problem at once', () => {
    expect(new InfluxClient({ url: 'ftp://x', token: 't', username: 'a' }).configProblems()).toEqual([
      'url: must be http(s), got ftp://x',
      'token and username: give one way to authenticate, not both',
      'username and password: give both or neither',
    ])
    expect(new InfluxClient({ url: 'http://a:b@influx:8086' }).configProblems()).toEqual([
      'url: no credentials in the URL; use username/password or token',
    ])
  })
})

describe('InfluxSchema', () => {
  let server: http.Server
  let url = ''
  const statements: string[] = []
  let policies: string[] = []

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const q = new URLSearchParams(Buffer.concat(chunks).toString()).get('q') ?? ''
        statements.push(q)
        const result = q.startsWith('SHOW RETENTION POLICIES')
          ? {
              statement_id: 0,
              series: [
                { columns: ['name', 'duration', 'default'], values: policies.map((p) => [p, '0s', false]) },
              ],
            }
          : { statement_id: 0 }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results: [result] }))
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })

  const needs = {
    database: 'kampung',
    retentionPolicies: [
      { name: 'raw', duration: '90d', default: true },
      { name: 'rp_1h', duration: '260w', shardDuration: '4w', optional: true },
    ],
    continuousQueries: [
      { name: 'cq', statement: 'CREATE CONTINUOUS QUERY "cq" ON "kampung" BEGIN SELECT 1 END' },
    ],
  }

  it('manageSchema true: creates the database, creates or alters each policy, creates the CQ', async () => {
    statements.length = 0
    policies = ['autogen', 'raw']
    const client = new InfluxClient({ url })
    await new InfluxSchema(client, { manageSchema: true }).ensure(needs)
    client.close()
    expect(statements).toEqual([
      'CREATE DATABASE "kampung"',
      'SHOW RETENTION POLICIES ON "kampung"',
      'ALTER RETENTION POLICY "raw" ON "kampung" DURATION 90d REPLICATION 1 DEFAULT',
      'CREATE RETENTION POLICY "rp_1h" ON "kampung" DURATION 260w REPLICATION 1 SHARD DURATION 4w',
      'CREATE CONTINUOUS QUERY "cq" ON "kampung" BEGIN SELECT 1 END',
    ])
  })

  it('manageSchema false: only reads; a missing policy is config_invalid naming what to create', async () => {
    statements.length = 0
    policies = ['raw']
    const client = new InfluxClient({ url })
    const schema = new InfluxSchema(client, { manageSchema: false })
    await schema.ensure(needs) // rp_1h is optional
    const err = await schema
      .ensure({ database: 'kampung', retentionPolicies: [{ name: 'events', duration: 'INF' }] })
      .then(
        () => undefined,
        (e: unknown) => e as KampungError,
      )
    client.close()
    expect(err).toMatchObject({ code: 'config_invalid', retryable: false })
    expect(err?.message).toContain('influx v1 dbrp create --db kampung --rp events')
    expect(statements).toEqual([
      'SHOW RETENTION POLICIES ON "kampung"',
      'SHOW RETENTION POLICIES ON "kampung"',
    ])
  })

  it('InfluxStore with manageSchema false: only raw must exist; rp_1h, rp_1d and their CQs are checked, never created', async () => {
    const store = new InfluxStore({ url, database: 'kampung', manageSchema: false })
    const needs = store.schemaNeeds()
    expect(needs.retentionPolicies).toEqual([
      { name: 'raw', duration: '90d', default: true },
      { name: 'rp_1h', duration: '260w', shardDuration: '4w', optional: true },
      { name: 'rp_1d', duration: 'INF', shardDuration: '52w', optional: true },
      { name: 'forever', duration: 'INF', optional: true },
    ])
    expect(needs.continuousQueries?.map((cq) => cq.name)).toEqual(['cq_rp_1h', 'cq_rp_1d'])
    statements.length = 0
    policies = ['raw']
    await store.start()
    await store.stop()
    expect(statements).toEqual(['SHOW RETENTION POLICIES ON "kampung"'])
  })

  it('refuses names and durations it could not send as they are', async () => {
    const client = new InfluxClient({ url })
    const bad = new InfluxSchema(client, { manageSchema: true }).ensure({
      database: 'kam"pung',
      retentionPolicies: [{ name: 'raw', duration: '90 days', shardDuration: 'a week' }],
    })
    await expect(bad).rejects.toMatchObject({ code: 'config_invalid' })
    await expect(bad).rejects.toThrow('retention policy raw: shard duration not an InfluxQL duration: a week')
    client.close()
  })
})

describe('encodePoint', () => {
  it('sorts and escapes tags like readings, leaves out empty tags and null fields, types fields', () => {
    expect(
      encodePoint({
        measurement: 'alert_events',
        timeMs: 1_780_000_000_000,
        tags: { village: 'ke miren', rule: 'dry,x=1', field: undefined, empty: '' },
        fields: { alert_id: 12n, value: 18.5, none: null, ok: true, message: 'say "hi"\\ \nnext' },
      }),
    ).toBe(
      String.raw`alert_events,rule=dry\,x\=1,village=ke\ miren alert_id=12i,value=18.5,ok=true,message="say \"hi\"\\  next" 1780000000000`,
    )
  })

  it('a hostile tag value cannot inject a line or a tag', () => {
    const line = encodePoint({
      measurement: 'oksigen_assessment',
      timeMs: 1,
      tags: { tree: 'evil\nsoil_moisture,device=x value=99 1\r, =\'"\\' },
      fields: { v: 1 },
    })
    expect(line.split('\n')).toHaveLength(1)
    expect(line).toBe(
      String.raw`oksigen_assessment,tree=evil%0Asoil_moisture\,device\=x\ value\=99\ 1%0D\,\ \='"%5C v=1 1`,
    )
  })

  it('refuses a point without fields, a non-integer time and a non-finite float', () => {
    expect(() => encodePoint({ measurement: 'm', timeMs: 1, tags: {}, fields: { a: null } })).toThrow(
      RangeError,
    )
    expect(() => encodePoint({ measurement: 'm', timeMs: 1.5, tags: {}, fields: { a: 1 } })).toThrow(
      RangeError,
    )
    expect(() => encodePoint({ measurement: 'm', timeMs: 1, tags: {}, fields: { a: Number.NaN } })).toThrow(
      RangeError,
    )
  })
})
