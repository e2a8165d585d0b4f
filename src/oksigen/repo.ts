import { createHmac, randomBytes, randomInt } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type Database from 'better-sqlite3'
import { KampungError } from '../errors.ts'
import type { Registry } from '../registry/index.ts'
import type { TreeMeasurement } from './estimate.ts'

/** Where a tree stands on its way to a certificate. */
/**
 * `dormant`: no growth expected now (a deciduous species' leafless season, a wet spell); not a
 * failure, and a verified tree stays verified through it.
 */
export const TREE_STATES = [
  'awaiting_data',
  'growing',
  'eligible',
  'verified',
  'dormant',
  'at_risk',
  'failed',
] as const
export type TreeState = (typeof TREE_STATES)[number]

export interface Tree {
  /** Public, pseudonymous id: it names the tree on certificates; no applicant data in it. */
  id: string
  village: string
  device: string
  species: string
  plantedAtMs: number
  lat?: number
  lon?: number
  initialDiameterMm: number
  initialHeightM?: number
  /** Height of the dendrometer above ground, cm (its diameter is not the DBH unless this is 130). */
  mountHeightCm?: number
  createdAtMs: number
}

export interface NewTree {
  /** Default: a new random public id. */
  id?: string
  device: string
  species: string
  plantedAtMs: number
  lat?: number
  lon?: number
  initialDiameterMm: number
  initialHeightM?: number
  /** Height of the dendrometer above ground, cm. */
  mountHeightCm?: number
  /** Diameter at breast height (1.3 m) measured by the officer at registration, cm. */
  dbhCm?: number
}

/** An officer's later measurement of a tree (`kampung trees measure`). */
export interface NewMeasurement {
  dbhCm?: number
  heightM?: number
  by: string
  atMs?: number
}

/**
 * Impossible values, every one listed: a sapling's DBH is 0.1–300 cm, a height 0.05–100 m, the
 * dendrometer sits 1–300 cm above ground; a DBH needs a tree at least 1.3 m tall.
 */
export function measurementProblems(m: {
  dbhCm?: number
  heightM?: number
  mountHeightCm?: number
  initialHeightM?: number
  /** The stem diameter at the dendrometer now, mm (with `mountHeightCm`: the taper check). */
  stemDiameterMm?: number
}): string[] {
  const problems: string[] = []
  const range = (name: string, v: number | undefined, min: number, max: number, unit: string, hint = '') => {
    if (v === undefined) return
    if (typeof v !== 'number' || !Number.isFinite(v))
      problems.push(`${name}: expected a number, got ${String(v)}`)
    else if (v < min || v > max)
      problems.push(`${name}: ${v} ${unit} is outside ${min}–${max} ${unit}${hint}`)
  }
  range('dbhCm', m.dbhCm, 0.1, 300, 'cm', ' (centimetres, not millimetres)')
  range('heightM', m.heightM, 0.05, 100, 'm')
  range('initialHeightM', m.initialHeightM, 0.05, 100, 'm')
  range('mountHeightCm', m.mountHeightCm, 1, 300, 'cm')
  const h = m.heightM ?? m.initialHeightM
  if (m.dbhCm !== undefined && h !== undefined && Number.isFinite(h) && h < 1.3)
    problems.push(`dbhCm: a tree ${h} m tall has no diameter at breast height (1.3 m)`)
  if (m.dbhCm !== undefined && m.dbhCm > 0 && h !== undefined && h > 0 && m.dbhCm / 100 > h)
    problems.push(`dbhCm: ${m.dbhCm} cm is wider than the tree is tall (${h} m)`)
  // A stem tapers: at 1.3 m it is not thicker than lower down where the dendrometer sits (2 % for
  // the tape measure's error).
  const stem = m.stemDiameterMm
  if (
    m.dbhCm !== undefined &&
    stem !== undefined &&
    m.mountHeightCm !== undefined &&
    m.mountHeightCm < 130 &&
    m.dbhCm * 10 > stem * 1.02
  )
    problems.push(
      `dbhCm: ${m.dbhCm} cm is thicker than the stem at the dendrometer (${(stem / 10).toFixed(2)} cm at ${m.mountHeightCm} cm); a stem is thinner at 1.3 m — cm and mm mixed up?`,
    )
  return problems
}

export interface Application {
  id: string
  tree: string
  certificateType: string
  /** HMAC of the applicant's certificate reference: links to the civil-registry file without holding it. */
  referenceHash: string
  /** For the planter's SMS (verified, needs water); never shown on public pages. */
  planterPhone?: string
  createdAtMs: number
}

export interface Decision {
  atMs: number
  fromState?: TreeState
  toState: TreeState
  /** `auto` or the officer's id. */
  by: string
  reason: string
  data: Record<string, unknown>
}

export interface StoredTreeState {
  state: TreeState
  detail: Record<string, unknown>
  processor?: unknown
  updatedAtMs: number
}

/** Public tree ids: short, unguessable-ish, no personal data (e.g. `T-7QK2M9`). */
export const TREE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{2,31}$/
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

export function newTreeId(): string {
  let id = 'T-'
  for (let i = 0; i < 6; i++) id += CROCKFORD[randomInt(CROCKFORD.length)]
  return id
}

const fail = (code: string, message: string) => new KampungError(code, message, { retryable: false })

/**
 * Trees, applications, decisions, processing state and certificates, in the registry's SQLite
 * database (tables from src/oksigen/schema.ts, run by the registry's migration runner).
 * Constructor assigns; `start()` loads the pseudonym key (creating it on first start); the
 * registry must be started.
 */
export class TreeRepo {
  private readonly registry: Registry
  private readonly pseudonymKeyFile: string
  private pseudonymKey: Buffer | undefined

  /** `pseudonymKeyFile`: the key that makes application references pseudonymous (HMAC). */
  constructor(registry: Registry, pseudonymKeyFile: string) {
    this.registry = registry
    this.pseudonymKeyFile = pseudonymKeyFile
  }

  /**
   * Load the pseudonym key, or create it once per installation next to the data; losing it only
   * means old references can no longer be matched.
   */
  async start(): Promise<void> {
    if (this.pseudonymKey) return
    const file = this.pseudonymKeyFile
    const existing = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined
      throw err
    })
    if (existing) {
      this.pseudonymKey = existing
      return
    }
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
    const key = randomBytes(32)
    // `wx`: two processes starting at once must not each write their own key.
    await writeFile(file, key, { mode: 0o600, flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err
    })
    this.pseudonymKey = await readFile(file)
  }

  private startedKey(): Buffer {
    if (!this.pseudonymKey)
      throw new KampungError('not_started', 'tree repository is not started: call start() first', {
        retryable: true,
      })
    return this.pseudonymKey
  }

  private get db(): Database.Database {
    return this.registry.database()
  }

  addTree(input: NewTree, knownSpecies: readonly string[]): Tree {
    const t = { ...input, id: input.id ?? newTreeId() }
    if (!TREE_ID_PATTERN.test(t.id))
      throw fail('invalid_id', `tree id "${t.id}": use A-Z, a-z, 0-9, - and _ (3 to 32)`)
    if (!knownSpecies.includes(t.species)) {
      throw fail('unknown_species', `species "${t.species}" is not one of ${knownSpecies.join(', ')}`)
    }
    const device = this.registry.getDevice(t.device)
    if (!device) throw fail('unknown_device', `device "${t.device}" is not registered`)
    if (device.kind !== 'dendrometer') {
      throw fail('invalid_device', `device "${t.device}" is a ${device.kind} node, not a dendrometer`)
    }
    if (!(t.initialDiameterMm > 0)) throw fail('invalid_tree', 'initialDiameterMm must be a positive number')
    const problems = measurementProblems({ ...t, stemDiameterMm: t.initialDiameterMm })
    if (problems.length > 0) throw fail('invalid_tree', problems.join('; '))
    if (this.treeByDevice(t.device)) throw fail('device_in_use', `device "${t.device}" is already on a tree`)
    if (this.getTree(t.id)) throw fail('tree_exists', `tree "${t.id}" already exists`)
    const { dbhCm, ...rest } = t
    const tree: Tree = { ...rest, village: device.village, createdAtMs: Date.now() }
    this.db
      .prepare(
        `INSERT INTO trees (id, village, device, species, planted_at_ms, lat, lon, initial_diameter_mm, initial_height_m, mount_height_cm, created_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        tree.id,
        tree.village,
        tree.device,
        tree.species,
        tree.plantedAtMs,
        tree.lat ?? null,
        tree.lon ?? null,
        tree.initialDiameterMm,
        tree.initialHeightM ?? null,
        tree.mountHeightCm ?? null,
        tree.createdAtMs,
      )
    // What the officer measured at registration (GRO 0: the dendrometer starts now).
    if (dbhCm !== undefined || tree.initialHeightM !== undefined) {
      this.insertMeasurement(tree.id, {
        atMs: tree.createdAtMs,
        dbhCm,
        heightM: tree.initialHeightM,
        groUmAt: 0,
        by: 'registration',
      })
    }
    this.saveState(tree.id, {
      state: 'awaiting_data',
      detail: { reason: 'registered' },
      updatedAtMs: tree.createdAtMs,
    })
    return tree
  }

  getTree(id: string): Tree | undefined {
    const row = this.db.prepare('SELECT * FROM trees WHERE id = ?').get(id) as TreeRow | undefined
    return row && toTree(row)
  }

  treeByDevice(device: string): Tree | undefined {
    const row = this.db.prepare('SELECT * FROM trees WHERE device = ?').get(device) as TreeRow | undefined
    return row && toTree(row)
  }

  listTrees(filter: { state?: TreeState; village?: string } = {}): Array<Tree & { state: TreeState }> {
    const rows = this.db
      .prepare(
        `SELECT trees.*, tree_states.state AS state FROM trees JOIN tree_states ON tree_states.tree = trees.id
         WHERE (@state IS NULL OR tree_states.state = @state) AND (@village IS NULL OR trees.village = @village)
         ORDER BY trees.id`,
      )
      .all({ state: filter.state ?? null, village: filter.village ?? null }) as Array<
      TreeRow & { state: TreeState }
    >
    return rows.map((r) => ({ ...toTree(r), state: r.state }))
  }

  addApplication(a: {
    id: string
    tree: string
    certificateType: string
    reference: string
    planterPhone?: string
  }): Application {
    if (!this.getTree(a.tree)) throw fail('unknown_tree', `tree "${a.tree}" is not registered`)
    if (a.planterPhone !== undefined && !/^\+[1-9]\d{6,14}$/.test(a.planterPhone)) {
      throw fail('invalid_phone', `phone "${a.planterPhone}" is not in E.164 form, e.g. +6281234567890`)
    }
    const app: Application = {
      id: a.id,
      tree: a.tree,
      certificateType: a.certificateType,
      referenceHash: createHmac('sha256', this.startedKey()).update(a.reference).digest('base64url'),
      planterPhone: a.planterPhone,
      createdAtMs: Date.now(),
    }
    this.db
      .prepare(
        'INSERT INTO applications (id, tree, certificate_type, reference_hash, planter_phone, created_at_ms) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(
        app.id,
        app.tree,
        app.certificateType,
        app.referenceHash,
        app.planterPhone ?? null,
        app.createdAtMs,
      )
    return app
  }

  applicationsOf(tree: string): Application[] {
    const rows = this.db
      .prepare('SELECT * FROM applications WHERE tree = ? ORDER BY created_at_ms')
      .all(tree) as Array<{
      id: string
      tree: string
      certificate_type: string
      reference_hash: string
      planter_phone: string | null
      created_at_ms: number
    }>
    return rows.map((r) => ({
      id: r.id,
      tree: r.tree,
      certificateType: r.certificate_type,
      referenceHash: r.reference_hash,
      planterPhone: r.planter_phone ?? undefined,
      createdAtMs: r.created_at_ms,
    }))
  }

  getState(tree: string): StoredTreeState | undefined {
    const row = this.db.prepare('SELECT * FROM tree_states WHERE tree = ?').get(tree) as
      | { state: TreeState; detail: string; processor: string | null; updated_at_ms: number }
      | undefined
    if (!row) return undefined
    return {
      state: row.state,
      detail: JSON.parse(row.detail),
      processor: row.processor === null ? undefined : JSON.parse(row.processor),
      updatedAtMs: row.updated_at_ms,
    }
  }

  saveState(tree: string, s: StoredTreeState): void {
    this.db
      .prepare(
        `INSERT INTO tree_states (tree, state, detail, processor, updated_at_ms) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(tree) DO UPDATE SET state = excluded.state, detail = excluded.detail,
           processor = COALESCE(excluded.processor, tree_states.processor), updated_at_ms = excluded.updated_at_ms`,
      )
      .run(
        tree,
        s.state,
        JSON.stringify(s.detail),
        s.processor === undefined ? null : JSON.stringify(s.processor),
        s.updatedAtMs,
      )
  }

  addDecision(tree: string, d: Decision): void {
    this.db
      .prepare(
        'INSERT INTO tree_decisions (tree, at_ms, from_state, to_state, by, reason, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(tree, d.atMs, d.fromState ?? null, d.toState, d.by, d.reason, JSON.stringify(d.data))
  }

  decisions(tree: string): Decision[] {
    const rows = this.db
      .prepare('SELECT * FROM tree_decisions WHERE tree = ? ORDER BY id')
      .all(tree) as Array<{
      at_ms: number
      from_state: TreeState | null
      to_state: TreeState
      by: string
      reason: string
      data: string
    }>
    return rows.map((r) => ({
      atMs: r.at_ms,
      fromState: r.from_state ?? undefined,
      toState: r.to_state,
      by: r.by,
      reason: r.reason,
      data: JSON.parse(r.data),
    }))
  }

  /**
   * An officer's measurement (DBH and/or height), kept with the tree's GRO now (`groUmNow`) so
   * the biomass estimate adds only the growth since. Throws listing every impossible value.
   */
  addMeasurement(tree: string, m: NewMeasurement, groUmNow: number): TreeMeasurement {
    const t = this.getTree(tree)
    if (!t) throw fail('unknown_tree', `tree "${tree}" is not registered`)
    if (m.dbhCm === undefined && m.heightM === undefined)
      throw fail('invalid_measurement', 'give dbhCm and/or heightM')
    const lastHeight = this.measurements(tree)
      .filter((x) => x.heightM !== undefined)
      .at(-1)?.heightM
    const problems = measurementProblems({
      dbhCm: m.dbhCm,
      heightM: m.heightM ?? lastHeight ?? t.initialHeightM,
      mountHeightCm: t.mountHeightCm,
      stemDiameterMm: t.initialDiameterMm + Math.max(0, groUmNow) / 1000,
    })
    if (problems.length > 0) throw fail('invalid_measurement', problems.join('; '))
    const row: TreeMeasurement = {
      atMs: m.atMs ?? Date.now(),
      ...(m.dbhCm !== undefined ? { dbhCm: m.dbhCm } : {}),
      ...(m.heightM !== undefined ? { heightM: m.heightM } : {}),
      groUmAt: groUmNow,
      by: m.by,
    }
    this.insertMeasurement(tree, row)
    return row
  }

  private insertMeasurement(tree: string, m: TreeMeasurement): void {
    this.db
      .prepare(
        'INSERT INTO tree_measurements (tree, at_ms, dbh_cm, height_m, gro_um_at, by) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(tree, m.atMs, m.dbhCm ?? null, m.heightM ?? null, m.groUmAt, m.by)
  }

  /** The officers' measurements of a tree, oldest first. */
  measurements(tree: string): TreeMeasurement[] {
    const rows = this.db
      .prepare('SELECT * FROM tree_measurements WHERE tree = ? ORDER BY at_ms, id')
      .all(tree) as Array<{
      at_ms: number
      dbh_cm: number | null
      height_m: number | null
      gro_um_at: number
      by: string
    }>
    return rows.map((r) => ({
      atMs: r.at_ms,
      ...(r.dbh_cm !== null ? { dbhCm: r.dbh_cm } : {}),
      ...(r.height_m !== null ? { heightM: r.height_m } : {}),
      groUmAt: r.gro_um_at,
      by: r.by,
    }))
  }

  /** The registry's kind of a device (`weather`, `dendrometer`, …), undefined when unknown. */
  deviceKind(device: string): string | undefined {
    return this.registry.getDevice(device)?.kind
  }

  /** Every registered device's kind (one query; see Registry.deviceKinds). */
  deviceKinds(): Map<string, string> {
    return this.registry.deviceKinds()
  }

  certificatesOf(tree: string): string[] {
    return (
      this.db.prepare('SELECT id FROM certificates WHERE tree = ? ORDER BY issued_at_ms').all(tree) as Array<{
        id: string
      }>
    ).map((r) => r.id)
  }
}

interface TreeRow {
  id: string
  village: string
  device: string
  species: string
  planted_at_ms: number
  lat: number | null
  lon: number | null
  initial_diameter_mm: number
  initial_height_m: number | null
  mount_height_cm: number | null
  created_at_ms: number
}

function toTree(r: TreeRow): Tree {
  const t: Tree = {
    id: r.id,
    village: r.village,
    device: r.device,
    species: r.species,
    plantedAtMs: r.planted_at_ms,
    initialDiameterMm: r.initial_diameter_mm,
    createdAtMs: r.created_at_ms,
  }
  if (r.lat !== null) t.lat = r.lat
  if (r.lon !== null) t.lon = r.lon
  if (r.initial_height_m !== null) t.initialHeightM = r.initial_height_m
  if (r.mount_height_cm !== null) t.mountHeightCm = r.mount_height_cm
  return t
}
