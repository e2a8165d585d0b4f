import type Database from 'better-sqlite3'
import {
  calibratedPct,
  depletionFromThetaMm,
  type SoilWater,
  seasonDay,
  soilWater,
} from '../agronomy/index.ts'
import { isRetryable } from '../errors.ts'
import { getLogger } from '../log.ts'
import type { Device, Registry } from '../registry/index.ts'
import { statement } from '../registry/index.ts'
import type { DeviceStatus, Quantity, Reading } from '../telemetry/index.ts'
import { handleCommand } from './commands.ts'
import type { AlertsConfig, Severity } from './config.ts'
import { Delivery } from './delivery.ts'
import { Directory, type Field } from './directory.ts'
import { ReadingHistory, type Series } from './history.ts'
import type { EventSink, StoredEvent } from './influx-events.ts'
import {
  type FieldAdvice,
  IrrigationAdvisor,
  type IrrigationAdvisorOptions,
  type WeatherDay,
} from './irrigation.ts'
import type { InboundSms, OutboxPort } from './notify-port.ts'
import { ownership } from './partition.ts'
import {
  type AlertCategory,
  type AlertView,
  type AnyRuleFamily,
  type FieldSeason,
  type Finding,
  type LearnedSoil,
  RULE_FAMILIES,
  type RuleContext,
  type RuleId,
  type TickContext,
} from './rules/index.ts'
import { renderGroup } from './templates.ts'
import { DAY_MS, localClock, localDayStart } from './time.ts'
import { type CommandPort, followUpValves } from './valves.ts'

const HOUR_MS = 3_600_000

export type { AlertCategory, Finding }

export const ALERT_STATES = ['pending', 'firing', 'resolved'] as const
export type AlertState = (typeof ALERT_STATES)[number]

export interface Alert {
  id: number
  rule: string
  subject: string
  category: AlertCategory
  village: string
  field?: string
  device?: string
  severity: Severity
  state: AlertState
  value?: number
  threshold?: number
  startedAtMs: number
  firedAtMs?: number
  resolvedAtMs?: number
  updatedAtMs: number
  ackedAtMs?: number
  ackedBy?: string
  escalatedAtMs?: number
}

/** An alert as stored (snake_case columns). */
export interface AlertRow {
  id: number
  rule: string
  subject: string
  category: string
  village: string
  field: string | null
  device: string | null
  severity: string
  state: string
  value: number | null
  threshold: number | null
  started_at_ms: number
  fired_at_ms: number | null
  resolved_at_ms: number | null
  updated_at_ms: number
  acked_at_ms: number | null
  acked_by: string | null
  escalated_at_ms: number | null
}

function toAlert(r: AlertRow): Alert {
  const a: Alert = {
    id: r.id,
    rule: r.rule,
    subject: r.subject,
    category: r.category as AlertCategory,
    village: r.village,
    severity: r.severity as Severity,
    state: r.state as AlertState,
    startedAtMs: r.started_at_ms,
    updatedAtMs: r.updated_at_ms,
  }
  if (r.field !== null) a.field = r.field
  if (r.device !== null) a.device = r.device
  if (r.value !== null) a.value = r.value
  if (r.threshold !== null) a.threshold = r.threshold
  if (r.fired_at_ms !== null) a.firedAtMs = r.fired_at_ms
  if (r.resolved_at_ms !== null) a.resolvedAtMs = r.resolved_at_ms
  if (r.acked_at_ms !== null) a.ackedAtMs = r.acked_at_ms
  if (r.acked_by !== null) a.ackedBy = r.acked_by
  if (r.escalated_at_ms !== null) a.escalatedAtMs = r.escalated_at_ms
  return a
}

export interface SilenceMatchers {
  rule?: string
  village?: string
  field?: string
  device?: string
  severity?: Severity
}

export interface Silence {
  id: number
  matchers: SilenceMatchers
  startsAtMs: number
  endsAtMs: number
  createdBy: string
  comment: string
}

export interface AlertEngineOptions {
  registry: Registry
  outbox: OutboxPort
  config: AlertsConfig
  /** Injected so scenario tests run simulated days in seconds. */
  clock?: () => number
  /** InfluxDB for dashboard annotations; without it events stay in SQLite. */
  events?: EventSink
  /** false: no timers (tests call tick() themselves). */
  timers?: boolean
  /**
   * Commands to devices (src/commands), for farmers' valve SMS (AIRI / TUTUP, valves.ts); asked
   * when needed, as the app starts its command service after the engine. Without: "not now".
   */
  commands?: () => CommandPort | undefined
  /** A closed day's ET0 from elsewhere than the station's Penman–Monteith (irrigation.ts). */
  et0Mm?: IrrigationAdvisorOptions['et0Mm']
}

const OWNS_ALL = () => true

/**
 * The one rule for which device statuses feed gateway health (`gateway_offline`, which holds every
 * sensor alert of the village and texts its officers): a registered device of kind `gateway`, in
 * the village its status topic names. The broker publishes a status for every device, and battery
 * nodes disconnect between reports: a node or service going offline is not a gateway down (nodes
 * that stop reporting are found from their data, `device_offline`). Every role hands its statuses
 * to AlertEngine.onDeviceStatus, which applies this rule; the timer applies it too.
 */
export function feedsGatewayHealth(device: Device | undefined, village: string): boolean {
  return device?.kind === 'gateway' && device.village === village
}

const SOIL = 'soil_moisture'
const WATER_LEVEL = 'water_level'
/** Readings of a field's own devices that make its field rules evaluate. */
const FIELD_QUANTITIES = new Set<string>([SOIL, WATER_LEVEL])
/**
 * The history (history.ts) keeps at most one sample per series (device, sensor, quantity) per this
 * much reading time. Real nodes report every few minutes, so every reading is kept; a node (or a
 * benchmark) reporting every second keeps one a minute, which is all the hour-long rules look at.
 * Rainfall is summed, so a skipped rainfall reading's millimetres are carried into the series' next
 * sample (and counted from memory until then); the newest air temperature per village is kept in
 * memory.
 */
const RECENT_SPACING_MS = 60_000
const RAIN = 'rainfall'
const AIR = 'air_temperature'
/** The history is trimmed to the longest rule window this often. */
const PRUNE_EVERY_MS = 10 * 60_000
/** A probe's rise is looked for at most this often per field (a range query per probe). */
const RISE_CHECK_EVERY_MS = 5 * 60_000
/** A rise counts when it happened within this window. */
const RISE_WINDOW_MS = HOUR_MS
/** A second rise within this long of a recorded one is the same watering. */
const RISE_DEDUP_MS = 6 * HOUR_MS
/** Probe depletion is used for advice while the probe's reading is this fresh. */
const PROBE_FRESH_MS = 6 * HOUR_MS
const FIELDS_CACHE_MS = 10_000
/**
 * A device's last-seen row (device_seen) is written when the device is first seen by this process,
 * changes village, or its newest reading is this much newer than the one written (and at stop);
 * in between the newest is in memory, which the tick and devicesLastSeenMs read over the table.
 * At most offlineAfterMs / 6. A crash can leave a row that much behind: a node silent since then
 * would be called offline that much early after the restart. (A row per report was ~15 % of the
 * engine's CPU, and most of its commit's pages, with 10 000 nodes.)
 */
const SEEN_WRITE_EVERY_MS = 10 * 60_000
/** Quantities a village's weather station reports that the weather rules and the advisor use. */
const WEATHER_QUANTITIES = new Set([
  'air_temperature',
  'relative_humidity',
  'rainfall',
  'wind_speed',
  'solar_radiation',
])

const FAMILIES: readonly AnyRuleFamily[] = RULE_FAMILIES
const byTrigger = (t: AnyRuleFamily['trigger']) => FAMILIES.filter((f) => f.trigger === t)
const FIELD_FAMILIES = byTrigger('field')
const VILLAGE_FAMILIES = byTrigger('village')
const DEVICE_FAMILIES = byTrigger('device')
const DAY_FAMILIES = byTrigger('day')
const VILLAGE_RULE_IDS: readonly RuleId[] = VILLAGE_FAMILIES.flatMap((f) => f.ids)

/** Per sensor of a kept quantity: reading time of the sample last kept, rain of the readings skipped since, its history. */
interface SensorKeep {
  sensor: string
  keptAtMs: number
  rainMm: number
  series: Series
}

/**
 * What the engine remembers of one device's quantity (AlertEngine.memo). Its first sensor's
 * SensorKeep is in the memo itself (`series` set), others in `more`: nearly every quantity has one
 * sensor, and with a district's 50 000 series what a fresh process allocates on first sight is
 * mostly copied by the young generation's collector before it settles (a Map per series was ~185
 * bytes, the whole memo and history ~4.7 KB per node).
 */
interface SeriesMemo {
  readonly quantity: string
  /** The newest reading (updated in place). */
  newest: { value: number; timeMs: number } | undefined
  sensor: string
  keptAtMs: number
  rainMm: number
  series: Series | undefined
  more: SensorKeep[] | undefined
}

function keepOf(m: SeriesMemo, sensor: string): SensorKeep | undefined {
  if (m.series !== undefined && m.sensor === sensor) return m as SensorKeep
  const more = m.more
  if (more !== undefined) for (let i = 0; i < more.length; i++) if (more[i]!.sensor === sensor) return more[i]
  return undefined
}

/** What one batch of readings touched: the rules to evaluate for it. */
interface Touched {
  fieldsByDevice: Map<string, Field[]>
  touchedFields: Map<string, number>
  touchedVillages: Map<string, number>
  touchedDevices: Map<string, { village: string; atMs: number }>
}

/** How far a batch's evaluation got: slices done, and the current slice's remembered readings. */
interface BatchProgress {
  slicesDone?: number
  touched?: Touched
}

/**
 * A batch in evaluation order: slice k holds the (k+1)-th reading of each series (device, quantity,
 * sensor) in device time. A live batch (each node's latest report) is one slice; a backlog of n
 * reports per node is n slices, each evaluated at its own time.
 */
export function timeSlices(readings: readonly Reading[]): Reading[][] {
  if (eachSeriesOnce(readings)) return [readings as Reading[]]
  // How many readings of each series came before, in nested maps (device → quantity → sensor):
  // no string built per reading.
  const seen = new Map<string, Map<string, Map<string, number>>>()
  const occurrence = (r: Reading): number => {
    let byQuantity = seen.get(r.device)
    if (byQuantity === undefined) {
      byQuantity = new Map()
      seen.set(r.device, byQuantity)
    }
    let bySensor = byQuantity.get(r.quantity)
    if (bySensor === undefined) {
      bySensor = new Map()
      byQuantity.set(r.quantity, bySensor)
    }
    const n = bySensor.get(r.sensor) ?? 0
    bySensor.set(r.sensor, n + 1)
    return n
  }
  let single = true
  for (const r of readings) if (occurrence(r) > 0) single = false
  if (single) return [readings as Reading[]]
  seen.clear()
  const slices: Reading[][] = []
  const sorted = [...readings].sort((a, b) => a.timeMs - b.timeMs)
  for (const r of sorted) {
    const n = occurrence(r)
    if (n === slices.length) slices.push([r])
    else slices[n]!.push(r)
  }
  return slices
}

/**
 * Whether no series (device, quantity, sensor) appears twice, the live case, without a string key
 * per reading (that was a few per cent of the service's CPU with a district's 10 000 nodes): each
 * device's readings must be one run (a message), with no (quantity, sensor) twice in it. False
 * when it cannot tell so cheaply (a device in two runs, a run longer than 32 readings): the caller
 * then looks at each series.
 */
function eachSeriesOnce(readings: readonly Reading[]): boolean {
  const devices = new Set<string>()
  let runStart = 0
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!
    if (i === 0 || r.device !== readings[i - 1]!.device) {
      if (devices.has(r.device)) return false
      devices.add(r.device)
      runStart = i
      continue
    }
    if (i - runStart >= 32) return false
    for (let j = runStart; j < i; j++) {
      const o = readings[j]!
      if (o.quantity === r.quantity && o.sensor === r.sensor) return false
    }
  }
  return true
}

const NOTHING_TOUCHED: Touched = {
  fieldsByDevice: new Map(),
  touchedFields: new Map(),
  touchedVillages: new Map(),
  touchedDevices: new Map(),
}

/** Retry of a failed evaluation: first after 1 s, doubling up to 30 s (a full disk clears slowly). */
const EVALUATION_RETRY_FIRST_MS = 1_000
const EVALUATION_RETRY_MAX_MS = 30_000
/** Stored readings waiting for evaluation at most (about 100 bytes each): memory stays bounded. */
const MAX_WAITING_READINGS = 1_000_000

/** A device's memo of one quantity, added when new (a device has a handful: a scan, no Map). */
function memoIn(all: SeriesMemo[], quantity: string): SeriesMemo {
  for (let i = 0; i < all.length; i++) if (all[i]!.quantity === quantity) return all[i]!
  const m: SeriesMemo = {
    quantity,
    newest: undefined,
    sensor: '',
    keptAtMs: 0,
    rainMm: 0,
    series: undefined,
    more: undefined,
  }
  all.push(m)
  return m
}

function noteNewest(m: SeriesMemo, r: Reading): void {
  if (m.newest === undefined) m.newest = { value: r.value, timeMs: r.timeMs }
  else if (m.newest.timeMs <= r.timeMs) {
    m.newest.value = r.value
    m.newest.timeMs = r.timeMs
  }
}

/**
 * The alert engine: the rule families (rules/) over stored readings, the Alertmanager/ThingsBoard
 * lifecycle in SQLite (one active alert per rule and subject, enforced by a unique index), the
 * facts rules read (RuleContext: recent history, a field's soil and season, the village weather),
 * day close (irrigation advice, daily models), farmer commands, and events for InfluxDB; who gets
 * which SMS when (grouping, repeat, quiet hours, inhibition, silences, escalation) is delivery.ts. Everything it decides is committed before it acts, so a restart neither
 * forgets an alert nor sends an SMS twice (each SMS is written with its idempotency key first,
 * then handed to the outbox; unsent ones are handed again on start).
 */
export class AlertEngine implements RuleContext {
  readonly directory: Directory
  readonly advisor: IrrigationAdvisor
  readonly delivery: Delivery
  private readonly opts: AlertEngineOptions
  private readonly clock: () => number
  /**
   * config.partition: the villages this engine owns. Readings, statuses, timers and SMS of other
   * villages are their owner's, even when the registry file is shared (several workers on one machine).
   */
  private readonly owns: (village: string) => boolean
  private readonly log = getLogger('alerts')
  private timer: NodeJS.Timeout | undefined
  private exportTimer: NodeJS.Timeout | undefined
  private exporting = false
  private eventsDown = false
  private started = false
  private inboundRegistered = false
  private buffered: Reading[] = []
  private bufferTimer: NodeJS.Timeout | undefined
  /** Batches of stored readings to evaluate, oldest first; more than one only after a failure. */
  private readonly waiting: Array<{ readings: readonly Reading[] } & BatchProgress> = []
  private waitingReadings = 0
  private droppedReadings = 0
  private retryTimer: NodeJS.Timeout | undefined
  private retryDelayMs = EVALUATION_RETRY_FIRST_MS
  private evaluationFault: { sinceMs: number; error: string; readings: number } | undefined
  /**
   * Per device and quantity, as read or written by this process: the newest reading (saves a query
   * per rule and device on every batch; filled from SQLite on a miss, e.g. after a restart) and,
   * per sensor, the history bookkeeping (see keepRow). Per device a short list searched by
   * quantity: no key string is built per reading, and no Map per node (see SeriesMemo).
   */
  private readonly memo = new Map<string, SeriesMemo[]>()
  /** The connection's synchronous level, as the registry set it (see relaxed()). */
  private syncLevel: { db: Database.Database; level: number } | undefined
  /** Transaction functions per key, for one connection (see immediate()). */
  private transactions: { db: Database.Database; byKey: Map<string, (...args: never[]) => void> } | undefined
  /** Per device: its newest reading's time and village, and the last_ms last written to device_seen. */
  private readonly seen = new Map<string, { village: string; lastMs: number; writtenMs: number }>()
  /** Rain of skipped rainfall readings not yet in a row, per village (see keepRow). */
  private readonly rainCarryByVillage = new Map<string, number>()
  /** Newest air temperature per village (null: none in SQLite either); filled from SQLite on a miss. */
  private readonly airNewest = new Map<string, { value: number; timeMs: number } | null>()
  /** Each field's latest irrigation advice (null: none), until the next day close. */
  private readonly adviceCache = new Map<string, FieldAdvice | null>()
  /** Reading time of a rule's last costly check, per check and subject (see due()). */
  private readonly checkedAt = new Map<string, Map<string, number>>()
  private prunedAtMs = Number.NEGATIVE_INFINITY
  private keepMs: Map<string, number> | undefined
  /** What the rules look back on; filled from the journal on first use (see history.ts). */
  private readonly historyStore = new ReadingHistory()
  private historyLoaded = false
  /**
   * (rule, subject) of every pending or firing alert, so a clear finding with nothing to clear (most
   * findings: a reading says "not offline, not stuck" per device) costs no query. Valid while the
   * file's `data_version` is the one it was read at: another connection's commit (a second worker,
   * the CLI) makes it read again. (Per device and batch, the SELECTs had been most of the rules' cost.)
   */
  private activeKeys: Set<string> | undefined
  private activeDataVersion = -1
  /**
   * Per Field object (the field index makes new ones when a field changes): its soil, and its season
   * on the local day last asked. Both were computed anew per rule and batch.
   */
  private readonly soilOf = new WeakMap<Field, SoilWater>()
  private readonly seasonOf = new WeakMap<Field, { dayStartMs: number; season: FieldSeason | undefined }>()
  private kept: Set<string> | undefined
  private fieldCache:
    | {
        fields: Field[]
        byId: Map<string, Field>
        byDevice: Map<string, Field[]>
        atMs: number
        version: number
      }
    | undefined

  constructor(opts: AlertEngineOptions) {
    this.opts = opts
    this.clock = opts.clock ?? Date.now
    this.owns = opts.config.partition ? ownership(opts.config.partition) : OWNS_ALL
    this.directory = new Directory({ registry: opts.registry, quietHours: opts.config.quietHours })
    this.advisor = new IrrigationAdvisor({
      registry: opts.registry,
      config: opts.config.irrigation,
      // Daily summaries serve the daily disease model too.
      accumulate: opts.config.irrigation.enabled || opts.config.rules.diseaseRisk.enabled,
      humidRhPct: opts.config.rules.diseaseRisk.rhAbovePct,
      fields: (village) => this.fieldIndex().fields.filter((f) => f.village === village),
      soil: (field) => this.soil(field),
      probeDepletionMm: (field, atMs) => this.probeDepletionMm(field, atMs),
      seasonDays: (field) => field.seasonDays ?? opts.config.rules.crops[field.crop].seasonDays,
      ...(opts.et0Mm ? { et0Mm: opts.et0Mm } : {}),
    })
    this.delivery = new Delivery({
      db: () => this.db,
      config: opts.config,
      directory: this.directory,
      outbox: opts.outbox,
      clock: this.clock,
      owns: this.owns,
      view: (a) => this.view(a),
      recordEvent: (id, state, atMs) => this.recordEvent(id, state, atMs),
    })
  }

  get config(): AlertsConfig {
    return this.opts.config
  }

  /** The registry it keeps its tables in (farmers' SMS commands record to the audit log there). */
  get registry(): Registry {
    return this.opts.registry
  }

  private get db(): Database.Database {
    return this.opts.registry.database()
  }

  /** The times of what the rules look back on for a device's quantity: what was evaluated (tests, status). */
  historyTimes(device: string, quantity: string): number[] {
    return this.history.times(device, quantity)
  }

  private get history(): ReadingHistory {
    if (!this.historyLoaded) {
      // Loaded once it succeeded: a failed replay is tried again (samples are keyed by time, so
      // replaying twice keeps one of each).
      this.historyStore.load(this.db, this.owns)
      this.historyLoaded = true
    }
    return this.historyStore
  }

  /**
   * What a restart already knows, read in bulk before the first report rather than on it: the
   * look-back history (the journal's replay) and each device's last-seen row, so a node's first
   * report to this process is not a device_seen write of its own (10 000 of them in the first
   * seconds after a district's restart). Not fatal: a file busy or failing now is read again
   * on the first batch (history) or written per device (last seen), as before.
   */
  private loadKnown(): void {
    try {
      void this.history
      const rows = this.db
        .prepare('SELECT device, village, last_ms FROM device_seen WHERE last_ms > 0')
        .raw()
        .all() as Array<[string, string, number]>
      for (const [device, village, lastMs] of rows) {
        if (this.owns(village) && !this.seen.has(device))
          this.seen.set(device, { village, lastMs, writtenMs: lastMs })
      }
    } catch (err) {
      this.log.warn(
        { err },
        'alert history and last-seen times not read at start; read on the first readings',
      )
    }
  }

  private sql(text: string): Database.Statement {
    return statement(this.db, text)
  }

  private get cfg(): AlertsConfig {
    return this.opts.config
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    // The outbox keeps its handlers: register once even if this engine is started again.
    if (!this.inboundRegistered) this.opts.outbox.onInbound((mo) => this.onInbound(mo))
    this.inboundRegistered = true
    this.loadKnown()
    this.delivery.handOver()
    if (this.opts.events) {
      try {
        await this.opts.events.start()
      } catch (err) {
        // InfluxDB down at start: events wait in SQLite; the export loop retries start() too.
        this.eventsDown = true
        this.log.warn(
          { err: (err as Error).message },
          'InfluxDB not reachable for events; they wait in SQLite',
        )
      }
    }
    if (this.opts.timers !== false) {
      this.timer = setInterval(() => this.safeTick(), this.cfg.tickIntervalMs)
      this.timer.unref()
      if (this.opts.events) {
        this.exportTimer = setInterval(() => void this.exportEvents(), this.cfg.exportEveryMs)
        this.exportTimer.unref()
      }
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.drainBuffer()
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    try {
      this.flushSeen()
    } catch (err) {
      this.log.error({ err }, 'last-seen times not written at stop')
    }
    if (this.waitingReadings > 0)
      this.log.error(
        { readings: this.waitingReadings },
        'stored readings not evaluated at stop (evaluation still failing)',
      )
    clearInterval(this.timer)
    clearInterval(this.exportTimer)
    this.timer = undefined
    this.exportTimer = undefined
    if (this.opts.events) {
      await this.exportEvents()
      await this.opts.events.stop()
    }
    this.started = false
  }

  private safeTick(): void {
    try {
      this.tick(this.clock())
    } catch (err) {
      this.log.error({ err }, 'alert tick failed')
    }
  }

  // ---------------------------------------------------------------- readings

  /**
   * For IngestPipeline.onStored, which calls once per message: readings are gathered (config
   * `batchMaxWaitMs`, at most `batchMaxReadings`) and evaluated together (one transaction per batch
   * rather than per message).
   * Never throws: a batch whose evaluation fails (a full disk, a locked file) waits, with the ones
   * after it, and is retried in order with backoff until it is evaluated; never skipped
   * (`evaluationBacklog()`, shown on /health).
   */
  enqueueReadings(readings: readonly Reading[]): void {
    if (readings.length === 0) return
    this.buffered.push(...readings)
    const { batchMaxWaitMs, batchMaxReadings } = this.cfg
    if (this.buffered.length >= batchMaxReadings) {
      // Full: evaluate soon, but not inside the caller (onStored listeners must be quick).
      clearTimeout(this.bufferTimer)
      this.bufferTimer = setTimeout(() => this.drainBuffer(), 0)
      return
    }
    if (this.bufferTimer) return
    this.bufferTimer = setTimeout(() => this.drainBuffer(), batchMaxWaitMs)
  }

  /** Evaluates what enqueueReadings gathered (stop() calls it too), after any batch still waiting. */
  drainBuffer(): void {
    clearTimeout(this.bufferTimer)
    this.bufferTimer = undefined
    const batch = this.buffered
    this.buffered = []
    if (batch.length > 0) {
      this.waiting.push({ readings: batch })
      this.waitingReadings += batch.length
    }
    // While a failed batch waits for its retry, later ones queue behind it (order is kept).
    if (!this.retryTimer) this.evaluateWaiting()
  }

  /** Stored readings not yet evaluated because evaluation failed; 0 when all is well. */
  evaluationBacklog(): {
    readings: number
    failingSinceMs?: number
    error?: string
    droppedReadings: number
  } {
    return {
      readings: this.waitingReadings,
      ...(this.evaluationFault
        ? { failingSinceMs: this.evaluationFault.sinceMs, error: this.evaluationFault.error }
        : {}),
      droppedReadings: this.droppedReadings,
    }
  }

  private evaluateWaiting(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0]!
      try {
        // A slice whose first transaction committed is not remembered twice (day sums would double).
        this.onReadings(next.readings, next)
      } catch (err) {
        this.evaluationFailed(err)
        return
      }
      this.waiting.shift()
      this.waitingReadings -= next.readings.length
    }
    if (this.evaluationFault) {
      this.log.info(
        { readings: this.evaluationFault.readings, failedForMs: this.clock() - this.evaluationFault.sinceMs },
        'alert evaluation resumed: every waiting stored reading evaluated',
      )
      this.evaluationFault = undefined
    }
    this.retryDelayMs = EVALUATION_RETRY_FIRST_MS
  }

  private evaluationFailed(err: unknown): void {
    this.activeKeys = undefined // the active-alert index may disagree with what was rolled back
    if (!this.evaluationFault) {
      this.evaluationFault = { sinceMs: this.clock(), error: String(err), readings: 0 }
      this.log.error(
        { err, readings: this.waitingReadings },
        'alert evaluation failed; stored readings wait and are retried',
      )
    }
    this.evaluationFault.error = String(err)
    this.evaluationFault.readings = Math.max(this.evaluationFault.readings, this.waitingReadings)
    // Bounded memory: past the cap the oldest batches leave the queue, counted and logged.
    while (this.waitingReadings > MAX_WAITING_READINGS && this.waiting.length > 1) {
      const dropped = this.waiting.shift()!
      this.waitingReadings -= dropped.readings.length
      this.droppedReadings += dropped.readings.length
      this.log.error(
        { readings: dropped.readings.length, droppedReadings: this.droppedReadings },
        'stored readings dropped from alert evaluation: too many waiting',
      )
    }
    if (!this.started) return
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.evaluateWaiting()
    }, this.retryDelayMs)
    this.retryTimer.unref()
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, EVALUATION_RETRY_MAX_MS)
  }

  /**
   * Stored readings (IngestPipeline.onStored): remember them, evaluate the rules they touch. Throws.
   * A batch that holds several readings of one series (a gateway's store-and-forward backlog, a
   * state worker catching up on its session) is evaluated in time order, slice by slice
   * (timeSlices), so a rule's "for forMs" counts from the reading that began it, not from the
   * batch's last one. `progress` records the slices done and the current slice's first committed
   * transaction (a retry goes on from there).
   */
  onReadings(all: readonly Reading[], progress: BatchProgress = {}): void {
    const slices = timeSlices(all)
    for (let i = progress.slicesDone ?? 0; i < slices.length; i++) {
      progress.touched ??= this.rememberReadings(slices[i]!)
      this.evaluateTouched(progress.touched)
      progress.touched = undefined
      progress.slicesDone = i + 1
    }
  }

  /** What the rules look back on (recent readings, last seen, the day's weather), committed. */
  private rememberReadings(all: readonly Reading[]): Touched {
    const readings = this.owns === OWNS_ALL ? all : all.filter((r) => this.owns(r.village))
    if (readings.length === 0) return NOTHING_TOUCHED
    const fieldsByDevice = this.fieldsByDevice()
    const touchedFields = new Map<string, number>()
    const touchedVillages = new Map<string, number>()
    const touchedDevices = new Map<string, { village: string; atMs: number }>()
    const history = this.history
    const seenEveryMs = Math.min(SEEN_WRITE_EVERY_MS, this.cfg.rules.sensorHealth.offlineAfterMs / 6)
    // Two IMMEDIATE transactions per batch. First what the rules look back on (recent readings,
    // last seen, the day's weather), committed without waiting for the disk (see relaxed()); then
    // the rules' findings and the state changes, committed durably (a batch that changes no
    // alert writes nothing there, so it costs no fsync). Per batch, not per message.
    const remember = () => {
      const kept = this.ruleQuantities()
      // A message's readings come together: the device's entries are looked up once per run.
      let runDevice: string | undefined
      let d: { village: string; atMs: number } | undefined
      let byQuantity: SeriesMemo[] | undefined
      for (const r of readings) {
        if (r.device !== runDevice) {
          runDevice = r.device
          d = touchedDevices.get(r.device)
          byQuantity = this.memoOfDevice(r.device)
        }
        if (!d) {
          d = { village: r.village, atMs: r.timeMs }
          touchedDevices.set(r.device, d)
        } else if (d.atMs < r.timeMs) {
          d.village = r.village
          d.atMs = r.timeMs
        }
        const m = memoIn(byQuantity!, r.quantity)
        if (!kept.has(r.quantity)) {
          // Not kept in SQLite, but remembered for CEK replies (lost on restart until the next reading).
          noteNewest(m, r)
          continue
        }
        if (r.quantity === AIR) this.noteAir(r)
        this.keepRow(r, m, history)
        if (m.newest === undefined) this.latest(r.device, r.quantity)
        noteNewest(m, r)
        if (FIELD_QUANTITIES.has(r.quantity)) {
          for (const f of fieldsByDevice.get(r.device) ?? [])
            touchedFields.set(f.id, Math.max(touchedFields.get(f.id) ?? 0, r.timeMs))
        }
        if (WEATHER_QUANTITIES.has(r.quantity)) {
          touchedVillages.set(r.village, Math.max(touchedVillages.get(r.village) ?? 0, r.timeMs))
        }
      }
      for (const [device, { village, atMs }] of touchedDevices) {
        const s = this.seen.get(device)
        if (s === undefined) {
          this.seen.set(device, { village, lastMs: atMs, writtenMs: atMs })
          this.writeSeen(device, village, atMs)
          continue
        }
        if (atMs > s.lastMs) s.lastMs = atMs
        if (s.village === village && s.lastMs - s.writtenMs < seenEveryMs) continue
        s.village = village
        s.writtenMs = s.lastMs
        this.writeSeen(device, village, s.lastMs)
      }
      this.advisor.accumulate(readings.filter((r) => WEATHER_QUANTITIES.has(r.quantity)))
      // Last: a statement above that throws leaves the samples queued for the next batch's row.
      history.persist(this.db)
    }
    try {
      this.relaxed(() => this.immediate('remember', (fn: () => void) => fn())(remember))
    } catch (err) {
      // Rolled back: what memory noted of these readings is forgotten too (filled again from SQLite).
      this.memo.clear()
      this.seen.clear()
      this.rainCarryByVillage.clear()
      this.airNewest.clear()
      throw err
    }
    return { fieldsByDevice, touchedFields, touchedVillages, touchedDevices }
  }

  /** The rules' findings and the state changes for what a batch touched, committed durably. */
  private evaluateTouched(touched: Touched): void {
    const { fieldsByDevice, touchedFields, touchedVillages, touchedDevices } = touched
    if (touchedFields.size === 0 && touchedVillages.size === 0 && touchedDevices.size === 0) return
    const evaluate = () => {
      const findings: Finding[] = []
      const { fields, byId: fieldById } = this.fieldIndex()
      for (const [fieldId, atMs] of touchedFields) {
        const field = fieldById.get(fieldId)
        if (!field) continue
        this.detectRefill(field, atMs)
        findings.push(...this.evaluateFamilies(FIELD_FAMILIES, { kind: 'field', field, atMs }))
      }
      for (const [village, atMs] of touchedVillages) {
        for (const field of fields) {
          if (field.village === village)
            findings.push(...this.evaluateFamilies(VILLAGE_FAMILIES, { kind: 'field', field, atMs }))
        }
      }
      for (const [device, { village, atMs }] of touchedDevices) {
        const field = fieldsByDevice.get(device)?.[0]
        findings.push(
          ...this.evaluateFamilies(DEVICE_FAMILIES, {
            kind: 'device',
            device,
            village,
            atMs,
            ...(field ? { field } : {}),
          }),
        )
      }
      this.applyAll(findings)
    }
    try {
      this.immediate('evaluate', (fn: () => void) => fn())(evaluate)
    } catch (err) {
      // Rolled back: the costly checks it marked as done are not.
      this.checkedAt.clear()
      throw err
    }
    const now = this.clock()
    // Subscriptions, STOP/MULAI change who is owed what: a directory change flushes too.
    if (now >= this.delivery.dueAtMs || this.directory.version !== this.delivery.flushedDirectoryVersion)
      this.flush(now)
  }

  /**
   * Each family's findings; one family that throws (a bug, a bad config value it did not expect)
   * is logged and skipped, never stopping the others.
   */
  private evaluateFamilies(
    families: readonly AnyRuleFamily[],
    target: Parameters<AnyRuleFamily['evaluate']>[1],
  ): Finding[] {
    const out: Finding[] = []
    for (const family of families) {
      try {
        out.push(...family.evaluate(this, target))
      } catch (err) {
        this.log.error({ err, family: family.family }, 'alert rule failed; other rules go on')
      }
    }
    return out
  }

  /**
   * A device's connection state (its retained status message, from the embedded broker or the
   * state worker's subscription): a gateway offline holds back sensor alerts of its village
   * (inhibition). Statuses of other devices are ignored here (feedsGatewayHealth), whoever passes them.
   */
  onDeviceStatus(status: DeviceStatus): void {
    // The broker announces every device offline while the service shuts down, after this stopped.
    if (!this.started) return
    const { device, village, state, atMs } = status
    if (!this.owns(village)) return
    if (!feedsGatewayHealth(this.opts.registry.getDevice(device), village)) return
    this.sql(
      `INSERT INTO device_seen (device, village, last_ms, status, status_at_ms) VALUES (?, ?, 0, ?, ?)
         ON CONFLICT(device) DO UPDATE SET status = excluded.status, status_at_ms = excluded.status_at_ms`,
    ).run(device, village, state, atMs)
    if (state === 'online') this.apply(this.gatewayOffline(device, village, false, atMs))
  }

  /** The gateway_offline finding of a device: active (offline since `sinceMs`) or clear. */
  private gatewayOffline(
    device: string,
    village: string,
    active: boolean,
    atMs: number,
    sinceMs?: number,
  ): Finding {
    return {
      rule: 'gateway_offline',
      subject: `device:${device}`,
      category: 'sensor',
      village,
      device,
      severity: this.cfg.rules.sensorHealth.severity,
      active,
      clear: !active,
      value: sinceMs,
      atMs,
      forMs: 0,
    }
  }

  /**
   * Fields and which device is in which, cached for FIELDS_CACHE_MS: they change rarely (officers
   * add fields), and listing them per batch of readings cost more than the rules. This process's
   * own changes (Directory) show at once; another process's within FIELDS_CACHE_MS.
   */
  private fieldIndex(): { fields: Field[]; byId: Map<string, Field>; byDevice: Map<string, Field[]> } {
    const now = Date.now()
    if (
      this.fieldCache &&
      this.fieldCache.version === this.directory.version &&
      now - this.fieldCache.atMs < FIELDS_CACHE_MS
    )
      return this.fieldCache
    const fields = this.directory.listFields()
    const byDevice = new Map<string, Field[]>()
    for (const f of fields) {
      for (const d of f.devices) byDevice.set(d, [...(byDevice.get(d) ?? []), f])
    }
    this.fieldCache = {
      fields,
      byId: new Map(fields.map((f) => [f.id, f])),
      byDevice,
      atMs: now,
      version: this.directory.version,
    }
    return this.fieldCache
  }

  private fieldsByDevice(): Map<string, Field[]> {
    return this.fieldIndex().byDevice
  }

  /**
   * Runs fn with `synchronous = NORMAL`: its commit reaches the WAL without an fsync. A power cut
   * may lose such a commit until the next durable one (any later FULL commit syncs the WAL with
   * everything before it, and so does every checkpoint); a process crash loses nothing. Only for
   * the history the rules look back on, never for alert state or what was sent: at ingest rates
   * one fsync per batch was ~7 % of the service's time.
   */
  private relaxed(fn: () => void): void {
    // SQLite refuses to change the level inside a transaction; there the outer commit decides.
    if (this.db.inTransaction) {
      fn()
      return
    }
    // The registry's own level (FULL, set by Registry.start) comes back afterwards.
    // The connection's own level, read once per connection (this runs for every slice of every
    // batch); set with exec, not a prepared statement: SQLite applies a PRAGMA setter when it is
    // prepared, so a kept statement would not set it again.
    const db = this.db
    if (this.syncLevel?.db !== db)
      this.syncLevel = { db, level: db.pragma('synchronous', { simple: true }) as number }
    const level = this.syncLevel.level
    if (level <= 1) {
      fn() // already NORMAL or OFF
      return
    }
    db.exec('PRAGMA synchronous = NORMAL')
    try {
      fn()
    } finally {
      db.exec(`PRAGMA synchronous = ${level}`)
    }
  }

  /**
   * Keeps a reading in the history, or skips it (see RECENT_SPACING_MS); a kept rainfall sample
   * carries the rain of the readings skipped before it.
   */
  private keepRow(r: Reading, m: SeriesMemo, history: ReadingHistory): void {
    const s = keepOf(m, r.sensor)
    // An older reading (a gateway's backlog arriving late) is kept: it fills a gap.
    if (s !== undefined && r.timeMs >= s.keptAtMs && r.timeMs - s.keptAtMs < RECENT_SPACING_MS) {
      if (r.quantity === RAIN && r.value !== 0) {
        s.rainMm += r.value
        this.rainCarryByVillage.set(r.village, (this.rainCarryByVillage.get(r.village) ?? 0) + r.value)
      }
      return
    }
    if (s === undefined) {
      const series = history.series(r.device, r.quantity, r.sensor, r.village)
      if (m.series === undefined) {
        m.sensor = r.sensor
        m.keptAtMs = r.timeMs
        m.rainMm = 0
        m.series = series
      } else {
        const keep: SensorKeep = { sensor: r.sensor, keptAtMs: r.timeMs, rainMm: 0, series }
        // A literal of one, not push (which gives an empty array room for 17).
        if (m.more === undefined) m.more = [keep]
        else m.more.push(keep)
      }
      history.add(series, r.timeMs, r.value)
      return
    }
    if (s.series.village !== r.village) history.series(r.device, r.quantity, r.sensor, r.village)
    if (r.timeMs > s.keptAtMs) s.keptAtMs = r.timeMs
    if (s.rainMm === 0) {
      history.add(s.series, r.timeMs, r.value)
      return
    }
    const carried = s.rainMm
    s.rainMm = 0
    const left = (this.rainCarryByVillage.get(r.village) ?? 0) - carried
    if (left > 1e-9) this.rainCarryByVillage.set(r.village, left)
    else this.rainCarryByVillage.delete(r.village)
    history.add(s.series, r.timeMs, r.value + carried)
  }

  private writeSeen(device: string, village: string, lastMs: number): void {
    this.sql(
      `INSERT INTO device_seen (device, village, last_ms) VALUES (?, ?, ?)
       ON CONFLICT(device) DO UPDATE SET last_ms = max(last_ms, excluded.last_ms), village = excluded.village`,
    ).run(device, village, lastMs)
  }

  /** Writes every device's newest reading time not yet in device_seen (at stop). */
  private flushSeen(): void {
    let dirty = false
    for (const s of this.seen.values()) dirty ||= s.lastMs > s.writtenMs
    if (!dirty) return
    this.db.transaction(() => {
      for (const [device, s] of this.seen) {
        if (s.lastMs <= s.writtenMs) continue
        this.writeSeen(device, s.village, s.lastMs)
        s.writtenMs = s.lastMs
      }
    })()
  }

  /** A device's last-seen time: the table's, or newer from memory (not yet written). */
  private lastSeenMs(device: string, writtenMs: number): number {
    const s = this.seen.get(device)
    return s !== undefined && s.lastMs > writtenMs ? s.lastMs : writtenMs
  }

  private memoOf(device: string, quantity: string): SeriesMemo {
    return memoIn(this.memoOfDevice(device), quantity)
  }

  private memoOfDevice(device: string): SeriesMemo[] {
    let all = this.memo.get(device)
    if (all === undefined) {
      all = []
      this.memo.set(device, all)
    }
    return all
  }

  /** The newest air temperature of a village, from memory (SQLite on the first miss). */
  private villageAirNewest(village: string): { value: number; timeMs: number } | undefined {
    let known = this.airNewest.get(village)
    if (known === undefined) {
      known = this.history.villageAtOrBefore(village, AIR, Number.POSITIVE_INFINITY) ?? null
      this.airNewest.set(village, known)
    }
    return known ?? undefined
  }

  private noteAir(r: Reading): void {
    const known = this.villageAirNewest(r.village)
    if (!known || known.timeMs <= r.timeMs)
      this.airNewest.set(r.village, { value: r.value, timeMs: r.timeMs })
  }

  latest(device: string, quantity: string): { value: number; timeMs: number } | undefined {
    const m = this.memoOf(device, quantity)
    if (m.newest) return m.newest
    const row = this.history.atOrBefore(device, quantity, Number.POSITIVE_INFINITY)
    if (row) m.newest = row
    return row
  }

  // ---------------------------------------------------------------- what rules see (RuleContext)

  /** min/max/count of a device's quantity over [fromMs, toMs] in the history. */
  window(
    device: string,
    quantity: Quantity,
    fromMs: number,
    toMs: number,
  ): { lo: number | null; hi: number | null; n: number } {
    return this.history.window(device, quantity, fromMs, toMs)
  }

  valueAtOrBefore(device: string, quantity: Quantity, atMs: number): number | undefined {
    return this.history.atOrBefore(device, quantity, atMs)?.value
  }

  /** Samples the history keeps (all, a device's, or a device's quantity): tests and status. */
  historySize(device?: string, quantity?: string): number {
    return this.history.count(device, quantity)
  }

  learnedSoil(fieldId: string): LearnedSoil | undefined {
    const row = this.sql('SELECT learned FROM field_soil_learned WHERE field = ?').get(fieldId) as
      | { learned: string }
      | undefined
    return row ? (JSON.parse(row.learned) as LearnedSoil) : undefined
  }

  saveLearnedSoil(fieldId: string, learned: LearnedSoil, atMs: number): void {
    this.sql(
      `INSERT INTO field_soil_learned (field, learned, updated_at_ms) VALUES (?, ?, ?)
       ON CONFLICT(field) DO UPDATE SET learned = excluded.learned, updated_at_ms = excluded.updated_at_ms`,
    ).run(fieldId, JSON.stringify(learned), atMs)
  }

  due(check: string, subject: string, atMs: number, everyMs: number): boolean {
    let bySubject = this.checkedAt.get(check)
    if (bySubject === undefined) {
      bySubject = new Map()
      this.checkedAt.set(check, bySubject)
    }
    const last = bySubject.get(subject)
    if (last !== undefined && atMs - last < everyMs && atMs >= last) return false
    bySubject.set(subject, atMs)
    return true
  }

  /** The field's soil: its own description over the crop's and district's defaults (config). */
  soil(field: Field): SoilWater {
    let soil = this.soilOf.get(field)
    if (soil === undefined) {
      soil = this.soilNow(field)
      this.soilOf.set(field, soil)
    }
    return soil
  }

  private soilNow(field: Field): SoilWater {
    const crop = this.cfg.rules.crops[field.crop]
    const own = field.soil ?? {}
    return soilWater(field.crop, {
      ...(own.fcPct === undefined ? { texture: own.texture ?? this.cfg.soil.texture } : {}),
      ...own,
      ...(own.p === undefined && crop.p !== undefined ? { p: crop.p } : {}),
      ...(own.rootDepthM === undefined && crop.rootDepthM !== undefined
        ? { rootDepthM: crop.rootDepthM }
        : {}),
    })
  }

  /**
   * Where the field is in its season: days from the planting date (local days), the variety's
   * duration (field, else the crop's config), stage from the calendar; a field known only by its
   * stage sits in the middle of that stage.
   */
  season(field: Field, atMs: number): FieldSeason | undefined {
    const dayStartMs = localDayStart(atMs)
    const known = this.seasonOf.get(field)
    if (known !== undefined && known.dayStartMs === dayStartMs) return known.season
    const season = this.seasonNow(field, dayStartMs)
    this.seasonOf.set(field, { dayStartMs, season })
    return season
  }

  private seasonNow(field: Field, dayStartMs: number): FieldSeason | undefined {
    const seasonDays = field.seasonDays ?? this.cfg.rules.crops[field.crop].seasonDays
    // Known only by its stage: no calendar (no flowering window, no drain-down).
    if (field.plantedAtMs === undefined) return field.stage ? { stage: field.stage, seasonDays } : undefined
    const days = this.advisor.daysSincePlanting(field, dayStartMs, { allowBefore: true })
    if (days === undefined) return undefined
    return seasonDay(field.crop, days, seasonDays)
  }

  /** The growth stage of a field on a day (explicit stage wins; before planting counts as initial). */
  stageOf(field: Field, atMs: number): 'initial' | 'development' | 'mid' | 'late' {
    const stage = this.season(field, atMs)?.stage ?? field.stage ?? 'mid'
    return stage === 'after-season' ? 'late' : stage
  }

  fieldBalance(field: Field): FieldAdvice | undefined {
    // Advice changes once a day (at day close): cached, not a query per field and batch.
    let advice = this.adviceCache.get(field.id)
    if (advice === undefined) {
      advice = this.advisor.latestAdvice(field.id) ?? null
      this.adviceCache.set(field.id, advice)
    }
    return advice ?? undefined
  }

  etcMmPerDay(field: Field, atMs: number): number | undefined {
    const advice = this.fieldBalance(field)
    // Last week's ETc is still the field's; older says nothing about today.
    if (!advice || advice.dayStartMs < atMs - 7 * DAY_MS) return undefined
    return advice.etcMmPerDay
  }

  /** Calibrated θ [% VWC] of a field: the mean of its probes' newest readings. */
  fieldMoisture(field: Field): { value: number; timeMs: number } | undefined {
    const m = this.fieldMean(field, SOIL)
    if (!m) return undefined
    const soil = field.soil?.calibration ? this.soil(field) : undefined
    return soil ? { value: calibratedPct(soil, m.value), timeMs: m.timeMs } : m
  }

  fieldWaterLevel(field: Field): { value: number; timeMs: number } | undefined {
    return this.fieldMean(field, WATER_LEVEL)
  }

  private fieldMean(field: Field, quantity: Quantity): { value: number; timeMs: number } | undefined {
    let sum = 0
    let count = 0
    let timeMs = Number.NEGATIVE_INFINITY
    for (const d of field.devices) {
      const x = this.latest(d, quantity)
      if (!x) continue
      sum += x.value
      count++
      timeMs = Math.max(timeMs, x.timeMs)
    }
    return count === 0 ? undefined : { value: sum / count, timeMs }
  }

  /**
   * Root-zone depletion from the field's probes (FAO-56 ch. 8: Dr = 1000 (θFC − θ) Zr) when a
   * probe reading is fresh at atMs; undefined without one (the advisor then keeps a balance).
   * Paddies keep the balance: their loss is ponded water, not a drying root zone.
   */
  probeDepletionMm(field: Field, atMs: number): number | undefined {
    if (field.crop === 'rice') return undefined
    const m = this.fieldMoisture(field)
    if (!m || m.timeMs < atMs - PROBE_FRESH_MS || m.timeMs > atMs + PROBE_FRESH_MS) return undefined
    return depletionFromThetaMm(this.soil(field), m.value)
  }

  /**
   * A probe that rose by alert.irrigation.probeRisePct within an hour saw water arrive (the farmer
   * irrigated, or rain soaked the field): the balance restarts there (field_water, source probe).
   */
  private detectRefill(field: Field, atMs: number): void {
    const risePct = this.cfg.irrigation.probeRisePct
    if (!this.cfg.irrigation.enabled || !this.due('rise', field.id, atMs, RISE_CHECK_EVERY_MS)) return
    let rise = 0
    for (const d of field.devices) {
      const now = this.latest(d, SOIL)
      if (!now) continue
      const { lo } = this.window(d, SOIL, atMs - RISE_WINDOW_MS, atMs)
      if (lo !== null) rise = Math.max(rise, now.value - lo)
    }
    if (rise < risePct) return
    const last = this.advisor.lastWater(field.id)
    if (last && atMs - last.atMs < RISE_DEDUP_MS) return
    this.advisor.recordWater(field.id, atMs, undefined, 'probe')
  }

  villageRainMm(village: string, windowMs: number, atMs: number): number {
    const mm = this.history.villageSum(village, RAIN, atMs - windowMs, atMs)
    return mm + (this.rainCarryByVillage.get(village) ?? 0)
  }

  /** The village's air temperature at a time: the newest from memory unless an earlier moment is asked for. */
  villageAir(
    village: string,
    atMs: number = Number.POSITIVE_INFINITY,
  ): { value: number; timeMs: number } | undefined {
    const newest = this.villageAirNewest(village)
    if (newest === undefined || newest.timeMs <= atMs) return newest
    return this.history.villageAtOrBefore(village, AIR, atMs)
  }

  weatherDays(
    village: string,
    dayStartMs: number,
    count: number,
  ): Array<{ dayStartMs: number; day: WeatherDay }> {
    return this.advisor.closedDays(village, dayStartMs, count)
  }

  /** The village's weather facts (CEK replies, tests): rain over the heavy-rain window, air now. */
  villageWeather(village: string, atMs: number): { rainMm: number; airTemperatureC?: number } {
    const air = this.villageAir(village, atMs)
    return {
      rainMm: this.villageRainMm(village, this.cfg.rules.heavyRain.windowMs, atMs),
      ...(air ? { airTemperatureC: air.value } : {}),
    }
  }

  // ---------------------------------------------------------------- lifecycle

  private activeAlert(rule: string, subject: string): AlertRow | undefined {
    return this.sql(
      `SELECT * FROM alerts WHERE rule = ? AND subject = ? AND state IN ('pending', 'firing')`,
    ).get(rule, subject) as AlertRow | undefined
  }

  /**
   * One finding → the alert's next state, in one IMMEDIATE transaction: the unique index on
   * (rule, subject) for pending/firing alerts makes a second insert a no-op, so two near-
   * simultaneous batches (or two processes) cannot open two alerts; the state updates are
   * conditional on the state read, so a transition happens once.
   */
  apply(f: Finding): void {
    this.applyAll([f])
  }

  /** Many findings in one IMMEDIATE transaction: one commit per batch of readings, not per finding. */
  applyAll(findings: readonly Finding[]): void {
    if (findings.length === 0) return
    this.immediate('applyAll', (fs: readonly Finding[]) => {
      // Inside the write transaction: no other connection commits until it ends.
      const active = this.activeSet()
      try {
        for (const f of fs) this.applyOne(f, active)
      } catch (err) {
        this.activeKeys = undefined // rolled back: read again
        throw err
      }
    })(findings)
  }

  /**
   * An IMMEDIATE transaction function, made once per connection and key: `db.transaction` builds
   * four wrappers each time, and the engine runs these per slice of every batch. `fn` must use
   * only its arguments and the engine (it is kept).
   */
  private immediate<A extends unknown[]>(key: string, fn: (...args: A) => void): (...args: A) => void {
    const db = this.db
    if (this.transactions?.db !== db) this.transactions = { db, byKey: new Map() }
    let t = this.transactions.byKey.get(key)
    if (t === undefined) {
      t = db.transaction(fn as (...args: unknown[]) => void).immediate
      this.transactions.byKey.set(key, t)
    }
    return t as unknown as (...args: A) => void
  }

  /** The active (rule, subject) keys, read again when another connection has committed since. */
  private activeSet(): Set<string> {
    // A getter evaluated when run (unlike synchronous's, see relaxed()), so one kept statement serves.
    const version = this.sql('PRAGMA data_version').pluck().get() as number
    if (this.activeKeys === undefined || version !== this.activeDataVersion) {
      const rows = this.sql(
        `SELECT rule, subject FROM alerts WHERE state IN ('pending', 'firing')`,
      ).all() as Array<{ rule: string; subject: string }>
      this.activeKeys = new Set(rows.map((r) => activeKey(r.rule, r.subject)))
      this.activeDataVersion = version
    }
    return this.activeKeys
  }

  private applyOne(f: Finding, active: Set<string>): void {
    const key = activeKey(f.rule, f.subject)
    if (!f.active && !active.has(key)) return
    let row = this.activeAlert(f.rule, f.subject)
    if (f.active) {
      if (!row) {
        this.sql(
          `INSERT OR IGNORE INTO alerts (rule, subject, category, village, field, device, severity, state,
                 value, threshold, started_at_ms, updated_at_ms)
               VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)`,
        ).run(
          f.rule,
          f.subject,
          f.category,
          f.village,
          f.field ?? null,
          f.device ?? null,
          f.severity,
          f.value ?? null,
          f.threshold ?? null,
          f.atMs,
          f.atMs,
        )
        row = this.activeAlert(f.rule, f.subject)!
        active.add(key)
      } else {
        this.sql(
          'UPDATE alerts SET value = ?, threshold = ?, severity = ?, updated_at_ms = ? WHERE id = ?',
        ).run(
          f.value ?? row.value,
          f.threshold ?? row.threshold,
          f.severity,
          Math.max(f.atMs, row.updated_at_ms),
          row.id,
        )
      }
      if (row.state === 'pending' && f.atMs - row.started_at_ms >= f.forMs) {
        const changed = this.sql(
          `UPDATE alerts SET state = 'firing', fired_at_ms = ?, value = ?, updated_at_ms = ? WHERE id = ? AND state = 'pending'`,
        ).run(f.atMs, f.value ?? row.value, f.atMs, row.id).changes
        if (changed) {
          this.recordEvent(row.id, 'firing', f.atMs)
          this.delivery.dueAtMs = Number.NEGATIVE_INFINITY
        }
      }
      return
    }
    if (!row) {
      active.delete(key)
      return
    }
    if (row.state === 'pending') {
      // Prometheus semantics: a pending alert whose condition lapses is dropped, not resolved.
      this.sql(`DELETE FROM alerts WHERE id = ? AND state = 'pending'`).run(row.id)
      active.delete(key)
      return
    }
    if (f.clear && f.atMs >= (row.fired_at_ms ?? 0)) {
      const changed = this.sql(
        `UPDATE alerts SET state = 'resolved', resolved_at_ms = ?, value = ?, updated_at_ms = ? WHERE id = ? AND state = 'firing'`,
      ).run(f.atMs, f.value ?? row.value, f.atMs, row.id).changes
      if (changed) {
        active.delete(key)
        this.recordEvent(row.id, 'resolved', f.atMs)
        this.delivery.dueAtMs = Number.NEGATIVE_INFINITY
      }
    }
  }

  /** Timers: offline nodes and gateways, lapsing windows, day close (advice, daily models), delivery. */
  tick(nowMs: number = this.clock()): void {
    const findings: Finding[] = []
    // A node's status written before the gateway-health rule applied on every path (the state
    // role): forget it, and resolve a gateway_offline it opened.
    if (this.cfg.rules.sensorHealth.enabled) {
      const rows = this.sql(
        'SELECT device, village FROM device_seen WHERE status IS NOT NULL',
      ).all() as Array<{
        device: string
        village: string
      }>
      for (const r of rows) {
        if (!this.owns(r.village) || feedsGatewayHealth(this.opts.registry.getDevice(r.device), r.village))
          continue
        this.sql('UPDATE device_seen SET status = NULL, status_at_ms = NULL WHERE device = ?').run(r.device)
        findings.push(this.gatewayOffline(r.device, r.village, false, nowMs))
      }
    }
    const tickCtx = this.tickContext()
    for (const family of FAMILIES) {
      if (!family.tick) continue
      try {
        findings.push(...family.tick(tickCtx, nowMs))
      } catch (err) {
        this.log.error({ err, family: family.family }, 'alert rule tick failed; other rules go on')
      }
    }
    // Window rules (rain sums, heat) lapse with time alone: re-evaluate the active ones now.
    for (const field of tickCtx.fieldsWithActive(VILLAGE_RULE_IDS)) {
      if (this.owns(field.village))
        findings.push(...this.evaluateFamilies(VILLAGE_FAMILIES, { kind: 'field', field, atMs: nowMs }))
    }
    this.applyAll(findings)
    const closed = this.advisor.closeDays(nowMs, this.owns)
    if (closed.days.length > 0) this.adviceCache.clear()
    for (const advice of closed.advice) {
      this.addEvent({
        measurement: 'irrigation_advice',
        timeMs: advice.dayStartMs,
        tags: { village: advice.village, field: advice.field, crop: advice.crop },
        fields: {
          et0_mm: advice.et0Mm,
          kc: advice.kc,
          etc_mm: advice.etcMm,
          rain_mm: advice.rainMm,
          rain_eff_mm: advice.effectiveRainMm,
          need_mm: advice.netNeedMm,
          litres: advice.litres,
          days: advice.days,
        },
      })
    }
    // Daily models (disease risk) judge each closed day, in order, at the day's end.
    const daily: Finding[] = []
    for (const { village, dayStartMs } of closed.days) {
      for (const field of this.fieldIndex().fields) {
        if (field.village === village)
          daily.push(
            ...this.evaluateFamilies(DAY_FAMILIES, { kind: 'field', field, atMs: dayStartMs + DAY_MS }),
          )
      }
    }
    this.applyAll(daily)
    // SMS the outbox refused earlier (its disk full, a restart) are handed again.
    this.delivery.handOver()
    this.flush(nowMs)
    this.delivery.escalate(nowMs)
    this.followUpValves(nowMs)
    this.prune(nowMs)
  }

  private tickContext(): RuleContext & TickContext {
    const ctx = this as unknown as RuleContext & TickContext
    return Object.assign(Object.create(ctx) as RuleContext & TickContext, {
      devicesSeen: () =>
        (
          this.sql('SELECT * FROM device_seen').all() as Array<{
            device: string
            village: string
            last_ms: number
            status: string | null
            status_at_ms: number | null
          }>
        ).map((r) => ({
          device: r.device,
          village: r.village,
          lastMs: this.lastSeenMs(r.device, r.last_ms),
          status: r.status,
          statusAtMs: r.status_at_ms,
        })),
      fieldsWithActive: (rules: readonly RuleId[]) => {
        if (rules.length === 0) return []
        const ids = this.sql(
          `SELECT DISTINCT field FROM alerts WHERE state IN ('pending', 'firing') AND field IS NOT NULL
             AND rule IN (SELECT value FROM json_each(?))`,
        ).all(JSON.stringify(rules)) as Array<{ field: string }>
        const byId = this.fieldIndex().byId
        return ids.map((r) => byId.get(r.field)).filter((f): f is Field => f !== undefined)
      },
      fieldOfDevice: (device: string) => this.fieldsByDevice().get(device)?.[0],
      owns: (village: string) => this.owns(village),
    })
  }

  /** When each device's newest reading was taken (epoch ms), for the console map's online state. */
  devicesLastSeenMs(): Map<string, number> {
    const rows = this.sql('SELECT device, last_ms FROM device_seen WHERE last_ms > 0').all() as Array<{
      device: string
      last_ms: number
    }>
    return new Map(rows.map((r) => [r.device, this.lastSeenMs(r.device, r.last_ms)]))
  }

  /** Group flush per recipient (delivery.ts); tests and the timer call it. */
  flush(nowMs: number): void {
    this.delivery.flush(nowMs)
  }

  /** Old readings go, at most once per PRUNE_EVERY_MS. */
  private prune(nowMs: number): void {
    if (nowMs - this.prunedAtMs < PRUNE_EVERY_MS && nowMs >= this.prunedAtMs) return
    this.prunedAtMs = nowMs
    const keep = this.keepMsByQuantity()
    const longest = Math.max(0, ...keep.values())
    this.history.prune(this.db, (q) => nowMs - (keep.get(q) ?? 0), {
      journalCutoffMs: nowMs - longest,
      compact: this.owns === OWNS_ALL,
    })
  }

  /**
   * How long each kept quantity's history is needed: the longest `windowMs` of the families that
   * look back on it (sensor health's: its stuck quantities), an hour for soil moisture (a probe's
   * rise); other quantities (battery, humidity, wind…) keep their newest sample only.
   */
  private keepMsByQuantity(): Map<string, number> {
    if (this.keepMs) return this.keepMs
    const keep = new Map<string, number>()
    const atLeast = (q: string, ms: number) => keep.set(q, Math.max(keep.get(q) ?? 0, ms))
    for (const f of FAMILIES) {
      const ms = f.windowMs?.(this.cfg) ?? 0
      // Sensor health's window is its stuck check's; its battery rule reads the newest value only.
      if (f.family === 'sensor-health')
        for (const q of this.cfg.rules.sensorHealth.stuckQuantities) atLeast(q, ms)
      else for (const q of f.quantities) atLeast(q, ms)
    }
    atLeast(SOIL, RISE_WINDOW_MS)
    this.keepMs = keep
    return keep
  }

  /** Quantities a rule looks back on; other readings (stem diameter, pressure…) are not kept. */
  private ruleQuantities(): Set<string> {
    if (!this.kept) {
      const h = this.cfg.rules.sensorHealth
      this.kept = new Set([
        ...FAMILIES.flatMap((f) => f.quantities),
        ...WEATHER_QUANTITIES,
        ...h.stuckQuantities,
        ...Object.keys(h.plausible),
      ])
    }
    return this.kept
  }

  /** The facts a template needs about one alert. */
  view(a: AlertRow | Alert): AlertView {
    const row = a as Partial<AlertRow> & Partial<Alert>
    const fieldId = row.field ?? undefined
    const field = fieldId ? this.directory.getField(fieldId) : undefined
    const v: AlertView = { id: a.id, rule: a.rule, village: a.village }
    if (field) {
      v.fieldName = field.name
      v.areaHa = field.areaHa
      v.crop = field.crop
    }
    if (row.device) v.device = row.device
    if (row.value !== null && row.value !== undefined) v.value = row.value
    if (row.threshold !== null && row.threshold !== undefined) v.threshold = row.threshold
    if (a.rule === 'device_offline' || a.rule === 'gateway_offline') {
      if (v.value !== undefined) v.sinceLocal = localClock(v.value)
    }
    if ((a.rule === 'dry' || a.rule === 'irrigate') && field) {
      const need = this.advisor.currentNeed(field, this.clock())
      if (need) {
        v.needMm = need.netNeedMm
        v.litres = need.litres
      }
    }
    return v
  }

  // ---------------------------------------------------------------- operations

  getAlert(id: number): Alert | undefined {
    const r = this.sql('SELECT * FROM alerts WHERE id = ?').get(id) as AlertRow | undefined
    return r && toAlert(r)
  }

  listAlerts(
    filter: { state?: AlertState; village?: string; field?: string; limit?: number; beforeId?: number } = {},
  ): Alert[] {
    const where: string[] = []
    const args: unknown[] = []
    for (const k of ['state', 'village', 'field'] as const) {
      if (filter[k] !== undefined) {
        where.push(`${k} = ?`)
        args.push(filter[k])
      }
    }
    // the next page of a listing newest first (the CSV export pages with it)
    if (filter.beforeId !== undefined) {
      where.push('id < ?')
      args.push(filter.beforeId)
    }
    const sql = `SELECT * FROM alerts${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`
    return (this.sql(sql).all(...args, filter.limit ?? 500) as AlertRow[]).map(toAlert)
  }

  /** Acknowledge (ThingsBoard): stops reminders and escalation; the alert still resolves by itself. */
  ack(id: number, by: string, atMs: number = this.clock()): Alert | undefined {
    const changed = this.sql(
      `UPDATE alerts SET acked_at_ms = ?, acked_by = ? WHERE id = ? AND acked_at_ms IS NULL AND state IN ('pending', 'firing')`,
    ).run(atMs, by, id).changes
    if (changed) this.recordEvent(id, 'acknowledged', atMs)
    return this.getAlert(id)
  }

  addSilence(s: Omit<Silence, 'id'>): Silence {
    const id = Number(
      this.sql(
        `INSERT INTO silences (matchers, starts_at_ms, ends_at_ms, created_by, comment, created_at_ms)
           VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(JSON.stringify(s.matchers), s.startsAtMs, s.endsAtMs, s.createdBy, s.comment, this.clock())
        .lastInsertRowid,
    )
    this.delivery.dueAtMs = Number.NEGATIVE_INFINITY
    return { id, ...s }
  }

  listSilences(nowMs: number = this.clock()): Silence[] {
    return this.delivery.silences(nowMs)
  }

  /** Where farmers' valve commands go (src/commands), when this process has it. */
  commandPort(): CommandPort | undefined {
    return this.opts.commands?.()
  }

  /** Farmers' valve commands that failed or expired: one follow-up SMS each (valves.ts). */
  private followUpValves(nowMs: number): void {
    const port = this.commandPort()
    if (!port) return
    try {
      followUpValves(this, port, (msg) => this.opts.outbox.enqueue(msg), nowMs)
    } catch (err) {
      this.log.error({ err }, 'valve command follow-up failed; tried again at the next tick')
    }
  }

  /** MO SMS from farmers: OK <id>, CEK <field>, STOP, BANTUAN. Replies go through the outbox. */
  onInbound(mo: InboundSms): void {
    try {
      const reply = handleCommand(this, mo)
      if (!reply) return
      const key = `reply:${mo.from}:${mo.receivedAtMs}:${hash(mo.text)}`
      this.opts.outbox.enqueue({ key, to: reply.to, text: reply.text, unregistered: reply.unregistered })
    } catch (err) {
      this.log.error({ err, from: mo.from }, 'farmer command failed')
    }
  }

  // ---------------------------------------------------------------- events

  private recordEvent(alertId: number, state: string, atMs: number): void {
    const row = this.sql('SELECT * FROM alerts WHERE id = ?').get(alertId) as AlertRow | undefined
    if (!row) return
    const view = this.view(row)
    let message: string
    try {
      message = renderGroup([{ alert: view, kind: state === 'resolved' ? 'resolved' : 'firing' }], 'id')
    } catch {
      message = `${row.rule} ${state}`
    }
    this.addEvent({
      measurement: 'alert_events',
      timeMs: atMs,
      tags: {
        village: row.village,
        field: row.field ?? undefined,
        rule: row.rule,
        severity: row.severity,
        state,
      },
      fields: { alert_id: row.id, value: row.value ?? 0, message },
    })
  }

  private addEvent(e: StoredEvent): void {
    this.sql('INSERT INTO alert_events (measurement, time_ms, tags, fields) VALUES (?, ?, ?, ?)').run(
      e.measurement,
      e.timeMs,
      JSON.stringify(e.tags),
      JSON.stringify(e.fields),
    )
  }

  /** Events not yet in InfluxDB, oldest first. */
  pendingEvents(limit = 5000): Array<StoredEvent & { id: number }> {
    return (
      this.sql('SELECT * FROM alert_events WHERE exported_at_ms IS NULL ORDER BY id LIMIT ?').all(
        limit,
      ) as Array<{
        id: number
        measurement: string
        time_ms: number
        tags: string
        fields: string
      }>
    ).map((r) => ({
      id: r.id,
      measurement: r.measurement,
      timeMs: r.time_ms,
      tags: JSON.parse(r.tags),
      fields: JSON.parse(r.fields),
    }))
  }

  /** Writes waiting events to InfluxDB; on failure they stay and the next run retries. */
  async exportEvents(): Promise<number> {
    const sink = this.opts.events
    if (!sink || this.exporting) return 0
    this.exporting = true
    let written = 0
    try {
      if (this.eventsDown) await sink.start()
      for (;;) {
        const batch = this.pendingEvents()
        if (batch.length === 0) break
        const refused = await writeEventsOf(sink, batch, this.log)
        const mark = this.sql('UPDATE alert_events SET exported_at_ms = ?, export_error = ? WHERE id = ?')
        const now = this.clock()
        this.db.transaction(() => {
          for (const e of batch) mark.run(now, refused.get(e.id) ?? null, e.id)
        })()
        written += batch.length - refused.size
      }
      if (this.eventsDown) this.log.info('InfluxDB takes events again')
      this.eventsDown = false
    } catch (err) {
      if (!this.eventsDown)
        this.log.warn({ err: (err as Error).message }, 'InfluxDB events export failed; will retry')
      this.eventsDown = true
    } finally {
      this.exporting = false
    }
    return written
  }
}

/**
 * Writes a batch of events; a batch InfluxDB refuses for good (a non-retryable error, e.g. a
 * field-type conflict) is written again one event at a time, and the events refused alone are
 * returned with the reason (set aside, logged) so they never hold back the others. A retryable
 * failure throws: the whole batch waits for the next export.
 */
async function writeEventsOf(
  sink: EventSink,
  batch: ReadonlyArray<StoredEvent & { id: number }>,
  log: { error: (obj: object, msg: string) => void },
): Promise<Map<number, string>> {
  const refused = new Map<number, string>()
  try {
    await sink.write(batch)
    return refused
  } catch (err) {
    if (isRetryable(err) || batch.length === 0) throw err
  }
  for (const e of batch) {
    try {
      await sink.write([e])
    } catch (err) {
      if (isRetryable(err)) throw err
      refused.set(e.id, (err as Error).message)
      log.error(
        { err: (err as Error).message, event: e.id, measurement: e.measurement },
        'InfluxDB refused an alert event for good; set aside (alert_events.export_error), the others go on',
      )
    }
  }
  return refused
}

function activeKey(rule: string, subject: string): string {
  return `${rule}\u0000${subject}`
}

function hash(text: string): string {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619)
  return (h >>> 0).toString(36)
}
