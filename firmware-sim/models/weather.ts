import { climateAtDoy } from './climate.ts'
import { gaussianAt, uniformAt, valueNoise } from './random.ts'
import {
  BANYUWANGI,
  clearSkyGhiWm2,
  cloudFactor,
  DAY_MS,
  dayOfYear,
  HOUR_MS,
  JAKARTA_UTC_OFFSET_H,
  localDayIndex,
  localDayStartMs,
  localHours,
  sunElevationDeg,
} from './solar.ts'
import type { SimReading } from './types.ts'

/**
 * Weather for a lowland village near Banyuwangi. Every value is a pure function of (seed, time,
 * forcings): `at(t)` needs no stepping, so the state at T is the same however T was reached.
 * Rain comes as discrete events (a start, an end and a depth), so rain over any interval is an
 * exact integral and no millimetre is lost or counted twice between steps.
 */

export interface WeatherOptions {
  seed: number
  latDeg?: number
  lonDeg?: number
  /** Local time offset from UTC; Banyuwangi keeps WIB (UTC+7). */
  utcOffsetH?: number
}

export interface WeatherState {
  timeMs: number
  airTemperatureC: number
  relativeHumidityPct: number
  dewPointC: number
  /** Vapour pressure deficit, kPa (drives stem shrinkage). */
  vpdKpa: number
  pressureHpa: number
  /** Wind speed at 2 m, m/s. */
  windSpeedMs: number
  solarRadiationWm2: number
  sunElevationDeg: number
  /** Cloud cover fraction 0–1. */
  cloudiness: number
  /** Rain intensity right now, mm/h. */
  rainRateMmH: number
}

export interface DailyWeatherSummary {
  /** UTC ms of local midnight starting the day. */
  dayStartMs: number
  tMinC: number
  tMaxC: number
  rhMeanPct: number
  rhMinPct: number
  rhMaxPct: number
  windMeanMs: number
  /** Global radiation summed over the day, MJ/m²/day (the Rs of FAO-56). */
  solarMjM2: number
  rainMm: number
}

export interface RainEvent {
  startMs: number
  endMs: number
  mm: number
  forced: boolean
}

/** Tunables of the weather model, named, with why. */
export const WEATHER_DEFAULTS = {
  /** Convective storms start between these local hours (afternoon convection over Java). */
  stormStartEarliestH: 13,
  stormStartLatestH: 18,
  stormMinDurationH: 0.5,
  stormMaxDurationH: 3,
  /** Cap on one natural event; Banyuwangi's extreme daily rain is of this order. */
  stormMaxMm: 120,
  /** Duration of a `forceRain` storm unless given. */
  forcedRainDurationMs: HOUR_MS,
  /** Air cools this much under a storm and recovers with `rainCoolingDecayH`. */
  rainCoolingC: 4,
  rainCoolingDecayH: 3,
  /** Clouds build up over this many hours before a storm and clear over as many after. */
  cloudBuildUpH: 3,
  /** Semi-diurnal pressure tide amplitude, hPa; tropical maxima near 10:00 and 22:00 local. */
  pressureTideHpa: 1.1,
  pressureTidePeakH: 10,
  /** Day-to-day synoptic pressure wander, hPa. */
  pressureWanderHpa: 1.0,
  /** Hours of the daily temperature minimum and maximum (local). */
  tMinHour: 5,
  tMaxHour: 14,
  /** Cloudier days have lower maxima: °C per unit of cloud cover above the month's norm. */
  tMaxCloudSensitivityC: 4,
  /** Dry spells are clearer: the cloud cover is multiplied by this. */
  drySpellCloudFactor: 0.5,
  /** A wet spell is overcast all day … */
  wetSpellCloudiness: 0.97,
  /** … with the dew point this close to the air temperature (RH ~94 % at 27 °C). */
  wetSpellDewDepressionC: 1,
  /** Memo size for `at()`: fields sharing a weather model ask for the same instants. */
  memoEntries: 512,
} as const

// Channels of the stateless noise, so streams do not correlate.
const CH = {
  rainDay: 1,
  rainStart: 2,
  rainDuration: 3,
  rainDepth: 4,
  dryWeek: 5,
  cloud: 6,
  tMin: 7,
  tMax: 8,
  dew: 9,
  wind: 10,
  pressure: 11,
  wetStart: 12,
  wetDepth: 13,
} as const

const DRY_WEEK_DAYS = 7

/** Saturation vapour pressure, kPa (FAO-56 eq. 11). */
export function saturationVapourPressureKpa(tC: number): number {
  return 0.6108 * Math.exp((17.27 * tC) / (tC + 237.3))
}

/** Relative humidity from air temperature and dew point, %. */
export function relativeHumidityPct(tC: number, dewPointC: number): number {
  return (100 * saturationVapourPressureKpa(dewPointC)) / saturationVapourPressureKpa(tC)
}

function halfCosine(from: number, to: number, f: number): number {
  return from + ((to - from) * (1 - Math.cos(Math.PI * Math.max(0, Math.min(1, f))))) / 2
}

function overlapMs(a0: number, a1: number, b0: number, b1: number): number {
  return Math.max(0, Math.min(a1, b1) - Math.max(a0, b0))
}

export class WeatherModel {
  readonly seed: number
  readonly latDeg: number
  readonly lonDeg: number
  readonly utcOffsetH: number
  private readonly drySpells: Array<{ fromMs: number; toMs: number }> = []
  private readonly wetSpells: Array<{ fromMs: number; toMs: number }> = []
  private readonly forcedRain: RainEvent[] = []
  private readonly naturalByDay = new Map<number, RainEvent[]>()
  private readonly memo = new Map<number, WeatherState>()

  constructor(options: WeatherOptions) {
    this.seed = options.seed >>> 0
    this.latDeg = options.latDeg ?? BANYUWANGI.latDeg
    this.lonDeg = options.lonDeg ?? BANYUWANGI.lonDeg
    this.utcOffsetH = options.utcOffsetH ?? JAKARTA_UTC_OFFSET_H
  }

  /** No natural rain in [fromMs, toMs): any storm overlapping it is cancelled, and skies are clearer. */
  forceDrySpell(fromMs: number, toMs: number): this {
    if (!(toMs > fromMs))
      throw new RangeError(`forceDrySpell: toMs (${toMs}) must be after fromMs (${fromMs})`)
    this.drySpells.push({ fromMs, toMs })
    this.memo.clear()
    return this
  }

  /**
   * A rainy spell in [fromMs, toMs) (a "week of rain"): overcast all day, rain morning and
   * afternoon every day, air near saturation (dew point ~1 °C below the air), so VPD stays low and
   * trees barely transpire. Natural storms still fall as well.
   */
  forceWetSpell(fromMs: number, toMs: number): this {
    if (!(toMs > fromMs))
      throw new RangeError(`forceWetSpell: toMs (${toMs}) must be after fromMs (${fromMs})`)
    this.wetSpells.push({ fromMs, toMs })
    this.memo.clear()
    return this
  }

  /** Is `timeMs` inside a forced wet spell? */
  inWetSpell(timeMs: number): boolean {
    return this.wetSpells.some((s) => s.fromMs <= timeMs && timeMs < s.toMs)
  }

  /** A storm of `mm` starting at `atMs` (default one hour long). It falls even inside a forced dry spell. */
  forceRain(atMs: number, mm: number, durationMs: number = WEATHER_DEFAULTS.forcedRainDurationMs): this {
    if (!(mm >= 0) || !(durationMs > 0)) throw new RangeError('forceRain: mm must be ≥ 0 and durationMs > 0')
    this.forcedRain.push({ startMs: atMs, endMs: atMs + durationMs, mm, forced: true })
    this.memo.clear()
    return this
  }

  /** Rain events (natural and forced) that overlap [fromMs, toMs). */
  rainEvents(fromMs: number, toMs: number): RainEvent[] {
    const events: RainEvent[] = []
    const lastDay = localDayIndex(toMs, this.utcOffsetH)
    for (let day = localDayIndex(fromMs, this.utcOffsetH) - 1; day <= lastDay; day++) {
      for (const e of this.naturalEvents(day)) {
        if (e.endMs > fromMs && e.startMs < toMs) events.push(e)
      }
      for (const e of this.wetSpellEvents(day)) {
        if (e.endMs > fromMs && e.startMs < toMs) events.push(e)
      }
    }
    for (const e of this.forcedRain) if (e.endMs > fromMs && e.startMs < toMs) events.push(e)
    return events.sort((a, b) => a.startMs - b.startMs)
  }

  /** Rain that fell in [fromMs, toMs), mm: exact, so consecutive intervals add up. */
  rainMmBetween(fromMs: number, toMs: number): number {
    if (toMs <= fromMs) return 0
    let mm = 0
    for (const e of this.rainEvents(fromMs, toMs)) {
      mm += (e.mm * overlapMs(e.startMs, e.endMs, fromMs, toMs)) / (e.endMs - e.startMs)
    }
    return mm
  }

  /** The weather at one instant. */
  at(timeMs: number): WeatherState {
    const cached = this.memo.get(timeMs)
    if (cached) return cached
    const state = this.compute(timeMs)
    if (this.memo.size >= WEATHER_DEFAULTS.memoEntries) this.memo.clear()
    this.memo.set(timeMs, state)
    return state
  }

  /** Instantaneous station readings (no rainfall: that is per reporting interval, see WeatherStation). */
  readings(timeMs: number): SimReading[] {
    const w = this.at(timeMs)
    return [
      { quantity: 'air_temperature', value: w.airTemperatureC },
      { quantity: 'relative_humidity', value: w.relativeHumidityPct },
      { quantity: 'pressure', value: w.pressureHpa },
      { quantity: 'wind_speed', value: w.windSpeedMs },
      { quantity: 'solar_radiation', value: w.solarRadiationWm2 },
    ]
  }

  /** Daily values for FAO-56 ET0 of the local day containing `timeMs` (10-minute sampling). */
  dailySummary(timeMs: number): DailyWeatherSummary {
    const stepMs = 10 * 60_000
    const dayStartMs = localDayStartMs(localDayIndex(timeMs, this.utcOffsetH), this.utcOffsetH)
    let tMinC = Number.POSITIVE_INFINITY
    let tMaxC = Number.NEGATIVE_INFINITY
    let rhMinPct = Number.POSITIVE_INFINITY
    let rhMaxPct = Number.NEGATIVE_INFINITY
    let rhSum = 0
    let windSum = 0
    let solarJ = 0
    let n = 0
    for (let t = dayStartMs; t < dayStartMs + DAY_MS; t += stepMs) {
      const w = this.compute(t + stepMs / 2)
      tMinC = Math.min(tMinC, w.airTemperatureC)
      tMaxC = Math.max(tMaxC, w.airTemperatureC)
      rhMinPct = Math.min(rhMinPct, w.relativeHumidityPct)
      rhMaxPct = Math.max(rhMaxPct, w.relativeHumidityPct)
      rhSum += w.relativeHumidityPct
      windSum += w.windSpeedMs
      solarJ += w.solarRadiationWm2 * (stepMs / 1000)
      n++
    }
    return {
      dayStartMs,
      tMinC,
      tMaxC,
      rhMeanPct: rhSum / n,
      rhMinPct,
      rhMaxPct,
      windMeanMs: windSum / n,
      solarMjM2: solarJ / 1e6,
      rainMm: this.rainMmBetween(dayStartMs, dayStartMs + DAY_MS),
    }
  }

  private inDrySpell(fromMs: number, toMs = fromMs + 1): boolean {
    return this.drySpells.some((s) => s.fromMs < toMs && fromMs < s.toMs)
  }

  /** The natural storm of a local day (zero or one), before forced dry spells are applied. */
  private rawNaturalEvents(day: number): RainEvent[] {
    const cached = this.naturalByDay.get(day)
    if (cached) return cached
    const dayStart = localDayStartMs(day, this.utcOffsetH)
    const clim = climateAtDoy(dayOfYear(dayStart + DAY_MS / 2, this.utcOffsetH))
    const events: RainEvent[] = []
    const dryWeek = uniformAt(this.seed, CH.dryWeek, Math.floor(day / DRY_WEEK_DAYS)) < clim.pDryWeek
    if (!dryWeek && uniformAt(this.seed, CH.rainDay, day) < clim.pRainDay) {
      const d = WEATHER_DEFAULTS
      const startH =
        d.stormStartEarliestH +
        (d.stormStartLatestH - d.stormStartEarliestH) * uniformAt(this.seed, CH.rainStart, day)
      const durationH =
        d.stormMinDurationH +
        (d.stormMaxDurationH - d.stormMinDurationH) * uniformAt(this.seed, CH.rainDuration, day)
      const mm = Math.min(
        d.stormMaxMm,
        -clim.meanEventMm * Math.log(1 - uniformAt(this.seed, CH.rainDepth, day)),
      )
      const startMs = Math.round(dayStart + startH * HOUR_MS)
      events.push({ startMs, endMs: Math.round(startMs + durationH * HOUR_MS), mm, forced: false })
    }
    this.naturalByDay.set(day, events)
    return events
  }

  /** Rain of a wet-spell day: a morning shower (08–10 h start) and an afternoon downpour (13–15 h). */
  private wetSpellEvents(day: number): RainEvent[] {
    if (this.wetSpells.length === 0) return []
    const dayStart = localDayStartMs(day, this.utcOffsetH)
    const out: RainEvent[] = []
    const parts = [
      { ch: 0, startH: 8, durationH: 2.5, meanMm: 6 },
      { ch: 1, startH: 13, durationH: 4, meanMm: 15 },
    ]
    for (const p of parts) {
      const startMs = Math.round(
        dayStart + (p.startH + 2 * uniformAt(this.seed, CH.wetStart, day, p.ch)) * HOUR_MS,
      )
      if (!this.inWetSpell(startMs)) continue
      const mm = p.meanMm * (0.5 + uniformAt(this.seed, CH.wetDepth, day, p.ch))
      out.push({ startMs, endMs: Math.round(startMs + p.durationH * HOUR_MS), mm, forced: true })
    }
    return out
  }

  private naturalEvents(day: number): RainEvent[] {
    return this.rawNaturalEvents(day).filter((e) => !this.inDrySpell(e.startMs, e.endMs))
  }

  /** Storms that matter for the sky and air at `timeMs`: from yesterday, today and forced ones. */
  private nearbyEvents(timeMs: number): RainEvent[] {
    const d = WEATHER_DEFAULTS
    const spanMs = Math.max(d.cloudBuildUpH, 3 * d.rainCoolingDecayH) * HOUR_MS
    return this.rainEvents(timeMs - spanMs, timeMs + d.cloudBuildUpH * HOUR_MS)
  }

  private dayCloudBase(timeMs: number): number {
    const clim = climateAtDoy(dayOfYear(timeMs, this.utcOffsetH))
    // Cloud cover wanders on a half-day scale around the month's norm.
    const c = clim.cloudiness + 0.2 * valueNoise(this.seed, CH.cloud, timeMs / (12 * HOUR_MS))
    if (this.inWetSpell(timeMs)) return WEATHER_DEFAULTS.wetSpellCloudiness
    const factor = this.inDrySpell(timeMs) ? WEATHER_DEFAULTS.drySpellCloudFactor : 1
    return Math.max(0, Math.min(1, c * factor))
  }

  private tMinOfDay(day: number): number {
    const clim = climateAtDoy(dayOfYear(localDayStartMs(day, this.utcOffsetH) + DAY_MS / 2, this.utcOffsetH))
    return clim.tMinC + 0.7 * valueNoise(this.seed, CH.tMin, day / 3)
  }

  private tMaxOfDay(day: number): number {
    const noonMs = localDayStartMs(day, this.utcOffsetH) + DAY_MS / 2
    const clim = climateAtDoy(dayOfYear(noonMs, this.utcOffsetH))
    const cloudAnomaly = this.dayCloudBase(noonMs) - clim.cloudiness
    return (
      clim.tMaxC +
      0.8 * valueNoise(this.seed, CH.tMax, day / 2) -
      WEATHER_DEFAULTS.tMaxCloudSensitivityC * cloudAnomaly
    )
  }

  private compute(timeMs: number): WeatherState {
    const d = WEATHER_DEFAULTS
    const hour = localHours(timeMs, this.utcOffsetH)
    const day = localDayIndex(timeMs, this.utcOffsetH)
    const clim = climateAtDoy(dayOfYear(timeMs, this.utcOffsetH))
    const events = this.nearbyEvents(timeMs)

    // Sky: the background cover, raised to near overcast around each storm.
    let cloudiness = this.dayCloudBase(timeMs)
    let rainRateMmH = 0
    let coolingC = 0
    let gustMs = 0
    for (const e of events) {
      const buildMs = d.cloudBuildUpH * HOUR_MS
      let bump = 0
      if (timeMs >= e.startMs - buildMs && timeMs < e.startMs) {
        bump = 0.5 + 0.45 * ((timeMs - (e.startMs - buildMs)) / buildMs)
      } else if (timeMs >= e.startMs && timeMs < e.endMs) {
        bump = 0.95
        rainRateMmH += e.mm / ((e.endMs - e.startMs) / HOUR_MS)
      } else if (timeMs >= e.endMs && timeMs < e.endMs + buildMs) {
        bump = 0.95 - 0.5 * ((timeMs - e.endMs) / buildMs)
      }
      cloudiness = Math.max(cloudiness, bump)
      if (timeMs >= e.startMs) {
        const onset = Math.min(1, (timeMs - e.startMs) / (0.5 * HOUR_MS))
        const decay = timeMs < e.endMs ? 1 : Math.exp(-(timeMs - e.endMs) / (d.rainCoolingDecayH * HOUR_MS))
        // A small storm cools less than a downpour.
        const strength = Math.min(1, e.mm / 10)
        coolingC = Math.max(coolingC, d.rainCoolingC * strength * onset * decay)
      }
      if (timeMs >= e.startMs - 0.5 * HOUR_MS && timeMs < e.startMs + HOUR_MS) gustMs = Math.max(gustMs, 2.5)
    }

    // Air temperature: half-cosine rise from Tmin at 05:00 to Tmax at 14:00, fall to next Tmin.
    let airC: number
    if (hour < d.tMinHour) {
      const f = (hour + 24 - d.tMaxHour) / (24 - d.tMaxHour + d.tMinHour)
      airC = halfCosine(this.tMaxOfDay(day - 1), this.tMinOfDay(day), f)
    } else if (hour < d.tMaxHour) {
      airC = halfCosine(
        this.tMinOfDay(day),
        this.tMaxOfDay(day),
        (hour - d.tMinHour) / (d.tMaxHour - d.tMinHour),
      )
    } else {
      const f = (hour - d.tMaxHour) / (24 - d.tMaxHour + d.tMinHour)
      airC = halfCosine(this.tMaxOfDay(day), this.tMinOfDay(day + 1), f)
    }
    airC -= coolingC

    // Humidity: the dew point holds near the night minimum all day, so RH falls as the air warms.
    const dewNoise = 0.4 * valueNoise(this.seed, CH.dew, timeMs / (8 * HOUR_MS))
    let dewPointC = this.tMinOfDay(hour < d.tMaxHour ? day : day + 1) - clim.dewDepressionC + dewNoise
    if (this.inWetSpell(timeMs)) dewPointC = airC - d.wetSpellDewDepressionC + 0.3 * dewNoise
    dewPointC = Math.min(dewPointC, airC - 0.1)
    let rh = relativeHumidityPct(airC, dewPointC)
    if (rainRateMmH > 0) rh = Math.max(rh, 96)
    rh = Math.max(30, Math.min(99.5, rh))
    dewPointC = Math.min(dewPointC, airC)

    // Wind: calm nights, a sea-breeze maximum in the early afternoon, gusts ahead of storms.
    const diel = 0.55 + 0.9 * Math.max(0, Math.sin((Math.PI * (hour - 8)) / 11))
    const dielMean = 0.55 + (0.9 * (11 / 24) * 2) / Math.PI
    const windSpeedMs = Math.max(
      0.1,
      (clim.windMs * diel) / dielMean +
        0.35 * clim.windMs * valueNoise(this.seed, CH.wind, timeMs / (2 * HOUR_MS)) +
        gustMs,
    )

    const pressureHpa =
      clim.pressureHpa +
      d.pressureTideHpa * Math.cos((2 * Math.PI * (hour - d.pressureTidePeakH)) / 12) +
      d.pressureWanderHpa * valueNoise(this.seed, CH.pressure, timeMs / (3 * DAY_MS))

    const elevation = sunElevationDeg(timeMs, this.latDeg, this.lonDeg)
    const rainDimming = rainRateMmH > 0 ? 0.5 : 1
    const solarRadiationWm2 = clearSkyGhiWm2(elevation) * cloudFactor(cloudiness) * rainDimming

    return {
      timeMs,
      airTemperatureC: airC,
      relativeHumidityPct: rh,
      dewPointC,
      vpdKpa: saturationVapourPressureKpa(airC) * (1 - rh / 100),
      pressureHpa,
      windSpeedMs,
      solarRadiationWm2,
      sunElevationDeg: elevation,
      cloudiness,
      rainRateMmH,
    }
  }
}

export interface WeatherStationOptions {
  weather: WeatherModel
  /** Simulated time the station starts at; the first rainfall report counts from here. */
  startMs: number
  /** Seed of the sensor noise (defaults to the weather seed). */
  seed?: number
  /** Add sensor noise (σ per quantity below); default true. */
  noise?: boolean
  /** Tipping-bucket resolution, mm per tip (0.2 mm is the common gauge). 0 reports exact rain. */
  bucketMm?: number
}

/** Sensor noise σ per quantity, in canonical units: typical of a BME280/SHT31, cup anemometer, pyranometer. */
export const STATION_NOISE = {
  air_temperature: 0.1,
  relative_humidity: 1,
  pressure: 0.1,
  wind_speed: 0.1,
  solar_radiation: 5,
} as const

const NOISE_CHANNEL: Record<keyof typeof STATION_NOISE, number> = {
  air_temperature: 101,
  relative_humidity: 102,
  pressure: 103,
  wind_speed: 104,
  solar_radiation: 105,
}

/**
 * A weather station node: instantaneous readings plus rainfall counted by a tipping bucket since
 * the previous report. The only state is the report cursor and the fraction of a tip carried over.
 */
export class WeatherStation {
  private readonly weather: WeatherModel
  private readonly seed: number
  private readonly noise: boolean
  private readonly bucketMm: number
  private timeMs: number
  private carryMm = 0

  constructor(options: WeatherStationOptions) {
    this.weather = options.weather
    this.seed = (options.seed ?? options.weather.seed) >>> 0
    this.noise = options.noise ?? true
    this.bucketMm = options.bucketMm ?? 0.2
    this.timeMs = options.startMs
  }

  get nowMs(): number {
    return this.timeMs
  }

  /** Advance to `toMs` and report: instantaneous values at `toMs` and the rain since the last report. */
  step(toMs: number): SimReading[] {
    if (toMs < this.timeMs) throw new RangeError(`WeatherStation.step: ${toMs} is before ${this.timeMs}`)
    let rainMm = this.weather.rainMmBetween(this.timeMs, toMs) + this.carryMm
    if (this.bucketMm > 0) {
      const tips = Math.floor(rainMm / this.bucketMm + 1e-9)
      this.carryMm = rainMm - tips * this.bucketMm
      rainMm = tips * this.bucketMm
    }
    this.timeMs = toMs
    const readings = this.weather.readings(toMs).map((r) => {
      if (!this.noise) return r
      const q = r.quantity as keyof typeof STATION_NOISE
      const value = r.value + STATION_NOISE[q] * gaussianAt(this.seed, NOISE_CHANNEL[q], toMs)
      // A pyranometer reads zero in the dark, and no sensor here reads below zero.
      return { quantity: r.quantity, value: r.value === 0 ? 0 : Math.max(0, value) }
    })
    readings.push({ quantity: 'rainfall', value: Math.round(rainMm * 1000) / 1000 })
    return readings
  }
}
