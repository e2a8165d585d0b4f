import { KampungError } from '../errors.ts'
import { getLogger } from '../log.ts'
import {
  encodePoint,
  type FieldValue,
  InfluxClient,
  type InfluxConnectionOptions,
  InfluxSchema,
} from '../store/index.ts'

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

/** One line; tags sorted, empty tag values left out (line protocol has no empty tag value). */
export function encodeEvent(e: StoredEvent): string {
  const fields: Record<string, FieldValue> = {}
  for (const [k, v] of Object.entries(e.fields))
    fields[k] = typeof v === 'number' && INTEGER_FIELDS.has(k) ? BigInt(Math.trunc(v)) : v
  return encodePoint({ measurement: e.measurement, tags: e.tags, fields, timeMs: Math.trunc(e.timeMs) })
}

export interface EventSink {
  start(): Promise<void>
  stop(): Promise<void>
  /** Resolves once InfluxDB has every event; throws a KampungError (retryable or not) otherwise. */
  write(events: readonly StoredEvent[]): Promise<void>
}

export interface InfluxEventSinkOptions extends InfluxConnectionOptions {
  database: string
  /** Retention policy for events; created with DURATION INF (annotations are kept for good). */
  retentionPolicy?: string
  /** false: the `events` policy is made by an administrator; start() only checks it is there. */
  manageSchema?: boolean
}

/**
 * Writes alert events and irrigation advice to InfluxDB (`/write`, precision ms) under the
 * `events` retention policy, through the store's InfluxClient and InfluxSchema. The buffering is
 * the engine's: events wait in SQLite until write() resolves.
 */
export class InfluxEventSink implements EventSink {
  private readonly database: string
  private readonly retentionPolicy: string
  private readonly client: InfluxClient
  private readonly schema: InfluxSchema

  constructor(opts: InfluxEventSinkOptions) {
    this.database = opts.database
    this.retentionPolicy = opts.retentionPolicy ?? 'events'
    this.client = new InfluxClient(opts)
    this.schema = new InfluxSchema(this.client, { manageSchema: opts.manageSchema ?? true })
  }

  /** Declares the `events` policy (made when the schema is ours); retryable when InfluxDB is down. */
  async start(): Promise<void> {
    const problems = this.client.configProblems()
    if (problems.length > 0)
      throw new KampungError('config_invalid', `InfluxEventSink: ${problems.join('; ')}`, {
        retryable: false,
      })
    await this.schema.ensure({
      database: this.database,
      retentionPolicies: [{ name: this.retentionPolicy, duration: 'INF' }],
    })
    log.debug({ rp: this.retentionPolicy }, 'events retention policy ready')
  }

  async stop(): Promise<void> {
    this.client.close()
  }

  async write(events: readonly StoredEvent[]): Promise<void> {
    if (events.length === 0) return
    const partial = await this.client.write(
      { database: this.database, retentionPolicy: this.retentionPolicy },
      events.map(encodeEvent).join('\n'),
    )
    if (partial)
      throw new KampungError('events_partial_write', `InfluxDB refused events: ${partial.message}`, {
        retryable: false,
      })
  }
}
