import { KampungError } from '../errors.ts'
import { getLogger } from '../log.ts'
import { escapeMeasurement, escapeTag, formatFloat, toStoredTag } from '../store/index.ts'

const log = getLogger('alerts.events')

/** One event as kept in SQLite until InfluxDB has it. */
export interface StoredEvent {
  measurement: string
  timeMs: number
  tags: Record<string, string | undefined>
  /** Numbers are floats except the names in INTEGER_FIELDS; strings are string fields. */
  fields: Record<string, number | string>
}

const INTEGER_FIELDS = new Set(['alert_id', 'days'])

/** A string field value: line protocol escapes only `"` and `\` there; newlines become spaces. */
function stringField(value: string): string {
  return `"${value.replace(/[\r\n]+/g, ' ').replace(/[\\"]/g, (c) => `\\${c}`)}"`
}

/** One line; tags sorted, empty tag values left out (line protocol has no empty tag value). */
export function encodeEvent(e: StoredEvent): string {
  const tags = Object.entries(e.tags)
    .filter((kv): kv is [string, string] => typeof kv[1] === 'string' && kv[1] !== '')
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `,${escapeTag(k)}=${escapeTag(toStoredTag(v))}`)
    .join('')
  const fields = Object.entries(e.fields)
    .map(([k, v]) => {
      const value =
        typeof v === 'string' ? stringField(v) : INTEGER_FIELDS.has(k) ? `${Math.trunc(v)}i` : formatFloat(v)
      return `${escapeTag(k)}=${value}`
    })
    .join(',')
  return `${escapeMeasurement(e.measurement)}${tags} ${fields} ${Math.trunc(e.timeMs)}`
}

export interface EventSink {
  start(): Promise<void>
  stop(): Promise<void>
  /** Resolves once InfluxDB has every event; throws a KampungError (retryable or not) otherwise. */
  write(events: readonly StoredEvent[]): Promise<void>
}

export interface InfluxEventSinkOptions {
  url: string
  database: string
  username?: string
  password?: string
  token?: string
  /** Retention policy for events; created with DURATION INF (annotations are kept for good). */
  retentionPolicy?: string
  requestTimeoutMs?: number
}

/**
 * Writes alert events and irrigation advice to InfluxDB 1.x (`/write`, precision ms) under the
 * `events` retention policy, which start() creates. Small volumes: plain fetch is enough here.
 */
export class InfluxEventSink implements EventSink {
  private readonly opts: Required<Omit<InfluxEventSinkOptions, 'username' | 'password' | 'token'>> &
    InfluxEventSinkOptions

  constructor(opts: InfluxEventSinkOptions) {
    this.opts = { retentionPolicy: 'events', requestTimeoutMs: 10_000, ...opts }
  }

  private async post(
    path: string,
    params: Record<string, string>,
    body: string,
    form: boolean,
  ): Promise<string> {
    const { url, username, password, token, requestTimeoutMs } = this.opts
    const search = new URLSearchParams(params)
    if (username !== undefined) search.set('u', username)
    if (password !== undefined) search.set('p', password)
    const headers: Record<string, string> = {
      'content-type': form ? 'application/x-www-form-urlencoded' : 'text/plain; charset=utf-8',
    }
    if (token !== undefined) headers.authorization = `Token ${token}`
    let res: Response
    try {
      res = await fetch(`${url.replace(/\/+$/, '')}${path}?${search}`, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(requestTimeoutMs),
      })
    } catch (err) {
      throw new KampungError(
        'events_unreachable',
        `InfluxDB unreachable at ${url}: ${(err as Error).message}`,
        {
          retryable: true,
          cause: err,
        },
      )
    }
    const text = await res.text()
    if (!res.ok) {
      const retryable = res.status >= 500 || res.status === 408 || res.status === 429
      throw new KampungError('events_write_failed', `InfluxDB ${path} answered ${res.status}: ${text}`, {
        retryable,
      })
    }
    return text
  }

  private async admin(q: string): Promise<void> {
    const text = await this.post('/query', {}, new URLSearchParams({ q }).toString(), true)
    const err = (JSON.parse(text) as { results?: Array<{ error?: string }> }).results?.find((r) => r.error)
    if (err)
      throw new KampungError('events_admin_failed', `InfluxDB: ${err.error} (${q})`, { retryable: false })
  }

  /** Creates the database and the `events` policy; safe on every start. Retryable when InfluxDB is down. */
  async start(): Promise<void> {
    const db = `"${this.opts.database.replace(/"/g, '\\"')}"`
    const rp = `"${this.opts.retentionPolicy.replace(/"/g, '\\"')}"`
    await this.admin(`CREATE DATABASE ${db}`)
    // CREATE with the same settings is a no-op; it fails only if the policy exists with others.
    try {
      await this.admin(`CREATE RETENTION POLICY ${rp} ON ${db} DURATION INF REPLICATION 1`)
    } catch (err) {
      if (!(err instanceof KampungError) || err.retryable) throw err
      await this.admin(`ALTER RETENTION POLICY ${rp} ON ${db} DURATION INF REPLICATION 1`)
    }
    log.debug({ rp: this.opts.retentionPolicy }, 'events retention policy ready')
  }

  async stop(): Promise<void> {}

  async write(events: readonly StoredEvent[]): Promise<void> {
    if (events.length === 0) return
    await this.post(
      '/write',
      { db: this.opts.database, rp: this.opts.retentionPolicy, precision: 'ms' },
      events.map(encodeEvent).join('\n'),
      false,
    )
  }
}
