import { decodeChirpstack } from './chirpstack.ts'
import type { PayloadFormat } from './formats.ts'
import { decodeJson } from './json.ts'
import { decodeLpp } from './lpp.ts'
import type { Payload } from './payload.ts'
import type { DecodeContext, DecodeResult } from './reading.ts'
import { decodeSenml } from './senml.ts'
import { decodeTts } from './tts.ts'

export { ALIASES, resolveQuantity } from './aliases.ts'
export { decodeChirpstack } from './chirpstack.ts'
export { PAYLOAD_FORMATS, type PayloadFormat } from './formats.ts'
export { decodeJson } from './json.ts'
export { lorawanDeviceId } from './lorawan.ts'
export { decodeLpp, LPP_TYPES } from './lpp.ts'
export type { Payload } from './payload.ts'
export { isQuantity, QUANTITIES, QUANTITY_NAMES, type Quantity, unitOf } from './quantities.ts'
export type {
  ChannelMap,
  DecodeContext,
  DecodeError,
  DecodeResult,
  Reading,
  RejectReason,
} from './reading.ts'
export { decodeSenml } from './senml.ts'
export {
  type DeviceStatus,
  type DeviceTopic,
  inTopicScheme,
  isStatusTopic,
  parseDeviceTopic,
  parseStatusMessage,
  statusMessage,
  TOPIC_LEAVES,
  type TopicLeaf,
  topics,
} from './topic.ts'
export { decodeTts } from './tts.ts'
export { toCanonical, UNIT_CONVERSIONS } from './units.ts'
export { RADIO_SENSOR } from './uplink.ts'
export {
  checkReading,
  checkSensor,
  checkTime,
  checkValue,
  DEFAULT_SENSOR,
  EARLIEST_TIME_MS,
  MAX_CLOCK_SKEW_MS,
  type Problem,
  SENSOR_PATTERN,
} from './validate.ts'

export type Decoder = (payload: Payload, ctx: DecodeContext) => DecodeResult

export const DECODERS: Readonly<Record<PayloadFormat, Decoder>> = {
  json: decodeJson,
  senml: decodeSenml,
  lpp: decodeLpp,
  chirpstack: decodeChirpstack,
  tts: decodeTts,
}

/**
 * Decode one payload into validated readings plus one error per rejected part. Never throws:
 * malformed input is data (an error in the result), and good parts of a payload are kept.
 */
export function decode(format: PayloadFormat, payload: Payload, ctx: DecodeContext): DecodeResult {
  const decoder = Object.hasOwn(DECODERS, format) ? DECODERS[format] : undefined
  if (decoder === undefined) {
    return {
      readings: [],
      errors: [
        {
          path: '$',
          reason: 'unknown_format',
          message: `unknown payload format ${JSON.stringify(format)}; expected one of ${Object.keys(DECODERS).join(', ')}`,
        },
      ],
    }
  }
  try {
    return decoder(payload, ctx)
  } catch (err) {
    // Decoders report bad input themselves; reaching here is a decoder bug, still not the caller's crash.
    const detail = err instanceof Error ? err.message : String(err)
    return {
      readings: [],
      errors: [{ path: '$', reason: 'malformed', message: `decoder failed: ${detail}` }],
    }
  }
}
