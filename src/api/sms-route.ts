import { BlockList, isIPv4 } from 'node:net'
import express, { type Request, type Response, type Router } from 'express'
import { Counter } from 'prom-client'
import type { Metrics } from '../metrics.ts'
import type { SmsCallback, SmsCallbackAuth } from '../notify/index.ts'
import { presentedToken, sameToken } from './auth.ts'

/** Why a callback was refused, for the metric's label. */
type Refusal = 'not_configured' | 'address' | 'token'

function allowList(addresses: readonly string[]): BlockList {
  const list = new BlockList()
  for (const entry of addresses) {
    const [addr, bits] = entry.split('/') as [string, string | undefined]
    const type = isIPv4(addr) ? 'ipv4' : 'ipv6'
    if (bits === undefined) list.addAddress(addr, type)
    else list.addSubnet(addr, Number(bits), type)
  }
  return list
}

/** The peer's address; an IPv4 peer on a dual-stack socket arrives as `::ffff:a.b.c.d`. */
function peerAddress(req: Request): { address: string; type: 'ipv4' | 'ipv6' } | undefined {
  const raw = req.socket.remoteAddress
  if (!raw) return undefined
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(raw)?.[1]
  if (v4) return { address: v4, type: 'ipv4' }
  return { address: raw, type: isIPv4(raw) ? 'ipv4' : 'ipv6' }
}

/**
 * Checks a callback's caller against its sender's `auth` before anything else: the token (HTTP
 * Basic password, Bearer or X-Kampung-Token, compared in constant time) and/or the source
 * address. A sender with neither refuses everything (config validation does not let that start).
 */
function guard(auth: SmsCallbackAuth): (req: Request) => Refusal | undefined {
  const allowed = auth.allowFrom?.length ? allowList(auth.allowFrom) : undefined
  return (req) => {
    if (!auth.token && !allowed) return 'not_configured'
    if (allowed) {
      const peer = peerAddress(req)
      if (!peer || !allowed.check(peer.address, peer.type)) return 'address'
    }
    if (auth.token) {
      const token = presentedToken(req)
      if (token === undefined || !sameToken(token, auth.token)) return 'token'
    }
    return undefined
  }
}

const REFUSED: Record<Refusal, string> = {
  not_configured: 'SMS callbacks are refused: no callbackToken or callbackAllowFrom is configured',
  address: 'this address may not call the SMS callbacks',
  token:
    'missing or wrong callback token: send it as HTTP Basic (http://kannel:<token>@host/... in the Kannel URL), Bearer or X-Kampung-Token',
}

const REFUSED_METRIC = 'kampung_sms_callbacks_refused_total'

function refusedCounter(metrics: Metrics): Counter<'reason'> {
  return (
    (metrics.registry.getSingleMetric(REFUSED_METRIC) as Counter<'reason'> | undefined) ??
    new Counter({
      name: REFUSED_METRIC,
      help: 'SMS gateway callbacks refused before use, by reason (token, address, not_configured)',
      labelNames: ['reason'] as const,
      registers: [metrics.registry],
    })
  )
}

/**
 * The SMS gateway's callbacks (Kannel: GET /sms/kannel/dlr and /sms/kannel/mo), mounted under
 * /api/v1 without a device or console login: the gateway calls them, and each is checked against
 * its sender's token and address allowlist here, before the sender sees the request. The sender
 * reads the raw URL itself (MO text may be UTF-16BE bytes that express's query parser would mangle).
 */
export function smsRouter(callbacks: readonly SmsCallback[], metrics?: Metrics): Router {
  const router = express.Router()
  const refused = metrics && refusedCounter(metrics)
  for (const callback of callbacks) {
    const check = guard(callback.auth)
    router.get(callback.path, (req: Request, res: Response) => {
      const refusal = check(req)
      if (refusal) {
        refused?.inc({ reason: refusal })
        if (refusal === 'token') res.set('WWW-Authenticate', 'Basic realm="kampung-sms"')
        res.status(refusal === 'token' ? 401 : 403).json({ error: 'forbidden', message: REFUSED[refusal] })
        return
      }
      const reply = callback.handle(req.originalUrl)
      res.status(reply.status)
      if ('json' in reply) res.json(reply.json)
      else res.type('text/plain').send(reply.text)
    })
  }
  return router
}
