import type { Response } from 'express'
import { KampungError } from '../errors.ts'

/** Codes that mean "the request is fine but the state forbids it", besides every `*_exists`. */
const CONFLICT_CODES: ReadonlySet<string> = new Set(['device_in_use', 'not_verifiable', 'evidence_missing'])

/**
 * The HTTP status of a KampungError, from its code alone (never its message): `unknown_*` → 404,
 * `*_exists` and the conflict codes → 409, other permanent errors → 400, retryable → 503.
 */
export function httpStatusOf(err: KampungError): number {
  if (err.retryable) return 503
  if (err.code.startsWith('unknown_')) return 404
  if (err.code.endsWith('_exists') || CONFLICT_CODES.has(err.code)) return 409
  return 400
}

/** Answer a failed operation: a KampungError with its code and status, anything else as 500. */
export function sendError(res: Response, err: unknown): void {
  if (err instanceof KampungError) {
    if (err.retryable) res.set('Retry-After', '5')
    res.status(httpStatusOf(err)).json({ error: err.code, message: err.message })
    return
  }
  res.status(500).json({ error: 'internal', message: (err as Error).message })
}
