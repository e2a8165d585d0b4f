import type { InboundSms, OutboundSms } from '../notify/index.ts'

export type { InboundSms, OutboundSms }

/** What alerts need from the SMS layer: the Outbox satisfies it; tests may record instead. */
export interface OutboxPort {
  enqueue(msg: OutboundSms): { id: number; state: string; duplicate: boolean }
  onInbound(handler: (mo: InboundSms) => void | Promise<void>): void
}
