/**
 * The distribution of a series' step differences, kept as a fixed log-binned histogram so that
 * treenetproc's outlier and jump thresholds can be had at any time without keeping the steps.
 *
 * treenetproc (Knüsel et al. 2021; `calcflagmad` in R/functions_L2.R) takes the step differences of
 * the whole series, drops those with |d| < 0.001 (no change), removes the values strictly between
 * the 30 % and 70 % quantiles, and sets the bounds at q1 − tol·mad and q3 + tol·mad of what is left
 * (R's `quantile` type 7 and `mad`, scaled by 1.4826).
 *
 * Here each bin (19 % wide) keeps its count, its smallest and largest step, how many steps equal
 * each of them, and the sum and sum of squares of its steps; the steps in between are taken as
 * spread evenly over the interval with their mean and variance. A quantised sensor's steps are
 * mostly a few exact multiples of its resolution (ties matter: R's strict "between" keeps them),
 * so most bins are one to three such values and are represented exactly or nearly so. The same R statistics are then computed on these runs of order
 * statistics. `treenetprocBounds` in stats.ts is the exact computation on a full array;
 * tests/oksigen/treenet.test.ts shows both agree on the real series.
 *
 * Units: the bins are relative, so scaling the series (radius ↔ diameter) scales the bounds with
 * it; the only absolute numbers are the excluded "no change" band |d| < 2^-10 ≈ 0.001 µm per
 * interval (treenetproc: 0.001 µm per hour) and the histogram's span up to 2^17 µm per interval (a
 * larger step falls in the outermost bin, which only the far tails would notice).
 */

/**
 * Bins are powers of 2^(1/4) from 2^-10 µm (≈ 0.001, treenetproc's "no change" limit) to 2^17 µm
 * per interval: doubling the data (radius → diameter) moves every step exactly four bins up, so
 * the histogram of a diameter series is the radius one shifted, and the bounds double exactly.
 */
export const STEP_MIN_ABS = 2 ** -10
const STEP_MAX_ABS = 2 ** 17
const BINS_PER_OCTAVE = 4
/** Bins per sign. */
const NB = 27 * BINS_PER_OCTAVE
export const STEP_BINS = 2 * NB

function binOf(d: number): number {
  const k = Math.min(NB - 1, Math.max(0, Math.floor((Math.log2(Math.abs(d)) + 10) * BINS_PER_OCTAVE)))
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

/** Distinct step values counted exactly (see StepHistogram). */
export const EXACT_VALUES = 64
const EXACT_SLOTS = 128 // open addressing at half load
const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/** value → count for at most EXACT_VALUES float32 values, in typed arrays (no allocation per add). */
export class ExactTable {
  readonly keys = new Float64Array(EXACT_SLOTS).fill(Number.NaN)
  readonly counts = new Uint32Array(EXACT_SLOTS)
  size = 0

  /** Counts `key` if present, or inserts it when there is room; false when the table is full. */
  add(key: number, n: number): boolean {
    f32[0] = key
    let i = Math.imul(u32[0]!, 0x9e3779b1) >>> 25
    for (;;) {
      const k = this.keys[i]!
      if (k === key) {
        this.counts[i]! += n
        return true
      }
      if (Number.isNaN(k)) break
      i = (i + 1) & (EXACT_SLOTS - 1)
    }
    if (this.size >= EXACT_VALUES) return false
    this.keys[i] = key
    this.counts[i] = n
    this.size++
    return true
  }

  entries(): Array<[number, number]> {
    const out: Array<[number, number]> = []
    for (let i = 0; i < EXACT_SLOTS; i++)
      if (!Number.isNaN(this.keys[i]!)) out.push([this.keys[i]!, this.counts[i]!])
    return out
  }

  /** Empties the table and puts back the given entries. */
  reset(entries: ReadonlyArray<readonly [number, number]>): void {
    this.keys.fill(Number.NaN)
    this.counts.fill(0)
    this.size = 0
    for (const [k, c] of entries) this.add(k, c)
  }
}

export class StepHistogram {
  counts: Uint32Array
  /** Smallest and largest step seen in each bin, and how many steps equal each. */
  mins: Float64Array
  maxs: Float64Array
  atMin: Uint32Array
  atMax: Uint32Array
  /** Sum and sum of squares of each bin's steps (the moments of the values between min and max). */
  sums: Float64Array
  sumSqs: Float64Array
  /**
   * Frequent exact values (float32-rounded, which merges floating-point noise) and their counts,
   * kept apart from the bins: a quantised sensor's steps are mostly a few such values, and R's
   * strict "between" keeps the ties at q30 and q70, so they must be counted exactly.
   */
  exact = new ExactTable()
  /** Steps that missed the full table since it was last cleared of rare values. */
  misses = 0
  total = 0

  constructor() {
    this.counts = new Uint32Array(STEP_BINS)
    this.mins = new Float64Array(STEP_BINS)
    this.maxs = new Float64Array(STEP_BINS)
    this.atMin = new Uint32Array(STEP_BINS)
    this.atMax = new Uint32Array(STEP_BINS)
    this.sums = new Float64Array(STEP_BINS)
    this.sumSqs = new Float64Array(STEP_BINS)
  }

  /** Adds one step (per interval); "no change" steps (|d| < STEP_MIN_ABS) are not counted. */
  add(d: number): boolean {
    if (!(Math.abs(d) >= STEP_MIN_ABS) || !Number.isFinite(d)) return false
    this.total++
    if (!this.exact.add(Math.fround(d), 1)) {
      this.addToBin(d, 1)
      // A full table of rare values would keep a frequent newcomer out: clear them now and then.
      if (++this.misses >= EXACT_VALUES * 16) this.evictRare()
    }
    return true
  }

  /**
   * Makes room in the exact table: values seen at most `total/1000` times (at least once) go to
   * their bins, so that frequent values arriving later find a place. Called before each bounds().
   */
  private evictRare(): void {
    this.misses = 0
    const limit = Math.max(1, this.total / 1000)
    const keep: Array<[number, number]> = []
    for (const [v, c] of this.exact.entries()) {
      if (c <= limit) this.addToBin(v, c)
      else keep.push([v, c])
    }
    this.exact.reset(keep)
  }

  private addToBin(d: number, n: number): void {
    const i = binOf(d)
    const c = this.counts[i]!
    if (c === 0) {
      this.mins[i] = d
      this.maxs[i] = d
      this.atMin[i] = n
      this.atMax[i] = n
    } else {
      const lo = this.mins[i]!
      const hi = this.maxs[i]!
      if (same(lo, hi)) {
        if (same(d, lo)) {
          this.atMin[i]! += n
          this.atMax[i]! += n
        } else if (d < lo) {
          this.atMax[i] = c // the old atom is now the maximum
          this.mins[i] = d
          this.atMin[i] = n
        } else {
          this.atMin[i] = c
          this.maxs[i] = d
          this.atMax[i] = n
        }
      } else if (same(d, lo)) this.atMin[i]! += n
      else if (same(d, hi)) this.atMax[i]! += n
      else if (d < lo) {
        this.mins[i] = d
        this.atMin[i] = n
      } else if (d > hi) {
        this.maxs[i] = d
        this.atMax[i] = n
      }
    }
    this.sums[i]! += n * d
    this.sumSqs[i]! += n * d * d
    this.counts[i] = c + n
  }

  /** treenetproc's bounds for `tol`, null below `minSamples` steps. */
  bounds(tol: number, minSamples: number): StepBounds | null {
    if (this.total < Math.max(minSamples, 2)) return null
    this.evictRare()
    const all: Piece[] = []
    for (let i = 0; i < STEP_BINS; i++) {
      const c = this.counts[i]!
      if (c === 0) continue
      const lo = this.mins[i]!
      const hi = this.maxs[i]!
      if (same(lo, hi) || c === 1) {
        all.push({ lo, hi: lo, c })
        continue
      }
      // An atom at the minimum, one at the maximum, and the rest spread evenly over the interval
      // that has their mean and variance (√3·sd either side), inside the two.
      const a = this.atMin[i]!
      const b = this.atMax[i]!
      const m = c - a - b
      all.push({ lo, hi: lo, c: a })
      if (m > 0) {
        const mean = (this.sums[i]! - a * lo - b * hi) / m
        const sd = Math.sqrt(Math.max(0, (this.sumSqs[i]! - a * lo * lo - b * hi * hi) / m - mean * mean))
        const from = Math.max(lo, Math.min(hi, mean - Math.sqrt(3) * sd))
        const to = Math.max(from, Math.min(hi, mean + Math.sqrt(3) * sd))
        all.push({ lo: from, hi: m > 1 ? to : from, c: m })
      }
      all.push({ lo: hi, hi, c: b })
    }
    // The exact values, each placed in order (splitting a spread piece that contains it).
    for (const [v, c] of this.exact.entries().sort((x, y) => x[0] - y[0])) {
      let j = all.length
      while (j > 0 && all[j - 1]!.lo > v) j--
      const p = all[j - 1]
      if (p && p.hi > v && p.lo < v) {
        const k = countBelow(p, v, false)
        const left = slice(p, 0, k)
        const right = slice(p, k, p.c)
        const parts: Piece[] = []
        if (left) parts.push(left)
        parts.push({ lo: v, hi: v, c })
        if (right) parts.push(right)
        all.splice(j - 1, 1, ...parts)
      } else all.splice(j, 0, { lo: v, hi: v, c })
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
