import type Database from 'better-sqlite3'
import { statement } from '../registry/index.ts'

/**
 * The history the rules look back on (RuleContext.window, valueAtOrBefore, the village's rain and
 * air temperature), kept in memory per series (device, quantity, sensor) as sorted typed arrays,
 * and journalled to SQLite (`alert_history`): each batch of readings adds ONE row holding every
 * sample it kept (a JSON list of its series and a Float64 blob of (series, time, value) triples),
 * committed before the batch is evaluated, as the per-reading `recent_readings` rows were. A
 * restart replays the journal in order, so it remembers exactly what it had committed. (One
 * SQLite row with three index entries per kept reading had been most of the service's CPU when
 * nodes report minutes apart.)
 */
export interface Series {
  readonly device: string
  readonly quantity: string
  readonly sensor: string
  village: string
  /**
   * Time and value of each sample, interleaved (`[t0, v0, t1, v1, …]`), in one plain array of
   * doubles: not typed arrays (a Float64Array of 16 has its own backing store outside the heap, and
   * creating two per series was a good part of the first minutes' garbage collection with a
   * district's 50 000 series), and not two arrays (each is a header and room for 17 doubles from
   * its first sample on: ~30 % of what a district's first reports left on the heap).
   */
  samples: number[]
  /** Live samples are [start, end) (sample i at 2i, 2i + 1), sorted by time, one per time; end is the array's length / 2. */
  start: number
  end: number
  /** Journal bookkeeping: the batch it was last listed in, and its index there. */
  stamp: number
  slot: number
  /** Its entry in a journal row's list, `[device, sensor, quantity, village]` as JSON. */
  listed: string
}

/** Pruned samples at the start of a series are dropped once they are this many and the majority. */
const COMPACT_AT = 32

/** Rows of the old per-reading table are converted into one journal row, once. */
const LEGACY = 'recent_readings'

export class ReadingHistory {
  /**
   * Per device its series (each quantity and sensor), a short array searched by quantity and
   * sensor, not Maps of Maps: a node has 4–6, and with a district's 50 000 series what a fresh
   * process allocates on first sight is mostly copied by the young generation's collector before
   * it settles (two Maps per node and one per series were ~40 % of it).
   */
  private readonly byDevice = new Map<string, Series[]>()
  private readonly byVillage = new Map<string, Map<string, Series[]>>()
  /** Samples kept since the last journal row. */
  private pendSeries: Series[] = []
  private pendTimes: number[] = []
  private pendValues: number[] = []
  private stamp = 0

  /** The series of one device's quantity and sensor; created empty when new. */
  series(device: string, quantity: string, sensor: string, village: string): Series {
    const all = this.byDevice.get(device)
    let s = all === undefined ? undefined : find(all, quantity, sensor)
    if (s === undefined) {
      s = {
        device,
        quantity,
        sensor,
        village,
        samples: [],
        start: 0,
        end: 0,
        stamp: -1,
        slot: 0,
        listed: JSON.stringify([device, sensor, quantity, village]),
      }
      if (all === undefined) this.byDevice.set(device, [s])
      else all.push(s)
      this.indexVillage(s)
    } else if (s.village !== village) {
      // A device moved to another village: its history counts for the new one.
      this.unindexVillage(s)
      s.village = village
      s.listed = JSON.stringify([device, sensor, quantity, village])
      this.indexVillage(s)
    }
    return s
  }

  /** Keeps a sample (a later one with the same time replaces it) and queues it for the journal. */
  add(s: Series, timeMs: number, value: number): void {
    insert(s, timeMs, value)
    this.pendSeries.push(s)
    this.pendTimes.push(timeMs)
    this.pendValues.push(value)
  }

  get pending(): number {
    return this.pendSeries.length
  }

  /**
   * The samples kept since the last call, as one `alert_history` row (call inside the batch's
   * transaction). Nothing kept: nothing written.
   */
  persist(db: Database.Database): void {
    if (this.pendSeries.length === 0) return
    this.writeRow(db, this.pendSeries, this.pendTimes, this.pendValues)
    this.pendSeries = []
    this.pendTimes = []
    this.pendValues = []
  }

  private writeRow(db: Database.Database, series: Series[], times: number[], values: number[]): void {
    const n = series.length
    const stamp = ++this.stamp
    const listed: string[] = []
    const samples = new Float64Array(3 * n)
    let maxMs = Number.NEGATIVE_INFINITY
    for (let i = 0; i < n; i++) {
      const s = series[i]!
      if (s.stamp !== stamp) {
        s.stamp = stamp
        s.slot = listed.length
        listed.push(s.listed)
      }
      const t = times[i]!
      samples[3 * i] = s.slot
      samples[3 * i + 1] = t
      samples[3 * i + 2] = values[i]!
      if (t > maxMs) maxMs = t
    }
    statement(db, 'INSERT INTO alert_history (max_ms, series, samples) VALUES (?, ?, ?)').run(
      maxMs,
      `[${listed.join(',')}]`,
      Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength),
    )
  }

  /**
   * Fills memory from the journal (in the order it was written), after converting rows of the
   * old per-reading table once. Only villages `owns` accepts are kept (a partitioned state worker).
   */
  load(db: Database.Database, owns: (village: string) => boolean): void {
    db.transaction(() => {
      const legacy = statement(
        db,
        `SELECT device, sensor, quantity, village, time_ms AS t, value FROM ${LEGACY} ORDER BY time_ms`,
      ).all() as Array<{
        device: string
        sensor: string
        quantity: string
        village: string
        t: number
        value: number
      }>
      if (legacy.length === 0) return
      for (const r of legacy) this.add(this.series(r.device, r.quantity, r.sensor, r.village), r.t, r.value)
      this.persist(db)
      statement(db, `DELETE FROM ${LEGACY}`).run()
      // What was read above is replayed below with the rest: start from nothing.
      this.byDevice.clear()
      this.byVillage.clear()
    }).immediate()
    const rows = statement(
      db,
      'SELECT series, samples FROM alert_history ORDER BY id',
    ).iterate() as Iterable<{
      series: string
      samples: Buffer
    }>
    for (const row of rows) {
      const listed = (JSON.parse(row.series) as string[][]).map(([device, sensor, quantity, village]) =>
        owns(village!) ? this.series(device!, quantity!, sensor!, village!) : undefined,
      )
      const b = row.samples
      for (let at = 0; at + 24 <= b.length; at += 24) {
        const s = listed[b.readDoubleLE(at)]
        if (s !== undefined) insert(s, b.readDoubleLE(at + 8), b.readDoubleLE(at + 16))
      }
    }
  }

  /**
   * Forgets samples older than their quantity's cutoff (`cutoffMs(quantity)`), except each
   * series' newest (what `latest` answers after a restart). Then the journal: with `compact`, one
   * row of everything still kept replaces all earlier rows (only for an engine that owns every
   * village on this file: the rows of another worker's villages would go too); else rows wholly
   * older than `journalCutoffMs` are deleted.
   */
  prune(
    db: Database.Database,
    cutoffMs: (quantity: string) => number,
    o: { journalCutoffMs: number; compact: boolean },
  ): void {
    const series: Series[] = []
    const times: number[] = []
    const values: number[] = []
    for (const all of this.byDevice.values()) {
      for (const s of all) {
        if (s.end === s.start) continue
        s.start = Math.min(lowerBound(s, cutoffMs(s.quantity)), s.end - 1)
        if (!o.compact) continue
        for (let i = s.start; i < s.end; i++) {
          series.push(s)
          times.push(s.samples[2 * i]!)
          values.push(s.samples[2 * i + 1]!)
        }
      }
    }
    if (!o.compact) {
      statement(db, 'DELETE FROM alert_history WHERE max_ms < ?').run(o.journalCutoffMs)
      return
    }
    db.transaction(() => {
      const { last } = statement(db, 'SELECT max(id) AS last FROM alert_history').get() as {
        last: number | null
      }
      if (last === null) return
      // Samples not yet journalled stay queued for the batch's own row.
      if (series.length > 0) this.writeRow(db, series, times, values)
      statement(db, 'DELETE FROM alert_history WHERE id <= ?').run(last)
    }).immediate()
  }

  /** min/max/count of a device's quantity (all sensors) over [fromMs, toMs]. */
  window(
    device: string,
    quantity: string,
    fromMs: number,
    toMs: number,
  ): { lo: number | null; hi: number | null; n: number } {
    let lo = Number.POSITIVE_INFINITY
    let hi = Number.NEGATIVE_INFINITY
    let n = 0
    for (const s of this.byDevice.get(device) ?? []) {
      if (s.quantity !== quantity) continue
      for (let i = lowerBound(s, fromMs); i < s.end && s.samples[2 * i]! <= toMs; i++) {
        const v = s.samples[2 * i + 1]!
        if (v < lo) lo = v
        if (v > hi) hi = v
        n++
      }
    }
    return n === 0 ? { lo: null, hi: null, n } : { lo, hi, n }
  }

  /** The newest sample of a device's quantity (all sensors) at or before atMs. */
  atOrBefore(device: string, quantity: string, atMs: number): { value: number; timeMs: number } | undefined {
    let best: { value: number; timeMs: number } | undefined
    for (const s of this.byDevice.get(device) ?? []) if (s.quantity === quantity) best = newer(s, atMs, best)
    return best
  }

  /** Sum of a quantity over a village's series in (fromMs, toMs]. */
  villageSum(village: string, quantity: string, fromMs: number, toMs: number): number {
    let sum = 0
    for (const s of this.byVillage.get(village)?.get(quantity) ?? []) {
      for (let i = upperBound(s, fromMs); i < s.end && s.samples[2 * i]! <= toMs; i++)
        sum += s.samples[2 * i + 1]!
    }
    return sum
  }

  /** The newest sample of a quantity in a village at or before atMs. */
  villageAtOrBefore(
    village: string,
    quantity: string,
    atMs: number,
  ): { value: number; timeMs: number } | undefined {
    let best: { value: number; timeMs: number } | undefined
    for (const s of this.byVillage.get(village)?.get(quantity) ?? []) best = newer(s, atMs, best)
    return best
  }

  /** The times of a device's samples of one quantity (all sensors), oldest first (tests, status). */
  times(device: string, quantity: string): number[] {
    const out: number[] = []
    for (const s of this.byDevice.get(device) ?? [])
      if (s.quantity === quantity) for (let i = s.start; i < s.end; i++) out.push(s.samples[2 * i]!)
    return out.sort((a, b) => a - b)
  }

  /** Samples kept in memory (tests, status). */
  count(device?: string, quantity?: string): number {
    let n = 0
    for (const [d, all] of this.byDevice) {
      if (device !== undefined && d !== device) continue
      for (const s of all) if (quantity === undefined || s.quantity === quantity) n += s.end - s.start
    }
    return n
  }

  private indexVillage(s: Series): void {
    let byQuantity = this.byVillage.get(s.village)
    if (byQuantity === undefined) {
      byQuantity = new Map()
      this.byVillage.set(s.village, byQuantity)
    }
    const list = byQuantity.get(s.quantity)
    if (list === undefined) byQuantity.set(s.quantity, [s])
    else list.push(s)
  }

  private unindexVillage(s: Series): void {
    const list = this.byVillage.get(s.village)?.get(s.quantity)
    const at = list?.indexOf(s) ?? -1
    if (at >= 0) list!.splice(at, 1)
  }
}

function find(all: Series[], quantity: string, sensor: string): Series | undefined {
  for (let i = 0; i < all.length; i++) {
    const s = all[i]!
    if (s.quantity === quantity && s.sensor === sensor) return s
  }
  return undefined
}

/** First index in [start, end) with time ≥ t. */
function lowerBound(s: Series, t: number): number {
  let lo = s.start
  let hi = s.end
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (s.samples[2 * mid]! < t) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** First index in [start, end) with time > t. */
function upperBound(s: Series, t: number): number {
  let lo = s.start
  let hi = s.end
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (s.samples[2 * mid]! <= t) lo = mid + 1
    else hi = mid
  }
  return lo
}

function newer(
  s: Series,
  atMs: number,
  best: { value: number; timeMs: number } | undefined,
): { value: number; timeMs: number } | undefined {
  const i = upperBound(s, atMs) - 1
  if (i < s.start) return best
  const t = s.samples[2 * i]!
  return best === undefined || t > best.timeMs ? { value: s.samples[2 * i + 1]!, timeMs: t } : best
}

/** Sorted insert; the newest reading of a time replaces an earlier one (INSERT OR REPLACE). */
function insert(s: Series, t: number, v: number): void {
  if (s.end > s.start) {
    const last = s.samples[2 * (s.end - 1)]!
    if (t === last) {
      s.samples[2 * (s.end - 1) + 1] = v
      return
    }
    if (t < last) {
      const i = lowerBound(s, t)
      if (s.samples[2 * i] === t) {
        s.samples[2 * i + 1] = v
        return
      }
      s.samples.splice(2 * i, 0, t, v)
      s.end++
      return
    }
  }
  compact(s)
  s.samples.push(t, v)
  s.end++
}

/** Drops pruned samples from the start once they are many and most of the arrays. */
function compact(s: Series): void {
  const live = s.end - s.start
  if (s.start < COMPACT_AT || s.start < live) return
  s.samples.copyWithin(0, 2 * s.start, 2 * s.end)
  s.samples.length = 2 * live
  s.start = 0
  s.end = live
}
