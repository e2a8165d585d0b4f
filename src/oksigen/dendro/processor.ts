import { DAY_MS, type DendroOptions, HOUR_MS, resolveDendroOptions } from './options.ts'
import { mad, median } from './stats.ts'

/**
 * Incremental dendrometer processing for one tree, in the spirit of treenetproc (Knüsel et al. 2021):
 * readings → regular grid (short gaps filled) → outliers dropped and jumps corrected from step
 * differences in MAD units → zero-growth split (Zweifel et al. 2016) into GRO and TWD → per-day
 * summaries (local Asia/Jakarta days) with a fitted 24 h cycle for the liveness check.
 *
 * State is bounded: a 3-day ring of step differences for the MAD, a few grid values of lookahead,
 * running sums for the current day and `historyDays` day summaries. A push costs the same after a
 * day as after a year. Output lags the newest reading by the open grid slot plus the lookahead
 * (≤ 40 min at the defaults).
 */

export interface DendroJump {
  /** Grid time of the first value at the new level. */
  timeMs: number
  /** Offset subtracted from this and all later values, µm. */
  offsetUm: number
}

export interface DendroDay {
  /** UTC ms of local midnight starting the day. */
  dayStartMs: number
  /** Corrected series (jumps removed), µm. */
  minUm: number
  maxUm: number
  amplitudeUm: number
  minAtMs: number
  maxAtMs: number
  /** GRO and TWD at the day's last value, µm. */
  groUm: number
  twdUm: number
  /** GRO gained during the day, and the part of it gained at night (18:00–06:00 local), µm. */
  groIncreaseUm: number
  nightGroIncreaseUm: number
  /** Share of the day's grid slots with a value. */
  coverage: number
  /**
   * 24 h harmonic fitted to the day with a linear trend (x = a + b·t + c·cos θ + s·sin θ,
   * θ = 2π·local hour/24), µm; null when the day has too few values.
   */
  cycleCosUm: number | null
  cycleSinUm: number | null
  /** Share of the detrended variance the harmonic explains. */
  cycleR2: number | null
}

export interface DendroLocation {
  firstLatDeg: number
  firstLonDeg: number
  firstTimeMs: number
  lastLatDeg: number
  lastLonDeg: number
  lastTimeMs: number
  /** Distance of the last fix from the first, m. */
  lastMoveM: number
  /** Largest distance of any fix from the first, m. */
  farthestMoveM: number
  /** Time of the first fix beyond `maxMoveM`, null when none. */
  movedSinceMs: number | null
}

export interface DendroState {
  /** Newest raw reading accepted (before the grid). */
  lastTimeMs: number | null
  lastDiameterUm: number | null
  /** Time of the newest processed grid value and its corrected diameter (jumps removed), µm. */
  correctedTimeMs: number | null
  correctedDiameterUm: number | null
  /** Irreversible growth since the first value (running max − first), µm of diameter. */
  groUm: number
  /** Tree water deficit (running max − current), µm. */
  twdUm: number
  /** Running maximum of the corrected series, µm. */
  maxUm: number | null
  /** Mean daily amplitude (max − min) over the last 7 complete days, µm. */
  dailyAmplitudeUm: number | null
  /** GRO gained per day over the last 7 and 30 days (fewer when fewer are known), µm/day. */
  growthUmPerDay7d: number | null
  growthUmPerDay30d: number | null
  /** GRO gained over the last 30 days (null until 30 days are known), µm per 30 days. */
  growthUmPerMonth: number | null
  /** Share of the last 30 days' GRO gained at night (null when there was next to no growth). */
  nightGrowthShare: number | null
  jumps: DendroJump[]
  jumpsTotal: number
  outliersDropped: number
  /** Readings older than the newest one, ignored. */
  outOfOrderIgnored: number
  readingsAccepted: number
  gaps: { count: number; totalMs: number }
  /** Current MAD of step differences, µm, and the sensor noise σ it implies (1.4826·MAD/√2). */
  madUm: number
  noiseUm: number
  /** Complete days seen (≥ `completeDayCoverage` of the grid). */
  days: number
  /** Per-day summaries, oldest first, at most `historyDays`. */
  history: DendroDay[]
  location: DendroLocation | null
}

/** JSON-able copy of everything the processor holds. */
export interface DendroSnapshot {
  version: 1
  options: DendroOptions
  fields: Record<string, unknown>
}

const SUMS = 15 // 10 products of the regressors (1, τ, cos θ, sin θ), 4 products with x, Σx²
const trigCache = new Map<number, { cos: Float64Array; sin: Float64Array }>()

function trigTable(slotsPerDay: number): { cos: Float64Array; sin: Float64Array } {
  let t = trigCache.get(slotsPerDay)
  if (!t) {
    t = { cos: new Float64Array(slotsPerDay), sin: new Float64Array(slotsPerDay) }
    for (let i = 0; i < slotsPerDay; i++) {
      t.cos[i] = Math.cos((2 * Math.PI * i) / slotsPerDay)
      t.sin[i] = Math.sin((2 * Math.PI * i) / slotsPerDay)
    }
    trigCache.set(slotsPerDay, t)
  }
  return t
}

export class DendroProcessor {
  readonly options: DendroOptions
  // Raw stream
  private lastTimeMs: number | null = null
  private lastDiameterUm: number | null = null
  private readingsAccepted = 0
  private outOfOrderIgnored = 0
  // Grid
  private curSlot: number | null = null
  private curSum = 0
  private curN = 0
  private lastGridSlot: number | null = null
  private lastGridValue = 0
  private gapCount = 0
  private gapTotalMs = 0
  // Detector (lookahead queue of grid values, reference value, MAD window)
  private queueSlots: number[] = []
  private queueValues: number[] = []
  private refRaw: number | null = null
  private refSlot = 0
  private offsetUm = 0
  private diffs: Float64Array
  private diffIdx = 0
  private diffCount = 0
  private sinceMadRefresh = 0
  private madUm: number
  private outliersDropped = 0
  private jumps: DendroJump[] = []
  private jumpsTotal = 0
  // Zero-growth
  private firstUm: number | null = null
  private maxUm = 0
  private lastCorrectedUm = 0
  private lastCorrectedTimeMs: number | null = null
  // Current local day
  private dayIndex: number | null = null
  private dayN = 0
  private dayRefUm = 0
  private dayMinUm = 0
  private dayMaxUm = 0
  private dayMinAtMs = 0
  private dayMaxAtMs = 0
  private dayGroIncUm = 0
  private dayNightGroIncUm = 0
  private daySums: Float64Array
  private history: DendroDay[] = []
  private completeDays = 0
  private location: DendroLocation | null = null
  // Scratch, not state
  private readonly scratch: Float64Array
  private readonly lookScratch: Float64Array

  constructor(options: Partial<DendroOptions> = {}) {
    this.options = resolveDendroOptions(options)
    this.diffs = new Float64Array(this.options.madWindowIntervals)
    this.scratch = new Float64Array(this.options.madWindowIntervals)
    this.lookScratch = new Float64Array(this.options.lookaheadIntervals)
    this.daySums = new Float64Array(SUMS)
    this.madUm = this.options.minMadUm
  }

  /**
   * One reading, in time order. Returns false (and counts it) for a reading older than the newest
   * accepted one or a non-finite value; readings at the same grid slot are averaged.
   */
  push(timeMs: number, diameterUm: number): boolean {
    if (!Number.isFinite(timeMs) || !Number.isFinite(diameterUm)) {
      this.outOfOrderIgnored++
      return false
    }
    if (this.lastTimeMs !== null && timeMs < this.lastTimeMs) {
      this.outOfOrderIgnored++
      return false
    }
    this.lastTimeMs = timeMs
    this.lastDiameterUm = diameterUm
    this.readingsAccepted++
    const slot = Math.round(timeMs / this.options.intervalMs)
    if (this.curSlot === slot) {
      this.curSum += diameterUm
      this.curN++
      return true
    }
    if (this.curSlot !== null) this.closeSlot(this.curSlot, this.curSum / this.curN)
    this.curSlot = slot
    this.curSum = diameterUm
    this.curN = 1
    return true
  }

  /** A GPS fix of the node. */
  pushLocation(timeMs: number, latDeg: number, lonDeg: number): void {
    if (!Number.isFinite(latDeg) || !Number.isFinite(lonDeg)) return
    const loc = this.location
    if (!loc) {
      this.location = {
        firstLatDeg: latDeg,
        firstLonDeg: lonDeg,
        firstTimeMs: timeMs,
        lastLatDeg: latDeg,
        lastLonDeg: lonDeg,
        lastTimeMs: timeMs,
        lastMoveM: 0,
        farthestMoveM: 0,
        movedSinceMs: null,
      }
      return
    }
    const d = haversineM(loc.firstLatDeg, loc.firstLonDeg, latDeg, lonDeg)
    loc.lastLatDeg = latDeg
    loc.lastLonDeg = lonDeg
    loc.lastTimeMs = timeMs
    loc.lastMoveM = d
    loc.farthestMoveM = Math.max(loc.farthestMoveM, d)
    if (d > this.options.maxMoveM && loc.movedSinceMs === null) loc.movedSinceMs = timeMs
  }

  // ---- grid ---------------------------------------------------------------------------------

  private closeSlot(slot: number, valueUm: number): void {
    const o = this.options
    if (this.lastGridSlot !== null) {
      const k = slot - this.lastGridSlot
      if (k > 1) {
        if (k <= o.interpolateMaxIntervals) {
          const from = this.lastGridValue
          for (let j = 1; j < k; j++) this.enqueue(this.lastGridSlot + j, from + ((valueUm - from) * j) / k)
        } else {
          this.gapCount++
          this.gapTotalMs += (k - 1) * o.intervalMs
        }
      }
    }
    this.lastGridSlot = slot
    this.lastGridValue = valueUm
    this.enqueue(slot, valueUm)
  }

  // ---- outliers and jumps -------------------------------------------------------------------

  private enqueue(slot: number, valueUm: number): void {
    this.queueSlots.push(slot)
    this.queueValues.push(valueUm)
    if (this.queueSlots.length > this.options.lookaheadIntervals) {
      const headSlot = this.queueSlots.shift()!
      const headValue = this.queueValues.shift()!
      this.classify(headSlot, headValue)
    }
  }

  /** Decide on the oldest queued grid value, looking at the `lookaheadIntervals` after it. */
  private classify(slot: number, valueUm: number): void {
    const o = this.options
    if (this.refRaw === null) {
      this.acceptRaw(slot, valueUm)
      return
    }
    const stepUm = valueUm - this.refRaw
    const absStep = Math.abs(stepUm)
    if (absStep <= o.outlierMad * this.madUm) {
      if (slot - this.refSlot === 1) this.recordDiff(stepUm)
      this.acceptRaw(slot, valueUm)
      return
    }
    // Does the series stay at the new level (jump or fast real change) or come back (outlier)?
    const look = this.lookScratch
    const n = this.queueValues.length
    for (let i = 0; i < n; i++) look[i] = this.queueValues[i]!
    const after = median(look, n)
    const persistent = Math.abs(after - valueUm) < Math.abs(after - this.refRaw)
    if (!persistent) {
      this.outliersDropped++
      return
    }
    if (absStep > o.jumpMad * this.madUm) {
      this.offsetUm += stepUm
      this.jumpsTotal++
      this.jumps.push({ timeMs: slot * o.intervalMs, offsetUm: stepUm })
      if (this.jumps.length > o.maxJumpsKept) this.jumps.shift()
    } else if (slot - this.refSlot === 1) {
      this.recordDiff(stepUm)
    }
    this.acceptRaw(slot, valueUm)
  }

  private recordDiff(stepUm: number): void {
    const o = this.options
    this.diffs[this.diffIdx] = stepUm
    this.diffIdx = (this.diffIdx + 1) % this.diffs.length
    if (this.diffCount < this.diffs.length) this.diffCount++
    this.sinceMadRefresh++
    const due = this.sinceMadRefresh >= o.madRefreshIntervals || this.diffCount === o.madMinSamples
    if (due && this.diffCount >= o.madMinSamples) {
      this.sinceMadRefresh = 0
      this.madUm = Math.max(o.minMadUm, mad(this.diffs, this.diffCount, this.scratch))
    }
  }

  private acceptRaw(slot: number, rawUm: number): void {
    this.refRaw = rawUm
    this.refSlot = slot
    this.addCorrected(slot * this.options.intervalMs, rawUm - this.offsetUm)
  }

  // ---- zero-growth and days -----------------------------------------------------------------

  private addCorrected(timeMs: number, um: number): void {
    const o = this.options
    const localMs = timeMs + o.utcOffsetH * HOUR_MS
    const dayIndex = Math.floor(localMs / DAY_MS)
    if (this.dayIndex !== dayIndex) {
      if (this.dayIndex !== null) this.closeDay()
      this.dayIndex = dayIndex
      this.dayN = 0
      this.dayRefUm = um
      this.dayMinUm = um
      this.dayMaxUm = um
      this.dayMinAtMs = timeMs
      this.dayMaxAtMs = timeMs
      this.dayGroIncUm = 0
      this.dayNightGroIncUm = 0
      this.daySums.fill(0)
    }
    const msOfDay = localMs - dayIndex * DAY_MS
    if (this.firstUm === null) {
      this.firstUm = um
      this.maxUm = um
    } else if (um > this.maxUm) {
      const inc = um - this.maxUm
      this.maxUm = um
      this.dayGroIncUm += inc
      const h = msOfDay / HOUR_MS
      if (h >= o.nightStartHourLocal || h < o.nightEndHourLocal) this.dayNightGroIncUm += inc
    }
    this.lastCorrectedUm = um
    this.lastCorrectedTimeMs = timeMs
    this.dayN++
    if (um < this.dayMinUm) {
      this.dayMinUm = um
      this.dayMinAtMs = timeMs
    }
    if (um > this.dayMaxUm) {
      this.dayMaxUm = um
      this.dayMaxAtMs = timeMs
    }
    // Regressors of the daily fit: 1, τ (centred day fraction), cos θ, sin θ.
    const slotsPerDay = DAY_MS / o.intervalMs
    const k = Math.floor(msOfDay / o.intervalMs)
    const trig = trigTable(slotsPerDay)
    const tau = (k + 0.5) / slotsPerDay - 0.5
    const c = trig.cos[k]!
    const s = trig.sin[k]!
    const x = um - this.dayRefUm
    const S = this.daySums
    S[0]! += 1
    S[1]! += tau
    S[2]! += c
    S[3]! += s
    S[4]! += tau * tau
    S[5]! += tau * c
    S[6]! += tau * s
    S[7]! += c * c
    S[8]! += c * s
    S[9]! += s * s
    S[10]! += x
    S[11]! += x * tau
    S[12]! += x * c
    S[13]! += x * s
    S[14]! += x * x
  }

  private closeDay(): void {
    const o = this.options
    const slotsPerDay = DAY_MS / o.intervalMs
    const coverage = this.dayN / slotsPerDay
    const fit = coverage >= o.cycleFitCoverage ? fitDailyCycle(this.daySums) : null
    const gro = this.firstUm === null ? 0 : this.maxUm - this.firstUm
    this.history.push({
      dayStartMs: this.dayIndex! * DAY_MS - o.utcOffsetH * HOUR_MS,
      minUm: this.dayMinUm,
      maxUm: this.dayMaxUm,
      amplitudeUm: this.dayMaxUm - this.dayMinUm,
      minAtMs: this.dayMinAtMs,
      maxAtMs: this.dayMaxAtMs,
      groUm: gro,
      twdUm: this.maxUm - this.lastCorrectedUm,
      groIncreaseUm: this.dayGroIncUm,
      nightGroIncreaseUm: this.dayNightGroIncUm,
      coverage,
      cycleCosUm: fit?.cosUm ?? null,
      cycleSinUm: fit?.sinUm ?? null,
      cycleR2: fit?.r2 ?? null,
    })
    if (this.history.length > o.historyDays) this.history.shift()
    if (coverage >= o.completeDayCoverage) this.completeDays++
  }

  // ---- output -------------------------------------------------------------------------------

  state(): DendroState {
    const hist = this.history
    const last = hist.at(-1)
    const windowOf = (days: number) => {
      if (!last) return { entries: [] as DendroDay[], spanDays: 0 }
      const fromMs = last.dayStartMs - (days - 1) * DAY_MS
      const entries = hist.filter((d) => d.dayStartMs >= fromMs)
      const spanDays = Math.min(days, Math.round((last.dayStartMs - hist[0]!.dayStartMs) / DAY_MS) + 1)
      return { entries, spanDays }
    }
    const rate = (days: number) => {
      const w = windowOf(days)
      if (w.entries.length === 0) return null
      return sum(w.entries, (d) => d.groIncreaseUm) / w.spanDays
    }
    const complete7 = windowOf(7).entries.filter((d) => d.coverage >= this.options.completeDayCoverage)
    const w30 = windowOf(30)
    const inc30 = sum(w30.entries, (d) => d.groIncreaseUm)
    const night30 = sum(w30.entries, (d) => d.nightGroIncreaseUm)
    return {
      lastTimeMs: this.lastTimeMs,
      lastDiameterUm: this.lastDiameterUm,
      correctedTimeMs: this.lastCorrectedTimeMs,
      correctedDiameterUm: this.firstUm === null ? null : this.lastCorrectedUm,
      groUm: this.firstUm === null ? 0 : this.maxUm - this.firstUm,
      twdUm: this.firstUm === null ? 0 : this.maxUm - this.lastCorrectedUm,
      maxUm: this.firstUm === null ? null : this.maxUm,
      dailyAmplitudeUm: complete7.length > 0 ? sum(complete7, (d) => d.amplitudeUm) / complete7.length : null,
      growthUmPerDay7d: rate(7),
      growthUmPerDay30d: rate(30),
      growthUmPerMonth: w30.spanDays >= 30 ? inc30 : null,
      // Below a few MAD the "growth" is the noise pushing the running max; no share to speak of.
      nightGrowthShare: inc30 > 5 * this.madUm ? night30 / inc30 : null,
      jumps: this.jumps.map((j) => ({ ...j })),
      jumpsTotal: this.jumpsTotal,
      outliersDropped: this.outliersDropped,
      outOfOrderIgnored: this.outOfOrderIgnored,
      readingsAccepted: this.readingsAccepted,
      gaps: { count: this.gapCount, totalMs: this.gapTotalMs },
      madUm: this.madUm,
      noiseUm: (1.4826 * this.madUm) / Math.SQRT2,
      days: this.completeDays,
      history: hist.map((d) => ({ ...d })),
      location: this.location ? { ...this.location } : null,
    }
  }

  /** Everything needed to continue exactly where this processor is, as plain JSON-able data. */
  snapshot(): DendroSnapshot {
    const fields: Record<string, unknown> = {}
    for (const key of SNAPSHOT_FIELDS) {
      const v = (this as unknown as Record<string, unknown>)[key]
      fields[key] = v instanceof Float64Array ? Array.from(v) : structuredClone(v)
    }
    return { version: 1, options: { ...this.options }, fields }
  }

  static restore(snapshot: DendroSnapshot): DendroProcessor {
    if (snapshot?.version !== 1) throw new TypeError('unsupported dendro snapshot version')
    const p = new DendroProcessor(snapshot.options)
    const target = p as unknown as Record<string, unknown>
    for (const key of SNAPSHOT_FIELDS) {
      if (!(key in snapshot.fields)) throw new TypeError(`dendro snapshot lacks ${key}`)
      const v = snapshot.fields[key]
      target[key] =
        target[key] instanceof Float64Array ? Float64Array.from(v as number[]) : structuredClone(v)
    }
    return p
  }
}

const SNAPSHOT_FIELDS = [
  'lastTimeMs',
  'lastDiameterUm',
  'readingsAccepted',
  'outOfOrderIgnored',
  'curSlot',
  'curSum',
  'curN',
  'lastGridSlot',
  'lastGridValue',
  'gapCount',
  'gapTotalMs',
  'queueSlots',
  'queueValues',
  'refRaw',
  'refSlot',
  'offsetUm',
  'diffs',
  'diffIdx',
  'diffCount',
  'sinceMadRefresh',
  'madUm',
  'outliersDropped',
  'jumps',
  'jumpsTotal',
  'firstUm',
  'maxUm',
  'lastCorrectedUm',
  'lastCorrectedTimeMs',
  'dayIndex',
  'dayN',
  'dayRefUm',
  'dayMinUm',
  'dayMaxUm',
  'dayMinAtMs',
  'dayMaxAtMs',
  'dayGroIncUm',
  'dayNightGroIncUm',
  'daySums',
  'history',
  'completeDays',
  'location',
] as const

// ---- helpers --------------------------------------------------------------------------------

function sum<T>(items: readonly T[], f: (t: T) => number): number {
  let s = 0
  for (const it of items) s += f(it)
  return s
}

/** Great-circle distance, m (haversine, mean Earth radius 6 371 km). */
export function haversineM(lat1Deg: number, lon1Deg: number, lat2Deg: number, lon2Deg: number): number {
  const rad = Math.PI / 180
  const dLat = (lat2Deg - lat1Deg) * rad
  const dLon = (lon2Deg - lon1Deg) * rad
  const a =
    Math.sin(dLat / 2) ** 2 + Math.cos(lat1Deg * rad) * Math.cos(lat2Deg * rad) * Math.sin(dLon / 2) ** 2
  return 2 * 6_371_000 * Math.asin(Math.min(1, Math.sqrt(a)))
}

/**
 * Least squares x = a + b·τ + c·cos θ + s·sin θ from the running sums of one day, by Gaussian
 * elimination on the 4×4 normal equations; r2 = share of the variance left by (a + b·τ) that the
 * harmonic explains.
 */
export function fitDailyCycle(S: Float64Array): { cosUm: number; sinUm: number; r2: number | null } | null {
  const A = [
    [S[0]!, S[1]!, S[2]!, S[3]!, S[10]!],
    [S[1]!, S[4]!, S[5]!, S[6]!, S[11]!],
    [S[2]!, S[5]!, S[7]!, S[8]!, S[12]!],
    [S[3]!, S[6]!, S[8]!, S[9]!, S[13]!],
  ]
  const coef = solve(A)
  if (!coef) return null
  const ssFull = S[14]! - (coef[0]! * S[10]! + coef[1]! * S[11]! + coef[2]! * S[12]! + coef[3]! * S[13]!)
  const lin = solve([
    [S[0]!, S[1]!, S[10]!],
    [S[1]!, S[4]!, S[11]!],
  ])
  let r2: number | null = null
  if (lin) {
    const ssLin = S[14]! - (lin[0]! * S[10]! + lin[1]! * S[11]!)
    if (ssLin > 1e-12) r2 = Math.max(0, Math.min(1, (ssLin - ssFull) / ssLin))
  }
  return { cosUm: coef[2]!, sinUm: coef[3]!, r2 }
}

function solve(m: number[][]): number[] | null {
  const n = m.length
  for (let col = 0; col < n; col++) {
    let pivot = col
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r
    if (Math.abs(m[pivot]![col]!) < 1e-9) return null
    ;[m[col], m[pivot]] = [m[pivot]!, m[col]!]
    for (let r = 0; r < n; r++) {
      if (r === col) continue
      const f = m[r]![col]! / m[col]![col]!
      for (let c = col; c <= n; c++) m[r]![c]! -= f * m[col]![c]!
    }
  }
  return m.map((row, i) => row[n]! / row[i]!)
}
