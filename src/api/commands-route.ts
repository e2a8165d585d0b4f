import express, { type Response, type Router } from 'express'
import { z } from 'zod'
import { AuditLog } from '../audit/index.ts'
import type { CommandService } from '../commands/index.ts'
import type { Registry } from '../registry/index.ts'
import { auditActor } from './audit-route.ts'
import { bodyProblems, requireOfficer } from './auth.ts'
import { sendError } from './errors.ts'
import { callerScope } from './scope.ts'

export interface CommandsRouteOptions {
  registry: Registry
  commands: CommandService
}

const commandBody = z.strictObject({
  /** The client's id for this command: sending it again is safe (same content: 200, other: 409). */
  id: z.string(),
  kind: z.string(),
  params: z.record(z.string(), z.unknown()).optional(),
  expiresInS: z.number().positive().optional(),
})

/**
 * Commands to devices (src/commands), for console officers and admins (session + CSRF) and
 * `service` accounts:
 *   POST /api/v1/devices/:id/commands  {id, kind, params?, expiresInS?} → 201 new, 200 same again
 *   GET  /api/v1/devices/:id/commands  the device's commands, newest first
 *   GET  /api/v1/commands/:id          one command and its state
 */
export function commandsRouter(opts: CommandsRouteOptions): Router {
  const router = express.Router()
  const officer = requireOfficer(opts.registry)
  const { commands } = opts
  const audit = new AuditLog(opts.registry)
  /** The device, if it exists and is in the caller's villages (issue 16): else the same 404. */
  const deviceInScope = (id: string, res: Response): boolean => {
    const device = opts.registry.getDevice(id)
    if (device && callerScope(res).has(device.village)) return true
    res.status(404).json({ error: 'unknown_device', message: `no device ${id}` })
    return false
  }

  router.post('/api/v1/devices/:id/commands', officer, express.json({ limit: '16kb' }), (req, res) => {
    if (!deviceInScope(String(req.params.id), res)) return
    const body = commandBody.safeParse(req.body)
    if (!body.success) {
      res.status(400).json({ error: 'invalid_command', problems: bodyProblems(body.error) })
      return
    }
    try {
      const { command, created } = commands.submit(
        { ...body.data, device: String(req.params.id) },
        res.locals.officer as string | undefined,
      )
      // A new command is a change by a person (issue 16's audit trail); a repeated id changes nothing.
      if (created)
        audit.record(auditActor(req, res), 'command.send', command.id, {
          device: command.device,
          kind: command.kind,
        })
      res.status(created ? 201 : 200).json(command)
    } catch (err) {
      sendError(res, err)
    }
  })

  router.get('/api/v1/devices/:id/commands', officer, (req, res) => {
    if (!deviceInScope(String(req.params.id), res)) return
    try {
      res.json({ commands: commands.list(String(req.params.id)) })
    } catch (err) {
      sendError(res, err)
    }
  })

  router.get('/api/v1/commands/:id', officer, (req, res) => {
    try {
      const command = commands.get(String(req.params.id))
      const device = command && opts.registry.getDevice(command.device)
      if (!command || !device || !callerScope(res).has(device.village)) {
        res.status(404).json({ error: 'unknown_command', message: `no command ${req.params.id}` })
        return
      }
      res.json(command)
    } catch (err) {
      sendError(res, err)
    }
  })

  return router
}
