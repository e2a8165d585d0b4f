import { KampungError } from '../../errors.ts'
import type { Reading } from '../../telemetry/index.ts'
import { isQuantity } from '../../telemetry/index.ts'
import { InFlight } from '../in-flight.ts'
import {
  type ReadingQuery,
  type RefusedReading,
  StorePartialWriteError,
  type TelemetryStore,
} from '../types.ts'
import {
  InfluxClient,
  type InfluxConnectionOptions,
  type PartialWrite,
  type StatementResult,
} from './client.ts'
import { qualified, quoteIdent, quoteString } from './influxql.ts'
import { encodeBody, fromStoredTag, toStoredTag } from './line-protocol.ts'
import { InfluxSchema, type SchemaNeeds } from './schema.ts'

export interface InfluxDownsampleOptions {
  /** Retention policy the hourly means go to. Default `rp_1h`. */
  retentionPolicy?: string
  /** How long the downsampled points are kept (InfluxQL duration). Default `260w` (5 years). */
  retention?: string
  /** GROUP BY time() interval of the continuous query. Default `1h`. */
  interval?: string
  /** Shard group duration of the policy (InfluxQL duration). Default `4w` (InfluxDB's would be 7d). */
  shardDuration?: string
  /**
   * Dashboards read the raw policy for time ranges up to this long (InfluxQL duration) that start
   * within its retention, and this policy for longer or older ones (see rangePolicies()). Default `2d`.
   */
  readRawUpTo?: string
  /**
   * A daily tier above the hourly one, for long ranges; `false` turns it off. Default
   * `{ retentionPolicy: 'rp_1d', retention: 'INF', readBeyond: '30d', utcOffsetHours: 7 }`.
   */
  daily?: InfluxDailyOptions | false
}

/**
 * Daily mean/min/max/sum of every series, computed by a continuous query from the hourly policy
 * (24 points a day per series, not the day's raw readings: at 10 000 nodes a day of raw is tens of
 * millions of points) with `RESAMPLE EVERY <hourly interval> FOR 2d`: every hour it rewrites the
 * day so far and the day before, so the day in progress is there up to its last complete hour, and
 * an hour the hourly CQ wrote after this one ran (both run at the same instant) is in the next run.
 */
export interface InfluxDailyOptions {
  /** Retention policy of the daily points. Default `rp_1d`. */
  retentionPolicy?: string
  /** How long they are kept (InfluxQL duration or `INF`). Default `INF` (365 points a year per series). */
  retention?: string
  /** Shard group duration of the policy. Default `52w`: a 90-day chart reads 1 or 2 shards, not 13. */
  shardDuration?: string
  /** Dashboards read this policy for ranges longer than this (InfluxQL duration). Default `30d`. */
  readBeyond?: string
  /** The officers' day: days start at local midnight of UTC+this (WIB 7, WITA 8, WIT 9). Default 7. */
  utcOffsetHours?: number
}

/** Retention policy and measurement of the dashboards' range → policy table (rangePolicies()). */
export const RANGE_POLICIES_RP = 'forever'
export const RANGE_POLICIES_MEASUREMENT = 'rp_config'
const LAST_POLICY_TIME_MS = Date.UTC(2100, 0, 1)

export interface InfluxStoreOptions extends InfluxConnectionOptions {
  database: string
  /** The raw retention policy, made DEFAULT on the database. Default `raw`. */
  retentionPolicy?: string
  /** How long raw readings are kept. Default `90d`. */
  rawRetention?: string
  /** Downsampling into hourly mean/min/max by a continuous query; `false` turns it off. */
  downsample?: InfluxDownsampleOptions | false
  /**
   * true (default): start() creates the database, retention policies and continuous query, which
   * needs an InfluxDB 1.x admin. false: someone else made them (InfluxDB 2.x/3.x: a bucket and a
   * DBRP mapping; or a 1.x user without admin rights); start() sends no schema statement and only
   * checks that `database` with `retentionPolicy` exists (see InfluxSchema).
   */
  manageSchema?: boolean
  /** Lines per /write request. Default and maximum 5 000. */
  maxLinesPerRequest?: number
}

const defaultOptions = {
  retentionPolicy: 'raw',
  rawRetention: '90d',
  downsample: {
    retentionPolicy: 'rp_1h',
    retention: '260w',
    shardDuration: '4w',
    interval: '1h',
    readRawUpTo: '2d',
  },
  daily: {
    retentionPolicy: 'rp_1d',
    retention: 'INF',
    shardDuration: '52w',
    readBeyond: '30d',
    utcOffsetHours: 7,
  },
  // Big batches, few requests in flight (ingest.maxWritesInFlight): influxd 1.6 answers 500 "error
  // syncing wal" when about 1 000 small writes wait at once.
  maxLinesPerRequest: 5_000,
  // Rows per chunk of a chunked /query answer: keeps memory flat and sidesteps max-row-limit.
  queryChunkSize: 10_000,
  // Extra /write requests one write may spend finding which lines a partial write refused (the
  // lines are halved and resent; resending stored lines is harmless, the store is idempotent).
  // Past it the rest of the refused request's lines are reported as possibly refused.
  maxLocateRequests: 64,
} as const

interface ResolvedOptions {
  database: string
  retentionPolicy: string
  rawRetention: string
  downsample: Required<Omit<InfluxDownsampleOptions, 'daily'>> | false
  /** Only with `downsample`: the daily tier is computed from the hourly one. */
  daily: Required<InfluxDailyOptions> | false
  manageSchema: boolean
  maxLinesPerRequest: number
}

/**
 * A /write that InfluxDB answered 400 "partial write": the other lines are stored.
 * `refusedReadings` names each refused reading (found by resending halves of the refused request).
 */
export class InfluxPartialWriteError extends StorePartialWriteError {
  /** One entry per refused request: which readings it carried and what InfluxDB said. */
  readonly refused: ReadonlyArray<{ fromIndex: number; count: number; dropped?: number; message: string }>

  constructor(refused: InfluxPartialWriteError['refused'], refusedReadings: readonly RefusedReading[]) {
    const summary = refused.map((r) => `readings [${r.fromIndex}, ${r.fromIndex + r.count}): ${r.message}`)
    super(
      `InfluxDB refused ${refusedReadings.length} reading(s) of the write: ${summary.join('; ')}`,
      refusedReadings,
    )
    this.name = 'InfluxPartialWriteError'
    this.refused = refused
  }
}

/** Milliseconds of an InfluxQL duration (`90d`, `1h30m`); undefined for `INF` or zero (kept for ever). */
export function durationMs(duration: string): number | undefined {
  const unitMs: Record<string, number> = {
    ns: 1e-6,
    u: 1e-3,
    µ: 1e-3,
    ms: 1,
    s: 1_000,
    m: 60_000,
    h: 3_600_000,
    d: 86_400_000,
    w: 604_800_000,
  }
  let total = 0
  for (const [, n, unit] of duration.matchAll(/(\d+)(ns|u|µ|ms|s|m|h|d|w)/g))
    total += Number(n) * unitMs[unit!]!
  return total > 0 ? total : undefined
}

function withoutDaily(o: InfluxDownsampleOptions | undefined): Omit<InfluxDownsampleOptions, 'daily'> {
  const { daily: _, ...rest } = o ?? {}
  return rest
}

/**
 * TelemetryStore on InfluxDB's v1 HTTP API, through the one InfluxClient (writes, queries) and
 * InfluxSchema (database, retention policies, continuous query). Not node-influx: it marks its
 * only host down for up to 10 s after one failure, so the first query after an outage would fail.
 */
export class InfluxStore implements TelemetryStore {
  readonly name = 'influxdb'
  /** The raw retention policy's duration: the decoder refuses older readings. */
  readonly retentionMs: number | undefined
  private readonly options: ResolvedOptions
  /** Writes run as they come (the WriteBatcher limits them); stop() waits for these. */
  private readonly writes = new InFlight()
  private readonly client: InfluxClient
  private readonly schema: InfluxSchema

  constructor(options: InfluxStoreOptions) {
    this.client = new InfluxClient(options)
    this.schema = new InfluxSchema(this.client, { manageSchema: options.manageSchema ?? true })
    this.options = {
      database: options.database,
      retentionPolicy: options.retentionPolicy ?? defaultOptions.retentionPolicy,
      rawRetention: options.rawRetention ?? defaultOptions.rawRetention,
      downsample:
        options.downsample === false
          ? false
          : { ...defaultOptions.downsample, ...withoutDaily(options.downsample) },
      daily:
        options.downsample === false || options.downsample?.daily === false
          ? false
          : { ...defaultOptions.daily, ...options.downsample?.daily },
      manageSchema: options.manageSchema ?? true,
      maxLinesPerRequest: Math.min(
        Math.max(1, options.maxLinesPerRequest ?? defaultOptions.maxLinesPerRequest),
        defaultOptions.maxLinesPerRequest,
      ),
    }
    this.retentionMs = durationMs(this.options.rawRetention)
  }

  /** Creates the database, retention policies and continuous query; safe to run on every start. */
  async start(): Promise<void> {
    this.checkConfig()
    await this.schema.ensure(this.schemaNeeds())
    if (this.options.manageSchema) await this.writeRangePolicies()
  }

  /**
   * Which retention policy a dashboard reads for a time range, as data Grafana can query
   * (`rp_config` in the INF policy `forever`, the Grafana community pattern for InfluxDB 1.x):
   * one point per policy, its timestamp the policy's duration after the epoch, fields `rp`,
   * `max_range_ms` and `sum_field` (the field whose sum is the readings' sum: raw `value`, the
   * downsampled policies `sum`; the dashboards' `$sumfield`). The dashboards' hidden `$rp` variable (dashboards/src/common.ts) asks
   *   SELECT "rp" FROM "forever"."rp_config" WHERE "max_range_ms" >= ${__to} - ${__from}
   *     AND time > now() - ${__from}ms LIMIT 1
   * i.e. the policy with the shortest duration that still holds the range's start and whose
   * `max_range_ms` covers the range: raw for ranges up to `readRawUpTo` within its retention,
   * the hourly policy up to `daily.readBeyond`, the daily one beyond (the longest policy's point
   * is dated 2100, so a range older than every policy still gets one, and an empty panel rather
   * than a broken query).
   */
  rangePolicies(): { retentionPolicy: string; measurement: string; lines: string[] } {
    const { retentionPolicy, rawRetention, downsample, daily } = this.options
    const unbounded = Number.MAX_SAFE_INTEGER
    const policies = [
      {
        rp: retentionPolicy,
        sumField: 'value',
        maxRangeMs: downsample ? (durationMs(downsample.readRawUpTo) ?? 0) : unbounded,
        durationMs: durationMs(rawRetention) ?? unbounded,
      },
      ...(downsample
        ? [
            {
              rp: downsample.retentionPolicy,
              sumField: 'sum',
              maxRangeMs: daily ? (durationMs(daily.readBeyond) ?? 0) : unbounded,
              durationMs: durationMs(downsample.retention) ?? unbounded,
            },
          ]
        : []),
      ...(daily
        ? [
            {
              rp: daily.retentionPolicy,
              sumField: 'sum',
              maxRangeMs: unbounded,
              durationMs: durationMs(daily.retention) ?? unbounded,
            },
          ]
        : []),
    ]
    return {
      retentionPolicy: RANGE_POLICIES_RP,
      measurement: RANGE_POLICIES_MEASUREMENT,
      // The longest policy is dated 2100: chosen whenever no other fits (a range older than all).
      lines: policies.map(
        (p, i) =>
          `${RANGE_POLICIES_MEASUREMENT},idx=${i + 1} rp=${JSON.stringify(p.rp)},sum_field=${JSON.stringify(p.sumField)},max_range_ms=${p.maxRangeMs}i ${i === policies.length - 1 ? LAST_POLICY_TIME_MS : p.durationMs}`,
      ),
    }
  }

  private async writeRangePolicies(): Promise<void> {
    const { database } = this.options
    const { retentionPolicy, measurement, lines } = this.rangePolicies()
    // Stale points (a changed retention moves a point's timestamp) would be chosen too.
    await this.client.query(`DELETE FROM ${quoteIdent(measurement)}`, { database })
    const partial = await this.client.write({ database, retentionPolicy }, lines.join('\n'))
    if (partial)
      throw new KampungError('store_write_refused', `rp_config refused: ${partial.message}`, {
        retryable: false,
      })
  }

  /**
   * What the readings need: the raw policy (DEFAULT) and, with downsampling, the hourly and daily
   * policies and their CQs (optional with manageSchema false: checked, never created).
   */
  schemaNeeds(): SchemaNeeds {
    const { database, retentionPolicy, rawRetention, downsample, daily } = this.options
    return {
      database,
      retentionPolicies: [
        { name: retentionPolicy, duration: rawRetention, default: true },
        ...(downsample
          ? [
              {
                name: downsample.retentionPolicy,
                duration: downsample.retention,
                shardDuration: downsample.shardDuration,
                optional: true,
              },
            ]
          : []),
        ...(daily
          ? [
              {
                name: daily.retentionPolicy,
                duration: daily.retention,
                shardDuration: daily.shardDuration,
                optional: true,
              },
            ]
          : []),
        // Holds rp_config (rangePolicies()): points dated near the epoch, so never expiring.
        { name: RANGE_POLICIES_RP, duration: 'INF', optional: true },
      ],
      continuousQueries: this.continuousQueries(),
    }
  }

  async stop(): Promise<void> {
    await this.writes.idle()
    this.client.close()
  }

  write(readings: readonly Reading[]): Promise<void> {
    return this.writes.track(this.writeNow(readings))
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
    const { maxLinesPerRequest } = this.options
    const refused: Array<InfluxPartialWriteError['refused'][number]> = []
    const refusedReadings: RefusedReading[] = []
    const budget = { requests: defaultOptions.maxLocateRequests }
    for (let from = 0; from < readings.length; from += maxLinesPerRequest) {
      const to = Math.min(readings.length, from + maxLinesPerRequest)
      const partial = await this.writeLines(readings, from, to)
      // The good lines of this request are stored; go on with the rest and report at the end.
      if (partial) {
        refused.push({ fromIndex: from, count: to - from, ...partial })
        await this.locateRefused(readings, from, to, partial, budget, refusedReadings)
      }
    }
    if (refused.length > 0) throw new InfluxPartialWriteError(refused, refusedReadings)
  }

  private writeLines(readings: readonly Reading[], from: number, to: number) {
    const { database, retentionPolicy } = this.options
    return this.client.write({ database, retentionPolicy }, encodeBody(readings, from, to))
  }

  /**
   * Which lines of a partially refused request [from, to) InfluxDB refused: all of them when it
   * dropped as many as were sent, else each half is sent again (stored lines are stored again,
   * harmlessly) until the refused ones are found or the budget is spent; then the rest of the
   * range is reported as possibly refused (each of those lines is stored or refused for good).
   */
  private async locateRefused(
    readings: readonly Reading[],
    from: number,
    to: number,
    partial: PartialWrite,
    budget: { requests: number },
    out: RefusedReading[],
  ): Promise<void> {
    if (partial.dropped === to - from || to - from === 1) {
      for (let i = from; i < to; i++) out.push({ index: i, message: partial.message })
      return
    }
    if (budget.requests < 2) {
      const message = `InfluxDB refused some of ${to - from} readings sent together: ${partial.message}`
      for (let i = from; i < to; i++) out.push({ index: i, message })
      return
    }
    const mid = from + Math.floor((to - from) / 2)
    for (const [a, b] of [
      [from, mid],
      [mid, to],
    ] as const) {
      budget.requests -= 1
      const again = await this.writeLines(readings, a, b)
      if (again) await this.locateRefused(readings, a, b, again, budget, out)
    }
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

  private runQuery(text: string, chunked: boolean): Promise<StatementResult[]> {
    return this.client.query(text, {
      database: this.options.database,
      chunked,
      chunkSize: defaultOptions.queryChunkSize,
    })
  }

  // --- configuration ---

  private checkConfig(): void {
    const { retentionPolicy, downsample, daily } = this.options
    const problems = [...this.client.configProblems(), ...InfluxSchema.problems(this.schemaNeeds())]
    if (downsample) {
      if (downsample.retentionPolicy === retentionPolicy)
        problems.push('downsample.retentionPolicy: must differ from retentionPolicy')
      if (!/^\d+(?:s|m|h|d|w)$/.test(downsample.interval))
        problems.push(`downsample.interval: bad interval ${downsample.interval}`)
      if (!/^\d+(?:s|m|h|d|w)$/.test(downsample.readRawUpTo))
        problems.push(`downsample.readRawUpTo: bad duration ${downsample.readRawUpTo}`)
    }
    if (daily) {
      if (
        daily.retentionPolicy === retentionPolicy ||
        (downsample && daily.retentionPolicy === downsample.retentionPolicy)
      )
        problems.push('downsample.daily.retentionPolicy: must differ from the raw and hourly policies')
      if (!/^\d+(?:s|m|h|d|w)$/.test(daily.readBeyond))
        problems.push(`downsample.daily.readBeyond: bad duration ${daily.readBeyond}`)
      if (!Number.isInteger(daily.utcOffsetHours) || Math.abs(daily.utcOffsetHours) > 14)
        problems.push(
          `downsample.daily.utcOffsetHours: an integer from -14 to 14, got ${daily.utcOffsetHours}`,
        )
    }
    if (problems.length > 0) {
      throw new KampungError('config_invalid', `InfluxStore: ${problems.join('; ')}`, { retryable: false })
    }
  }

  /**
   * The continuous queries: hourly mean/min/max/sum of every raw measurement into the hourly
   * policy, and from those the daily ones into the daily policy (days from local midnight, see
   * InfluxDailyOptions).
   */
  continuousQueries(): Array<{ name: string; statement: string }> {
    const { database, retentionPolicy, downsample, daily } = this.options
    if (!downsample) return []
    const db = quoteIdent(database)
    const hourly = {
      name: `cq_${downsample.retentionPolicy}`,
      statement:
        `CREATE CONTINUOUS QUERY ${quoteIdent(`cq_${downsample.retentionPolicy}`)} ON ${db} BEGIN ` +
        `SELECT mean("value") AS "value", min("value") AS "min", max("value") AS "max", sum("value") AS "sum" ` +
        `INTO ${db}.${quoteIdent(downsample.retentionPolicy)}.:MEASUREMENT ` +
        `FROM ${db}.${quoteIdent(retentionPolicy)}./.*/ GROUP BY time(${downsample.interval}), * END`,
    }
    if (!daily) return [hourly]
    // GROUP BY time(1d, offset): days start at 00:00 local time, (24 - utcOffsetHours) h UTC.
    const offsetHours = (((24 - daily.utcOffsetHours) % 24) + 24) % 24
    const name = `cq_${daily.retentionPolicy}`
    return [
      hourly,
      {
        name,
        statement:
          `CREATE CONTINUOUS QUERY ${quoteIdent(name)} ON ${db} RESAMPLE EVERY ${downsample.interval} FOR 2d BEGIN ` +
          `SELECT mean("value") AS "value", min("min") AS "min", max("max") AS "max", sum("sum") AS "sum" ` +
          `INTO ${db}.${quoteIdent(daily.retentionPolicy)}.:MEASUREMENT ` +
          `FROM ${db}.${quoteIdent(downsample.retentionPolicy)}./.*/ GROUP BY time(1d${offsetHours ? `, ${offsetHours}h` : ''}), * END`,
      },
    ]
  }
}
