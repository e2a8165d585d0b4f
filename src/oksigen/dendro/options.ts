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
  /**
   * Readings less than this many intervals apart are interpolated to the grid times between them
   * (treenetproc `proc_L1`), and after cleaning holes of up to this many missing grid values are
   * filled linearly (`proc_dendro_L2` `interpol = 2.1 * reso`: two missing values).
   */
  interpolateMaxIntervals: 2.1,
  /**
   * Outlier: a step (per interval elapsed) outside q1 − tolOut·mad … q3 + tolOut·mad of the
   * series' steps after removing the central 30–70 % band (treenetproc `tol_out`); see step-stats.ts.
   */
  tolOut: 10,
  /** Jump (re-mounted sensor): the same bounds with treenetproc `tol_jump`, on the steps left after outliers. */
  tolJump: 50,
  /**
   * Unflagged runs of at most this many values between two outliers are outliers too (treenetproc
   * `frag_len = 2.1`: the return leg of a spike and fragments within a burst of bad values).
   */
  fragmentMaxValues: 2.1,
  /** No bounds (no cleaning) before this many steps are known: one day at 10 minutes. */
  statsMinSamples: 144,
  /**
   * The bounds are recomputed every this many new steps (one day; and as soon as `statsMinSamples`
   * are known). They describe the whole history, as treenetproc's do, so a day's steps move them little.
   */
  statsRefreshSteps: 144,
  /** Grid values held back (≥ 3): an outlier's fragment rule needs to see the values after it. */
  lookaheadIntervals: 3,
  /** Below this air temperature, °C, frost shrinkage or expansion is possible (treenetproc `lowtemp`). */
  lowTempC: 5,
  /**
   * In frost, outliers are judged against the frost steps' own bounds multiplied by this factor
   * (treenetproc `frost_thr`).
   */
  frostFactor: 5,
  /**
   * Whether a step in frost may be corrected as a jump. treenetproc judges jumps in frost like any
   * other; we do not (a thaw expansion or frost shrinkage can be steep, a re-mount in frost is rare).
   */
  frostJumps: false,
  /** A temperature reading older than this says nothing about frost at a grid value, ms. */
  tempMaxAgeMs: 3 * HOUR_MS,
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
  tolOut: number
  tolJump: number
  fragmentMaxValues: number
  statsMinSamples: number
  statsRefreshSteps: number
  lookaheadIntervals: number
  lowTempC: number
  frostFactor: number
  frostJumps: boolean
  tempMaxAgeMs: number
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
  // The lookahead queue must hold a fragment and the outlier after it.
  o.lookaheadIntervals = Math.max(
    Math.floor(o.fragmentMaxValues) + 1,
    Math.min(12, Math.round(o.lookaheadIntervals)),
  )
  o.statsMinSamples = Math.max(8, Math.round(o.statsMinSamples))
  o.statsRefreshSteps = Math.max(1, Math.round(o.statsRefreshSteps))
  o.historyDays = Math.max(31, Math.round(o.historyDays))
  if (!(o.intervalMs > 0) || DAY_MS % o.intervalMs !== 0) {
    throw new RangeError(`intervalMs must divide a day evenly, got ${o.intervalMs}`)
  }
  return o
}
