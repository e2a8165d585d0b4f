/**
 * Errors carry their kind: a retryable error (a peer is down, a timeout) is worth trying again
 * later; a permanent one (bad request, bad data) is not. Callers decide on `retryable`, never on
 * message text.
 */
export class KampungError extends Error {
  readonly retryable: boolean
  readonly code: string

  constructor(code: string, message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause })
    this.name = 'KampungError'
    this.code = code
    this.retryable = options.retryable
  }
}

export function isRetryable(err: unknown): boolean {
  return err instanceof KampungError && err.retryable
}
