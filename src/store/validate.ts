import { KampungError } from '../errors.ts'
import type { Reading } from '../telemetry/index.ts'
import { isQuantity } from '../telemetry/index.ts'

/**
 * Checks what every store needs before anything is sent or stored, so an invalid reading never
 * reaches a peer or the spool (where it would block the drain). Upstream decoders already
 * validate; this is the store's own guard, and it rejects the whole batch (not retryable).
 */
export function validateReadings(readings: readonly Reading[]): void {
  for (let i = 0; i < readings.length; i++) {
    const problem = readingProblem(readings[i]!)
    if (problem) {
      throw new KampungError('invalid_reading', `reading [${i}]: ${problem}`, { retryable: false })
    }
  }
}

function readingProblem(r: Reading): string | undefined {
  if (typeof r !== 'object' || r === null) return 'not an object'
  if (typeof r.quantity !== 'string' || !isQuantity(r.quantity))
    return `unknown quantity ${String(r.quantity)}`
  if (!Number.isSafeInteger(r.timeMs)) return `timeMs must be an integer number of ms, got ${r.timeMs}`
  if (typeof r.value !== 'number' || !Number.isFinite(r.value))
    return `value must be a finite number, got ${r.value}`
  // InfluxDB drops a tag with an empty value, which would merge series: refuse it everywhere.
  // (Three plain checks, not a loop over the keys: this runs for every reading, twice.)
  if (!nonEmpty(r.village)) return 'village must be a non-empty string'
  if (!nonEmpty(r.device)) return 'device must be a non-empty string'
  if (!nonEmpty(r.sensor)) return 'sensor must be a non-empty string'
  return undefined
}

function nonEmpty(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0
}
