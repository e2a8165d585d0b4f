import { type Payload, parseJson } from './payload.ts'
import type { DecodeContext, DecodeResult } from './reading.ts'
import { decodeUplink, type SignalCandidate } from './uplink.ts'
import { Collector, isPlainObject } from './validate.ts'

/**
 * The Things Stack v3 uplink message. Readings come from `uplink_message.decoded_payload` when one
 * of its keys resolves (a quantity, or the built-in CayenneLPP formatter's `temperature_3` form
 * through the channel map), else from `frm_payload` as Cayenne LPP (see decodeUplink). Messages without
 * `uplink_message` (join accepts, downlink events) give nothing. Time is `received_at`.
 */
export function decodeTts(payload: Payload, ctx: DecodeContext): DecodeResult {
  const out = new Collector(ctx)
  const parsed = parseJson(payload, out)
  if (!parsed.ok) return out.result()
  const message = parsed.value
  if (!isPlainObject(message)) {
    out.error('$', 'malformed', 'expected a The Things Stack message object')
    return out.result()
  }
  const uplink = message.uplink_message
  if (uplink === undefined) return out.result()
  if (!isPlainObject(uplink)) {
    out.error('$.uplink_message', 'invalid_field', 'expected an object')
    return out.result()
  }
  const signals: SignalCandidate[] = []
  if (Array.isArray(uplink.rx_metadata)) {
    uplink.rx_metadata.forEach((rx, i) => {
      if (!isPlainObject(rx)) return
      const path = `$.uplink_message.rx_metadata[${i}]`
      signals.push({ path: `${path}.rssi`, value: rx.rssi })
      signals.push({ path: `${path}.channel_rssi`, value: rx.channel_rssi })
    })
  }
  const time = message.received_at ?? uplink.received_at
  decodeUplink(
    {
      decoded: uplink.decoded_payload,
      decodedPath: '$.uplink_message.decoded_payload',
      raw: uplink.frm_payload,
      rawPath: '$.uplink_message.frm_payload',
      time,
      timePath: message.received_at === undefined ? '$.uplink_message.received_at' : '$.received_at',
      signals,
    },
    out,
  )
  return out.result()
}
