import type { RequestHandler, Response } from 'express'
import type { Caller } from './auth.ts'

/**
 * The villages a caller may see and act in (issue 16): a console admin and a `service` account
 * every village; a console officer only the villages assigned to them (none: nothing); any other
 * device only its own village. Every route that reads or changes village data asks this one
 * object, so the rule lives in one place.
 */
export interface VillageScope {
  /** Every village (admin, service account). */
  readonly all: boolean
  /** The villages when not `all`, sorted. */
  readonly villages: readonly string[]
  /** May the caller see this village's data? (undefined/null: only with `all`.) */
  has(village: string | null | undefined): boolean
  /** The items of the caller's villages, in their order. */
  filter<T>(items: readonly T[], villageOf: (item: T) => string | null | undefined): T[]
}

/** Where authenticateOfficer() leaves the caller's scope for the route's handlers. */
export const SCOPE_LOCAL = 'villageScope'

export const ALL_VILLAGES: VillageScope = {
  all: true,
  villages: [],
  has: () => true,
  filter: (items) => [...items],
}

function only(villages: readonly string[]): VillageScope {
  const set = new Set(villages)
  return {
    all: false,
    villages: [...set].sort(),
    has: (v) => typeof v === 'string' && set.has(v),
    filter: (items, villageOf) =>
      items.filter((i) => {
        const v = villageOf(i)
        return typeof v === 'string' && set.has(v)
      }),
  }
}

/** The caller turned into a village filter. */
export function scopeOf(caller: Caller): VillageScope {
  if (caller.kind === 'user') return caller.role === 'admin' ? ALL_VILLAGES : only(caller.villages)
  if (caller.kind === 'service') return ALL_VILLAGES
  return only([caller.village])
}

/**
 * The scope of the authenticated caller of this request (set by authenticateOfficer, so by
 * requireOfficer too). A route that forgot to authenticate throws here (a 500), never sees all.
 */
export function callerScope(res: Response): VillageScope {
  const scope = res.locals[SCOPE_LOCAL] as VillageScope | undefined
  if (!scope) throw new Error('callerScope() before authentication: the route has no officer check')
  return scope
}

/**
 * How a route is guarded, marked on its authenticating middleware so that
 * tests/api/route-access.test.ts can walk every registered route: `scoped` routes filter by
 * callerScope() (lists) or answer 404 for another village's object; `admin` routes are for console
 * admins only; public routes are listed in that test with the reason they hold no officer data.
 */
export type RouteAccess = 'scoped' | 'admin'

const ACCESS = Symbol.for('kampung.routeAccess')

export function markAccess<T extends RequestHandler>(access: RouteAccess, handler: T): T {
  ;(handler as unknown as Record<symbol, RouteAccess>)[ACCESS] = access
  return handler
}

export function accessOf(handler: unknown): RouteAccess | undefined {
  return typeof handler === 'function'
    ? (handler as unknown as Record<symbol, RouteAccess | undefined>)[ACCESS]
    : undefined
}

/**
 * For a route whose handler authenticates and scopes itself (GET /api/v1/readings: devices read
 * their own village, officers theirs): marks it scoped without doing anything.
 */
export const scopedByHandler: RequestHandler = markAccess('scoped', (_req, _res, next) => next())

/** One registered route: its method, full path, and how its guard is marked (undefined: none). */
export interface RouteInfo {
  method: string
  path: string
  access?: RouteAccess
}

interface RouterLike {
  stack?: Array<{
    route?: { path: string; methods: Record<string, boolean>; stack: Array<{ handle: unknown }> }
    handle: unknown
    rawPath?: unknown
    slash?: boolean
  }>
}

/** Every route of an Express app's router (app.router) or a Router, nested routers included. */
export function listRoutes(router: unknown, prefix = ''): RouteInfo[] {
  const out: RouteInfo[] = []
  for (const layer of (router as RouterLike).stack ?? []) {
    if (layer.route) {
      const access = layer.route.stack.map((l) => accessOf(l.handle)).find((a) => a !== undefined)
      for (const [method, on] of Object.entries(layer.route.methods))
        if (on && method !== '_all')
          out.push({
            method: method.toUpperCase(),
            path: prefix + layer.route.path,
            ...(access ? { access } : {}),
          })
    } else if ((layer.handle as RouterLike).stack) {
      const mount = layer.slash || typeof layer.rawPath !== 'string' ? '' : layer.rawPath.replace(/\/$/, '')
      out.push(...listRoutes(layer.handle, prefix + mount))
    }
  }
  return out
}
