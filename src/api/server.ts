import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express, { type NextFunction, type Request, type Response } from 'express'
import type { AlertEngine } from '../alerts/index.ts'
import type { CommandService, NodeConfigService } from '../commands/index.ts'
import type { IngestPipeline } from '../ingest/index.ts'
import type { Logger } from '../log.ts'
import { getLogger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import type { SmsCallback } from '../notify/index.ts'
import type { Oksigen } from '../oksigen/index.ts'
import type { Registry } from '../registry/index.ts'
import type { TelemetryStore } from '../store/index.ts'
import { alertsRouter } from './alerts-route.ts'
import { auditRouter } from './audit-route.ts'
import { presentedToken, sameToken } from './auth.ts'
import { commandsRouter } from './commands-route.ts'
import { type ConsoleOptions, consoleRouter } from './console-route.ts'
import { deviceConfigRouter } from './device-config-route.ts'
import { devicesRouter } from './devices-route.ts'
import { exportRouter } from './export-route.ts'
import { importRouter } from './import-route.ts'
import { mapRouter } from './map-route.ts'
import { readingsRouter } from './readings-route.ts'
import { listRoutes, type RouteInfo } from './scope.ts'
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
  /** Commands to devices: POST/GET under /api/v1 (src/api/commands-route.ts). */
  commands?: CommandService
  /** Versioned node configuration: GET/PUT /api/v1/devices/:id/config (src/api/device-config-route.ts). */
  nodeConfig?: NodeConfigService
  /** Extra health facts (store, spool, broker), merged into GET /health. */
  health?: () => Record<string, unknown>
  /** Devices with a live MQTT connection (the embedded broker), for the console map. */
  onlineDevices?: () => Iterable<string>
  /** When set, GET /metrics needs it (Bearer, HTTP Basic password or X-Kampung-Token). */
  metricsToken?: string
  /** Connection limits (config api.connections); defaults in defaultConnectionLimits. */
  connections?: Partial<ConnectionLimits>
}

export interface ConnectionLimits {
  /** Sockets held at once; over it Node closes new ones. Kept well under the broker's share of files. */
  maxConnections: number
  /** From one remote address (an HTTP gateway, Kannel, a few officers behind NAT need far fewer). */
  maxConnectionsPerAddress: number
  /** Not capped per address: the host itself (a TLS proxy in front sends everything from there). */
  unlimitedAddresses: string[]
  headersTimeoutMs: number
  requestTimeoutMs: number
}

export const defaultConnectionLimits: ConnectionLimits = {
  maxConnections: 1_024,
  maxConnectionsPerAddress: 64,
  unlimitedAddresses: ['127.0.0.1', '::1', '::ffff:127.0.0.1'],
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
}

/**
 * Headers on every response (helmet's defaults that cannot break a page; the console sets its
 * own stricter Content-Security-Policy on its pages): no MIME sniffing of JSON or text, no
 * framing, no referrer leaking a certificate URL, no cross-origin embedding of API answers.
 */
const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'",
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Permitted-Cross-Domain-Policies': 'none',
  'X-DNS-Prefetch-Control': 'off',
  'Origin-Agent-Cluster': '?1',
}

/** The HTTP API: telemetry POST for gateways, readings GET, /health, /metrics (Prometheus). */
export class ApiServer {
  private readonly opts: ApiOptions
  private readonly log: Logger
  private server: Server | undefined
  private app: express.Express | undefined

  constructor(opts: ApiOptions) {
    this.opts = opts
    this.log = getLogger('api')
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.opts.port
  }

  /** Every registered route and its access mark (tests/api/route-access.test.ts checks them all). */
  routes(): RouteInfo[] {
    return this.app ? listRoutes(this.app.router) : []
  }

  async start(): Promise<void> {
    const app = express()
    this.app = app
    app.disable('x-powered-by')
    app.set('trust proxy', this.opts.trustProxy ?? false)
    // Behind a TLS proxy (publicBaseUrl https) browsers should never come back over plain HTTP.
    const hsts = this.opts.publicBaseUrl?.startsWith('https://')
    app.use((req, res, next) => {
      res.set(SECURITY_HEADERS)
      // The public certificate pages' QR codes and keys are meant to be embedded and fetched elsewhere.
      if (req.path.startsWith('/verify/')) res.set('Cross-Origin-Resource-Policy', 'cross-origin')
      if (hsts) res.set('Strict-Transport-Security', 'max-age=31536000')
      next()
    })
    app.get('/health', (_req, res) => {
      res.json({ status: 'ok', ...(this.opts.health?.() ?? {}) }) // `status` from health() wins
    })
    const metricsToken = this.opts.metricsToken
    app.get('/metrics', async (req, res) => {
      if (metricsToken) {
        const token = presentedToken(req)
        if (token === undefined || !sameToken(token, metricsToken)) {
          res.set('WWW-Authenticate', 'Bearer realm="kampung-metrics"')
          res.status(401).json({
            error: 'unauthorized',
            message:
              'GET /metrics needs api.metricsToken as a Bearer token (Prometheus: authorization.credentials)',
          })
          return
        }
      }
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
    if (this.opts.smsCallbacks) app.use('/api/v1', smsRouter(this.opts.smsCallbacks, this.opts.metrics))
    if (this.opts.alerts) app.use(alertsRouter({ registry: this.opts.registry, engine: this.opts.alerts }))
    const map = this.opts.console?.map
    if (map) app.use(mapRouter({ ...this.opts, map }))
    app.use(exportRouter(this.opts))
    if (this.opts.commands)
      app.use(commandsRouter({ registry: this.opts.registry, commands: this.opts.commands }))
    if (this.opts.nodeConfig)
      app.use(deviceConfigRouter({ registry: this.opts.registry, config: this.opts.nodeConfig }))
    app.use(
      importRouter({ registry: this.opts.registry, alerts: this.opts.alerts, oksigen: this.opts.oksigen }),
    )
    app.use(auditRouter({ registry: this.opts.registry }))
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
        if (res.headersSent) return
        // A 5xx says nothing of its cause (a store's parser text, a path): that is in the log.
        res.status(status).json({
          error: err.type === 'entity.too.large' ? 'too_large' : status >= 500 ? 'internal' : 'bad_request',
          message:
            err.type === 'entity.too.large'
              ? `body larger than ${this.opts.maxBodyBytes} bytes`
              : status >= 500
                ? 'internal error (see the server log)'
                : err.message,
        })
      },
    )
    const limits = { ...defaultConnectionLimits, ...this.opts.connections }
    // A request's headers must arrive within headersTimeoutMs (checked every 2 s): a socket that
    // opens and says nothing, or trickles its headers, is closed instead of held.
    const server = createServer(
      {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        connectionsCheckingInterval: 2_000,
      },
      app,
    )
    server.maxConnections = limits.maxConnections
    const perAddress = new Map<string, number>()
    server.on('connection', (socket) => {
      const address = socket.remoteAddress
      if (address === undefined) return void socket.destroy()
      if (limits.unlimitedAddresses.includes(address)) return
      const held = perAddress.get(address) ?? 0
      if (held >= limits.maxConnectionsPerAddress) {
        this.log.warn({ address, held }, 'API connection refused: over the per-address cap')
        return void socket.destroy()
      }
      perAddress.set(address, held + 1)
      socket.once('close', () => {
        const left = (perAddress.get(address) ?? 1) - 1
        if (left > 0) perAddress.set(address, left)
        else perAddress.delete(address)
      })
    })
    server.listen(this.opts.port, this.opts.host)
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
