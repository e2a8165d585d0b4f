import http from 'node:http'
import https from 'node:https'
import { KampungError } from '../../errors.ts'

/** Where InfluxDB is and how to authenticate: shared by the store and every sink. */
export interface InfluxConnectionOptions {
  /** Base URL of the InfluxDB 1.x HTTP API (or a 2.x/3.x v1-compatibility endpoint), e.g. `http://127.0.0.1:8086`. */
  url: string
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
  /** Per HTTP request. Default 10 000 ms. */
  requestTimeoutMs?: number
}

const defaultOptions = {
  // A write of 5 000 lines takes ~50 ms on influxd 1.6 here; 10 s means the peer is really stuck.
  requestTimeoutMs: 10_000,
  // Keep-alive sockets per client: the store keeps at most a few writes and queries in flight.
  maxSockets: 8,
} as const

export interface SeriesResult {
  name?: string
  columns: string[]
  values?: unknown[][]
}
export interface StatementResult {
  statement_id?: number
  series?: SeriesResult[]
  error?: string
}

/** What a /write answered 400 "partial write" with: the other lines of the request are stored. */
export interface PartialWrite {
  dropped?: number
  message: string
}

/** A statement InfluxDB answered with an error (HTTP 200 with `error`): never retryable. */
export class InfluxStatementError extends KampungError {
  /** InfluxDB's own words, e.g. `database not found: kampung`. */
  readonly influxMessage: string
  readonly statement: string

  constructor(
    code: 'store_query_failed' | 'store_database_not_found',
    influxMessage: string,
    statement: string,
  ) {
    super(code, `InfluxDB: ${influxMessage} (${statement})`, { retryable: false })
    this.name = 'InfluxStatementError'
    this.influxMessage = influxMessage
    this.statement = statement
  }
}

class RequestTimeout extends Error {
  override name = 'TimeoutError'
}

/**
 * The one InfluxDB v1 HTTP client: `POST /write` and `POST /query` over keep-alive connections,
 * credentials only in the Authorization header, a timeout per request, and every failure a
 * KampungError whose `retryable` says what to do (peer down, timeout, 5xx/408/429: retry; any
 * other 4xx or a statement error: do not). node:http rather than fetch: the /write body goes out
 * as one buffer without the copies undici makes (~5 % of the ingest's CPU in the benchmark).
 */
export class InfluxClient {
  readonly url: string
  private readonly options: InfluxConnectionOptions & { requestTimeoutMs: number }
  private readonly authorization: string | undefined
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: defaultOptions.maxSockets })
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: defaultOptions.maxSockets })

  constructor(options: InfluxConnectionOptions) {
    this.url = options.url.replace(/\/+$/, '')
    this.options = {
      ...options,
      requestTimeoutMs: options.requestTimeoutMs ?? defaultOptions.requestTimeoutMs,
    }
    const { username, password, token } = options
    this.authorization =
      token !== undefined
        ? `Token ${token}`
        : username !== undefined
          ? `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`
          : undefined
  }

  /** What is wrong with the connection settings, one `key: problem` each (empty when fine). */
  configProblems(): string[] {
    const { url, token, username, password } = this.options
    const problems: string[] = []
    if (!/^https?:\/\//.test(url)) problems.push(`url: must be http(s), got ${url}`)
    if (/^https?:\/\/[^/]*@/.test(url))
      problems.push('url: no credentials in the URL; use username/password or token')
    if (token !== undefined && username !== undefined)
      problems.push('token and username: give one way to authenticate, not both')
    if ((username === undefined) !== (password === undefined))
      problems.push('username and password: give both or neither')
    return problems
  }

  /**
   * One /write request (`precision=ms`). Resolves undefined when every line is stored, or with
   * what InfluxDB refused on a 400 "partial write" (the other lines are stored); throws otherwise.
   */
  async write(
    target: { database: string; retentionPolicy: string },
    body: Buffer | string,
  ): Promise<PartialWrite | undefined> {
    const params = { db: target.database, rp: target.retentionPolicy, precision: 'ms' }
    const res = await this.request('/write', params, body)
    if (res.status === 204 || res.status === 200) return undefined
    const message = errorMessage(res.body)
    if (res.status === 400 && /partial write/i.test(message)) {
      const dropped = /dropped=(\d+)/.exec(message)?.[1]
      return { dropped: dropped ? Number(dropped) : undefined, message }
    }
    throw httpError('/write', res.status, message)
  }

  /**
   * One InfluxQL statement (`epoch=ms`); `chunked` streams big answers as one JSON document per
   * line. A statement error becomes an InfluxStatementError (`store_database_not_found` when the
   * database is missing, else `store_query_failed`).
   */
  async query(
    statement: string,
    options: { database?: string; chunked?: boolean; chunkSize?: number } = {},
  ): Promise<StatementResult[]> {
    const params: Record<string, string> = { epoch: 'ms' }
    if (options.chunked) {
      params.chunked = 'true'
      params.chunk_size = String(options.chunkSize ?? 10_000)
    }
    const form = new URLSearchParams({ q: statement })
    if (options.database !== undefined) form.set('db', options.database)
    const res = await this.request('/query', params, form)
    if (res.status !== 200) throw httpError('/query', res.status, errorMessage(res.body))
    const results: StatementResult[] = []
    for (const line of res.body.split('\n')) {
      if (line.trim() === '') continue
      const doc = JSON.parse(line) as { results?: StatementResult[]; error?: string }
      if (doc.error) throw statementError(doc.error, statement)
      for (const result of doc.results ?? []) {
        if (result.error) throw statementError(result.error, statement)
        results.push(result)
      }
    }
    return results
  }

  /** Closes the keep-alive connections. */
  close(): void {
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
  }

  private request(
    path: '/write' | '/query',
    params: Record<string, string>,
    body: Buffer | string | URLSearchParams,
  ): Promise<{ status: number; body: string }> {
    const { requestTimeoutMs } = this.options
    const target = new URL(`${this.url}${path}?${new URLSearchParams(params)}`)
    const form = body instanceof URLSearchParams
    const data = form ? Buffer.from(body.toString()) : typeof body === 'string' ? Buffer.from(body) : body
    const headers: Record<string, string | number> = {
      'Content-Type': form ? 'application/x-www-form-urlencoded' : 'text/plain; charset=utf-8',
      'Content-Length': data.length,
    }
    if (this.authorization !== undefined) headers.Authorization = this.authorization
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
          : `InfluxDB ${path} unreachable at ${this.url}: ${causeMessage(err)}`,
        { retryable: true, cause: err },
      )
    })
  }
}

function statementError(influxMessage: string, statement: string): InfluxStatementError {
  // Classified once, here, from InfluxDB's answer; callers look at `code`, never at the text.
  const code = /^database not found/i.test(influxMessage) ? 'store_database_not_found' : 'store_query_failed'
  return new InfluxStatementError(code, influxMessage, statement)
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
