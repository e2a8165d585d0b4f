import http from 'node:http'
import https from 'node:https'
import { KampungError } from '../../errors.ts'
import { getLogger } from '../../log.ts'
import type { Reading } from '../../telemetry/index.ts'
import { isQuantity } from '../../telemetry/index.ts'
import { STORE_WRITES_IN_FLIGHT, WriteQueue } from '../serial.ts'
import type { ReadingQuery, TelemetryStore } from '../types.ts'
import { validateReadings } from '../validate.ts'
import { DURATION, qualified, quoteIdent, quoteString, SAFE_NAME } from './influxql.ts'
import { encodeBody, fromStoredTag, toStoredTag } from './line-protocol.ts'

export interface InfluxDownsampleOptions {
  /** Retention policy the hourly means go to. Default `rp_1h`. */
  retentionPolicy?: string
  /** How long the downsampled points are kept (InfluxQL duration). Default `260w` (5 years). */
  retention?: string
  /** GROUP BY time() interval of the continuous query. Default `1h`. */
  interval?: string
}

export interface InfluxStoreOptions {
  /** Base URL of the InfluxDB 1.x HTTP API (or a 2.x/3.x v1-compatibility endpoint), e.g. `http://127.0.0.1:8086`. */
  url: string
  database: string
  /** The raw retention policy, made DEFAULT on the database. Default `raw`. */
  retentionPolicy?: string
  /** How long raw readings are kept. Default `90d`. */
  rawRetention?: string
  /** Downsampling into hourly mean/min/max by a continuous query; `false` turns it off. */
  downsample?: InfluxDownsampleOptions | false
  /**
   * Credentials sent as HTTP Basic auth: an InfluxDB 1.x user, or on 2.x a v1 authorization
   * (`influx v1 auth create`), or on 3.x any name with the token as password. Basic rather than
   * `u`/`p` query parameters, which end up in proxy and access logs.
   */
  username?: string
  password?: string
  /**
   * `Authorization: Token <token>`: an InfluxDB 2.x/3.x API token (v1 compatibility API), or
   * `user:password` on InfluxDB 1.8+ (1.6/1.7 refuse it: use username/password there).
   */
  token?: string
  /**
   * true (default): start() creates the database, retention policies and continuous query, which
   * needs an InfluxDB 1.x admin. false: someone else made them (InfluxDB 2.x/3.x: a bucket and a
   * DBRP mapping; or a 1.x user without admin rights); start() only checks that `database` with
   * `retentionPolicy` exists and that the credentials may read it.
   */
  manageSchema?: boolean
  /** Per HTTP request. Default 10 000 ms. */
  requestTimeoutMs?: number
  /** Lines per /write request. Default and maximum 5 000. */
  maxLinesPerRequest?: number
}

const defaultOptions = {
  retentionPolicy: 'raw',
  rawRetention: '90d',
  downsample: { retentionPolicy: 'rp_1h', retention: '260w', interval: '1h' },
  // A write of 5 000 lines takes ~50 ms on influxd 1.6 here; 10 s means the peer is really stuck.
  requestTimeoutMs: 10_000,
  // Big batches, few requests in flight (STORE_WRITES_IN_FLIGHT): influxd 1.6 answers 500 "error
  // syncing wal" when about 1 000 small writes wait at once.
  maxLinesPerRequest: 5_000,
  // Rows per chunk of a chunked /query answer: keeps memory flat and sidesteps max-row-limit.
  queryChunkSize: 10_000,
} as const

interface ResolvedOptions {
  url: string
  database: string
  retentionPolicy: string
  rawRetention: string
  downsample: Required<InfluxDownsampleOptions> | false
  username?: string
  password?: string
  token?: string
  manageSchema: boolean
  requestTimeoutMs: number
  maxLinesPerRequest: number
}

/** A /write that InfluxDB answered 400 "partial write": the other lines are stored. */
export class InfluxPartialWriteError extends KampungError {
  /** One entry per refused request: which readings it carried and what InfluxDB said. */
  readonly refused: ReadonlyArray<{ fromIndex: number; count: number; dropped?: number; message: string }>

  constructor(refused: InfluxPartialWriteError['refused']) {
    const summary = refused.map((r) => `readings [${r.fromIndex}, ${r.fromIndex + r.count}): ${r.message}`)
    super('store_partial_write', `InfluxDB refused part of the write: ${summary.join('; ')}`, {
      retryable: false,
    })
    this.name = 'InfluxPartialWriteError'
    this.refused = refused
  }
}

interface SeriesResult {
  name?: string
  columns: string[]
  values?: unknown[][]
}
interface StatementResult {
  statement_id?: number
  series?: SeriesResult[]
  error?: string
}

const log = getLogger('store')

/**
 * TelemetryStore on InfluxDB's v1 HTTP API. Writes use our own line-protocol encoder and fetch;
 * queries and administration use plain fetch to /query too (node-influx marks its only host down
 * for up to 10 s after one failure, so the first query after an outage would fail).
 */
export class InfluxStore implements TelemetryStore {
  readonly name = 'influxdb'
  private readonly options: ResolvedOptions
  /** One request in flight per store; each write waits for the previous one. */
  private readonly writes = new WriteQueue(STORE_WRITES_IN_FLIGHT)
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 })
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 8 })

  constructor(options: InfluxStoreOptions) {
    this.options = {
      url: options.url.replace(/\/+$/, ''),
      database: options.database,
      retentionPolicy: options.retentionPolicy ?? defaultOptions.retentionPolicy,
      rawRetention: options.rawRetention ?? defaultOptions.rawRetention,
      downsample:
        options.downsample === false ? false : { ...defaultOptions.downsample, ...options.downsample },
      username: options.username,
      password: options.password,
      token: options.token,
      manageSchema: options.manageSchema ?? true,
      requestTimeoutMs: options.requestTimeoutMs ?? defaultOptions.requestTimeoutMs,
      maxLinesPerRequest: Math.min(
        Math.max(1, options.maxLinesPerRequest ?? defaultOptions.maxLinesPerRequest),
        defaultOptions.maxLinesPerRequest,
      ),
    }
  }

  /** Creates the database, retention policies and continuous query; safe to run on every start. */
  async start(): Promise<void> {
    this.checkConfig()
    const { database, retentionPolicy, rawRetention, downsample, manageSchema } = this.options
    if (!manageSchema) return this.checkSchema()
    const db = quoteIdent(database)
    await this.admin(`CREATE DATABASE ${db}`)
    const existing = await this.retentionPolicies()
    await this.ensureRetentionPolicy(existing, retentionPolicy, rawRetention, true)
    if (downsample) {
      await this.ensureRetentionPolicy(existing, downsample.retentionPolicy, downsample.retention, false)
      await this.ensureContinuousQuery()
    }
    log.debug({ database, retentionPolicy }, 'influxdb schema ready')
  }

  async stop(): Promise<void> {
    await this.writes.idle()
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
  }

  write(readings: readonly Reading[]): Promise<void> {
    return this.writes.run(() => this.writeNow(readings))
  }

  async query(q: ReadingQuery): Promise<Reading[]> {
    if (q.limit === 0) return []
    const text =
      `SELECT "value","village","device","sensor" FROM ${this.from(q)}${this.where(q)}` +
      (q.limit !== undefined ? ` LIMIT ${this.checkLimit(q.limit)}` : '')
    const readings: Reading[] = []
    for (const result of await this.runQuery(text, true)) {
      for (const series of result.series ?? []) {
        const col = (name: string) => series.columns.indexOf(name)
        const [iTime, iValue, iVillage, iDevice, iSensor] = [
          'time',
          'value',
          'village',
          'device',
          'sensor',
        ].map(col)
        for (const row of series.values ?? []) {
          readings.push({
            timeMs: Number(row[iTime!]),
            village: fromStoredTag(String(row[iVillage!] ?? '')),
            device: fromStoredTag(String(row[iDevice!] ?? '')),
            sensor: fromStoredTag(String(row[iSensor!] ?? '')),
            quantity: q.quantity,
            value: Number(row[iValue!]),
          })
        }
      }
    }
    return readings
  }

  async count(q: ReadingQuery): Promise<number> {
    if (q.limit === 0) return 0
    const text = `SELECT count("value") FROM ${this.from(q)}${this.where(q)}`
    let total = 0
    for (const result of await this.runQuery(text, false)) {
      for (const series of result.series ?? []) {
        const iCount = series.columns.indexOf('count')
        for (const row of series.values ?? []) total += Number(row[iCount] ?? 0)
      }
    }
    return q.limit !== undefined ? Math.min(total, this.checkLimit(q.limit)) : total
  }

  // --- writes ---

  private async writeNow(readings: readonly Reading[]): Promise<void> {
    if (readings.length === 0) return
    validateReadings(readings)
    const { database, retentionPolicy, maxLinesPerRequest } = this.options
    const params = { db: database, rp: retentionPolicy, precision: 'ms' }
    const refused: Array<InfluxPartialWriteError['refused'][number]> = []
    for (let from = 0; from < readings.length; from += maxLinesPerRequest) {
      const to = Math.min(readings.length, from + maxLinesPerRequest)
      const res = await this.request('/write', params, encodeBody(readings, from, to))
      if (res.status === 204 || res.status === 200) continue
      const message = errorMessage(res.body)
      if (res.status === 400 && /partial write/i.test(message)) {
        // The good lines of this request are stored; go on with the rest and report at the end.
        const dropped = /dropped=(\d+)/.exec(message)?.[1]
        refused.push({
          fromIndex: from,
          count: to - from,
          dropped: dropped ? Number(dropped) : undefined,
          message,
        })
        continue
      }
      throw httpError('/write', res.status, message)
    }
    if (refused.length > 0) throw new InfluxPartialWriteError(refused)
  }

  // --- queries ---

  private from(q: ReadingQuery): string {
    if (!isQuantity(q.quantity)) {
      throw new KampungError('invalid_query', `unknown quantity ${String(q.quantity)}`, { retryable: false })
    }
    return qualified(this.options.database, this.options.retentionPolicy, q.quantity)
  }

  private where(q: ReadingQuery): string {
    const conditions: string[] = []
    for (const key of ['village', 'device', 'sensor'] as const) {
      const value = q[key]
      if (value !== undefined) conditions.push(`${quoteIdent(key)} = ${quoteString(toStoredTag(value))}`)
    }
    if (q.fromMs !== undefined) conditions.push(`time >= ${this.checkTime(q.fromMs)}ms`)
    if (q.toMs !== undefined) conditions.push(`time < ${this.checkTime(q.toMs)}ms`)
    return conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : ''
  }

  private checkTime(ms: number): number {
    if (!Number.isFinite(ms))
      throw new KampungError('invalid_query', `bad time bound ${ms}`, { retryable: false })
    // Bounds are whole ms: an inclusive lower bound rounds up, an exclusive upper bound too.
    return Math.ceil(ms)
  }

  private checkLimit(limit: number): number {
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new KampungError('invalid_query', `bad limit ${limit}`, { retryable: false })
    }
    return limit
  }

  /** Runs one statement and returns its results; a statement error becomes a KampungError. */
  private async runQuery(text: string, chunked: boolean): Promise<StatementResult[]> {
    const params: Record<string, string> = { epoch: 'ms' }
    if (chunked) {
      params.chunked = 'true'
      params.chunk_size = String(defaultOptions.queryChunkSize)
    }
    const res = await this.request(
      '/query',
      params,
      new URLSearchParams({ q: text, db: this.options.database }),
    )
    if (res.status !== 200) throw httpError('/query', res.status, errorMessage(res.body))
    const results: StatementResult[] = []
    // A chunked answer is one JSON document per line; an unchunked one is a single document.
    for (const line of res.body.split('\n')) {
      if (line.trim() === '') continue
      const doc = JSON.parse(line) as { results?: StatementResult[]; error?: string }
      if (doc.error)
        throw new KampungError('store_query_failed', `InfluxDB: ${doc.error}`, { retryable: false })
      for (const result of doc.results ?? []) {
        if (result.error) {
          throw new KampungError('store_query_failed', `InfluxDB: ${result.error} (${text})`, {
            retryable: false,
          })
        }
        results.push(result)
      }
    }
    return results
  }

  // --- administration ---

  private checkConfig(): void {
    const { database, retentionPolicy, rawRetention, downsample, url } = this.options
    const problems: string[] = []
    if (!/^https?:\/\//.test(url)) problems.push(`url: must be http(s), got ${url}`)
    if (this.options.token !== undefined && this.options.username !== undefined)
      problems.push('token and username: give one way to authenticate, not both')
    if ((this.options.username === undefined) !== (this.options.password === undefined))
      problems.push('username and password: give both or neither')
    if (!SAFE_NAME.test(database)) problems.push(`database: must match ${SAFE_NAME}, got ${database}`)
    if (!SAFE_NAME.test(retentionPolicy)) problems.push(`retentionPolicy: must match ${SAFE_NAME}`)
    if (!DURATION.test(rawRetention)) problems.push(`rawRetention: not an InfluxQL duration: ${rawRetention}`)
    if (downsample) {
      if (!SAFE_NAME.test(downsample.retentionPolicy))
        problems.push(`downsample.retentionPolicy: must match ${SAFE_NAME}`)
      if (downsample.retentionPolicy === retentionPolicy)
        problems.push('downsample.retentionPolicy: must differ from retentionPolicy')
      if (!DURATION.test(downsample.retention))
        problems.push(`downsample.retention: not a duration: ${downsample.retention}`)
      if (!/^\d+(?:s|m|h|d|w)$/.test(downsample.interval))
        problems.push(`downsample.interval: bad interval ${downsample.interval}`)
    }
    if (problems.length > 0) {
      throw new KampungError('config_invalid', `InfluxStore: ${problems.join('; ')}`, { retryable: false })
    }
  }

  private async admin(statement: string): Promise<StatementResult[]> {
    const params: Record<string, string> = {}
    const res = await this.request('/query', params, new URLSearchParams({ q: statement }))
    if (res.status !== 200) throw httpError('/query', res.status, errorMessage(res.body))
    const doc = JSON.parse(res.body) as { results?: StatementResult[] }
    const results = doc.results ?? []
    const failed = results.find((r) => r.error)
    if (failed)
      throw new KampungError('store_admin_failed', `InfluxDB: ${failed.error} (${statement})`, {
        retryable: false,
      })
    return results
  }

  /**
   * With a schema made by someone else: the retention policy (on 2.x, the DBRP mapping) must be
   * there, or every write would fail later with a less helpful message.
   */
  private async checkSchema(): Promise<void> {
    const { database, retentionPolicy } = this.options
    let policies: Map<string, { default: boolean }>
    try {
      policies = await this.retentionPolicies()
    } catch (err) {
      if (
        err instanceof KampungError &&
        err.code === 'store_admin_failed' &&
        /database not found/i.test(err.message)
      )
        policies = new Map()
      else throw err
    }
    if (!policies.has(retentionPolicy)) {
      throw new KampungError(
        'config_invalid',
        `InfluxStore: no retention policy "${retentionPolicy}" on database "${database}" (manageSchema is off). ` +
          `InfluxDB 1.x: CREATE DATABASE ${quoteIdent(database)}; CREATE RETENTION POLICY ${quoteIdent(retentionPolicy)} ON ${quoteIdent(database)} DURATION 90d REPLICATION 1 DEFAULT. ` +
          `InfluxDB 2.x: influx v1 dbrp create --db ${database} --rp ${retentionPolicy} --bucket-id <bucket> --default`,
        { retryable: false },
      )
    }
    log.debug({ database, retentionPolicy }, 'influxdb schema present (managed elsewhere)')
  }

  private async retentionPolicies(): Promise<Map<string, { default: boolean }>> {
    const results = await this.admin(`SHOW RETENTION POLICIES ON ${quoteIdent(this.options.database)}`)
    const policies = new Map<string, { default: boolean }>()
    for (const series of results[0]?.series ?? []) {
      const iName = series.columns.indexOf('name')
      const iDefault = series.columns.indexOf('default')
      for (const row of series.values ?? [])
        policies.set(String(row[iName]), { default: row[iDefault] === true })
    }
    return policies
  }

  private async ensureRetentionPolicy(
    existing: Map<string, { default: boolean }>,
    name: string,
    duration: string,
    isDefault: boolean,
  ): Promise<void> {
    const on = `${quoteIdent(name)} ON ${quoteIdent(this.options.database)}`
    const tail = `DURATION ${duration} REPLICATION 1${isDefault ? ' DEFAULT' : ''}`
    // ALTER keeps an existing policy (and its data) and applies a changed duration.
    await this.admin(
      existing.has(name) ? `ALTER RETENTION POLICY ${on} ${tail}` : `CREATE RETENTION POLICY ${on} ${tail}`,
    )
  }

  /** The continuous query that downsamples every measurement of the raw policy. */
  continuousQuery(): { name: string; statement: string } | undefined {
    const { database, retentionPolicy, downsample } = this.options
    if (!downsample) return undefined
    const name = `cq_${downsample.retentionPolicy}`
    const db = quoteIdent(database)
    const statement =
      `CREATE CONTINUOUS QUERY ${quoteIdent(name)} ON ${db} BEGIN ` +
      `SELECT mean("value") AS "value", min("value") AS "min", max("value") AS "max" ` +
      `INTO ${db}.${quoteIdent(downsample.retentionPolicy)}.:MEASUREMENT ` +
      `FROM ${db}.${quoteIdent(retentionPolicy)}./.*/ GROUP BY time(${downsample.interval}), * END`
    return { name, statement }
  }

  private async ensureContinuousQuery(): Promise<void> {
    const cq = this.continuousQuery()
    if (!cq) return
    try {
      // Creating an identical CQ again is a no-op on InfluxDB 1.x.
      await this.admin(cq.statement)
    } catch (err) {
      if (!(err instanceof KampungError) || err.code !== 'store_admin_failed') throw err
      // A CQ of that name with a different query (config changed): replace it.
      await this.admin(`DROP CONTINUOUS QUERY ${quoteIdent(cq.name)} ON ${quoteIdent(this.options.database)}`)
      await this.admin(cq.statement)
      log.info({ cq: cq.name }, 'continuous query replaced')
    }
  }

  // --- HTTP ---

  /**
   * One HTTP request to InfluxDB over a keep-alive connection (node:http rather than fetch: the
   * /write body goes out as one buffer without the copies undici makes, which cost ~5 % of the
   * ingest's CPU in the benchmark). Network errors and timeouts are retryable KampungErrors.
   */
  private request(
    path: '/write' | '/query',
    params: Record<string, string>,
    body: Buffer | URLSearchParams,
  ): Promise<{ status: number; body: string }> {
    const { url, username, password, token, requestTimeoutMs } = this.options
    const search = new URLSearchParams(params)
    const target = new URL(`${url}${path}?${search}`)
    const form = body instanceof URLSearchParams
    const data = form ? Buffer.from(body.toString()) : body
    const headers: Record<string, string | number> = {
      'Content-Type': form ? 'application/x-www-form-urlencoded' : 'text/plain; charset=utf-8',
      'Content-Length': data.length,
    }
    if (token !== undefined) headers.Authorization = `Token ${token}`
    else if (username !== undefined)
      headers.Authorization = `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`
    const secure = target.protocol === 'https:'
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = (secure ? https : http).request(
        target,
        { method: 'POST', headers, agent: secure ? this.httpsAgent : this.httpAgent },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () => {
            clearTimeout(timer)
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') })
          })
          res.on('error', reject)
        },
      )
      const timer = setTimeout(() => req.destroy(new RequestTimeout()), requestTimeoutMs)
      req.on('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
      req.end(data)
    }).catch((err: unknown) => {
      const timedOut = err instanceof RequestTimeout
      throw new KampungError(
        timedOut ? 'store_timeout' : 'store_unreachable',
        timedOut
          ? `InfluxDB ${path} did not answer within ${requestTimeoutMs} ms`
          : `InfluxDB ${path} unreachable at ${url}: ${causeMessage(err)}`,
        { retryable: true, cause: err },
      )
    })
  }
}

class RequestTimeout extends Error {
  override name = 'TimeoutError'
}

function httpError(path: string, status: number, message: string): KampungError {
  // 5xx, 408 and 429 are the peer's trouble, worth retrying; any other 4xx is ours and will not heal.
  const retryable = status >= 500 || status === 408 || status === 429
  const code = retryable
    ? 'store_server_error'
    : status === 401 || status === 403
      ? 'store_unauthorized'
      : 'store_bad_request'
  return new KampungError(code, `InfluxDB ${path} answered ${status}: ${message}`, { retryable })
}

function errorMessage(body: string): string {
  try {
    const doc = JSON.parse(body) as { error?: unknown }
    if (typeof doc.error === 'string') return doc.error
  } catch {
    // not JSON: use the text
  }
  return body.slice(0, 500)
}

function causeMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const cause = (err as { cause?: unknown }).cause
  return cause instanceof Error ? `${err.message} (${cause.message})` : err.message
}
