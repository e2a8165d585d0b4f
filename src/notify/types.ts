import type { Router } from 'express'

/** The shapes shared by the outbox, every SMS sender and the callers (alerts). */

export type SmsState = 'queued' | 'sending' | 'accepted' | 'delivered' | 'failed'
export type SmsCoding = 'gsm7' | 'ucs2'

export interface OutboundSms {
  /** Idempotency key chosen by the caller ("alert:42:firing:1"): the same key twice is one SMS. */
  key: string
  /** E.164 ("+6281234567890"); an invalid number fails that message alone. */
  to: string
  text: string
  /** Hold until this time (quiet hours are the caller's decision). */
  notBeforeMs?: number
  /** Bypasses the per-recipient daily budget (still counted in it). */
  critical?: boolean
}

export interface InboundSms {
  from: string
  to: string
  text: string
  receivedAtMs: number
  /** The sender that received it: console, kannel, smpp. */
  via: string
}

export interface SubmitRequest {
  /** Outbox id: senders carry it to the gateway where they can (Kannel dlr-url) to match reports. */
  id: number
  to: string
  text: string
  coding: SmsCoding
}

export interface DeliveryReport {
  /** Outbox id; 0 when the sender knows only the gateway's message id (SMPP receipts after a restart). */
  id: number
  gatewayId?: string
  state: 'accepted' | 'delivered' | 'failed'
  detail?: string
}

/**
 * One SMS gateway. `submit` resolves once the gateway ACCEPTED the message (not delivered) and
 * rejects with a KampungError: retryable (gateway down, throttled) or not (number refused).
 * The code `in_doubt` means the request may have reached the gateway but no answer came: the
 * outbox then never resubmits it blindly (see outbox.ts).
 */
export interface SmsSender {
  readonly name: string
  start(): Promise<void>
  stop(): Promise<void>
  submit(msg: SubmitRequest): Promise<{ gatewayId?: string }>
  onDeliveryReport(cb: (r: DeliveryReport) => void): void
  onInbound(cb: (mo: InboundSms) => void): void
  /**
   * The HTTP GET endpoints the gateway calls back on (delivery reports, inbound SMS), served by
   * src/api under /api/v1; absent for senders whose gateway answers on their own connection
   * (SMPP, console).
   */
  callbacks?(): SmsCallback[]
}

export interface OutboxRow {
  id: number
  key: string
  to: string
  text: string
  coding: SmsCoding
  segments: number
  critical: boolean
  state: SmsState
  /** Why it failed (invalid_number, budget, max_attempts, max_age, rejected, in_doubt, dlr_failed), or the last retry cause. */
  reason?: string
  detail?: string
  attempts: number
  gatewayId?: string
  createdMs: number
  updatedMs: number
  notBeforeMs: number
  nextAttemptMs: number
  acceptedMs?: number
  deliveredMs?: number
  /** Asia/Jakarta day (YYYY-MM-DD) whose budget this message was charged to, once submitted. */
  budgetDay?: string
}

export interface OutboxFilter {
  state?: SmsState
  to?: string
  key?: string
  limit?: number
}

/** What a sender's HTTP callback answers; src/api/sms-route.ts turns it into the response. */
export type SmsCallbackReply =
  | { status: number; text: string }
  | { status: number; json: Record<string, unknown> }

/**
 * One HTTP GET endpoint a gateway calls back (delivery reports, farmers' replies), mounted under
 * /api/v1 by src/api. `handle` gets the raw request URL (path and undecoded query).
 */
export interface SmsCallback {
  path: string
  handle(url: string): SmsCallbackReply
}
