/**
 * Scoring of the alert-quality benchmark (bench/alert-quality.ts), kept apart so the measurement
 * itself is tested (tests/alerts/quality-scoring.test.ts) on small hand-made series.
 *
 * Truth is a series of samples (hourly) saying whether the crop is stressed by the simulator's own
 * physics (FAO-56 Ks < 1 on the true soil; for a paddy, the true water level below −15 cm or no
 * standing water around flowering). Samples marked `excluded` (a paddy's drain-down) are neither
 * stress nor calm: they end an episode and an alert fired in them is judged like any other.
 *
 * Episodes: runs of stressed samples; two runs separated by less than `mergeGapMs` of calm are one
 * episode (to a farmer a dry spell broken by a few hours of Ks = 1 after a shower is one dry spell,
 * and the alert of the first part is his alert for the whole); an episode counts when it lasts at
 * least `minMs` (the rule's duration: shorter stress is not what the rule is asked to see).
 *
 * Recall: an episode is alerted when a stress alert was open at its onset or fired within
 * `graceMs` (6 h) after it: fired ≤ onset + grace and not resolved before the onset. An alert
 * still firing from an earlier episode counts (the farmer has it in hand). That was the previous
 * rule too; the 55 % recall of the first results was not a matching error (see bench/README.md).
 *
 * False alert: a stress alert that fired with no stressed sample (merged or not, any length) within
 * [fired − beforeMs, fired + afterMs] (default 24 h before, 48 h after: an alert up to two days ahead
 * of the stress is a useful warning, not a false one), unless it `prevented` the stress.
 */

export interface TruthSample {
  timeMs: number
  stressed: boolean
  excluded?: boolean
}

export interface Episode {
  fromMs: number
  /** First calm (or excluded) sample after the episode, or the last sample's time. */
  toMs: number
}

export interface AlertSpan {
  firedAtMs: number
  resolvedAtMs?: number
  /**
   * The stress it warned of would have come within `afterMs` had the farmer not answered it (the
   * caller's counterfactual run of the truth without the answer). A farmer who waters on the SMS
   * prevents the stress; without this the better the alert, the more "false" it would be.
   */
  prevented?: boolean
}

export const SCORING_DEFAULTS = {
  graceMs: 6 * 3_600_000,
  mergeGapMs: 24 * 3_600_000,
  beforeMs: 24 * 3_600_000,
  afterMs: 48 * 3_600_000,
}

/** Maximal runs of stressed samples (no merging, no minimum length). Samples must be in time order. */
export function stressRuns(samples: readonly TruthSample[]): Episode[] {
  const runs: Episode[] = []
  let from: number | undefined
  for (const s of samples) {
    const stressed = s.stressed && !s.excluded
    if (stressed && from === undefined) from = s.timeMs
    if (!stressed && from !== undefined) {
      runs.push({ fromMs: from, toMs: s.timeMs })
      from = undefined
    }
  }
  const last = samples.at(-1)
  if (from !== undefined && last) runs.push({ fromMs: from, toMs: last.timeMs })
  return runs
}

/**
 * Episodes: stress runs merged across calm gaps shorter than `mergeGapMs` (never across an excluded
 * sample), then those lasting at least `minMs`.
 */
export function extractEpisodes(
  samples: readonly TruthSample[],
  o: { minMs: number; mergeGapMs?: number },
): Episode[] {
  const gap = o.mergeGapMs ?? SCORING_DEFAULTS.mergeGapMs
  const excludedAt = samples.filter((s) => s.excluded).map((s) => s.timeMs)
  const merged: Episode[] = []
  for (const r of stressRuns(samples)) {
    const prev = merged.at(-1)
    const excludedBetween = prev !== undefined && excludedAt.some((t) => t >= prev.toMs && t < r.fromMs)
    if (prev && r.fromMs - prev.toMs < gap && !excludedBetween) prev.toMs = r.toMs
    else merged.push({ ...r })
  }
  return merged.filter((e) => e.toMs - e.fromMs >= o.minMs)
}

/** Was the episode alerted: an alert open at its onset, or fired within `graceMs` after it. */
export function episodeAlerted(
  e: Episode,
  alerts: readonly AlertSpan[],
  graceMs = SCORING_DEFAULTS.graceMs,
): boolean {
  return alerts.some(
    (a) => a.firedAtMs <= e.fromMs + graceMs && (a.resolvedAtMs === undefined || a.resolvedAtMs > e.fromMs),
  )
}

/**
 * Stricter: the episode got an alert of its own, fired from `afterMs` (48 h) before its onset to
 * `graceMs` after it. An alert that never resolves (a probe reading below the threshold even at
 * field capacity) "alerts" every later episode by the definition above; this one does not count it.
 */
export function episodeAlertedFresh(
  e: Episode,
  alerts: readonly AlertSpan[],
  o: { graceMs?: number; afterMs?: number } = {},
): boolean {
  const grace = o.graceMs ?? SCORING_DEFAULTS.graceMs
  const ahead = o.afterMs ?? SCORING_DEFAULTS.afterMs
  return alerts.some((a) => a.firedAtMs >= e.fromMs - ahead && a.firedAtMs <= e.fromMs + grace)
}

/** Alerts with no stress near them: none of `runs` overlaps [fired − beforeMs, fired + afterMs]. */
export function falseAlerts(
  alerts: readonly AlertSpan[],
  runs: readonly Episode[],
  o: { beforeMs?: number; afterMs?: number } = {},
): AlertSpan[] {
  const before = o.beforeMs ?? SCORING_DEFAULTS.beforeMs
  const after = o.afterMs ?? SCORING_DEFAULTS.afterMs
  return alerts.filter(
    (a) =>
      !a.prevented && !runs.some((r) => r.fromMs <= a.firedAtMs + after && r.toMs >= a.firedAtMs - before),
  )
}

export interface FieldScore {
  episodes: number
  alerted: number
  /** Episodes with an alert fired for them (episodeAlertedFresh). */
  alertedFresh: number
  falseAlerts: number
  missed: Episode[]
}

/** One field's score against its truth series. */
export function scoreField(
  samples: readonly TruthSample[],
  alerts: readonly AlertSpan[],
  o: { minMs: number; mergeGapMs?: number; graceMs?: number; beforeMs?: number; afterMs?: number },
): FieldScore {
  const episodes = extractEpisodes(samples, o)
  const missed = episodes.filter((e) => !episodeAlerted(e, alerts, o.graceMs))
  return {
    episodes: episodes.length,
    alerted: episodes.length - missed.length,
    alertedFresh: episodes.filter((e) => episodeAlertedFresh(e, alerts, o)).length,
    falseAlerts: falseAlerts(alerts, stressRuns(samples), o).length,
    missed,
  }
}

/** Value at quantile q (0–1) of an ascending-sorted list (nearest rank, lower). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}
