import { type BiomassEstimate, estimateBiomass } from './biomass.ts'
import { estimateHeightM, type HeightSource, type SpeciesId, type SpeciesInfo } from './species.ts'

/**
 * The biomass and O2 estimate of one tree from what the officer measured and what the dendrometer
 * saw since — never from the stem diameter at the dendrometer (Chave 2014 eq. 4 was fitted on the
 * diameter at breast height, 1.3 m; a dendrometer ~30 cm up measures a thicker stem: 23–75 % too
 * much biomass, DOMAIN.md).
 *
 * DBH now = the latest DBH the officer measured + the dendrometer's irreversible growth (GRO)
 * since that measurement. ASSUMPTION: the stem's diameter grows by the same amount at 1.3 m as at
 * the dendrometer's mounting height (new wood is laid down as a sheath of about even thickness
 * along the young bole); it is restated on every certificate, and a new measurement replaces it.
 * Without a DBH measurement (or for a sapling below 1.3 m) there is no DBH-based estimate: the
 * result says so instead of giving a number.
 */

/** Breast height, m: a tree shorter than this has no DBH. */
export const BREAST_HEIGHT_M = 1.3

export const DBH_ASSUMPTION =
  'DBH = measured DBH + the diameter growth (GRO) the dendrometer recorded since; assumes the stem grows as much at 1.3 m as at the dendrometer'

/** One officer measurement: DBH and/or height, with the tree's GRO when it was recorded. */
export interface TreeMeasurement {
  atMs: number
  dbhCm?: number
  heightM?: number
  /** The tree's GRO (µm of diameter at the dendrometer) when the measurement was recorded. */
  groUmAt: number
  by: string
}

export type TreeEstimate =
  | {
      method: 'chave2014-eq4'
      dbhCm: number
      dbhMeasuredCm: number
      dbhMeasuredAtMs: number
      /** Dendrometer growth added since the DBH measurement, cm. */
      dbhIncrementCm: number
      heightM: number
      heightSource: HeightSource
      /** The measured height the estimate rests on (measured / scaled-from-measured). */
      heightMeasuredM?: number
      /** E of Chave 2014 eq. 6a when the height came from it. */
      stressE?: number
      woodDensityGCm3: number
      woodDensitySource: string
      woodDensityN: number | null
      /** eq. 4's result; below D 5 cm `inFittedRange` false and amounts null (`extrapolated` rough). */
      biomass: BiomassEstimate
    }
  | {
      method: 'none'
      /** Why there is no DBH-based estimate yet. */
      note: string
      woodDensityGCm3: number
      woodDensitySource: string
      woodDensityN: number | null
    }

export interface TreeEstimateInput {
  species: Pick<SpeciesInfo, 'woodDensityGCm3' | 'woodDensitySource' | 'woodDensityN'> & { id: SpeciesId }
  measurements: readonly TreeMeasurement[]
  /** GRO now, µm of diameter. */
  groUm: number
  /** Height at registration (older registrations have only this). */
  initialHeightM?: number
  /** Chave 2014 eq. 6a E (default species.ts DEFAULT_HEIGHT_STRESS_E). */
  stressE?: number
}

export function estimateTree(input: TreeEstimateInput): TreeEstimate {
  const sp = input.species
  const rho = {
    woodDensityGCm3: sp.woodDensityGCm3,
    woodDensitySource: sp.woodDensitySource,
    woodDensityN: sp.woodDensityN,
  }
  const byTime = [...input.measurements].sort((a, b) => a.atMs - b.atMs)
  const dbhs = byTime.filter((m) => m.dbhCm !== undefined && m.dbhCm > 0)
  const lastDbh = dbhs.at(-1)
  if (!lastDbh) {
    const heights = byTime.filter((m) => m.heightM !== undefined)
    const h = heights.at(-1)?.heightM ?? input.initialHeightM
    const note =
      h !== undefined && h < BREAST_HEIGHT_M
        ? `No DBH-based estimate yet: the tree is ${h.toFixed(2)} m tall, below breast height (${BREAST_HEIGHT_M} m), so it has no DBH.`
        : 'No DBH-based estimate yet: no diameter at breast height (1.3 m) has been measured (kampung trees measure --dbh-cm).'
    return { method: 'none', note, ...rho }
  }
  /** DBH at the time of a measurement from the DBH measured at or before it and the growth since. */
  const dbhAt = (m: TreeMeasurement): number | undefined => {
    if (m.dbhCm !== undefined && m.dbhCm > 0) return m.dbhCm
    const before = dbhs.filter((d) => d.atMs <= m.atMs).at(-1)
    return before ? before.dbhCm! + Math.max(0, m.groUmAt - before.groUmAt) / 10_000 : undefined
  }
  const dbhIncrementCm = Math.max(0, input.groUm - lastDbh.groUmAt) / 10_000
  const dbhCm = lastDbh.dbhCm! + dbhIncrementCm
  // the latest height measured on a tree past breast height, with its DBH at that time
  const heightRef = byTime
    .filter((m) => m.heightM !== undefined && m.heightM >= BREAST_HEIGHT_M && dbhAt(m) !== undefined)
    .at(-1)
  const h = estimateHeightM(
    sp.id,
    dbhCm,
    heightRef ? { heightM: heightRef.heightM!, diameterCm: dbhAt(heightRef)! } : undefined,
    { stressE: input.stressE },
  )
  return {
    method: 'chave2014-eq4',
    dbhCm,
    dbhMeasuredCm: lastDbh.dbhCm!,
    dbhMeasuredAtMs: lastDbh.atMs,
    dbhIncrementCm,
    heightM: h.heightM,
    heightSource: h.source,
    ...(heightRef ? { heightMeasuredM: heightRef.heightM } : {}),
    ...(h.stressE !== undefined ? { stressE: h.stressE } : {}),
    ...rho,
    biomass: estimateBiomass(
      { diameterCm: dbhCm, heightM: h.heightM, woodDensity: sp.woodDensityGCm3 },
      { extrapolate: true },
    ),
  }
}
