import type { Buffer } from 'node:buffer'
import { type Payload, toBytes } from './payload.ts'
import { isQuantity, type Quantity } from './quantities.ts'
import type { DecodeContext, DecodeResult } from './reading.ts'
import { Collector, isPlainObject } from './validate.ts'

interface LppType {
  name: string
  /**
   * The name The Things Stack's built-in CayenneLPP formatter gives the type: its `decoded_payload`
   * holds `<formatterKey>_<channel>` (pkg/messageprocessors/cayennelpp of TheThingsNetwork/lorawan-stack).
   */
  formatterKey: string
  size: number
  /** Quantity when the device's channel map says nothing; absent = the channel must be mapped. */
  defaultQuantity?: Quantity
  /** The raw integers of one record; absent = a known type we skip (size known). */
  read?: (data: Buffer) => number[]
  /** Each raw integer divided by this is the value in the type's unit (0.1 °C per bit → 10). */
  divisors?: readonly number[]
}

const u8 = (d: Buffer) => [d.readUInt8(0)]
const i16 = (d: Buffer) => [d.readInt16BE(0)]
const u16 = (d: Buffer) => [d.readUInt16BE(0)]
const GPS_QUANTITIES: readonly Quantity[] = ['latitude', 'longitude', 'altitude']
/** The members of a GPS value in the TTS formatter's output, in GPS_QUANTITIES order. */
const GPS_FIELDS = ['latitude', 'longitude', 'altitude'] as const

/**
 * Cayenne LPP data types (type = IPSO object id − 3200), big-endian, scales from
 * myDevicesIoT/CayenneLPP. Dividing the raw integer by the scale (not multiplying by 0.1) gives
 * the nearest double to the decimal value, so 253 → 25.3 exactly as printed.
 */
export const LPP_TYPES: Readonly<Record<number, LppType>> = {
  0: { name: 'digital input', formatterKey: 'digital_in', size: 1, read: u8, divisors: [1] },
  1: { name: 'digital output', formatterKey: 'digital_out', size: 1, read: u8, divisors: [1] },
  2: { name: 'analog input', formatterKey: 'analog_in', size: 2, read: i16, divisors: [100] },
  3: { name: 'analog output', formatterKey: 'analog_out', size: 2, read: i16, divisors: [100] },
  101: {
    name: 'illuminance',
    formatterKey: 'luminosity',
    size: 2,
    defaultQuantity: 'illuminance',
    read: u16,
    divisors: [1],
  },
  102: { name: 'presence', formatterKey: 'presence', size: 1, read: u8, divisors: [1] },
  103: {
    name: 'temperature',
    formatterKey: 'temperature',
    size: 2,
    defaultQuantity: 'air_temperature',
    read: i16,
    divisors: [10],
  },
  104: {
    name: 'humidity',
    formatterKey: 'relative_humidity',
    size: 1,
    defaultQuantity: 'relative_humidity',
    read: u8,
    divisors: [2],
  },
  // Accelerometer and gyrometer: nothing we store, but their size lets us read on past them.
  113: { name: 'accelerometer', formatterKey: 'accelerometer', size: 6 },
  115: {
    name: 'barometer',
    formatterKey: 'barometric_pressure',
    size: 2,
    defaultQuantity: 'pressure',
    read: u16,
    divisors: [10],
  },
  134: { name: 'gyrometer', formatterKey: 'gyrometer', size: 6 },
  136: {
    name: 'GPS',
    formatterKey: 'gps',
    size: 9,
    read: (d) => [d.readIntBE(0, 3), d.readIntBE(3, 3), d.readIntBE(6, 3)],
    divisors: [10_000, 10_000, 100],
  },
}
const GPS_TYPE = 136
/** `temperature` → 103: the type a TTS formatter key names. */
const TYPE_BY_FORMATTER_KEY = new Map(
  Object.entries(LPP_TYPES).map(([id, type]) => [type.formatterKey, Number(id)] as const),
)
const FORMATTER_KEY = /^([a-z]+(?:_[a-z]+)*)_(\d{1,3})$/

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
    const { read, divisors } = type
    if (read === undefined || divisors === undefined) {
      out.error(path, 'unsupported', `${type.name} (type ${typeId}) values are not stored; record skipped`)
      continue
    }
    const values = read(data).map((raw, i) => raw / divisors[i]!)
    addRecord(typeId, type, channel, values, path, out, timeMs)
  }
}

/**
 * One record's values become readings through the device's channel map: the map names the sensor
 * (default `ch<channel>`) and the quantity (default the type's own); GPS is three quantities.
 */
function addRecord(
  typeId: number,
  type: LppType,
  channel: number,
  values: readonly unknown[],
  path: string,
  out: Collector,
  timeMs: number,
): void {
  const mapping = out.ctx.channels?.[String(channel)]
  const sensor = mapping?.sensor ?? `ch${channel}`
  if (typeId === GPS_TYPE) {
    // One GPS record is three quantities: a channel map can name its sensor, not its quantity.
    values.forEach((value, i) => {
      out.add(path, { timeMs, sensor, quantity: GPS_QUANTITIES[i]!, value })
    })
    return
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
    return
  }
  out.add(path, { timeMs, sensor, quantity, value: values[0] })
}

/** The LPP type and channel a TTS CayenneLPP-formatter key names (`temperature_3`), if it names one. */
export function parseFormatterKey(key: string): { typeId: number; channel: number } | undefined {
  const match = FORMATTER_KEY.exec(key)
  if (match === null) return undefined
  const typeId = TYPE_BY_FORMATTER_KEY.get(match[1]!)
  const channel = Number(match[2])
  if (typeId === undefined || channel > 255) return undefined
  return { typeId, channel }
}

/**
 * One `<type>_<channel>` entry of The Things Stack's CayenneLPP formatter output, read as the
 * record it was decoded from. The formatter passes values through float32 (27.2 arrives as
 * 27.200000762939453): rounding to the type's resolution gives the very number the bytes decode
 * to, so the formatter output and `frm_payload` store the same readings.
 */
export function decodeFormatterEntry(
  typeId: number,
  channel: number,
  value: unknown,
  path: string,
  out: Collector,
  timeMs: number,
): void {
  const type = LPP_TYPES[typeId]!
  if (type.divisors === undefined) {
    out.error(path, 'unsupported', `${type.name} (type ${typeId}) values are not stored; skipped`)
    return
  }
  const divisors = type.divisors
  const toResolution = (v: unknown, i: number) =>
    typeof v === 'number' && Number.isFinite(v) ? Math.round(v * divisors[i]!) / divisors[i]! : v
  if (typeId === GPS_TYPE) {
    if (!isPlainObject(value)) {
      out.error(path, 'invalid_field', `expected {"latitude", "longitude", "altitude"} for ${type.name}`)
      return
    }
    addRecord(
      typeId,
      type,
      channel,
      GPS_FIELDS.map((f, i) => toResolution(value[f], i)),
      path,
      out,
      timeMs,
    )
    return
  }
  addRecord(typeId, type, channel, [toResolution(value, 0)], path, out, timeMs)
}
