import express, { type NextFunction, type Request, type Response, type Router } from 'express'
import { z } from 'zod'
import { AuditLog } from '../audit/index.ts'
import { checkChannels, DEVICE_KINDS, type Registry } from '../registry/index.ts'
import { PAYLOAD_FORMATS } from '../telemetry/index.ts'
import { auditActor } from './audit-route.ts'
import { authenticateOfficer, bodyProblems } from './auth.ts'
import { sendError } from './errors.ts'
import { markAccess } from './scope.ts'

export interface DevicesRouteOptions {
  registry: Registry
}

const newDeviceSchema = z.strictObject({
  id: z.string(),
  village: z.string(),
  kind: z.enum(DEVICE_KINDS),
  format: z.enum(PAYLOAD_FORMATS),
  lat: z.number().min(-90).max(90).optional(),
  lon: z.number().min(-180).max(180).optional(),
  channels: z.record(z.string(), z.unknown()).optional(),
})

/**
 * Device management over HTTP, the operations of `kampung devices` (same Registry methods): list,
 * add (the secret is in this one answer only), rotate a secret. Admins of the console only: a
 * device secret lets its holder publish as that device, and a `service` account can read every
 * village, so neither officers nor service accounts may mint them.
 */
export function devicesRouter(opts: DevicesRouteOptions): Router {
  const router = express.Router()
  const { registry } = opts
  const audit = new AuditLog(registry)
  const json = express.json({ limit: '64kb' })

  const admin = markAccess('admin', async (req: Request, res: Response, next: NextFunction) => {
    const caller = await authenticateOfficer(registry, req, res, ['admin'], { services: false })
    if (!caller) return
    next()
  })

  router.get('/api/v1/devices', admin, (req, res) => {
    const village = typeof req.query.village === 'string' ? req.query.village : undefined
    res.json({ devices: registry.listDevices({ village }) })
  })

  router.post('/api/v1/devices', admin, json, async (req, res) => {
    const parsed = newDeviceSchema.safeParse(req.body)
    if (!parsed.success) {
      const problems = bodyProblems(parsed.error)
      return res.status(400).json({ error: 'bad_request', message: 'invalid device', problems })
    }
    try {
      const { channels, ...rest } = parsed.data
      const { device, secret } = await registry.addDevice({
        ...rest,
        channels: channels === undefined ? undefined : checkChannels(channels),
      })
      audit.record(auditActor(req, res), 'device.add', device.id, { ...rest })
      res.set('Cache-Control', 'no-store').status(201).json({ device, secret })
    } catch (err) {
      sendError(res, err)
    }
  })

  router.post('/api/v1/devices/:id/rotate-secret', admin, async (req, res) => {
    try {
      const secret = await registry.rotateSecret(String(req.params.id))
      audit.record(auditActor(req, res), 'device.rotate-secret', String(req.params.id))
      res.set('Cache-Control', 'no-store').json({ device: registry.getDevice(String(req.params.id)), secret })
    } catch (err) {
      sendError(res, err)
    }
  })

  return router
}
