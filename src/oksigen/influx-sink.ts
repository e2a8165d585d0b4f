import { isRetryable, KampungError } from '../errors.ts'
import { getLogger } from '../log.ts'
import { encodePoint, InfluxClient, type InfluxConnectionOptions, InfluxSchema } from '../store/index.ts'
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
  // Non-finite figures (and nulls) are left out: a chart shows a gap rather than a wrong point.
  const finite = (v: number | null) => (v !== null && Number.isFinite(v) ? v : null)
  return encodePoint({
    measurement: ASSESSMENT_MEASUREMENT,
    tags: { device: r.device, species: r.species, state: r.state, tree: r.tree, village: r.village },
    fields: {
      gro_um: finite(r.groUm),
      twd_um: finite(r.twdUm),
      progress_pct: finite(r.progressPct),
      diameter_mm: finite(r.diameterMm),
      growth_um_per_day_7d: finite(r.growthUmPerDay7d),
      daily_amplitude_um: finite(r.dailyAmplitudeUm),
      days_observed: finite(r.daysObserved),
      o2_kg: finite(r.o2Kg),
      o2_kg_rough: finite(r.o2KgRough),
    },
    timeMs: r.timeMs,
  })
}

export interface InfluxAssessmentSinkOptions extends InfluxConnectionOptions {
  database: string
  /** Created with duration INF when missing. Default `events`. */
  retentionPolicy?: string
  /** false: the policy is made by an administrator; the sink sends no schema statement. */
  manageSchema?: boolean
  /** Records are sent together at most this often. Default 1 000 ms. */
  flushIntervalMs?: number
  /** Records kept while InfluxDB is unreachable; the oldest go first beyond it. Default 10 000. */
  maxBufferedRecords?: number
}

const defaultOptions = {
  retentionPolicy: 'events',
  // Assessments come every evaluateEveryMs per tree: a second of delay is invisible on a chart.
  flushIntervalMs: 1_000,
  // ~200 bytes a record: 2 MB while InfluxDB is down, hours of assessments for a district.
  maxBufferedRecords: 10_000,
}

/**
 * Writes AssessmentRecords to InfluxDB in the background, through the store's InfluxClient and
 * InfluxSchema; `add()` never throws and never waits.
 */
export class InfluxAssessmentSink {
  private readonly opts: InfluxAssessmentSinkOptions & typeof defaultOptions
  private readonly client: InfluxClient
  private readonly schema: InfluxSchema
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
    this.client = new InfluxClient(options)
    this.schema = new InfluxSchema(this.client, { manageSchema: options.manageSchema ?? true })
  }

  /**
   * Checks names and starts the flush timer. The retention policy is created when missing, now
   * or, while InfluxDB is unreachable (the store spools meanwhile), before the first write.
   */
  async start(): Promise<void> {
    const problems = [...this.client.configProblems(), ...InfluxSchema.problems(this.schemaNeeds())]
    if (problems.length > 0)
      throw new KampungError('config_invalid', `InfluxAssessmentSink: ${problems.join('; ')}`, {
        retryable: false,
      })
    this.timer = setInterval(() => void this.flush(), this.opts.flushIntervalMs)
    await this.flush()
  }

  private schemaNeeds() {
    const { database, retentionPolicy } = this.opts
    return { database, retentionPolicies: [{ name: retentionPolicy, duration: 'INF' }] }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.flush()
    this.client.close()
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
      if (!this.ready) {
        await this.schema.ensure(this.schemaNeeds())
        this.ready = true
      }
      if (lines.length === 0) return
      const { database, retentionPolicy } = this.opts
      const partial = await this.client.write({ database, retentionPolicy }, lines.join('\n'))
      // Refused points are bad, sending them again cannot help.
      if (partial) this.log.warn({ message: partial.message }, 'assessments refused')
      else this.written += lines.length
      if (this.down) this.log.info('influxdb back, assessments written')
      this.down = false
    } catch (err) {
      if (this.ready && !isRetryable(err)) {
        // The points or the credentials are refused for good (4xx): keeping them would block the rest.
        this.log.warn({ err }, 'assessments refused')
        return
      }
      this.buffer = [...lines, ...this.buffer]
      if (!this.down) this.log.warn({ err }, 'influxdb not taking assessments, buffered')
      this.down = true
    }
  }
}
