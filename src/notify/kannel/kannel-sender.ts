import { KampungError } from '../../errors.ts'
import { getLogger } from '../../log.ts'
import type {
  DeliveryReport,
  InboundSms,
  SmsCallback,
  SmsCallbackReply,
  SmsSender,
  SubmitRequest,
} from '../types.ts'
import { decodeMoText, parseRawQuery } from './query.ts'

const log = getLogger('notify.kannel')

export interface KannelSenderOptions {
  /** smsbox's sendsms endpoint, e.g. http://127.0.0.1:13013/cgi-bin/sendsms */
  sendsmsUrl: string
  username: string
  password: string
  /** Sender id shown on the phone (a short code or a name, as the operator allows). */
  from?: string
  /** Our API as Kannel reaches it (the router is mounted there), e.g. http://10.0.0.5:8080/api/v1 */
  callbackBaseUrl: string
  /**
   * The callbacks' shared token. Kannel sends it as HTTP Basic when the URL carries it as userinfo
   * (`http://kannel:<token>@host/...`, checked on the wire with Kannel 1.4.5): the dlr-url we hand
   * Kannel does, and the smsbox get-url must (`kannelMoService()` writes it).
   */
  callbackToken?: string
  /** Addresses (IPs or CIDRs) the callbacks are accepted from: Kannel's. */
  callbackAllowFrom?: readonly string[]
  requestTimeoutMs?: number
  clock?: () => number
}

/** Kannel dlr-mask bits (userguide "Delivery reports"): all of them, so every state change is reported. */
const DLR = { delivered: 1, failed: 2, buffered: 4, smscAccepted: 8, smscRejected: 16 } as const
const DLR_MASK = DLR.delivered | DLR.failed | DLR.buffered | DLR.smscAccepted | DLR.smscRejected

/** Kannel's `coding` parameter: 0 7-bit, 1 8-bit, 2 UCS-2. */
const KANNEL_CODING = { gsm7: 0, ucs2: 2 } as const

/** The Basic user name in our callback URLs (only the password, the token, is checked). */
export const KANNEL_CALLBACK_USER = 'kannel'

/** A submission's reference as the outbox makes it: 16 random bytes, base64url. */
const REF = /^[A-Za-z0-9_-]{22}$/

/** `http://host/x` → `http://kannel:<token>@host/x`: how Kannel is told to send HTTP Basic. */
export function withCallbackCredentials(url: string, token: string | undefined): string {
  if (!token) return url
  const u = new URL(url)
  u.username = KANNEL_CALLBACK_USER
  u.password = token // letters, digits, _ and - only (config): Kannel sends the userinfo as written
  return u.toString()
}

/**
 * The smsbox `sms-service` group that sends farmers' replies to our MO callback, with the token as
 * HTTP Basic userinfo. `%c`/`%C`: a UCS-2 reply arrives as raw UTF-16BE bytes; `max-messages = 0`:
 * answers go through the outbox, not as the HTTP reply.
 */
export function kannelMoService(opts: { callbackBaseUrl: string; callbackToken?: string }): string {
  const base = withCallbackCredentials(opts.callbackBaseUrl.replace(/\/$/, ''), opts.callbackToken)
  return [
    'group = sms-service',
    'keyword = default',
    'catch-all = true',
    `get-url = "${base}/sms/kannel/mo?from=%p&to=%P&text=%a&coding=%c&charset=%C&smsc=%i"`,
    'max-messages = 0',
    '',
  ].join('\n')
}

/**
 * Kannel (bearerbox + smsbox) over HTTP sendsms. The submission's random reference travels in the
 * dlr-url, so every delivery report names its message even if this process restarted in between,
 * and nobody who has not seen the dlr-url can name one. MO messages come back through the smsbox
 * get-url to `callbacks()`; src/api checks the token and source address before either handler runs.
 */
export class KannelSender implements SmsSender {
  readonly name = 'kannel'
  private readonly opts: KannelSenderOptions
  private readonly reportCbs: Array<(r: DeliveryReport) => void> = []
  private readonly inboundCbs: Array<(mo: InboundSms) => void> = []
  private down = false
  /** Callback requests we could not use (a DLR without ref or a known type, an MO without from or text). */
  malformedCallbacks = 0

  constructor(opts: KannelSenderOptions) {
    this.opts = opts
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  onDeliveryReport(cb: (r: DeliveryReport) => void): void {
    this.reportCbs.push(cb)
  }

  onInbound(cb: (mo: InboundSms) => void): void {
    this.inboundCbs.push(cb)
  }

  dlrUrl(ref: string): string {
    const base = withCallbackCredentials(
      this.opts.callbackBaseUrl.replace(/\/$/, ''),
      this.opts.callbackToken,
    )
    // %d: DLR type, %F: the SMSC's message id, %A: the SMSC's answer; Kannel fills these in.
    return `${base}/sms/kannel/dlr?ref=${ref}&s=%d&fid=%F&reply=%A`
  }

  async submit(msg: SubmitRequest): Promise<{ gatewayId?: string }> {
    const params = new URLSearchParams({
      username: this.opts.username,
      password: this.opts.password,
      to: msg.to,
      text: msg.text,
      charset: 'UTF-8',
      coding: String(KANNEL_CODING[msg.coding]),
      'dlr-mask': String(DLR_MASK),
      'dlr-url': this.dlrUrl(msg.ref),
    })
    if (this.opts.from) params.set('from', this.opts.from)
    const url = `${this.opts.sendsmsUrl}?${params}`
    let res: globalThis.Response
    let body: string
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 10_000) })
      body = await res.text()
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code
      // Refused or unresolvable: the request never reached Kannel, so trying again is safe.
      if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH') {
        this.markDown(code)
        throw new KampungError('gateway_down', `Kannel sendsms unreachable (${code})`, {
          retryable: true,
          cause: err,
        })
      }
      // Timed out or cut off after sending: Kannel may have queued it.
      throw new KampungError('in_doubt', `Kannel sendsms gave no answer: ${(err as Error).message}`, {
        retryable: false,
        cause: err,
      })
    }
    this.markUp()
    // "0: Accepted for delivery" or "3: Queued for later delivery" (SMSC down: Kannel's store keeps it).
    if (res.status === 200 || res.status === 202) return {}
    const text = body.trim()
    if (res.status === 403 && /authori[sz]ation failed/i.test(text)) {
      // Fixable by the operator without touching the message: keep retrying within max age.
      throw new KampungError('gateway_auth', `Kannel refused our credentials: ${text}`, { retryable: true })
    }
    if (res.status >= 500) {
      throw new KampungError('gateway_busy', `Kannel answered ${res.status}: ${text}`, { retryable: true })
    }
    throw new KampungError('rejected', `Kannel rejected the message (${res.status}): ${text}`, {
      retryable: false,
    })
  }

  /**
   * GET /sms/kannel/dlr (Kannel's dlr-url) and GET /sms/kannel/mo (smsbox get-url), served by
   * src/api/sms-route.ts. Each handler takes the raw request URL: the query is decoded here, as
   * bytes (MO text may be UTF-16BE).
   */
  callbacks(): SmsCallback[] {
    const auth = { token: this.opts.callbackToken, allowFrom: this.opts.callbackAllowFrom }
    return [
      { path: '/sms/kannel/dlr', auth, handle: (url) => this.handleDlr(url) },
      { path: '/sms/kannel/mo', auth, handle: (url) => this.handleMo(url) },
    ]
  }

  private handleDlr(url: string): SmsCallbackReply {
    const q = parseRawQuery(url)
    const ref = q.get('ref')?.toString('utf8') ?? ''
    const type = Number(q.get('s')?.toString('utf8'))
    const state = dlrState(type)
    if (!REF.test(ref) || !state) {
      this.malformedCallbacks++
      return {
        status: 400,
        json: { error: 'bad_request', message: 'a delivery report needs ref and s (1, 2, 4, 8 or 16)' },
      }
    }
    const fid = q.get('fid')?.toString('utf8')
    const reply = q.get('reply')?.toString('utf8')
    const report: DeliveryReport = {
      id: 0,
      ref,
      state,
      gatewayId: fid || undefined,
      detail: `kannel dlr ${type}${reply ? `: ${reply}` : ''}`,
    }
    for (const cb of this.reportCbs) cb(report)
    return { status: 200, text: 'ok' }
  }

  private handleMo(url: string): SmsCallbackReply {
    const q = parseRawQuery(url)
    const from = q.get('from')?.toString('utf8')
    const to = q.get('to')?.toString('utf8') ?? ''
    const raw = q.get('text')
    if (!from || raw === undefined) {
      this.malformedCallbacks++
      return { status: 400, json: { error: 'bad_request', message: 'an MO message needs from and text' } }
    }
    const text = decodeMoText(raw, q.get('coding')?.toString('utf8'), q.get('charset')?.toString('utf8'))
    const mo: InboundSms = { from, to, text, receivedAtMs: (this.opts.clock ?? Date.now)(), via: this.name }
    for (const cb of this.inboundCbs) cb(mo)
    // An empty body: smsbox sends no reply SMS (answers go through the outbox like any message).
    return { status: 200, text: '' }
  }

  private markDown(code: string): void {
    if (this.down) return
    this.down = true
    log.warn({ code }, 'Kannel unreachable; messages wait in the outbox')
  }

  private markUp(): void {
    if (!this.down) return
    this.down = false
    log.info('Kannel reachable again')
  }
}

function dlrState(type: number): DeliveryReport['state'] | undefined {
  switch (type) {
    case DLR.delivered:
      return 'delivered'
    case DLR.failed:
    case DLR.smscRejected:
      return 'failed'
    case DLR.buffered:
    case DLR.smscAccepted:
      return 'accepted'
    default:
      return undefined
  }
}
