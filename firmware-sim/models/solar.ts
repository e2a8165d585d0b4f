/**
 * Local time and sun position. Banyuwangi keeps Asia/Jakarta time (WIB, UTC+7, no DST), so a fixed
 * offset is exact. Sun position: Spencer (1971) declination and equation of time, hour angle from
 * apparent solar time, and sin(elevation) = sin φ sin δ + cos φ cos δ cos ω (FAO-56 eq. 25 ff.).
 */

export const HOUR_MS = 3_600_000
export const DAY_MS = 86_400_000
/** Asia/Jakarta (WIB) is UTC+7 all year. */
export const JAKARTA_UTC_OFFSET_H = 7
/** Banyuwangi town, for defaults. */
export const BANYUWANGI = { latDeg: -8.22, lonDeg: 114.37 } as const

const DEG = Math.PI / 180

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

/** Fractional day of the year in UTC: 1.0 at 1 January 00:00 UTC. */
export function fractionalDayOfYearUtc(timeMs: number): number {
  const d = new Date(timeMs)
  return 1 + (timeMs - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY_MS
}

function yearAngle(doy: number): number {
  return (2 * Math.PI * (doy - 1)) / 365
}

/**
 * Solar declination in radians, Spencer (1971) Fourier series (error < 0.04°). `doy` may be
 * fractional. FAO-56 eq. 24 (0.409 sin(2πJ/365 − 1.39)) is within ~0.7° of it; the agronomy module
 * uses that one for ET0, as FAO-56 does.
 */
export function solarDeclinationRad(doy: number): number {
  const g = yearAngle(doy)
  return (
    0.006918 -
    0.399912 * Math.cos(g) +
    0.070257 * Math.sin(g) -
    0.006758 * Math.cos(2 * g) +
    0.000907 * Math.sin(2 * g) -
    0.002697 * Math.cos(3 * g) +
    0.00148 * Math.sin(3 * g)
  )
}

/** Equation of time in hours, Spencer (1971): apparent minus mean solar time. */
export function equationOfTimeH(doy: number): number {
  const g = yearAngle(doy)
  const minutes =
    229.18 *
    (0.000075 + 0.001868 * Math.cos(g) - 0.032077 * Math.sin(g) - 0.014615 * Math.cos(2 * g) - 0.040849 * Math.sin(2 * g))
  return minutes / 60
}

/** Apparent solar time in hours [0, 24) at a longitude (east positive). */
export function solarTimeH(timeMs: number, lonDeg: number): number {
  const utcH = localHours(timeMs, 0)
  const t = utcH + lonDeg / 15 + equationOfTimeH(fractionalDayOfYearUtc(timeMs))
  return ((t % 24) + 24) % 24
}

/** Sun elevation above the horizon in degrees (negative at night). */
export function sunElevationDeg(timeMs: number, latDeg: number, lonDeg: number): number {
  const decl = solarDeclinationRad(fractionalDayOfYearUtc(timeMs))
  const hourAngle = (solarTimeH(timeMs, lonDeg) - 12) * 15 * DEG
  const lat = latDeg * DEG
  const sinEl = Math.sin(lat) * Math.sin(decl) + Math.cos(lat) * Math.cos(decl) * Math.cos(hourAngle)
  return Math.asin(Math.max(-1, Math.min(1, sinEl))) / DEG
}

/** Sun elevation at solar noon: 90° − |φ − δ|. */
export function solarNoonElevationDeg(latDeg: number, doy: number): number {
  return 90 - Math.abs(latDeg - solarDeclinationRad(doy) / DEG)
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
