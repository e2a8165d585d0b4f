import { timingSafeEqual } from 'node:crypto'
import type Database from 'better-sqlite3'
import { KampungError } from '../errors.ts'
import { openSqlite } from '../files.ts'
import { getLogger } from '../log.ts'
import type { PayloadFormat } from '../telemetry/index.ts'
import { type CapabilitySchema, migrate, schemaVersions } from './migrate.ts'
import { registryTables } from './schema.ts'
import { hashSecret, newSecret, sha256, verifyHash } from './secrets.ts'
import type { Device, DeviceKind, NewDevice, Village } from './types.ts'
import { checkId, checkNewDevice } from './validate.ts'

const log = getLogger('registry')

export interface RegistryOptions {
  /** SQLite file; `:memory:` for a throwaway registry. */
  path: string
  /**
   * The tables of the capabilities that keep theirs in this file (Oksigen, console, alerts), run
   * after the registry's own. Required so that every place opening a registry says which it
   * needs: `SCHEMAS` from src/schemas.ts for all, `[]` for villages and devices only.
   */
  schemas: readonly CapabilitySchema[]
  /**
   * How long a successful secret check is remembered, so a village of devices reconnecting at
   * once costs one scrypt each, not one per attempt. 0 disables the cache.
   */
  verifyCacheTtlMs?: number
}

export const defaultRegistryOptions = {
  verifyCacheTtlMs: 60_000,
} satisfies Partial<RegistryOptions>

interface DeviceRow {
  id: string
  village: string
  kind: string
  format: string
  channels: string | null
  lat: number | null
  lon: number | null
  secret_hash: string
  created_at_ms: number
}

function toDevice(row: DeviceRow): Device {
  const device: Device = {
    id: row.id,
    village: row.village,
    kind: row.kind as DeviceKind,
    format: row.format as PayloadFormat,
    createdAtMs: row.created_at_ms,
  }
  if (row.channels !== null) device.channels = JSON.parse(row.channels)
  if (row.lat !== null) device.lat = row.lat
  if (row.lon !== null) device.lon = row.lon
  return device
}

function notFound(id: string): KampungError {
  return new KampungError('unknown_device', `device "${id}" is not registered`, { retryable: false })
}

interface CachedVerification {
  secretDigest: Buffer
  device: Device
  expiresAtMs: number
}

/** Villages, devices and their secrets, in SQLite. Secrets are stored only as scrypt hashes. */
export class Registry {
  private readonly opts: Required<RegistryOptions>
  private db: Database.Database | undefined
  private readonly verified = new Map<string, CachedVerification>()

  constructor(opts: RegistryOptions) {
    this.opts = { ...defaultRegistryOptions, ...opts }
  }

  start(): Promise<void> {
    if (this.db) return Promise.resolve()
    // 0600 (password hashes, phone numbers); a damaged file or write-ahead log is refused by name.
    const db = openSqlite(this.opts.path, { what: 'registry', quickCheck: true })
    // Explicitly: better-sqlite3 is built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, so a file that is
    // already in WAL mode would open with NORMAL (no fsync per commit), a new one with FULL. Alert
    // state and deliveries must survive a power cut as the outbox's idempotency keys do (the
    // alerts engine commits only its look-back history with NORMAL, on purpose).
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    for (const step of migrate(db, [registryTables, ...this.opts.schemas])) log.info(step, 'schema migrated')
    this.db = db
    return Promise.resolve()
  }

  stop(): Promise<void> {
    this.db?.close()
    this.db = undefined
    this.verified.clear()
    return Promise.resolve()
  }

  /** The SQLite handle, for the capabilities whose `schemas` this registry ran (Oksigen, console, alerts). */
  database(): Database.Database {
    return this.open()
  }

  /** Each capability's schema version in this file, e.g. `{ registry: 1, alerts: 1 }`. */
  schemaVersions(): Record<string, number> {
    return schemaVersions(this.open())
  }

  private open(): Database.Database {
    if (!this.db) {
      throw new KampungError('not_started', 'registry is not started: call start() first', {
        retryable: false,
      })
    }
    return this.db
  }

  /** Creates the village, or renames it if it exists. */
  addVillage(village: Village): Village {
    checkId('village', village.id)
    const name = typeof village.name === 'string' ? village.name.trim() : ''
    if (name === '') {
      throw new KampungError('invalid_village', `village "${village.id}" needs a non-empty name`, {
        retryable: false,
      })
    }
    this.open()
      .prepare(
        'INSERT INTO villages (id, name) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name',
      )
      .run(village.id, name)
    return { id: village.id, name }
  }

  listVillages(): Village[] {
    return this.open().prepare('SELECT id, name FROM villages ORDER BY id').all() as Village[]
  }

  getVillage(id: string): Village | undefined {
    return this.open().prepare('SELECT id, name FROM villages WHERE id = ?').get(id) as Village | undefined
  }

  /** Registers a device and returns its secret: the only time the secret is ever available. */
  async addDevice(input: NewDevice): Promise<{ device: Device; secret: string }> {
    checkNewDevice(input)
    this.assertCanAdd(input)
    const secret = newSecret()
    const secretHash = await hashSecret(secret)
    // Checked again after the await: another caller may have added the same id meanwhile.
    this.assertCanAdd(input)
    const createdAtMs = Date.now()
    this.open()
      .prepare(
        `INSERT INTO devices (id, village, kind, format, channels, lat, lon, secret_hash, created_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        input.id,
        input.village,
        input.kind,
        input.format,
        input.channels === undefined ? null : JSON.stringify(input.channels),
        input.lat ?? null,
        input.lon ?? null,
        secretHash,
        createdAtMs,
      )
    return { device: this.getDevice(input.id)!, secret }
  }

  private assertCanAdd(input: NewDevice): void {
    if (!this.getVillage(input.village)) {
      throw new KampungError(
        'unknown_village',
        `village "${input.village}" does not exist: add it first (kampung villages add ${input.village} --name <name>)`,
        { retryable: false },
      )
    }
    if (this.getDevice(input.id)) {
      throw new KampungError('device_exists', `device "${input.id}" is already registered`, {
        retryable: false,
      })
    }
  }

  getDevice(id: string): Device | undefined {
    const row = this.open().prepare('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined
    return row && toDevice(row)
  }

  listDevices(filter: { village?: string } = {}): Device[] {
    const db = this.open()
    const rows = (
      filter.village === undefined
        ? db.prepare('SELECT * FROM devices ORDER BY village, id').all()
        : db.prepare('SELECT * FROM devices WHERE village = ? ORDER BY id').all(filter.village)
    ) as DeviceRow[]
    return rows.map(toDevice)
  }

  /** Issues a new secret; the old one stops working at once (cached verifications included). */
  async rotateSecret(id: string): Promise<string> {
    if (!this.getDevice(id)) throw notFound(id)
    const secret = newSecret()
    const secretHash = await hashSecret(secret)
    this.verified.delete(id)
    const result = this.open().prepare('UPDATE devices SET secret_hash = ? WHERE id = ?').run(secretHash, id)
    if (result.changes === 0) throw notFound(id)
    return secret
  }

  /**
   * The device if `secret` is its current secret, else undefined (unknown id included).
   * Gateways' HTTP API keys are their device secrets and are checked here too.
   */
  async verifySecret(id: string, secret: string): Promise<Device | undefined> {
    const digest = sha256(secret)
    const cached = this.verified.get(id)
    if (cached && cached.expiresAtMs > Date.now() && timingSafeEqual(cached.secretDigest, digest)) {
      return cached.device
    }
    const row = this.open().prepare('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined
    if (!row) return undefined
    if (!(await verifyHash(secret, row.secret_hash))) return undefined
    // The secret may have been rotated or the device removed while scrypt ran.
    const current = this.open().prepare('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined
    if (!current || current.secret_hash !== row.secret_hash) return undefined
    const device = toDevice(current)
    if (this.opts.verifyCacheTtlMs > 0) {
      this.verified.set(id, {
        secretDigest: digest,
        device,
        expiresAtMs: Date.now() + this.opts.verifyCacheTtlMs,
      })
    }
    return device
  }

  /** Returns whether a device was removed. */
  removeDevice(id: string): boolean {
    this.verified.delete(id)
    return this.open().prepare('DELETE FROM devices WHERE id = ?').run(id).changes > 0
  }
}
