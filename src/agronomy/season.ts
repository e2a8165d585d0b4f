import { KampungError } from '../errors.ts'
import { type CropId, type GrowthStage, growthStageOnDay, seasonLengthDays } from './crops.ts'

/**
 * Season calendars of the varieties grown in Banyuwangi. FAO-56 Table 11 gives one row per crop and
 * climate (rice 150 days in the tropics); local varieties are shorter, so a field gives its
 * variety's duration and the Table 11 stage fractions are scaled to it (crops.ts `seasonDays`).
 *
 * - Rice: local lowland varieties (Inpari, Ciherang, IR64 types) take 110–125 days from sowing.
 * - Maize: East Java hybrids take 95–110 days.
 * - Chili: the 120-day sweet pepper row (harvests continue for weeks; the row is a planning aid).
 *
 * Rice flowering (anthesis) comes a fixed ~30 days before harvest whatever the variety (IRRI: the
 * ripening phase lasts about 30 days; varieties differ in their vegetative phase), so
 * floweringDay = seasonDays − 30.
 */
export const SEASON_DAYS: Readonly<Record<CropId, { default: number; min: number; max: number }>> = {
  rice: { default: 115, min: 110, max: 125 },
  maize: { default: 100, min: 95, max: 110 },
  chili: { default: 120, min: 90, max: 180 },
}

/** IRRI: flowering to maturity (ripening) takes about 30 days in tropical rice. */
export const RICE_RIPENING_DAYS = 30

/** Longest and shortest seasons a field may declare (any crop): beyond them it is a typo. */
export const SEASON_DAYS_LIMITS = { min: 60, max: 240 } as const

export function seasonDaysOf(crop: CropId, seasonDays?: number): number {
  return seasonDays ?? SEASON_DAYS[crop].default
}

/** Day after planting on which rice flowers (undefined for crops where the rules do not use it). */
export function floweringDay(crop: CropId, seasonDays?: number): number | undefined {
  if (crop !== 'rice') return undefined
  return seasonDaysOf(crop, seasonDays) - RICE_RIPENING_DAYS
}

export interface SeasonDay {
  /** Whole days since planting (0 = the planting day); negative before planting. */
  daysSincePlanting: number
  seasonDays: number
  stage: GrowthStage
  /** Days until the expected harvest (seasonDays − daysSincePlanting). */
  daysToHarvest: number
  /** Days from flowering (negative before it), rice only. */
  daysFromFlowering?: number
}

/** Where a field is in its season on a day (stage from the calendar, scaled to the variety). */
export function seasonDay(crop: CropId, daysSincePlanting: number, seasonDays?: number): SeasonDay {
  if (!Number.isFinite(daysSincePlanting))
    throw new KampungError(
      'invalid_agronomy_input',
      `daysSincePlanting must be finite, got ${daysSincePlanting}`,
      {
        retryable: false,
      },
    )
  const season = seasonDaysOf(crop, seasonDays)
  const stage = daysSincePlanting < 0 ? 'initial' : growthStageOnDay(crop, daysSincePlanting, season)
  const out: SeasonDay = {
    daysSincePlanting,
    seasonDays: season,
    stage,
    daysToHarvest: season - daysSincePlanting,
  }
  const flowering = floweringDay(crop, season)
  if (flowering !== undefined) out.daysFromFlowering = daysSincePlanting - flowering
  return out
}

/** The Table 11 row length of a crop (for readers comparing with the variety's duration). */
export const tableSeasonDays = seasonLengthDays
