import { KampungError } from '../errors.ts'

/**
 * Single crop coefficients and growth-stage lengths (FAO-56 chapter 6).
 * Kc values: FAO-56 Table 12 (sub-humid climate, RHmin ≈ 45 %, u2 ≈ 2 m/s; eq. 62 would adjust
 * Kc mid/end for other climates and is not applied here).
 * Stage lengths: FAO-56 Table 11 — one of several rows per crop, chosen as noted per crop. Real
 * fields should override them with local extension-service (PPL) calendars.
 */

/** The crops the system knows: the one list. Alerts rules, the fields API and the CLI derive theirs from it. */
export const CROP_IDS = ['rice', 'maize', 'chili'] as const
export type CropId = (typeof CROP_IDS)[number]

export type GrowthStage = 'initial' | 'development' | 'mid' | 'late' | 'after-season'

export interface StageLengthsDays {
  initial: number
  development: number
  mid: number
  late: number
}

export interface CropCoefficients {
  /** FAO-56 Table 12 name of the crop the values come from. */
  faoName: string
  kcInitial: number
  kcMid: number
  kcEnd: number
  /** FAO-56 Table 11 stage lengths [days]. */
  stageLengthsDays: StageLengthsDays
  /** Deep percolation a paddy loses [mm/day]; 0 for upland crops. Not FAO-56: see water-balance.ts. */
  defaultPercolationMmPerDay: number
  note: string
}

export const CROPS: Readonly<Record<CropId, CropCoefficients>> = {
  rice: {
    faoName: 'Rice',
    kcInitial: 1.05,
    kcMid: 1.2,
    // Table 12 gives 0.90–0.60 for the end of season (0.90 if the field is harvested wet); mid-range.
    kcEnd: 0.75,
    // Table 11 row "Dec; May — Tropics", 150-day season.
    stageLengthsDays: { initial: 30, development: 30, mid: 60, late: 30 },
    // Typical sawah on clay-loam; FAO-56 leaves percolation out, irrigation practice uses 2–6 mm/day.
    defaultPercolationMmPerDay: 3,
    note: 'Flooded paddy; Kc ini assumes standing water.',
  },
  maize: {
    faoName: 'Maize, Field (grain)',
    kcInitial: 0.3,
    kcMid: 1.2,
    // Table 12: 0.60 when harvested at high grain moisture, 0.35 when the grain dries in the field.
    kcEnd: 0.35,
    // Table 11 row "Dec/Jan — Arid Climate" (the brief's choice; "June — Nigeria (humid)" is 20/35/40/30).
    stageLengthsDays: { initial: 25, development: 40, mid: 45, late: 30 },
    defaultPercolationMmPerDay: 0,
    note: 'Grain maize, dried in the field.',
  },
  chili: {
    faoName: 'Peppers, Sweet (bell)',
    kcInitial: 0.6,
    kcMid: 1.05,
    kcEnd: 0.9,
    // Table 11 row "April/June — Europe and Medit.", printed "25/30 35 40 20 125": the initial stage
    // is 25 or 30 days and the printed total (125) goes with 30; we take 25 (120 days). Chili in
    // Java often runs longer in the mid stage.
    stageLengthsDays: { initial: 25, development: 35, mid: 40, late: 20 },
    defaultPercolationMmPerDay: 0,
    note: 'FAO-56 has no chili (Capsicum frutescens) row; sweet pepper stands in.',
  },
}

export function seasonLengthDays(crop: CropId): number {
  const l = CROPS[crop].stageLengthsDays
  return l.initial + l.development + l.mid + l.late
}

function checkDay(daysSincePlanting: number): void {
  if (!Number.isFinite(daysSincePlanting) || daysSincePlanting < 0) {
    throw new KampungError(
      'invalid_agronomy_input',
      `daysSincePlanting must be a finite number ≥ 0, got ${daysSincePlanting}`,
      { retryable: false },
    )
  }
}

/**
 * A day of a variety's season as the day of the Table 11 row with the same fraction of the season
 * (stage fractions kept, FAO-56 p. 104: "…lengths of stages vary with variety"; see season.ts).
 */
function tableDay(crop: CropId, daysSincePlanting: number, seasonDays: number | undefined): number {
  if (seasonDays === undefined) return daysSincePlanting
  return (daysSincePlanting * seasonLengthDays(crop)) / seasonDays
}

/**
 * Growth stage on a day counted from planting (day 0 = planting day); with `seasonDays` (the
 * variety's duration) the Table 11 stage lengths are scaled to it.
 */
export function growthStageOnDay(crop: CropId, daysSincePlanting: number, seasonDays?: number): GrowthStage {
  checkDay(daysSincePlanting)
  daysSincePlanting = tableDay(crop, daysSincePlanting, seasonDays)
  const l = CROPS[crop].stageLengthsDays
  let end = l.initial
  if (daysSincePlanting < end) return 'initial'
  end += l.development
  if (daysSincePlanting < end) return 'development'
  end += l.mid
  if (daysSincePlanting < end) return 'mid'
  end += l.late
  if (daysSincePlanting < end) return 'late'
  return 'after-season'
}

/**
 * Kc on a day of the season (FAO-56 Fig. 34, eq. 66): constant Kc ini through the initial stage,
 * linear from Kc ini to Kc mid through development, constant Kc mid, linear from Kc mid to Kc end
 * through the late stage:
 *   Kc,i = Kc,prev + [(i − ΣL,prev) / L,stage] · (Kc,next − Kc,prev)
 * After the season (harvest) Kc end is returned; the caller should stop advising by then
 * (`growthStageOnDay` says 'after-season').
 */
export function kcOnDay(crop: CropId, daysSincePlanting: number, seasonDays?: number): number {
  const c = CROPS[crop]
  const l = c.stageLengthsDays
  const stage = growthStageOnDay(crop, daysSincePlanting, seasonDays)
  daysSincePlanting = tableDay(crop, daysSincePlanting, seasonDays)
  switch (stage) {
    case 'initial':
      return c.kcInitial
    case 'development':
      return c.kcInitial + ((daysSincePlanting - l.initial) / l.development) * (c.kcMid - c.kcInitial)
    case 'mid':
      return c.kcMid
    case 'late': {
      const lateStart = l.initial + l.development + l.mid
      return c.kcMid + ((daysSincePlanting - lateStart) / l.late) * (c.kcEnd - c.kcMid)
    }
    case 'after-season':
      return c.kcEnd
  }
}
