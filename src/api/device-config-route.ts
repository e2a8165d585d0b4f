import express, { type Response, type Router } from 'express'
import { type NodeConfigService, nodeSettingsSchema } from '../commands/index.ts'
import type { Registry } from '../registry/index.ts'
import { auditActor } from './audit-route.ts'
import { bodyProblems, requireOfficer } from './auth.ts'
import { sendError } from './errors.ts'
import { callerScope } from './scope.ts'

export interface DeviceConfigRouteOptions {
  registry: Registry
  config: NodeConfigService
}

/**
 * A device's versioned configuration (src/commands/config.ts), for console officers and admins
 * (session + CSRF) and `service` accounts, in the caller's villages:
 *   GET /api/v1/devices/:id/config  desired, reported, status (in_sync, waiting, failed, …), history
 *   PUT /api/v1/devices/:id/config  {reportIntervalS?, dryThresholdPct?, irrigateS?}: the whole
 *       desired configuration → 201 with a new version, 200 when it is the current one already
 */
export function deviceConfigRouter(opts: DeviceConfigRouteOptions): Router {
  const router = express.Router()
  const officer = requireOfficer(opts.registry)
  /** The device, if it exists and is in the caller's villages (issue 16): else the same 404. */
  const deviceInScope = (id: string, res: Response): boolean => {
    const device = opts.registry.getDevice(id)
    if (device && callerScope(res).has(device.village)) return true
    res.status(404).json({ error: 'unknown_device', message: `no device ${id}` })
    return false
  }

  router.get('/api/v1/devices/:id/config', officer, (req, res) => {
    if (!deviceInScope(String(req.params.id), res)) return
    try {
      res.json(opts.config.get(String(req.params.id)))
    } catch (err) {
      sendError(res, err)
    }
  })

  router.put('/api/v1/devices/:id/config', officer, express.json({ limit: '4kb' }), (req, res) => {
    if (!deviceInScope(String(req.params.id), res)) return
    const body = nodeSettingsSchema.safeParse(req.body)
    if (!body.success) {
      res.status(400).json({ error: 'invalid_config', problems: bodyProblems(body.error) })
      return
    }
    try {
      const { view, created } = opts.config.set(String(req.params.id), body.data, auditActor(req, res))
      res.status(created ? 201 : 200).json(view)
    } catch (err) {
      sendError(res, err)
    }
  })

  return router
}
