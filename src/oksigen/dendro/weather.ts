import { DAY_MS, HOUR_MS } from './options.ts'

/**
 * The village weather station's air temperature and humidity, summarised per local day as the
 * life check needs them: mean vapour-pressure deficit (VPD, the atmosphere's demand that drives
 * transpiration and so a living stem's daily shrinkage) and mean relative humidity (what
 * hygroscopic wood follows). Readings of any `weather` device of a village count for that village;
 * a temperature and a humidity reading of one device at the same time make one VPD sample.
 *
 * In memory, bounded (`keepDays` days per village). After a restart the days before it are
 * unknown: the life check treats a day without weather as "no VPD", never as evidence.
 */

/** Saturation vapour pressure over water, kPa (FAO-56 eq. 11, Tetens). */
export function saturationVapourPressureKpa(tC: number): number {
  return 0.6108 * Math.exp((17.27 * tC) / (tC + 237.3))
}

/** VPD, kPa, from air temperature (°C) and relative humidity (%). */
export function vpdKpa(tC: number, rhPct: number): number {
  return saturationVapourPressureKpa(tC) * (1 - Math.max(0, Math.min(100, rhPct)) / 100)
}

export interface WeatherDay {
  /** UTC ms of local midnight starting the day. */
  dayStartMs: number
  /** Number of paired temperature/humidity samples. */
  samples: number
  vpdMeanKpa: number
  vpdMaxKpa: number
  rhMeanPct: number
  /** Rain of the day from the station's `rainfall` readings, mm (null: the station reports none). */
  rainMm: number | null
  /** The village has readings from a later day: this one is complete. */
  complete: boolean
}

export const VILLAGE_WEATHER_DEFAULTS = {
  /** Local time (Asia/Jakarta, WIB). */
  utcOffsetH: 7,
  /** Days kept per village. */
  keepDays: 14,
  /** A temperature and a humidity reading at most this far apart make one sample. */
  pairWithinMs: 60_000,
} as const

interface Acc {
  n: number
  vpdSum: number
  vpdMax: number
  rhSum: number
  rainMm: number | null
}

export class VillageWeather {
  private readonly o: typeof VILLAGE_WEATHER_DEFAULTS
  private readonly lastByDevice = new Map<
    string,
    { t?: { timeMs: number; value: number }; rh?: { timeMs: number; value: number } }
  >()
  private readonly days = new Map<string, Map<number, Acc>>()
  private readonly newest = new Map<string, number>()

  constructor(options: Partial<typeof VILLAGE_WEATHER_DEFAULTS> = {}) {
    this.o = { ...VILLAGE_WEATHER_DEFAULTS, ...options }
  }

  /** One air_temperature (°C), relative_humidity (%) or rainfall (mm since the last report) reading. */
  push(
    village: string,
    device: string,
    timeMs: number,
    quantity: 'air_temperature' | 'relative_humidity' | 'rainfall',
    value: number,
  ): void {
    if (!Number.isFinite(value) || !Number.isFinite(timeMs)) return
    if (quantity === 'rainfall') {
      // rain reported at t fell in the interval before t: it counts for the day of t − 1 ms
      const acc = this.acc(village, this.dayStartOf(timeMs - 1))
      acc.rainMm = (acc.rainMm ?? 0) + Math.max(0, value)
      return
    }
    const last = this.lastByDevice.get(device) ?? {}
    this.lastByDevice.set(device, last)
    const sample = { timeMs, value }
    if (quantity === 'air_temperature') last.t = sample
    else last.rh = sample
    const other = quantity === 'air_temperature' ? last.rh : last.t
    if (!other || Math.abs(other.timeMs - timeMs) > this.o.pairWithinMs) return
    const tC = quantity === 'air_temperature' ? value : other.value
    const rh = quantity === 'relative_humidity' ? value : other.value
    // consumed: the next pair needs two new readings
    last.t = undefined
    last.rh = undefined
    this.add(village, timeMs, vpdKpa(tC, rh), rh)
  }

  dayStartOf(timeMs: number): number {
    const off = this.o.utcOffsetH * HOUR_MS
    return Math.floor((timeMs + off) / DAY_MS) * DAY_MS - off
  }

  private acc(village: string, day: number): Acc {
    let byDay = this.days.get(village)
    if (!byDay) {
      byDay = new Map()
      this.days.set(village, byDay)
    }
    let acc = byDay.get(day)
    if (!acc) {
      acc = { n: 0, vpdSum: 0, vpdMax: 0, rhSum: 0, rainMm: null }
      byDay.set(day, acc)
    }
    return acc
  }

  private add(village: string, timeMs: number, vpd: number, rh: number): void {
    const day = this.dayStartOf(timeMs)
    const acc = this.acc(village, day)
    acc.n++
    acc.vpdSum += vpd
    acc.vpdMax = Math.max(acc.vpdMax, vpd)
    acc.rhSum += rh
    if (day > (this.newest.get(village) ?? Number.NEGATIVE_INFINITY)) {
      this.newest.set(village, day)
      const byDay = this.days.get(village)!
      for (const d of byDay.keys()) if (d < day - this.o.keepDays * DAY_MS) byDay.delete(d)
    }
  }

  /** The village's weather for one local day, or undefined when there is none. */
  day(village: string, dayStartMs: number): WeatherDay | undefined {
    const acc = this.days.get(village)?.get(dayStartMs)
    if (!acc || acc.n === 0) return undefined
    return {
      dayStartMs,
      samples: acc.n,
      vpdMeanKpa: acc.vpdSum / acc.n,
      vpdMaxKpa: acc.vpdMax,
      rhMeanPct: acc.rhSum / acc.n,
      rainMm: acc.rainMm,
      complete: (this.newest.get(village) ?? Number.NEGATIVE_INFINITY) > dayStartMs,
    }
  }

  /** Has this village any weather station readings? */
  has(village: string): boolean {
    return this.newest.has(village)
  }
}
