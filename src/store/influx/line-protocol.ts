import { Buffer } from 'node:buffer'
import type { Reading } from '../../telemetry/index.ts'
import { isQuantity, unitOf } from '../../telemetry/index.ts'

/*
 * InfluxDB line protocol for readings, written so that no tag value can inject a line or a tag.
 *
 * One reading is one line:
 *   <quantity>,device=<d>,sensor=<s>,unit=<u>,village=<v> value=<float> <timeMs>
 * (tags sorted by key, as InfluxDB prefers; `precision=ms` on the request).
 *
 * Line protocol cannot carry some characters in a tag value: there is no escape for LF/CR, and
 * InfluxDB 1.x treats a backslash before `,`/`=`/space as an escape even when the backslash is
 * data, so a value ending in `\` swallows the next delimiter. So village/device/sensor values are
 * first percent-encoded (reversibly) for `%`, `\` and the control characters U+0000–U+001F,
 * U+007F; then `,`, `=` and space get the ordinary line-protocol backslash escape. The store
 * decodes on the way out, so callers see exactly the strings they wrote. The stored form (what
 * Grafana shows) differs only for ids containing those characters: `a%b` is stored `a%25b`.
 */

/** Characters percent-encoded in stored tag values. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const PERCENT_ENCODED = /[%\\\u0000-\u001f\u007f]/g
const PERCENT_SEQUENCE = /%([0-9A-F]{2})/g
const LINE_TAG_SPECIAL = /[,= ]/g
const LINE_MEASUREMENT_SPECIAL = /[, ]/g

/** The value as stored in InfluxDB (and as compared in InfluxQL WHERE clauses). */
export function toStoredTag(raw: string): string {
  return raw.replace(
    PERCENT_ENCODED,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  )
}

/** Inverse of toStoredTag. */
export function fromStoredTag(stored: string): string {
  return stored.replace(PERCENT_SEQUENCE, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
}

/** Escapes a tag key or an already stored tag value for line protocol. */
export function escapeTag(stored: string): string {
  return stored.replace(LINE_TAG_SPECIAL, (ch) => `\\${ch}`)
}

export function escapeMeasurement(name: string): string {
  return name.replace(LINE_MEASUREMENT_SPECIAL, (ch) => `\\${ch}`)
}

/**
 * A float field value. JavaScript prints integral numbers without a decimal point (`23`), which
 * line protocol reads as a float as long as there is no `i` suffix; exponents (`1e-7`) are
 * accepted too. Non-finite numbers have no line-protocol form.
 */
export function formatFloat(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`)
  return String(value)
}

/**
 * A measurement and its tags as line protocol: `<measurement>,<k>=<v>,…` with each tag value
 * given in its stored form (see toStoredTag) and in the order given. The one series-key builder,
 * for readings (cached below) and for every other point (encodePoint).
 */
function seriesText(measurement: string, storedTags: ReadonlyArray<readonly [string, string]>): string {
  let text = escapeMeasurement(measurement)
  for (const [key, value] of storedTags) text += `,${escapeTag(key)}=${escapeTag(value)}`
  return text
}

/** A field value: a float (number), an integer (bigint, written `12i`), a string or a boolean. */
export type FieldValue = number | bigint | string | boolean

/** A point that is not a reading: alert events, irrigation advice, tree assessments. */
export interface Point {
  measurement: string
  /** Stored percent-encoded like reading tags; undefined or empty values are left out. */
  tags: Readonly<Record<string, string | undefined>>
  /** In the order given; null or undefined values are left out (at least one must remain). */
  fields: Readonly<Record<string, FieldValue | null | undefined>>
  /** ms since the epoch, an integer (`precision=ms`). */
  timeMs: number
}

/** A string field value: line protocol escapes only `"` and `\` there; newlines become spaces. */
function stringField(value: string): string {
  return `"${value.replace(/[\r\n]+/g, ' ').replace(/[\\"]/g, (c) => `\\${c}`)}"`
}

function fieldValue(value: FieldValue): string {
  switch (typeof value) {
    case 'number':
      return formatFloat(value)
    case 'bigint':
      return `${value}i`
    case 'string':
      return stringField(value)
    default:
      return value ? 'true' : 'false'
  }
}

/**
 * One point as one line: tags sorted by key (as InfluxDB prefers) and escaped exactly like the
 * readings' tags, so no value can inject a line, a tag or a field.
 */
export function encodePoint(p: Point): string {
  if (!Number.isSafeInteger(p.timeMs)) throw new RangeError(`timeMs is not an integer: ${p.timeMs}`)
  const tags = Object.entries(p.tags)
    .filter((kv): kv is [string, string] => typeof kv[1] === 'string' && kv[1] !== '')
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => [k, toStoredTag(v)] as const)
  const fields: string[] = []
  for (const [key, value] of Object.entries(p.fields))
    if (value !== null && value !== undefined) fields.push(`${escapeTag(key)}=${fieldValue(value)}`)
  if (fields.length === 0) throw new RangeError(`point without fields: ${p.measurement}`)
  return `${seriesText(p.measurement, tags)} ${fields.join(',')} ${p.timeMs}`
}

/**
 * One reading as one line. The reading must already be valid (see validateReadings); the
 * quantity is still checked because it becomes the measurement name.
 */
export function encodeReading(r: Reading): string {
  return `${seriesKey(r).text}${fieldAndTime(r)}`
}

/** ` value=<float> <timeMs>`: the part of a line after the series key (ASCII only). */
function fieldAndTime(r: Reading): string {
  if (!Number.isSafeInteger(r.timeMs)) throw new RangeError(`timeMs is not an integer: ${r.timeMs}`)
  return ` value=${formatFloat(r.value)} ${r.timeMs}`
}

/**
 * Series keys (measurement and escaped tags) repeat for every report of a sensor: encoding them
 * once per series instead of once per reading took a third of the ingest's store-write CPU in
 * the benchmark. Nested maps (device → village → quantity → sensor) look a key up without building
 * a string per reading, and no choice of ids can make two series share an entry. Bounded: a fleet
 * has far fewer series than this; past it the cache restarts.
 */
const SERIES_CACHE_MAX = 200_000
type Level<T> = Map<string, T>
/** A series key as text, and as the UTF-8 bytes a /write body line starts with (` value=` included). */
interface SeriesKey {
  text: string
  bytesWithField: Buffer
}
let seriesCache: Level<Level<Level<Level<SeriesKey>>>> = new Map()
let cachedSeries = 0

function seriesKey(r: Reading): SeriesKey {
  // Plain lookups, no closure per level: this runs once per reading. Device first: its id (and
  // village) are the registry's strings, whose hashes V8 keeps; quantity and sensor are few.
  let byVillage = seriesCache.get(r.device)
  if (byVillage === undefined) {
    byVillage = new Map()
    seriesCache.set(r.device, byVillage)
  }
  let byQuantity = byVillage.get(r.village)
  if (byQuantity === undefined) {
    byQuantity = new Map()
    byVillage.set(r.village, byQuantity)
  }
  let bySensor = byQuantity.get(r.quantity)
  if (bySensor === undefined) {
    bySensor = new Map()
    byQuantity.set(r.quantity, bySensor)
  }
  const key = bySensor.get(r.sensor)
  return key ?? newSeriesKey(r, bySensor)
}

function newSeriesKey(r: Reading, bySensor: Level<SeriesKey>): SeriesKey {
  if (!isQuantity(r.quantity)) throw new RangeError(`unknown quantity: ${String(r.quantity)}`)
  const text = seriesText(r.quantity, [
    ['device', toStoredTag(r.device)],
    ['sensor', toStoredTag(r.sensor)],
    // Units come from the fixed QUANTITIES table and are stored verbatim (readable `%VWC`).
    ['unit', unitOf(r.quantity)],
    ['village', toStoredTag(r.village)],
  ])
  const key = { text, bytesWithField: Buffer.from(`${text} value=`, 'utf8') }
  if (++cachedSeries > SERIES_CACHE_MAX) {
    seriesCache = new Map()
    cachedSeries = 0
  }
  bySensor.set(r.sensor, key)
  return key
}

/**
 * Readings [from, to) as one /write body, one line each, written straight into one buffer: the
 * cached series key's bytes are copied, only ` value=… <time>` is formatted per reading. (Building
 * the body as a string and converting it at the end cost ~7 % of the ingest's CPU in the benchmark.)
 */
export function encodeBody(readings: readonly Reading[], from = 0, to = readings.length): Buffer {
  const keys: Buffer[] = new Array(to - from)
  let size = 0
  for (let i = from; i < to; i++) {
    const key = seriesKey(readings[i]!).bytesWithField
    keys[i - from] = key
    // key and ` value=` + a float (at most 24) + space + a safe integer (at most 17) + LF
    size += key.length + 43
  }
  const body = Buffer.allocUnsafe(size)
  let at = 0
  // A report's readings share one time: its text is made once per report, not per reading.
  let lastTimeMs = Number.NaN
  let timeText = ''
  for (let i = from; i < to; i++) {
    const r = readings[i]!
    const key = keys[i - from]!
    body.set(key, at)
    at += key.length
    if (r.timeMs !== lastTimeMs) {
      if (!Number.isSafeInteger(r.timeMs)) throw new RangeError(`timeMs is not an integer: ${r.timeMs}`)
      lastTimeMs = r.timeMs
      timeText = ` ${r.timeMs}\n`
    }
    // A few ASCII characters each: a loop here is cheaper than a call into Buffer.write per reading.
    const value = formatFloat(r.value)
    for (let k = 0; k < value.length; k++) body[at++] = value.charCodeAt(k)
    for (let k = 0; k < timeText.length; k++) body[at++] = timeText.charCodeAt(k)
  }
  return body.subarray(0, at)
}

export function encodeReadings(readings: readonly Reading[]): string[] {
  return readings.map(encodeReading)
}
