import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { KampungError } from '../../errors.ts'
import type { BiomassEstimate, BiomassInput } from '../biomass.ts'
import { DBH_ASSUMPTION, type TreeEstimate } from '../estimate.ts'

/**
 * The verification record: what a certificate says about one tree. It is public (anyone with the
 * QR code sees it), so it carries NO applicant data: the tree is named by a pseudonymous public id,
 * the location is rounded, the officer (if any) by an officer id.
 */

/** Record ids are random (16 base64url characters): unguessable, so records cannot be enumerated. */
export const RECORD_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/
export const KEY_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/
const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/

/** ≈ 110 m at the equator: enough to find the planting, not the house. Never finer than this. */
export const MAX_LOCATION_DECIMALS = 3
/** Daily points kept for the chart: ~13 months at full resolution; longer series are thinned. */
export const MAX_DAILY_POINTS = 400
const MAX_FLAGS = 32

const num = z.number() // zod 4 numbers are finite
const decimalsAtMost = (n: number) => (v: number) => Math.abs(v * 10 ** n - Math.round(v * 10 ** n)) < 1e-6

export const dailyPointSchema = z.strictObject({
  day: z.string().regex(DAY_PATTERN),
  groUm: num,
  twdUm: num,
})

export const evidenceSchema = z.strictObject({
  initialDiameterMm: num.nonnegative(),
  currentDiameterMm: num.nonnegative(),
  /** GRO-based: irreversible growth only, swelling after rain excluded. */
  diameterIncrementMm: num,
  groUm: num,
  daysObserved: z.number().int().nonnegative(),
  dailyAmplitudeUm: num.nonnegative(),
  /**
   * Maximum daily shrinkage, mean of the last 7 complete days (µm): `mdsMethod` 'mds' = morning
   * maximum − afternoon minimum per day; 'harmonic-peak-to-peak' = the fitted 24 h harmonic's
   * peak-to-peak (what the processor gave before it reported MDS). Absent on older records.
   */
  mdsUm: num.nonnegative().optional(),
  mdsMethod: z.enum(['mds', 'harmonic-peak-to-peak']).optional(),
  /** Height of the dendrometer above ground, cm. */
  mountHeightCm: num.positive().optional(),
  growthUmPerMonth: num,
  alive: z.boolean(),
  flags: z.array(z.string().max(64)).max(MAX_FLAGS),
  daily: z.array(dailyPointSchema).max(MAX_DAILY_POINTS).optional(),
})

export const chaveEstimateSchema = z.strictObject({
  method: z.literal('chave2014-eq4'),
  /** null when D is below the fitted range: no number is better than an unsound one. */
  agbKg: num.nonnegative().nullable(),
  co2Kg: num.nonnegative().nullable(),
  o2Kg: num.nonnegative().nullable(),
  inFittedRange: z.boolean(),
  note: z.string().max(500).optional(),
  diameterCm: num.positive(),
  heightM: num.positive(),
  /** 'allometry': the per-species power laws of records issued before Chave 2014 eq. 6a. */
  heightSource: z.enum(['measured', 'allometry', 'scaled-from-measured', 'chave2014-eq6a']),
  woodDensityGCm3: num.positive(),
  // Since issue 14; absent on older records, whose D was the stem diameter at the dendrometer.
  /** `dbh`: diameterCm is the diameter at breast height (1.3 m). */
  diameterKind: z.literal('dbh').optional(),
  dbhMeasuredCm: num.positive().optional(),
  dbhMeasuredOn: z.string().regex(DAY_PATTERN).optional(),
  /** Dendrometer growth added to the measured DBH, cm. */
  dbhIncrementCm: num.nonnegative().optional(),
  dbhAssumption: z.string().max(300).optional(),
  heightMeasuredM: num.positive().optional(),
  /** E of Chave 2014 eq. 6a, when the height came from it. */
  heightStressE: num.optional(),
  woodDensitySource: z.string().max(200).optional(),
  woodDensityN: z.number().int().positive().optional(),
})

/** No DBH-based estimate yet (no DBH measured, or a sapling below 1.3 m): no numbers, a note. */
export const noEstimateSchema = z.strictObject({
  method: z.literal('none'),
  agbKg: z.null(),
  co2Kg: z.null(),
  o2Kg: z.null(),
  inFittedRange: z.literal(false),
  note: z.string().max(500),
  woodDensityGCm3: num.positive(),
  woodDensitySource: z.string().max(200).optional(),
  woodDensityN: z.number().int().positive().optional(),
})

export const estimateSchema = z.discriminatedUnion('method', [chaveEstimateSchema, noEstimateSchema])

export const decisionSchema = z.strictObject({
  state: z.literal('verified'),
  /** 'auto' or the deciding officer's id (an id, not a name). */
  by: z.string().min(1).max(64),
  reason: z.string().max(500),
  atMs: z.number().int().nonnegative(),
  /**
   * `evidence`: the policy's evidence was there (an eligible tree); `override`: an officer released
   * it without, and `reason` says why; the public page states it. Absent on records before issue 18.
   */
  basis: z.enum(['evidence', 'override']).optional(),
  /** With an override: the state and the assessment the evidence supported when it was released. */
  evidenceState: z.string().max(64).optional(),
  evidenceSummary: z.string().max(300).optional(),
})

export const verificationRecordSchema = z.strictObject({
  id: z.string().regex(RECORD_ID_PATTERN),
  version: z.literal(1),
  /** The registry's public tree id (pseudonymous). */
  treeId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/),
  species: z.string().min(1).max(64),
  plantedOn: z.string().regex(DAY_PATTERN),
  location: z.strictObject({
    lat: num.min(-90).max(90).refine(decimalsAtMost(MAX_LOCATION_DECIMALS), 'more than 3 decimals'),
    lon: num.min(-180).max(180).refine(decimalsAtMost(MAX_LOCATION_DECIMALS), 'more than 3 decimals'),
  }),
  evidence: evidenceSchema,
  estimate: estimateSchema,
  decision: decisionSchema,
  issuedAtMs: z.number().int().nonnegative(),
  keyId: z.string().regex(KEY_ID_PATTERN),
})

export type DailyPoint = z.infer<typeof dailyPointSchema>
export type Evidence = z.infer<typeof evidenceSchema>
export type RecordEstimate = z.infer<typeof estimateSchema>
export type Decision = z.infer<typeof decisionSchema>
export type VerificationRecord = z.infer<typeof verificationRecordSchema>
/** A record before signing: the signer fills in `keyId`. */
export type RecordDraft = Omit<VerificationRecord, 'keyId'>

export interface RecordInput {
  treeId: string
  species: string
  /** YYYY-MM-DD, or ms since the epoch (taken as a date in Asia/Jakarta). */
  plantedOn: string | number
  /** Exact location: rounded here, never stored as given. */
  location: { lat: number; lon: number }
  evidence: Evidence
  /** The tree's estimate (estimate.ts); or, as before issue 14, `biomass` with its `biomassInput`. */
  estimate?: TreeEstimate
  biomass?: BiomassEstimate
  biomassInput?: BiomassInput & {
    heightSource: Extract<RecordEstimate, { method: 'chave2014-eq4' }>['heightSource']
  }
  decision: Omit<Decision, 'state'>
  /** 0..3; fewer decimals = coarser location (2 ≈ 1.1 km). */
  locationDecimals?: number
  id?: string
  nowMs?: number
}

const JAKARTA_OFFSET_MS = 7 * 3_600_000 // WIB, UTC+7, no daylight saving

export function jakartaDay(ms: number): string {
  return new Date(ms + JAKARTA_OFFSET_MS).toISOString().slice(0, 10)
}

export function newRecordId(): string {
  return randomBytes(12).toString('base64url')
}

const round = (v: number, decimals: number) => {
  const f = 10 ** decimals
  const r = Math.round(v * f) / f
  return Object.is(r, -0) ? 0 : r
}

/** Evenly thinned to at most `max` points, first and last kept. */
export function thinDaily(daily: readonly DailyPoint[], max = MAX_DAILY_POINTS): DailyPoint[] {
  if (daily.length <= max) return [...daily]
  const out: DailyPoint[] = []
  for (let i = 0; i < max; i++) out.push(daily[Math.round((i * (daily.length - 1)) / (max - 1))]!)
  return out
}

const amountsOf = (b: BiomassEstimate) => ({
  agbKg: b.agbKg === null ? null : round(b.agbKg, 2),
  co2Kg: b.co2Kg === null ? null : round(b.co2Kg, 2),
  o2Kg: b.o2Kg === null ? null : round(b.o2Kg, 2),
  inFittedRange: b.inFittedRange,
  ...(b.note ? { note: b.note } : {}),
})

function recordEstimate(input: RecordInput): RecordEstimate {
  const e = input.estimate
  if (e?.method === 'none') {
    return {
      method: 'none',
      agbKg: null,
      co2Kg: null,
      o2Kg: null,
      inFittedRange: false,
      note: e.note,
      woodDensityGCm3: round(e.woodDensityGCm3, 3),
      woodDensitySource: e.woodDensitySource,
      ...(e.woodDensityN ? { woodDensityN: e.woodDensityN } : {}),
    }
  }
  if (e) {
    return {
      method: 'chave2014-eq4',
      ...amountsOf(e.biomass),
      diameterCm: round(e.dbhCm, 3),
      heightM: round(e.heightM, 2),
      heightSource: e.heightSource,
      woodDensityGCm3: round(e.woodDensityGCm3, 3),
      diameterKind: 'dbh',
      dbhMeasuredCm: round(e.dbhMeasuredCm, 2),
      dbhMeasuredOn: jakartaDay(e.dbhMeasuredAtMs),
      dbhIncrementCm: round(e.dbhIncrementCm, 3),
      dbhAssumption: DBH_ASSUMPTION,
      ...(e.heightMeasuredM !== undefined ? { heightMeasuredM: round(e.heightMeasuredM, 2) } : {}),
      ...(e.stressE !== undefined ? { heightStressE: e.stressE } : {}),
      woodDensitySource: e.woodDensitySource,
      ...(e.woodDensityN ? { woodDensityN: e.woodDensityN } : {}),
    }
  }
  const b = input.biomass
  const bi = input.biomassInput
  if (!b || !bi)
    throw new KampungError(
      'invalid_record',
      'record draft: give `estimate` or `biomass` with `biomassInput`',
      {
        retryable: false,
      },
    )
  return {
    method: 'chave2014-eq4',
    ...amountsOf(b),
    diameterCm: round(bi.diameterCm, 3),
    heightM: round(bi.heightM, 2),
    heightSource: bi.heightSource,
    woodDensityGCm3: round(bi.woodDensity, 3),
  }
}

/**
 * Builds a record draft from the verification outcome: rounds the location (privacy) and the
 * numbers (µm to 0.1, mm to 0.001, kg to 0.01 — no false precision, short canonical form), thins
 * the daily series, and validates the result so a bad draft fails here, not at signing.
 */
export function buildRecordDraft(input: RecordInput): RecordDraft {
  const decimals = Math.max(0, Math.min(MAX_LOCATION_DECIMALS, Math.floor(input.locationDecimals ?? 3)))
  const ev = input.evidence
  const draft: RecordDraft = {
    id: input.id ?? newRecordId(),
    version: 1,
    treeId: input.treeId,
    species: input.species,
    plantedOn: typeof input.plantedOn === 'number' ? jakartaDay(input.plantedOn) : input.plantedOn,
    location: { lat: round(input.location.lat, decimals), lon: round(input.location.lon, decimals) },
    evidence: {
      initialDiameterMm: round(ev.initialDiameterMm, 3),
      currentDiameterMm: round(ev.currentDiameterMm, 3),
      diameterIncrementMm: round(ev.diameterIncrementMm, 3),
      groUm: round(ev.groUm, 1),
      daysObserved: Math.round(ev.daysObserved),
      dailyAmplitudeUm: round(ev.dailyAmplitudeUm, 1),
      ...(ev.mdsUm !== undefined ? { mdsUm: round(ev.mdsUm, 1) } : {}),
      ...(ev.mdsMethod ? { mdsMethod: ev.mdsMethod } : {}),
      ...(ev.mountHeightCm !== undefined ? { mountHeightCm: round(ev.mountHeightCm, 1) } : {}),
      growthUmPerMonth: round(ev.growthUmPerMonth, 1),
      alive: ev.alive,
      flags: [...ev.flags],
      ...(ev.daily
        ? {
            daily: thinDaily(ev.daily).map((d) => ({
              day: d.day,
              groUm: round(d.groUm, 1),
              twdUm: round(d.twdUm, 1),
            })),
          }
        : {}),
    },
    estimate: recordEstimate(input),
    decision: { state: 'verified', ...input.decision },
    issuedAtMs: input.nowMs ?? Date.now(),
  }
  const checked = verificationRecordSchema.omit({ keyId: true }).safeParse(draft)
  if (!checked.success) {
    const problems = checked.error.issues.map((i) => `${i.path.join('.') || '$'} ${i.message}`)
    throw new KampungError('invalid_record', `record draft: ${problems.join('; ')}`, { retryable: false })
  }
  return draft
}
