import type Database from 'better-sqlite3'
import { growthStageOnDay } from '../agronomy/index.ts'
import { getLogger } from '../log.ts'
import type { Registry } from '../registry/index.ts'
import type { Reading } from '../telemetry/index.ts'
import { handleCommand } from './commands.ts'
import type { AlertsConfig, MoistureThreshold, Severity } from './config.ts'
import { Directory, type Field, type Language } from './directory.ts'
import type { EventSink, StoredEvent } from './influx-events.ts'
import { IrrigationAdvisor } from './irrigation.ts'
import type { InboundSms, OutboxPort } from './notify-port.ts'
import { ownership } from './partition.ts'
import { statement } from './sql.ts'
import { type AlertView, escalationText, type MessageItem, renderGroup } from './templates.ts'
import { DAY_MS, inQuietHours, localClock, quietHoursEnd } from './time.ts'

const HOUR_MS = 3_600_000

export const ALERT_STATES = ['pending', 'firing', 'resolved'] as const
export type AlertState = (typeof ALERT_STATES)[number]
/** field: soil of one field; weather: the village's weather at a field; sensor: node/gateway health. */
export type AlertCategory = 'field' | 'weather' | 'sensor'

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

interface AlertRow {
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

/**
 * What a rule found about one subject at one time. `active`: the condition holds (pending, then
 * firing after `forMs`). `clear`: far enough back (hysteresis) to resolve a firing alert. Neither:
 * a firing alert stays, a pending one is dropped.
 */
export interface Finding {
  rule: string
  subject: string
  category: AlertCategory
  village: string
  field?: string
  device?: string
  severity: Severity
  active: boolean
  clear: boolean
  value?: number
  threshold?: number
  atMs: number
  forMs: number
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

interface Recipient {
  key: string
  phone: string
  language: Language
  quietStart?: string
  quietEnd?: string
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
}

const OWNS_ALL = () => true

const SOIL = 'soil_moisture'
/** A stuck value is judged over hours; checking every 10 min of reading time is plenty. */
const STUCK_CHECK_EVERY_MS = 10 * 60_000
/** Rows per multi-row INSERT into recent_readings (6 parameters each, far below SQLite's limit). */
const RECENT_ROWS_PER_INSERT = 200
/**
 * recent_readings keeps at most one row per series (device, sensor, quantity) per this much reading
 * time. Real nodes report every few minutes, so every reading is kept; a node (or a benchmark)
 * reporting every second keeps one a minute, which is all the hour-long rules look at. Rainfall is
 * summed, so a skipped rainfall reading's millimetres are carried into the series' next row (and
 * counted from memory until then); the newest air temperature per village is kept in memory. (At
 * 100 000 readings/s the per-reading INSERT was most of the engine's CPU.)
 */
const RECENT_SPACING_MS = 60_000
const RAIN = 'rainfall'
const AIR = 'air_temperature'
/** recent_readings is trimmed to the longest rule window this often. */
const PRUNE_EVERY_MS = 10 * 60_000
/** A fall within an hour, checked at most every 5 min of reading time per field. */
const DROP_CHECK_EVERY_MS = 5 * 60_000
const FIELDS_CACHE_MS = 10_000
/** enqueueReadings gathers this long: as the ingest batcher's window, so latency stays small. */
const BATCH_WINDOW_MS = 25
/** Quantities a village's weather station reports that the weather rules and the advisor use. */
const WEATHER_QUANTITIES = new Set([
  'air_temperature',
  'relative_humidity',
  'rainfall',
  'wind_speed',
  'solar_radiation',
])

/** What the engine remembers of one device's quantity (AlertEngine.memo). */
interface SeriesMemo {
  /** The newest reading (updated in place). */
  newest: { value: number; timeMs: number } | undefined
  /** Per sensor: reading time of the row last kept, rain of the readings skipped since. */
  sensors: Map<string, { keptAtMs: number; rainMm: number }>
}

function noteNewest(m: SeriesMemo, r: Reading): void {
  if (m.newest === undefined) m.newest = { value: r.value, timeMs: r.timeMs }
  else if (m.newest.timeMs <= r.timeMs) {
    m.newest.value = r.value
    m.newest.timeMs = r.timeMs
  }
}

/**
 * The alert engine: rules over stored readings, the Alertmanager/ThingsBoard lifecycle in SQLite
 * (one active alert per rule and subject, enforced by a unique index), grouping per recipient,
 * repeat interval, quiet hours, inhibition, silences, escalation, all-clear, farmer commands, and
 * events for InfluxDB. Everything it decides is committed before it acts, so a restart neither
 * forgets an alert nor sends an SMS twice (each SMS is written with its idempotency key first,
 * then handed to the outbox; unsent ones are handed again on start).
 */
export class AlertEngine {
  readonly directory: Directory
  readonly advisor: IrrigationAdvisor
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
  private outboxDown = false
  private buffered: Reading[] = []
  private bufferTimer: NodeJS.Timeout | undefined
  /**
   * Per device and quantity, as read or written by this process: the newest reading (saves a query
   * per rule and device on every batch; filled from SQLite on a miss, e.g. after a restart) and,
   * per sensor, the recent_readings bookkeeping (see keepRow). Nested maps: no key string is built
   * per reading.
   */
  private readonly memo = new Map<string, Map<string, SeriesMemo>>()
  /** Rain of skipped rainfall readings not yet in a row, per village (see keepRow). */
  private readonly rainCarryByVillage = new Map<string, number>()
  /** Newest air temperature per village (null: none in SQLite either); filled from SQLite on a miss. */
  private readonly airNewest = new Map<string, { value: number; timeMs: number } | null>()
  /** Reading time of the last stuck-value check per device: a 6 h window needs no check per reading. */
  private readonly stuckCheckedAt = new Map<string, number>()
  /** Reading time of the last moisture-drop check per field (a range query per probe). */
  private readonly dropCheckedAt = new Map<string, number>()
  private prunedAtMs = Number.NEGATIVE_INFINITY
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
  /** Nothing can be due to send before this (see flush); a state change resets it. */
  private flushDueAtMs = Number.NEGATIVE_INFINITY
  private flushedDirectoryVersion = -1

  constructor(opts: AlertEngineOptions) {
    this.opts = opts
    this.clock = opts.clock ?? Date.now
    this.owns = opts.config.partition ? ownership(opts.config.partition) : OWNS_ALL
    this.directory = new Directory({ registry: opts.registry, quietHours: opts.config.quietHours })
    this.advisor = new IrrigationAdvisor({ registry: opts.registry, config: opts.config.irrigation })
  }

  private get db(): Database.Database {
    return this.opts.registry.database()
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
    this.handOver()
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
    this.drainBuffer()
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
   * For IngestPipeline.onStored, which calls once per message: readings are gathered for
   * BATCH_WINDOW_MS and evaluated together (one transaction per window rather than per message).
   * Never throws: an evaluation error is logged and the readings are dropped from evaluation (they
   * are stored all the same).
   */
  enqueueReadings(readings: readonly Reading[]): void {
    if (readings.length === 0) return
    this.buffered.push(...readings)
    if (this.bufferTimer) return
    this.bufferTimer = setTimeout(() => this.drainBuffer(), BATCH_WINDOW_MS)
  }

  /** Evaluates what enqueueReadings gathered (stop() calls it too). */
  drainBuffer(): void {
    clearTimeout(this.bufferTimer)
    this.bufferTimer = undefined
    const batch = this.buffered
    this.buffered = []
    if (batch.length === 0) return
    try {
      this.onReadings(batch)
    } catch (err) {
      this.log.error({ err, readings: batch.length }, 'alert evaluation failed for a batch')
    }
  }

  /** Stored readings (IngestPipeline.onStored): remember them, evaluate the rules they touch. */
  onReadings(all: readonly Reading[]): void {
    const readings = this.owns === OWNS_ALL ? all : all.filter((r) => this.owns(r.village))
    if (readings.length === 0) return
    const fieldsByDevice = this.fieldsByDevice()
    const touchedFields = new Map<string, number>()
    const touchedVillages = new Map<string, number>()
    const touchedDevices = new Map<string, { village: string; atMs: number }>()
    const rows: Array<string | number> = []
    const seen = this.sql(
      `INSERT INTO device_seen (device, village, last_ms) VALUES (?, ?, ?)
       ON CONFLICT(device) DO UPDATE SET last_ms = max(last_ms, excluded.last_ms), village = excluded.village`,
    )
    // Two IMMEDIATE transactions per batch. First what the rules look back on (recent readings,
    // last seen, the day's weather), committed without waiting for the disk (see relaxed()); then
    // the rules' findings and the state changes, committed durably (a batch that changes no
    // alert writes nothing there, so it costs no fsync). Per batch, not per message.
    const remember = this.db.transaction(() => {
      const kept = this.ruleQuantities()
      for (const r of readings) {
        const d = touchedDevices.get(r.device)
        if (!d) touchedDevices.set(r.device, { village: r.village, atMs: r.timeMs })
        else if (d.atMs < r.timeMs) {
          d.village = r.village
          d.atMs = r.timeMs
        }
        const m = this.memoOf(r.device, r.quantity)
        if (!kept.has(r.quantity)) {
          // Not kept in SQLite, but remembered for CEK replies (lost on restart until the next reading).
          noteNewest(m, r)
          continue
        }
        if (r.quantity === AIR) this.noteAir(r)
        const row = this.keepRow(r, m)
        if (row !== undefined) rows.push(r.device, r.sensor, r.quantity, r.timeMs, r.village, row)
        if (m.newest === undefined) this.latest(r.device, r.quantity)
        noteNewest(m, r)
        if (r.quantity === SOIL) {
          for (const f of fieldsByDevice.get(r.device) ?? [])
            touchedFields.set(f.id, Math.max(touchedFields.get(f.id) ?? 0, r.timeMs))
        }
        if (WEATHER_QUANTITIES.has(r.quantity)) {
          touchedVillages.set(r.village, Math.max(touchedVillages.get(r.village) ?? 0, r.timeMs))
        }
      }
      this.keepRecent(rows)
      for (const [device, { village, atMs }] of touchedDevices) seen.run(device, village, atMs)
      this.advisor.accumulate(readings.filter((r) => WEATHER_QUANTITIES.has(r.quantity)))
    })
    this.relaxed(() => remember.immediate())
    const evaluate = this.db.transaction(() => {
      const findings: Finding[] = []
      const { fields, byId: fieldById } = this.fieldIndex()
      for (const [fieldId, atMs] of touchedFields) {
        const field = fieldById.get(fieldId)
        if (field) findings.push(...this.fieldFindings(field, atMs))
      }
      for (const [village, atMs] of touchedVillages) {
        const inVillage = fields.filter((f) => f.village === village)
        if (inVillage.length === 0) continue
        const weather = this.villageWeather(village, atMs)
        for (const field of inVillage) findings.push(...this.weatherFindings(field, atMs, weather))
      }
      for (const [device, { village, atMs }] of touchedDevices) {
        findings.push(...this.sensorFindings(device, village, atMs, fieldsByDevice.get(device)?.[0]))
      }
      this.applyAll(findings)
    })
    evaluate.immediate()
    const now = this.clock()
    // Subscriptions, STOP/MULAI change who is owed what: a directory change flushes too.
    if (now >= this.flushDueAtMs || this.directory.version !== this.flushedDirectoryVersion) this.flush(now)
  }

  /**
   * A device's connection state (the broker's retained `kampung/<village>/<device>/status`):
   * a gateway offline holds back sensor alerts of its village (inhibition).
   */
  onDeviceStatus(device: string, village: string, state: 'online' | 'offline', atMs: number): void {
    // The broker announces every device offline while the service shuts down, after this stopped.
    if (!this.started) return
    if (!this.owns(village)) return
    this.sql(
      `INSERT INTO device_seen (device, village, last_ms, status, status_at_ms) VALUES (?, ?, 0, ?, ?)
         ON CONFLICT(device) DO UPDATE SET status = excluded.status, status_at_ms = excluded.status_at_ms`,
    ).run(device, village, state, atMs)
    if (state === 'online') {
      this.apply({
        rule: 'gateway_offline',
        subject: `device:${device}`,
        category: 'sensor',
        village,
        device,
        severity: this.cfg.rules.sensorHealth.severity,
        active: false,
        clear: true,
        atMs,
        forMs: 0,
      })
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
    const level = this.db.pragma('synchronous', { simple: true }) as number
    if (level <= 1) {
      fn() // already NORMAL or OFF
      return
    }
    this.db.pragma('synchronous = NORMAL')
    try {
      fn()
    } finally {
      this.db.pragma(`synchronous = ${level}`)
    }
  }

  /** The newest reading of a device's quantity (kept quantities survive a restart; others until one). */
  /**
   * Rows (6 values each, in arrival order) into recent_readings, many per statement: at ingest rates
   * one statement per reading was most of the engine's CPU. Rows apply in order, so the last of two
   * readings with the same key wins, as one by one.
   */
  private keepRecent(values: ReadonlyArray<string | number>): void {
    const perRow = 6
    const full = RECENT_ROWS_PER_INSERT * perRow
    let at = 0
    // Only two statement texts (a full chunk and one row), so both stay prepared: a text per
    // row count would be compiled again for nearly every batch.
    if (values.length >= full) {
      const many = this.sql(
        `INSERT OR REPLACE INTO recent_readings (device, sensor, quantity, time_ms, village, value) VALUES ${Array(
          RECENT_ROWS_PER_INSERT,
        )
          .fill('(?, ?, ?, ?, ?, ?)')
          .join(', ')}`,
      )
      for (; at + full <= values.length; at += full) many.run(values.slice(at, at + full))
    }
    if (at === values.length) return
    const one = this.sql(
      'INSERT OR REPLACE INTO recent_readings (device, sensor, quantity, time_ms, village, value) VALUES (?, ?, ?, ?, ?, ?)',
    )
    for (; at < values.length; at += perRow)
      one.run(values[at], values[at + 1], values[at + 2], values[at + 3], values[at + 4], values[at + 5])
  }

  /**
   * The value of the recent_readings row a reading becomes, or undefined when it is skipped (see
   * RECENT_SPACING_MS); a rainfall row carries the rain of the readings skipped before it.
   */
  private keepRow(r: Reading, m: SeriesMemo): number | undefined {
    const s = m.sensors.get(r.sensor)
    // An older reading (a gateway's backlog arriving late) is kept: it fills a gap.
    if (s !== undefined && r.timeMs >= s.keptAtMs && r.timeMs - s.keptAtMs < RECENT_SPACING_MS) {
      if (r.quantity === RAIN && r.value !== 0) {
        s.rainMm += r.value
        this.rainCarryByVillage.set(r.village, (this.rainCarryByVillage.get(r.village) ?? 0) + r.value)
      }
      return undefined
    }
    if (s === undefined) {
      m.sensors.set(r.sensor, { keptAtMs: r.timeMs, rainMm: 0 })
      return r.value
    }
    if (r.timeMs > s.keptAtMs) s.keptAtMs = r.timeMs
    if (s.rainMm === 0) return r.value
    const carried = s.rainMm
    s.rainMm = 0
    const left = (this.rainCarryByVillage.get(r.village) ?? 0) - carried
    if (left > 1e-9) this.rainCarryByVillage.set(r.village, left)
    else this.rainCarryByVillage.delete(r.village)
    return r.value + carried
  }

  private memoOf(device: string, quantity: string): SeriesMemo {
    let byQuantity = this.memo.get(device)
    if (byQuantity === undefined) {
      byQuantity = new Map()
      this.memo.set(device, byQuantity)
    }
    let m = byQuantity.get(quantity)
    if (m === undefined) {
      m = { newest: undefined, sensors: new Map() }
      byQuantity.set(quantity, m)
    }
    return m
  }

  /** The newest air temperature of a village, from memory (SQLite on the first miss). */
  private villageAir(village: string): { value: number; timeMs: number } | undefined {
    let known = this.airNewest.get(village)
    if (known === undefined) {
      known =
        (this.sql(
          `SELECT value, time_ms AS timeMs FROM recent_readings WHERE village = ? AND quantity = '${AIR}'
             ORDER BY time_ms DESC LIMIT 1`,
        ).get(village) as { value: number; timeMs: number } | undefined) ?? null
      this.airNewest.set(village, known)
    }
    return known ?? undefined
  }

  private noteAir(r: Reading): void {
    const known = this.villageAir(r.village)
    if (!known || known.timeMs <= r.timeMs)
      this.airNewest.set(r.village, { value: r.value, timeMs: r.timeMs })
  }

  latest(device: string, quantity: string): { value: number; timeMs: number } | undefined {
    const m = this.memoOf(device, quantity)
    if (m.newest) return m.newest
    const row = this.sql(
      'SELECT value, time_ms AS timeMs FROM recent_readings WHERE device = ? AND quantity = ? ORDER BY time_ms DESC LIMIT 1',
    ).get(device, quantity) as { value: number; timeMs: number } | undefined
    if (row) m.newest = row
    return row
  }

  /** The growth stage of a field on a day (explicit stage wins; before planting counts as initial). */
  stageOf(field: Field, atMs: number): 'initial' | 'development' | 'mid' | 'late' {
    if (field.stage) return field.stage
    const days = Math.max(0, Math.floor((atMs - (field.plantedAtMs ?? atMs)) / DAY_MS))
    const stage = growthStageOnDay(field.crop, days)
    return stage === 'after-season' ? 'late' : stage
  }

  /** The crop's rule with the stage's overrides merged over it. */
  moistureRule(field: Field, kind: 'dry' | 'waterlogged', atMs: number): MoistureThreshold {
    const crop = this.cfg.rules.crops[field.crop]
    return { ...crop[kind], ...crop.stages[this.stageOf(field, atMs)]?.[kind] }
  }

  /** Soil moisture of a field: the mean of its probes' latest readings. */
  fieldMoisture(field: Field): { value: number; timeMs: number } | undefined {
    const latest = field.devices
      .map((d) => this.latest(d, SOIL))
      .filter((x): x is { value: number; timeMs: number } => x !== undefined)
    if (latest.length === 0) return undefined
    return {
      value: latest.reduce((s, x) => s + x.value, 0) / latest.length,
      timeMs: Math.max(...latest.map((x) => x.timeMs)),
    }
  }

  private fieldFindings(field: Field, atMs: number): Finding[] {
    const m = this.fieldMoisture(field)
    if (!m) return []
    const base = { category: 'field' as const, village: field.village, field: field.id, atMs }
    const out: Finding[] = []
    const dry = this.moistureRule(field, 'dry', atMs)
    if (dry.enabled) {
      out.push({
        ...base,
        rule: 'dry',
        subject: `field:${field.id}`,
        severity: dry.severity,
        active: m.value < dry.thresholdPct,
        clear: m.value >= dry.thresholdPct + dry.hysteresisPct,
        value: m.value,
        threshold: dry.thresholdPct,
        forMs: dry.forMs,
      })
    }
    const wet = this.moistureRule(field, 'waterlogged', atMs)
    if (wet.enabled) {
      out.push({
        ...base,
        rule: 'waterlogged',
        subject: `field:${field.id}`,
        severity: wet.severity,
        active: m.value > wet.thresholdPct,
        clear: m.value <= wet.thresholdPct - wet.hysteresisPct,
        value: m.value,
        threshold: wet.thresholdPct,
        forMs: wet.forMs,
      })
    }
    const drop = this.cfg.rules.moistureDrop
    const lastDrop = this.dropCheckedAt.get(field.id)
    const checkDrop = lastDrop === undefined || atMs - lastDrop >= DROP_CHECK_EVERY_MS || atMs < lastDrop
    if (drop.enabled && checkDrop) {
      this.dropCheckedAt.set(field.id, atMs)
      let worst = 0
      for (const d of field.devices) {
        const row = this.sql(
          `SELECT max(value) AS hi FROM recent_readings WHERE device = ? AND quantity = ? AND time_ms >= ? AND time_ms <= ?`,
        ).get(d, SOIL, atMs - drop.windowMs, atMs) as { hi: number | null }
        const now = this.latest(d, SOIL)
        if (row.hi !== null && now) worst = Math.max(worst, row.hi - now.value)
      }
      out.push({
        ...base,
        rule: 'moisture_drop',
        subject: `field:${field.id}`,
        severity: drop.severity,
        active: worst >= drop.dropPct,
        clear: worst < drop.dropPct / 2,
        value: worst,
        threshold: drop.dropPct,
        forMs: 0,
      })
    }
    return out
  }

  /** The village's weather facts the weather rules need, computed once per village and batch. */
  villageWeather(
    village: string,
    atMs: number,
  ): { rainMm: number; airTemperatureC?: number; humidHours: number } {
    const rules = this.cfg.rules
    const { mm } = this.sql(
      `SELECT coalesce(sum(value), 0) AS mm FROM recent_readings
           WHERE village = ? AND quantity = '${RAIN}' AND time_ms > ? AND time_ms <= ?`,
    ).get(village, atMs - rules.heavyRain.windowMs, atMs) as { mm: number }
    // The newest temperature is in memory unless an earlier moment is asked for.
    const newest = this.villageAir(village)
    const temp =
      newest === undefined || newest.timeMs <= atMs
        ? newest
        : (this.sql(
            `SELECT value FROM recent_readings WHERE village = ? AND quantity = '${AIR}' AND time_ms <= ?
               ORDER BY time_ms DESC LIMIT 1`,
          ).get(village, atMs) as { value: number } | undefined)
    return {
      rainMm: mm + (this.rainCarryByVillage.get(village) ?? 0),
      ...(temp ? { airTemperatureC: temp.value } : {}),
      humidHours: rules.diseaseRisk.enabled ? this.humidHours(village, atMs) : 0,
    }
  }

  /** Village weather at one field: heavy rain, heat stress, disease risk. */
  private weatherFindings(
    field: Field,
    atMs: number,
    w = this.villageWeather(field.village, atMs),
  ): Finding[] {
    const rules = this.cfg.rules
    const base = {
      category: 'weather' as const,
      village: field.village,
      field: field.id,
      subject: `field:${field.id}`,
      atMs,
    }
    const out: Finding[] = []
    const rain = rules.heavyRain
    if (rain.enabled) {
      out.push({
        ...base,
        rule: 'heavy_rain',
        severity: rain.severity,
        active: w.rainMm >= rain.mm,
        clear: w.rainMm < rain.mm - rain.hysteresisMm,
        value: w.rainMm,
        threshold: rain.mm,
        forMs: 0,
      })
    }
    const heat = rules.heatStress
    if (heat.enabled && w.airTemperatureC !== undefined) {
      out.push({
        ...base,
        rule: 'heat_stress',
        severity: heat.severity,
        active: w.airTemperatureC > heat.aboveC,
        clear: w.airTemperatureC <= heat.aboveC - heat.hysteresisC,
        value: w.airTemperatureC,
        threshold: heat.aboveC,
        forMs: heat.forMs,
      })
    }
    const disease = rules.diseaseRisk
    if (disease.enabled) {
      out.push({
        ...base,
        rule: 'disease_risk',
        severity: disease.severity,
        active: w.humidHours >= disease.hours,
        clear: w.humidHours < disease.hours - disease.hysteresisHours,
        value: w.humidHours,
        threshold: disease.hours,
        forMs: 0,
      })
    }
    return out
  }

  /**
   * Hours within the window with RH ≥ x and the air temperature in the band. Each humidity reading
   * counts for the time since the previous one from the same sensor (at most an hour: a gap is not
   * evidence of humid weather).
   */
  humidHours(village: string, atMs: number): number {
    const d = this.cfg.rules.diseaseRisk
    const rows = this.sql(
      `SELECT h.device, h.time_ms AS t, h.value AS rh, (
           SELECT value FROM recent_readings a WHERE a.device = h.device AND a.quantity = 'air_temperature'
             AND a.time_ms <= h.time_ms ORDER BY a.time_ms DESC LIMIT 1) AS temp
         FROM recent_readings h
         WHERE h.village = ? AND h.quantity = 'relative_humidity' AND h.time_ms > ? AND h.time_ms <= ?
         ORDER BY h.device, h.time_ms`,
    ).all(village, atMs - d.windowMs, atMs) as Array<{
      device: string
      t: number
      rh: number
      temp: number | null
    }>
    let ms = 0
    let prev: { device: string; t: number } | undefined
    for (const r of rows) {
      if (prev && prev.device === r.device) {
        const wet = r.rh >= d.rhAbovePct && r.temp !== null && r.temp >= d.tempMinC && r.temp <= d.tempMaxC
        if (wet) ms += Math.min(r.t - prev.t, HOUR_MS)
      }
      prev = r
    }
    return ms / HOUR_MS
  }

  private sensorFindings(device: string, village: string, atMs: number, field: Field | undefined): Finding[] {
    const h = this.cfg.rules.sensorHealth
    if (!h.enabled) return []
    const base = {
      category: 'sensor' as const,
      village,
      device,
      field: field?.id,
      severity: h.severity,
      atMs,
    }
    // A reading arrived: the node is not offline.
    const out: Finding[] = [
      { ...base, rule: 'device_offline', subject: `device:${device}`, active: false, clear: true, forMs: 0 },
    ]
    const lastCheck = this.stuckCheckedAt.get(device)
    const checkStuck = lastCheck === undefined || atMs - lastCheck >= STUCK_CHECK_EVERY_MS || atMs < lastCheck
    if (checkStuck) this.stuckCheckedAt.set(device, atMs)
    for (const q of checkStuck ? h.stuckQuantities : []) {
      const window = this.sql(
        `SELECT min(value) AS lo, max(value) AS hi, count(*) AS n FROM recent_readings
           WHERE device = ? AND quantity = ? AND time_ms >= ? AND time_ms <= ?`,
      ).get(device, q, atMs - h.stuckForMs, atMs) as { lo: number | null; hi: number | null; n: number }
      if (window.n === 0 || window.lo === null || window.hi === null) continue
      // Evidence must span the whole period: a reading at or before its start.
      const before = this.sql(
        'SELECT value FROM recent_readings WHERE device = ? AND quantity = ? AND time_ms <= ? ORDER BY time_ms DESC LIMIT 1',
      ).get(device, q, atMs - h.stuckForMs) as { value: number } | undefined
      const flat =
        window.hi - window.lo < 1e-9 && before !== undefined && Math.abs(before.value - window.lo) < 1e-9
      out.push({
        ...base,
        rule: 'stuck',
        subject: `device:${device}:${q}`,
        active: flat,
        clear: !flat,
        value: window.lo,
        forMs: 0,
      })
    }
    for (const [q, range] of Object.entries(h.plausible)) {
      const v = this.latest(device, q)
      if (!v || v.timeMs < atMs) continue
      const outside = v.value < range.min || v.value > range.max
      out.push({
        ...base,
        rule: 'out_of_range',
        subject: `device:${device}:${q}`,
        active: outside,
        clear: !outside,
        value: v.value,
        forMs: h.outOfRangeForMs,
      })
    }
    const battery = this.latest(device, 'battery_voltage')
    if (battery && battery.timeMs >= atMs) {
      out.push({
        ...base,
        rule: 'battery_low',
        subject: `device:${device}`,
        active: battery.value < h.batteryLowV,
        // 0.1 V of hysteresis: a cell recovers a little when the load stops.
        clear: battery.value >= h.batteryLowV + 0.1,
        value: battery.value,
        threshold: h.batteryLowV,
        forMs: h.batteryForMs,
      })
    }
    return out
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
    this.db
      .transaction(() => {
        for (const f of findings) this.applyOne(f)
      })
      .immediate()
  }

  private applyOne(f: Finding): void {
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
      } else {
        this.sql('UPDATE alerts SET value = ?, severity = ?, updated_at_ms = ? WHERE id = ?').run(
          f.value ?? row.value,
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
          this.flushDueAtMs = Number.NEGATIVE_INFINITY
        }
      }
      return
    }
    if (!row) return
    if (row.state === 'pending') {
      // Prometheus semantics: a pending alert whose condition lapses is dropped, not resolved.
      this.sql(`DELETE FROM alerts WHERE id = ? AND state = 'pending'`).run(row.id)
      return
    }
    if (f.clear && f.atMs >= (row.fired_at_ms ?? 0)) {
      const changed = this.sql(
        `UPDATE alerts SET state = 'resolved', resolved_at_ms = ?, value = ?, updated_at_ms = ? WHERE id = ? AND state = 'firing'`,
      ).run(f.atMs, f.value ?? row.value, f.atMs, row.id).changes
      if (changed) {
        this.recordEvent(row.id, 'resolved', f.atMs)
        this.flushDueAtMs = Number.NEGATIVE_INFINITY
      }
    }
  }

  /** Timers: offline nodes and gateways, day close (irrigation advice), group flushes, escalation. */
  tick(nowMs: number = this.clock()): void {
    const h = this.cfg.rules.sensorHealth
    const findings: Finding[] = []
    if (h.enabled) {
      const fieldsByDevice = this.fieldsByDevice()
      const rows = this.sql('SELECT * FROM device_seen').all() as Array<{
        device: string
        village: string
        last_ms: number
        status: string | null
        status_at_ms: number | null
      }>
      for (const r of rows) {
        if (!this.owns(r.village)) continue
        if (r.last_ms > 0 && nowMs - r.last_ms >= h.offlineAfterMs) {
          findings.push({
            rule: 'device_offline',
            subject: `device:${r.device}`,
            category: 'sensor',
            village: r.village,
            device: r.device,
            field: fieldsByDevice.get(r.device)?.[0]?.id,
            severity: h.severity,
            active: true,
            clear: false,
            value: r.last_ms,
            atMs: nowMs,
            forMs: 0,
          })
        }
        if (
          r.status === 'offline' &&
          r.status_at_ms !== null &&
          nowMs - r.status_at_ms >= h.gatewayOfflineAfterMs
        ) {
          findings.push({
            rule: 'gateway_offline',
            subject: `device:${r.device}`,
            category: 'sensor',
            village: r.village,
            device: r.device,
            severity: h.severity,
            active: true,
            clear: false,
            value: r.status_at_ms,
            atMs: nowMs,
            forMs: 0,
          })
        }
      }
    }
    // Window rules (rain sums, humid hours) lapse with time alone: re-evaluate firing ones now.
    const weatherFiring = this.sql(
      `SELECT DISTINCT field FROM alerts WHERE category = 'weather' AND state IN ('pending', 'firing')`,
    ).all() as Array<{ field: string | null }>
    for (const { field: id } of weatherFiring) {
      const field = id ? this.directory.getField(id) : undefined
      if (field && this.owns(field.village)) findings.push(...this.weatherFindings(field, nowMs))
    }
    this.applyAll(findings)
    if (this.cfg.irrigation.enabled) {
      for (const advice of this.advisor.closeDays(nowMs, this.owns)) {
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
    }
    // SMS the outbox refused earlier (its disk full, a restart) are handed again.
    this.handOver()
    this.flush(nowMs)
    this.escalate(nowMs)
    this.prune(nowMs)
  }

  /** Old readings go, at most once per PRUNE_EVERY_MS (the delete scans the time index). */
  private prune(nowMs: number): void {
    if (nowMs - this.prunedAtMs < PRUNE_EVERY_MS && nowMs >= this.prunedAtMs) return
    this.prunedAtMs = nowMs
    const r = this.cfg.rules
    const keepMs = Math.max(
      r.heavyRain.windowMs,
      r.diseaseRisk.windowMs,
      r.sensorHealth.stuckForMs + HOUR_MS,
      r.moistureDrop.windowMs,
      DAY_MS,
    )
    this.sql('DELETE FROM recent_readings WHERE time_ms < ?').run(nowMs - keepMs)
  }

  /** Quantities a rule looks back on; other readings (stem diameter, pressure…) are not kept. */
  private ruleQuantities(): Set<string> {
    if (!this.kept) {
      const h = this.cfg.rules.sensorHealth
      this.kept = new Set([
        SOIL,
        'battery_voltage',
        ...WEATHER_QUANTITIES,
        ...h.stuckQuantities,
        ...Object.keys(h.plausible),
      ])
    }
    return this.kept
  }

  // ---------------------------------------------------------------- notification

  private silences(nowMs: number): Silence[] {
    return (
      this.sql('SELECT * FROM silences WHERE starts_at_ms <= ? AND ends_at_ms > ?').all(
        nowMs,
        nowMs,
      ) as Array<{
        id: number
        matchers: string
        starts_at_ms: number
        ends_at_ms: number
        created_by: string
        comment: string
      }>
    ).map((r) => ({
      id: r.id,
      matchers: JSON.parse(r.matchers) as SilenceMatchers,
      startsAtMs: r.starts_at_ms,
      endsAtMs: r.ends_at_ms,
      createdBy: r.created_by,
      comment: r.comment,
    }))
  }

  private silenced(a: AlertRow, silences: Silence[]): boolean {
    return silences.some((s) =>
      (Object.entries(s.matchers) as Array<[keyof SilenceMatchers, string]>).every(
        ([k, v]) => (a as unknown as Record<string, unknown>)[k] === v,
      ),
    )
  }

  /**
   * Inhibition (Alertmanager): while a village's gateway is offline every sensor alert of that
   * village is held; while a node is offline its other sensor alerts are held. Held alerts are
   * sent if they are still firing once the inhibiting alert resolves.
   */
  private inhibited(a: AlertRow, firing: AlertRow[]): boolean {
    if (a.category !== 'sensor' || a.rule === 'gateway_offline') return false
    return firing.some(
      (b) =>
        (b.rule === 'gateway_offline' && b.village === a.village) ||
        (a.rule !== 'device_offline' && b.rule === 'device_offline' && b.device === a.device),
    )
  }

  private recipientsOf(a: AlertRow): Recipient[] {
    if (a.field) {
      return this.directory
        .subscribersOf(a.field)
        .filter((f) => !f.stopped)
        .map((f) => ({
          key: `farmer:${f.id}`,
          phone: f.phone,
          language: f.language,
          quietStart: f.quietStart,
          quietEnd: f.quietEnd,
        }))
    }
    // No field (a weather station, a gateway): the village officers look after the equipment.
    return this.directory.officersOf(a.village).map((o) => ({
      key: `officer:${o.id}`,
      phone: o.phone,
      language: o.language,
      quietStart: this.cfg.quietHours.start,
      quietEnd: this.cfg.quietHours.end,
    }))
  }

  /**
   * Group flush (Alertmanager group_wait / group_interval / repeat_interval), per recipient: new
   * firing alerts, reminders of unacknowledged ones after the repeat interval, and all-clears,
   * in one SMS. Critical findings skip group_interval and quiet hours.
   *
   * One IMMEDIATE transaction from reading who is owed what to recording what was sent: two
   * processes flushing on one registry (workers wrongly owning the same village) take turns, and
   * the second sees the first's deliveries, so it cannot group the same alert into a second,
   * differently keyed SMS. Hand-over to the outbox follows the commit.
   */
  flush(nowMs: number): void {
    this.db.transaction(() => this.flushLocked(nowMs)).immediate()
    this.handOver()
  }

  private flushLocked(nowMs: number): void {
    const all = this.sql(
      `SELECT * FROM alerts WHERE state = 'firing'
           OR (state = 'resolved' AND id IN (SELECT alert FROM alert_deliveries WHERE resolved_sent = 0))`,
    )
      .all()
      .filter((a) => this.owns((a as AlertRow).village)) as AlertRow[]
    // The earliest time anything not sent now could become due (a tick flushes regardless).
    let next = Number.POSITIVE_INFINITY
    const firing = all.filter((a) => a.state === 'firing')
    const silences = this.silences(nowMs)
    const delivery = this.sql('SELECT * FROM alert_deliveries WHERE alert = ? AND recipient = ?')
    type Due = { alert: AlertRow; kind: MessageItem['kind']; dueMs: number; critical: boolean }
    const byRecipient = new Map<string, { recipient: Recipient; due: Due[] }>()
    for (const a of all) {
      if (a.state === 'firing' && this.silenced(a, silences)) {
        next = Math.min(next, ...silences.map((x) => x.endsAtMs))
        continue
      }
      if (a.state === 'firing' && this.inhibited(a, firing)) continue
      for (const r of this.recipientsOf(a)) {
        const d = delivery.get(a.id, r.key) as
          | { notified_at_ms: number; count: number; resolved_sent: number }
          | undefined
        let item: Due | undefined
        const critical = a.severity === 'critical'
        if (a.state === 'resolved') {
          if (d && d.resolved_sent === 0)
            item = { alert: a, kind: 'resolved', dueMs: a.resolved_at_ms!, critical }
        } else if (!d) {
          item = { alert: a, kind: 'firing', dueMs: a.fired_at_ms!, critical }
        } else if (a.acked_at_ms === null) {
          const repeatAt = d.notified_at_ms + this.cfg.repeatIntervalMs
          if (nowMs >= repeatAt) item = { alert: a, kind: 'repeat', dueMs: repeatAt, critical }
          else next = Math.min(next, repeatAt)
        }
        if (!item) continue
        const entry = byRecipient.get(r.key) ?? { recipient: r, due: [] }
        entry.due.push(item)
        byRecipient.set(r.key, entry)
      }
    }
    for (const { recipient, due } of byRecipient.values()) {
      const state = this.sql('SELECT * FROM alert_recipients WHERE recipient = ?').get(recipient.key) as
        | { seq: number; last_sent_ms: number | null }
        | undefined
      const lastSent = state?.last_sent_ms ?? Number.NEGATIVE_INFINITY
      const earliest = Math.min(...due.map((d) => d.dueMs))
      const critical = due.filter((d) => d.critical)
      const flushAt = Math.max(earliest + this.cfg.groupWaitMs, lastSent + this.cfg.groupIntervalMs)
      const criticalAt =
        critical.length > 0
          ? Math.min(...critical.map((d) => d.dueMs)) + this.cfg.groupWaitMs
          : Number.POSITIVE_INFINITY
      if (nowMs < flushAt && nowMs < criticalAt) {
        next = Math.min(next, flushAt, criticalAt)
        continue
      }
      const ready = nowMs >= flushAt ? due : critical
      if (ready.length < due.length)
        next = Math.min(next, Math.max(flushAt, nowMs + this.cfg.groupIntervalMs))
      if (ready.some((d) => d.kind !== 'resolved')) next = Math.min(next, nowMs + this.cfg.repeatIntervalMs)
      this.send(recipient, ready, nowMs, state?.seq ?? 0)
    }
    this.flushDueAtMs = next
    this.flushedDirectoryVersion = this.directory.version
  }

  private send(
    r: Recipient,
    due: Array<{ alert: AlertRow; kind: MessageItem['kind']; critical: boolean }>,
    nowMs: number,
    seq: number,
  ): void {
    const quiet = r.quietStart !== undefined && inQuietHours(nowMs, r.quietStart, r.quietEnd!)
    // In quiet hours non-critical findings wait for the morning in the outbox; critical go now.
    const parts = quiet
      ? [due.filter((d) => d.critical), due.filter((d) => !d.critical)].filter((p) => p.length > 0)
      : [due]
    const insert = this.sql(
      `INSERT OR IGNORE INTO alert_messages (key, recipient, phone, text, critical, not_before_ms, alerts, created_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.db.transaction(() => {
      let n = seq
      for (const part of parts) {
        n += 1
        const critical = part.some((d) => d.critical)
        const ids = part.map((d) => d.alert.id)
        const text = renderGroup(
          part.map((d) => ({ alert: this.view(d.alert), kind: d.kind })),
          r.language,
        )
        const notBefore = quiet && !critical ? quietHoursEnd(nowMs, r.quietEnd!) : null
        // Key = alert ids + the recipient's notification sequence: a restart recomputes the same key.
        insert.run(
          `alert:${ids.join('.')}:${r.key}:${n}`,
          r.key,
          r.phone,
          text,
          critical ? 1 : 0,
          notBefore,
          JSON.stringify(ids),
          nowMs,
        )
        for (const d of part) {
          if (d.kind === 'resolved') {
            this.sql('UPDATE alert_deliveries SET resolved_sent = 1 WHERE alert = ? AND recipient = ?').run(
              d.alert.id,
              r.key,
            )
          } else {
            this.sql(
              `INSERT INTO alert_deliveries (alert, recipient, notified_at_ms, count) VALUES (?, ?, ?, 1)
                 ON CONFLICT(alert, recipient) DO UPDATE SET notified_at_ms = excluded.notified_at_ms, count = count + 1`,
            ).run(d.alert.id, r.key, nowMs)
          }
        }
      }
      this.sql(
        `INSERT INTO alert_recipients (recipient, seq, last_sent_ms) VALUES (?, ?, ?)
           ON CONFLICT(recipient) DO UPDATE SET seq = excluded.seq, last_sent_ms = excluded.last_sent_ms`,
      ).run(r.key, n, nowMs)
    })()
  }

  /** Escalation: a critical alert firing unacknowledged for escalateAfterMs goes to the village officers. */
  private escalate(nowMs: number): void {
    const rows = this.sql(
      `SELECT * FROM alerts WHERE state = 'firing' AND severity = 'critical' AND acked_at_ms IS NULL
           AND escalated_at_ms IS NULL AND fired_at_ms <= ?`,
    )
      .all(nowMs - this.cfg.escalateAfterMs)
      .filter((a) => this.owns((a as AlertRow).village)) as AlertRow[]
    if (rows.length === 0) return
    const silences = this.silences(nowMs)
    const insert = this.sql(
      `INSERT OR IGNORE INTO alert_messages (key, recipient, phone, text, critical, not_before_ms, alerts, created_at_ms)
       VALUES (?, ?, ?, ?, 1, NULL, ?, ?)`,
    )
    for (const a of rows) {
      if (this.silenced(a, silences)) continue
      const minutes = Math.round((nowMs - a.fired_at_ms!) / 60_000)
      this.db.transaction(() => {
        for (const o of this.directory.officersOf(a.village)) {
          insert.run(
            `escalation:${a.id}:officer:${o.id}`,
            `officer:${o.id}`,
            o.phone,
            escalationText(this.view(a), minutes, o.language),
            JSON.stringify([a.id]),
            nowMs,
          )
        }
        this.sql('UPDATE alerts SET escalated_at_ms = ? WHERE id = ?').run(nowMs, a.id)
      })()
      this.recordEvent(a.id, 'escalated', nowMs)
    }
    this.handOver()
  }

  /** Hands every SMS not yet handed to the outbox; the key makes a repeat harmless. */
  private handOver(): void {
    // A message belongs to the village of its (first) alert: with a shared registry, only its owner hands it over.
    const rows = (
      this.sql(
        `SELECT m.*, a.village FROM alert_messages m LEFT JOIN alerts a ON a.id = json_extract(m.alerts, '$[0]')
         WHERE m.enqueued_at_ms IS NULL ORDER BY m.id`,
      ).all() as Array<{
        id: number
        key: string
        phone: string
        text: string
        critical: number
        not_before_ms: number | null
        village: string | null
      }>
    ).filter((m) => m.village === null || this.owns(m.village))
    const mark = this.sql('UPDATE alert_messages SET enqueued_at_ms = ? WHERE id = ?')
    for (const m of rows) {
      try {
        this.opts.outbox.enqueue({
          key: m.key,
          to: m.phone,
          text: m.text,
          critical: m.critical === 1,
          ...(m.not_before_ms !== null ? { notBeforeMs: m.not_before_ms } : {}),
        })
        mark.run(this.clock(), m.id)
        if (this.outboxDown) this.log.info('outbox takes alert SMS again')
        this.outboxDown = false
      } catch (err) {
        // The outbox refused (its disk?): the message stays here and is handed again next tick.
        if (!this.outboxDown)
          this.log.error({ err, key: m.key }, 'outbox did not take an alert SMS; will retry')
        this.outboxDown = true
        return
      }
    }
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
    }
    if (row.device) v.device = row.device
    if (row.value !== null && row.value !== undefined) v.value = row.value
    if (row.threshold !== null && row.threshold !== undefined) v.threshold = row.threshold
    if (a.rule === 'device_offline' || a.rule === 'gateway_offline') {
      if (v.value !== undefined) v.sinceLocal = localClock(v.value)
    }
    if (a.rule === 'dry' && field) {
      const advice = this.advisor.latestAdvice(field.id)
      // Yesterday's balance (or the day before, early in the morning); older advice is not advice.
      if (advice && advice.dayStartMs >= this.clock() - 3 * DAY_MS) {
        v.needMm = advice.netNeedMm
        v.litres = advice.litres
      }
    }
    return v
  }

  // ---------------------------------------------------------------- operations

  getAlert(id: number): Alert | undefined {
    const r = this.sql('SELECT * FROM alerts WHERE id = ?').get(id) as AlertRow | undefined
    return r && toAlert(r)
  }

  listAlerts(filter: { state?: AlertState; village?: string; field?: string; limit?: number } = {}): Alert[] {
    const where: string[] = []
    const args: unknown[] = []
    for (const k of ['state', 'village', 'field'] as const) {
      if (filter[k] !== undefined) {
        where.push(`${k} = ?`)
        args.push(filter[k])
      }
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
    this.flushDueAtMs = Number.NEGATIVE_INFINITY
    return { id, ...s }
  }

  listSilences(nowMs: number = this.clock()): Silence[] {
    return this.silences(nowMs)
  }

  /** MO SMS from farmers: OK <id>, CEK <field>, STOP, BANTUAN. Replies go through the outbox. */
  onInbound(mo: InboundSms): void {
    try {
      const reply = handleCommand(this, mo)
      if (!reply) return
      const key = `reply:${mo.from}:${mo.receivedAtMs}:${hash(mo.text)}`
      this.opts.outbox.enqueue({ key, to: reply.to, text: reply.text })
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
        await sink.write(batch)
        const mark = this.sql('UPDATE alert_events SET exported_at_ms = ? WHERE id = ?')
        const now = this.clock()
        this.db.transaction(() => {
          for (const e of batch) mark.run(now, e.id)
        })()
        written += batch.length
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

function hash(text: string): string {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619)
  return (h >>> 0).toString(36)
}
