/**
 * Seedling species handed out for Sedekah Oksigen in Banyuwangi, with what the biomass estimate and
 * the verification policy need: wood density, expected diameter growth, a sapling height–diameter
 * relation and a default certificate requirement.
 *
 * Wood density ρ (oven-dry mass / green volume, g/cm³): Global Wood Density Database (Zanne et al.
 * 2009, Dryad, doi:10.5061/dryad.234; Chave et al. 2009, Ecology Letters 12:351). The values below
 * are species means as remembered from the GWDD and the literature it compiles, NOT yet checked
 * entry by entry: `woodDensityChecked: false` marks each one to be confirmed against the GWDD
 * (give the species mean over its Tropical Asia entries) before certificates quote O2 figures.
 *
 * Expected diameter growth matches firmware-sim/models/stem.ts SPECIES (kept in step by a test,
 * not by an import: production code must not depend on the simulator).
 */

export const SPECIES_IDS = ['avocado', 'durian', 'soursop', 'teak', 'sengon', 'trembesi'] as const
export type SpeciesId = (typeof SPECIES_IDS)[number]

export interface HeightDiameterRelation {
  /** H [m] = a · D[cm]^b, capped at maxHeightM. */
  a: number
  b: number
  maxHeightM: number
}

export interface CertificateRequirement {
  /** Diameter gained since planting, from the dendrometer (GRO, not swelling). */
  minDiameterIncrementMm: number
  /** Days of sustained growth (GRO rising) the tree must show in the recent window. */
  minSustainedGrowthDays: number
}

export interface SpeciesInfo {
  id: SpeciesId
  scientificName: string
  /** Synonyms still in use in Indonesian forestry (e.g. Paraserianthes falcataria for sengon). */
  synonyms: readonly string[]
  localName: string
  englishName: string
  woodDensityGCm3: number
  /** Range seen in the literature, for the page and for a sensitivity note. */
  woodDensityRangeGCm3: readonly [number, number]
  woodDensitySource: string
  /** False until the value has been checked against the GWDD entry by entry. */
  woodDensityChecked: boolean
  diameterGrowthMmPerYear: number
  heightDiameter: HeightDiameterRelation
  requirement: CertificateRequirement
}

const GWDD = 'Global Wood Density Database (Zanne et al. 2009)'

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

/*
 * Height–diameter relations are an ASSUMPTION, not fitted data: a power law through plausible
 * sapling shapes (a grafted fruit tree of D 10 cm is ~5–7 m tall, a plantation sengon of D 10 cm
 * ~11 m, teak ~9–10 m). Prefer a measured height (the registry stores the height at planting; see
 * `estimateHeightM`'s `reference`) and replace these with local H–D data when there is some.
 */
export const SPECIES: Readonly<Record<SpeciesId, SpeciesInfo>> = {
  avocado: {
    id: 'avocado',
    scientificName: 'Persea americana',
    synonyms: [],
    localName: 'alpukat',
    englishName: 'avocado',
    woodDensityGCm3: 0.5, // GWDD, to be checked
    woodDensityRangeGCm3: [0.43, 0.6],
    woodDensitySource: GWDD,
    woodDensityChecked: false,
    diameterGrowthMmPerYear: 8,
    heightDiameter: { a: 0.9, b: 0.85, maxHeightM: 15 },
    requirement: DEFAULT_REQUIREMENT,
  },
  durian: {
    id: 'durian',
    scientificName: 'Durio zibethinus',
    synonyms: [],
    localName: 'durian',
    englishName: 'durian',
    woodDensityGCm3: 0.55, // GWDD, to be checked
    woodDensityRangeGCm3: [0.5, 0.65],
    woodDensitySource: GWDD,
    woodDensityChecked: false,
    diameterGrowthMmPerYear: 7,
    heightDiameter: { a: 1.0, b: 0.85, maxHeightM: 40 },
    requirement: DEFAULT_REQUIREMENT,
  },
  soursop: {
    id: 'soursop',
    scientificName: 'Annona muricata',
    synonyms: [],
    localName: 'sirsak',
    englishName: 'soursop',
    woodDensityGCm3: 0.45, // GWDD, to be checked (few entries)
    woodDensityRangeGCm3: [0.4, 0.55],
    woodDensitySource: GWDD,
    woodDensityChecked: false,
    diameterGrowthMmPerYear: 6,
    heightDiameter: { a: 0.9, b: 0.8, maxHeightM: 10 },
    requirement: DEFAULT_REQUIREMENT,
  },
  teak: {
    id: 'teak',
    scientificName: 'Tectona grandis',
    synonyms: [],
    localName: 'jati',
    englishName: 'teak',
    woodDensityGCm3: 0.55, // GWDD ≈ 0.55–0.60, to be checked
    woodDensityRangeGCm3: [0.5, 0.65],
    woodDensitySource: GWDD,
    woodDensityChecked: false,
    diameterGrowthMmPerYear: 12,
    heightDiameter: { a: 1.2, b: 0.9, maxHeightM: 40 },
    requirement: DEFAULT_REQUIREMENT,
  },
  sengon: {
    id: 'sengon',
    scientificName: 'Falcataria moluccana',
    synonyms: ['Paraserianthes falcataria', 'Albizia falcataria'],
    localName: 'sengon',
    englishName: 'white albizia',
    woodDensityGCm3: 0.3, // GWDD ≈ 0.25–0.33, to be checked
    woodDensityRangeGCm3: [0.25, 0.35],
    woodDensitySource: GWDD,
    woodDensityChecked: false,
    diameterGrowthMmPerYear: 25,
    heightDiameter: { a: 1.4, b: 0.9, maxHeightM: 40 },
    requirement: DEFAULT_REQUIREMENT,
  },
  trembesi: {
    id: 'trembesi',
    scientificName: 'Samanea saman',
    synonyms: ['Albizia saman'],
    localName: 'trembesi',
    englishName: 'rain tree',
    woodDensityGCm3: 0.5, // GWDD ≈ 0.45–0.55, to be checked
    woodDensityRangeGCm3: [0.45, 0.55],
    woodDensitySource: GWDD,
    woodDensityChecked: false,
    diameterGrowthMmPerYear: 17,
    heightDiameter: { a: 1.0, b: 0.85, maxHeightM: 30 },
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
 * Height [m] of a sapling of this species at diameter D [cm].
 * With `reference` (a measured height at a known diameter, e.g. at planting) the species' exponent
 * scales that measurement: H = H₀ · (D / D₀)^b — one real measurement beats the generic `a`.
 * Without it, H = a · D^b. Either way capped at the species' maximum height.
 */
export function estimateHeightM(
  species: SpeciesId,
  diameterCm: number,
  reference?: { heightM: number; diameterCm: number },
): { heightM: number; source: 'allometry' | 'scaled-from-measured' } {
  if (!(Number.isFinite(diameterCm) && diameterCm > 0))
    throw new RangeError(`diameterCm: expected a positive finite number, got ${diameterCm}`)
  const hd = SPECIES[species].heightDiameter
  if (reference && reference.heightM > 0 && reference.diameterCm > 0) {
    const heightM = reference.heightM * (diameterCm / reference.diameterCm) ** hd.b
    return { heightM: Math.min(heightM, hd.maxHeightM), source: 'scaled-from-measured' }
  }
  return { heightM: Math.min(hd.a * diameterCm ** hd.b, hd.maxHeightM), source: 'allometry' }
}
