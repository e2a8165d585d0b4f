import express, { type Response, type Router } from 'express'
import { z } from 'zod'
import { CROP_IDS, SOIL_TEXTURE_IDS, type SoilTexture } from '../agronomy/index.ts'
import {
  ALERT_STATES,
  type AlertEngine,
  type AlertState,
  LANGUAGES,
  SEVERITIES,
  STAGES,
} from '../alerts/index.ts'
import { AuditLog } from '../audit/index.ts'
import { KampungError } from '../errors.ts'
import type { Registry } from '../registry/index.ts'
import { auditActor } from './audit-route.ts'
import { bodyProblems, requireOfficer } from './auth.ts'
import { callerScope, type VillageScope } from './scope.ts'

/** Prefixed to another village's device or village id (src/api/scope.ts): U+2060, which no id may contain. */
const MASK = '\u2060'

export interface AlertsRouteOptions {
  registry: Registry
  engine: AlertEngine
}

const time = z
  .union([z.number().int(), z.string().datetime({ offset: true })])
  .transform((v) => (typeof v === 'number' ? v : Date.parse(v)))

/** A field's soil (FAO-56 Table 19 texture or measured FC/WP in % VWC; the directory checks WP < FC etc.). */
const soilSchema = z.strictObject({
  texture: z.enum(SOIL_TEXTURE_IDS as [SoilTexture, ...SoilTexture[]]).optional(),
  fcPct: z.number().optional(),
  wpPct: z.number().optional(),
  rootDepthM: z.number().optional(),
  p: z.number().optional(),
  calibration: z.strictObject({ slope: z.number(), offset: z.number() }).optional(),
})
const thresholdsSchema = z.strictObject({
  dryPct: z.number().optional(),
  waterloggedPct: z.number().optional(),
  waterLevelMinCm: z.number().optional(),
})

/** A field's valve (farmers' AIRI / TUTUP by SMS): its node and the field's own limits in minutes. */
const valveSchema = z.strictObject({
  device: z.string(),
  maxOpenMinutes: z.number().int().optional(),
  maxMinutesPerDay: z.number().int().optional(),
})

const fieldSchema = z.strictObject({
  id: z.string(),
  village: z.string(),
  name: z.string(),
  crop: z.enum(CROP_IDS),
  stage: z.enum(STAGES).optional(),
  plantedAt: time.optional(),
  areaHa: z.number().positive(),
  lat: z.number().min(-90).max(90).optional(),
  lon: z.number().min(-180).max(180).optional(),
  devices: z.array(z.string()).default([]),
  soil: soilSchema.optional(),
  seasonDays: z.number().int().optional(),
  thresholds: thresholdsSchema.optional(),
  valve: valveSchema.optional(),
})

/** PATCH: any of a field's values; soil/threshold keys set to null are removed. */
const nullable = <T extends z.ZodRawShape>(o: z.ZodObject<T>) =>
  z.strictObject(
    Object.fromEntries(Object.entries(o.shape).map(([k, v]) => [k, (v as z.ZodType).nullable()])),
  )
const fieldPatchSchema = z.strictObject({
  name: z.string().optional(),
  crop: z.enum(['rice', 'maize', 'chili']).optional(),
  stage: z.enum(STAGES).optional(),
  plantedAt: time.optional(),
  areaHa: z.number().positive().optional(),
  lat: z.number().min(-90).max(90).optional(),
  lon: z.number().min(-180).max(180).optional(),
  devices: z.array(z.string()).optional(),
  soil: nullable(soilSchema).optional(),
  seasonDays: z.number().int().optional(),
  thresholds: nullable(thresholdsSchema).optional(),
  /** null removes the valve; a limit set to null goes back to the default. */
  valve: z
    .strictObject({
      device: z.string().optional(),
      maxOpenMinutes: z.number().int().nullable().optional(),
      maxMinutesPerDay: z.number().int().nullable().optional(),
    })
    .nullable()
    .optional(),
})

const farmerSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  phone: z.string(),
  village: z.string().optional(),
  language: z.enum(LANGUAGES).optional(),
  quietStart: z.string().optional(),
  quietEnd: z.string().optional(),
  fields: z.array(z.string()).default([]),
})

const silenceSchema = z.strictObject({
  matchers: z
    .strictObject({
      rule: z.string().optional(),
      village: z.string().optional(),
      field: z.string().optional(),
      device: z.string().optional(),
      severity: z.enum(SEVERITIES).optional(),
    })
    .refine((m) => Object.keys(m).length > 0, 'at least one matcher'),
  startsAt: time.optional(),
  endsAt: time,
  comment: z.string().min(3).max(500),
})

/**
 * Officers' alerts API under /api/v1 (HTTP Basic as a `service` account, like the trees routes):
 * alerts by state, acknowledge, fields, farmers, silences. The officer console calls these.
 */
export function alertsRouter(opts: AlertsRouteOptions): Router {
  const router = express.Router()
  const { engine } = opts
  const audit = new AuditLog(opts.registry)
  const json = express.json({ limit: '64kb' })

  const officer = requireOfficer(opts.registry)

  const fail = (res: Response, err: unknown) => {
    if (err instanceof KampungError && !err.retryable) {
      const status = /^unknown_/.test(err.code) ? 404 : /_exists$/.test(err.code) ? 409 : 400
      return res.status(status).json({ error: err.code, message: err.message.replaceAll(MASK, '') })
    }
    return res.status(500).json({ error: 'internal', message: (err as Error).message })
  }

  const bad = (res: Response, message: string, error?: z.ZodError) =>
    res.status(400).json({ error: 'bad_request', message, problems: error ? bodyProblems(error) : undefined })

  // Village scope (src/api/scope.ts): another village's field or device is answered as an unknown one.
  const fieldIn = (scope: VillageScope, id: string) => {
    const field = engine.directory.getField(id)
    return field && scope.has(field.village) ? field : undefined
  }
  /**
   * A field's devices with another village's ones masked (no registered id holds MASK), so the
   * directory refuses them with the very problems it gives an unregistered device; fail() unmasks.
   */
  const maskHidden = <T extends string[] | undefined>(scope: VillageScope, ids: T): T =>
    (scope.all || !ids
      ? ids
      : ids.map((d) => {
          const device = opts.registry.getDevice(d)
          return device && !scope.has(device.village) ? `${MASK}${d}` : d
        })) as T

  router.get('/api/v1/alerts', officer, (req, res) => {
    const state = typeof req.query.state === 'string' ? req.query.state : undefined
    if (state && !(ALERT_STATES as readonly string[]).includes(state))
      return bad(res, `state "${state}" is not one of ${ALERT_STATES.join(', ')}`)
    const village = typeof req.query.village === 'string' ? req.query.village : undefined
    const field = typeof req.query.field === 'string' ? req.query.field : undefined
    const alerts = engine.listAlerts({ state: state as AlertState | undefined, village, field })
    res.json({ alerts: callerScope(res).filter(alerts, (a) => a.village) })
  })

  router.post('/api/v1/alerts/:id/ack', officer, (req, res) => {
    const id = Number(req.params.id)
    const found = Number.isInteger(id) ? engine.getAlert(id) : undefined
    const alert = found && callerScope(res).has(found.village) ? found : undefined
    if (!alert) return res.status(404).json({ error: 'unknown_alert', message: `no alert ${req.params.id}` })
    const acked = engine.ack(id, `officer:${res.locals.officer as string}`)
    audit.record(auditActor(req, res), 'alert.ack', String(id), { rule: alert.rule })
    res.json({ alert: acked })
  })

  router.get('/api/v1/fields', officer, (req, res) => {
    const village = typeof req.query.village === 'string' ? req.query.village : undefined
    res.json({ fields: callerScope(res).filter(engine.directory.listFields({ village }), (f) => f.village) })
  })

  router.post('/api/v1/fields', officer, json, (req, res) => {
    const parsed = fieldSchema.safeParse(req.body)
    if (!parsed.success) return bad(res, 'invalid field', parsed.error)
    const scope = callerScope(res)
    if (!scope.has(parsed.data.village))
      return res.status(404).json({
        error: 'unknown_village',
        message: `village "${parsed.data.village}" does not exist`,
      })
    try {
      const { plantedAt, ...rest } = parsed.data
      const field = engine.directory.addField({
        ...rest,
        devices: maskHidden(scope, rest.devices),
        ...(plantedAt !== undefined ? { plantedAtMs: plantedAt } : {}),
      })
      audit.record(auditActor(req, res), 'field.add', field.id, { village: field.village, crop: field.crop })
      res.status(201).json({ field })
    } catch (err) {
      fail(res, err)
    }
  })

  router.patch('/api/v1/fields/:id', officer, json, (req, res) => {
    const parsed = fieldPatchSchema.safeParse(req.body)
    if (!parsed.success) return bad(res, 'invalid field', parsed.error)
    const scope = callerScope(res)
    if (!scope.all && !fieldIn(scope, String(req.params.id)))
      return res
        .status(404)
        .json({ error: 'unknown_field', message: `field "${req.params.id}" is not registered` })
    try {
      const { plantedAt, ...rest } = parsed.data
      const field = engine.directory.updateField(String(req.params.id), {
        ...(rest as Parameters<typeof engine.directory.updateField>[1]),
        ...(rest.devices !== undefined ? { devices: maskHidden(scope, rest.devices) } : {}),
        ...(plantedAt !== undefined ? { plantedAtMs: plantedAt } : {}),
      })
      audit.record(auditActor(req, res), 'field.update', field.id, parsed.data)
      res.json({ field })
    } catch (err) {
      fail(res, err)
    }
  })

  router.get('/api/v1/farmers', officer, (_req, res) => {
    const scope = callerScope(res)
    const farmers = engine.directory.listFarmers().map((f) => {
      const fields = engine.directory.subscriptionsOf(f.id)
      return { ...f, fields: scope.all ? fields : fields.filter((id) => fieldIn(scope, id)) }
    })
    // an officer sees the farmers of their villages and those subscribed to their fields (only those fields)
    res.json({
      farmers: scope.all ? farmers : farmers.filter((f) => scope.has(f.village) || f.fields.length > 0),
    })
  })

  router.post('/api/v1/farmers', officer, json, (req, res) => {
    const parsed = farmerSchema.safeParse(req.body)
    if (!parsed.success) return bad(res, 'invalid farmer', parsed.error)
    try {
      const { fields, ...rest } = parsed.data
      const scope = callerScope(res)
      const missing = fields.filter((f) => !fieldIn(scope, f))
      if (missing.length > 0)
        return res.status(404).json({ error: 'unknown_field', message: `no field ${missing.join(', ')}` })
      // another village is refused as one that does not exist (masked: no village id holds MASK)
      const hidden = rest.village !== undefined && !scope.has(rest.village)
      const farmer = engine.directory.addFarmer(
        hidden ? { ...rest, village: `${MASK}${rest.village}` } : rest,
      )
      for (const f of fields) engine.directory.subscribe(farmer.id, f)
      audit.record(auditActor(req, res), 'farmer.add', farmer.id, { village: farmer.village, fields })
      res.status(201).json({ farmer: { ...farmer, fields } })
    } catch (err) {
      fail(res, err)
    }
  })

  router.post('/api/v1/silences', officer, json, (req, res) => {
    const parsed = silenceSchema.safeParse(req.body)
    if (!parsed.success) return bad(res, 'invalid silence', parsed.error)
    const { matchers, startsAt, endsAt, comment } = parsed.data
    // an officer silences only in their villages: at least one place matcher, each of theirs
    const scope = callerScope(res)
    if (!scope.all) {
      if (matchers.village === undefined && matchers.field === undefined && matchers.device === undefined)
        return bad(res, 'matchers: name your village, field or device')
      if (matchers.village !== undefined && !scope.has(matchers.village))
        return res
          .status(404)
          .json({ error: 'unknown_village', message: `village "${matchers.village}" does not exist` })
      if (matchers.field !== undefined && !fieldIn(scope, matchers.field))
        return res
          .status(404)
          .json({ error: 'unknown_field', message: `field "${matchers.field}" is not registered` })
      if (matchers.device !== undefined && !scope.has(opts.registry.getDevice(matchers.device)?.village))
        return res
          .status(404)
          .json({ error: 'unknown_device', message: `device "${matchers.device}" is not registered` })
    }
    const startsAtMs = startsAt ?? Date.now()
    if (!(endsAt > startsAtMs)) return bad(res, 'endsAt must be after startsAt')
    const silence = engine.addSilence({
      matchers,
      startsAtMs,
      endsAtMs: endsAt,
      comment,
      createdBy: res.locals.officer as string,
    })
    audit.record(auditActor(req, res), 'silence.add', String(silence.id), { matchers, endsAt, comment })
    res.status(201).json({ silence })
  })

  return router
}
