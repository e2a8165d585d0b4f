import express, { type Request, type Response, type Router } from 'express'
import { isRetryable } from '../errors.ts'
import type { Registry } from '../registry/index.ts'
import type { ReadingQuery, TelemetryStore } from '../store/index.ts'
import { isQuantity, QUANTITY_NAMES } from '../telemetry/index.ts'
import { authenticate } from './auth.ts'
import { scopedByHandler, scopeOf } from './scope.ts'

export interface ReadingsRouteOptions {
  registry: Registry
  store: TelemetryStore
}

/** Most readings one request returns; ask for a narrower time range for more. */
const MAX_LIMIT = 10_000

/**
 * The times a store can be asked about: InfluxDB keeps int64 nanoseconds (1677-09-21 to
 * 2262-04-11); outside that its parser answers with an error, not an empty result.
 */
const MIN_TIME_MS = -9_223_372_036_854
const MAX_TIME_MS = 9_223_372_036_854
/** Longer than any time we accept written out (ISO-8601 with offset and fraction). */
const MAX_TIME_TEXT = 40

export function time(value: unknown, name: string, problems: string[]): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string') {
    problems.push(`${name}: give it once, as ms since the epoch or an ISO-8601 time`)
    return undefined
  }
  const text = value.length > MAX_TIME_TEXT ? `${value.slice(0, MAX_TIME_TEXT)}…` : value
  const ms =
    value.length > MAX_TIME_TEXT ? Number.NaN : /^\d+$/.test(value) ? Number(value) : Date.parse(value)
  if (!Number.isFinite(ms)) {
    problems.push(`${name}: "${text}" is neither ms since the epoch nor an ISO-8601 time`)
    return undefined
  }
  if (ms < MIN_TIME_MS || ms > MAX_TIME_MS) {
    problems.push(`${name}: "${text}" is outside 1677-09-21 .. 2262-04-11`)
    return undefined
  }
  return ms
}

/**
 * GET /api/v1/readings?quantity=soil_moisture[&village&device&sensor&from&to&limit]: stored
 * readings, oldest first. A service principal may read every village, any other device only its
 * own village (HTTP Basic, as for POST /api/v1/telemetry); a console session reads every village.
 */
export function readingsRouter(opts: ReadingsRouteOptions): Router {
  const router = express.Router()
  router.get('/api/v1/readings', scopedByHandler, async (req: Request, res: Response) => {
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
    if (query.fromMs !== undefined && query.toMs !== undefined && query.fromMs > query.toMs)
      problems.push('from: after to')
    if (problems.length)
      return res.status(400).json({ error: 'bad_request', message: problems.join('; '), problems })
    // service accounts and admins read every village; a device only its own; an officer theirs
    const scope = scopeOf(caller)
    if (caller.kind !== 'service' && caller.kind !== 'user') {
      if (query.village && query.village !== caller.village) {
        return res
          .status(403)
          .json({ error: 'forbidden', message: `"${caller.id}" may read only village ${caller.village}` })
      }
      query.village = caller.village
    }
    try {
      if (scope.all || caller.kind !== 'user') return res.json({ readings: await opts.store.query(query) })
      // an officer: each of their villages (one if asked for), merged oldest first
      const villages = query.village === undefined ? scope.villages : scope.filter([query.village], (v) => v)
      const parts = await Promise.all(villages.map((village) => opts.store.query({ ...query, village })))
      res.json({
        readings: parts
          .flat()
          .sort((a, b) => a.timeMs - b.timeMs)
          .slice(0, limit),
      })
    } catch (err) {
      if (!isRetryable(err)) throw err // 500 without the store's text (server.ts); the log has it
      res.set('Retry-After', '5')
      res.status(503).json({ error: 'store_unavailable', message: 'the store cannot answer now; retry' })
    }
  })
  return router
}
