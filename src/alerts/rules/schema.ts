import { z } from 'zod'
import type { Language } from '../directory.ts'

/** Shared pieces of the rules' config schemas and texts (no imports from the engine or config). */

export const MINUTE_MS = 60_000
export const HOUR_MS = 60 * MINUTE_MS
export const DAY_MS = 24 * HOUR_MS

export const SEVERITIES = ['info', 'warning', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]
export const severity = z.enum(SEVERITIES)
export const durationMs = z.number().int().min(0)

/**
 * A number the way its reader writes it (PUEBI for Indonesian: "18.000", "0,15"; English "18,000",
 * "0.15").
 */
export function formatNumber(value: number, decimals: number, lang: Language): string {
  const fixed = Math.abs(value).toFixed(decimals)
  const [int, frac] = fixed.split('.') as [string, string | undefined]
  const group = lang === 'id' ? '.' : ','
  const point = lang === 'id' ? ',' : '.'
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, group)
  const sign = value < 0 && Number(fixed) !== 0 ? '-' : ''
  return `${sign}${grouped}${frac ? point + frac : ''}`
}

/** One decimal below 10, none above: "18" %, "3,7" V. */
export function n(value: number, lang: Language, decimals?: number): string {
  return formatNumber(value, decimals ?? (Math.abs(value) < 10 ? 1 : 0), lang)
}

/** Where an alert is: the field's name, else the device, else the village. */
export function where(a: { fieldName?: string; device?: string; village: string }): string {
  return a.fieldName ?? a.device ?? a.village
}

/** Device and village ids shown in an SMS: at most this many characters (ids may have 63). */
export const SMS_ID_MAX = 20

/**
 * An id as an SMS shows it: whole when short, else ".." and its last characters (ids like
 * "kemiren-soil-12" differ at the end), so every template stays one segment.
 */
export function shortId(id: string | undefined, max = SMS_ID_MAX): string {
  if (id === undefined) return ''
  return id.length <= max ? id : `..${id.slice(id.length - (max - 2))}`
}

/**
 * A reading and its limit as whole numbers, or with one decimal when whole numbers would read the
 * same ("19,3% (batas 19,4%)", never "19% (batas 19%)").
 */
export function valueAndLimit(value: number, limit: number, lang: Language): [string, string] {
  const whole = [formatNumber(value, 0, lang), formatNumber(limit, 0, lang)] as [string, string]
  if (whole[0] !== whole[1]) return whole
  return [formatNumber(value, 1, lang), formatNumber(limit, 1, lang)]
}
