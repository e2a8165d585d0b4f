import type { LifeEvidence } from './life.ts'
import { HOUR_MS } from './options.ts'
import type { DendroState } from './processor.ts'

/**
 * Is the tree alive, and is the evidence untampered? Pure function of a `DendroState`.
 *
 * A living stem shrinks by day (transpiration) and refills at night, every day (Zweifel 2016;
 * DOMAIN.md): the 24 h harmonic fitted to each day (see DendroDay) must be (a) large — above
 * 0.02 % of the diameter and 3× the sensor noise —, (b) in a consistent phase from day to day and
 * (c) in the phase of a stem: trough in the afternoon. A dead tree has (a) and (b) fail; a
 * dendrometer on a post has a small, steady thermal cycle peaking in the afternoon: (a) and (c) fail.
 * The peak-to-peak of a fitted harmonic is used instead of max − min, which for white noise alone
 * is ~5σ over 144 values a day and would pass a post as a tree.
 *
 * That cycle check alone is what `assessLiveness(state)` does without `life`. The verifier always
 * passes `life` (LifeTracker evidence, life.ts): then a daily cycle is necessary evidence of nothing —
 * dead wood and posts have one too, dormant trees lack it — so the cycle flags become warnings
 * (info while dormant), `alive` means irreversible growth with shrinkage coupled to VPD, and a tree
 * fails only after a growing season without growth (`no_growth_in_growing_season`).
 */

export type FlagKind =
  | 'awaiting_data'
  | 'no_daily_cycle'
  | 'wrong_phase'
  | 'data_stopped'
  | 'location_changed'
  | 'jump_corrected'
  | 'growth_not_at_night'
  | 'dormant'
  | 'no_growth_in_growing_season'
  | 'growth_not_proven'
  | 'shrinkage_not_coupled'
  | 'no_village_weather'

/** failure: the tree cannot be verified while it stands; warning: look at it; info: for the record. */
export type FlagSeverity = 'failure' | 'warning' | 'info'

export interface Flag {
  kind: FlagKind
  severity: FlagSeverity
  sinceMs: number | null
  evidence: Record<string, number | null>
  message: string
}

export interface Liveness {
  alive: boolean | 'unknown'
  flags: Flag[]
  /** With `life`: the tree's dormancy now (leafless season, wet spell), null when none. */
  dormancy?: 'leafless' | 'wet_spell' | null
}

export const LIVENESS_DEFAULTS = {
  /** Days (complete, with a cycle fit) the cycle is judged over. */
  cycleDays: 5,
  /** Peak-to-peak of the mean daily harmonic must exceed this share of the diameter, % (typical 0.1–0.2 %). */
  minAmplitudePctOfDiameter: 0.02,
  /** …and this many times the sensor noise σ. */
  minAmplitudeNoiseFactor: 3,
  /** Resultant length of the daily phase vectors: 1 = same phase every day, ~1/√N for noise. */
  minPhaseConsistency: 0.6,
  /** Hour (local) of the fitted cycle's trough must lie in [from, to): afternoon shrinkage. */
  troughFromHourLocal: 10,
  troughToHourLocal: 21,
  /** No reading for longer than this is "data stopped". */
  maxSilenceMs: 6 * HOUR_MS,
  /** A node farther than this from its first fix has been moved, m. */
  maxMoveM: 50,
  /** Below this share of growth at night (with real growth over 30 days) the growth pattern is odd. */
  minNightGrowthShare: 0.3,
  /** "Real growth" for the night check: at least this many µm over 30 days. */
  minGrowthForNightCheckUm: 50,
} as const

export type LivenessOptions = { [K in keyof typeof LIVENESS_DEFAULTS]: number }

export interface CycleEvidence {
  days: number
  /** Peak-to-peak of the mean (vector-averaged) daily harmonic, µm. */
  amplitudeUm: number
  thresholdUm: number
  amplitudePctOfDiameter: number
  noiseUm: number
  phaseConsistency: number
  /** Local hour of the fitted trough (diameter minimum) and peak. */
  troughHourLocal: number
  peakHourLocal: number
  meanR2: number
}

/** The daily cycle over the last `cycleDays` days with a fit, or null when there are fewer. */
export function dailyCycle(state: DendroState, options: Partial<LivenessOptions> = {}): CycleEvidence | null {
  const o = { ...LIVENESS_DEFAULTS, ...options }
  const fitted = state.history.filter((d) => d.cycleCosUm !== null && d.cycleSinUm !== null)
  if (fitted.length < o.cycleDays || state.correctedDiameterUm === null) return null
  const days = fitted.slice(-o.cycleDays)
  let c = 0
  let s = 0
  let norm = 0
  let r2 = 0
  for (const d of days) {
    c += d.cycleCosUm!
    s += d.cycleSinUm!
    norm += Math.hypot(d.cycleCosUm!, d.cycleSinUm!)
    r2 += d.cycleR2 ?? 0
  }
  c /= days.length
  s /= days.length
  norm /= days.length
  const amplitudeUm = 2 * Math.hypot(c, s)
  // The fit's θ is 2π·(local hour)/24 measured from local midnight: the peak is at atan2(s, c).
  const peakHourLocal = ((((Math.atan2(s, c) * 24) / (2 * Math.PI)) % 24) + 24) % 24
  const diameterUm = Math.abs(state.correctedDiameterUm)
  const thresholdUm = Math.max(
    (o.minAmplitudePctOfDiameter / 100) * diameterUm,
    o.minAmplitudeNoiseFactor * state.noiseUm,
  )
  return {
    days: days.length,
    amplitudeUm,
    thresholdUm,
    amplitudePctOfDiameter: diameterUm > 0 ? (100 * amplitudeUm) / diameterUm : 0,
    noiseUm: state.noiseUm,
    phaseConsistency: norm > 0 ? Math.hypot(c, s) / norm : 0,
    troughHourLocal: (peakHourLocal + 12) % 24,
    peakHourLocal,
    meanR2: r2 / days.length,
  }
}

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits

/** Liveness and tamper evidence as of `nowMs` (default: the newest reading's time). */
export function assessLiveness(
  state: DendroState,
  options: Partial<LivenessOptions> & { nowMs?: number; life?: LifeEvidence } = {},
): Liveness {
  const life = options.life
  const o = { ...LIVENESS_DEFAULTS, ...options }
  const flags: Flag[] = []
  let alive: boolean | 'unknown' = 'unknown'
  const firstFitted = state.history.find((d) => d.cycleCosUm !== null)
  const cycle = dailyCycle(state, o)

  if (!cycle) {
    flags.push({
      kind: 'awaiting_data',
      severity: 'info',
      sinceMs: state.history[0]?.dayStartMs ?? state.lastTimeMs,
      evidence: {
        daysWithCycleFit: state.history.filter((d) => d.cycleCosUm !== null).length,
        needed: o.cycleDays,
      },
      message: `fewer than ${o.cycleDays} days of data to judge the daily cycle`,
    })
  } else {
    const since = state.history.at(-cycle.days)?.dayStartMs ?? firstFitted?.dayStartMs ?? null
    const evidence = {
      amplitudeUm: round(cycle.amplitudeUm),
      thresholdUm: round(cycle.thresholdUm),
      amplitudePctOfDiameter: round(cycle.amplitudePctOfDiameter, 4),
      noiseUm: round(cycle.noiseUm),
      phaseConsistency: round(cycle.phaseConsistency, 3),
      troughHourLocal: round(cycle.troughHourLocal, 1),
      meanR2: round(cycle.meanR2, 3),
      days: cycle.days,
    }
    const bigEnough = cycle.amplitudeUm > cycle.thresholdUm
    const steady = cycle.phaseConsistency >= o.minPhaseConsistency
    const inPhase =
      cycle.troughHourLocal >= o.troughFromHourLocal && cycle.troughHourLocal < o.troughToHourLocal
    const dormant = life?.dormancy != null
    if (!bigEnough || !steady) {
      flags.push({
        kind: 'no_daily_cycle',
        severity: life ? (dormant ? 'info' : 'warning') : 'failure',
        sinceMs: since,
        evidence,
        message: !bigEnough
          ? `daily cycle ${evidence.amplitudeUm} µm is below ${evidence.thresholdUm} µm (0.02 % of diameter, 3× noise)`
          : `no steady 24 h rhythm (phase consistency ${evidence.phaseConsistency} < ${o.minPhaseConsistency})`,
      })
    }
    if (steady && !inPhase) {
      flags.push({
        kind: 'wrong_phase',
        // A large, steady cycle thickest in the afternoon is a post's or a frame's thermal cycle:
        // evidence of tampering whatever the season. A small one, or one while dormant, is not.
        severity: !life || (bigEnough && !dormant) ? 'failure' : 'warning',
        sinceMs: since,
        evidence,
        message: `the stem is thinnest at ${evidence.troughHourLocal} h local; a living stem is thinnest in the afternoon (${o.troughFromHourLocal}–${o.troughToHourLocal} h): a sensor on a post or not on a tree?`,
      })
    }
    alive = bigEnough && steady && inPhase
  }
  if (life) alive = lifeFlags(life, cycle, flags, state)

  const w30Increase =
    state.growthUmPerDay30d === null ? 0 : state.growthUmPerDay30d * Math.min(30, state.history.length)
  if (
    state.nightGrowthShare !== null &&
    state.nightGrowthShare < o.minNightGrowthShare &&
    w30Increase >= o.minGrowthForNightCheckUm
  ) {
    flags.push({
      kind: 'growth_not_at_night',
      severity: 'warning',
      sinceMs: state.history.at(-Math.min(30, state.history.length))?.dayStartMs ?? null,
      evidence: { nightGrowthShare: round(state.nightGrowthShare, 3), growthUm30d: round(w30Increase) },
      message: 'most growth happened by day; stems grow mostly at night',
    })
  }

  const nowMs = options.nowMs ?? state.lastTimeMs
  if (nowMs !== null && nowMs !== undefined && state.lastTimeMs !== null) {
    const silenceMs = nowMs - state.lastTimeMs
    if (silenceMs > o.maxSilenceMs) {
      flags.push({
        kind: 'data_stopped',
        severity: 'failure',
        sinceMs: state.lastTimeMs,
        evidence: {
          silenceH: round(silenceMs / HOUR_MS, 1),
          maxSilenceH: round(o.maxSilenceMs / HOUR_MS, 1),
        },
        message: `no reading for ${round(silenceMs / HOUR_MS, 1)} h`,
      })
      // What was true before the silence is not known to be true now.
      alive = 'unknown'
    }
  }

  const loc = state.location
  if (loc && (loc.lastMoveM > o.maxMoveM || loc.farthestMoveM > o.maxMoveM)) {
    flags.push({
      kind: 'location_changed',
      severity: 'failure',
      sinceMs: loc.movedSinceMs ?? loc.lastTimeMs,
      evidence: {
        distanceM: round(loc.lastMoveM, 1),
        farthestM: round(loc.farthestMoveM, 1),
        maxMoveM: o.maxMoveM,
        firstLatDeg: loc.firstLatDeg,
        firstLonDeg: loc.firstLonDeg,
        lastLatDeg: loc.lastLatDeg,
        lastLonDeg: loc.lastLonDeg,
      },
      message: `the node is ${Math.round(loc.lastMoveM)} m from where it was registered (farthest ${Math.round(loc.farthestMoveM)} m)`,
    })
  }

  for (const j of state.jumps) {
    flags.push({
      kind: 'jump_corrected',
      severity: 'info',
      sinceMs: j.timeMs,
      evidence: { offsetUm: round(j.offsetUm, 1) },
      message: `sensor jump of ${round(j.offsetUm, 1)} µm (re-mounted?) corrected, not counted as growth`,
    })
  }

  return life ? { alive, flags, dormancy: life.dormancy } : { alive, flags }
}

/**
 * The life rule's flags (see life.ts) and `alive`: growth proven and its shrinkage not decoupled
 * from VPD → true; no growth → false (a failure only after `failAfterSeasonDays` growing-season
 * days); dormant → the cycle's absence is expected and nothing counts against the tree.
 */
function lifeFlags(
  life: LifeEvidence,
  cycle: CycleEvidence | null,
  flags: Flag[],
  state: DendroState,
): boolean | 'unknown' {
  const since = life.lastProvenDayMs ?? state.history[0]?.dayStartMs ?? null
  const c = life.coupling
  const couplingEvidence = {
    couplingR: c.r === null ? null : round(c.r, 3),
    couplingDays: c.days,
    vpdSdKpa: c.vpdSdKpa === null ? null : round(c.vpdSdKpa, 3),
  }
  const growthEvidence = {
    growthDays: life.growthDays,
    growthUmWindow: round(life.growthUmWindow, 1),
    meanShrinkUm: life.meanShrinkUm === null ? null : round(life.meanShrinkUm, 1),
    seasonDaysWithoutGrowth: life.seasonDaysWithoutGrowth,
    failAfterSeasonDays: life.failAfterSeasonDays,
  }
  if (life.dormancy) {
    flags.push({
      kind: 'dormant',
      severity: 'info',
      sinceMs: state.history.at(-1)?.dayStartMs ?? null,
      evidence: { ...growthEvidence },
      message:
        life.dormancy === 'leafless'
          ? 'dormant: the species is leafless in this season (no transpiration, no growth expected)'
          : 'dormant: wet spell (air near saturation, hardly any transpiration)',
    })
  }
  if (c.status === 'unknown' && life.weatherDays === 0) {
    flags.push({
      kind: 'no_village_weather',
      severity: 'info',
      sinceMs: null,
      evidence: couplingEvidence,
      message: 'no weather station readings from the village: shrinkage not checked against VPD',
    })
  }
  const cycleWords = !cycle
    ? 'no daily cycle judged yet'
    : cycle.amplitudeUm > cycle.thresholdUm
      ? `its daily cycle (${round(cycle.amplitudeUm, 1)} µm) is what wood does with air humidity, not proof of life`
      : `no daily cycle (${round(cycle.amplitudeUm, 1)} µm)`
  if (life.failed) {
    flags.push({
      kind: 'no_growth_in_growing_season',
      severity: 'failure',
      sinceMs: since,
      evidence: growthEvidence,
      message: `no irreversible growth over ${life.seasonDaysWithoutGrowth} growing-season days (limit ${life.failAfterSeasonDays}); ${cycleWords}`,
    })
    return false
  }
  if (!life.growthProven) {
    if (!life.dormancy && life.daysSeen > 0) {
      flags.push({
        kind: 'growth_not_proven',
        severity: 'warning',
        sinceMs: since,
        evidence: growthEvidence,
        message: `growth not proven: ${life.growthDays} growth days and ${round(life.growthUmWindow, 0)} µm in the last 30 days; ${cycleWords}`,
      })
    }
    return life.daysSeen === 0 ? 'unknown' : false
  }
  if (c.status === 'not_coupled') {
    flags.push({
      kind: 'shrinkage_not_coupled',
      severity: 'warning',
      sinceMs: since,
      evidence: couplingEvidence,
      message: `daily shrinkage does not follow atmospheric demand (r ${round(c.r, 2)} with VPD over ${c.days} days, needs ≥ 0.3)`,
    })
    return false
  }
  return true
}

/** True when any flag is a failure (the tree cannot be verified). */
export function hasFailure(liveness: Liveness): boolean {
  return liveness.flags.some((f) => f.severity === 'failure')
}
