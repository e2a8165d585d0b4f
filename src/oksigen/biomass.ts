import { KampungError } from '../errors.ts'

/**
 * Above-ground biomass, carbon, CO2 and O2 of one tree from Chave et al. 2014 (Global Change
 * Biology 20:3177), eq. 4 — the pantropical model with height:
 *   AGB [kg] = 0.0673 · (ρ [g/cm³] · D² [cm²] · H [m])^0.976
 * fitted on trees with D ≥ 5 cm. Carbon = 0.47 · AGB (IPCC 2006 default carbon fraction);
 * CO2 = C · 44/12 and O2 = CO2 · 32/44 (molar masses; one O2 released per CO2 fixed).
 * The O2 figure is the oxygen released to build the carbon now in the tree's above-ground parts —
 * an estimate of a stock, not a yearly flux; roots are not included.
 */
export const CHAVE2014_EQ4 = {
  a: 0.0673,
  exponent: 0.976,
  /** Smallest diameter in the data the equation was fitted on. */
  minDiameterCm: 5,
} as const

/** IPCC 2006 Guidelines, Vol. 4, default carbon fraction of dry wood. */
export const CARBON_FRACTION = 0.47
/** Molar mass ratio CO2 : C (44 : 12). */
export const CO2_PER_C = 44 / 12
/** Molar mass ratio O2 : CO2 (32 : 44): one O2 released per CO2 fixed by photosynthesis. */
export const O2_PER_CO2 = 32 / 44

/*
 * Unit-mistake guards, not biology: a ρ above 1.5 is kg/m³ passed as g/cm³ (no wood is that
 * dense), a height above 120 m is no tree, a diameter above 1500 cm is mm passed as cm.
 */
const MAX_WOOD_DENSITY_GCM3 = 1.5
const MAX_HEIGHT_M = 120
const MAX_DIAMETER_CM = 1500

export interface BiomassInput {
  /** Stem diameter [cm] (Chave: at breast height, 1.3 m). */
  diameterCm: number
  heightM: number
  /** Wood density ρ [g/cm³] (oven-dry mass / green volume). */
  woodDensity: number
}

export interface BiomassAmounts {
  agbKg: number
  carbonKg: number
  co2Kg: number
  o2Kg: number
}

export type BiomassEstimate =
  | ({ inFittedRange: true; note?: undefined; extrapolated?: undefined } & BiomassAmounts)
  | {
      inFittedRange: false
      agbKg: null
      carbonKg: null
      co2Kg: null
      o2Kg: null
      note: string
      /** Only when asked for: eq. 4 applied outside its data. A rough figure, not an estimate. */
      extrapolated?: BiomassAmounts & { rough: true }
    }

export interface BiomassOptions {
  /** Also compute `extrapolated` when D is below the fitted range (for officers, never certificates). */
  extrapolate?: boolean
}

export const OUT_OF_RANGE_NOTE =
  `Outside the fitted range of Chave et al. 2014 eq. 4 (D < ${CHAVE2014_EQ4.minDiameterCm} cm): ` +
  'no sound biomass or O2 estimate for a tree this small.'

function checkInput(input: BiomassInput): void {
  const problems: string[] = []
  const check = (name: keyof BiomassInput, max: number, hint: string) => {
    const v = input[name]
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      problems.push(`${name}: expected a positive finite number, got ${String(v)}`)
    else if (v > max) problems.push(`${name}: ${v} is above ${max} (${hint})`)
  }
  check('diameterCm', MAX_DIAMETER_CM, 'expected centimetres, not millimetres')
  check('heightM', MAX_HEIGHT_M, 'expected metres')
  check('woodDensity', MAX_WOOD_DENSITY_GCM3, 'expected g/cm³, not kg/m³')
  if (problems.length)
    throw new KampungError('invalid_biomass_input', problems.join('; '), { retryable: false })
}

function amounts({ diameterCm, heightM, woodDensity }: BiomassInput): BiomassAmounts {
  const agbKg = CHAVE2014_EQ4.a * (woodDensity * diameterCm ** 2 * heightM) ** CHAVE2014_EQ4.exponent
  const carbonKg = CARBON_FRACTION * agbKg
  const co2Kg = carbonKg * CO2_PER_C
  return { agbKg, carbonKg, co2Kg, o2Kg: co2Kg * O2_PER_CO2 }
}

/**
 * Biomass, carbon, CO2 and O2 of one tree. Below D 5 cm the amounts are `null` and `note` says
 * why: the equation was never fitted on saplings, so a number would look sounder than it is.
 * Throws a non-retryable KampungError listing every bad input.
 */
export function estimateBiomass(input: BiomassInput, options: BiomassOptions = {}): BiomassEstimate {
  checkInput(input)
  if (input.diameterCm < CHAVE2014_EQ4.minDiameterCm) {
    return {
      inFittedRange: false,
      agbKg: null,
      carbonKg: null,
      co2Kg: null,
      o2Kg: null,
      note: OUT_OF_RANGE_NOTE,
      ...(options.extrapolate ? { extrapolated: { ...amounts(input), rough: true as const } } : {}),
    }
  }
  return { inFittedRange: true, ...amounts(input) }
}
