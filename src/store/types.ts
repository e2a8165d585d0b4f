import { KampungError } from '../errors.ts'
import type { Quantity, Reading } from '../telemetry/index.ts'

export interface ReadingQuery {
  quantity: Quantity
  village?: string
  device?: string
  sensor?: string
  /** Inclusive lower bound, ms since epoch. */
  fromMs?: number
  /** Exclusive upper bound, ms since epoch. */
  toMs?: number
  limit?: number
}

/**
 * Where readings are kept. `write` resolves only once every reading is durable. Writing the same
 * reading twice (same quantity, village, device, sensor, time) keeps one point, so redelivery after
 * a crash never creates extra points. Failures are KampungError with `retryable` set.
 *
 * A store trusts the typed Readings it is given and does not check them again: they were
 * validated once, at the boundary, by the decoder (`src/telemetry/validate.ts`: a known quantity,
 * a finite value in its range, integer ms in a plausible window, a sensor name of SENSOR_PATTERN;
 * village and device come from the registry, ID_PATTERN), the only producer of readings on the
 * write path. A store runs every write it is given at once: the WriteBatcher is the one limit
 * (`ingest.maxWritesInFlight`).
 */
export interface TelemetryStore {
  readonly name: string
  /**
   * How far back the store keeps readings (InfluxDB's raw retention), in ms; undefined: for ever.
   * The decoder refuses older readings (`bad_time`), so the store never sees them.
   */
  readonly retentionMs?: number
  start(): Promise<void>
  stop(): Promise<void>
  write(readings: readonly Reading[]): Promise<void>
  /** Readings matching the query, oldest first. */
  query(q: ReadingQuery): Promise<Reading[]>
  /** Number of stored points matching the query. */
  count(q: ReadingQuery): Promise<number>
}

/** One reading of a write that the store refused for good; `index` is its place in the write. */
export interface RefusedReading {
  index: number
  message: string
}

/**
 * A write of which every reading is stored except `refusedReadings`, which the store refused for
 * good (resending them cannot help). Not retryable. The writer settles per reading: what was
 * stored is durable (its messages may be acknowledged), only the refused readings are rejected.
 */
export class StorePartialWriteError extends KampungError {
  readonly refusedReadings: readonly RefusedReading[]

  constructor(message: string, refusedReadings: readonly RefusedReading[]) {
    super('store_partial_write', message, { retryable: false })
    this.name = 'StorePartialWriteError'
    this.refusedReadings = refusedReadings
  }
}
