import { estimateBiomass } from '../../src/oksigen/biomass.ts'
import { buildRecordDraft, type DailyPoint, type RecordInput } from '../../src/oksigen/certificate/index.ts'

const DAY_MS = 86_400_000
export const T0 = Date.UTC(2025, 0, 15)

/** A year of daily GRO/TWD in the shape of a healthy sengon (steady growth, rain swelling in TWD). */
export function dailySeries(days: number): DailyPoint[] {
  return Array.from({ length: days }, (_, i) => ({
    day: new Date(T0 + i * DAY_MS).toISOString().slice(0, 10),
    groUm: i * 34.2,
    twdUm: 40 + 30 * Math.sin(i / 5) + (i % 17 === 0 ? 80 : 0),
  }))
}

export function recordInput(over: Partial<RecordInput> = {}): RecordInput {
  const biomassInput = { diameterCm: 6.2, heightM: 6.8, woodDensity: 0.3, heightSource: 'allometry' as const }
  return {
    treeId: 'T-7QK2M9',
    species: 'sengon',
    plantedOn: '2025-01-15',
    location: { lat: -8.219_876_5, lon: 114.369_123_4 },
    evidence: {
      initialDiameterMm: 15.04,
      currentDiameterMm: 62.0,
      diameterIncrementMm: 46.96,
      groUm: 46_960,
      daysObserved: 365,
      dailyAmplitudeUm: 84.3,
      growthUmPerMonth: 1040.2,
      alive: true,
      flags: [],
      daily: dailySeries(365),
    },
    biomass: estimateBiomass(biomassInput),
    biomassInput,
    decision: {
      by: 'auto',
      reason: 'diameter increment 46.96 mm ≥ 5 mm; 30 days of growth',
      atMs: T0 + 365 * DAY_MS,
    },
    nowMs: T0 + 365 * DAY_MS + 60_000,
    ...over,
  }
}

export const draft = (over: Partial<RecordInput> = {}) => buildRecordDraft(recordInput(over))
