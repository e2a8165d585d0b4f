import smpp, { type Pdu, type Session } from 'smpp'
import { KampungError } from '../../errors.ts'
import { getLogger } from '../../log.ts'
import { smsEncoding } from '../encoding.ts'
import type { DeliveryReport, InboundSms, SmsSender, SubmitRequest } from '../types.ts'

const log = getLogger('notify.smpp')

export interface SmppSenderOptions {
  host: string
  port: number
  systemId: string
  password: string
  /** Our address: a number (international, no "+") or an alphanumeric sender id. */
  sourceAddr: string
  /** Delay before reconnecting after the link dropped; doubles up to 60 s while it stays down. */
  reconnectMs?: number
  /** No submit_sm_resp within this: the submission is in doubt (the SMSC may have it). */
  submitTimeoutMs?: number
  enquireLinkMs?: number
  clock?: () => number
}

/** SMPP 3.4 constants (spec §5.2): TON/NPI, esm_class message type, data_coding. */
const TON_INTERNATIONAL = 1
const TON_ALPHANUMERIC = 5
const NPI_ISDN = 1
const ESM_DELIVERY_RECEIPT = 0x04
const ESM_TYPE_MASK = 0x3c
const DATA_CODING = { gsm7: 0x00, ucs2: 0x08 } as const
const REGISTERED_DELIVERY_FINAL = 0x01
/** Status codes worth a retry: the SMSC is busy, not refusing the message. */
const RETRYABLE_STATUS = new Set([
  0x08 /* RSYSERR */, 0x14 /* RMSGQFUL */, 0x58 /* RTHROTTLED */, 0x64 /* RX_T_APPN */,
])
const MAX_RECONNECT_MS = 60_000
/** How many gateway ids to remember for matching receipts to outbox ids (the outbox also looks them up). */
const RECEIPT_MAP_SIZE = 10_000

/** Direct SMPP 3.4 (bind_transceiver): submit_sm out, deliver_sm in (receipts and MO), reconnects. */
export class SmppSender implements SmsSender {
  readonly name = 'smpp'
  private readonly opts: SmppSenderOptions
  private readonly reportCbs: Array<(r: DeliveryReport) => void> = []
  private readonly inboundCbs: Array<(mo: InboundSms) => void> = []
  private session: Session | undefined
  private bound = false
  private stopping = false
  private reconnectTimer: NodeJS.Timeout | undefined
  private reconnectDelayMs = 0
  private down = false
  private readonly pending = new Set<(err: KampungError) => void>()
  private readonly idByGateway = new Map<string, number>()

  constructor(opts: SmppSenderOptions) {
    this.opts = opts
  }

  get isBound(): boolean {
    return this.bound
  }

  /** Binds once; if the SMSC is not there, keeps trying in the background (messages wait in the outbox). */
  async start(): Promise<void> {
    this.stopping = false
    this.reconnectDelayMs = this.opts.reconnectMs ?? 5_000
    await this.connect()
  }

  async stop(): Promise<void> {
    this.stopping = true
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    const session = this.session
    this.session = undefined
    if (!session) return
    await new Promise<void>((resolve) => {
      if (session.socket.destroyed) return resolve()
      session.socket.once('close', () => resolve())
      // A polite unbind first; an SMSC that does not answer within 2 s is cut off.
      const timer = setTimeout(() => session.destroy(), 2_000)
      session.socket.once('close', () => clearTimeout(timer))
      if (!this.bound || !session.unbind({}, () => session.close())) session.destroy()
    })
    this.bound = false
  }

  onDeliveryReport(cb: (r: DeliveryReport) => void): void {
    this.reportCbs.push(cb)
  }

  onInbound(cb: (mo: InboundSms) => void): void {
    this.inboundCbs.push(cb)
  }

  submit(msg: SubmitRequest): Promise<{ gatewayId?: string }> {
    const session = this.session
    if (!session || !this.bound) {
      return Promise.reject(new KampungError('gateway_down', 'SMPP link not bound', { retryable: true }))
    }
    // One segment in short_message; longer texts in message_payload (SMPP 3.4 §5.3.2.32), so the SMSC splits them.
    const body =
      smsEncoding(msg.text).segments === 1 ? { short_message: msg.text } : { message_payload: msg.text }
    return new Promise((resolve, reject) => {
      let settled = false
      const fail = (err: KampungError) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        this.pending.delete(fail)
        reject(err)
      }
      const timer = setTimeout(
        () => fail(new KampungError('in_doubt', 'no submit_sm_resp in time', { retryable: false })),
        this.opts.submitTimeoutMs ?? 10_000,
      )
      this.pending.add(fail)
      const sent = session.submit_sm(
        {
          source_addr: this.opts.sourceAddr,
          source_addr_ton: /^\d+$/.test(this.opts.sourceAddr) ? TON_INTERNATIONAL : TON_ALPHANUMERIC,
          source_addr_npi: /^\d+$/.test(this.opts.sourceAddr) ? NPI_ISDN : 0,
          destination_addr: msg.to.replace(/^\+/, ''),
          dest_addr_ton: TON_INTERNATIONAL,
          dest_addr_npi: NPI_ISDN,
          registered_delivery: REGISTERED_DELIVERY_FINAL,
          data_coding: DATA_CODING[msg.coding],
          ...body,
        },
        (resp: Pdu) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          this.pending.delete(fail)
          if (resp.command_status === 0) {
            const gatewayId = String(resp.message_id ?? '')
            this.remember(gatewayId, msg.id)
            resolve({ gatewayId: gatewayId || undefined })
          } else {
            const status = `0x${resp.command_status.toString(16).padStart(4, '0')}`
            reject(
              RETRYABLE_STATUS.has(resp.command_status)
                ? new KampungError('gateway_busy', `SMSC answered ${status}`, { retryable: true })
                : new KampungError('rejected', `SMSC rejected the message: ${status}`, { retryable: false }),
            )
          }
        },
      )
      // Not written at all: the socket is gone, nothing reached the SMSC.
      if (!sent) fail(new KampungError('gateway_down', 'SMPP socket not writable', { retryable: true }))
    })
  }

  private remember(gatewayId: string, id: number): void {
    if (!gatewayId) return
    this.idByGateway.set(gatewayId, id)
    if (this.idByGateway.size > RECEIPT_MAP_SIZE) {
      const oldest = this.idByGateway.keys().next().value
      if (oldest !== undefined) this.idByGateway.delete(oldest)
    }
  }

  private connect(): Promise<void> {
    return new Promise((resolve) => {
      let done = false
      const finish = () => {
        if (!done) {
          done = true
          resolve()
        }
      }
      const session = smpp.connect({
        host: this.opts.host,
        port: this.opts.port,
        auto_enquire_link_period: this.opts.enquireLinkMs ?? 30_000,
      })
      this.session = session
      session.on('connect', () => {
        session.bind_transceiver(
          { system_id: this.opts.systemId, password: this.opts.password },
          (resp: Pdu) => {
            if (resp.command_status === 0) {
              this.bound = true
              this.reconnectDelayMs = this.opts.reconnectMs ?? 5_000
              this.markUp()
            } else {
              log.error({ status: resp.command_status }, 'SMSC refused our bind')
              session.destroy()
            }
            finish()
          },
        )
      })
      session.on('deliver_sm', (pdu: Pdu) => this.onDeliver(session, pdu))
      session.on('enquire_link', (pdu: Pdu) => session.send(pdu.response()))
      session.on('unbind', (pdu: Pdu) => {
        session.send(pdu.response())
        session.close()
      })
      session.on('error', (err: Error) => {
        this.markDown(err.message)
        finish()
      })
      session.on('close', () => {
        this.bound = false
        // Submissions without an answer may have reached the SMSC: in doubt, not retried.
        for (const fail of [...this.pending]) {
          fail(new KampungError('in_doubt', 'SMPP link closed before submit_sm_resp', { retryable: false }))
        }
        finish()
        if (this.session !== session || this.stopping) return
        this.markDown('link closed')
        this.scheduleReconnect()
      })
    })
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.stopping) return
    const delay = this.reconnectDelayMs
    this.reconnectDelayMs = Math.min(MAX_RECONNECT_MS, delay * 2)
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined
      if (!this.stopping) void this.connect()
    }, delay)
    this.reconnectTimer.unref()
  }

  private onDeliver(session: Session, pdu: Pdu): void {
    session.send(pdu.response())
    const esm = Number(pdu.esm_class ?? 0)
    // message_payload carries long texts; short_message is then empty.
    const content = (pdu.message_payload ?? pdu.short_message) as { message?: string | Buffer } | undefined
    const text =
      typeof content?.message === 'string' ? content.message : (content?.message?.toString('latin1') ?? '')
    if ((esm & ESM_TYPE_MASK) === ESM_DELIVERY_RECEIPT) {
      const receipt = parseReceipt(text)
      const gatewayId = (pdu.receipted_message_id as string | undefined) || receipt.id
      const state = receiptState(receipt.stat)
      if (!gatewayId || !state) {
        log.warn({ text }, 'unusable delivery receipt')
        return
      }
      const id = this.idByGateway.get(gatewayId) ?? 0
      if (state !== 'accepted') this.idByGateway.delete(gatewayId)
      for (const cb of this.reportCbs) cb({ id, gatewayId, state, detail: `smpp ${receipt.stat}` })
      return
    }
    const srcTon = Number(pdu.source_addr_ton ?? 0)
    const source = String(pdu.source_addr ?? '')
    const mo: InboundSms = {
      from: srcTon === TON_INTERNATIONAL && /^\d+$/.test(source) ? `+${source}` : source,
      to: String(pdu.destination_addr ?? ''),
      text,
      receivedAtMs: (this.opts.clock ?? Date.now)(),
      via: this.name,
    }
    for (const cb of this.inboundCbs) cb(mo)
  }

  private markDown(why: string): void {
    if (this.down) return
    this.down = true
    log.warn({ why }, 'SMPP link down; messages wait in the outbox')
  }

  private markUp(): void {
    if (!this.down) return
    this.down = false
    log.info('SMPP link bound again')
  }
}

/** The de-facto receipt text (SMPP 3.4 Appendix B): "id:X sub:001 dlvrd:001 submit date:... stat:DELIVRD err:000 text:". */
export function parseReceipt(text: string): { id?: string; stat?: string } {
  const id = /\bid:(\S+)/i.exec(text)?.[1]
  const stat = /\bstat:(\S+)/i.exec(text)?.[1]?.toUpperCase()
  return { id, stat }
}

function receiptState(stat: string | undefined): DeliveryReport['state'] | undefined {
  switch (stat) {
    case 'DELIVRD':
      return 'delivered'
    case 'ACCEPTD':
    case 'ENROUTE':
      return 'accepted'
    case 'UNDELIV':
    case 'EXPIRED':
    case 'REJECTD':
    case 'DELETED':
    case 'UNKNOWN':
      return 'failed'
    default:
      return undefined
  }
}
