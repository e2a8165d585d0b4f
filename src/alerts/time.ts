/**
 * Local time in Asia/Jakarta. WIB is UTC+7 all year (Indonesia keeps no daylight saving time), so
 * a fixed offset is exact and needs no time-zone database.
 */
export const WIB_OFFSET_MS = 7 * 3_600_000
export const DAY_MS = 86_400_000

/** UTC ms of the local (WIB) midnight starting the day that contains `ms`. */
export function localDayStart(ms: number): number {
  return Math.floor((ms + WIB_OFFSET_MS) / DAY_MS) * DAY_MS - WIB_OFFSET_MS
}

/** Minutes since local midnight. */
export function localMinutes(ms: number): number {
  return Math.floor((ms - localDayStart(ms)) / 60_000)
}

export function localClock(ms: number): string {
  return new Date(ms + WIB_OFFSET_MS).toISOString().slice(11, 16)
}

/** Local date, YYYY-MM-DD. */
export function localDate(ms: number): string {
  return new Date(ms + WIB_OFFSET_MS).toISOString().slice(0, 10)
}

/** Day of the year 1–366 of the local date. */
export function localDayOfYear(ms: number): number {
  const local = new Date(ms + WIB_OFFSET_MS)
  return Math.floor((local.getTime() - Date.UTC(local.getUTCFullYear(), 0, 1)) / DAY_MS) + 1
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number]
  return h * 60 + m
}

/** Whether `ms` falls in the window [start, end) local time; the window may wrap midnight. */
export function inQuietHours(ms: number, start: string, end: string): boolean {
  const m = localMinutes(ms)
  const s = minutesOf(start)
  const e = minutesOf(end)
  if (s === e) return false
  return s < e ? m >= s && m < e : m >= s || m < e
}

/** The next moment (≥ ms) at which local time is `end`: when the quiet window closes. */
export function quietHoursEnd(ms: number, end: string): number {
  const t = localDayStart(ms) + minutesOf(end) * 60_000
  return t > ms ? t : t + DAY_MS
}
