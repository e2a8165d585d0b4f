import { createHash, timingSafeEqual } from 'node:crypto'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import type { z } from 'zod'
import type { Device, Registry } from '../registry/index.ts'
import { markAccess, SCOPE_LOCAL, scopeOf } from './scope.ts'

/** Credentials: HTTP Basic (device id : secret) or `Authorization: Bearer <id>:<secret>`. */
export function credentials(req: Request): { id: string; secret: string } | undefined {
  const header = req.get('authorization') ?? ''
  const [scheme, value] = header.split(' ', 2)
  const kind = scheme?.toLowerCase()
  if (!value || (kind !== 'basic' && kind !== 'bearer')) return undefined
  const text = kind === 'basic' ? Buffer.from(value, 'base64').toString('utf8') : value
  const colon = text.indexOf(':')
  if (colon <= 0) return undefined
  return { id: text.slice(0, colon), secret: text.slice(colon + 1) }
}

/** A person logged in to the officer console (src/console), acting through the same API. */
export interface UserCaller {
  kind: 'user'
  id: string
  role: 'officer' | 'admin'
  /** An officer's villages (src/api/scope.ts); an admin sees every village. */
  villages: readonly string[]
}

/** Who calls: a registered device (or `service` account) with HTTP Basic, or a console user. */
export type Caller = Device | UserCaller

/**
 * What the console's session middleware leaves in `res.locals[SESSION_LOCAL]` for a request whose
 * cookie names a live session (`expired: true` when it named one that is over).
 */
export const SESSION_LOCAL = 'consoleSession'
export type SessionLocal =
  | { expired: false; user: string; role: 'officer' | 'admin'; villages: string[]; csrfToken: string }
  | { expired: true }

/** `res.locals[CALLER_LOCAL]`: the Caller that authenticateOfficer let through. */
export const CALLER_LOCAL = 'caller'

/** The header the console's pages send the session's CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token'
/** The console's pages mark their requests, so a 401 does not pop up the browser's Basic dialog. */
export const CONSOLE_HEADER = 'x-kampung-console'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * A refused request's body is never read: the answer hangs up (Connection: close) instead of
 * Node reading and discarding whatever the stranger sends. Routes authenticate before their body
 * parser (POST /api/v1/telemetry would otherwise buffer maxBodyBytes first).
 */
function refuseBody(req: Request, res: Response): void {
  if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)
    res.set('Connection', 'close')
}

/**
 * Constant-time comparison of two tokens: their SHA-256 digests are compared, so neither the
 * content nor the length of the expected token shows in the time taken.
 */
export function sameToken(a: string, b: string): boolean {
  const digest = (t: string) => createHash('sha256').update(t, 'utf8').digest()
  return timingSafeEqual(digest(a), digest(b))
}

/** The header a caller may send a shared token in (callbacks, /metrics) instead of HTTP Basic. */
export const TOKEN_HEADER = 'x-kampung-token'

/**
 * A shared token as the caller sent it: `Authorization: Bearer <token>`, HTTP Basic (the password;
 * the user name is free), or `X-Kampung-Token`. Never the query string: URLs end up in logs.
 */
export function presentedToken(req: Request): string | undefined {
  const header = req.get('authorization') ?? ''
  const [scheme, value] = header.split(' ', 2)
  const kind = scheme?.toLowerCase()
  if (value && kind === 'bearer') return value
  if (value && kind === 'basic') {
    const text = Buffer.from(value, 'base64').toString('utf8')
    const colon = text.indexOf(':')
    return colon < 0 ? undefined : text.slice(colon + 1)
  }
  return req.get(TOKEN_HEADER) ?? undefined
}

/**
 * The registered device (or service account) making the request, or undefined after answering
 * 401 with `message` (what credentials the caller should send). With `{ users: true }` a console
 * session is accepted too (HTTP Basic wins when both are sent); a state-changing request on a
 * session must carry the session's CSRF token in X-CSRF-Token, else 403 `csrf`: the cookie alone
 * proves only that the browser sent it, not that our page did.
 */
export async function authenticate(
  registry: Registry,
  req: Request,
  res: Response,
  message: string,
): Promise<Device | undefined>
export async function authenticate(
  registry: Registry,
  req: Request,
  res: Response,
  message: string,
  opts: { users: true },
): Promise<Caller | undefined>
export async function authenticate(
  registry: Registry,
  req: Request,
  res: Response,
  message: string,
  opts: { users?: boolean } = {},
): Promise<Caller | undefined> {
  const creds = credentials(req)
  const session = res.locals[SESSION_LOCAL] as SessionLocal | undefined
  if (!creds && opts.users && session && !session.expired) {
    if (!SAFE_METHODS.has(req.method)) {
      const token = req.get(CSRF_HEADER) ?? ''
      if (!sameToken(token, session.csrfToken)) {
        refuseBody(req, res)
        res.status(403).json({
          error: 'csrf',
          message: `a ${req.method} on a console session needs the session's CSRF token in ${CSRF_HEADER}`,
        })
        return undefined
      }
    }
    return { kind: 'user', id: session.user, role: session.role, villages: session.villages }
  }
  const result =
    creds &&
    (await registry.authenticateDevice(creds.id, creds.secret, req.ip ?? req.socket.remoteAddress ?? ''))
  if (result?.ok) return result.device
  if (result?.reason === 'throttled') {
    refuseBody(req, res)
    res.set('Retry-After', String(Math.ceil(result.retryAfterMs / 1000)))
    res
      .status(429)
      .json({ error: 'rate_limited', message: 'too many failed authentications: try again later' })
    return undefined
  }
  refuseBody(req, res)
  // A console page handles 401 itself (back to the login page); the header would open a dialog.
  if (!session && !req.get(CONSOLE_HEADER)) res.set('WWW-Authenticate', 'Basic realm="smart-kampung"')
  res.status(401).json({
    error: 'unauthorized',
    message: creds
      ? `bad id or secret for "${creds.id}"`
      : opts.users && session?.expired
        ? 'your session has ended: log in again'
        : message,
  })
  return undefined
}

/** An officer's caller: a `service` account (HTTP Basic) or a console user with one of `roles`. */
export async function authenticateOfficer(
  registry: Registry,
  req: Request,
  res: Response,
  roles: ReadonlyArray<UserCaller['role']>,
  opts: { services: boolean } = { services: true },
): Promise<Caller | undefined> {
  const caller = await authenticate(
    registry,
    req,
    res,
    'officer credentials required (console login or HTTP Basic)',
    { users: true },
  )
  if (!caller) return undefined
  res.locals[SCOPE_LOCAL] = scopeOf(caller)
  const allowed =
    caller.kind === 'user' ? roles.includes(caller.role) : opts.services && caller.kind === 'service'
  if (allowed) {
    res.locals[CALLER_LOCAL] = caller // who acts, for the audit log (src/api/audit-route.ts)
    return caller
  }
  res.status(403).json({
    error: 'forbidden',
    message:
      caller.kind === 'user'
        ? `"${caller.id}" is a console ${caller.role}; this needs ${roles.join(' or ')}`
        : `"${caller.id}" is a ${caller.kind} device, not an officer account`,
  })
  return undefined
}

/**
 * Middleware for officers' routes: a console officer or admin (CSRF-checked by the console router)
 * or a `service` device (the CLI). Sets `res.locals.officer` to who is acting.
 */
export function requireOfficer(registry: Registry): RequestHandler {
  return markAccess('scoped', async (req: Request, res: Response, next: NextFunction) => {
    const caller = await authenticateOfficer(registry, req, res, ['officer', 'admin'])
    if (!caller) return
    res.locals.officer = caller.id
    next()
  })
}

/** A request body's validation problems, one `path: message` each, for a 400 answer. */
export function bodyProblems(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
}
