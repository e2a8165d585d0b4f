import { parse } from 'csv-parse/sync'
import { CROP_IDS, type CropId, SOIL_TEXTURE_IDS, type SoilTexture } from '../agronomy/index.ts'
import type { Directory } from '../alerts/index.ts'
import { KampungError } from '../errors.ts'
import type { TreeRepo } from '../oksigen/index.ts'
import { SPECIES_IDS } from '../oksigen/index.ts'
import { DEVICE_KINDS, type DeviceKind, type NewDevice, type Registry } from '../registry/index.ts'
import { PAYLOAD_FORMATS, type PayloadFormat } from '../telemetry/index.ts'

/**
 * Bulk provisioning from CSV (`kampung import devices|fields|farmers|trees FILE.csv`, and
 * `POST /api/v1/import/<kind>`): a district installs hundreds of nodes at once. A file is imported
 * whole or not at all: every problem is listed with its line and column, and nothing is written
 * while one remains. Rows go through the same checks as one-at-a-time registration (Registry,
 * Directory, TreeRepo), inside one transaction of the registry database.
 */

export const IMPORT_KINDS = ['devices', 'fields', 'farmers', 'trees'] as const
export type ImportKind = (typeof IMPORT_KINDS)[number]

interface ColumnSpec {
  required: readonly string[]
  optional: readonly string[]
}

/** The columns of each kind, as the header row names them (order free). */
export const COLUMNS: Record<ImportKind, ColumnSpec> = {
  devices: { required: ['id', 'village', 'kind', 'format'], optional: ['lat', 'lon', 'channels'] },
  fields: {
    required: ['id', 'village', 'name', 'crop', 'area_ha'],
    optional: [
      'planted',
      'stage',
      'lat',
      'lon',
      'devices',
      'soil_texture',
      'root_depth_m',
      'season_days',
      'valve',
    ],
  },
  farmers: {
    required: ['id', 'name', 'phone'],
    optional: ['village', 'language', 'fields', 'quiet_start', 'quiet_end'],
  },
  trees: {
    required: ['id', 'device', 'species', 'planted', 'initial_diameter_mm'],
    optional: ['lat', 'lon', 'initial_height_m', 'mount_height_cm', 'dbh_cm'],
  },
}

export interface ImportResult {
  kind: ImportKind
  imported: number
  /** Devices only: each new device's secret, shown this once. */
  secrets?: Array<{ id: string; secret: string }>
}

export interface ImportDeps {
  registry: Registry
  /** Needed for fields and farmers. */
  directory?: Directory
  /** Needed for trees. */
  trees?: TreeRepo
}

/** Thrown with every problem of a file; `problems` are "line N, column C: …". */
export class ImportError extends KampungError {
  constructor(
    readonly problems: string[],
    what: string,
  ) {
    super(
      'invalid_import',
      `${what}: nothing imported; ${problems.length} problem(s):\n  ${problems.join('\n  ')}`,
      {
        retryable: false,
      },
    )
  }
}

interface Row {
  line: number
  values: Record<string, string>
}

/** Parses and checks the header; CSV syntax errors name their line. */
function readRows(kind: ImportKind, text: string, what: string): Row[] {
  const spec = COLUMNS[kind]
  let records: Array<{ record: Record<string, string>; info: { lines: number } }>
  try {
    records = parse(text, {
      columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()),
      bom: true,
      skip_empty_lines: true,
      trim: true,
      info: true,
    }) as typeof records
  } catch (err) {
    const e = err as Error & { lines?: number }
    throw new ImportError(
      [`line ${e.lines ?? '?'}: ${e.message.replace(/^Invalid Record Length: /, '')}`],
      what,
    )
  }
  const header = records.length > 0 ? Object.keys(records[0]!.record) : firstLine(text)
  const problems: string[] = []
  for (const c of spec.required)
    if (!header.includes(c)) problems.push(`line 1, column ${c}: required column missing`)
  const known = new Set([...spec.required, ...spec.optional])
  for (const c of header)
    if (!known.has(c))
      problems.push(
        `line 1, column ${c}: unknown column (${kind} takes ${[...spec.required, ...spec.optional].join(', ')})`,
      )
  if (problems.length) throw new ImportError(problems, what)
  if (records.length === 0) throw new ImportError(['line 2: no rows after the header'], what)
  return records.map((r) => ({ line: r.info.lines, values: r.record }))
}

function firstLine(text: string): string[] {
  return (text.split(/\r?\n/)[0] ?? '').split(',').map((h) => h.trim().toLowerCase())
}

/** Reads one row's cells, collecting "line N, column C: …" problems instead of throwing. */
class Cells {
  constructor(
    private readonly row: Row,
    private readonly problems: string[],
  ) {}

  private bad(column: string, message: string): undefined {
    this.problems.push(`line ${this.row.line}, column ${column}: ${message}`)
    return undefined
  }

  text(column: string): string | undefined {
    const v = this.row.values[column]
    return v === undefined || v === '' ? undefined : v
  }

  required(column: string): string {
    const v = this.text(column)
    if (v === undefined) this.bad(column, 'empty')
    return v ?? ''
  }

  oneOf<T extends string>(column: string, allowed: readonly T[], required = true): T | undefined {
    const v = required ? this.required(column) : this.text(column)
    if (v === undefined || v === '') return undefined
    if (!(allowed as readonly string[]).includes(v))
      return this.bad(column, `"${v}" is not one of ${allowed.join(', ')}`)
    return v as T
  }

  number(column: string, opts: { min?: number; max?: number; required?: boolean } = {}): number | undefined {
    const v = opts.required ? this.required(column) : this.text(column)
    if (v === undefined || v === '') return undefined
    const n = Number(v)
    if (!Number.isFinite(n)) return this.bad(column, `"${v}" is not a number`)
    if ((opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max))
      return this.bad(column, `${v} is outside ${opts.min ?? '-∞'} to ${opts.max ?? '∞'}`)
    return n
  }

  date(column: string, required = false): number | undefined {
    const v = required ? this.required(column) : this.text(column)
    if (v === undefined || v === '') return undefined
    const ms = Date.parse(v)
    if (!/^\d{4}-\d\d-\d\d/.test(v) || !Number.isFinite(ms))
      return this.bad(column, `"${v}" is not a date like 2026-11-20`)
    return ms
  }

  list(column: string): string[] {
    return (this.text(column) ?? '')
      .split(/[;|]/)
      .map((s) => s.trim())
      .filter(Boolean)
  }

  json(column: string): unknown {
    const v = this.text(column)
    if (v === undefined) return undefined
    try {
      return JSON.parse(v)
    } catch {
      return this.bad(column, 'not valid JSON')
    }
  }

  /** A problem the domain check found, put on this row (its message names the column). */
  domain(message: string): void {
    this.problems.push(`line ${this.row.line}: ${message}`)
  }
}

/** Imports `text` (a CSV file's content) as `kind`; `what` names the file in errors. */
export async function importCsv(
  kind: ImportKind,
  text: string,
  deps: ImportDeps,
  what: string = kind,
): Promise<ImportResult> {
  const rows = readRows(kind, text, what)
  switch (kind) {
    case 'devices':
      return importDevices(rows, deps.registry, what)
    case 'fields':
      return inTransaction(kind, deps.registry, rows, what, (cells) => {
        const plantedAtMs = cells.date('planted')
        const texture = cells.oneOf<SoilTexture>('soil_texture', SOIL_TEXTURE_IDS, false)
        const rootDepthM = cells.number('root_depth_m', { min: 0.05, max: 5 })
        const soil =
          texture || rootDepthM
            ? { ...(texture ? { texture } : {}), ...(rootDepthM ? { rootDepthM } : {}) }
            : undefined
        const input = {
          id: cells.required('id'),
          village: cells.required('village'),
          name: cells.required('name'),
          crop: cells.oneOf<CropId>('crop', CROP_IDS) ?? ('rice' as CropId),
          areaHa: cells.number('area_ha', { min: 0, required: true }) ?? 0,
          ...(plantedAtMs !== undefined ? { plantedAtMs } : {}),
          ...(cells.text('stage') ? { stage: cells.text('stage') as never } : {}),
          lat: cells.number('lat', { min: -90, max: 90 }),
          lon: cells.number('lon', { min: -180, max: 180 }),
          devices: cells.list('devices'),
          ...(soil ? { soil } : {}),
          seasonDays: cells.number('season_days', { min: 30, max: 400 }),
          // the node driving the field's valve (farmers' AIRI / TUTUP by SMS), default limits
          ...(cells.text('valve') ? { valve: { device: cells.text('valve')! } } : {}),
        }
        return () => need(deps.directory, 'fields').addField(input)
      })
    case 'farmers':
      return inTransaction(kind, deps.registry, rows, what, (cells) => {
        const input = {
          id: cells.required('id'),
          name: cells.required('name'),
          phone: cells.required('phone'),
          village: cells.text('village'),
          language: cells.oneOf('language', ['id', 'en'] as const, false),
          quietStart: cells.text('quiet_start'),
          quietEnd: cells.text('quiet_end'),
        }
        const fields = cells.list('fields')
        return () => {
          const directory = need(deps.directory, 'farmers')
          const missing = fields.filter((f) => !directory.getField(f))
          if (missing.length)
            throw new Error(`fields: ${missing.map((f) => `"${f}"`).join(', ')} not registered`)
          const farmer = directory.addFarmer(input)
          for (const f of fields) directory.subscribe(farmer.id, f)
        }
      })
    case 'trees':
      return inTransaction(kind, deps.registry, rows, what, (cells) => {
        const input = {
          id: cells.required('id'),
          device: cells.required('device'),
          species: cells.required('species'),
          plantedAtMs: cells.date('planted', true) ?? 0,
          lat: cells.number('lat', { min: -90, max: 90 }),
          lon: cells.number('lon', { min: -180, max: 180 }),
          initialDiameterMm: cells.number('initial_diameter_mm', { min: 0, required: true }) ?? 0,
          initialHeightM: cells.number('initial_height_m', { min: 0 }),
          mountHeightCm: cells.number('mount_height_cm', { min: 0 }),
          dbhCm: cells.number('dbh_cm', { min: 0 }),
        }
        return () => need(deps.trees, 'trees').addTree(input, SPECIES_IDS)
      })
  }
}

function need<T>(dep: T | undefined, kind: string): T {
  if (!dep)
    throw new KampungError('import_unavailable', `${kind} cannot be imported here (its capability is off)`, {
      retryable: false,
    })
  return dep
}

/**
 * Runs every row's write inside one transaction of the registry database, collecting each row's
 * problem; any problem rolls the whole file back.
 */
function inTransaction(
  kind: ImportKind,
  registry: Registry,
  rows: Row[],
  what: string,
  prepare: (cells: Cells) => () => unknown,
): ImportResult {
  const problems: string[] = []
  const db = registry.database()
  const rollback = new Error('rollback')
  try {
    db.transaction(() => {
      for (const row of rows) {
        const before = problems.length
        const cells = new Cells(row, problems)
        const write = prepare(cells)
        if (problems.length > before) continue
        try {
          write()
        } catch (err) {
          if (err instanceof KampungError && err.code === 'import_unavailable') throw err
          cells.domain((err as Error).message)
        }
      }
      if (problems.length) throw rollback
    })()
  } catch (err) {
    if (err !== rollback) throw err
    throw new ImportError(problems, what)
  }
  return { kind, imported: rows.length }
}

async function importDevices(rows: Row[], registry: Registry, what: string): Promise<ImportResult> {
  const problems: string[] = []
  const inputs: NewDevice[] = []
  for (const row of rows) {
    const cells = new Cells(row, problems)
    inputs.push({
      id: cells.required('id'),
      village: cells.required('village'),
      kind: cells.oneOf<DeviceKind>('kind', DEVICE_KINDS) ?? 'soil',
      format: cells.oneOf<PayloadFormat>('format', PAYLOAD_FORMATS) ?? 'json',
      lat: cells.number('lat', { min: -90, max: 90 }),
      lon: cells.number('lon', { min: -180, max: 180 }),
      channels: cells.json('channels') as NewDevice['channels'],
    })
  }
  if (problems.length) throw new ImportError(problems, what)
  try {
    const added = await registry.addDevices(inputs)
    return {
      kind: 'devices',
      imported: added.length,
      secrets: added.map((a) => ({ id: a.device.id, secret: a.secret })),
    }
  } catch (err) {
    if (!(err instanceof KampungError) || err.code !== 'invalid_devices') throw err
    // "[i] message" → the row's line
    const lines = err.message.split('\n').map((m) => {
      const match = /^\[(\d+)\] (.*)$/s.exec(m)
      return match ? `line ${rows[Number(match[1])]!.line}: ${match[2]}` : m
    })
    throw new ImportError(lines, what)
  }
}
