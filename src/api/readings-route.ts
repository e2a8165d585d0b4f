import express, { type Request, type Response, type Router } from 'express'
import type { Registry } from '../registry/index.ts'
import type { ReadingQuery, TelemetryStore } from '../store/index.ts'
import { isQuantity, QUANTITY_NAMES } from '../telemetry/index.ts'
import { authenticate } from './auth.ts'

export interface ReadingsRouteOptions {
  registry: Registry
  store: TelemetryStore
}

/** Most readings one request returns; ask for a narrower time range for more. */
const MAX_LIMIT = 10_000

function time(value: unknown, name: string, problems: string[]): number | undefined {
  if (value === undefined) return undefined
  const text = String(value)
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text)
  if (!Number.isFinite(ms))
    problems.push(`${name}: "${text}" is neither ms since the epoch nor an ISO-8601 time`)
  return ms
}

/**
 * GET /api/v1/readings?quantity=soil_moisture[&village&device&sensor&from&to&limit]: stored
 * readings, oldest first. A service principal may read every village, any other device only its
 * own village (HTTP Basic, as for POST /api/v1/telemetry); a console session reads every village.
 */
export function readingsRouter(opts: ReadingsRouteOptions): Router {
  const router = express.Router()
  router.get('/api/v1/readings', async (req: Request, res: Response) => {
    const caller = await authenticate(
      opts.registry,
      req,
      res,
      'send a device id and secret as HTTP Basic credentials',
      { users: true },
    )
    if (!caller) return
    const q = req.query
    const problems: string[] = []
    const quantity = typeof q.quantity === 'string' ? q.quantity : ''
    if (!isQuantity(quantity))
      problems.push(`quantity: "${quantity}" is not one of ${QUANTITY_NAMES.join(', ')}`)
    const limit = q.limit === undefined ? 1000 : Number(q.limit)
    if (!Number.isInteger(limit) || limit < 0 || limit > MAX_LIMIT)
      problems.push(`limit: expected an integer 0..${MAX_LIMIT}`)
    const query: ReadingQuery = {
      quantity: quantity as ReadingQuery['quantity'],
      village: typeof q.village === 'string' ? q.village : undefined,
      device: typeof q.device === 'string' ? q.device : undefined,
      sensor: typeof q.sensor === 'string' ? q.sensor : undefined,
      fromMs: time(q.from, 'from', problems),
      toMs: time(q.to, 'to', problems),
      limit,
    }
    if (problems.length)
      return res.status(400).json({ error: 'bad_request', message: problems.join('; '), problems })
    // service accounts and console users read every village; a device only its own
    if (caller.kind !== 'service' && caller.kind !== 'user') {
      if (query.village && query.village !== caller.village) {
        return res
          .status(403)
          .json({ error: 'forbidden', message: `"${caller.id}" may read only village ${caller.village}` })
      }
      query.village = caller.village
    }
    res.json({ readings: await opts.store.query(query) })
  })
  return router
}
