import type { Buffer } from 'node:buffer'
import { type Payload, toBytes } from './payload.ts'
import { isQuantity, type Quantity } from './quantities.ts'
import type { DecodeContext, DecodeResult } from './reading.ts'
import { Collector } from './validate.ts'

interface LppType {
  name: string
  size: number
  /** Quantity when the device's channel map says nothing; absent = the channel must be mapped. */
  defaultQuantity?: Quantity
  /** Decoded values, in the type's own unit; absent = a known type we skip (size known). */
  read?: (data: Buffer) => number[]
}

const u8 = (d: Buffer) => [d.readUInt8(0)]
const GPS_QUANTITIES: readonly Quantity[] = ['latitude', 'longitude', 'altitude']

/**
 * Cayenne LPP data types (type = IPSO object id − 3200), big-endian, scales from
 * myDevicesIoT/CayenneLPP. Dividing the raw integer by the scale (not multiplying by 0.1) gives
 * the nearest double to the decimal value, so 253 → 25.3 exactly as printed.
 */
export const LPP_TYPES: Readonly<Record<number, LppType>> = {
  0: { name: 'digital input', size: 1, read: u8 },
  1: { name: 'digital output', size: 1, read: u8 },
  2: { name: 'analog input', size: 2, read: (d) => [d.readInt16BE(0) / 100] },
  3: { name: 'analog output', size: 2, read: (d) => [d.readInt16BE(0) / 100] },
  101: { name: 'illuminance', size: 2, defaultQuantity: 'illuminance', read: (d) => [d.readUInt16BE(0)] },
  102: { name: 'presence', size: 1, read: u8 },
  103: {
    name: 'temperature',
    size: 2,
    defaultQuantity: 'air_temperature',
    read: (d) => [d.readInt16BE(0) / 10],
  },
  104: { name: 'humidity', size: 1, defaultQuantity: 'relative_humidity', read: (d) => [d.readUInt8(0) / 2] },
  // Accelerometer and gyrometer: nothing we store, but their size lets us read on past them.
  113: { name: 'accelerometer', size: 6 },
  115: { name: 'barometer', size: 2, defaultQuantity: 'pressure', read: (d) => [d.readUInt16BE(0) / 10] },
  134: { name: 'gyrometer', size: 6 },
  136: {
    name: 'GPS',
    size: 9,
    read: (d) => [d.readIntBE(0, 3) / 10_000, d.readIntBE(3, 3) / 10_000, d.readIntBE(6, 3) / 100],
  },
}
const GPS_TYPE = 136

const at = (offset: number, channel?: number) =>
  channel === undefined ? `byte ${offset}` : `byte ${offset} (channel ${channel})`

/** Cayenne LPP as raw bytes, or a hex or base64 string of them. Time is ctx.receivedAtMs: LPP carries none. */
export function decodeLpp(payload: Payload, ctx: DecodeContext): DecodeResult {
  const out = new Collector(ctx)
  const bytes = toBytes(payload)
  if (bytes === undefined) {
    out.error('$', 'malformed', 'LPP payload string is neither hex (even length) nor base64')
    return out.result()
  }
  decodeLppBytes(bytes, '', out)
  return out.result()
}

/**
 * Decode LPP records into `out`; `pathPrefix` places byte offsets inside an envelope (e.g. `$.data `),
 * `timeMs` is the envelope's time when there is one.
 */
export function decodeLppBytes(
  bytes: Buffer,
  pathPrefix: string,
  out: Collector,
  timeMs: number = out.ctx.receivedAtMs,
): void {
  let offset = 0
  while (offset < bytes.length) {
    const channel = bytes[offset]!
    if (offset + 1 >= bytes.length) {
      out.error(
        `${pathPrefix}${at(offset, channel)}`,
        'malformed',
        'truncated record: channel byte without a type byte',
      )
      return
    }
    const typeId = bytes[offset + 1]!
    const type = LPP_TYPES[typeId]
    if (type === undefined) {
      // Record length depends on the type: past an unknown one we cannot find the next record.
      out.error(
        `${pathPrefix}${at(offset + 1, channel)}`,
        'malformed',
        `unknown LPP type ${typeId}; expected one of ${Object.keys(LPP_TYPES).join(', ')}; rest of payload skipped`,
      )
      return
    }
    const path = `${pathPrefix}${at(offset, channel)}`
    const dataStart = offset + 2
    if (dataStart + type.size > bytes.length) {
      out.error(
        path,
        'malformed',
        `truncated record: ${type.name} (type ${typeId}) needs ${type.size} data bytes, ${bytes.length - dataStart} left`,
      )
      return
    }
    const data = bytes.subarray(dataStart, dataStart + type.size)
    offset = dataStart + type.size
    if (type.read === undefined) {
      out.error(path, 'unsupported', `${type.name} (type ${typeId}) values are not stored; record skipped`)
      continue
    }

    const mapping = out.ctx.channels?.[String(channel)]
    const sensor = mapping?.sensor ?? `ch${channel}`
    const values = type.read(data)
    if (typeId === GPS_TYPE) {
      // One GPS record is three quantities: a channel map can name its sensor, not its quantity.
      values.forEach((value, i) => {
        out.add(path, { timeMs, sensor, quantity: GPS_QUANTITIES[i]!, value })
      })
      continue
    }
    const quantity = mapping?.quantity ?? type.defaultQuantity
    if (quantity === undefined || !isQuantity(quantity)) {
      out.error(
        path,
        'unmapped_channel',
        `channel ${channel} (${type.name}, type ${typeId}) has no quantity` +
          (quantity === undefined ? '' : ` (mapped to unknown ${JSON.stringify(quantity)})`) +
          `; map channel "${channel}" in the device's channels`,
      )
      continue
    }
    out.add(path, { timeMs, sensor, quantity, value: values[0] })
  }
}
