import { stringify } from 'csv-stringify'
import type { Request, Response, Router } from 'express'
import express from 'express'
import {
  AUDIT_CSV_COLUMNS,
  type AuditActor,
  AuditLog,
  type AuditQuery,
  auditCsvRecord,
} from '../audit/index.ts'
import type { Registry } from '../registry/index.ts'
import { authenticateOfficer, CALLER_LOCAL, type Caller, SESSION_LOCAL, type SessionLocal } from './auth.ts'

export interface AuditRouteOptions {
  registry: Registry
}

/**
 * Who made this request, for `AuditLog.record`: the caller authenticateOfficer let through (a
 * console user, a `service` account), else the console session; address is req.ip (the client
 * behind a trusted proxy, see api.trustProxy).
 */
export function auditActor(req: Request, res: Response): AuditActor {
  const address = req.ip ?? req.socket.remoteAddress ?? 'unknown'
  const caller = res.locals[CALLER_LOCAL] as Caller | undefined
  if (caller) return { kind: caller.kind, id: caller.id, address }
  const session = res.locals[SESSION_LOCAL] as SessionLocal | undefined
  if (session && !session.expired) return { kind: 'user', id: session.user, address }
  return { kind: 'anonymous', id: '', address }
}

const DAY_MS = 86_400_000

/** `from`/`to` as ISO 8601 or epoch ms; undefined when absent, NaN when unreadable. */
function timeParam(v: unknown): number | undefined {
  if (typeof v !== 'string' || v === '') return undefined
  return /^\d+$/.test(v) ? Number(v) : Date.parse(v)
}

/**
 * `GET /api/v1/audit` (JSON, newest first, `limit`) and `?format=csv` (every entry in the range,
 * oldest first, streamed): admins see every entry, officers their own. There is deliberately no
 * route that changes or deletes an entry: any other method answers 405.
 */
export function auditRouter(opts: AuditRouteOptions): Router {
  const router = express.Router()
  const audit = new AuditLog(opts.registry)

  router.get('/api/v1/audit', async (req, res) => {
    const caller = await authenticateOfficer(opts.registry, req, res, ['officer', 'admin'], {
      services: false,
    })
    if (!caller) return
    const fromMs = timeParam(req.query.from)
    const toMs = timeParam(req.query.to)
    const limit = req.query.limit === undefined ? 500 : Number(req.query.limit)
    if (Number.isNaN(fromMs) || Number.isNaN(toMs))
      return res
        .status(400)
        .json({ error: 'bad_request', message: 'from and to: ISO 8601 (2026-12-03T00:00:00Z) or epoch ms' })
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      return res.status(400).json({ error: 'bad_request', message: 'limit: a whole number from 1 to 10000' })
    const query: AuditQuery = {
      fromMs,
      toMs,
      // an officer sees what they did; the whole log is the admins'
      ...(caller.kind === 'user' && caller.role === 'admin' ? {} : { actor: caller.id }),
    }
    res.set('Cache-Control', 'no-store')
    if (req.query.format === 'csv') {
      const day = new Date(fromMs ?? Date.now() - DAY_MS).toISOString().slice(0, 10)
      res.type('text/csv; charset=utf-8')
      res.set('Content-Disposition', `attachment; filename="audit-${day}.csv"`)
      const csv = stringify({ header: true, columns: AUDIT_CSV_COLUMNS })
      csv.pipe(res)
      // write respecting back-pressure: memory stays bounded however long the range
      for (const entry of audit.stream(query)) {
        if (!csv.write(auditCsvRecord(entry))) await new Promise((r) => csv.once('drain', r))
        if (res.destroyed) break
      }
      csv.end()
      return
    }
    if (req.query.format !== undefined && req.query.format !== 'json')
      return res.status(400).json({ error: 'bad_request', message: 'format: json (default) or csv' })
    res.json({ entries: audit.list({ ...query, limit }) })
  })

  router.all(['/api/v1/audit', '/api/v1/audit/*rest'], (req, res) => {
    if (req.method === 'GET' || req.method === 'HEAD')
      return res.status(404).json({ error: 'not_found', message: 'no such endpoint' })
    res.set('Allow', 'GET')
    res
      .status(405)
      .json({ error: 'method_not_allowed', message: 'the audit log is append-only: read it with GET' })
  })
  return router
}
