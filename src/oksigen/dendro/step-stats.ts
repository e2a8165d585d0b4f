/**
 * The distribution of a series' step differences, kept as a fixed log-binned histogram so that
 * treenetproc's outlier and jump thresholds can be had at any time without keeping the steps.
 *
 * treenetproc (Knüsel et al. 2021; `calcflagmad` in R/functions_L2.R) takes the step differences of
 * the whole series, drops those with |d| < 0.001 (no change), removes the values strictly between
 * the 30 % and 70 % quantiles, and sets the bounds at q1 − tol·mad and q3 + tol·mad of what is left
 * (R's `quantile` type 7 and `mad`, scaled by 1.4826).
 *
 * Here each bin (10 % wide) keeps its count, its smallest and largest step and how many steps
 * equal each of them; the rest are taken as spread evenly between the two. A quantised sensor's
 * steps are mostly a few exact multiples of its resolution, so most bins are one or two such
 * values and are represented exactly (ties matter: R's strict "between" keeps them). The same R statistics are then computed on these runs of order
 * statistics. `treenetprocBounds` in stats.ts is the exact computation on a full array;
 * tests/oksigen/treenet.test.ts shows both agree on the real series.
 *
 * Units: the bins are relative (each 5 % wider than the last), so scaling the series (radius ↔
 * diameter) scales the bounds with it; the only absolute numbers are the excluded "no change" band
 * |d| < 1e-3 µm per interval (treenetproc's 0.001, there per hour) and the histogram's span up to
 * 1e5 µm per interval (a larger step falls in the outermost bin; only the tails beyond 15/85 %
 * would notice).
 */

export const STEP_MIN_ABS = 1e-3
const STEP_MAX_ABS = 1e5
const RATIO = 1.1
const LOG_RATIO = Math.log(RATIO)
/** Bins per sign. */
const NB = Math.ceil(Math.log(STEP_MAX_ABS / STEP_MIN_ABS) / LOG_RATIO)
export const STEP_BINS = 2 * NB

function binOf(d: number): number {
  const a = Math.abs(d)
  const k = Math.min(NB - 1, Math.max(0, Math.floor(Math.log(a / STEP_MIN_ABS) / LOG_RATIO)))
  return d > 0 ? NB + k : NB - 1 - k
}

export interface StepBounds {
  low: number
  high: number
  /** The statistics behind them: quartiles of the trimmed steps and their scaled MAD. */
  q1: number
  q3: number
  madScaled: number
  /** Unscaled MAD of all (untrimmed) steps about their median. */
  madAll: number
  n: number
}

/**
 * Ascending runs of order statistics: `c` values spread evenly from `lo` to `hi` (the smallest and
 * largest seen in a bin; an atom when lo = hi, as a quantised sensor's steps are).
 */
interface Piece {
  lo: number
  hi: number
  c: number
}

/** The k-th (0-based) value of a piece. */
const pieceValue = (p: Piece, k: number): number => (p.c > 1 ? p.lo + ((p.hi - p.lo) * k) / (p.c - 1) : p.lo)

/** Order statistic at fractional 0-based position h (type-7 interpolation between neighbours). */
function orderStat(pieces: Piece[], h: number): number {
  const at = (k: number): number => {
    for (const p of pieces) {
      if (k < p.c) return pieceValue(p, k)
      k -= p.c
    }
    const last = pieces.at(-1)!
    return last.hi
  }
  const lo = Math.floor(h)
  const a = at(lo)
  return h > lo ? a + (h - lo) * (at(lo + 1) - a) : a
}

const countOf = (pieces: Piece[]): number => pieces.reduce((n, p) => n + p.c, 0)

/** How many values of a piece are ≤ x (or < x when `strict`). */
function countBelow(p: Piece, x: number, strict: boolean): number {
  if (p.c === 1 || p.hi === p.lo) return (strict ? p.lo < x : p.lo <= x) ? p.c : 0
  const f = ((x - p.lo) / (p.hi - p.lo)) * (p.c - 1)
  const k = strict ? Math.ceil(f) : Math.floor(f) + 1
  return Math.max(0, Math.min(p.c, k))
}

/** The values of a piece with index in [k0, k1) as a piece. */
function slice(p: Piece, k0: number, k1: number): Piece | null {
  if (k1 <= k0) return null
  return { lo: pieceValue(p, k0), hi: pieceValue(p, k1 - 1), c: k1 - k0 }
}

/** Median of |x − m| over the pieces: the smallest t with ≥ half the values within m ± t. */
function madAbout(pieces: Piece[], m: number): number {
  // Pieces are ascending and do not overlap: count(≤ x) is a binary search plus one partial piece.
  const np = pieces.length
  const cum = new Float64Array(np + 1)
  for (let i = 0; i < np; i++) cum[i + 1] = cum[i]! + pieces[i]!.c
  const countTo = (x: number, strict: boolean): number => {
    let a = 0
    let b = np - 1
    if (np === 0 || (strict ? pieces[0]!.lo >= x : pieces[0]!.lo > x)) return 0
    while (a < b) {
      const mid = (a + b + 1) >>> 1
      const lo = pieces[mid]!.lo
      if (strict ? lo < x : lo <= x) a = mid
      else b = mid - 1
    }
    return cum[a]! + countBelow(pieces[a]!, x, strict)
  }
  const n = cum[np]!
  const need = Math.floor((n - 1) / 2) + 1
  const within = (t: number) => countTo(m + t, false) - countTo(m - t, true)
  let lo = 0
  let hi = 1e-9
  while (within(hi) < need && hi < 4 * STEP_MAX_ABS) hi *= 2
  for (let k = 0; k < 48; k++) {
    const mid = (lo + hi) / 2
    if (within(mid) >= need) hi = mid
    else lo = mid
  }
  return hi
}

/** Equal but for floating-point noise (a quantised sensor's 0.61 − 0 and 1.83 − 1.22). */
function same(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.abs(b)
}

export class StepHistogram {
  counts: Uint32Array
  /** Smallest and largest step seen in each bin, and how many steps equal each. */
  mins: Float64Array
  maxs: Float64Array
  atMin: Uint32Array
  atMax: Uint32Array
  total = 0

  constructor() {
    this.counts = new Uint32Array(STEP_BINS)
    this.mins = new Float64Array(STEP_BINS)
    this.maxs = new Float64Array(STEP_BINS)
    this.atMin = new Uint32Array(STEP_BINS)
    this.atMax = new Uint32Array(STEP_BINS)
  }

  /** Adds one step (per interval); "no change" steps (|d| < STEP_MIN_ABS) are not counted. */
  add(d: number): boolean {
    if (!(Math.abs(d) >= STEP_MIN_ABS) || !Number.isFinite(d)) return false
    const i = binOf(d)
    const c = this.counts[i]!
    if (c === 0) {
      this.mins[i] = d
      this.maxs[i] = d
      this.atMin[i] = 1
      this.atMax[i] = 1
    } else {
      const lo = this.mins[i]!
      const hi = this.maxs[i]!
      if (same(d, lo) && same(d, hi)) {
        this.atMin[i]!++
        this.atMax[i]!++
      } else if (same(d, lo)) this.atMin[i]!++
      else if (same(d, hi)) this.atMax[i]!++
      else if (d < lo) {
        if (same(lo, hi)) this.atMax[i] = c // the old atom is now the maximum
        this.mins[i] = d
        this.atMin[i] = 1
      } else if (d > hi) {
        if (same(lo, hi)) this.atMin[i] = c
        this.maxs[i] = d
        this.atMax[i] = 1
      }
    }
    this.counts[i] = c + 1
    this.total++
    return true
  }

  /** treenetproc's bounds for `tol`, null below `minSamples` steps. */
  bounds(tol: number, minSamples: number): StepBounds | null {
    if (this.total < Math.max(minSamples, 2)) return null
    const all: Piece[] = []
    for (let i = 0; i < STEP_BINS; i++) {
      const c = this.counts[i]!
      if (c === 0) continue
      const lo = this.mins[i]!
      const hi = this.maxs[i]!
      if (lo === hi || c === 1) {
        all.push({ lo, hi: lo, c })
        continue
      }
      // An atom at the minimum, the rest spread evenly strictly inside, an atom at the maximum.
      const a = this.atMin[i]!
      const b = this.atMax[i]!
      const m = c - a - b
      all.push({ lo, hi: lo, c: a })
      if (m > 0) {
        const gap = (hi - lo) / (m + 1)
        all.push({ lo: lo + gap, hi: hi - gap, c: m })
      }
      all.push({ lo: hi, hi, c: b })
    }
    const n = this.total
    const q30 = orderStat(all, 0.3 * (n - 1))
    const q70 = orderStat(all, 0.7 * (n - 1))
    // Remove the values strictly between q30 and q70 (ties with them stay, as in R).
    const rest: Piece[] = []
    for (const p of all) {
      const keepLow = countBelow(p, q30, false)
      const keepHighFrom = countBelow(p, q70, true)
      const a = slice(p, 0, keepLow)
      const b = slice(p, Math.max(keepLow, keepHighFrom), p.c)
      if (a) rest.push(a)
      if (b) rest.push(b)
    }
    const r = countOf(rest)
    const q1 = orderStat(rest, 0.25 * (r - 1))
    const q3 = orderStat(rest, 0.75 * (r - 1))
    const med = orderStat(rest, 0.5 * (r - 1))
    const madScaled = 1.4826 * madAbout(rest, med)
    const madAll = madAbout(all, orderStat(all, 0.5 * (n - 1)))
    return { low: q1 - tol * madScaled, high: q3 + tol * madScaled, q1, q3, madScaled, madAll, n }
  }
}
