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
 */
export interface TelemetryStore {
  readonly name: string
  start(): Promise<void>
  stop(): Promise<void>
  write(readings: readonly Reading[]): Promise<void>
  /** Readings matching the query, oldest first. */
  query(q: ReadingQuery): Promise<Reading[]>
  /** Number of stored points matching the query. */
  count(q: ReadingQuery): Promise<number>
}
