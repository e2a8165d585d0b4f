import { setTimeout as sleep } from 'node:timers/promises'
import type Database from 'better-sqlite3'
import { KampungError } from '../errors.ts'
import { openSqlite } from '../files.ts'
import { getLogger } from '../log.ts'
import type { PayloadFormat } from '../telemetry/index.ts'
import { DeviceAuthLimits, type DeviceAuthLimitsOptions } from './auth-limits.ts'
import { type CapabilitySchema, migrate, schemaVersions } from './migrate.ts'
import { registryTables } from './schema.ts'
import {
  DUMMY_DEVICE_HASH,
  hashDeviceSecret,
  isLegacyDeviceHash,
  newSecret,
  verifyDeviceHash,
  verifyHash,
} from './secrets.ts'
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
  /** Failure budgets and refusal time of `authenticateDevice` (config `deviceLimits.auth`). */
  deviceAuth?: Partial<DeviceAuthLimitsOptions>
}

export const defaultRegistryOptions = {
  deviceAuth: {},
} satisfies Partial<RegistryOptions>

/** Legacy scrypt checks at once: two of libuv's four thread-pool threads, on a 2-core machine. */
const LEGACY_CHECKS_AT_ONCE = 2
/** Legacy checks waiting at most (~15 s of scrypt); beyond, refused as throttled. */
const LEGACY_QUEUE_MAX = 10_000
const LEGACY_QUEUE_RETRY_MS = 5_000

/** What `authenticateDevice` decided. `throttled`: a failure budget is spent, nothing was checked. */
export type DeviceAuthResult =
  | { ok: true; device: Device }
  | { ok: false; reason: 'bad_credentials' }
  | { ok: false; reason: 'throttled'; retryAfterMs: number }

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

/** Villages, devices and their secrets, in SQLite. Secrets are stored only as hashes. */
export class Registry {
  private readonly opts: Required<RegistryOptions>
  private db: Database.Database | undefined
  private readonly limits: DeviceAuthLimits
  private legacyRunning = 0
  private readonly legacyWaiting: Array<(release: () => void) => void> = []
  private prepared:
    | { db: Database.Database; device: Database.Statement; secretHash: Database.Statement }
    | undefined

  constructor(opts: RegistryOptions) {
    this.opts = { ...defaultRegistryOptions, ...opts }
    this.limits = new DeviceAuthLimits(this.opts.deviceAuth)
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
    const [added] = await this.addDevices([input])
    return added!
  }

  /**
   * Registers devices, all or none (one, or a bulk import's hundreds). Every problem is listed, each
   * prefixed with the input's index as `[i]` when there are several; the secrets are returned once.
   */
  async addDevices(inputs: readonly NewDevice[]): Promise<Array<{ device: Device; secret: string }>> {
    // One device: its own error (unknown_village → 404, device_exists → 409), not an indexed list.
    if (inputs.length === 1) {
      checkNewDevice(inputs[0]!)
      this.assertCanAdd(inputs[0]!)
    } else {
      const problems: string[] = []
      const seen = new Set<string>()
      inputs.forEach((input, i) => {
        try {
          checkNewDevice(input)
          this.assertCanAdd(input)
          if (seen.has(input.id))
            throw new KampungError('device_exists', `device "${input.id}" appears twice`, {
              retryable: false,
            })
          seen.add(input.id)
        } catch (err) {
          problems.push(`[${i}] ${(err as Error).message}`)
        }
      })
      if (problems.length)
        throw new KampungError('invalid_devices', problems.join('\n'), { retryable: false })
    }
    const secrets = inputs.map(() => newSecret())
    const db = this.open()
    const insert = db.prepare(
      `INSERT INTO devices (id, village, kind, format, channels, lat, lon, secret_hash, created_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const createdAtMs = Date.now()
    db.transaction(() => {
      inputs.forEach((input, i) => {
        // Checked again inside the transaction: another caller may have added one meanwhile.
        this.assertCanAdd(input)
        insert.run(
          input.id,
          input.village,
          input.kind,
          input.format,
          input.channels === undefined ? null : JSON.stringify(input.channels),
          input.lat ?? null,
          input.lon ?? null,
          hashDeviceSecret(secrets[i]!),
          createdAtMs,
        )
      })
    })()
    return inputs.map((input, i) => ({ device: this.getDevice(input.id)!, secret: secrets[i]! }))
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
    const row = this.statements().device.get(id) as DeviceRow | undefined
    return row && toDevice(row)
  }

  /** Prepared once per open file: every CONNECT and every HTTP device request reads here. */
  private statements(): { device: Database.Statement; secretHash: Database.Statement } {
    const db = this.open()
    if (this.prepared?.db !== db)
      this.prepared = {
        db,
        device: db.prepare('SELECT * FROM devices WHERE id = ?'),
        secretHash: db.prepare('SELECT secret_hash FROM devices WHERE id = ?').pluck(),
      }
    return this.prepared
  }

  /**
   * Every registered device's kind, in one query: a capability that asks per device on first sight
   * (the Oksigen verifier: is this a weather station?) loads them at start instead of a lookup per
   * device in the first minutes of a fresh process (10 000 of them in a district).
   */
  deviceKinds(): Map<string, DeviceKind> {
    const rows = this.open().prepare('SELECT id, kind FROM devices').raw().all() as Array<
      [string, DeviceKind]
    >
    return new Map(rows)
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

  /** Issues a new secret; the old one stops working at once. */
  async rotateSecret(id: string): Promise<string> {
    const secret = newSecret()
    const result = this.open()
      .prepare('UPDATE devices SET secret_hash = ? WHERE id = ?')
      .run(hashDeviceSecret(secret), id)
    if (result.changes === 0) throw notFound(id)
    return secret
  }

  /**
   * The device if `secret` is its current secret, else undefined (unknown id included). No
   * limits: transports call `authenticateDevice`. An unknown id is checked against a dummy hash
   * (same HMAC, same compare) so it costs what a known id with a wrong secret costs. A legacy
   * scrypt hash that matches is replaced by an HMAC one, unless the secret changed meanwhile.
   */
  async verifySecret(id: string, secret: string): Promise<Device | undefined> {
    return this.checkSecret(id, secret)
  }

  /**
   * Synchronous for HMAC hashes (and unknown ids): the failure budget reserved for the check is
   * given back before any other attempt runs, so a reconnect storm of thousands of good devices
   * from one address never sees its budget taken by its own checks in flight. A promise only for
   * a legacy scrypt hash (the thread pool), whose reservation is held while it runs.
   */
  private checkSecret(id: string, secret: string): Device | undefined | Promise<Device | undefined> {
    // Only the hash: a refusal of a known id then reads what an unknown id's does, bar one string.
    const known = this.statements().secretHash.get(id) as string | undefined
    const stored = known ?? DUMMY_DEVICE_HASH
    if (!isLegacyDeviceHash(stored))
      return verifyDeviceHash(secret, stored) && known !== undefined ? this.getDevice(id) : undefined
    return this.checkLegacy(id, secret, stored)
  }

  private async checkLegacy(id: string, secret: string, stored: string): Promise<Device | undefined> {
    if (!(await verifyHash(secret, stored))) return undefined
    // The secret may have been rotated or the device removed while scrypt ran: compare and swap.
    const upgraded = this.open()
      .prepare('UPDATE devices SET secret_hash = ? WHERE id = ? AND secret_hash = ?')
      .run(hashDeviceSecret(secret), id, stored)
    if (upgraded.changes === 0) return undefined
    log.debug({ device: id }, 'device secret hash upgraded from scrypt to hmac-sha256')
    return this.getDevice(id)
  }

  /** Whether `address` has spent its failure budget (its next attempt would be refused unchecked). */
  deviceAddressThrottled(address: string): boolean {
    return this.limits.addressThrottled(address)
  }

  /**
   * Device authentication for every transport (MQTT CONNECT, HTTP device credentials): the
   * failure budgets of `address` and `id` are reserved before the secret is checked, and every
   * refusal takes at least `refusalMinMs` from the call, whichever path refused it.
   */
  async authenticateDevice(id: string, secret: string, address: string): Promise<DeviceAuthResult> {
    const startedMs = performance.now()
    const decided = this.decide(id, secret, address)
    const result = decided instanceof Promise ? await decided : decided
    const leftMs = this.limits.opts.refusalMinMs - (performance.now() - startedMs)
    // Node's timers may fire up to a millisecond early against performance.now(): round up and add
    // one, so a refusal really takes at least refusalMinMs.
    if (!result.ok && leftMs > 0) await sleep(Math.ceil(leftMs) + 1)
    return result
  }

  /** Synchronous unless the stored hash is a legacy scrypt one. */
  private decide(id: string, secret: string, address: string): DeviceAuthResult | Promise<DeviceAuthResult> {
    const stored = this.statements().secretHash.get(id) as string | undefined
    if (stored !== undefined && isLegacyDeviceHash(stored)) return this.decideLegacy(id, secret, address)
    const attempt = this.limits.attempt(id, address)
    if (!attempt.ok) return { ok: false, reason: 'throttled', retryAfterMs: attempt.retryAfterMs }
    const device = this.checkSecret(id, secret) as Device | undefined // HMAC or unknown: synchronous
    if (device) attempt.release()
    else attempt.fail()
    return device ? { ok: true, device } : { ok: false, reason: 'bad_credentials' }
  }

  /**
   * A legacy scrypt check waits for one of `LEGACY_CHECKS_AT_ONCE` slots before its budget is
   * reserved: the reservation is then held for one scrypt only, so the first reconnect after an
   * upgrade of many devices behind one address is serialised rather than throttled, and scrypt
   * never takes the whole thread pool (file and DNS work run there too).
   */
  private async decideLegacy(id: string, secret: string, address: string): Promise<DeviceAuthResult> {
    const release = await this.legacySlot()
    if (!release) return { ok: false, reason: 'throttled', retryAfterMs: LEGACY_QUEUE_RETRY_MS }
    try {
      const attempt = this.limits.attempt(id, address)
      if (!attempt.ok) return { ok: false, reason: 'throttled', retryAfterMs: attempt.retryAfterMs }
      let device: Device | undefined
      try {
        device = await this.checkSecret(id, secret)
      } catch (err) {
        attempt.release() // the registry failed, not the caller
        throw err
      }
      if (device) attempt.release()
      else attempt.fail()
      return device ? { ok: true, device } : { ok: false, reason: 'bad_credentials' }
    } finally {
      release()
    }
  }

  private legacySlot(): Promise<(() => void) | false> {
    const release = (): void => {
      const next = this.legacyWaiting.shift()
      if (next) next(release)
      else this.legacyRunning--
    }
    if (this.legacyRunning < LEGACY_CHECKS_AT_ONCE) {
      this.legacyRunning++
      return Promise.resolve(release)
    }
    if (this.legacyWaiting.length >= LEGACY_QUEUE_MAX) return Promise.resolve(false)
    return new Promise((resolve) => this.legacyWaiting.push(resolve))
  }

  /** Returns whether a device was removed. */
  removeDevice(id: string): boolean {
    return this.open().prepare('DELETE FROM devices WHERE id = ?').run(id).changes > 0
  }
}
