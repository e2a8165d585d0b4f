import { gaussianAt } from './random.ts'
import { SoilModel } from './soil.ts'
import { dayOfYear, HOUR_MS } from './solar.ts'
import { type SimReading, stepOnGrid } from './types.ts'
import type { WeatherModel } from './weather.ts'

/**
 * Stem diameter of a young planted tree, as a point dendrometer sees it, built on the
 * "zero-growth" concept (Zweifel et al. 2016, New Phytologist 211:839):
 *   diameter = initial + GRO (irreversible growth, never decreases) − TWD (reversible tree water deficit).
 * By day transpiration pulls water out of the elastic bark and the stem shrinks (TWD rises with VPD
 * and sunlight); at night it refills. Growth (cell expansion) needs turgor, so it only happens
 * while the stem is (nearly) refilled: mostly at night. Dry soil slows the refill, so TWD stays
 * high for days (drought shrinkage) and growth stops.
 */

export type Species = 'avocado' | 'durian' | 'soursop' | 'teak' | 'sengon' | 'trembesi'

export interface SpeciesParams {
  scientificName: string
  /** Stem diameter at the dendrometer (~30 cm above ground) when handed out, mm. */
  initialDiameterMm: number
  /** Expected diameter growth of a young, healthy, open-grown tree, mm per year. */
  diameterGrowthMmPerYear: number
}

/**
 * The seedlings handed out in Banyuwangi (DOMAIN.md). Growth rates are simulation assumptions from
 * plantation and agroforestry literature for young trees in the humid tropics, mid-range values:
 * - sengon (Falcataria moluccana): 2–4 cm/yr diameter in the first years of Javanese plantations
 *   (Krisnawati, Varis, Kallio & Kanninen 2011, CIFOR, "Paraserianthes falcataria: ecology,
 *   silviculture and productivity") → 25 mm/yr;
 * - teak (Tectona grandis): 1–1.5 cm/yr in young plantations (Kollert & Cherubini 2012, FAO teak
 *   resources; Perhutani yield tables) → 12 mm/yr;
 * - trembesi / rain tree (Samanea saman): fast in the open, 1.5–2 cm/yr (Staples & Elevitch 2006,
 *   Species Profiles for Pacific Island Agroforestry) → 17 mm/yr;
 * - durian, avocado, soursop: grafted fruit trees, pruned for fruit, 0.5–1 cm/yr (assumption, no
 *   single source) → 7, 8 and 6 mm/yr.
 * Initial diameters: nursery saplings of 0.5–1 m height (assumption).
 * The oksigen module needs wood densities as well; they are not here on purpose (take them from
 * the Global Wood Density Database, Zanne et al. 2009).
 */
export const SPECIES: Record<Species, SpeciesParams> = {
  avocado: { scientificName: 'Persea americana', initialDiameterMm: 12, diameterGrowthMmPerYear: 8 },
  durian: { scientificName: 'Durio zibethinus', initialDiameterMm: 12, diameterGrowthMmPerYear: 7 },
  soursop: { scientificName: 'Annona muricata', initialDiameterMm: 10, diameterGrowthMmPerYear: 6 },
  teak: { scientificName: 'Tectona grandis', initialDiameterMm: 15, diameterGrowthMmPerYear: 12 },
  sengon: { scientificName: 'Falcataria moluccana', initialDiameterMm: 15, diameterGrowthMmPerYear: 25 },
  trembesi: { scientificName: 'Samanea saman', initialDiameterMm: 12, diameterGrowthMmPerYear: 17 },
}

export const STEM_DEFAULTS = {
  substepMs: 10 * 60_000,
  /**
   * Daily shrinkage at full demand as a share of diameter: 0.1–0.2 % in the growing season
   * (DOMAIN.md; Douglas-fir 0.21 %, Devine & Harrington 2011).
   */
  shrinkFraction: 0.0015,
  /** Demand = half VPD / vpdRef + half solar / solarRef, capped at 2. */
  vpdRefKpa: 2,
  solarRefWm2: 1000,
  /** Stems shrink fast when transpiration starts and refill more slowly in the evening. */
  shrinkTimeConstantH: 1.5,
  refillTimeConstantH: 2,
  /** Dry soil slows the refill: τ × (1 + this × stress). */
  droughtRefillSlowdown: 4,
  /**
   * Extra, persistent shrinkage at full water stress, share of diameter (several daily amplitudes).
   * It grows with stress² so mild stress slows growth before it shrinks the stem.
   */
  droughtDeficitFraction: 0.008,
  /** Growth only while TWD is below this share of the daily amplitude (turgor needed for growth). */
  growthGateFraction: 0.5,
  /**
   * The gate keeps growth to about half of the hours; this factor keeps the annual total at the
   * species rate for a well-watered tree (calibrated on wet-season runs of this model: the gate is
   * open ~40 % of the time). Unwatered trees grow less in the dry season, as they do.
   */
  growthGateCompensation: 2.5,
  /** Seasonal growth: × (1 ± this), highest in the wet season (peak late January). */
  seasonalAmplitude: 0.35,
  seasonalPeakDoy: 20,
  /** Point dendrometer noise σ, µm (resolution ~1 µm for LVDT/potentiometer types). */
  noiseUm: 1,
} as const

export interface StemOptions {
  weather: WeatherModel
  species: Species
  plantedAtMs: number
  startMs: number
  seed?: number
  /** Diameter at `startMs`; defaults to the species' sapling diameter grown since planting at the nominal rate. */
  initialDiameterUm?: number
  /** The soil the roots draw on; by default the tree has its own (`tree` crop, loam). */
  soil?: SoilModel
  noise?: boolean
}

export interface StemState {
  timeMs: number
  /** True diameter (no sensor noise), µm. */
  diameterUm: number
  /** Irreversible growth since start, µm of diameter. */
  growthUm: number
  /** Tree water deficit, µm of diameter. */
  twdUm: number
  waterStress: number
}

const NOISE_CH = 301
const YEAR_H = 365.25 * 24

export class StemModel {
  readonly species: Species
  private readonly weather: WeatherModel
  private readonly soil: SoilModel
  private readonly seed: number
  private readonly noise: boolean
  private readonly baseUm: number
  private readonly growthUmPerH: number
  private timeMs: number
  private growthUm = 0
  private twdUm = 0

  constructor(options: StemOptions) {
    const sp = SPECIES[options.species]
    this.species = options.species
    this.weather = options.weather
    this.seed = (options.seed ?? options.weather.seed) >>> 0
    this.noise = options.noise ?? true
    this.timeMs = options.startMs
    this.growthUmPerH = (sp.diameterGrowthMmPerYear * 1000) / YEAR_H
    const ageH = Math.max(0, (options.startMs - options.plantedAtMs) / HOUR_MS)
    this.baseUm = options.initialDiameterUm ?? sp.initialDiameterMm * 1000 + this.growthUmPerH * ageH
    this.soil =
      options.soil ??
      new SoilModel({
        weather: options.weather,
        crop: 'tree',
        plantedAtMs: options.plantedAtMs,
        startMs: options.startMs,
        seed: this.seed,
        noise: false,
      })
  }

  get nowMs(): number {
    return this.timeMs
  }

  state(): StemState {
    return {
      timeMs: this.timeMs,
      diameterUm: this.baseUm + this.growthUm - this.twdUm,
      growthUm: this.growthUm,
      twdUm: this.twdUm,
      waterStress: this.soil.state().waterStress,
    }
  }

  step(toMs: number): SimReading[] {
    stepOnGrid('StemModel', this.timeMs, toMs, STEM_DEFAULTS.substepMs, (t0, t1) => {
      this.advance(t0, t1)
      this.timeMs = t1
    })
    return this.readings()
  }

  readings(): SimReading[] {
    const noise = this.noise ? STEM_DEFAULTS.noiseUm * gaussianAt(this.seed, NOISE_CH, this.timeMs) : 0
    return [{ quantity: 'stem_diameter', value: this.state().diameterUm + noise }]
  }

  private advance(t0: number, t1: number): void {
    const d = STEM_DEFAULTS
    const dtH = (t1 - t0) / HOUR_MS
    if (this.soil.nowMs < t1) this.soil.step(t1)
    const stress = this.soil.state().waterStress
    const w = this.weather.at(Math.round((t0 + t1) / 2))

    const sizeUm = this.baseUm + this.growthUm
    const amplitudeUm = d.shrinkFraction * sizeUm
    const demand = Math.min(2, 0.5 * (w.vpdKpa / d.vpdRefKpa) + 0.5 * (w.solarRadiationWm2 / d.solarRefWm2))
    const targetUm = amplitudeUm * demand * (1 + stress) + d.droughtDeficitFraction * sizeUm * stress ** 2
    const tauH =
      targetUm > this.twdUm
        ? d.shrinkTimeConstantH
        : d.refillTimeConstantH * (1 + d.droughtRefillSlowdown * stress)
    this.twdUm = targetUm + (this.twdUm - targetUm) * Math.exp(-dtH / tauH)

    const gate = Math.max(0, Math.min(1, 1 - this.twdUm / (d.growthGateFraction * amplitudeUm)))
    const season =
      1 + d.seasonalAmplitude * Math.cos((2 * Math.PI * (dayOfYear(t0) - d.seasonalPeakDoy)) / 365.25)
    this.growthUm += this.growthUmPerH * d.growthGateCompensation * season * (1 - stress) * gate * dtH
  }
}
