import { gaussianAt } from './random.ts'
import { DAY_MS, HOUR_MS } from './solar.ts'
import { type SimReading, stepOnGrid } from './types.ts'
import type { WeatherModel, WeatherState } from './weather.ts'
import { saturationVapourPressureKpa } from './weather.ts'

/**
 * Soil water balance of one field: a single bucket over the root zone (FAO-56 chapter 8 style).
 * Rain and irrigation in; crop evapotranspiration (Kc × a reference ET from the weather, reduced by
 * the FAO-56 water-stress coefficient Ks) out; drainage above field capacity; runoff above
 * saturation. Paddy rice keeps standing water behind its bunds and loses it to percolation.
 * The bucket is advanced on a fixed 10-minute grid whatever step the caller uses, so the state at T
 * does not depend on how T was reached.
 */

export type Crop = 'rice' | 'maize' | 'chili' | 'tree'

export interface CropParams {
  /** FAO-56 Table 12 crop coefficients: initial, mid-season, end of season. */
  kcIni: number
  kcMid: number
  kcEnd: number
  /** FAO-56 Table 11 stage lengths, days: initial, development, mid-season, late season. */
  stageDays: readonly [number, number, number, number]
  /** FAO-56 Table 22 depletion fraction p: share of available water used before stress starts. */
  depletionP: number
  /** Root zone the sensor represents, m (shallower than the FAO-56 maximum rooting depth). */
  rootZoneM: number
  /** Bunded, flooded field. */
  paddy: boolean
}

/**
 * Crops. Kc from FAO-56 Table 12 (rice 1.05/1.20/0.90, maize grain 0.30/1.20/0.35, sweet pepper
 * as the stand-in for chili 0.60/1.05/0.90). Stage lengths from FAO-56 Table 11 for tropical and
 * monsoon regions (rice 30/30/60/30; maize 25/40/45/30; sweet pepper 25/35/40/20). `tree` is the
 * soil around a young planted tree: a flat Kc of 0.85 (FAO-56 Table 12 avocado mid-season, no
 * ground cover) over a deeper root zone.
 */
export const CROPS: Record<Crop, CropParams> = {
  rice: {
    kcIni: 1.05,
    kcMid: 1.2,
    kcEnd: 0.9,
    stageDays: [30, 30, 60, 30],
    depletionP: 0.2,
    rootZoneM: 0.3,
    paddy: true,
  },
  maize: {
    kcIni: 0.3,
    kcMid: 1.2,
    kcEnd: 0.35,
    stageDays: [25, 40, 45, 30],
    depletionP: 0.55,
    rootZoneM: 0.6,
    paddy: false,
  },
  chili: {
    kcIni: 0.6,
    kcMid: 1.05,
    kcEnd: 0.9,
    stageDays: [25, 35, 40, 20],
    depletionP: 0.3,
    rootZoneM: 0.4,
    paddy: false,
  },
  tree: {
    kcIni: 0.85,
    kcMid: 0.85,
    kcEnd: 0.85,
    stageDays: [365, 1, 1, 1],
    depletionP: 0.5,
    rootZoneM: 0.8,
    paddy: false,
  },
}

export interface SoilParams {
  fieldCapacityVwcPct: number
  wiltingPointVwcPct: number
  saturationVwcPct: number
  /** Excess water above field capacity drains with this time constant (a loam drains in ~1–2 days). */
  drainageTimeConstantH: number
}

/** A loam: FAO-56 Table 19 gives θFC 0.22–0.36 and θWP 0.07–0.17; porosity about 0.45. */
export const LOAM: SoilParams = {
  fieldCapacityVwcPct: 30,
  wiltingPointVwcPct: 14,
  saturationVwcPct: 45,
  drainageTimeConstantH: 24,
}

export const SOIL_DEFAULTS = {
  /** Internal time step; a fixed grid of epoch multiples makes results step-size independent. */
  substepMs: 10 * 60_000,
  /** Kc of bare soil before planting and during the fallow between seasons (wet topsoil evaporation). */
  bareSoilKc: 0.3,
  /** Days of fallow after harvest before the same crop is planted again (2–3 crops a year). */
  fallowDays: 15,
  /** Puddled paddy percolation, mm/day (FAO-56 ch. 8 gives 1–5 mm/day for puddled loams and clays). */
  percolationMmPerDay: 4,
  bundHeightMm: 150,
  initialStandingWaterMm: 50,
  /** Priestley–Taylor coefficient for well-watered surfaces. */
  priestleyTaylorAlpha: 1.26,
  albedo: 0.23,
  /** The sensor sits ~10 cm deep: the daily soil temperature wave arrives damped and ~3 h late. */
  soilTemperatureTimeConstantH: 3,
  /** Sun heats bare soil above air temperature: °C per W/m² of radiation reaching the ground. */
  soilHeatingCPerWm2: 0.004,
  /** Sensor noise σ: capacitive probe %VWC, thermistor °C. */
  moistureNoiseVwcPct: 0.3,
  temperatureNoiseC: 0.1,
} as const

/**
 * Reference evapotranspiration for the simulation, mm/h, by Priestley–Taylor (1972) from the
 * instantaneous weather. Net radiation: (1 − albedo)·Rs minus a FAO-56 eq. 39-like net longwave
 * loss scaled by cloud cover. Not FAO-56 ET0 (that is computed by the agronomy module); it is the
 * driver of the water balance here, giving 4–5 mm/day on clear tropical days.
 */
export function priestleyTaylorEtMmH(w: WeatherState): number {
  const tC = w.airTemperatureC
  const es = saturationVapourPressureKpa(tC)
  const ea = (es * w.relativeHumidityPct) / 100
  const slope = (4098 * es) / (tC + 237.3) ** 2 // FAO-56 eq. 13, kPa/°C
  const gamma = 0.665e-3 * (w.pressureHpa / 10) // FAO-56 eq. 8, kPa/°C
  const stefanBoltzmann = 5.67e-8
  const netLongwave =
    stefanBoltzmann * (tC + 273.16) ** 4 * (0.34 - 0.14 * Math.sqrt(ea)) * (1 - 0.7 * w.cloudiness)
  const rn = (1 - SOIL_DEFAULTS.albedo) * w.solarRadiationWm2 - netLongwave
  if (rn <= 0) return 0
  const g = 0.1 * rn // FAO-56 eq. 45: soil heat flux by day
  const lambdaJPerKg = 2.45e6
  return (SOIL_DEFAULTS.priestleyTaylorAlpha * (slope / (slope + gamma)) * (rn - g) * 3600) / lambdaJPerKg
}

/** Kc on a day since planting (FAO-56 Fig. 25 shape), repeating seasons with a fallow in between. */
export function cropCoefficient(crop: Crop, daysSincePlanting: number): number {
  const c = CROPS[crop]
  if (crop === 'tree') return c.kcMid
  if (daysSincePlanting < 0) return SOIL_DEFAULTS.bareSoilKc
  const [ini, dev, mid, late] = c.stageDays
  const season = ini + dev + mid + late
  const d = daysSincePlanting % (season + SOIL_DEFAULTS.fallowDays)
  if (d < ini) return c.kcIni
  if (d < ini + dev) return c.kcIni + ((c.kcMid - c.kcIni) * (d - ini)) / dev
  if (d < ini + dev + mid) return c.kcMid
  if (d < season) return c.kcMid + ((c.kcEnd - c.kcMid) * (d - ini - dev - mid)) / late
  return SOIL_DEFAULTS.bareSoilKc
}

export interface SoilOptions {
  weather: WeatherModel
  crop: Crop
  plantedAtMs: number
  /** Simulated time the model starts at. */
  startMs: number
  /** Seed of the sensor noise. */
  seed?: number
  soil?: Partial<SoilParams>
  initialVwcPct?: number
  /** Paddy only. */
  initialStandingWaterMm?: number
  percolationMmPerDay?: number
  bundHeightMm?: number
  /** Field size; informational (irrigation is given in mm). */
  areaHa?: number
  /** Irrigate `mm` whenever moisture falls below `belowVwcPct` (for paddy: once the standing water is gone). */
  autoIrrigation?: { belowVwcPct: number; mm: number }
  /** Add sensor noise to readings; default true. */
  noise?: boolean
}

export interface SoilState {
  timeMs: number
  vwcPct: number
  standingWaterMm: number
  soilTemperatureC: number
  kc: number
  /** 1 − Ks: 0 with no water stress, 1 at the wilting point. */
  waterStress: number
  /** Totals since start, mm, for checking the balance. */
  totals: { rainMm: number; irrigationMm: number; etMm: number; drainageMm: number; runoffMm: number }
}

const NOISE_CH = { moisture: 201, temperature: 202 } as const

export class SoilModel {
  readonly crop: Crop
  readonly params: SoilParams
  private readonly weather: WeatherModel
  private readonly options: SoilOptions
  private readonly seed: number
  private readonly rootZoneMm: number
  private readonly pendingIrrigation: Array<{ atMs: number; mm: number }> = []
  private timeMs: number
  private storageMm: number
  private standingWaterMm: number
  private soilTempC: number | undefined
  private stress = 0
  private readonly totals = { rainMm: 0, irrigationMm: 0, etMm: 0, drainageMm: 0, runoffMm: 0 }

  constructor(options: SoilOptions) {
    this.options = options
    this.weather = options.weather
    this.crop = options.crop
    this.params = { ...LOAM, ...options.soil }
    this.seed = (options.seed ?? options.weather.seed) >>> 0
    this.rootZoneMm = CROPS[options.crop].rootZoneM * 1000
    this.timeMs = options.startMs
    this.storageMm = ((options.initialVwcPct ?? this.params.fieldCapacityVwcPct) / 100) * this.rootZoneMm
    this.standingWaterMm = this.isPaddy
      ? (options.initialStandingWaterMm ?? SOIL_DEFAULTS.initialStandingWaterMm)
      : 0
    if (this.standingWaterMm > 0) this.storageMm = (this.params.saturationVwcPct / 100) * this.rootZoneMm
  }

  get isPaddy(): boolean {
    return CROPS[this.crop].paddy
  }

  get nowMs(): number {
    return this.timeMs
  }

  /** Add `mm` of irrigation at `atMs` (applied when the simulation passes that time; at once if already past). */
  irrigate(atMs: number, mm: number): this {
    if (!(mm >= 0)) throw new RangeError('irrigate: mm must be ≥ 0')
    this.pendingIrrigation.push({ atMs: Math.max(atMs, this.timeMs), mm })
    this.pendingIrrigation.sort((a, b) => a.atMs - b.atMs)
    return this
  }

  state(): SoilState {
    return {
      timeMs: this.timeMs,
      vwcPct: (100 * this.storageMm) / this.rootZoneMm,
      standingWaterMm: this.standingWaterMm,
      soilTemperatureC: this.soilTemperature(),
      kc: this.kcAt(this.timeMs),
      waterStress: this.stress,
      totals: { ...this.totals },
    }
  }

  /** Advance to `toMs` and return the readings at `toMs`. */
  step(toMs: number): SimReading[] {
    stepOnGrid('SoilModel', this.timeMs, toMs, SOIL_DEFAULTS.substepMs, (t0, t1) => {
      this.advance(t0, t1)
      this.timeMs = t1
    })
    return this.readings()
  }

  /** Readings at the current time. */
  readings(): SimReading[] {
    const s = this.state()
    const noise = this.options.noise ?? true
    const n = (ch: number, sigma: number) => (noise ? sigma * gaussianAt(this.seed, ch, this.timeMs) : 0)
    return [
      {
        quantity: 'soil_moisture',
        value: Math.max(0, Math.min(100, s.vwcPct + n(NOISE_CH.moisture, SOIL_DEFAULTS.moistureNoiseVwcPct))),
      },
      {
        quantity: 'soil_temperature',
        value: s.soilTemperatureC + n(NOISE_CH.temperature, SOIL_DEFAULTS.temperatureNoiseC),
      },
    ]
  }

  private kcAt(timeMs: number): number {
    return cropCoefficient(this.crop, Math.floor((timeMs - this.options.plantedAtMs) / DAY_MS))
  }

  private soilTemperature(): number {
    if (this.soilTempC === undefined) {
      // Start from the daily mean air temperature: the sensor depth sits near it.
      const day = this.weather.dailySummary(this.timeMs)
      this.soilTempC = (day.tMinC + day.tMaxC) / 2
    }
    return this.soilTempC
  }

  private advance(t0: number, t1: number): void {
    const dtH = (t1 - t0) / HOUR_MS
    const w = this.weather.at(Math.round((t0 + t1) / 2))
    const p = this.params
    const sFc = (p.fieldCapacityVwcPct / 100) * this.rootZoneMm
    const sWp = (p.wiltingPointVwcPct / 100) * this.rootZoneMm
    const sSat = (p.saturationVwcPct / 100) * this.rootZoneMm
    const kc = this.kcAt(t0)

    const rainMm = this.weather.rainMmBetween(t0, t1)
    let irrigationMm = 0
    while (this.pendingIrrigation.length > 0 && this.pendingIrrigation[0]!.atMs < t1) {
      irrigationMm += this.pendingIrrigation.shift()!.mm
    }
    const auto = this.options.autoIrrigation
    if (auto && this.standingWaterMm <= 0 && (100 * this.storageMm) / this.rootZoneMm < auto.belowVwcPct) {
      irrigationMm += auto.mm
    }
    this.totals.rainMm += rainMm
    this.totals.irrigationMm += irrigationMm
    const inMm = rainMm + irrigationMm
    const etcMm = kc * priestleyTaylorEtMmH(w) * dtH

    if (this.isPaddy) {
      // Water first fills the soil to saturation, the rest stands on the field.
      const toSoil = Math.min(inMm, Math.max(0, sSat - this.storageMm))
      this.storageMm += toSoil
      this.standingWaterMm += inMm - toSoil
    } else {
      this.storageMm += inMm
    }

    if (this.standingWaterMm > 0) {
      // Ponded: ET comes from the water, percolation through the puddled layer; soil stays saturated.
      const et = Math.min(this.standingWaterMm, etcMm)
      const perc = Math.min(
        this.standingWaterMm - et,
        ((this.options.percolationMmPerDay ?? SOIL_DEFAULTS.percolationMmPerDay) * dtH) / 24,
      )
      this.standingWaterMm -= et + perc
      const bund = this.options.bundHeightMm ?? SOIL_DEFAULTS.bundHeightMm
      if (this.standingWaterMm > bund) {
        this.totals.runoffMm += this.standingWaterMm - bund
        this.standingWaterMm = bund
      }
      this.totals.etMm += et
      this.totals.drainageMm += perc
      this.stress = 0
    } else {
      if (this.storageMm > sSat) {
        this.totals.runoffMm += this.storageMm - sSat
        this.storageMm = sSat
      }
      if (this.storageMm > sFc) {
        let drain = (this.storageMm - sFc) * (1 - Math.exp(-dtH / p.drainageTimeConstantH))
        if (this.isPaddy) {
          // The plough pan of a puddled field lets water out only slowly.
          drain = Math.min(
            drain,
            ((this.options.percolationMmPerDay ?? SOIL_DEFAULTS.percolationMmPerDay) * dtH) / 24,
          )
        }
        this.storageMm -= drain
        this.totals.drainageMm += drain
      }
      // FAO-56 eq. 84: Ks falls linearly from 1 at RAW to 0 at the wilting point.
      const taw = sFc - sWp
      const depletion = Math.max(0, sFc - this.storageMm)
      const pFrac = CROPS[this.crop].depletionP
      const ks = depletion <= pFrac * taw ? 1 : Math.max(0, (taw - depletion) / ((1 - pFrac) * taw))
      const et = Math.min(Math.max(0, this.storageMm - sWp), ks * etcMm)
      this.storageMm -= et
      this.totals.etMm += et
      this.stress = 1 - ks
    }

    // Soil temperature: first-order lag toward air temperature plus sun on the uncovered ground.
    const cover = Math.min(0.9, Math.max(0.1, 0.1 + (0.8 * (kc - 0.3)) / 0.9))
    const shade = this.standingWaterMm > 0 ? 0.3 : 1 // water stores the heat and evaporates it
    const target =
      w.airTemperatureC + SOIL_DEFAULTS.soilHeatingCPerWm2 * w.solarRadiationWm2 * (1 - cover) * shade
    const current = this.soilTemperature()
    this.soilTempC =
      current + (target - current) * (1 - Math.exp(-dtH / SOIL_DEFAULTS.soilTemperatureTimeConstantH))
  }
}
