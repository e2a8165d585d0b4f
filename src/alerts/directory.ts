import type Database from 'better-sqlite3'
import {
  CROP_IDS,
  type CropId,
  type GrowthStage,
  SEASON_DAYS_LIMITS,
  type SoilInput,
  soilProblems,
} from '../agronomy/index.ts'
import { KampungError } from '../errors.ts'
import type { Registry } from '../registry/index.ts'
import { checkId, statement } from '../registry/index.ts'

/**
 * Who and what alerts are about: fields (a crop on an area, with its sensor nodes), farmers
 * (phone, language, quiet hours), who is subscribed to which field, and village officers. Stored in
 * the registry's SQLite (tables from src/alerts/schema.ts); every check runs before any write and
 * a bad input is a non-retryable KampungError naming every problem.
 */

export const LANGUAGES = ['id', 'en'] as const
export type Language = (typeof LANGUAGES)[number]
export const STAGES = ['initial', 'development', 'mid', 'late'] as const

export interface Field {
  id: string
  village: string
  /** What the farmer calls it, e.g. SAWAH1; unique per village, case-insensitive (used by CEK). */
  name: string
  crop: CropId
  /** Explicit growth stage, when the planting date is not known. */
  stage?: Exclude<GrowthStage, 'after-season'>
  plantedAtMs?: number
  areaHa: number
  lat?: number
  lon?: number
  /** Sensor nodes in the field (soil probes, AWD water-level tubes). */
  devices: string[]
  /**
   * The field's soil: FAO-56 Table 19 texture, or measured FC/WP [% VWC]; root depth [m]; depletion
   * fraction p; probe calibration (θ = slope · raw + offset). Unset parts take the defaults
   * (config `alerts.soil`, then loam and FAO-56 Table 22 for the crop).
   */
  soil?: SoilInput
  /** The variety's season length [days] (rice 110–125, maize hybrids 95–110); stages scale to it. */
  seasonDays?: number
  /** Per-field thresholds that win over what the soil gives (an officer who knows the field). */
  thresholds?: FieldThresholds
  /** The field's irrigation valve, which subscribed farmers open by SMS (AIRI SAWAH1 30). */
  valve?: FieldValve
}

/**
 * A field's valve: the node whose relay drives it (a `valve_open`/`valve_close` command goes there,
 * src/commands) and the field's own limits for farmers' SMS (default `alerts.valves`).
 */
export interface FieldValve {
  device: string
  /** The longest one opening by SMS may be [min]. */
  maxOpenMinutes?: number
  /** Minutes open by SMS per local day, all farmers together. */
  maxMinutesPerDay?: number
}

/** A valve opens for at most 12 hours (src/commands: valve_open maxDurationS ≤ 43 200). */
export const VALVE_MAX_MINUTES = 720

export interface FieldThresholds {
  /** Dry below this θ [% VWC]. */
  dryPct?: number
  /** Waterlogged above this θ [% VWC]. */
  waterloggedPct?: number
  /** Paddy water level [cm] below which the AWD rule alerts (default −15). */
  waterLevelMinCm?: number
}

/** What `fields set` / PATCH may change. */
export type FieldPatch = Partial<
  Pick<Field, 'name' | 'crop' | 'stage' | 'plantedAtMs' | 'areaHa' | 'lat' | 'lon' | 'devices' | 'seasonDays'>
> & {
  /** Merged over the stored soil; a key set to null removes it. */
  soil?: { [K in keyof SoilInput]?: SoilInput[K] | null }
  thresholds?: { [K in keyof FieldThresholds]?: FieldThresholds[K] | null }
  /** Merged over the stored valve (a limit set to null goes back to the default); null removes it. */
  valve?: { device?: string; maxOpenMinutes?: number | null; maxMinutesPerDay?: number | null } | null
}

/** Every problem with a field's valve (the device is checked against the registry by the caller). */
export function fieldValveProblems(v: FieldValve | undefined | null): string[] {
  if (v === undefined || v === null) return []
  const problems: string[] = []
  if (typeof v.device !== 'string' || v.device === '')
    problems.push('valve.device: the id of the node driving the valve is required')
  if (
    v.maxOpenMinutes !== undefined &&
    !(Number.isInteger(v.maxOpenMinutes) && v.maxOpenMinutes >= 1 && v.maxOpenMinutes <= VALVE_MAX_MINUTES)
  )
    problems.push(
      `valve.maxOpenMinutes: whole minutes from 1 to ${VALVE_MAX_MINUTES}, got ${v.maxOpenMinutes}`,
    )
  if (
    v.maxMinutesPerDay !== undefined &&
    !(Number.isInteger(v.maxMinutesPerDay) && v.maxMinutesPerDay >= 1 && v.maxMinutesPerDay <= 1440)
  )
    problems.push(`valve.maxMinutesPerDay: whole minutes from 1 to 1440, got ${v.maxMinutesPerDay}`)
  return problems
}

/** Every problem with a field's soil, season and thresholds, each naming its field. */
export function fieldAgronomyProblems(f: Pick<Field, 'soil' | 'seasonDays' | 'thresholds'>): string[] {
  const problems = f.soil ? soilProblems(f.soil) : []
  if (
    f.seasonDays !== undefined &&
    !(
      Number.isInteger(f.seasonDays) &&
      f.seasonDays >= SEASON_DAYS_LIMITS.min &&
      f.seasonDays <= SEASON_DAYS_LIMITS.max
    )
  )
    problems.push(
      `seasonDays: whole days from ${SEASON_DAYS_LIMITS.min} to ${SEASON_DAYS_LIMITS.max}, got ${f.seasonDays}`,
    )
  const t = f.thresholds ?? {}
  for (const k of ['dryPct', 'waterloggedPct'] as const) {
    const v = t[k]
    if (v !== undefined && !(Number.isFinite(v) && v > 0 && v < 100))
      problems.push(`thresholds.${k}: a % VWC between 0 and 100, got ${v}`)
  }
  if (t.dryPct !== undefined && t.waterloggedPct !== undefined && t.dryPct >= t.waterloggedPct)
    problems.push(
      `thresholds.dryPct (${t.dryPct}) must be below thresholds.waterloggedPct (${t.waterloggedPct})`,
    )
  if (
    t.waterLevelMinCm !== undefined &&
    !(Number.isFinite(t.waterLevelMinCm) && Math.abs(t.waterLevelMinCm) <= 40)
  )
    problems.push(`thresholds.waterLevelMinCm: cm between -40 and 40, got ${t.waterLevelMinCm}`)
  const fc = f.soil?.fcPct
  if (fc !== undefined && t.dryPct !== undefined && t.dryPct >= fc)
    problems.push(`thresholds.dryPct (${t.dryPct}) must be below field capacity soil.fcPct (${fc})`)
  return problems
}

export interface Farmer {
  id: string
  name: string
  /** E.164: + and 8–15 digits. */
  phone: string
  village?: string
  language: Language
  /** Local time (WIB) HH:MM; the window may wrap midnight. */
  quietStart: string
  quietEnd: string
  stopped: boolean
}

export interface Officer {
  id: string
  name: string
  phone: string
  village: string
  language: Language
}

/** ITU-T E.164: a + then up to 15 digits, no leading 0. */
export const E164 = /^\+[1-9]\d{7,14}$/
const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/

function invalid(code: string, problems: string[]): KampungError {
  return new KampungError(code, problems.join('; '), { retryable: false })
}

/** "0812…" and "62812…" are how Indonesians write numbers; E.164 is +62812…. */
export function normalisePhone(raw: string): string {
  const s = raw.replace(/[\s().-]/g, '')
  if (/^0\d{8,13}$/.test(s)) return `+62${s.slice(1)}`
  if (/^62\d{8,13}$/.test(s)) return `+${s}`
  return s
}

/** Names compare without case or spaces: "Sawah 1" = "SAWAH1". */
export function normaliseName(name: string): string {
  return name.replace(/\s+/g, '').toUpperCase()
}

interface FieldRow {
  id: string
  village: string
  name: string
  crop: string
  stage: string | null
  planted_at_ms: number | null
  area_ha: number
  lat: number | null
  lon: number | null
  devices: string
  soil: string | null
  season_days: number | null
  thresholds: string | null
  valve: string | null
}

function toField(r: FieldRow): Field {
  const f: Field = {
    id: r.id,
    village: r.village,
    name: r.name,
    crop: r.crop as CropId,
    areaHa: r.area_ha,
    devices: JSON.parse(r.devices) as string[],
  }
  if (r.stage !== null) f.stage = r.stage as Field['stage']
  if (r.planted_at_ms !== null) f.plantedAtMs = r.planted_at_ms
  if (r.lat !== null) f.lat = r.lat
  if (r.lon !== null) f.lon = r.lon
  if (r.soil !== null) f.soil = JSON.parse(r.soil) as SoilInput
  if (r.season_days !== null) f.seasonDays = r.season_days
  if (r.thresholds !== null) f.thresholds = JSON.parse(r.thresholds) as FieldThresholds
  if (r.valve !== null) f.valve = JSON.parse(r.valve) as FieldValve
  return f
}

/** undefined or an empty object → NULL; otherwise JSON without undefined keys. */
function jsonOrNull(o: object | undefined | null): string | null {
  if (o === undefined || o === null) return null
  const clean = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null))
  return Object.keys(clean).length === 0 ? null : JSON.stringify(clean)
}

interface FarmerRow {
  id: string
  name: string
  phone: string
  village: string | null
  language: string
  quiet_start: string
  quiet_end: string
  stopped: number
}

function toFarmer(r: FarmerRow): Farmer {
  const f: Farmer = {
    id: r.id,
    name: r.name,
    phone: r.phone,
    language: r.language as Language,
    quietStart: r.quiet_start,
    quietEnd: r.quiet_end,
    stopped: r.stopped === 1,
  }
  if (r.village !== null) f.village = r.village
  return f
}

export type NewField = Omit<Field, 'devices'> & { devices?: string[] }
export type NewFarmer = Omit<Farmer, 'stopped' | 'language' | 'quietStart' | 'quietEnd'> &
  Partial<Pick<Farmer, 'language' | 'quietStart' | 'quietEnd'>>

export class Directory {
  private readonly registry: Registry
  /** Bumped by every change made through this object (the engine re-reads what depends on it). */
  version = 0
  private readonly defaultQuiet: { start: string; end: string }

  constructor(opts: { registry: Registry; quietHours: { start: string; end: string } }) {
    this.registry = opts.registry
    this.defaultQuiet = opts.quietHours
  }

  private get db(): Database.Database {
    return this.registry.database()
  }

  private sql(text: string): Database.Statement {
    return statement(this.db, text)
  }

  addField(input: NewField): Field {
    const problems: string[] = []
    const tryId = (what: 'device' | 'village', id: unknown, label: string) => {
      try {
        checkId(what, id)
      } catch (err) {
        problems.push(`${label}: ${(err as Error).message}`)
      }
    }
    tryId('device', input.id, 'id')
    tryId('village', input.village, 'village')
    if (typeof input.name !== 'string' || !/^[\p{L}\p{N} _-]{1,32}$/u.test(input.name))
      problems.push('name: 1 to 32 letters, digits, spaces, _ or -')
    if (!(CROP_IDS as readonly string[]).includes(input.crop))
      problems.push(`crop: one of ${CROP_IDS.join(', ')}`)
    if (input.stage !== undefined && !(STAGES as readonly string[]).includes(input.stage))
      problems.push(`stage: one of ${STAGES.join(', ')}`)
    if (input.stage === undefined && input.plantedAtMs === undefined)
      problems.push('give a planting date or a growth stage')
    if (input.plantedAtMs !== undefined && !Number.isFinite(input.plantedAtMs))
      problems.push('plantedAtMs: a time')
    if (!(typeof input.areaHa === 'number' && input.areaHa > 0 && input.areaHa < 10_000))
      problems.push('areaHa: a number of hectares > 0')
    if (input.lat !== undefined && !(Math.abs(input.lat) <= 90)) problems.push('lat: -90 to 90')
    if (input.lon !== undefined && !(Math.abs(input.lon) <= 180)) problems.push('lon: -180 to 180')
    problems.push(...fieldAgronomyProblems(input))
    const devices = input.devices ?? []
    for (const d of devices) {
      if (!this.registry.getDevice(d)) problems.push(`devices: "${d}" is not a registered device`)
    }
    problems.push(...this.valveProblems(input.valve, input.village))
    if (problems.length === 0 && !this.registry.getVillage(input.village))
      throw new KampungError('unknown_village', `village "${input.village}" does not exist`, {
        retryable: false,
      })
    if (problems.length === 0 && this.getField(input.id))
      throw new KampungError('field_exists', `field "${input.id}" already exists`, { retryable: false })
    if (problems.length === 0 && this.findFieldByName(input.village, input.name))
      throw new KampungError('field_exists', `village ${input.village} already has a field "${input.name}"`, {
        retryable: false,
      })
    if (problems.length > 0) throw invalid('invalid_field', problems)
    this.version++
    this.sql(
      `INSERT INTO fields (id, village, name, crop, stage, planted_at_ms, area_ha, lat, lon, devices, created_at_ms,
                           soil, season_days, thresholds, valve)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      input.id,
      input.village,
      input.name,
      input.crop,
      input.stage ?? null,
      input.plantedAtMs ?? null,
      input.areaHa,
      input.lat ?? null,
      input.lon ?? null,
      JSON.stringify(devices),
      Date.now(),
      jsonOrNull(input.soil),
      input.seasonDays ?? null,
      jsonOrNull(input.thresholds),
      jsonOrNull(input.valve),
    )
    return this.getField(input.id)!
  }

  /**
   * Changes a field (`kampung fields set`, PATCH /api/v1/fields/:id): the patch is merged over the
   * stored field and the result checked as a whole, so "WP ≥ FC" is caught whichever was changed.
   */
  updateField(id: string, patch: FieldPatch): Field {
    const old = this.getField(id)
    if (!old) throw new KampungError('unknown_field', `field "${id}" is not registered`, { retryable: false })
    const merge = <T extends object>(a: T | undefined, b: object | undefined): T | undefined => {
      if (b === undefined) return a
      const out = { ...(a ?? {}) } as Record<string, unknown>
      for (const [k, v] of Object.entries(b)) {
        if (v === null) delete out[k]
        else if (v !== undefined) out[k] = v
      }
      return Object.keys(out).length === 0 ? undefined : (out as T)
    }
    const { soil, thresholds, valve, ...plain } = patch
    const next: Field = {
      ...old,
      ...Object.fromEntries(Object.entries(plain).filter(([, v]) => v !== undefined)),
    }
    const s = merge<SoilInput>(old.soil, soil)
    const t = merge<FieldThresholds>(old.thresholds, thresholds)
    if (s) next.soil = s
    else delete next.soil
    if (t) next.thresholds = t
    else delete next.thresholds
    const v = valve === null ? undefined : merge<FieldValve>(old.valve, valve)
    if (v) next.valve = v
    else delete next.valve
    const problems: string[] = []
    if (typeof next.name !== 'string' || !/^[\p{L}\p{N} _-]{1,32}$/u.test(next.name))
      problems.push('name: 1 to 32 letters, digits, spaces, _ or -')
    if (!(CROP_IDS as readonly string[]).includes(next.crop))
      problems.push(`crop: one of ${CROP_IDS.join(', ')}`)
    if (next.stage !== undefined && !(STAGES as readonly string[]).includes(next.stage))
      problems.push(`stage: one of ${STAGES.join(', ')}`)
    if (!(typeof next.areaHa === 'number' && next.areaHa > 0 && next.areaHa < 10_000))
      problems.push('areaHa: a number of hectares > 0')
    if (next.plantedAtMs !== undefined && !Number.isFinite(next.plantedAtMs))
      problems.push('plantedAtMs: a time')
    for (const d of next.devices) {
      if (!this.registry.getDevice(d)) problems.push(`devices: "${d}" is not a registered device`)
    }
    problems.push(...fieldAgronomyProblems(next))
    problems.push(...this.valveProblems(next.valve, next.village))
    if (problems.length > 0)
      throw invalid(
        'invalid_field',
        problems.map((p) => `field ${id}: ${p}`),
      )
    const clash = this.findFieldByName(next.village, next.name)
    if (clash && clash.id !== id)
      throw new KampungError('field_exists', `village ${next.village} already has a field "${next.name}"`, {
        retryable: false,
      })
    this.version++
    this.sql(
      `UPDATE fields SET name = ?, crop = ?, stage = ?, planted_at_ms = ?, area_ha = ?, lat = ?, lon = ?,
         devices = ?, soil = ?, season_days = ?, thresholds = ?, valve = ? WHERE id = ?`,
    ).run(
      next.name,
      next.crop,
      next.stage ?? null,
      next.plantedAtMs ?? null,
      next.areaHa,
      next.lat ?? null,
      next.lon ?? null,
      JSON.stringify(next.devices),
      jsonOrNull(next.soil),
      next.seasonDays ?? null,
      jsonOrNull(next.thresholds),
      jsonOrNull(next.valve),
      id,
    )
    return this.getField(id)!
  }

  /** A valve's limits, and its node: registered, in the field's village, a node (not a gateway or service). */
  private valveProblems(v: FieldValve | undefined | null, village: string): string[] {
    const problems = fieldValveProblems(v)
    if (v === undefined || v === null || problems.length > 0) return problems
    const device = this.registry.getDevice(v.device)
    if (!device) problems.push(`valve.device: "${v.device}" is not a registered device`)
    else if (device.village !== village)
      problems.push(`valve.device: "${v.device}" is in village ${device.village}, not ${village}`)
    else if (device.kind === 'gateway' || device.kind === 'service')
      problems.push(`valve.device: "${v.device}" is a ${device.kind}; a valve is driven by a node`)
    return problems
  }

  getField(id: string): Field | undefined {
    const r = this.sql('SELECT * FROM fields WHERE id = ?').get(id) as FieldRow | undefined
    return r && toField(r)
  }

  findFieldByName(village: string, name: string): Field | undefined {
    const wanted = normaliseName(name)
    return this.listFields({ village }).find((f) => normaliseName(f.name) === wanted)
  }

  listFields(filter: { village?: string } = {}): Field[] {
    const rows = (
      filter.village === undefined
        ? this.sql('SELECT * FROM fields ORDER BY village, id').all()
        : this.sql('SELECT * FROM fields WHERE village = ? ORDER BY id').all(filter.village)
    ) as FieldRow[]
    return rows.map(toField)
  }

  addFarmer(input: NewFarmer): Farmer {
    const problems: string[] = []
    try {
      checkId('device', input.id)
    } catch (err) {
      problems.push(`id: ${(err as Error).message}`)
    }
    if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 64)
      problems.push('name: 1 to 64 characters')
    const phone = typeof input.phone === 'string' ? normalisePhone(input.phone) : ''
    if (!E164.test(phone)) problems.push(`phone: "${input.phone}" is not an E.164 number like +6281234567890`)
    const language = input.language ?? 'id'
    if (!(LANGUAGES as readonly string[]).includes(language)) problems.push('language: id or en')
    const quietStart = input.quietStart ?? this.defaultQuiet.start
    const quietEnd = input.quietEnd ?? this.defaultQuiet.end
    if (!CLOCK.test(quietStart) || !CLOCK.test(quietEnd)) problems.push('quiet hours: HH:MM')
    if (input.village !== undefined && !this.registry.getVillage(input.village))
      problems.push(`village: "${input.village}" does not exist`)
    if (problems.length > 0) throw invalid('invalid_farmer', problems)
    if (this.getFarmer(input.id) || this.farmerByPhone(phone))
      throw new KampungError('farmer_exists', `a farmer with id "${input.id}" or phone ${phone} exists`, {
        retryable: false,
      })
    this.version++
    this.sql(
      `INSERT INTO farmers (id, name, phone, village, language, quiet_start, quiet_end, stopped, created_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)`,
    ).run(
      input.id,
      input.name.trim(),
      phone,
      input.village ?? null,
      language,
      quietStart,
      quietEnd,
      Date.now(),
    )
    return this.getFarmer(input.id)!
  }

  getFarmer(id: string): Farmer | undefined {
    const r = this.sql('SELECT * FROM farmers WHERE id = ?').get(id) as FarmerRow | undefined
    return r && toFarmer(r)
  }

  farmerByPhone(phone: string): Farmer | undefined {
    const r = this.sql('SELECT * FROM farmers WHERE phone = ?').get(normalisePhone(phone)) as
      | FarmerRow
      | undefined
    return r && toFarmer(r)
  }

  listFarmers(): Farmer[] {
    return (this.sql('SELECT * FROM farmers ORDER BY id').all() as FarmerRow[]).map(toFarmer)
  }

  /** STOP sets this; a new subscription by an officer (or MULAI) clears it. */
  setStopped(farmer: string, stopped: boolean): void {
    this.version++
    this.sql('UPDATE farmers SET stopped = ? WHERE id = ?').run(stopped ? 1 : 0, farmer)
  }

  subscribe(farmer: string, field: string): void {
    if (!this.getFarmer(farmer))
      throw new KampungError('unknown_farmer', `farmer "${farmer}" is not registered`, { retryable: false })
    if (!this.getField(field))
      throw new KampungError('unknown_field', `field "${field}" is not registered`, { retryable: false })
    this.version++
    this.sql('INSERT OR IGNORE INTO subscriptions (farmer, field) VALUES (?, ?)').run(farmer, field)
  }

  subscriptionsOf(farmer: string): string[] {
    return (
      this.sql('SELECT field FROM subscriptions WHERE farmer = ? ORDER BY field').all(farmer) as Array<{
        field: string
      }>
    ).map((r) => r.field)
  }

  subscribersOf(field: string): Farmer[] {
    return (
      this.sql(
        'SELECT f.* FROM farmers f JOIN subscriptions s ON s.farmer = f.id WHERE s.field = ? ORDER BY f.id',
      ).all(field) as FarmerRow[]
    ).map(toFarmer)
  }

  addOfficer(input: Omit<Officer, 'language'> & { language?: Language }): Officer {
    const problems: string[] = []
    try {
      checkId('device', input.id)
    } catch (err) {
      problems.push(`id: ${(err as Error).message}`)
    }
    const phone = typeof input.phone === 'string' ? normalisePhone(input.phone) : ''
    if (!E164.test(phone)) problems.push(`phone: "${input.phone}" is not an E.164 number`)
    if (!input.name || input.name.length > 64) problems.push('name: 1 to 64 characters')
    if (!this.registry.getVillage(input.village)) problems.push(`village: "${input.village}" does not exist`)
    const language = input.language ?? 'id'
    if (!(LANGUAGES as readonly string[]).includes(language)) problems.push('language: id or en')
    if (problems.length > 0) throw invalid('invalid_officer', problems)
    this.version++
    this.sql(
      `INSERT INTO officers (id, name, phone, village, language) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, phone = excluded.phone,
           village = excluded.village, language = excluded.language`,
    ).run(input.id, input.name, phone, input.village, language)
    return { id: input.id, name: input.name, phone, village: input.village, language }
  }

  officersOf(village: string): Officer[] {
    return this.sql('SELECT * FROM officers WHERE village = ? ORDER BY id').all(village) as Officer[]
  }

  listOfficers(): Officer[] {
    return this.sql('SELECT * FROM officers ORDER BY village, id').all() as Officer[]
  }
}
