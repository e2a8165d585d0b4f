import express, { type NextFunction, type Request, type Response, type Router } from 'express'
import type { AlertEngine } from '../alerts/index.ts'
import { AuditLog } from '../audit/index.ts'
import type { Oksigen } from '../oksigen/index.ts'
import { IMPORT_KINDS, ImportError, type ImportKind, importCsv } from '../provision/index.ts'
import type { Registry } from '../registry/index.ts'
import { auditActor } from './audit-route.ts'
import { authenticateOfficer } from './auth.ts'
import { sendError } from './errors.ts'
import { markAccess } from './scope.ts'

export interface ImportRouteOptions {
  registry: Registry
  alerts?: AlertEngine
  oksigen?: Oksigen
}

/**
 * `POST /api/v1/import/devices|fields|farmers|trees` with a CSV body (`text/csv`): the
 * `kampung import` of the API, admins only (device secrets come back in this one answer). 400 with
 * every problem, line and column, and nothing imported; 200 with the count otherwise.
 */
export function importRouter(opts: ImportRouteOptions): Router {
  const router = express.Router()
  const audit = new AuditLog(opts.registry)
  const admin = markAccess('admin', async (req: Request, res: Response, next: NextFunction) => {
    const caller = await authenticateOfficer(opts.registry, req, res, ['admin'], { services: false })
    if (!caller) return
    next()
  })
  // A district's hundreds of rows are well under this; the body is read only after authentication.
  const csv = express.text({ type: ['text/csv', 'text/plain'], limit: '5mb' })
  router.post('/api/v1/import/:kind', admin, csv, async (req, res) => {
    const kind = req.params.kind as ImportKind
    if (!(IMPORT_KINDS as readonly string[]).includes(kind))
      return res.status(404).json({ error: 'not_found', message: `import one of ${IMPORT_KINDS.join(', ')}` })
    if (typeof req.body !== 'string' || req.body.length === 0)
      return res
        .status(400)
        .json({ error: 'bad_request', message: 'send the CSV as the body, Content-Type: text/csv' })
    try {
      const result = await importCsv(kind, req.body, {
        registry: opts.registry,
        directory: opts.alerts?.directory,
        trees: opts.oksigen?.repo,
      })
      audit.record(auditActor(req, res), 'import', kind, { imported: result.imported })
      res.set('Cache-Control', 'no-store').json(result)
    } catch (err) {
      if (err instanceof ImportError)
        return res.status(400).json({
          error: err.code,
          message: `nothing imported: ${err.problems.length} problem(s)`,
          problems: err.problems,
        })
      sendError(res, err)
    }
  })
  return router
}
