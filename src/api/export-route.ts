import express, { type Request, type Response, type Router } from 'express'
import type { AlertEngine } from '../alerts/index.ts'
import { KampungError } from '../errors.ts'
import { EXPORT_KINDS, type ExportFilter, type ExportSources, writeCsv } from '../export/index.ts'
import { getLogger } from '../log.ts'
import type { Oksigen } from '../oksigen/index.ts'
import type { Registry } from '../registry/index.ts'
import type { TelemetryStore } from '../store/index.ts'
import { isQuantity, QUANTITY_NAMES } from '../telemetry/index.ts'
import { requireOfficer } from './auth.ts'
import { sendError } from './errors.ts'
import { time } from './readings-route.ts'
import { callerScope } from './scope.ts'

export interface ExportRouteOptions {
  registry: Registry
  store: TelemetryStore
  alerts?: AlertEngine
  oksigen?: Oksigen
}

const log = getLogger('api.export')

/** The rows of an export the caller may see nothing of. */
const NOTHING: AsyncIterable<never> = { [Symbol.asyncIterator]: async function* () {} }

/** A name safe inside Content-Disposition's quoted filename. */
const fileSafe = (s: string) => s.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 64)

/**
 * The village an export is limited to: the `village` query parameter. The one place a caller's
 * village scope narrows an export (every kind filters by this value alone). `null`: nothing the
 * caller may see (the export is its header row alone).
 */
function villageOf(req: Request, res: Response, problems: string[]): string | undefined | null {
  const asked =
    typeof req.query.village === 'string' && req.query.village !== '' ? req.query.village : undefined
  const scope = callerScope(res)
  if (scope.all) return asked
  // An officer exports only their villages (issue 16): another village reads as one with no data,
  // never as "forbidden" (that would confirm it exists).
  if (asked !== undefined) return scope.has(asked) ? asked : null
  if (scope.villages.length === 1) return scope.villages[0]
  if (scope.villages.length === 0) return null
  problems.push(`village: give one of yours (${scope.villages.join(', ')})`)
  return undefined
}

/** The query as an ExportFilter; every problem listed (unknown parameter, bad time, quantity). */
function filterOf(req: Request, params: readonly string[], problems: string[]): ExportFilter {
  const q = req.query
  for (const key of Object.keys(q)) {
    if (!params.includes(key)) problems.push(`${key}: not a parameter of this export (${params.join(', ')})`)
    else if (typeof q[key] !== 'string') problems.push(`${key}: give it once`)
  }
  const text = (key: string) => (typeof q[key] === 'string' && q[key] !== '' ? (q[key] as string) : undefined)
  const quantity = text('quantity')
  if (quantity !== undefined && !isQuantity(quantity))
    problems.push(`quantity: "${quantity}" is not one of ${QUANTITY_NAMES.join(', ')}`)
  const filter: ExportFilter = {
    device: text('device'),
    sensor: text('sensor'),
    state: text('state'),
    quantity: quantity !== undefined && isQuantity(quantity) ? quantity : undefined,
    fromMs: text('from') === undefined ? undefined : time(q.from, 'from', problems),
    toMs: text('to') === undefined ? undefined : time(q.to, 'to', problems),
  }
  if (filter.fromMs !== undefined && filter.toMs !== undefined && filter.fromMs > filter.toMs)
    problems.push('from: after to')
  return filter
}

/**
 * GET /api/v1/export/{readings,alerts,trees,decisions}.csv: a CSV attachment streamed as it is
 * read (one page of readings in memory at a time, backpressure from the client), for a console
 * officer or admin or a `service` account (`kampung export`). A header row; times in UTC (ISO-8601)
 * and, for officers' spreadsheets, in WIB; numbers with a dot.
 */
export function exportRouter(opts: ExportRouteOptions): Router {
  const router = express.Router()
  const sources: ExportSources = { store: opts.store, alerts: opts.alerts, oksigen: opts.oksigen }
  router.get('/api/v1/export/:file', requireOfficer(opts.registry), async (req, res) => {
    const m = /^([a-z]+)\.csv$/.exec(String(req.params.file))
    const kind = m ? EXPORT_KINDS[m[1]!] : undefined
    if (!kind || !Object.hasOwn(EXPORT_KINDS, m![1]!) || !kind.available(sources))
      return res.status(404).json({
        error: 'not_found',
        message: `no export "${req.params.file}"; one of ${Object.values(EXPORT_KINDS)
          .filter((k) => k.available(sources))
          .map((k) => `${k.name}.csv`)
          .join(', ')}`,
      })
    const problems: string[] = []
    const filter = filterOf(req, kind.params, problems)
    const village = villageOf(req, res, problems)
    filter.village = village ?? undefined
    if (problems.length)
      return res.status(400).json({ error: 'bad_request', message: problems.join('; '), problems })
    // The first row is read before the headers go out, so a store that cannot answer (or a bad
    // state) still gets a proper JSON error and status.
    const rows =
      village === null ? NOTHING[Symbol.asyncIterator]() : kind.rows(sources, filter)[Symbol.asyncIterator]()
    let first: IteratorResult<unknown>
    try {
      first = await rows.next()
    } catch (err) {
      if (err instanceof KampungError) return sendError(res, err)
      throw err // 500 without the text (server.ts); the log has it
    }
    const day = new Date().toISOString().slice(0, 10).replaceAll('-', '')
    const name = [kind.name, village === null ? 'none' : (filter.village ?? 'all'), filter.device, day]
      .filter(Boolean)
      .map(String)
    res.status(200).set({
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="${name.map(fileSafe).join('-')}.csv"`,
      'Cache-Control': 'no-store',
    })
    async function* all() {
      if (first.done) return
      yield first.value as never
      for (;;) {
        const next = await rows.next()
        if (next.done) return
        yield next.value
      }
    }
    try {
      const n = await writeCsv(kind.columns, all(), res, { bom: true })
      log.debug({ kind: kind.name, rows: n }, 'export sent')
    } catch (err) {
      // Headers are gone: the client sees the download cut short (no final chunk), never a
      // truncated file that looks complete.
      log.warn({ err, kind: kind.name }, 'export cut short')
      await rows.return?.(undefined)
      res.destroy()
    }
  })
  return router
}
