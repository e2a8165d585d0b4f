import { resolveQuantity } from './aliases.ts'
import { decodeFormatterEntry, decodeLppBytes, parseFormatterKey } from './lpp.ts'
import { decodeBase64 } from './payload.ts'
import { parseIsoTime } from './time.ts'
import { type Collector, checkTime, childPath, DEFAULT_SENSOR, isPlainObject } from './validate.ts'
import { decodeValueMap } from './values.ts'

/** The sensor the gateway-measured RSSI of an uplink is stored under. */
export const RADIO_SENSOR = 'radio'

export interface SignalCandidate {
  path: string
  value: unknown
}

/** What ChirpStack and TTS uplinks share once their envelopes are read. */
export interface Uplink {
  /** The network server's codec output (`object` / `decoded_payload`). */
  decoded: unknown
  decodedPath: string
  /** The raw frame payload, base64 (`data` / `frm_payload`). */
  raw: unknown
  rawPath: string
  /** The envelope's time text and where it is; absent or unparseable → ctx.receivedAtMs. */
  time: unknown
  timePath: string
  /** RSSI values from every gateway that heard the uplink; the best one is stored. */
  signals: SignalCandidate[]
}

/** A codec output we can read as native values: an object of plain values, none nested. */
export function isFlatObject(value: unknown): value is Record<string, unknown> {
  return (
    isPlainObject(value) &&
    Object.keys(value).length > 0 &&
    Object.values(value).every((v) => v === null || typeof v !== 'object')
  )
}

/**
 * Codec output first, when at least one of its keys names something: a quantity or alias
 * (`soil_moisture`, `soil1/vbat`), or a record of The Things Stack's CayenneLPP formatter
 * (`temperature_3`, `gps_1`), read through the device's channel map as the LPP decoder does.
 * Otherwise the raw payload as Cayenne LPP. An event with neither (join, status, ack) gives nothing
 * and no error.
 */
export function decodeUplink(uplink: Uplink, out: Collector): void {
  const { decoded, raw } = uplink
  const timeMs = uplinkTime(uplink, out)
  if (timeMs === undefined) return

  if (isPlainObject(decoded) && resolvesAnyKey(decoded)) {
    decodeCodecOutput(decoded, uplink.decodedPath, timeMs, out)
  } else if (typeof raw === 'string') {
    const bytes = decodeBase64(raw)
    if (bytes === undefined) {
      out.error(uplink.rawPath, 'malformed', 'payload is not valid base64')
    } else {
      decodeLppBytes(bytes, `${uplink.rawPath} `, out, timeMs)
    }
  } else if (raw !== undefined && raw !== null) {
    out.error(uplink.rawPath, 'invalid_field', 'expected the frame payload as a base64 string')
  } else if (isFlatObject(decoded)) {
    // Nothing to fall back to: say which keys were not understood.
    decodeValueMap(decoded, uplink.decodedPath, timeMs, DEFAULT_SENSOR, out)
  } else if (decoded !== undefined && decoded !== null) {
    out.error(
      uplink.decodedPath,
      'invalid_field',
      'expected a flat object of {"<quantity>": number} or CayenneLPP formatter output {"<type>_<channel>": ...}',
    )
  } else {
    return
  }
  addSignal(uplink.signals, timeMs, out)
}

/** A key names a quantity (after its last `/`) or a CayenneLPP formatter record. */
function resolvesAnyKey(decoded: Record<string, unknown>): boolean {
  for (const key in decoded) {
    if (!Object.hasOwn(decoded, key)) continue
    if (parseFormatterKey(key) !== undefined) return true
    if (resolveQuantity(key.slice(key.lastIndexOf('/') + 1)) !== undefined) return true
  }
  return false
}

/** CayenneLPP formatter keys through the channel map; the other keys as a quantity map. */
function decodeCodecOutput(
  decoded: Record<string, unknown>,
  path: string,
  timeMs: number,
  out: Collector,
): void {
  let rest: Record<string, unknown> | undefined
  for (const key in decoded) {
    if (!Object.hasOwn(decoded, key)) continue
    const record = parseFormatterKey(key)
    if (record === undefined) {
      rest ??= {}
      rest[key] = decoded[key]
    } else {
      decodeFormatterEntry(record.typeId, record.channel, decoded[key], childPath(path, key), out, timeMs)
    }
  }
  if (rest !== undefined) decodeValueMap(rest, path, timeMs, DEFAULT_SENSOR, out)
}

function uplinkTime(uplink: Uplink, out: Collector): number | undefined {
  const parsed = typeof uplink.time === 'string' ? parseIsoTime(uplink.time) : undefined
  if (parsed === undefined) return out.ctx.receivedAtMs
  const problem = checkTime(parsed, out.ctx.receivedAtMs, out.ctx.retentionMs)
  if (problem) {
    out.error(uplink.timePath, problem.reason, `${problem.message}; uplink skipped`)
    return undefined
  }
  return parsed
}

function addSignal(signals: SignalCandidate[], timeMs: number, out: Collector): void {
  let best: SignalCandidate | undefined
  for (const candidate of signals) {
    if (typeof candidate.value !== 'number' || !Number.isFinite(candidate.value)) continue
    if (best === undefined || candidate.value > (best.value as number)) best = candidate
  }
  if (best === undefined) return
  out.add(best.path, { timeMs, sensor: RADIO_SENSOR, quantity: 'signal_strength', value: best.value })
}
