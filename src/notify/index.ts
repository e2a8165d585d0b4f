import path from 'node:path'
import type { Metrics } from '../metrics.ts'
import type { NotifyConfig } from './config.ts'
import { ConsoleSender } from './console/console-sender.ts'
import { KannelSender } from './kannel/kannel-sender.ts'
import { Outbox } from './outbox.ts'
import { SmppSender } from './smpp/smpp-sender.ts'
import type { SmsCallback, SmsSender } from './types.ts'

export { defaultOutboxOptions, type NotifyConfig, notifySchema } from './config.ts'
export { ConsoleSender, type ConsoleSenderOptions } from './console/console-sender.ts'
export { isGsm7, SMS_LIMITS, type SmsEncoding, smsEncoding } from './encoding.ts'
export {
  KANNEL_CALLBACK_USER,
  KannelSender,
  type KannelSenderOptions,
  kannelMoService,
  withCallbackCredentials,
} from './kannel/kannel-sender.ts'
export { jakartaDay, Outbox, type OutboxOptions } from './outbox.ts'
export { isE164 } from './phone.ts'
export { parseReceipt, SmppSender, type SmppSenderOptions } from './smpp/smpp-sender.ts'
export type {
  DeliveryReport,
  InboundSms,
  OutboundSms,
  OutboxFilter,
  OutboxRow,
  SmsCallback,
  SmsCallbackAuth,
  SmsCallbackReply,
  SmsCoding,
  SmsSender,
  SmsState,
  SubmitRequest,
} from './types.ts'

/** The configured sender (not started). */
export function createSender(config: NotifyConfig, clock?: () => number): SmsSender {
  switch (config.sender) {
    case 'kannel':
      return new KannelSender({ ...config.kannel, password: config.kannel.password ?? '', clock })
    case 'smpp':
      return new SmppSender({ ...config.smpp, password: config.smpp.password ?? '', clock })
    default:
      return new ConsoleSender({ clock })
  }
}

/**
 * The outbox over the configured sender, and the sender's HTTP callbacks when it has them (Kannel:
 * DLR and MO), which src/api mounts under /api/v1. `outbox.start()` starts the sender too.
 */
export function createNotify(
  config: NotifyConfig,
  deps: { dataDir: string; clock?: () => number; metrics?: Metrics },
): { outbox: Outbox; sender: SmsSender; callbacks?: SmsCallback[] } {
  const sender = createSender(config, deps.clock)
  const outbox = new Outbox({
    ...config.outbox,
    path: config.outboxPath ?? path.join(deps.dataDir, 'notify', 'outbox.sqlite'),
    sender,
    clock: deps.clock,
    metrics: deps.metrics,
  })
  return { outbox, sender, callbacks: sender.callbacks?.() }
}
