import { KampungError } from '../errors.ts'
import { getLogger } from '../log.ts'
import { quoteIdent, SAFE_NAME } from '../store/influx/influxql.ts'
import { escapeTag, formatFloat, toStoredTag } from '../store/influx/line-protocol.ts'
import type { TreeEstimate } from './estimate.ts'
import type { GrowthEvidence } from './policy.ts'
import type { Tree, TreeState } from './repo.ts'

/**
 * Every tree assessment as one InfluxDB point, so Grafana can chart what the verifier decided
 * (trees by state, GRO/TWD curves, estimated O2) next to the readings. The verifier's own state
 * stays in SQLite; this is a copy for dashboards: losing a point costs a dot on a chart, never a
 * decision.
 *
 *   oksigen_assessment,device=…,species=…,state=…,tree=…,village=… gro_um=…,twd_um=…,… <ms>
 *
 * in retention policy `events` (kept for good, like alert events).
 */
export interface AssessmentRecord {
  timeMs: number
  village: string
  tree: string
  device: string
  species: string
  state: TreeState
  groUm: number
  twdUm: number
  progressPct: number
  diameterMm: number
  growthUmPerDay7d: number
  dailyAmplitudeUm: number
  daysObserved: number
  /** Chave 2014 eq. 4 O2 estimate from DBH; null below its fitted range (D < 5 cm) or without a DBH. */
  o2Kg: number | null
  /** The same equation applied below its fitted range: a rough figure for officers, never certificates. */
  o2KgRough: number | null
}

/** What the verifier knows after one assessment, as a record (pure). */
export function assessmentRecord(
  tree: Tree,
  state: TreeState,
  growth: GrowthEvidence,
  progressPct: number,
  timeMs: number,
  /** The verifier's DBH-based estimate (estimate.ts); none: no O2 figure. */
  estimate?: TreeEstimate,
): AssessmentRecord {
  const diameterMm = tree.initialDiameterMm + Math.max(0, growth.groUm) / 1000
  let o2Kg: number | null = null
  let o2KgRough: number | null = null
  if (estimate?.method === 'chave2014-eq4') {
    const b = estimate.biomass
    if (b.inFittedRange) o2Kg = b.o2Kg
    else o2KgRough = b.extrapolated?.o2Kg ?? null
  }
  return {
    timeMs,
    village: tree.village,
    tree: tree.id,
    device: tree.device,
    species: tree.species,
    state,
    groUm: growth.groUm,
    twdUm: growth.twdUm,
    progressPct,
    diameterMm,
    growthUmPerDay7d: growth.growthUmPerDay7d,
    dailyAmplitudeUm: growth.dailyAmplitudeUm,
    daysObserved: growth.daysObserved,
    o2Kg,
    o2KgRough,
  }
}

export const ASSESSMENT_MEASUREMENT = 'oksigen_assessment'

/** One record as one line of line protocol (tags sorted, as InfluxDB prefers). */
export function encodeAssessment(r: AssessmentRecord): string {
  if (!Number.isSafeInteger(r.timeMs)) throw new RangeError(`timeMs is not an integer: ${r.timeMs}`)
  const tag = (v: string) => escapeTag(toStoredTag(v))
  const fields: Array<[string, number | null]> = [
    ['gro_um', r.groUm],
    ['twd_um', r.twdUm],
    ['progress_pct', r.progressPct],
    ['diameter_mm', r.diameterMm],
    ['growth_um_per_day_7d', r.growthUmPerDay7d],
    ['daily_amplitude_um', r.dailyAmplitudeUm],
    ['days_observed', r.daysObserved],
    ['o2_kg', r.o2Kg],
    ['o2_kg_rough', r.o2KgRough],
  ]
  const present = fields.filter(([, v]) => v !== null && Number.isFinite(v))
  return (
    `${ASSESSMENT_MEASUREMENT},device=${tag(r.device)},species=${tag(r.species)},state=${tag(r.state)}` +
    `,tree=${tag(r.tree)},village=${tag(r.village)} ` +
    `${present.map(([k, v]) => `${k}=${formatFloat(v as number)}`).join(',')} ${r.timeMs}`
  )
}

export interface InfluxAssessmentSinkOptions {
  url: string
  database: string
  /** Created with duration INF when missing. Default `events`. */
  retentionPolicy?: string
  username?: string
  password?: string
  token?: string
  /** Records are sent together at most this often. Default 1 000 ms. */
  flushIntervalMs?: number
  /** Records kept while InfluxDB is unreachable; the oldest go first beyond it. Default 10 000. */
  maxBufferedRecords?: number
  requestTimeoutMs?: number
}

const defaultOptions = {
  retentionPolicy: 'events',
  // Assessments come every evaluateEveryMs per tree: a second of delay is invisible on a chart.
  flushIntervalMs: 1_000,
  // ~200 bytes a record: 2 MB while InfluxDB is down, hours of assessments for a district.
  maxBufferedRecords: 10_000,
  requestTimeoutMs: 10_000,
}

/** Writes AssessmentRecords to InfluxDB in the background; `add()` never throws and never waits. */
export class InfluxAssessmentSink {
  private readonly opts: InfluxAssessmentSinkOptions & typeof defaultOptions
  private readonly log = getLogger('oksigen')
  private buffer: string[] = []
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> | undefined
  private down = false
  /** The retention policy exists. */
  private ready = false
  /** Records given up because the buffer was full (InfluxDB away too long). */
  dropped = 0
  written = 0

  constructor(options: InfluxAssessmentSinkOptions) {
    this.opts = { ...defaultOptions, ...options }
  }

  /**
   * Checks names and starts the flush timer. The retention policy is created when missing, now
   * or, while InfluxDB is unreachable (the store spools meanwhile), before the first write.
   */
  async start(): Promise<void> {
    const { database, retentionPolicy } = this.opts
    for (const name of [database, retentionPolicy])
      if (!SAFE_NAME.test(name))
        throw new KampungError('config_invalid', `bad InfluxDB name ${JSON.stringify(name)}`, {
          retryable: false,
        })
    this.timer = setInterval(() => void this.flush(), this.opts.flushIntervalMs)
    await this.flush()
  }

  private async ensureRetentionPolicy(): Promise<void> {
    const { database, retentionPolicy } = this.opts
    const shown = await this.query(`SHOW RETENTION POLICIES ON ${quoteIdent(database)}`)
    if (!shown.includes(`"${retentionPolicy}"`))
      await this.query(
        `CREATE RETENTION POLICY ${quoteIdent(retentionPolicy)} ON ${quoteIdent(database)} DURATION INF REPLICATION 1`,
      )
    this.ready = true
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.flush()
  }

  add(record: AssessmentRecord): void {
    let line: string
    try {
      line = encodeAssessment(record)
    } catch (err) {
      this.log.warn({ err, tree: record.tree }, 'assessment not written to InfluxDB')
      return
    }
    this.buffer.push(line)
    const over = this.buffer.length - this.opts.maxBufferedRecords
    if (over > 0) {
      this.buffer.splice(0, over)
      this.dropped += over
    }
  }

  /** Sends what is buffered; on failure keeps it for the next flush. */
  flush(): Promise<void> {
    this.flushing ??= this.send().finally(() => {
      this.flushing = undefined
    })
    return this.flushing
  }

  private async send(): Promise<void> {
    if (this.ready && this.buffer.length === 0) return
    const lines = this.buffer
    this.buffer = []
    try {
      if (!this.ready) await this.ensureRetentionPolicy()
      if (lines.length === 0) return
      const res = await this.request(
        '/write',
        { rp: this.opts.retentionPolicy, precision: 'ms' },
        lines.join('\n'),
      )
      // 4xx other than timeouts/throttling: the points are bad, sending them again cannot help.
      if (res.status >= 500 || res.status === 408 || res.status === 429) throw new Error(`HTTP ${res.status}`)
      if (res.status !== 204) this.log.warn({ status: res.status, body: res.body }, 'assessments refused')
      else this.written += lines.length
      if (this.down) this.log.info('influxdb back, assessments written')
      this.down = false
    } catch (err) {
      this.buffer = [...lines, ...this.buffer]
      if (!this.down) this.log.warn({ err }, 'influxdb not taking assessments, buffered')
      this.down = true
    }
  }

  private async query(q: string): Promise<string> {
    const res = await this.request('/query', {}, new URLSearchParams({ q }).toString(), true)
    if (res.status !== 200 || /"error"/.test(res.body))
      throw new KampungError('store_query_failed', `InfluxDB: ${res.body.slice(0, 300)}`, {
        retryable: res.status >= 500,
      })
    return res.body
  }

  private async request(
    path: '/write' | '/query',
    params: Record<string, string>,
    body: string,
    form = false,
  ): Promise<{ status: number; body: string }> {
    const o = this.opts
    const search = new URLSearchParams({ db: o.database, ...params })
    if (o.username !== undefined) search.set('u', o.username)
    if (o.password !== undefined) search.set('p', o.password)
    const headers: Record<string, string> = {
      'content-type': form ? 'application/x-www-form-urlencoded' : 'text/plain; charset=utf-8',
    }
    if (o.token) headers.authorization = `Token ${o.token}`
    const res = await fetch(`${o.url.replace(/\/+$/, '')}${path}?${search}`, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(o.requestTimeoutMs),
    })
    return { status: res.status, body: await res.text() }
  }
}
