import { type Payload, parseJson } from './payload.ts'
import type { DecodeContext, DecodeResult } from './reading.ts'
import { parseIsoTime } from './time.ts'
import { Collector, checkSensor, checkTime, DEFAULT_SENSOR, isPlainObject } from './validate.ts'
import { decodeValueMap } from './values.ts'

/**
 * The native format: `{"ts"?, "sensor"?, "values": {...}}` or an array of them (a gateway flushing
 * a backlog). `ts` is ms since the epoch or a zoned ISO-8601 string; absent means "now"
 * (ctx.receivedAtMs). Entries are independent: a bad entry or key rejects only itself.
 */
export function decodeJson(payload: Payload, ctx: DecodeContext): DecodeResult {
  const out = new Collector(ctx)
  const parsed = parseJson(payload, out)
  if (!parsed.ok) return out.result()
  const doc = parsed.value
  if (Array.isArray(doc)) {
    doc.forEach((entry, i) => {
      decodeEntry(entry, `$[${i}]`, out)
    })
  } else if (isPlainObject(doc)) {
    decodeEntry(doc, '$', out)
  } else {
    out.error('$', 'malformed', 'expected an object {"ts", "sensor", "values"} or an array of them')
  }
  return out.result()
}

function decodeEntry(entry: unknown, path: string, out: Collector): void {
  if (!isPlainObject(entry)) {
    out.error(path, 'invalid_field', 'expected an object {"ts", "sensor", "values"}')
    return
  }
  const timeMs = entryTime(entry.ts, path, out)
  if (timeMs === undefined) return

  let sensor = DEFAULT_SENSOR
  if (entry.sensor !== undefined) {
    const sensorPath = `${path}.sensor`
    if (typeof entry.sensor !== 'string') {
      out.error(sensorPath, 'invalid_field', 'sensor must be a string, e.g. "soil1"')
      return
    }
    const problem = checkSensor(entry.sensor)
    if (problem) {
      out.error(sensorPath, problem.reason, problem.message)
      return
    }
    sensor = entry.sensor
  }

  if (!isPlainObject(entry.values)) {
    out.error(`${path}.values`, 'invalid_field', 'values must be an object of {"<quantity>": number}')
    return
  }
  decodeValueMap(entry.values, `${path}.values`, timeMs, sensor, out)
}

/** The entry's time, or undefined after reporting why it has none (then its values are skipped). */
function entryTime(ts: unknown, entryPath: string, out: Collector): number | undefined {
  const path = `${entryPath}.ts`
  const receivedAtMs = out.ctx.receivedAtMs
  let timeMs: number
  if (ts === undefined) {
    return receivedAtMs
  } else if (typeof ts === 'number') {
    if (!Number.isFinite(ts)) {
      out.error(path, 'bad_time', `ts ${ts} is not a finite number; expected ms since the epoch`)
      return undefined
    }
    timeMs = Math.round(ts)
  } else if (typeof ts === 'string') {
    const parsed = parseIsoTime(ts)
    if (parsed === undefined) {
      out.error(
        path,
        'bad_time',
        `ts ${JSON.stringify(ts)} is not an ISO-8601 date-time with a zone, e.g. "2024-05-01T10:00:00Z"`,
      )
      return undefined
    }
    timeMs = parsed
  } else {
    out.error(path, 'invalid_field', 'ts must be ms since the epoch (number) or an ISO-8601 string')
    return undefined
  }
  const problem = checkTime(timeMs, receivedAtMs, out.ctx.retentionMs)
  if (problem) {
    out.error(path, problem.reason, problem.message)
    return undefined
  }
  return timeMs
}
