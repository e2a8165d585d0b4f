/**
 * Monthly climate of Banyuwangi (lowland east coast of Java, ~8.2° S), the one table the weather
 * model is driven by. Values are approximate normals chosen to reproduce the published picture,
 * not measured statistics for one station:
 * - wet season Nov–Apr, dry season Jun–Sep with the south-east monsoon (BMKG climate normals for
 *   East Java; climate-data.org "Banyuwangi": ~1,300–1,600 mm/yr, Jan wettest ~250 mm, Aug driest
 *   ~15–30 mm; daily highs 30–33 °C, lows 21–24 °C, coolest nights Jul–Aug, hottest days Oct–Nov);
 * - rain in the wet season is mostly afternoon convection: so the model draws at most one
 *   convective event per day, starting 13:00–18:00 local;
 * - `pDryWeek` is the chance that a whole 7-day block is rainless, which strings together into dry
 *   spells of days to weeks in the dry season.
 * Monthly rain ≈ days × pRainDay × (1 − pDryWeek) × meanEventMm (Jan: 31 × 0.55 × 0.95 × 16 ≈ 260 mm;
 * Aug ≈ 7 mm); a year comes to 800–1,700 mm depending on the seed, ~1,300 on average.
 */
export interface MonthClimate {
  /** Probability that a day (outside a dry week) has a convective rain event. */
  pRainDay: number
  /** Mean depth of one event, mm (depths are exponentially distributed). */
  meanEventMm: number
  /** Probability that a 7-day block has no rain at all. */
  pDryWeek: number
  tMinC: number
  tMaxC: number
  /** Night dew-point depression Tmin − Td, °C: small in the wet season (RH ~95 % at dawn). */
  dewDepressionC: number
  /** Mean 2 m wind speed, m/s (stronger with the dry-season south-east monsoon). */
  windMs: number
  /** Mean sea-level pressure, hPa (highest in the dry season). */
  pressureHpa: number
  /** Typical cloud cover fraction outside storms. */
  cloudiness: number
}

//                       pRain  mmEv  pDryWk tMin  tMax  dewDep wind  pres    cloud
const ROWS: Array<[number, number, number, number, number, number, number, number, number]> = [
  /* Jan */ [0.55, 16, 0.05, 23.5, 31.0, 0.8, 1.8, 1009.0, 0.5],
  /* Feb */ [0.55, 16, 0.05, 23.5, 31.0, 0.8, 1.8, 1009.0, 0.5],
  /* Mar */ [0.45, 15, 0.08, 23.5, 31.5, 0.9, 1.7, 1009.5, 0.45],
  /* Apr */ [0.35, 13, 0.15, 23.3, 31.5, 1.0, 1.8, 1010.0, 0.4],
  /* May */ [0.2, 10, 0.3, 22.8, 31.0, 1.2, 2.2, 1010.5, 0.3],
  /* Jun */ [0.12, 8, 0.45, 22.0, 30.5, 1.5, 2.8, 1011.0, 0.25],
  /* Jul */ [0.08, 7, 0.55, 21.5, 30.5, 1.8, 3.0, 1011.5, 0.2],
  /* Aug */ [0.05, 6, 0.6, 21.5, 31.0, 2.0, 3.0, 1011.5, 0.15],
  /* Sep */ [0.06, 6, 0.55, 22.0, 32.0, 1.8, 3.0, 1011.0, 0.15],
  /* Oct */ [0.12, 8, 0.4, 23.0, 33.0, 1.5, 2.6, 1010.5, 0.25],
  /* Nov */ [0.35, 13, 0.15, 23.5, 32.5, 1.2, 2.0, 1010.0, 0.4],
  /* Dec */ [0.5, 16, 0.06, 23.5, 31.5, 0.9, 1.8, 1009.5, 0.45],
]

export const MONTHLY_CLIMATE: readonly MonthClimate[] = ROWS.map(
  ([pRainDay, meanEventMm, pDryWeek, tMinC, tMaxC, dewDepressionC, windMs, pressureHpa, cloudiness]) => ({
    pRainDay,
    meanEventMm,
    pDryWeek,
    tMinC,
    tMaxC,
    dewDepressionC,
    windMs,
    pressureHpa,
    cloudiness,
  }),
)

/** Wet season (Nov–Apr) by local month 1–12. */
export function isWetSeasonMonth(month: number): boolean {
  return month >= 11 || month <= 4
}

/** The climate row of a month, 1–12. */
export function monthClimate(month: number): MonthClimate {
  return MONTHLY_CLIMATE[(((month - 1) % 12) + 12) % 12]!
}

/**
 * Climate at a day of the year, linearly interpolated between mid-month values so that
 * temperatures and pressures do not step at month boundaries.
 */
export function climateAtDoy(doy: number): MonthClimate {
  const monthPos = ((doy - 0.5) / 365.25) * 12 - 0.5 // 0 = mid-January
  const i0 = Math.floor(monthPos)
  const f = monthPos - i0
  const a = monthClimate(i0 + 1)
  const b = monthClimate(i0 + 2)
  const mix = (x: number, y: number) => x + (y - x) * f
  return {
    pRainDay: mix(a.pRainDay, b.pRainDay),
    meanEventMm: mix(a.meanEventMm, b.meanEventMm),
    pDryWeek: mix(a.pDryWeek, b.pDryWeek),
    tMinC: mix(a.tMinC, b.tMinC),
    tMaxC: mix(a.tMaxC, b.tMaxC),
    dewDepressionC: mix(a.dewDepressionC, b.dewDepressionC),
    windMs: mix(a.windMs, b.windMs),
    pressureHpa: mix(a.pressureHpa, b.pressureHpa),
    cloudiness: mix(a.cloudiness, b.cloudiness),
  }
}
