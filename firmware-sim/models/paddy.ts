import { gaussianAt, uniformAt } from './random.ts'
import { cropCoefficient, LOAM, priestleyTaylorEtMmH } from './soil.ts'
import { DAY_MS, HOUR_MS } from './solar.ts'
import { type SimReading, stepOnGrid } from './types.ts'
import type { WeatherModel } from './weather.ts'

/**
 * Water level of a paddy under alternate wetting and drying (AWD), as the farmer manages it and an
 * AWD field tube (a perforated pipe 15–20 cm into the soil, IRRI) shows it: cm relative to the soil
 * surface, + standing water, − water table inside the tube.
 *
 * Physics, per step: rain raises the level, crop ET (Kc × reference ET) and percolation through the
 * puddled layer (2–6 mm/day, by soil) lower it; above the surface 1 mm of water is 1 mm of level,
 * below it the perched water table moves 1/Sy as far (specific yield Sy ≈ 0.2: a mm of water drained
 * from the soil lowers the table 5 mm). The bund (10 cm) spills any excess; the table does not fall
 * below −40 cm (the tube's depth and the hardpan).
 *
 * Farmer (safe AWD, IRRI): lets the water fall until the tube reads −15 cm, then re-floods to +5 cm
 * after a delay (0–72 h, a hash of the seed and the cycle: the pump, the canal turn, other work);
 * from a week before to a week after flowering keeps the field flooded (re-floods as soon as the
 * standing water is gone, after the same kind of delay); drains the field 14 days before the
 * expected harvest and does not irrigate again. `flood(atMs)` is an extra irrigation (the farmer
 * answering an SMS). Flowering = planting + seasonDays − 30 days (IRRI: ~30 days of ripening).
 *
 * One model for the simulator's paddies (`PaddyModel`, a SteppableModel reporting `water_level`)
 * and the alert-quality benchmark (`PaddyWater`, stepped with the bench's own ET).
 */
export interface PaddyWaterOptions {
  plantedAtMs: number
  /** The variety's season [days] (Banyuwangi: 110–125). */
  seasonDays: number
  /** Percolation through the puddled layer [mm/day]: sandy loam 6, loam 4, silt loam 3, clay 2. */
  percolationMmPerDay?: number
  specificYield?: number
  bundCm?: number
  initialCm?: number
  /** The farmer re-floods to this level [cm]. */
  floodToCm?: number
  /** ... when the tube reads this [cm] (safe AWD: −15). */
  awdMinCm?: number
  /** Drain-down before the expected harvest [days]. */
  drainDownDays?: number
  floweringWindowDays?: number
  /** Farmer's delay between the tube reaching the threshold and re-flooding [h], uniform in [min, max]. */
  refloodDelayH?: readonly [number, number]
  /** Seed of the farmer's delays. */
  seed?: number
  /** Seasons repeat after a fallow (the simulator's endless run); the farmer floods for the next. */
  repeatSeasons?: boolean
}

export const PADDY_DEFAULTS = {
  percolationMmPerDay: 4,
  specificYield: 0.2,
  bundCm: 10,
  initialCm: 5,
  floodToCm: 5,
  awdMinCm: -15,
  minCm: -40,
  drainDownDays: 14,
  floweringWindowDays: 7,
  ripeningDays: 30,
  refloodDelayH: [0, 72] as const,
  /** Fallow between repeated seasons (as `cropCoefficient`). */
  fallowDays: 15,
}

export interface PaddyWaterState {
  levelCm: number
  /** In the drain-down before harvest (or after the season). */
  drainDown: boolean
  /** Within floweringWindowDays of flowering: the farmer keeps it flooded. */
  floweringWindow: boolean
  /** Irrigations so far (AWD re-floods and `flood` calls). */
  irrigations: number
  /** When the farmer will re-flood, if the field is waiting for it. */
  refloodAtMs?: number
}

/** The water level and the farmer's AWD decisions; stepped by the caller with rain and ETc. */
export class PaddyWater {
  private readonly o: Required<Omit<PaddyWaterOptions, 'seed'>> & { seed: number }
  private level: number
  private refloodAtMs: number | undefined
  private irrigations = 0
  private cycles = 0

  constructor(options: PaddyWaterOptions) {
    this.o = {
      percolationMmPerDay: PADDY_DEFAULTS.percolationMmPerDay,
      specificYield: PADDY_DEFAULTS.specificYield,
      bundCm: PADDY_DEFAULTS.bundCm,
      initialCm: PADDY_DEFAULTS.initialCm,
      floodToCm: PADDY_DEFAULTS.floodToCm,
      awdMinCm: PADDY_DEFAULTS.awdMinCm,
      drainDownDays: PADDY_DEFAULTS.drainDownDays,
      floweringWindowDays: PADDY_DEFAULTS.floweringWindowDays,
      refloodDelayH: PADDY_DEFAULTS.refloodDelayH,
      seed: 0,
      repeatSeasons: false,
      ...options,
    }
    this.level = this.o.initialCm
  }

  /** Day of the season (fractional); negative before planting (never with repeatSeasons). */
  day(atMs: number): number {
    const d = (atMs - this.o.plantedAtMs) / DAY_MS
    if (!this.o.repeatSeasons) return d
    const period = this.o.seasonDays + PADDY_DEFAULTS.fallowDays
    return ((d % period) + period) % period
  }

  drainDownAt(atMs: number): boolean {
    return this.o.seasonDays - this.day(atMs) <= this.o.drainDownDays
  }

  floweringWindowAt(atMs: number): boolean {
    const flowering = this.o.seasonDays - PADDY_DEFAULTS.ripeningDays
    return Math.abs(this.day(atMs) - flowering) <= this.o.floweringWindowDays
  }

  state(atMs: number): PaddyWaterState {
    const s: PaddyWaterState = {
      levelCm: this.level,
      drainDown: this.drainDownAt(atMs),
      floweringWindow: this.floweringWindowAt(atMs),
      irrigations: this.irrigations,
    }
    if (this.refloodAtMs !== undefined) s.refloodAtMs = this.refloodAtMs
    return s
  }

  /** The farmer floods the field now (e.g. after an SMS); ignored in the drain-down. */
  flood(atMs: number): void {
    if (this.drainDownAt(atMs)) return
    this.level = Math.max(this.level, this.o.floodToCm)
    this.refloodAtMs = undefined
    this.irrigations++
  }

  /** Advance over [t0, t1] with `rainMm` fallen and `etcMm` of crop ET demand in it. */
  advance(t0: number, t1: number, rainMm: number, etcMm: number): void {
    const o = this.o
    const lossMm = etcMm + (o.percolationMmPerDay * (t1 - t0)) / DAY_MS
    this.addWater(rainMm - lossMm)
    // Land preparation for the next season: the field is flooded again.
    if (o.repeatSeasons && this.day(t1) < this.day(t0)) this.flood(t1)
    if (this.drainDownAt(t1)) {
      this.refloodAtMs = undefined
      return
    }
    const trigger = this.floweringWindowAt(t1) ? 0 : o.awdMinCm
    if (this.level <= trigger && this.refloodAtMs === undefined) {
      const [lo, hi] = o.refloodDelayH
      const delayH = Math.round(lo + (hi - lo) * uniformAt(o.seed, 0x9add, this.cycles++))
      this.refloodAtMs = t1 + delayH * HOUR_MS
    }
    if (this.refloodAtMs !== undefined && t1 >= this.refloodAtMs) this.flood(t1)
  }

  /** Net water [mm] in (+) or out (−): standing water first, then the water table at 1/Sy. */
  private addWater(mm: number): void {
    const o = this.o
    let cm = mm / 10
    if (cm > 0 && this.level < 0) {
      const up = Math.min(-this.level, cm / o.specificYield)
      this.level += up
      cm -= up * o.specificYield
    }
    if (cm > 0) this.level += cm
    if (cm < 0 && this.level > 0) {
      const down = Math.min(this.level, -cm)
      this.level -= down
      cm += down
    }
    if (cm < 0) this.level += cm / o.specificYield
    this.level = Math.min(o.bundCm, Math.max(PADDY_DEFAULTS.minCm, this.level))
  }
}

export interface PaddyModelOptions extends PaddyWaterOptions {
  weather: WeatherModel
  /** Simulated time the model starts at. */
  startMs: number
  /** Seed of the sensor noise (and the farmer's delays). */
  seed?: number
  /** Add sensor noise (σ 0.3 cm) to readings; default true. */
  noise?: boolean
}

const NOISE_CH = 301
const SUBSTEP_MS = 10 * 60_000

/**
 * A paddy with an AWD tube for the simulator: the water level of `PaddyWater`, driven by the
 * weather (rain, Kc × Priestley–Taylor ET of rice, `cropCoefficient`), on the 10-minute grid of the
 * other models. Reports `water_level` [cm] and `soil_moisture`. Seasons repeat (season + 15 days fallow, as
 * `cropCoefficient`), flooded again for each new season.
 */
export class PaddyModel {
  readonly water: PaddyWater
  private readonly options: PaddyModelOptions
  private readonly seed: number
  private timeMs: number

  constructor(options: PaddyModelOptions) {
    this.options = options
    this.seed = (options.seed ?? options.weather.seed) >>> 0
    this.timeMs = options.startMs
    this.water = new PaddyWater({ repeatSeasons: true, ...options, seed: this.seed })
  }

  get nowMs(): number {
    return this.timeMs
  }

  step(toMs: number): SimReading[] {
    stepOnGrid('PaddyModel', this.timeMs, toMs, SUBSTEP_MS, (t0, t1) => {
      const w = this.options.weather.at(Math.round((t0 + t1) / 2))
      const day = Math.floor((t0 - this.options.plantedAtMs) / DAY_MS)
      const kc = cropCoefficient('rice', day)
      const etc = (kc * priestleyTaylorEtMmH(w) * (t1 - t0)) / HOUR_MS
      this.water.advance(t0, t1, this.options.weather.rainMmBetween(t0, t1), etc)
      this.timeMs = t1
    })
    return this.readings()
  }

  /**
   * `water_level` from the tube, and `soil_moisture` of the probe beside it: saturated while water
   * stands, draining toward field capacity as the water table falls to −15 cm (a loam, as SoilModel).
   */
  readings(): SimReading[] {
    const s = this.water.state(this.timeMs)
    const noise = this.options.noise ?? true
    const n = (ch: number, sd: number) => (noise ? sd * gaussianAt(this.seed, ch, this.timeMs) : 0)
    const drained = Math.min(1, Math.max(0, -s.levelCm / 15))
    const vwc = LOAM.saturationVwcPct - drained * (LOAM.saturationVwcPct - LOAM.fieldCapacityVwcPct)
    return [
      { quantity: 'water_level', value: s.levelCm + n(NOISE_CH, 0.3) },
      { quantity: 'soil_moisture', value: vwc + n(NOISE_CH + 1, 0.3) },
    ]
  }
}
