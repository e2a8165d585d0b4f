import { createRequire } from 'node:module'
import path from 'node:path'
import express, { type Request, type Response, type Router } from 'express'
import { Counter } from 'prom-client'
import { z } from 'zod'
import { AuditLog } from '../audit/index.ts'
import {
  CONSOLE_LANGUAGES,
  CONSOLE_PUBLIC_DIR,
  type ConsoleLanguage,
  SessionStore,
  UserStore,
} from '../console/index.ts'
import { getLogger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import type { Registry } from '../registry/index.ts'
import { auditActor } from './audit-route.ts'
import { authenticateOfficer, CSRF_HEADER, SESSION_LOCAL, type SessionLocal, sameToken } from './auth.ts'
import { sendError } from './errors.ts'
import { type MapOptions, tileOrigin } from './map-route.ts'
import { markAccess } from './scope.ts'

export interface ConsoleOptions {
  sessionIdleMs: number
  sessionAbsoluteMs: number
  maxFailedLogins: number
  lockoutMs: number
  maxFailedLoginsPerIp: number
  /** Mark the session cookie Secure; default: when `publicBaseUrl` is https. */
  secureCookie?: boolean
  /** Where people reach the service (oksigen.publicBaseUrl). */
  publicBaseUrl?: string
  /** The pages' language for users who have not chosen one, and on the login page (default id). */
  defaultLanguage?: ConsoleLanguage
  /** The map page (config console.map): its tile server, if any, may serve the pages' images. */
  map?: MapOptions
}

export interface ConsoleRouteOptions extends ConsoleOptions {
  registry: Registry
  metrics: Metrics
  /** The wall clock (tests replace it). */
  clock?: () => number
}

export const SESSION_COOKIE = 'kampung_session'

const UPLOT_DIR = path.join(
  path.dirname(createRequire(import.meta.url).resolve('uplot/package.json')),
  'dist',
)
const LEAFLET_DIR = path.join(
  path.dirname(createRequire(import.meta.url).resolve('leaflet/package.json')),
  'dist',
)

const languageSchema = z.strictObject({ language: z.enum(CONSOLE_LANGUAGES) })

const villagesSchema = z.strictObject({ villages: z.array(z.string().min(1).max(63)).max(1000) })

const loginSchema = z.strictObject({
  user: z.string().min(1).max(64),
  password: z.string().min(1).max(500),
})

/**
 * Same-origin pages only: they may run our scripts and styles and talk to this server, nothing
 * else (no inline script, so injected markup cannot run), and no one may frame them (clickjacking).
 */
const csp = (tiles?: string) =>
  [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data:${tiles ? ` ${tiles}` : ''}`,
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "base-uri 'none'",
  ].join('; ')

function safeHost(origin: string): string | undefined {
  try {
    return new URL(origin).host
  } catch {
    return undefined // "null" (sandboxed frames, file:) is never our origin
  }
}

function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/** Addresses with recent failures kept before a sweep of the expired ones. */
const MAX_TRACKED_ADDRESSES = 10_000

/**
 * Failed logins per client address in a sliding window: guessing across many accounts. An attempt
 * takes its place in the window before its password is checked (`reserve`), so concurrent attempts
 * cannot all pass the limit while the checks run; a successful login gives its place back.
 */
class FailureWindow {
  private readonly failures = new Map<string, number[]>()
  private readonly windowMs: number
  private readonly max: number
  constructor(windowMs: number, max: number) {
    this.windowMs = windowMs
    this.max = max
  }
  private recent(key: string, nowMs: number): number[] {
    const list = (this.failures.get(key) ?? []).filter((t) => t > nowMs - this.windowMs)
    if (list.length) this.failures.set(key, list)
    else this.failures.delete(key)
    return list
  }
  /** Undefined when the attempt is counted; else how long the address must wait. */
  reserve(key: string, nowMs: number): number | undefined {
    const list = this.recent(key, nowMs)
    if (list.length >= this.max) return list[0]! + this.windowMs - nowMs
    // addresses that never come back would otherwise stay forever: sweep when the map grows
    if (this.failures.size >= MAX_TRACKED_ADDRESSES)
      for (const k of [...this.failures.keys()]) this.recent(k, nowMs)
    this.failures.set(key, [...list, nowMs])
    return undefined
  }
  /** The attempt reserved at `nowMs` succeeded: it is not a failure. */
  release(key: string, nowMs: number): void {
    const list = this.failures.get(key)
    const at = list?.lastIndexOf(nowMs) ?? -1
    if (!list || at < 0) return
    list.splice(at, 1)
    if (!list.length) this.failures.delete(key)
  }
}

/**
 * The officer console: resolves the session cookie of every request for authenticate()
 * (src/api/auth.ts), the login/logout/session endpoints, and the pages with their scripts. Mount it
 * before the API's routers. The pages hold no data: their scripts fetch it from /api/v1 like the CLI.
 */
export function consoleRouter(opts: ConsoleRouteOptions): Router {
  const router = express.Router()
  const log = getLogger('api.console')
  const clock = opts.clock ?? Date.now
  const users = new UserStore(opts.registry)
  const audit = new AuditLog(opts.registry)
  const sessions = new SessionStore(opts.registry, {
    idleMs: opts.sessionIdleMs,
    absoluteMs: opts.sessionAbsoluteMs,
    clock,
  })
  const perIp = new FailureWindow(opts.lockoutMs, opts.maxFailedLoginsPerIp)
  const logins = new Counter({
    name: 'kampung_console_logins_total',
    help: 'Console login attempts by outcome (ok, bad_credentials, locked, rate_limited)',
    labelNames: ['outcome'] as const,
    registers: [opts.metrics.registry],
  })

  // behind a TLS proxy the request reaches us as plain http: the configured public URL says https
  const secure = opts.secureCookie ?? opts.publicBaseUrl?.startsWith('https:') ?? false
  const cookie = (value: string, maxAgeS: number) =>
    [
      `${SESSION_COOKIE}=${value}`,
      'Path=/',
      'HttpOnly',
      'SameSite=Strict',
      `Max-Age=${maxAgeS}`,
      ...(secure ? ['Secure'] : []),
    ].join('; ')

  // Every request: which session (if any) its cookie names.
  router.use((req, res, next) => {
    const token = readCookie(req, SESSION_COOKIE)
    if (token) {
      const s = sessions.lookup(token)
      const local: SessionLocal = s
        ? { expired: false, user: s.user, role: s.role, villages: s.villages, csrfToken: s.csrfToken }
        : { expired: true }
      res.locals[SESSION_LOCAL] = local
    }
    next()
  })

  /**
   * Login and logout need no CSRF token (there is no session yet; logout ends one), so a request
   * from another site is refused by its Origin: browsers send it on every cross-origin POST.
   */
  const sameOrigin = (req: Request, res: Response): boolean => {
    const origin = req.get('origin')
    // host only: behind a TLS proxy the browser's https origin reaches us as plain http
    if (!origin || safeHost(origin) === req.get('host')) return true
    res.status(403).json({ error: 'csrf', message: `requests from ${origin} are not accepted` })
    return false
  }

  const noStore = (res: Response) => res.set('Cache-Control', 'no-store')

  const defaultLanguage = opts.defaultLanguage ?? 'id'
  const languageOf = (user: string): ConsoleLanguage => users.get(user)?.language ?? defaultLanguage

  router.get('/api/v1/session', (_req, res) => {
    noStore(res)
    const s = res.locals[SESSION_LOCAL] as SessionLocal | undefined
    if (!s || s.expired)
      // the login page speaks the default language until someone logs in
      return res.status(401).json({
        error: 'unauthorized',
        message: s ? 'your session has ended' : 'not logged in',
        defaultLanguage,
      })
    res.json({
      user: s.user,
      role: s.role,
      villages: s.villages,
      csrfToken: s.csrfToken,
      language: languageOf(s.user),
    })
  })

  // An officer's villages (src/api/scope.ts), set by an admin; `kampung users villages` does the same.
  const admin = markAccess('admin', async (req: Request, res: Response, next: express.NextFunction) => {
    if (await authenticateOfficer(opts.registry, req, res, ['admin'], { services: false })) next()
  })
  router.put('/api/v1/users/:id/villages', admin, express.json({ limit: '64kb' }), (req, res) => {
    const parsed = villagesSchema.safeParse(req.body)
    if (!parsed.success)
      return res.status(400).json({ error: 'bad_request', message: 'send {"villages": ["kemiren", ...]}' })
    try {
      const id = String(req.params.id)
      res.json({ user: id, villages: users.setVillages(id, parsed.data.villages) })
    } catch (err) {
      sendError(res, err)
    }
  })

  // The logged-in user's own language (header of every page); a state change, so CSRF-checked.
  router.put('/api/v1/session/language', express.json({ limit: '1kb' }), (req, res) => {
    noStore(res)
    const s = res.locals[SESSION_LOCAL] as SessionLocal | undefined
    if (!s || s.expired)
      return res.status(401).json({ error: 'unauthorized', message: 'not logged in', defaultLanguage })
    if (!sameToken(req.get(CSRF_HEADER) ?? '', s.csrfToken))
      return res.status(403).json({ error: 'csrf', message: `needs the session's ${CSRF_HEADER}` })
    const parsed = languageSchema.safeParse(req.body)
    if (!parsed.success)
      return res.status(400).json({
        error: 'bad_request',
        message: `send {"language": ${CONSOLE_LANGUAGES.map((l) => `"${l}"`).join(' | ')}}`,
      })
    users.setLanguage(s.user, parsed.data.language)
    audit.record(auditActor(req, res), 'user.language', s.user, { language: parsed.data.language })
    res.json({ user: s.user, language: parsed.data.language })
  })

  router.post('/api/v1/session', express.json({ limit: '4kb' }), async (req, res) => {
    noStore(res)
    if (!sameOrigin(req, res)) return
    const parsed = loginSchema.safeParse(req.body)
    if (!parsed.success)
      return res.status(400).json({ error: 'bad_request', message: 'send {"user": ..., "password": ...}' })
    const nowMs = clock()
    const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown'
    const ipWaitMs = perIp.reserve(ip, nowMs)
    if (ipWaitMs !== undefined) {
      logins.inc({ outcome: 'rate_limited' })
      res.set('Retry-After', String(Math.ceil(ipWaitMs / 1000)))
      return res
        .status(429)
        .json({ error: 'rate_limited', message: 'too many failed logins from your address: try again later' })
    }
    const { user, password } = parsed.data
    const result = await users.login(user, password, opts, nowMs)
    if (!result.ok) {
      logins.inc({ outcome: result.reason })
      if (result.reason === 'locked') {
        log.warn({ user, ip }, 'login refused: account locked')
        res.set('Retry-After', String(Math.ceil(result.retryAfterMs / 1000)))
        return res.status(429).json({
          error: 'locked',
          message: `too many wrong passwords: account locked for ${Math.ceil(result.retryAfterMs / 60_000)} min`,
        })
      }
      return res.status(401).json({ error: 'bad_credentials', message: 'wrong user or password' })
    }
    perIp.release(ip, nowMs)
    logins.inc({ outcome: 'ok' })
    const { token, csrfToken } = sessions.create(result.user.id)
    log.info({ user: result.user.id, role: result.user.role }, 'logged in')
    res.set('Set-Cookie', cookie(token, Math.ceil(opts.sessionAbsoluteMs / 1000)))
    res.json({
      user: result.user.id,
      role: result.user.role,
      csrfToken,
      language: result.user.language ?? defaultLanguage,
    })
  })

  router.delete('/api/v1/session', (req, res) => {
    noStore(res)
    if (!sameOrigin(req, res)) return
    const token = readCookie(req, SESSION_COOKIE)
    const s = res.locals[SESSION_LOCAL] as SessionLocal | undefined
    // a live session is ended only with its CSRF token: another page cannot log the officer out
    if (token && s && !s.expired) {
      if (!sameToken(req.get(CSRF_HEADER) ?? '', s.csrfToken))
        return res.status(403).json({ error: 'csrf', message: `logout needs the session's ${CSRF_HEADER}` })
      sessions.destroy(token)
    }
    res.set('Set-Cookie', cookie('', 0))
    res.status(204).end()
  })

  const pages = express.Router()
  const CSP = csp(tileOrigin(opts.map?.tileUrl))
  pages.use((_req, res, next) => {
    res.set({
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    })
    next()
  })
  pages.use('/vendor/uplot', express.static(UPLOT_DIR, { index: false }))
  pages.use('/vendor/leaflet', express.static(LEAFLET_DIR, { index: false }))
  pages.use(express.static(CONSOLE_PUBLIC_DIR, { extensions: ['html'], index: 'index.html' }))
  // '/console' matches '/console/' too (non-strict routing): redirect only the bare one
  router.get('/console', (req, res, next) =>
    req.originalUrl === '/console' ? res.redirect(301, '/console/') : next(),
  )
  router.use('/console', pages)
  return router
}
