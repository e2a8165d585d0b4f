import type { Quantity } from './quantities.ts'

/**
 * One number about one quantity at one time from one sensor of one device: the single model
 * everything upstream of the store produces and everything downstream consumes.
 * `value` is always in the quantity's canonical unit (see QUANTITIES).
 */
export interface Reading {
  /** Milliseconds since the Unix epoch (UTC). */
  timeMs: number
  village: string
  device: string
  /** The sensor on the device, e.g. `soil1`, `bme280`; `main` when the payload names none. */
  sensor: string
  quantity: Quantity
  value: number
}

/** Why one part of a payload was rejected. `path` points into the payload (JSON path or byte offset). */
export interface DecodeError {
  path: string
  reason: RejectReason
  message: string
}

/** Machine-readable reasons: they label the `rejected` metric and the error topic. */
export type RejectReason =
  | 'malformed' // not parseable at all (bad JSON, truncated binary)
  | 'invalid_field' // a field of the wrong type or shape
  | 'unknown_quantity'
  | 'unit_mismatch'
  | 'out_of_range'
  | 'bad_time'
  | 'unmapped_channel'
  | 'unsupported' // a format feature we do not handle (e.g. SenML string values)
  | 'too_large'
  | 'unauthorized'
  | 'unknown_device'
  | 'unknown_format'
  | 'rate_limited' // the device is over its message-rate quota (src/ingest/quota.ts)
  | 'quota_exceeded' // the device is over its daily volume of readings
  | 'store_refused' // decoded fine, but the store refused it for good (e.g. InfluxDB: beyond retention)

export interface DecodeResult {
  readings: Reading[]
  errors: DecodeError[]
}

/** What a decoder knows besides the payload bytes. */
export interface DecodeContext {
  village: string
  device: string
  /** Time the message arrived; readings without a time get this one. */
  receivedAtMs: number
  /**
   * How far back the store keeps readings (InfluxDB's raw retention); older readings are refused
   * here (`bad_time`) rather than by the store. Absent: kept for ever.
   */
  retentionMs?: number
  /** Cayenne LPP channel → what it measures, from the device's registry entry. */
  channels?: ChannelMap
}

export type ChannelMap = Record<string, { quantity: Quantity; sensor?: string }>
