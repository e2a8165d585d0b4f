import { z } from 'zod'
import type { TreeState } from './repo.ts'

/**
 * Verification policy per certificate type, from config: what a tree must show before its
 * certificate is released. Every field has a unit in its name.
 */
export const policySchema = z
  .object({
    /** Stem diameter increment since the sensor was mounted at planting; default: the species' requirement. */
    minIncrementMm: z.number().positive().optional(),
    /** The growth must still be going on: mean over the last 30 days at least this. */
    minGrowthUmPerDay: z.number().nonnegative().default(5),
    /** Days of data before any decision. */
    minObservedDays: z.number().int().min(1).default(7),
    /** Release the certificate on eligibility (true) or wait for an officer's decision (false). */
    autoVerify: z.boolean().default(true),
    /** Tree water deficit beyond which a tree with stalled growth is at risk of drought. */
    droughtTwdUm: z.number().positive().default(150),
  })
  .strict()

export type Policy = z.infer<typeof policySchema>

/** What the dendrometer processing says about a tree, in the units the policy uses. */
export interface GrowthEvidence {
  daysObserved: number
  groUm: number
  twdUm: number
  growthUmPerDay7d: number
  growthUmPerDay30d: number
  dailyAmplitudeUm: number
  alive: boolean | 'unknown'
  /** No growth expected now: the species' leafless season or a wet spell (life.ts). */
  dormancy?: 'leafless' | 'wet_spell' | null
  flags: Array<{
    kind: string
    severity: 'failure' | 'warning' | 'info'
    message: string
    sinceMs?: number | null
    evidence?: Record<string, unknown>
  }>
  lastTimeMs?: number
}

/**
 * Why, as a code with its numbers, so a page can say it in its own language (the console's
 * Indonesian); `reason` is the same in English words.
 */
export type ReasonCode =
  | 'failure_flags'
  | 'awaiting_data'
  | 'data_stopped'
  | 'dormant_leafless'
  | 'dormant_wet_spell'
  | 'drought'
  | 'eligible'
  | 'growth_stalled'
  | 'increment_short'
  | 'growth_slow'
  | 'cycle_unconfirmed'

export interface Assessment {
  state: TreeState
  reason: string
  reasonCode: ReasonCode
  /** The numbers (and for failure_flags the flags' kinds) of `reason`. */
  reasonVars: Record<string, number | string>
  /** Share of the required increment reached, 0–100. */
  progressPct: number
  /** When the increment is projected to be reached at the recent growth rate. */
  projectedEligibleMs?: number
}

const DAY_MS = 86_400_000

/**
 * The state a tree's evidence supports now. Failure (no growth over a growing season, tampered)
 * wins over everything; then lack of data; then data stopped (at risk); then dormancy; then risk
 * (drought, stalled growth); then eligibility.
 */
export function assess(
  e: GrowthEvidence,
  policy: Policy & { minIncrementMm: number },
  nowMs: number,
): Assessment {
  const incrementMm = e.groUm / 1000
  const progressPct = Math.max(0, Math.min(100, (100 * incrementMm) / policy.minIncrementMm))
  // dead (no growth over a growing season), a post's thermal cycle or tampered (node moved): never
  // verified. Data that stopped is a risk to look at, not proof of anything.
  const failing = e.flags.filter((f) => f.severity === 'failure' && f.kind !== 'data_stopped')
  if (failing.length > 0) {
    return {
      state: 'failed',
      reason: failing.map((f) => f.message).join('; '),
      reasonCode: 'failure_flags',
      reasonVars: { flags: failing.map((f) => f.kind).join(',') },
      progressPct,
    }
  }
  if (e.daysObserved < policy.minObservedDays) {
    return {
      state: 'awaiting_data',
      reason: `${e.daysObserved} of ${policy.minObservedDays} days of dendrometer data`,
      reasonCode: 'awaiting_data',
      reasonVars: { days: e.daysObserved, needed: policy.minObservedDays },
      progressPct,
    }
  }
  const stopped = e.flags.find((f) => f.kind === 'data_stopped')
  if (stopped)
    return {
      state: 'at_risk',
      reason: stopped.message,
      reasonCode: 'data_stopped',
      reasonVars: { silenceH: Number(stopped.evidence?.silenceH ?? 0) },
      progressPct,
    }
  // Dormancy is not a failure and not a risk: a leafless teak and a tree in a week of rain need not
  // grow. A tree whose growth is proven (alive) is simply growing, rain or not.
  if (e.dormancy && e.alive !== true) {
    return {
      state: 'dormant',
      reason:
        e.dormancy === 'leafless'
          ? 'dormant: leafless season of the species (no growth expected; not a failure)'
          : 'dormant: wet spell (hardly any transpiration; not a failure)',
      reasonCode: e.dormancy === 'leafless' ? 'dormant_leafless' : 'dormant_wet_spell',
      reasonVars: {},
      progressPct,
    }
  }
  if (e.growthUmPerDay7d <= 0 && e.twdUm >= policy.droughtTwdUm) {
    return {
      state: 'at_risk',
      reason: `drought stress: no growth for 7 days and tree water deficit ${Math.round(e.twdUm)} µm (≥ ${policy.droughtTwdUm})`,
      reasonCode: 'drought',
      reasonVars: { twdUm: Math.round(e.twdUm), limitUm: policy.droughtTwdUm },
      progressPct,
    }
  }
  const remainingUm = Math.max(0, policy.minIncrementMm * 1000 - e.groUm)
  const rate = e.growthUmPerDay30d
  const projectedEligibleMs =
    remainingUm === 0 ? nowMs : rate > 0 ? nowMs + (remainingUm / rate) * DAY_MS : undefined
  if (remainingUm === 0 && rate >= policy.minGrowthUmPerDay && e.alive === true) {
    return {
      state: 'eligible',
      reason: `diameter +${incrementMm.toFixed(2)} mm (≥ ${policy.minIncrementMm}), growing ${rate.toFixed(1)} µm/day, alive`,
      reasonCode: 'eligible',
      reasonVars: { incrementMm, minIncrementMm: policy.minIncrementMm, growthUmPerDay: rate },
      progressPct,
      projectedEligibleMs,
    }
  }
  if (rate <= 0 && e.daysObserved >= 30) {
    return {
      state: 'at_risk',
      reason: 'growth stalled: no net growth over the last 30 days',
      reasonCode: 'growth_stalled',
      reasonVars: {},
      progressPct,
    }
  }
  const why: Pick<Assessment, 'reason' | 'reasonCode' | 'reasonVars'> =
    remainingUm > 0
      ? {
          reason: `diameter +${incrementMm.toFixed(2)} of ${policy.minIncrementMm} mm`,
          reasonCode: 'increment_short',
          reasonVars: { incrementMm, minIncrementMm: policy.minIncrementMm },
        }
      : rate < policy.minGrowthUmPerDay
        ? {
            reason: `growth ${rate.toFixed(1)} µm/day below ${policy.minGrowthUmPerDay}`,
            reasonCode: 'growth_slow',
            reasonVars: { growthUmPerDay: rate, minGrowthUmPerDay: policy.minGrowthUmPerDay },
          }
        : { reason: 'daily cycle not yet confirmed', reasonCode: 'cycle_unconfirmed', reasonVars: {} }
  return { state: 'growing', ...why, progressPct, projectedEligibleMs }
}
