import { type Payload, parseJson } from './payload.ts'
import type { DecodeContext, DecodeResult } from './reading.ts'
import { decodeUplink, type SignalCandidate } from './uplink.ts'
import { Collector, isPlainObject } from './validate.ts'

/**
 * ChirpStack v4 integration event. An uplink (`?event=up`) carries `data` (base64 frame payload)
 * and, when a codec is set up, `object`; other events (join, status, ack) carry neither and give
 * no readings. Time is `time` when it parses, else ctx.receivedAtMs.
 */
export function decodeChirpstack(payload: Payload, ctx: DecodeContext): DecodeResult {
  const out = new Collector(ctx)
  const parsed = parseJson(payload, out)
  if (!parsed.ok) return out.result()
  const event = parsed.value
  if (!isPlainObject(event)) {
    out.error('$', 'malformed', 'expected a ChirpStack event object')
    return out.result()
  }
  const signals: SignalCandidate[] = []
  if (Array.isArray(event.rxInfo)) {
    event.rxInfo.forEach((rx, i) => {
      if (isPlainObject(rx)) signals.push({ path: `$.rxInfo[${i}].rssi`, value: rx.rssi })
    })
  }
  decodeUplink(
    {
      decoded: event.object,
      decodedPath: '$.object',
      raw: event.data,
      rawPath: '$.data',
      time: event.time,
      timePath: '$.time',
      signals,
    },
    out,
  )
  return out.result()
}
