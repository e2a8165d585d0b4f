import { QUANTITIES, type Quantity } from './quantities.ts'
import type { DecodeContext, DecodeError, DecodeResult, Reading, RejectReason } from './reading.ts'
import { formatTime } from './time.ts'

/** No node of ours existed before this; an older time is a node with an unset clock. */
export const EARLIEST_TIME_MS = Date.UTC(2020, 0, 1)
/** A node clock may run this far ahead of the server's; further ahead is refused, not clamped. */
export const MAX_CLOCK_SKEW_MS = 10 * 60_000
/** Sensor names become InfluxDB tags: keep them short and free of spaces and separators. */
export const SENSOR_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/
/** The sensor a payload gets when it names none. */
export const DEFAULT_SENSOR = 'main'

export interface Problem {
  reason: RejectReason
  message: string
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  return `${typeof value} ${String(value)}`
}

/** A value must be a finite number within the quantity's physical range (in its canonical unit). */
export function checkValue(quantity: Quantity, value: unknown): Problem | undefined {
  const { unit, min, max } = QUANTITIES[quantity]
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return {
      reason: 'invalid_field',
      message: `value is ${describe(value)}; expected a finite number in ${unit} for ${quantity}`,
    }
  }
  if (value < min || value > max) {
    return {
      reason: 'out_of_range',
      message: `value ${value} out of range ${min}..${max} ${unit} for ${quantity}`,
    }
  }
  return undefined
}

/**
 * A time must be integer ms between 2020-01-01 and the received time plus the allowed clock skew,
 * and, when the store forgets readings after `retentionMs` (InfluxDB's raw retention policy), not
 * older than that: InfluxDB would refuse the line ("points beyond retention policy").
 */
export function checkTime(timeMs: number, receivedAtMs: number, retentionMs?: number): Problem | undefined {
  if (!Number.isInteger(timeMs)) {
    return { reason: 'bad_time', message: `time ${timeMs} is not an integer number of milliseconds` }
  }
  if (timeMs < EARLIEST_TIME_MS) {
    // A Unix time in seconds lands in 1970: say so, it is the usual mistake.
    const hint = timeMs * 1000 >= EARLIEST_TIME_MS && timeMs * 1000 <= receivedAtMs + MAX_CLOCK_SKEW_MS
    return {
      reason: 'bad_time',
      message:
        `time ${formatTime(timeMs)} (${timeMs} ms) is before ${formatTime(EARLIEST_TIME_MS)}` +
        (hint
          ? '; it looks like seconds, expected milliseconds since the epoch'
          : '; the node clock is not set'),
    }
  }
  if (timeMs > receivedAtMs + MAX_CLOCK_SKEW_MS) {
    return {
      reason: 'bad_time',
      message:
        `time ${formatTime(timeMs)} is more than ${MAX_CLOCK_SKEW_MS / 60_000} minutes after ` +
        `the received time ${formatTime(receivedAtMs)}; the node clock is ahead`,
    }
  }
  if (retentionMs !== undefined && timeMs < receivedAtMs - retentionMs) {
    return {
      reason: 'bad_time',
      message:
        `time ${formatTime(timeMs)} is older than the store keeps readings ` +
        `(${formatDuration(retentionMs)} before the received time ${formatTime(receivedAtMs)})`,
    }
  }
  return undefined
}

function formatDuration(ms: number): string {
  const DAY_MS = 86_400_000
  if (ms % DAY_MS === 0) return `${ms / DAY_MS} days`
  const HOUR_MS = 3_600_000
  return ms % HOUR_MS === 0 ? `${ms / HOUR_MS} hours` : `${ms} ms`
}

/** Sensor names already found valid: a fleet uses a handful, and the check runs per reading. */
const VALID_SENSORS = new Set<string>([DEFAULT_SENSOR])
const VALID_SENSORS_MAX = 10_000

export function checkSensor(sensor: string): Problem | undefined {
  if (VALID_SENSORS.has(sensor)) return undefined
  if (SENSOR_PATTERN.test(sensor)) {
    if (VALID_SENSORS.size < VALID_SENSORS_MAX) VALID_SENSORS.add(sensor)
    return undefined
  }
  return {
    reason: 'invalid_field',
    message: `sensor name ${JSON.stringify(sensor)} is not allowed; expected 1-63 of A-Z a-z 0-9 _ . - starting with a letter or digit`,
  }
}

/** Every check a reading must pass before it leaves a decoder. */
export function checkReading(reading: Reading, receivedAtMs: number): Problem | undefined {
  return (
    checkSensor(reading.sensor) ??
    checkValue(reading.quantity, reading.value) ??
    checkTime(reading.timeMs, receivedAtMs)
  )
}

export interface Candidate {
  timeMs: number
  sensor: string
  quantity: Quantity
  value: unknown
}

/**
 * Gathers one payload's readings and errors. Every decoder adds readings only through `add`, so
 * all of them are validated the same way.
 */
export class Collector {
  readonly readings: Reading[] = []
  readonly errors: DecodeError[] = []
  readonly ctx: DecodeContext

  constructor(ctx: DecodeContext) {
    this.ctx = ctx
  }

  error(path: string, reason: RejectReason, message: string): void {
    this.errors.push({ path, reason, message })
  }

  /** Validate and keep one reading; `note` is added to an error message (e.g. the unit converted from). */
  add(path: string, candidate: Candidate, note?: string): boolean {
    const { timeMs, sensor, quantity, value } = candidate
    return this.keep(timeMs, sensor, quantity, value, path, undefined, note)
  }

  /**
   * `add` without a candidate object, and with the path built only if the reading is refused
   * (`parent` + `key`, see childPath): the per-reading path of native JSON.
   */
  addAt(
    parent: string,
    key: string,
    timeMs: number,
    sensor: string,
    quantity: Quantity,
    value: unknown,
  ): boolean {
    return this.keep(timeMs, sensor, quantity, value, parent, key)
  }

  private keep(
    timeMs: number,
    sensor: string,
    quantity: Quantity,
    value: unknown,
    path: string,
    key: string | undefined,
    note?: string,
  ): boolean {
    const problem =
      checkSensor(sensor) ??
      checkValue(quantity, value) ??
      checkTime(timeMs, this.ctx.receivedAtMs, this.ctx.retentionMs)
    if (problem) {
      const where = key === undefined ? path : childPath(path, key)
      this.error(where, problem.reason, note ? `${problem.message} (${note})` : problem.message)
      return false
    }
    this.readings.push({
      timeMs,
      village: this.ctx.village,
      device: this.ctx.device,
      sensor,
      quantity,
      value: value as number,
    })
    return true
  }

  /** Append another collector's output (a nested payload, e.g. LPP inside a ChirpStack event). */
  merge(other: DecodeResult): void {
    this.readings.push(...other.readings)
    this.errors.push(...other.errors)
  }

  result(): DecodeResult {
    return { readings: this.readings, errors: this.errors }
  }
}

/** `$.values.soil_moisture`, or `$.values["soil1/soil_moisture"]` when the key is not an identifier. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
