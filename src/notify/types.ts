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
  /**
   * A reply to a number that is not a registered farmer. Sent only when the outbox allows such
   * replies (`unregisteredReplies`), and then at most `unregisteredRepliesPerHour` of them across
   * all numbers: anyone can text us from any number, and every answer costs money (SMS pumping).
   */
  unregistered?: boolean
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
  /** Outbox id (sequential: never let it reach the gateway as the reference a callback names). */
  id: number
  /**
   * This submission's reference: random (128 bits, base64url), new for every attempt. A sender
   * whose gateway reports back over HTTP (Kannel's dlr-url) carries it instead of the id, so a
   * forged report cannot name a message it has not seen.
   */
  ref: string
  to: string
  text: string
  coding: SmsCoding
}

export interface DeliveryReport {
  /** Outbox id; 0 when the sender knows only `ref` or the gateway's message id (SMPP receipts after a restart). */
  id: number
  /** The submission's reference (SubmitRequest.ref) as the gateway's callback named it. */
  ref?: string
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
 * Who may call a gateway's callbacks: the shared token (sent as HTTP Basic password, `Bearer`, or
 * `X-Kampung-Token`; never in the query) and/or the gateway's source addresses (IPs or CIDRs).
 * Both set: both must hold. Neither: every callback is refused.
 */
export interface SmsCallbackAuth {
  token?: string
  allowFrom?: readonly string[]
}

/**
 * One HTTP GET endpoint a gateway calls back (delivery reports, farmers' replies), mounted under
 * /api/v1 by src/api, which checks `auth` before `handle` sees anything. `handle` gets the raw
 * request URL (path and undecoded query).
 */
export interface SmsCallback {
  path: string
  auth: SmsCallbackAuth
  handle(url: string): SmsCallbackReply
}
