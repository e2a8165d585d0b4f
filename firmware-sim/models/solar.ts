/**
 * Local time and sun position. Banyuwangi keeps Asia/Jakarta time (WIB, UTC+7, no DST), so a fixed
 * offset is exact. Sun position: declination and equation of time from the Astronomical Almanac's
 * low-precision formulae, hour angle from apparent solar time, and sin(elevation) = sin φ sin δ + cos φ cos δ cos ω (FAO-56 eq. 25 ff.).
 */

export const HOUR_MS = 3_600_000
export const DAY_MS = 86_400_000
/** Asia/Jakarta (WIB) is UTC+7 all year. */
export const JAKARTA_UTC_OFFSET_H = 7
/** Banyuwangi town, for defaults. */
export const BANYUWANGI = { latDeg: -8.22, lonDeg: 114.37 } as const

const DEG = Math.PI / 180
/** 2000-01-01 12:00 TT ≈ UTC (the 64 s between them do not matter here). */
const J2000_MS = Date.UTC(2000, 0, 1, 12)

/** Local clock hours in [0, 24). */
export function localHours(timeMs: number, utcOffsetH = JAKARTA_UTC_OFFSET_H): number {
  const localMs = timeMs + utcOffsetH * HOUR_MS
  return (((localMs % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS
}

/** Index of the local calendar day (days since 1970-01-01 local). */
export function localDayIndex(timeMs: number, utcOffsetH = JAKARTA_UTC_OFFSET_H): number {
  return Math.floor((timeMs + utcOffsetH * HOUR_MS) / DAY_MS)
}

/** UTC ms of local midnight starting day `dayIndex`. */
export function localDayStartMs(dayIndex: number, utcOffsetH = JAKARTA_UTC_OFFSET_H): number {
  return dayIndex * DAY_MS - utcOffsetH * HOUR_MS
}

/** Local month 1–12. */
export function localMonth(timeMs: number, utcOffsetH = JAKARTA_UTC_OFFSET_H): number {
  return new Date(timeMs + utcOffsetH * HOUR_MS).getUTCMonth() + 1
}

/** Day of the year 1–366 (local date). */
export function dayOfYear(timeMs: number, utcOffsetH = JAKARTA_UTC_OFFSET_H): number {
  const local = new Date(timeMs + utcOffsetH * HOUR_MS)
  const startOfYear = Date.UTC(local.getUTCFullYear(), 0, 1)
  return Math.floor((local.getTime() - startOfYear) / DAY_MS) + 1
}

/**
 * Sun declination and equation of time by the low-precision formulae of the Astronomical Almanac
 * (also NOAA's): mean longitude and anomaly from days since J2000, ecliptic longitude, obliquity.
 * Good to ~0.01° in declination and a few seconds in the equation of time for 1950–2050, with no
 * leap-year drift (FAO-56 eq. 24 can be ~0.5° off; the agronomy module keeps FAO-56's for ET0).
 */
export function sunPosition(timeMs: number): { declinationRad: number; equationOfTimeH: number } {
  const n = (timeMs - J2000_MS) / DAY_MS
  const meanLongitudeDeg = 280.46 + 0.9856474 * n
  const meanAnomaly = (357.528 + 0.9856003 * n) * DEG
  const eclipticLongitude =
    (meanLongitudeDeg + 1.915 * Math.sin(meanAnomaly) + 0.02 * Math.sin(2 * meanAnomaly)) * DEG
  const obliquity = (23.439 - 0.0000004 * n) * DEG
  const declinationRad = Math.asin(Math.sin(obliquity) * Math.sin(eclipticLongitude))
  const rightAscensionDeg =
    Math.atan2(Math.cos(obliquity) * Math.sin(eclipticLongitude), Math.cos(eclipticLongitude)) / DEG
  // Equation of time = mean longitude − right ascension, wrapped to ±180°, 15° per hour.
  const diffDeg = ((((meanLongitudeDeg - rightAscensionDeg) % 360) + 540) % 360) - 180
  return { declinationRad, equationOfTimeH: diffDeg / 15 }
}

/** Solar declination at a time, radians. */
export function solarDeclinationRad(timeMs: number): number {
  return sunPosition(timeMs).declinationRad
}

/** Apparent solar time in hours [0, 24) at a longitude (east positive). */
export function solarTimeH(timeMs: number, lonDeg: number): number {
  const utcH = localHours(timeMs, 0)
  const t = utcH + lonDeg / 15 + sunPosition(timeMs).equationOfTimeH
  return ((t % 24) + 24) % 24
}

/** Sun elevation above the horizon in degrees (negative at night). */
export function sunElevationDeg(timeMs: number, latDeg: number, lonDeg: number): number {
  const { declinationRad: decl, equationOfTimeH } = sunPosition(timeMs)
  const solarTime = (((localHours(timeMs, 0) + lonDeg / 15 + equationOfTimeH) % 24) + 24) % 24
  const hourAngle = (solarTime - 12) * 15 * DEG
  const lat = latDeg * DEG
  const sinEl = Math.sin(lat) * Math.sin(decl) + Math.cos(lat) * Math.cos(decl) * Math.cos(hourAngle)
  return Math.asin(Math.max(-1, Math.min(1, sinEl))) / DEG
}

/** Sun elevation at solar noon on the day of `timeMs`: 90° − |φ − δ|. */
export function solarNoonElevationDeg(latDeg: number, timeMs: number): number {
  return 90 - Math.abs(latDeg - solarDeclinationRad(timeMs) / DEG)
}

/**
 * Clear-sky global horizontal irradiance, W/m², by the Haurwitz (1945) model:
 * GHI = 1098 · cos Z · exp(−0.057 / cos Z). Near 1030 W/m² with the sun overhead, which matches
 * the ~1000 W/m² measured at tropical noon on clear days.
 */
export function clearSkyGhiWm2(elevationDeg: number): number {
  if (elevationDeg <= 0) return 0
  const cosZ = Math.sin(elevationDeg * DEG)
  return 1098 * cosZ * Math.exp(-0.057 / cosZ)
}

/** Cloud attenuation of global radiation, Kasten & Czeplak (1980): 1 − 0.75 · N^3.4, N in [0, 1]. */
export function cloudFactor(cloudiness: number): number {
  const n = Math.max(0, Math.min(1, cloudiness))
  return 1 - 0.75 * n ** 3.4
}
