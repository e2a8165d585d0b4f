import express, { type Router } from 'express'
import type { SmsCallback } from '../notify/index.ts'

/**
 * The SMS gateway's callbacks (Kannel: GET /sms/kannel/dlr and /sms/kannel/mo), mounted under
 * /api/v1 without login: the gateway calls them, and the sender checks its own token. The sender
 * reads the raw URL itself (MO text may be UTF-16BE bytes that express's query parser would mangle).
 */
export function smsRouter(callbacks: readonly SmsCallback[]): Router {
  const router = express.Router()
  for (const callback of callbacks) {
    router.get(callback.path, (req, res) => {
      const reply = callback.handle(req.originalUrl)
      res.status(reply.status)
      if ('json' in reply) res.json(reply.json)
      else res.type('text/plain').send(reply.text)
    })
  }
  return router
}
