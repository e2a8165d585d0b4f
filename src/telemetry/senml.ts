import { resolveQuantity } from './aliases.ts'
import { type Payload, parseJson } from './payload.ts'
import { QUANTITY_NAMES } from './quantities.ts'
import type { DecodeContext, DecodeResult } from './reading.ts'
import { toCanonical } from './units.ts'
import { Collector, checkTime, childPath, DEFAULT_SENSOR, isPlainObject } from './validate.ts'

/** RFC 8428 §4.5.3: a resolved time below 2^28 s is relative to now. */
const RELATIVE_TIME_LIMIT_S = 2 ** 28
const MS_PER_S = 1000
/** RFC 8428 §4.4: the only version this decoder understands. */
const SENML_VERSION = 10
const KNOWN_LABELS = new Set([
  'bn',
  'bt',
  'bu',
  'bv',
  'bs',
  'bver',
  'n',
  'u',
  'v',
  'vs',
  'vb',
  'vd',
  's',
  't',
  'ut',
])
/** RFC 8428 §4.5.1 name syntax, checked on the resolved name. */
const NAME_PATTERN = /^[A-Za-z0-9][-:./A-Za-z0-9_]*$/
/** A leading `urn:dev:<kind>:<id>` names the device, which the topic already tells us. */
const DEVICE_URN = /^urn:dev:[^:/]+:[^:/]+(?:[:/]|$)/i

interface Base {
  bn: string
  bt: number
  bu: string | undefined
  bv: number
}

/**
 * SenML JSON (RFC 8428): an array of records whose base fields (bn, bt, bu, bv) carry forward to
 * the records after them (§4.6). Only numeric `v` values are readings. The pre-RFC form
 * `{"bn": ..., "e": [...]}` is accepted too, with its records at `$.e[i]`.
 */
export function decodeSenml(payload: Payload, ctx: DecodeContext): DecodeResult {
  const out = new Collector(ctx)
  const parsed = parseJson(payload, out)
  if (!parsed.ok) return out.result()
  const doc = parsed.value

  let records: unknown[]
  let prefix = '$'
  const base: Base = { bn: '', bt: 0, bu: undefined, bv: 0 }
  if (Array.isArray(doc)) {
    records = doc
  } else if (isPlainObject(doc) && Array.isArray(doc.e)) {
    records = doc.e
    prefix = '$.e'
    if (!applyBase(doc, '$', base, out)) return out.result()
  } else {
    out.error('$', 'malformed', 'expected a SenML pack: a JSON array of records')
    return out.result()
  }

  if (!packUnderstood(records, prefix, out)) return out.result()

  for (let i = 0; i < records.length; i++) {
    const record = records[i]
    const path = `${prefix}[${i}]`
    if (!isPlainObject(record)) {
      out.error(path, 'invalid_field', 'expected a SenML record (an object)')
      continue
    }
    // Later records resolve against these base fields; with one unreadable, they would be wrong.
    if (!applyBase(record, path, base, out)) return out.result()
    decodeRecord(record, path, base, out)
  }
  return out.result()
}

/** RFC 8428 §4.4: a pack with a newer version or an unknown must-understand label (`..._`) is not used at all. */
function packUnderstood(records: unknown[], prefix: string, out: Collector): boolean {
  for (let i = 0; i < records.length; i++) {
    const record = records[i]
    if (!isPlainObject(record)) continue
    const path = `${prefix}[${i}]`
    if (record.bver !== undefined && record.bver !== SENML_VERSION) {
      out.error(
        childPath(path, 'bver'),
        'unsupported',
        `SenML version ${JSON.stringify(record.bver)} is not supported; expected ${SENML_VERSION}, pack ignored`,
      )
      return false
    }
    for (const label of Object.keys(record)) {
      if (label.endsWith('_') && !KNOWN_LABELS.has(label)) {
        out.error(
          childPath(path, label),
          'unsupported',
          `must-understand label ${JSON.stringify(label)} is not supported; pack ignored`,
        )
        return false
      }
    }
  }
  return true
}

function applyBase(record: Record<string, unknown>, path: string, base: Base, out: Collector): boolean {
  const wrong = (label: string, expected: string): false => {
    out.error(
      childPath(path, label),
      'invalid_field',
      `${label} must be ${expected}; this and the following records are skipped`,
    )
    return false
  }
  if (record.bn !== undefined) {
    if (typeof record.bn !== 'string') return wrong('bn', 'a string')
    base.bn = record.bn
  }
  if (record.bt !== undefined) {
    if (typeof record.bt !== 'number' || !Number.isFinite(record.bt))
      return wrong('bt', 'a number of seconds')
    base.bt = record.bt
  }
  if (record.bu !== undefined) {
    if (typeof record.bu !== 'string') return wrong('bu', 'a unit string')
    base.bu = record.bu
  }
  if (record.bv !== undefined) {
    if (typeof record.bv !== 'number' || !Number.isFinite(record.bv)) return wrong('bv', 'a number')
    base.bv = record.bv
  }
  return true
}

function decodeRecord(record: Record<string, unknown>, path: string, base: Base, out: Collector): void {
  const at = (label: string) => childPath(path, label)
  const hasValue = ['v', 'vs', 'vb', 'vd', 's'].some((label) => record[label] !== undefined)
  if (!hasValue) {
    // A record of base fields only is how a pack sets up its bases; one with a name but no value is not.
    if (record.n !== undefined || record.t !== undefined || record.u !== undefined) {
      out.error(path, 'invalid_field', 'record has no value; expected a numeric "v"')
    }
    return
  }
  for (const label of ['vs', 'vb', 'vd'] as const) {
    if (record[label] !== undefined) {
      const kind = { vs: 'string', vb: 'boolean', vd: 'data' }[label]
      out.error(at(label), 'unsupported', `${kind} value (${label}) is not a reading; expected a numeric "v"`)
      return
    }
  }
  if (record.v === undefined) {
    out.error(at('s'), 'unsupported', 'sum (s) is not supported; expected a numeric "v"')
    return
  }

  if (record.n !== undefined && typeof record.n !== 'string') {
    out.error(at('n'), 'invalid_field', 'n must be a string')
    return
  }
  const name = base.bn + (record.n ?? '')
  const namePath = record.n === undefined ? at('bn') : at('n')
  if (!NAME_PATTERN.test(name)) {
    out.error(
      namePath,
      'invalid_field',
      `name ${JSON.stringify(name)} is not a valid SenML name (RFC 8428 §4.5.1)`,
    )
    return
  }
  const { sensor, quantityName } = splitName(name)
  const quantity = resolveQuantity(quantityName)
  if (quantity === undefined) {
    out.error(
      namePath,
      'unknown_quantity',
      `unknown quantity ${JSON.stringify(quantityName)} in name ${JSON.stringify(name)}; expected one of ${QUANTITY_NAMES.join(', ')} or an alias`,
    )
    return
  }

  if (record.u !== undefined && typeof record.u !== 'string') {
    out.error(at('u'), 'invalid_field', 'u must be a unit string')
    return
  }
  const unit = (record.u as string | undefined) ?? base.bu
  const unitPath = record.u === undefined ? at('bu') : at('u')

  if (record.t !== undefined && (typeof record.t !== 'number' || !Number.isFinite(record.t))) {
    out.error(at('t'), 'bad_time', 't must be a number of seconds')
    return
  }
  const timeS = base.bt + ((record.t as number | undefined) ?? 0)
  const timeMs = Math.round(
    timeS < RELATIVE_TIME_LIMIT_S ? out.ctx.receivedAtMs + timeS * MS_PER_S : timeS * MS_PER_S,
  )
  const timeProblem = checkTime(timeMs, out.ctx.receivedAtMs, out.ctx.retentionMs)
  if (timeProblem) {
    out.error(record.t === undefined ? at('bt') : at('t'), timeProblem.reason, timeProblem.message)
    return
  }

  const valuePath = at('v')
  if (typeof record.v !== 'number' || !Number.isFinite(record.v)) {
    // Collector.add phrases the type error the same way for every format.
    out.add(valuePath, { timeMs, sensor, quantity, value: record.v })
    return
  }
  const raw = base.bv + record.v
  const converted = toCanonical(quantity, unit, raw)
  if (!converted.ok) {
    out.error(unitPath, 'unit_mismatch', converted.message)
    return
  }
  const note = unit !== undefined && converted.value !== raw ? `from ${raw} ${unit}` : undefined
  out.add(valuePath, { timeMs, sensor, quantity, value: converted.value }, note)
}

/**
 * `urn:dev:ow:10e2073a01080063:soil1/soil_moisture` → sensor `soil1`, quantity `soil_moisture`.
 * The device URN and anything up to the last `:` are dropped; the quantity is the text after the
 * last `/`, the sensor the path segment before it (`main` when there is none).
 */
export function splitName(name: string): { sensor: string; quantityName: string } {
  let rest = name.replace(DEVICE_URN, '')
  const colon = rest.lastIndexOf(':')
  if (colon >= 0) rest = rest.slice(colon + 1)
  const slash = rest.lastIndexOf('/')
  if (slash < 0) return { sensor: DEFAULT_SENSOR, quantityName: rest }
  const sensor = rest.slice(0, slash).split('/').pop() || DEFAULT_SENSOR
  return { sensor, quantityName: rest.slice(slash + 1) }
}
