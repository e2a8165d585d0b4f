/**
 * What alerts need from the SMS layer (src/notify, built on its own branch): a structural copy of
 * the Outbox's public surface, so this folder type-checks before the merge and the real Outbox
 * satisfies it without an adapter. Type-only: nothing here runs.
 */

export interface OutboundSms {
  /** Idempotency: the same key twice is one SMS. */
  key: string
  /** E.164, e.g. +6281234567890. */
  to: string
  text: string
  /** Not before this time (quiet hours): the outbox holds the message until then. */
  notBeforeMs?: number
  critical?: boolean
}

export interface InboundSms {
  from: string
  to: string
  text: string
  receivedAtMs: number
  via: string
}

export interface OutboxPort {
  enqueue(msg: OutboundSms): { id: number; state: string; duplicate: boolean }
  onInbound(handler: (mo: InboundSms) => void | Promise<void>): void
}
