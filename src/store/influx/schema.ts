import { KampungError } from '../../errors.ts'
import { getLogger } from '../../log.ts'
import { type InfluxClient, InfluxStatementError } from './client.ts'
import { DURATION, quoteIdent, SAFE_NAME } from './influxql.ts'

/** A retention policy someone writes to. */
export interface RetentionPolicyNeed {
  name: string
  /** InfluxQL duration (`90d`, `260w`) or `INF`. */
  duration: string
  /**
   * InfluxQL duration of its shard groups; unset: InfluxDB's default (7d for policies over 6
   * months). Sparse downsampled data reads faster from few long shards: a query opens one cursor
   * per series and shard (rp_1d over 90 days: 13 weekly shards, 1 with 52w).
   */
  shardDuration?: string
  /** Made the database's DEFAULT policy. */
  default?: boolean
  /**
   * With the schema managed elsewhere, a missing optional policy is not an error (e.g. the
   * downsampling target, which 2.x fills with a task or not at all).
   */
  optional?: boolean
}

export interface ContinuousQueryNeed {
  name: string
  /** The whole `CREATE CONTINUOUS QUERY … END` statement. */
  statement: string
}

/** What one writer needs to exist on one database. */
export interface SchemaNeeds {
  database: string
  retentionPolicies: readonly RetentionPolicyNeed[]
  continuousQueries?: readonly ContinuousQueryNeed[]
}

const log = getLogger('store')

const policyTail = (rp: RetentionPolicyNeed) =>
  `DURATION ${rp.duration} REPLICATION 1${rp.shardDuration ? ` SHARD DURATION ${rp.shardDuration}` : ''}${rp.default ? ' DEFAULT' : ''}`

/**
 * The one place that sends schema statements to InfluxDB. Every writer (the store, the alert
 * event sink, the Oksigen assessment sink) declares what it needs and calls `ensure()`.
 *
 * - `manageSchema: true` (InfluxDB 1.x admin): CREATE DATABASE; CREATE each missing retention
 *   policy, ALTER existing ones to the declared duration; create each continuous query, and drop
 *   and re-create one whose query changed. Safe to run on every start.
 * - `manageSchema: false` (InfluxDB 2.x/3.x, or a 1.x user without admin rights): sends no
 *   CREATE/ALTER/DROP at all. It only reads `SHOW RETENTION POLICIES` and refuses to start
 *   (`config_invalid`, saying what the administrator must create) when a needed policy is missing,
 *   since every write would fail later with a less helpful message.
 */
export class InfluxSchema {
  private readonly client: InfluxClient
  private readonly manageSchema: boolean

  constructor(client: InfluxClient, options: { manageSchema: boolean }) {
    this.client = client
    this.manageSchema = options.manageSchema
  }

  /** Names and durations that cannot be sent as they are, one `problem` each. */
  static problems(needs: SchemaNeeds): string[] {
    const problems: string[] = []
    if (!SAFE_NAME.test(needs.database))
      problems.push(`database: must match ${SAFE_NAME}, got ${needs.database}`)
    for (const rp of needs.retentionPolicies) {
      if (!SAFE_NAME.test(rp.name)) problems.push(`retention policy: must match ${SAFE_NAME}, got ${rp.name}`)
      if (!DURATION.test(rp.duration))
        problems.push(`retention policy ${rp.name}: not an InfluxQL duration: ${rp.duration}`)
      if (rp.shardDuration !== undefined && !DURATION.test(rp.shardDuration))
        problems.push(
          `retention policy ${rp.name}: shard duration not an InfluxQL duration: ${rp.shardDuration}`,
        )
    }
    return problems
  }

  async ensure(needs: SchemaNeeds): Promise<void> {
    const problems = InfluxSchema.problems(needs)
    if (problems.length > 0)
      throw new KampungError('config_invalid', `InfluxDB schema: ${problems.join('; ')}`, {
        retryable: false,
      })
    if (!this.manageSchema) return this.check(needs)
    const db = quoteIdent(needs.database)
    await this.client.query(`CREATE DATABASE ${db}`)
    const existing = await this.retentionPolicies(needs.database)
    for (const rp of needs.retentionPolicies) {
      const on = `${quoteIdent(rp.name)} ON ${db}`
      const tail = policyTail(rp)
      // ALTER keeps an existing policy (and its data) and applies a changed duration (a changed
      // shard duration applies to shard groups created from then on).
      await this.client.query(
        existing.has(rp.name)
          ? `ALTER RETENTION POLICY ${on} ${tail}`
          : `CREATE RETENTION POLICY ${on} ${tail}`,
      )
    }
    for (const cq of needs.continuousQueries ?? []) await this.ensureContinuousQuery(needs.database, cq)
    log.debug(
      { database: needs.database, retentionPolicies: needs.retentionPolicies.map((rp) => rp.name) },
      'influxdb schema ready',
    )
  }

  private async check(needs: SchemaNeeds): Promise<void> {
    const { database } = needs
    const existing = await this.retentionPolicies(database)
    const missing = needs.retentionPolicies.filter((rp) => !rp.optional && !existing.has(rp.name))
    if (missing.length === 0) {
      log.debug({ database }, 'influxdb schema present (managed elsewhere)')
      return
    }
    const db = quoteIdent(database)
    const v1 = missing.map(
      (rp) => `CREATE RETENTION POLICY ${quoteIdent(rp.name)} ON ${db} ${policyTail(rp)}`,
    )
    const v2 = missing.map(
      (rp) =>
        `influx v1 dbrp create --db ${database} --rp ${rp.name} --bucket-id <bucket>${rp.default ? ' --default' : ''}`,
    )
    throw new KampungError(
      'config_invalid',
      `InfluxDB: no retention policy ${missing.map((rp) => `"${rp.name}"`).join(', ')} on database "${database}" (manageSchema is off). ` +
        `InfluxDB 1.x: ${existing.size === 0 ? `CREATE DATABASE ${db}; ` : ''}${v1.join('; ')}. ` +
        `InfluxDB 2.x: ${v2.join('; ')}`,
      { retryable: false },
    )
  }

  /** The database's retention policies by name; none when the database does not exist. */
  private async retentionPolicies(database: string): Promise<Map<string, { default: boolean }>> {
    let results: Awaited<ReturnType<InfluxClient['query']>>
    try {
      results = await this.client.query(`SHOW RETENTION POLICIES ON ${quoteIdent(database)}`)
    } catch (err) {
      if (err instanceof KampungError && err.code === 'store_database_not_found') return new Map()
      throw err
    }
    const policies = new Map<string, { default: boolean }>()
    for (const series of results[0]?.series ?? []) {
      const iName = series.columns.indexOf('name')
      const iDefault = series.columns.indexOf('default')
      for (const row of series.values ?? [])
        policies.set(String(row[iName]), { default: row[iDefault] === true })
    }
    return policies
  }

  private async ensureContinuousQuery(database: string, cq: ContinuousQueryNeed): Promise<void> {
    try {
      // Creating an identical CQ again is a no-op on InfluxDB 1.x.
      await this.client.query(cq.statement)
    } catch (err) {
      if (!(err instanceof InfluxStatementError)) throw err
      // A CQ of that name with a different query (config changed): replace it.
      await this.client.query(`DROP CONTINUOUS QUERY ${quoteIdent(cq.name)} ON ${quoteIdent(database)}`)
      await this.client.query(cq.statement)
      log.info({ cq: cq.name }, 'continuous query replaced')
    }
  }
}
