import { getLogger } from '../../log.ts'
import type { DeliveryReport, InboundSms, SmsSender, SubmitRequest } from '../types.ts'

export interface ConsoleSenderOptions {
  /** Where each SMS goes; default: the `notify.console` logger at info. */
  write?: (line: { id: number; to: string; text: string; coding: string }) => void
  clock?: () => number
}

/**
 * The default sender of `npm start`: logs each SMS, accepts it and reports it delivered. No
 * phone network is involved, so "delivered" means "written to the log".
 */
export class ConsoleSender implements SmsSender {
  readonly name = 'console'
  private readonly opts: ConsoleSenderOptions
  private readonly reportCbs: Array<(r: DeliveryReport) => void> = []
  private readonly inboundCbs: Array<(mo: InboundSms) => void> = []
  private seq = 0
  private running = false

  constructor(opts: ConsoleSenderOptions = {}) {
    this.opts = opts
  }

  async start(): Promise<void> {
    this.running = true
  }

  async stop(): Promise<void> {
    this.running = false
  }

  async submit(msg: SubmitRequest): Promise<{ gatewayId?: string }> {
    const line = { id: msg.id, to: msg.to, text: msg.text, coding: msg.coding }
    if (this.opts.write) this.opts.write(line)
    else getLogger('notify.console').info(line, `SMS to ${msg.to}: ${msg.text}`)
    const gatewayId = `console-${++this.seq}`
    // Reported after the submit has resolved, as a real gateway would.
    setImmediate(() => {
      if (!this.running) return
      for (const cb of this.reportCbs) cb({ id: msg.id, gatewayId, state: 'delivered' })
    })
    return { gatewayId }
  }

  onDeliveryReport(cb: (r: DeliveryReport) => void): void {
    this.reportCbs.push(cb)
  }

  onInbound(cb: (mo: InboundSms) => void): void {
    this.inboundCbs.push(cb)
  }

  /** A reply typed by hand (CLI, tests): delivered to onInbound like an MO from the network. */
  inject(mo: { from: string; to: string; text: string }): void {
    const clock = this.opts.clock ?? Date.now
    for (const cb of this.inboundCbs) cb({ ...mo, receivedAtMs: clock(), via: this.name })
  }
}
