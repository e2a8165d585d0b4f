import express, { type Request, type Response, type Router } from 'express'
import { getLogger } from '../log.ts'
import {
  type CertificateStore,
  type KeyRing,
  normalizeBaseUrl,
  qrPng,
  qrSvg,
  RECORD_ID_PATTERN,
  renderPage,
  type VerifyResult,
  verifySignedRecord,
  verifyUrl,
} from '../oksigen/index.ts'

export interface VerifyRouteOptions {
  store: CertificateStore
  keyRing: Pick<KeyRing, 'publicKey' | 'publicKeys'>
  /** Public origin (and path prefix) the QR codes point to, e.g. https://oksigen.banyuwangikab.go.id */
  publicBaseUrl: string
}

/*
 * Only no-script pages: the CSP forbids everything but inline style (and the inline SVG, which is
 * markup). Short caching: a record never changes, but a key could be withdrawn.
 */
const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'public, max-age=300',
}
/** Machine-readable outcome, for scripts that fetch the page (the HTTP status is 200 for any stored record). */
const STATUS_HEADER = 'X-Oksigen-Verification'

/**
 * Public, unauthenticated verification:
 *   GET /verify/keys.json     every public key (current and retired)
 *   GET /verify/:id           HTML page: VALID / INVALID (why) / unknown (404), evidence, chart, QR
 *   GET /verify/:id.json      { id, valid, reason?, keyId?, signed }
 *   GET /verify/:id/qr.svg    QR code of the page URL
 *   GET /verify/:id/qr.png
 */
export function verifyRouter(opts: VerifyRouteOptions): Router {
  const baseUrl = normalizeBaseUrl(opts.publicBaseUrl) // fails at wiring time, not per request
  const log = getLogger('api.verify')
  const router = express.Router()

  const load = async (id: string): Promise<{ signed: unknown; result: VerifyResult } | undefined> => {
    if (!RECORD_ID_PATTERN.test(id)) return undefined
    const signed = await opts.store.get(id)
    if (signed === undefined) return undefined
    let result = verifySignedRecord(signed, opts.keyRing)
    // The record must be the one asked for: a valid record copied under another id is not it.
    if (result.valid && result.record.id !== id)
      result = { valid: false, reason: 'malformed', detail: 'id mismatch' }
    if (!result.valid)
      log.warn({ id, reason: result.reason, detail: result.detail }, 'invalid certificate requested')
    return { signed, result }
  }

  router.get('/verify/keys.json', (_req: Request, res: Response) => {
    res.set('Cache-Control', 'public, max-age=300')
    res.json({ algorithm: 'Ed25519', keys: opts.keyRing.publicKeys() })
  })

  router.get('/verify/:ref', async (req: Request, res: Response) => {
    const ref = String(req.params.ref)
    const asJson = ref.endsWith('.json')
    const id = asJson ? ref.slice(0, -'.json'.length) : ref
    const found = await load(id)
    res.set(PAGE_HEADERS)
    if (asJson) {
      if (!found) {
        res.set(STATUS_HEADER, 'unknown')
        return res.status(404).json({ id, valid: false, reason: 'unknown_record' })
      }
      const { result, signed } = found
      res.set(STATUS_HEADER, result.valid ? 'valid' : 'invalid')
      return res.json(
        result.valid
          ? { id, valid: true, keyId: result.keyId, signed, keys: `${baseUrl}/verify/keys.json` }
          : { id, valid: false, reason: result.reason, detail: result.detail, signed },
      )
    }
    res.type('html')
    if (!found) {
      res.set(STATUS_HEADER, 'unknown')
      return res.status(404).send(renderPage({ kind: 'unknown', id }))
    }
    const { result } = found
    if (!result.valid) {
      res.set(STATUS_HEADER, 'invalid')
      return res.send(renderPage({ kind: 'invalid', id, reason: result.reason }))
    }
    const url = verifyUrl(baseUrl, id)
    res.set(STATUS_HEADER, 'valid')
    res.send(
      renderPage({ kind: 'valid', record: result.record, keyId: result.keyId, url, qrSvg: await qrSvg(url) }),
    )
  })

  router.get('/verify/:id/qr.:format', async (req: Request, res: Response) => {
    const id = String(req.params.id)
    const format = String(req.params.format)
    if (format !== 'svg' && format !== 'png')
      return res.status(404).json({ error: 'not_found', message: 'qr.svg or qr.png' })
    // Only for stored records (valid or not: the code just carries the page's URL).
    if (!RECORD_ID_PATTERN.test(id) || (await opts.store.get(id)) === undefined)
      return res.status(404).json({ error: 'unknown_record', message: `no certificate ${id}` })
    const url = verifyUrl(baseUrl, id)
    res.set('Cache-Control', 'public, max-age=86400')
    if (format === 'svg') return res.type('image/svg+xml').send(await qrSvg(url))
    res.type('image/png').send(await qrPng(url))
  })

  return router
}
