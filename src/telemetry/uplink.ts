import { decodeLppBytes } from './lpp.ts'
import { decodeBase64 } from './payload.ts'
import { parseIsoTime } from './time.ts'
import { type Collector, checkTime, DEFAULT_SENSOR, isPlainObject } from './validate.ts'
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
 * Codec output first (when it is a flat object), else the raw payload as Cayenne LPP with the
 * device's channel map. An event with neither (join, status, ack) gives nothing and no error.
 */
export function decodeUplink(uplink: Uplink, out: Collector): void {
  const { decoded, raw } = uplink
  const timeMs = uplinkTime(uplink, out)
  if (timeMs === undefined) return

  if (isFlatObject(decoded)) {
    decodeValueMap(decoded, uplink.decodedPath, timeMs, DEFAULT_SENSOR, out)
  } else if (typeof raw === 'string') {
    const bytes = decodeBase64(raw)
    if (bytes === undefined) {
      out.error(uplink.rawPath, 'malformed', 'payload is not valid base64')
    } else {
      decodeLppBytes(bytes, `${uplink.rawPath} `, out, timeMs)
    }
  } else if (raw !== undefined && raw !== null) {
    out.error(uplink.rawPath, 'invalid_field', 'expected the frame payload as a base64 string')
  } else if (decoded !== undefined && decoded !== null) {
    out.error(uplink.decodedPath, 'invalid_field', 'expected a flat object of {"<quantity>": number}')
  } else {
    return
  }
  addSignal(uplink.signals, timeMs, out)
}

function uplinkTime(uplink: Uplink, out: Collector): number | undefined {
  const parsed = typeof uplink.time === 'string' ? parseIsoTime(uplink.time) : undefined
  if (parsed === undefined) return out.ctx.receivedAtMs
  const problem = checkTime(parsed, out.ctx.receivedAtMs)
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
