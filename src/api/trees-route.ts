import express, { type RequestHandler, type Router } from 'express'
import { z } from 'zod'
import { AuditLog } from '../audit/index.ts'
import {
  measurementProblems,
  type Oksigen,
  SPECIES_IDS,
  TREE_STATES,
  type TreeState,
} from '../oksigen/index.ts'
import type { Registry } from '../registry/index.ts'
import { auditActor } from './audit-route.ts'
import { authenticateOfficer, bodyProblems, requireOfficer } from './auth.ts'
import { sendError } from './errors.ts'
import { callerScope, markAccess } from './scope.ts'

export interface TreesRouteOptions {
  registry: Registry
  oksigen: Oksigen
}

const time = z
  .union([z.number().int(), z.string().datetime({ offset: true })])
  .transform((v) => (typeof v === 'number' ? v : Date.parse(v)))

/** Impossible DBH, height or mounting height: every problem at its field (repo.ts measurementProblems). */
const plausible = (
  v: {
    dbhCm?: number
    heightM?: number
    initialHeightM?: number
    mountHeightCm?: number
    initialDiameterMm?: number
  },
  ctx: z.RefinementCtx,
) => {
  for (const p of measurementProblems({ ...v, stemDiameterMm: v.initialDiameterMm })) {
    const field = p.slice(0, p.indexOf(':'))
    ctx.addIssue({ code: 'custom', path: [field], message: p.slice(p.indexOf(':') + 2) })
  }
}

const newTreeSchema = z
  .strictObject({
    id: z.string().optional(),
    device: z.string(),
    species: z.enum(SPECIES_IDS),
    plantedAt: time,
    /** Stem diameter where the dendrometer sits, at planting. */
    initialDiameterMm: z.number().positive(),
    initialHeightM: z.number().positive().optional(),
    /** Height of the dendrometer above ground, cm. */
    mountHeightCm: z.number().positive().optional(),
    /** Diameter at breast height (1.3 m) measured at registration, cm. */
    dbhCm: z.number().positive().optional(),
    lat: z.number().min(-90).max(90).optional(),
    lon: z.number().min(-180).max(180).optional(),
  })
  .superRefine(plausible)

const measurementSchema = z
  .strictObject({
    dbhCm: z.number().positive().optional(),
    heightM: z.number().positive().optional(),
    /** When it was measured (default now). */
    at: time.optional(),
  })
  .refine((m) => m.dbhCm !== undefined || m.heightM !== undefined, 'give dbhCm and/or heightM')
  .superRefine(plausible)

const applicationSchema = z.strictObject({
  id: z.string().min(3).max(64),
  certificateType: z.string().min(1).max(64),
  reference: z.string().min(1).max(200),
  planterPhone: z.string().optional(),
})

const decisionSchema = z.strictObject({
  decision: z.enum(['verify', 'reject', 'reopen']),
  reason: z.string().min(3).max(500),
  /** Verify without the policy's evidence: the reason is printed on the public certificate. */
  override: z.boolean().optional(),
})

/**
 * Officers' API for Sedekah Oksigen (a console login as officer or admin, or HTTP Basic as a
 * `service` principal): register trees and applications, list trees by state, one tree's
 * evidence, record a decision, re-run verification. The CLI uses the same operations.
 */
export function treesRouter(opts: TreesRouteOptions): Router {
  const router = express.Router()
  const { oksigen } = opts
  const audit = new AuditLog(opts.registry)
  const json = express.json({ limit: '64kb' })

  const officer = requireOfficer(opts.registry)
  /**
   * Decisions release or refuse certificates: a person (console officer or admin, their id kept
   * with the decision), never a `service` credential, which ingest workers and scripts hold.
   */
  const person: RequestHandler = markAccess('scoped', async (req, res, next) => {
    const caller = await authenticateOfficer(opts.registry, req, res, ['officer', 'admin'], {
      services: false,
    })
    if (!caller) return
    res.locals.officer = caller.id
    next()
  })
  /** Another village's tree is answered as no tree at all: guessing ids reveals nothing. */
  const ownTree: RequestHandler = (req, res, next) => {
    const scope = callerScope(res)
    if (scope.all || scope.has(oksigen.repo.getTree(String(req.params.id))?.village)) return next()
    res.status(404).json({ error: 'unknown_tree', message: `no tree "${req.params.id}"` })
  }

  router.get('/api/v1/trees', officer, (req, res) => {
    const state = typeof req.query.state === 'string' ? req.query.state : undefined
    if (state && !(TREE_STATES as readonly string[]).includes(state)) {
      return res
        .status(400)
        .json({ error: 'bad_request', message: `state "${state}" is not one of ${TREE_STATES.join(', ')}` })
    }
    const village = typeof req.query.village === 'string' ? req.query.village : undefined
    const trees = oksigen.repo.listTrees({ state: state as TreeState | undefined, village })
    res.json({ trees: callerScope(res).filter(trees, (t) => t.village) })
  })

  router.post('/api/v1/trees', officer, json, (req, res) => {
    const parsed = newTreeSchema.safeParse(req.body)
    if (!parsed.success)
      return res
        .status(400)
        .json({ error: 'bad_request', message: 'invalid tree', problems: bodyProblems(parsed.error) })
    try {
      const { plantedAt, ...rest } = parsed.data
      const device = opts.registry.getDevice(rest.device)
      // another village's device is answered as addTree answers an unknown one
      if (device && !callerScope(res).has(device.village))
        return res
          .status(404)
          .json({ error: 'unknown_device', message: `device "${rest.device}" is not registered` })
      const tree = oksigen.repo.addTree({ ...rest, plantedAtMs: plantedAt }, SPECIES_IDS)
      oksigen.verifier.refreshTrees()
      audit.record(auditActor(req, res), 'tree.add', tree.id, { device: tree.device, species: tree.species })
      res.status(201).json({ tree })
    } catch (err) {
      sendError(res, err)
    }
  })

  router.get('/api/v1/trees/:id', officer, ownTree, (req, res) => {
    const evidence = oksigen.verifier.evidence(String(req.params.id))
    if (!evidence)
      return res.status(404).json({ error: 'unknown_tree', message: `no tree "${req.params.id}"` })
    res.json(evidence)
  })

  router.post('/api/v1/trees/:id/applications', officer, ownTree, json, (req, res) => {
    const parsed = applicationSchema.safeParse(req.body)
    if (!parsed.success)
      return res
        .status(400)
        .json({ error: 'bad_request', message: 'invalid application', problems: bodyProblems(parsed.error) })
    try {
      const app = oksigen.repo.addApplication({ ...parsed.data, tree: String(req.params.id) })
      audit.record(auditActor(req, res), 'tree.application', String(req.params.id), {
        application: app.id,
        certificateType: app.certificateType,
      })
      // the reference itself is not returned: only its pseudonym is kept
      res.status(201).json({ application: { ...app, planterPhone: app.planterPhone ? 'stored' : undefined } })
    } catch (err) {
      sendError(res, err)
    }
  })

  router.post('/api/v1/trees/:id/decisions', person, ownTree, json, (req, res) => {
    const parsed = decisionSchema.safeParse(req.body)
    if (!parsed.success)
      return res
        .status(400)
        .json({ error: 'bad_request', message: 'invalid decision', problems: bodyProblems(parsed.error) })
    try {
      const state = oksigen.verifier.decide(String(req.params.id), {
        ...parsed.data,
        by: res.locals.officer as string,
      })
      audit.record(auditActor(req, res), 'tree.decide', String(req.params.id), { ...parsed.data, state })
      res.json({ state })
    } catch (err) {
      sendError(res, err)
    }
  })

  router.post('/api/v1/trees/:id/measurements', officer, ownTree, json, (req, res) => {
    const parsed = measurementSchema.safeParse(req.body)
    if (!parsed.success)
      return res
        .status(400)
        .json({ error: 'bad_request', message: 'invalid measurement', problems: bodyProblems(parsed.error) })
    try {
      const { at, ...m } = parsed.data
      const measurement = oksigen.verifier.measure(String(req.params.id), {
        ...m,
        atMs: at,
        by: res.locals.officer as string,
      })
      audit.record(auditActor(req, res), 'tree.measure', String(req.params.id), { ...m, at })
      res.status(201).json({ measurement })
    } catch (err) {
      sendError(res, err)
    }
  })

  router.post('/api/v1/trees/:id/reverify', officer, ownTree, (req, res) => {
    try {
      const state = oksigen.verifier.evaluate(String(req.params.id))
      audit.record(auditActor(req, res), 'tree.reverify', String(req.params.id), { state })
      res.json({ state })
    } catch (err) {
      sendError(res, err)
    }
  })

  return router
}
