/**
 * Seedling species handed out for Sedekah Oksigen in Banyuwangi, with what the biomass estimate and
 * the verification need: wood density with its source, expected diameter growth, leaf phenology
 * (when a deciduous species is leafless and does not grow) and a default certificate requirement.
 *
 * Wood density ρ (oven-dry mass / green volume, g/cm³): Global Wood Density Database (Zanne et al.
 * 2009, Dryad, doi:10.5061/dryad.234; Chave et al. 2009, Ecology Letters 12:351). `woodDensityGCm3`
 * is the GWDD **v1** species mean (the mean of its entries, as shipped in the R package BIOMASS);
 * the GWDD v2 species estimate is kept beside it (`woodDensityV2GCm3`) for the sensitivity note.
 * The figures are those listed in ../../shared DOMAIN.md ("Sedekah Oksigen: tree growth");
 * `woodDensityChecked` stays false until someone compares them with the GWDD file itself — this
 * table was written from that extract, not from the database.
 *
 * Heights: measured when the officer measured one, otherwise Chave et al. 2014 eq. 6a (the
 * pantropical H–D model with the site's environmental stress E), see `estimateHeightM`.
 *
 * Expected diameter growth matches firmware-sim/models/stem.ts SPECIES (kept in step by a test,
 * not by an import: production code must not depend on the simulator).
 */

export const SPECIES_IDS = ['avocado', 'durian', 'soursop', 'teak', 'sengon', 'trembesi'] as const
export type SpeciesId = (typeof SPECIES_IDS)[number]

export interface CertificateRequirement {
  /** Diameter gained since planting, from the dendrometer (GRO, not swelling). */
  minDiameterIncrementMm: number
  /** Days of sustained growth (GRO rising) the tree must show in the recent window. */
  minSustainedGrowthDays: number
}

/**
 * Leaf phenology: a deciduous species is leafless (no transpiration, no growth) in these local
 * months, inclusive; its stem is then **dormant**, which is not a failure. Evergreen: null.
 */
export interface Phenology {
  leafless: { fromMonth: number; toMonth: number } | null
  source: string
}

export interface SpeciesInfo {
  id: SpeciesId
  /** Current accepted name. */
  scientificName: string
  /** Synonyms still in use in Indonesian forestry (e.g. Paraserianthes falcataria for sengon). */
  synonyms: readonly string[]
  localName: string
  englishName: string
  /** GWDD v1 species mean, g/cm³. */
  woodDensityGCm3: number
  /** Range of the GWDD entries behind the mean (min, max), g/cm³. */
  woodDensityRangeGCm3: readonly [number, number]
  /** Number of GWDD entries behind the mean (null: not given in the extract). */
  woodDensityN: number | null
  /** GWDD v2 species estimate, g/cm³ (null: none listed). */
  woodDensityV2GCm3: number | null
  woodDensitySource: string
  /** True only once the value has been compared with the GWDD file itself. */
  woodDensityChecked: boolean
  diameterGrowthMmPerYear: number
  phenology: Phenology
  requirement: CertificateRequirement
}

const GWDD_V1 = 'Global Wood Density Database v1 (Zanne et al. 2009), species mean, as in R package BIOMASS'
const EVERGREEN: Phenology = { leafless: null, source: 'evergreen (no leafless season in Banyuwangi)' }

/**
 * Default requirement for every species: 5 mm of real diameter growth since planting — well
 * above the dendrometer's noise and a rain swelling (a few hundred µm), and reached in ~2.5 months
 * by sengon, ~10 months by soursop at the expected rates — and 30 days of sustained growth so a
 * tree that grew once and then died does not pass. The verification policy config overrides it.
 */
export const DEFAULT_REQUIREMENT: CertificateRequirement = {
  minDiameterIncrementMm: 5,
  minSustainedGrowthDays: 30,
}

export const SPECIES: Readonly<Record<SpeciesId, SpeciesInfo>> = {
  avocado: {
    id: 'avocado',
    scientificName: 'Persea americana',
    synonyms: [],
    localName: 'alpukat',
    englishName: 'avocado',
    woodDensityGCm3: 0.55,
    woodDensityRangeGCm3: [0.516, 0.6],
    woodDensityN: 3,
    woodDensityV2GCm3: 0.455,
    woodDensitySource: GWDD_V1,
    woodDensityChecked: false,
    diameterGrowthMmPerYear: 8,
    phenology: EVERGREEN,
    requirement: DEFAULT_REQUIREMENT,
  },
  durian: {
    id: 'durian',
    scientificName: 'Durio zibethinus',
    synonyms: [],
    localName: 'durian',
    englishName: 'durian',
    woodDensityGCm3: 0.52,
    woodDensityRangeGCm3: [0.482, 0.55],
    woodDensityN: 2,
    woodDensityV2GCm3: 0.493,
    woodDensitySource: `${GWDD_V1} (South-East Asian entries)`,
    woodDensityChecked: false,
    diameterGrowthMmPerYear: 7,
    phenology: EVERGREEN,
    requirement: DEFAULT_REQUIREMENT,
  },
  soursop: {
    id: 'soursop',
    scientificName: 'Annona muricata',
    synonyms: [],
    localName: 'sirsak',
    englishName: 'soursop',
    woodDensityGCm3: 0.36,
    woodDensityRangeGCm3: [0.32, 0.4],
    woodDensityN: 2,
    woodDensityV2GCm3: 0.367,
    woodDensitySource: GWDD_V1,
    woodDensityChecked: false,
    diameterGrowthMmPerYear: 6,
    phenology: EVERGREEN,
    requirement: DEFAULT_REQUIREMENT,
  },
  teak: {
    id: 'teak',
    scientificName: 'Tectona grandis',
    synonyms: [],
    localName: 'jati',
    englishName: 'teak',
    woodDensityGCm3: 0.6,
    woodDensityRangeGCm3: [0.49, 0.72],
    woodDensityN: 36,
    woodDensityV2GCm3: 0.568,
    woodDensitySource: GWDD_V1,
    woodDensityChecked: false,
    diameterGrowthMmPerYear: 12,
    phenology: {
      leafless: { fromMonth: 7, toMonth: 10 },
      source: "deciduous in East Java's dry season, about July–October (DOMAIN.md)",
    },
    requirement: DEFAULT_REQUIREMENT,
  },
  sengon: {
    id: 'sengon',
    scientificName: 'Falcataria falcata',
    synonyms: ['Falcataria moluccana', 'Paraserianthes falcataria', 'Albizia falcataria'],
    localName: 'sengon',
    englishName: 'white albizia',
    woodDensityGCm3: 0.29,
    woodDensityRangeGCm3: [0.26, 0.33],
    woodDensityN: 3,
    woodDensityV2GCm3: 0.327,
    woodDensitySource: `${GWDD_V1} (entries under Paraserianthes falcataria / Falcataria moluccana)`,
    woodDensityChecked: false,
    diameterGrowthMmPerYear: 25,
    phenology: EVERGREEN,
    requirement: DEFAULT_REQUIREMENT,
  },
  trembesi: {
    id: 'trembesi',
    scientificName: 'Samanea saman',
    synonyms: ['Albizia saman', 'Pithecellobium saman'],
    localName: 'trembesi',
    englishName: 'rain tree',
    woodDensityGCm3: 0.5,
    // The extract gives n 9 but no range: the range is the mean itself until the GWDD is read.
    woodDensityRangeGCm3: [0.5, 0.5],
    woodDensityN: 9,
    woodDensityV2GCm3: 0.529,
    woodDensitySource: GWDD_V1,
    woodDensityChecked: false,
    diameterGrowthMmPerYear: 17,
    phenology: EVERGREEN,
    requirement: DEFAULT_REQUIREMENT,
  },
}

export function isSpeciesId(value: unknown): value is SpeciesId {
  return typeof value === 'string' && (SPECIES_IDS as readonly string[]).includes(value)
}

export function getSpecies(id: string): SpeciesInfo | undefined {
  return isSpeciesId(id) ? SPECIES[id] : undefined
}

/**
 * Environmental stress E of Chave et al. 2014 eq. 6a. The paper publishes E as a global raster;
 * this project has not read it for Banyuwangi, so the default is 0 (E = 0 gives H 25.4 m at
 * D 40 cm). Set the site's value with `oksigen.heightStressE` in the config.
 */
export const DEFAULT_HEIGHT_STRESS_E = 0

/** Chave et al. 2014 eq. 6a: ln H = 0.893 − E + 0.760 ln D − 0.0340 (ln D)², D in cm, H in m. */
export function chaveHeightM(diameterCm: number, stressE: number = DEFAULT_HEIGHT_STRESS_E): number {
  const lnD = Math.log(diameterCm)
  return Math.exp(0.893 - stressE + 0.76 * lnD - 0.034 * lnD * lnD)
}

export type HeightSource = 'measured' | 'scaled-from-measured' | 'chave2014-eq6a'

/**
 * Height [m] of a tree at diameter at breast height D [cm].
 * - `measurement` taken at this very diameter (within 1 %): that height, `measured`;
 * - a measurement at another diameter D₀: H₀ · H6a(D) / H6a(D₀) — eq. 6a's shape through the
 *   tree's own measurement, `scaled-from-measured`;
 * - none: Chave 2014 eq. 6a with E (`chave2014-eq6a`).
 * `species` is kept for a species-specific relation once there are local data.
 */
export function estimateHeightM(
  _species: SpeciesId,
  diameterCm: number,
  measurement?: { heightM: number; diameterCm: number },
  options: { stressE?: number } = {},
): { heightM: number; source: HeightSource; stressE?: number } {
  if (!(Number.isFinite(diameterCm) && diameterCm > 0))
    throw new RangeError(`diameterCm: expected a positive finite number, got ${diameterCm}`)
  const e = options.stressE ?? DEFAULT_HEIGHT_STRESS_E
  if (measurement && measurement.heightM > 0 && measurement.diameterCm > 0) {
    if (Math.abs(diameterCm / measurement.diameterCm - 1) <= 0.01)
      return { heightM: measurement.heightM, source: 'measured' }
    const heightM =
      (measurement.heightM * chaveHeightM(diameterCm, e)) / chaveHeightM(measurement.diameterCm, e)
    return { heightM, source: 'scaled-from-measured' }
  }
  return { heightM: chaveHeightM(diameterCm, e), source: 'chave2014-eq6a', stressE: e }
}

/** Is the species leafless (dormant by phenology) in this local month (1–12)? */
export function isLeaflessMonth(species: SpeciesInfo, month: number): boolean {
  const l = species.phenology.leafless
  if (!l) return false
  return l.fromMonth <= l.toMonth
    ? month >= l.fromMonth && month <= l.toMonth
    : month >= l.fromMonth || month <= l.toMonth
}
