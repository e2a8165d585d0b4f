import { gaussianAt } from './random.ts'
import { SoilModel } from './soil.ts'
import { dayOfYear, HOUR_MS, localMonth } from './solar.ts'
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
  /**
   * Deciduous species: leaves fall in `dropMonth` (local, from its first day); no transpiration
   * and no growth until the rains return — leaves flush once `flushRainMm` of rain has fallen
   * since the first day of `flushFromMonth` (or on the first day of `flushLatestMonth`).
   */
  deciduous?: { dropMonth: number; flushFromMonth: number; flushRainMm: number; flushLatestMonth: number }
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
 * Teak is deciduous: in East Java it sheds its leaves as the dry season sets in (about July) and
 * flushes with the first rains (October–November) (DOMAIN.md); the model drops leaves on 1 July and
 * flushes after 30 mm of rain from 1 October, at the latest on 1 December.
 * Initial diameters: nursery saplings of 0.5–1 m height (assumption).
 * The oksigen module needs wood densities as well; they are not here on purpose (take them from
 * the Global Wood Density Database, Zanne et al. 2009).
 */
export const SPECIES: Record<Species, SpeciesParams> = {
  avocado: { scientificName: 'Persea americana', initialDiameterMm: 12, diameterGrowthMmPerYear: 8 },
  durian: { scientificName: 'Durio zibethinus', initialDiameterMm: 12, diameterGrowthMmPerYear: 7 },
  soursop: { scientificName: 'Annona muricata', initialDiameterMm: 10, diameterGrowthMmPerYear: 6 },
  teak: {
    scientificName: 'Tectona grandis',
    initialDiameterMm: 15,
    diameterGrowthMmPerYear: 12,
    deciduous: { dropMonth: 7, flushFromMonth: 10, flushRainMm: 30, flushLatestMonth: 12 },
  },
  sengon: { scientificName: 'Falcataria falcata', initialDiameterMm: 15, diameterGrowthMmPerYear: 25 },
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
  /**
   * Hygroscopic swelling of dead wood and bark: the outer wood's moisture follows air humidity
   * (equilibrium moisture content), so the diameter swells by this share per %RH above
   * `hygroNeutralRhPct` (shrinks below it), with time constant `hygroTimeConstantH`. 0.0006 gives
   * a 20 mm post a ~15–20 µm daily swing on a 60–95 %RH day: the size of a living sapling's cycle,
   * and in the same phase (thinnest in the afternoon, when RH is lowest). Assumption, not a fit.
   */
  hygroFractionPerPctRh: 0.0006 / 20,
  hygroNeutralRhPct: 80,
  hygroTimeConstantH: 3,
  /** Rain wets the wood: extra swelling (share of diameter) while wet, drying with τ 12 h. */
  rainWetFraction: 0.0004,
  rainWetDryingH: 12,
  /**
   * A leafless living stem is water-filled under living bark: it follows humidity only a little
   * (this share of dead wood's swing), so it has almost no cycle (DOMAIN.md).
   */
  leaflessBarkHygroFactor: 0.1,
  /** A dead stem dries out: it shrinks by this share of its diameter, with this time constant. */
  deadDryingFraction: 0.004,
  deadDryingTimeConstantDays: 20,
} as const

/**
 * What the dendrometer is really on (the ground truth, set here and never by the rule under test):
 * a living tree, a dead stem (the tree died: no growth, no transpiration; the wood swells and
 * shrinks with humidity and rain) or a wooden post (the same hygroscopic wood, never a tree).
 */
export type StemTruth = 'alive' | 'dead' | 'post'

/** Changes of what the dendrometer is on, from a time on (fault kinds `dead_stem`, `hygroscopic_post`). */
export interface StemConditionChange {
  kind: 'dead_stem' | 'hygroscopic_post'
  fromMs: number
  /** Post only: its diameter (default: the stem's diameter at `fromMs`). */
  postDiameterUm?: number
}

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
  /** The tree dies, or the sensor is put on a post, at a time (see StemConditionChange). */
  conditions?: readonly StemConditionChange[]
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
  /** Ground truth: what the dendrometer is on now. */
  truth: StemTruth
  /** A deciduous tree without leaves (no transpiration, no growth). */
  leafless: boolean
  /** Hygroscopic swelling of the wood (or bark) now, µm. */
  hygroUm: number
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
  private hygroUm = 0
  private wetUm = 0
  private leafless: boolean
  private flushRainMm = 0
  private readonly conditions: StemConditionChange[]
  /** Diameter frozen when the stem died or the post was taken (before drying and swelling), µm. */
  private frozenUm: number | null = null
  private truthNow: StemTruth = 'alive'

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
    this.conditions = [...(options.conditions ?? [])].sort((a, b) => a.fromMs - b.fromMs)
    // A deciduous tree started between leaf fall and the earliest flush has no leaves.
    const dec = sp.deciduous
    const month = localMonth(options.startMs)
    this.leafless = dec !== undefined && month >= dec.dropMonth && month < dec.flushFromMonth
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
      diameterUm: this.diameterUm(),
      growthUm: this.growthUm,
      twdUm: this.twdUm,
      waterStress: this.soil.state().waterStress,
      truth: this.truthNow,
      leafless: this.leafless,
      hygroUm: this.hygroUm + this.wetUm,
    }
  }

  /** Ground truth now (see StemTruth). */
  truth(): StemTruth {
    return this.truthNow
  }

  /** A model fault (`dead_stem`, `hygroscopic_post`) handed over by the node: from `fromMs` on. */
  addCondition(change: StemConditionChange): void {
    if (change.fromMs < this.timeMs)
      throw new RangeError(`StemModel: condition ${change.kind} at ${change.fromMs} is in the past`)
    this.conditions.push(change)
    this.conditions.sort((a, b) => a.fromMs - b.fromMs)
  }

  private diameterUm(): number {
    const swell = this.hygroUm + this.wetUm
    if (this.frozenUm === null) return this.baseUm + this.growthUm - this.twdUm + swell
    // dead or post: the frozen diameter, the drying (TWD of a dead stem), the hygroscopic swelling
    return this.frozenUm - this.twdUm + swell
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
    this.applyConditions(t0)
    if (this.soil.nowMs < t1) this.soil.step(t1)
    const stress = this.soil.state().waterStress
    const w = this.weather.at(Math.round((t0 + t1) / 2))
    const rainMm = this.weather.rainMmBetween(t0, t1)
    if (this.truthNow === 'alive') this.updatePhenology(t0, rainMm)

    const sizeUm = this.frozenUm ?? this.baseUm + this.growthUm
    // Hygroscopic wood (dead stem, post) and bark follow humidity and rain.
    const hygroScale = this.truthNow !== 'alive' ? 1 : this.leafless ? d.leaflessBarkHygroFactor : 0
    const hygroTarget =
      hygroScale * d.hygroFractionPerPctRh * sizeUm * (w.relativeHumidityPct - d.hygroNeutralRhPct)
    this.hygroUm = hygroTarget + (this.hygroUm - hygroTarget) * Math.exp(-dtH / d.hygroTimeConstantH)
    const wetTarget = rainMm > 0 ? hygroScale * d.rainWetFraction * sizeUm : 0
    this.wetUm =
      wetTarget > this.wetUm
        ? wetTarget + (this.wetUm - wetTarget) * Math.exp(-dtH / 0.5)
        : this.wetUm * Math.exp(-dtH / d.rainWetDryingH)

    if (this.truthNow !== 'alive') {
      // No sap flow, no growth: a dead stem dries out slowly; a post is already dry.
      const target = this.truthNow === 'dead' ? d.deadDryingFraction * sizeUm : 0
      this.twdUm = target + (this.twdUm - target) * Math.exp(-dtH / (24 * d.deadDryingTimeConstantDays))
      return
    }

    const amplitudeUm = d.shrinkFraction * sizeUm
    const demand = this.leafless
      ? 0
      : Math.min(2, 0.5 * (w.vpdKpa / d.vpdRefKpa) + 0.5 * (w.solarRadiationWm2 / d.solarRefWm2))
    const targetUm = amplitudeUm * demand * (1 + stress) + d.droughtDeficitFraction * sizeUm * stress ** 2
    const tauH =
      targetUm > this.twdUm
        ? d.shrinkTimeConstantH
        : d.refillTimeConstantH * (1 + d.droughtRefillSlowdown * stress)
    this.twdUm = targetUm + (this.twdUm - targetUm) * Math.exp(-dtH / tauH)

    if (this.leafless) return
    const gate = Math.max(0, Math.min(1, 1 - this.twdUm / (d.growthGateFraction * amplitudeUm)))
    const season =
      1 + d.seasonalAmplitude * Math.cos((2 * Math.PI * (dayOfYear(t0) - d.seasonalPeakDoy)) / 365.25)
    this.growthUm += this.growthUmPerH * d.growthGateCompensation * season * (1 - stress) * gate * dtH
  }

  /** Deciduous species: leaf fall at the start of the dry season, flush with the returning rain. */
  private updatePhenology(t0: number, rainMm: number): void {
    const dec = SPECIES[this.species].deciduous
    if (!dec) return
    const month = localMonth(t0)
    if (!this.leafless) {
      if (month === dec.dropMonth && this.monthDay(t0) === 1) {
        this.leafless = true
        this.flushRainMm = 0
      }
      return
    }
    if (month >= dec.flushFromMonth || month < dec.dropMonth) this.flushRainMm += rainMm
    if (this.flushRainMm >= dec.flushRainMm || month === dec.flushLatestMonth) this.leafless = false
  }

  private monthDay(t: number): number {
    return new Date(t + 7 * HOUR_MS).getUTCDate()
  }

  private applyConditions(t0: number): void {
    while (this.conditions.length > 0 && this.conditions[0]!.fromMs <= t0) {
      const c = this.conditions.shift()!
      const now = this.frozenUm ?? this.baseUm + this.growthUm
      if (c.kind === 'dead_stem' && this.truthNow === 'alive') {
        // The stem keeps its water-filled diameter at death, then dries (TWD grows) as wood.
        this.frozenUm = now
        this.truthNow = 'dead'
      } else if (c.kind === 'hygroscopic_post') {
        this.frozenUm = c.postDiameterUm ?? now - this.twdUm
        this.twdUm = 0
        this.truthNow = 'post'
      }
    }
  }
}
