/**
 * Tunables of the dendrometer processing, named, with why. Defaults follow treenetproc
 * (Knüsel et al. 2021, Forests 12:765) where it has one; the rest are this project's choices.
 */

export const MINUTE_MS = 60_000
export const HOUR_MS = 3_600_000
export const DAY_MS = 86_400_000

export const DENDRO_DEFAULTS = {
  /** Regular time grid; treenetproc's usual resolution for 10-minute loggers. */
  intervalMs: 10 * MINUTE_MS,
  /** Gaps up to this many intervals are filled linearly (treenetproc `interpol = 2.1 * reso`). */
  interpolateMaxIntervals: 2.1,
  /** Outlier: a step difference beyond this many MAD units that does not persist (treenetproc `tol_out`). */
  outlierMad: 10,
  /** Jump: a step difference beyond this many MAD units that persists (treenetproc `tol_jump`). */
  jumpMad: 50,
  /**
   * Floor of the MAD, µm: point dendrometers resolve ~1 µm; a noise-free or very quiet series would
   * otherwise call a rain refill (≤ ~10 µm per 10 min) a jump.
   */
  minMadUm: 1,
  /** The MAD is taken over the step differences of the last this many intervals (3 days). */
  madWindowIntervals: 432,
  /**
   * …and refreshed every this many intervals (1 day; and once as soon as `madMinSamples` are known):
   * a MAD costs ~9 µs, per push it would be most of the processing; the noise level changes slowly.
   */
  madRefreshIntervals: 144,
  /** Before this many step differences are known the MAD is `minMadUm`. */
  madMinSamples: 36,
  /** Grid values looked at after a suspicious step to tell an outlier (returns) from a jump (stays). */
  lookaheadIntervals: 3,
  /** Local time zone offset: Banyuwangi keeps Asia/Jakarta time (WIB, UTC+7, no DST). */
  utcOffsetH: 7,
  /** Night for the night-growth share: 18:00–06:00 local. */
  nightStartHourLocal: 18,
  nightEndHourLocal: 6,
  /** Day summaries kept for charts and rates (bounded state). */
  historyDays: 60,
  /** A day counts as complete with at least this share of its grid slots. */
  completeDayCoverage: 0.8,
  /** The daily-cycle fit of a day needs at least this share of its grid slots. */
  cycleFitCoverage: 0.5,
  /** Jump events kept in the state (the count is kept in full). */
  maxJumpsKept: 20,
} as const

export interface DendroOptions {
  intervalMs: number
  interpolateMaxIntervals: number
  outlierMad: number
  jumpMad: number
  minMadUm: number
  madWindowIntervals: number
  madRefreshIntervals: number
  madMinSamples: number
  lookaheadIntervals: number
  utcOffsetH: number
  nightStartHourLocal: number
  nightEndHourLocal: number
  historyDays: number
  completeDayCoverage: number
  cycleFitCoverage: number
  maxJumpsKept: number
  /** A location fix farther than this from the first fix marks the node as moved, m. */
  maxMoveM: number
}

export const LOCATION_DEFAULTS = {
  /** Farther than this from the first GPS fix is a move (consumer GPS wanders ~5–15 m). */
  maxMoveM: 50,
} as const

export function resolveDendroOptions(options: Partial<DendroOptions> = {}): DendroOptions {
  const o: DendroOptions = { ...DENDRO_DEFAULTS, ...LOCATION_DEFAULTS, ...options }
  // The lookahead queue and the MAD window are fixed-size buffers: keep them sane.
  o.lookaheadIntervals = Math.max(1, Math.min(12, Math.round(o.lookaheadIntervals)))
  o.madWindowIntervals = Math.max(16, Math.round(o.madWindowIntervals))
  o.madRefreshIntervals = Math.max(1, Math.round(o.madRefreshIntervals))
  o.historyDays = Math.max(31, Math.round(o.historyDays))
  if (!(o.intervalMs > 0) || DAY_MS % o.intervalMs !== 0) {
    throw new RangeError(`intervalMs must divide a day evenly, got ${o.intervalMs}`)
  }
  return o
}
