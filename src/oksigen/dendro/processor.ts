import { DAY_MS, type DendroOptions, HOUR_MS, resolveDendroOptions } from './options.ts'
import { type StepBounds, StepHistogram } from './step-stats.ts'

/**
 * Incremental dendrometer processing for one tree, as treenetproc's `proc_dendro_L2` cleans
 * (Knüsel et al. 2021): readings → regular grid → outliers removed and jumps corrected from the
 * steps per elapsed interval, judged against bounds from the distribution of all steps so far
 * (step-stats.ts) → short holes filled linearly → zero-growth split (Zweifel et al. 2016) into GRO
 * and TWD → per-day summaries (local days) with the maximum daily shrinkage (MDS) and a fitted 24 h
 * cycle for the liveness check.
 *
 * State is bounded: three step histograms of fixed size, a few grid values of lookahead, running
 * sums for the current day and `historyDays` day summaries. A push costs the same after a day as
 * after a year. Output lags the newest reading by two readings (a grid value needs the reading
 * after it, and that one is final when the next arrives) plus the lookahead: ~50 min at 10-minute
 * readings.
 */

export interface DendroJump {
  /** Grid time of the first value kept at the new level (the values just before it may have been removed as outliers). */
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
  /**
   * max − min of the day. For a growing stem this is mostly the day's growth, not its shrinkage:
   * show `mdsUm` instead. Kept for existing readers.
   */
  amplitudeUm: number
  /**
   * Maximum daily shrinkage (Deslauriers et al. 2007): the largest fall from a value to a later one
   * within the day, i.e. the morning maximum to the following afternoon minimum, µm; null for a day
   * with less than `completeDayCoverage` of its values.
   */
  mdsUm: number | null
  /** Times of the maximum and the later minimum that make the MDS (null with it). */
  mdsMaxAtMs: number | null
  mdsMinAtMs: number | null
  /** Grid values removed as outliers, jumps corrected and values filled in during the day. */
  outliers: number
  jumps: number
  filled: number
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
  /** Mean daily amplitude (max − min) over the last 7 complete days, µm. Superseded by `mdsUm`. */
  dailyAmplitudeUm: number | null
  /** Mean maximum daily shrinkage over the last 7 complete days, µm (null before one). */
  mdsUm: number | null
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
  /** Grid values filled in linearly after cleaning (holes of ≤ `interpolateMaxIntervals`). */
  filledValues: number
  /**
   * Unscaled MAD of the steps between consecutive values (per interval) over the whole history, µm,
   * and the sensor noise σ it implies (1.4826·MAD/√2); 0 before `statsMinSamples` steps.
   */
  madUm: number
  noiseUm: number
  /**
   * The bounds in force, µm per grid interval (null before `statsMinSamples` steps): outliers
   * (non-frost and frost, the latter already × `frostFactor`) and jumps.
   */
  bounds: {
    outlier: { low: number; high: number } | null
    outlierFrost: { low: number; high: number } | null
    jump: { low: number; high: number } | null
  }
  /** Grid values seen in frost (air temperature below `lowTempC`). */
  frostValues: number
  /** Total days closed since the first value (`history` keeps the last `historyDays`). */
  daysClosed: number
  /** Complete days seen (≥ `completeDayCoverage` of the grid). */
  days: number
  /** Per-day summaries, oldest first, at most `historyDays`. */
  history: DendroDay[]
  location: DendroLocation | null
}

/** JSON-able copy of everything the processor holds. */
export interface DendroSnapshot {
  version: 2
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
  /** Readings averaged at `lastTimeMs`. */
  private sameTimeN = 0
  /** The final reading before the newest: grid times between it and the newest come next. */
  private alignTimeMs: number | null = null
  private alignUm = 0
  private lastGridSlot: number | null = null
  private gapCount = 0
  private gapTotalMs = 0
  // Air temperature (frost), oldest first; bounded
  private tempTimes: number[] = []
  private tempValues: number[] = []
  private frostValues = 0
  // Pass 1, outliers: steps between consecutive grid values as they come
  private prevRawSlot: number | null = null
  private prevRawUm = 0
  private outHist = new StepHistogram()
  /** Created at the first frost step (most trees never see one). */
  private outFrostHist: StepHistogram | null = null
  private outSince = 0
  private outFrostSince = 0
  private outBounds: StepBounds | null = null
  private outFrostBounds: StepBounds | null = null
  private seenOutlier = false
  private runSinceOutlier = 0
  // Lookahead queue of grid values with their outlier and frost flags (a ring: no allocation per push)
  private queueSlots: Float64Array
  private queueValues: Float64Array
  private queueOut: Uint8Array
  private queueFrost: Uint8Array
  private queueHead = 0
  private queueLen = 0
  // Pass 2, jumps: steps between the values kept after outliers
  private keptSlot: number | null = null
  private keptRawUm = 0
  private jumpHist = new StepHistogram()
  private jumpSince = 0
  private jumpBounds: StepBounds | null = null
  private offsetUm = 0
  private outliersDropped = 0
  private jumps: DendroJump[] = []
  private jumpsTotal = 0
  private filledValues = 0
  // Zero-growth
  private firstUm: number | null = null
  private maxUm = 0
  private lastCorrectedUm = 0
  private lastCorrectedTimeMs: number | null = null
  private lastCorrectedSlot: number | null = null
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
  private dayRunMaxUm = 0
  private dayRunMaxAtMs = 0
  private dayMdsUm = 0
  private dayMdsMaxAtMs = 0
  private dayMdsMinAtMs = 0
  private dayOutliers = 0
  private dayJumps = 0
  private dayFilled = 0
  private daySums: Float64Array
  private history: DendroDay[] = []
  private completeDays = 0
  private daysClosed = 0
  private location: DendroLocation | null = null

  constructor(options: Partial<DendroOptions> = {}) {
    this.options = resolveDendroOptions(options)
    this.daySums = new Float64Array(SUMS)
    const cap = this.options.lookaheadIntervals + 1
    this.queueSlots = new Float64Array(cap)
    this.queueValues = new Float64Array(cap)
    this.queueOut = new Uint8Array(cap)
    this.queueFrost = new Uint8Array(cap)
  }

  /**
   * One reading, in time order. Returns false (and counts it) for a reading older than the newest
   * accepted one or a non-finite value; readings with the same time are averaged.
   *
   * Readings are aligned to the grid as treenetproc's `proc_L1` does: a grid value is the linear
   * interpolation between the readings either side of it, when those are less than
   * `interpolateMaxIntervals` intervals apart (a reading exactly on the grid is taken as it is).
   * A grid value is produced once the reading after it is final (a later reading has arrived).
   */
  push(timeMs: number, diameterUm: number): boolean {
    if (!Number.isFinite(timeMs) || !Number.isFinite(diameterUm)) {
      this.outOfOrderIgnored++
      return false
    }
    const prevT = this.lastTimeMs
    if (prevT !== null && timeMs < prevT) {
      this.outOfOrderIgnored++
      return false
    }
    this.readingsAccepted++
    if (prevT !== null && timeMs === prevT) {
      this.sameTimeN++
      this.lastDiameterUm! += (diameterUm - this.lastDiameterUm!) / this.sameTimeN
      return true
    }
    // The newest reading is final once a later one arrives: the grid times from the one before it
    // up to it are produced now.
    if (prevT !== null) {
      const o = this.options
      const I = o.intervalMs
      const lastV = this.lastDiameterUm!
      const fromT = this.alignTimeMs
      const fromV = this.alignUm
      if (fromT !== null) {
        const near = prevT - fromT < o.interpolateMaxIntervals * I
        for (let g = Math.ceil(fromT / I) * I; g < prevT; g += I) {
          if (g === fromT) this.closeSlot(g / I, fromV)
          else if (near) this.closeSlot(g / I, fromV + ((lastV - fromV) * (g - fromT)) / (prevT - fromT))
        }
      }
      this.alignTimeMs = prevT
      this.alignUm = lastV
    }
    this.lastTimeMs = timeMs
    this.lastDiameterUm = diameterUm
    this.sameTimeN = 1
    return true
  }

  /**
   * An air temperature reading (°C) near the tree, e.g. the village weather station's, in time order.
   * Grid values while it is below `lowTempC` are judged as frost (see options). Push temperatures
   * no later than the dendrometer readings of the same time: values are judged two readings plus
   * the lookahead after they arrive, so a temperature up to ~40 min late still counts.
   */
  pushTemperature(timeMs: number, tempC: number): void {
    if (!Number.isFinite(timeMs) || !Number.isFinite(tempC)) return
    const n = this.tempTimes.length
    if (n > 0 && timeMs < this.tempTimes[n - 1]!) return
    this.tempTimes.push(timeMs)
    this.tempValues.push(tempC)
    // Bounded: a station reporting while the dendrometer is silent must not grow the state.
    if (this.tempTimes.length > MAX_TEMPS) {
      this.tempTimes.splice(0, this.tempTimes.length - MAX_TEMPS)
      this.tempValues.splice(0, this.tempValues.length - MAX_TEMPS)
    }
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

  /** Days closed so far (cheap; `state().daysClosed` is the same). */
  daysClosedCount(): number {
    return this.daysClosed
  }

  /** The newest closed day, null before the first; with `state().daysClosed` to follow every day cheaply. */
  latestDay(): DendroDay | null {
    const d = this.history.at(-1)
    return d ? { ...d } : null
  }

  // ---- grid ---------------------------------------------------------------------------------

  private closeSlot(slot: number, valueUm: number): void {
    const o = this.options
    if (this.lastGridSlot !== null) {
      const missing = slot - this.lastGridSlot - 1
      if (missing > o.interpolateMaxIntervals) {
        this.gapCount++
        this.gapTotalMs += missing * o.intervalMs
      }
    }
    this.lastGridSlot = slot
    this.judgeOutlier(slot, valueUm)
  }

  /** Whether grid slot `slot` is in frost: the newest temperature at or before it, if recent. */
  private frostAt(slot: number): boolean {
    const o = this.options
    const t = slot * o.intervalMs + o.intervalMs / 2
    const times = this.tempTimes
    let k = 0
    while (k + 1 < times.length && times[k + 1]! <= t) k++
    if (k > 0) {
      times.splice(0, k)
      this.tempValues.splice(0, k)
    }
    if (times.length === 0 || times[0]! > t || t - times[0]! > o.tempMaxAgeMs) return false
    return this.tempValues[0]! < o.lowTempC
  }

  // ---- pass 1: outliers ---------------------------------------------------------------------

  private judgeOutlier(slot: number, valueUm: number): void {
    const o = this.options
    const frost = this.frostAt(slot)
    if (frost) this.frostValues++
    let out = false
    if (this.prevRawSlot !== null) {
      const step = (valueUm - this.prevRawUm) / (slot - this.prevRawSlot)
      const b = frost ? (this.outFrostBounds ?? scaled(this.outBounds, 1)) : this.outBounds
      const f = frost ? o.frostFactor : 1
      out = b !== null && (step < b.low * f || step > b.high * f)
      if (frost) {
        this.outFrostHist ??= new StepHistogram()
        if (this.outFrostHist.add(step) && this.due(this.outFrostHist, ++this.outFrostSince))
          this.refresh('outFrost')
      } else if (this.outHist.add(step) && this.due(this.outHist, ++this.outSince)) this.refresh('out')
    }
    this.prevRawSlot = slot
    this.prevRawUm = valueUm
    if (out) {
      // A short run of unflagged values between two outliers goes with them (treenetproc frag_len).
      const run = this.runSinceOutlier
      if (this.seenOutlier && run > 0 && run <= o.fragmentMaxValues) {
        const cap = this.queueOut.length
        for (let j = Math.max(0, this.queueLen - run); j < this.queueLen; j++) {
          this.queueOut[(this.queueHead + j) % cap] = 1
        }
      }
      this.seenOutlier = true
      this.runSinceOutlier = 0
    } else this.runSinceOutlier++
    const cap = this.queueSlots.length
    const tail = (this.queueHead + this.queueLen) % cap
    this.queueSlots[tail] = slot
    this.queueValues[tail] = valueUm
    this.queueOut[tail] = out ? 1 : 0
    this.queueFrost[tail] = frost ? 1 : 0
    this.queueLen++
    if (this.queueLen > o.lookaheadIntervals) {
      const h = this.queueHead
      this.queueHead = (h + 1) % cap
      this.queueLen--
      this.judgeJump(
        this.queueSlots[h]!,
        this.queueValues[h]!,
        this.queueOut[h] === 1,
        this.queueFrost[h] === 1,
      )
    }
  }

  /**
   * Whether a histogram's bounds are due: as soon as `statsMinSamples` steps are known, then after
   * a day's worth of steps, or 1/8 of the history once that is longer (the bounds describe the whole history, which such a share moves little),
   * so the amortised cost per step falls as history grows.
   */
  private due(h: StepHistogram, since: number): boolean {
    const o = this.options
    return h.total === o.statsMinSamples || since >= Math.max(o.statsRefreshSteps, h.total >>> 3)
  }

  private refresh(which: 'out' | 'outFrost' | 'jump'): void {
    const o = this.options
    if (which === 'out') {
      this.outSince = 0
      this.outBounds = this.outHist.bounds(o.tolOut, o.statsMinSamples)
    } else if (which === 'outFrost') {
      this.outFrostSince = 0
      this.outFrostBounds = this.outFrostHist?.bounds(o.tolOut, o.statsMinSamples) ?? null
    } else {
      this.jumpSince = 0
      this.jumpBounds = this.jumpHist.bounds(o.tolJump, o.statsMinSamples)
    }
  }

  // ---- pass 2: jumps ------------------------------------------------------------------------

  private judgeJump(slot: number, rawUm: number, out: boolean, frost: boolean): void {
    const o = this.options
    if (out) {
      this.outliersDropped++
      this.dayOutliers++
      return
    }
    if (this.keptSlot !== null) {
      const diff = rawUm - this.keptRawUm
      const step = diff / (slot - this.keptSlot)
      const b = this.jumpBounds
      const jump = b !== null && (step < b.low || step > b.high) && (o.frostJumps || !frost)
      if (this.jumpHist.add(step) && this.due(this.jumpHist, ++this.jumpSince)) this.refresh('jump')
      if (jump) {
        this.offsetUm += diff
        this.jumpsTotal++
        this.dayJumps++
        this.jumps.push({ timeMs: slot * o.intervalMs, offsetUm: diff })
        if (this.jumps.length > o.maxJumpsKept) this.jumps.shift()
      }
    }
    this.keptSlot = slot
    this.keptRawUm = rawUm
    const um = rawUm - this.offsetUm
    // Holes of up to `interpolateMaxIntervals` missing values (gaps or removed outliers) are filled.
    const last = this.lastCorrectedSlot
    if (last !== null && slot - last - 1 > 0 && slot - last - 1 <= o.interpolateMaxIntervals) {
      const from = this.lastCorrectedUm
      const k = slot - last
      for (let j = 1; j < k; j++) {
        this.filledValues++
        this.addCorrected((last + j) * o.intervalMs, from + ((um - from) * j) / k, true)
      }
    }
    this.lastCorrectedSlot = slot
    this.addCorrected(slot * o.intervalMs, um, false)
  }

  // ---- zero-growth and days -----------------------------------------------------------------

  private addCorrected(timeMs: number, um: number, filled: boolean): void {
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
      this.dayRunMaxUm = um
      this.dayRunMaxAtMs = timeMs
      this.dayMdsUm = 0
      this.dayMdsMaxAtMs = timeMs
      this.dayMdsMinAtMs = timeMs
      this.dayOutliers = 0
      this.dayJumps = 0
      this.dayFilled = 0
      this.daySums.fill(0)
    }
    if (filled) this.dayFilled++
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
    // MDS: the largest fall from the day's running maximum (a maximum before a later minimum).
    if (um > this.dayRunMaxUm) {
      this.dayRunMaxUm = um
      this.dayRunMaxAtMs = timeMs
    } else if (this.dayRunMaxUm - um > this.dayMdsUm) {
      this.dayMdsUm = this.dayRunMaxUm - um
      this.dayMdsMaxAtMs = this.dayRunMaxAtMs
      this.dayMdsMinAtMs = timeMs
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
    const complete = coverage >= o.completeDayCoverage
    this.history.push({
      dayStartMs: this.dayIndex! * DAY_MS - o.utcOffsetH * HOUR_MS,
      minUm: this.dayMinUm,
      maxUm: this.dayMaxUm,
      amplitudeUm: this.dayMaxUm - this.dayMinUm,
      mdsUm: complete ? this.dayMdsUm : null,
      mdsMaxAtMs: complete ? this.dayMdsMaxAtMs : null,
      mdsMinAtMs: complete ? this.dayMdsMinAtMs : null,
      outliers: this.dayOutliers,
      jumps: this.dayJumps,
      filled: this.dayFilled,
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
    if (complete) this.completeDays++
    this.daysClosed++
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
    const mds7 = complete7.filter((d) => d.mdsUm !== null)
    const w30 = windowOf(30)
    const inc30 = sum(w30.entries, (d) => d.groIncreaseUm)
    const night30 = sum(w30.entries, (d) => d.nightGroIncreaseUm)
    const madUm = this.outBounds?.madAll ?? 0
    const ff = this.options.frostFactor
    const lh = (b: StepBounds | null, f = 1) => (b ? { low: b.low * f, high: b.high * f } : null)
    return {
      lastTimeMs: this.lastTimeMs,
      lastDiameterUm: this.lastDiameterUm,
      correctedTimeMs: this.lastCorrectedTimeMs,
      correctedDiameterUm: this.firstUm === null ? null : this.lastCorrectedUm,
      groUm: this.firstUm === null ? 0 : this.maxUm - this.firstUm,
      twdUm: this.firstUm === null ? 0 : this.maxUm - this.lastCorrectedUm,
      maxUm: this.firstUm === null ? null : this.maxUm,
      dailyAmplitudeUm: complete7.length > 0 ? sum(complete7, (d) => d.amplitudeUm) / complete7.length : null,
      mdsUm: mds7.length > 0 ? sum(mds7, (d) => d.mdsUm!) / mds7.length : null,
      growthUmPerDay7d: rate(7),
      growthUmPerDay30d: rate(30),
      growthUmPerMonth: w30.spanDays >= 30 ? inc30 : null,
      // Below a few MAD the "growth" is the noise pushing the running max; no share to speak of.
      nightGrowthShare: inc30 > 5 * madUm ? night30 / inc30 : null,
      jumps: this.jumps.map((j) => ({ ...j })),
      jumpsTotal: this.jumpsTotal,
      outliersDropped: this.outliersDropped,
      outOfOrderIgnored: this.outOfOrderIgnored,
      readingsAccepted: this.readingsAccepted,
      gaps: { count: this.gapCount, totalMs: this.gapTotalMs },
      filledValues: this.filledValues,
      madUm,
      noiseUm: (1.4826 * madUm) / Math.SQRT2,
      bounds: {
        outlier: lh(this.outBounds),
        outlierFrost: lh(this.outFrostBounds ?? this.outBounds, ff),
        jump: lh(this.jumpBounds),
      },
      frostValues: this.frostValues,
      days: this.completeDays,
      daysClosed: this.daysClosed,
      history: hist.map((d) => ({ ...d })),
      location: this.location ? { ...this.location } : null,
    }
  }

  /** Everything needed to continue exactly where this processor is, as plain JSON-able data. */
  snapshot(): DendroSnapshot {
    const fields: Record<string, unknown> = {}
    for (const key of SNAPSHOT_FIELDS) {
      const v = (this as unknown as Record<string, unknown>)[key]
      if (v instanceof StepHistogram)
        fields[key] = { total: v.total, misses: v.misses, bins: sparse(v), exact: v.exact.entries() }
      else fields[key] = ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : structuredClone(v)
    }
    return { version: 2, options: { ...this.options }, fields }
  }

  static restore(snapshot: DendroSnapshot): DendroProcessor {
    if (snapshot?.version !== 2) throw new TypeError('unsupported dendro snapshot version')
    const p = new DendroProcessor(snapshot.options)
    const target = p as unknown as Record<string, unknown>
    for (const key of SNAPSHOT_FIELDS) {
      if (!(key in snapshot.fields)) throw new TypeError(`dendro snapshot lacks ${key}`)
      const v = snapshot.fields[key]
      const cur = target[key]
      if (HISTOGRAM_FIELDS.has(key) && v === null) target[key] = null
      else if (HISTOGRAM_FIELDS.has(key)) {
        const h = new StepHistogram()
        const saved = v as { total: number; misses: number; bins: number[]; exact: Array<[number, number]> }
        h.total = saved.total
        h.misses = saved.misses
        h.exact.reset(saved.exact)
        for (let i = 0; i < saved.bins.length; i += 8) {
          const bin = saved.bins[i]!
          h.counts[bin] = saved.bins[i + 1]!
          h.mins[bin] = saved.bins[i + 2]!
          h.maxs[bin] = saved.bins[i + 3]!
          h.atMin[bin] = saved.bins[i + 4]!
          h.atMax[bin] = saved.bins[i + 5]!
          h.sums[bin] = saved.bins[i + 6]!
          h.sumSqs[bin] = saved.bins[i + 7]!
        }
        target[key] = h
      } else if (cur instanceof Float64Array) target[key] = Float64Array.from(v as number[])
      else if (cur instanceof Uint8Array) target[key] = Uint8Array.from(v as number[])
      else target[key] = structuredClone(v)
    }
    return p
  }
}

/** At most this many temperature readings wait for their grid values (2 days at 10 min). */
const MAX_TEMPS = 288

function scaled(b: StepBounds | null, f: number): StepBounds | null {
  return b ? { ...b, low: b.low * f, high: b.high * f } : null
}

/** Non-empty bins as [index, count, min, max, count at min, count at max, sum, sum of squares, …]. */
function sparse(h: StepHistogram): number[] {
  const out: number[] = []
  for (let i = 0; i < h.counts.length; i++)
    if (h.counts[i] !== 0)
      out.push(i, h.counts[i]!, h.mins[i]!, h.maxs[i]!, h.atMin[i]!, h.atMax[i]!, h.sums[i]!, h.sumSqs[i]!)
  return out
}

const HISTOGRAM_FIELDS: ReadonlySet<string> = new Set(['outHist', 'outFrostHist', 'jumpHist'])

const SNAPSHOT_FIELDS = [
  'lastTimeMs',
  'lastDiameterUm',
  'readingsAccepted',
  'outOfOrderIgnored',
  'sameTimeN',
  'alignTimeMs',
  'alignUm',
  'lastGridSlot',
  'gapCount',
  'gapTotalMs',
  'tempTimes',
  'tempValues',
  'frostValues',
  'prevRawSlot',
  'prevRawUm',
  'outHist',
  'outFrostHist',
  'outSince',
  'outFrostSince',
  'outBounds',
  'outFrostBounds',
  'seenOutlier',
  'runSinceOutlier',
  'queueSlots',
  'queueValues',
  'queueOut',
  'queueFrost',
  'queueHead',
  'queueLen',
  'keptSlot',
  'keptRawUm',
  'jumpHist',
  'jumpSince',
  'jumpBounds',
  'offsetUm',
  'outliersDropped',
  'jumps',
  'jumpsTotal',
  'filledValues',
  'firstUm',
  'maxUm',
  'lastCorrectedUm',
  'lastCorrectedTimeMs',
  'lastCorrectedSlot',
  'dayIndex',
  'dayN',
  'dayRefUm',
  'dayMinUm',
  'dayMaxUm',
  'dayMinAtMs',
  'dayMaxAtMs',
  'dayGroIncUm',
  'dayNightGroIncUm',
  'dayRunMaxUm',
  'dayRunMaxAtMs',
  'dayMdsUm',
  'dayMdsMaxAtMs',
  'dayMdsMinAtMs',
  'dayOutliers',
  'dayJumps',
  'dayFilled',
  'daySums',
  'history',
  'completeDays',
  'daysClosed',
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
