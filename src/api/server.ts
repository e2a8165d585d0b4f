import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express, { type NextFunction, type Request, type Response } from 'express'
import type { AlertEngine } from '../alerts/index.ts'
import type { IngestPipeline } from '../ingest/index.ts'
import type { Logger } from '../log.ts'
import { getLogger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import type { SmsCallback } from '../notify/index.ts'
import type { Oksigen } from '../oksigen/index.ts'
import type { Registry } from '../registry/index.ts'
import type { TelemetryStore } from '../store/index.ts'
import { alertsRouter } from './alerts-route.ts'
import { type ConsoleOptions, consoleRouter } from './console-route.ts'
import { devicesRouter } from './devices-route.ts'
import { readingsRouter } from './readings-route.ts'
import { smsRouter } from './sms-route.ts'
import { telemetryRouter } from './telemetry-route.ts'
import { treesRouter } from './trees-route.ts'
import { verifyRouter } from './verify-route.ts'

export interface ApiOptions {
  host: string
  port: number
  maxBodyBytes: number
  /** Express's `trust proxy` (config api.trustProxy): req.ip is then the client behind the proxy. */
  trustProxy?: boolean | number | string[]
  registry: Registry
  pipeline: IngestPipeline
  store: TelemetryStore
  metrics: Metrics
  /** Sedekah Oksigen: the officers' tree API and the public certificate pages. */
  oksigen?: Oksigen
  publicBaseUrl?: string
  /** The officer console (logins, sessions, pages at /console/); off when absent. */
  console?: ConsoleOptions
  /** Smart Farming alerts: the officers' alerts, fields, farmers and silences API. */
  alerts?: AlertEngine
  /** SMS gateway callbacks (Kannel delivery reports and farmers' replies); no login: Kannel calls them. */
  smsCallbacks?: readonly SmsCallback[]
  /** Extra health facts (store, spool, broker), merged into GET /health. */
  health?: () => Record<string, unknown>
}

/** The HTTP API: telemetry POST for gateways, readings GET, /health, /metrics (Prometheus). */
export class ApiServer {
  private readonly opts: ApiOptions
  private readonly log: Logger
  private server: Server | undefined

  constructor(opts: ApiOptions) {
    this.opts = opts
    this.log = getLogger('api')
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.opts.port
  }

  async start(): Promise<void> {
    const app = express()
    app.disable('x-powered-by')
    app.set('trust proxy', this.opts.trustProxy ?? false)
    app.get('/health', (_req, res) => {
      res.json({ status: 'ok', ...(this.opts.health?.() ?? {}) }) // `status` from health() wins
    })
    app.get('/metrics', async (_req, res) => {
      res.set('Content-Type', this.opts.metrics.registry.contentType)
      res.send(await this.opts.metrics.registry.metrics())
    })
    // first: it resolves the session cookie that the routers below may accept
    if (this.opts.console) {
      app.use(
        consoleRouter({
          publicBaseUrl: this.opts.publicBaseUrl,
          ...this.opts.console,
          registry: this.opts.registry,
          metrics: this.opts.metrics,
        }),
      )
    }
    app.use(telemetryRouter(this.opts))
    app.use(devicesRouter(this.opts))
    app.use(readingsRouter(this.opts))
    const oksigen = this.opts.oksigen
    if (oksigen) {
      app.use(treesRouter({ registry: this.opts.registry, oksigen }))
      app.use(
        verifyRouter({
          store: oksigen.certificates,
          keyRing: oksigen.keyRing,
          publicBaseUrl: this.opts.publicBaseUrl ?? `http://localhost:${this.opts.port}`,
        }),
      )
    }
    if (this.opts.smsCallbacks) app.use('/api/v1', smsRouter(this.opts.smsCallbacks))
    if (this.opts.alerts) app.use(alertsRouter({ registry: this.opts.registry, engine: this.opts.alerts }))
    app.use((_req, res) => {
      res.status(404).json({ error: 'not_found', message: 'no such endpoint' })
    })
    // Malformed requests (bad body, too large) get a structured answer, never a crash.
    app.use(
      (
        err: Error & { status?: number; type?: string },
        _req: Request,
        res: Response,
        _next: NextFunction,
      ) => {
        const status = err.status ?? 500
        if (status >= 500) this.log.error({ err }, 'request failed')
        res.status(status).json({
          error: err.type === 'entity.too.large' ? 'too_large' : status >= 500 ? 'internal' : 'bad_request',
          message:
            err.type === 'entity.too.large'
              ? `body larger than ${this.opts.maxBodyBytes} bytes`
              : err.message,
        })
      },
    )
    const server = app.listen(this.opts.port, this.opts.host)
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve)
      server.once('error', (err) =>
        reject(new Error(`API could not listen on ${this.opts.host}:${this.opts.port}: ${err.message}`)),
      )
    })
  }

  async stop(): Promise<void> {
    const server = this.server
    if (!server) return
    this.server = undefined
    server.closeIdleConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
