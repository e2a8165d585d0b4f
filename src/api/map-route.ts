import express, { type Router } from 'express'
import type { AlertEngine } from '../alerts/index.ts'
import type { Oksigen, TreeState } from '../oksigen/index.ts'
import type { Registry } from '../registry/index.ts'
import { requireOfficer } from './auth.ts'
import { callerScope } from './scope.ts'

/** config `console.map`. */
export interface MapOptions {
  /** Tile URL template ({z}/{x}/{y}); none: the console draws a plain grid and fetches nothing. */
  tileUrl?: string
  tileAttribution?: string
  /** A device with a reading this recent is online (as is one with a live MQTT connection). */
  onlineWithinMs: number
}

/** Where the map's facts come from; a capability that is off is absent. */
export interface MapSources {
  registry: Registry
  alerts?: AlertEngine
  oksigen?: Oksigen
  /** Devices with a live MQTT connection (the embedded broker), when it runs in this process. */
  onlineDevices?: () => Iterable<string>
  clock?: () => number
}

export type DeviceLink = 'online' | 'offline' | 'unknown'

export interface MapView {
  tiles: { url: string; attribution: string } | null
  /** Each village at the centroid of its placed devices (absent when none has coordinates). */
  villages: Array<{ id: string; name: string; lat: number; lon: number; devices: number }>
  fields: Array<{
    id: string
    village: string
    name: string
    crop: string
    lat: number
    lon: number
    alert: 'firing' | 'none'
    firing: number
  }>
  trees: Array<{ id: string; village: string; species: string; state: TreeState; lat: number; lon: number }>
  devices: Array<{
    id: string
    village: string
    kind: string
    lat: number
    lon: number
    status: DeviceLink
    lastSeenMs?: number
  }>
  /** Registered but without coordinates: not on the map. */
  unplaced: { fields: number; trees: number; devices: number }
}

const placed = <T extends { lat?: number; lon?: number }>(x: T): x is T & { lat: number; lon: number } =>
  typeof x.lat === 'number' && typeof x.lon === 'number'

/**
 * What the console map shows: villages, fields with their alert state, trees with their
 * verification state, devices online or offline. `villages` limits it to those villages (all when
 * absent): the one place a caller's village scope applies.
 */
export function mapView(sources: MapSources, opts: MapOptions, villages?: ReadonlySet<string>): MapView {
  const inScope = (village: string) => !villages || villages.has(village)
  const nowMs = (sources.clock ?? Date.now)()

  const allDevices = sources.registry.listDevices().filter((d) => inScope(d.village))
  const live = sources.onlineDevices ? new Set(sources.onlineDevices()) : undefined
  const lastSeen = sources.alerts?.devicesLastSeenMs()
  const statusOf = (id: string): DeviceLink => {
    if (!live && !lastSeen) return 'unknown'
    if (live?.has(id)) return 'online'
    const seen = lastSeen?.get(id)
    return seen !== undefined && nowMs - seen <= opts.onlineWithinMs ? 'online' : 'offline'
  }
  const devices = allDevices.filter(placed).map((d) => ({
    id: d.id,
    village: d.village,
    kind: d.kind,
    lat: d.lat,
    lon: d.lon,
    status: statusOf(d.id),
    ...(lastSeen?.has(d.id) ? { lastSeenMs: lastSeen.get(d.id) } : {}),
  }))

  const sums = new Map<string, { lat: number; lon: number; n: number }>()
  for (const d of devices) {
    const s = sums.get(d.village) ?? { lat: 0, lon: 0, n: 0 }
    sums.set(d.village, { lat: s.lat + d.lat, lon: s.lon + d.lon, n: s.n + 1 })
  }
  const villageList = sources.registry
    .listVillages()
    .filter((v) => inScope(v.id) && sums.has(v.id))
    .map((v) => {
      const s = sums.get(v.id)!
      return { id: v.id, name: v.name, lat: s.lat / s.n, lon: s.lon / s.n, devices: s.n }
    })

  const allFields = sources.alerts?.directory.listFields().filter((f) => inScope(f.village)) ?? []
  const firing = new Map<string, number>()
  for (const a of sources.alerts?.listAlerts({ state: 'firing', limit: 1_000_000 }) ?? [])
    if (a.field) firing.set(a.field, (firing.get(a.field) ?? 0) + 1)
  const fields = allFields.filter(placed).map((f) => ({
    id: f.id,
    village: f.village,
    name: f.name,
    crop: f.crop,
    lat: f.lat,
    lon: f.lon,
    alert: firing.has(f.id) ? ('firing' as const) : ('none' as const),
    firing: firing.get(f.id) ?? 0,
  }))

  const allTrees = sources.oksigen?.repo.listTrees().filter((t) => inScope(t.village)) ?? []
  const trees = allTrees.filter(placed).map((t) => ({
    id: t.id,
    village: t.village,
    species: t.species,
    state: t.state,
    lat: t.lat,
    lon: t.lon,
  }))

  return {
    tiles: opts.tileUrl ? { url: opts.tileUrl, attribution: opts.tileAttribution ?? '' } : null,
    villages: villageList,
    fields,
    trees,
    devices,
    unplaced: {
      fields: allFields.length - fields.length,
      trees: allTrees.length - trees.length,
      devices: allDevices.length - devices.length,
    },
  }
}

/**
 * GET /api/v1/map (officers: console session or a `service` account): everything the console map
 * draws, in one answer; `?village=ID` (repeatable) limits it to those villages.
 */
export function mapRouter(sources: MapSources & { map: MapOptions }): Router {
  const router = express.Router()
  router.get('/api/v1/map', requireOfficer(sources.registry), (req, res) => {
    const asked = ([] as unknown[]).concat(req.query.village ?? []).filter((v) => typeof v === 'string')
    // An officer's map holds only their villages (issue 16): asked-for villages outside it are
    // dropped silently, as if they did not exist.
    const scope = callerScope(res)
    const villages = scope.all
      ? asked.length
        ? new Set(asked as string[])
        : undefined
      : new Set(asked.length ? (asked as string[]).filter((v) => scope.has(v)) : scope.villages)
    res.set('Cache-Control', 'no-store').json(mapView(sources, sources.map, villages))
  })
  return router
}

/**
 * The origin a tile URL loads from, for the console's Content-Security-Policy img-src (`{s}`
 * subdomains as a wildcard); undefined for tiles on this server (a path) or none.
 */
export function tileOrigin(tileUrl: string | undefined): string | undefined {
  const m = tileUrl?.match(/^(https?):\/\/([^/]+)\//)
  if (!m) return undefined
  return `${m[1]}://${m[2]!.replace(/^\{s\}\./, '*.').replace(/\{s\}/g, 'a')}`
}
