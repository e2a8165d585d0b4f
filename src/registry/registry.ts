import { timingSafeEqual } from 'node:crypto'
import Database from 'better-sqlite3'
import { KampungError } from '../errors.ts'
import { getLogger } from '../log.ts'
import { hashSecret, newSecret, sha256, verifyHash } from './secrets.ts'
import type { Device, DeviceKind, NewDevice, PayloadFormat, Village } from './types.ts'
import { checkId, checkNewDevice } from './validate.ts'

const log = getLogger('registry')

export interface RegistryOptions {
  /** SQLite file; `:memory:` for a throwaway registry. */
  path: string
  /**
   * How long a successful secret check is remembered, so a village of devices reconnecting at
   * once costs one scrypt each, not one per attempt. 0 disables the cache.
   */
  verifyCacheTtlMs?: number
}

export const defaultRegistryOptions = {
  verifyCacheTtlMs: 60_000,
} satisfies Partial<RegistryOptions>

/**
 * Schema migrations, applied in order; `PRAGMA user_version` holds how many have run.
 * Later issues append here, never edit an entry that has shipped.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE villages (
     id   TEXT PRIMARY KEY,
     name TEXT NOT NULL
   );
   CREATE TABLE devices (
     id            TEXT PRIMARY KEY,
     village       TEXT NOT NULL REFERENCES villages(id),
     kind          TEXT NOT NULL,
     format        TEXT NOT NULL,
     channels      TEXT,
     lat           REAL,
     lon           REAL,
     secret_hash   TEXT NOT NULL,
     created_at_ms INTEGER NOT NULL
   );
   CREATE INDEX devices_village ON devices(village);`,
  // Sedekah Oksigen (src/oksigen): planted trees, certificate applications, every decision taken
  // on a tree with its reason and data, the tree's processing state, signed records.
  `CREATE TABLE trees (
     id                  TEXT PRIMARY KEY,
     village             TEXT NOT NULL REFERENCES villages(id),
     device              TEXT NOT NULL UNIQUE REFERENCES devices(id),
     species             TEXT NOT NULL,
     planted_at_ms       INTEGER NOT NULL,
     lat                 REAL,
     lon                 REAL,
     initial_diameter_mm REAL NOT NULL,
     initial_height_m    REAL,
     created_at_ms       INTEGER NOT NULL
   );
   CREATE TABLE applications (
     id               TEXT PRIMARY KEY,
     tree             TEXT NOT NULL REFERENCES trees(id),
     certificate_type TEXT NOT NULL,
     reference_hash   TEXT NOT NULL,
     planter_phone    TEXT,
     created_at_ms    INTEGER NOT NULL
   );
   CREATE TABLE tree_states (
     tree          TEXT PRIMARY KEY REFERENCES trees(id),
     state         TEXT NOT NULL,
     detail        TEXT NOT NULL,
     processor     TEXT,
     updated_at_ms INTEGER NOT NULL
   );
   CREATE TABLE tree_decisions (
     id         INTEGER PRIMARY KEY AUTOINCREMENT,
     tree       TEXT NOT NULL REFERENCES trees(id),
     at_ms      INTEGER NOT NULL,
     from_state TEXT,
     to_state   TEXT NOT NULL,
     by         TEXT NOT NULL,
     reason     TEXT NOT NULL,
     data       TEXT NOT NULL
   );
   CREATE INDEX tree_decisions_tree ON tree_decisions(tree, at_ms);
   CREATE TABLE certificates (
     id           TEXT PRIMARY KEY,
     tree         TEXT NOT NULL REFERENCES trees(id),
     signed       TEXT NOT NULL,
     issued_at_ms INTEGER NOT NULL
   );`,
  // Officer console (src/console): people who log in (officer | admin) and their sessions. A
  // session is kept only as the SHA-256 of its cookie token, so a copy of this file logs no one in.
  `CREATE TABLE users (
     id              TEXT PRIMARY KEY,
     role            TEXT NOT NULL,
     password_hash   TEXT NOT NULL,
     failed_logins   INTEGER NOT NULL DEFAULT 0,
     locked_until_ms INTEGER NOT NULL DEFAULT 0,
     created_at_ms   INTEGER NOT NULL
   );
   CREATE TABLE sessions (
     token_hash    TEXT PRIMARY KEY,
     user          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     csrf_token    TEXT NOT NULL,
     created_at_ms INTEGER NOT NULL,
     last_seen_ms  INTEGER NOT NULL
   );
   CREATE INDEX sessions_user ON sessions(user);`,
  // Alerts (src/alerts): fields, farmers, their subscriptions, village officers; alert lifecycle,
  // per-recipient deliveries, SMS written before they are handed to the outbox, silences, the
  // recent readings rules look back on, daily weather for the irrigation advisor, and events
  // waiting to be exported to InfluxDB.
  `CREATE TABLE fields (
     id            TEXT PRIMARY KEY,
     village       TEXT NOT NULL REFERENCES villages(id),
     name          TEXT NOT NULL,
     crop          TEXT NOT NULL,
     stage         TEXT,
     planted_at_ms INTEGER,
     area_ha       REAL NOT NULL,
     lat           REAL,
     lon           REAL,
     devices       TEXT NOT NULL DEFAULT '[]',
     created_at_ms INTEGER NOT NULL
   );
   CREATE UNIQUE INDEX fields_village_name ON fields(village, name COLLATE NOCASE);
   CREATE TABLE farmers (
     id            TEXT PRIMARY KEY,
     name          TEXT NOT NULL,
     phone         TEXT NOT NULL UNIQUE,
     village       TEXT REFERENCES villages(id),
     language      TEXT NOT NULL DEFAULT 'id',
     quiet_start   TEXT NOT NULL,
     quiet_end     TEXT NOT NULL,
     stopped       INTEGER NOT NULL DEFAULT 0,
     created_at_ms INTEGER NOT NULL
   );
   CREATE TABLE subscriptions (
     farmer TEXT NOT NULL REFERENCES farmers(id),
     field  TEXT NOT NULL REFERENCES fields(id),
     PRIMARY KEY (farmer, field)
   );
   CREATE TABLE officers (
     id       TEXT PRIMARY KEY,
     name     TEXT NOT NULL,
     phone    TEXT NOT NULL,
     village  TEXT NOT NULL REFERENCES villages(id),
     language TEXT NOT NULL DEFAULT 'id'
   );
   CREATE TABLE alerts (
     id              INTEGER PRIMARY KEY AUTOINCREMENT,
     rule            TEXT NOT NULL,
     subject         TEXT NOT NULL,
     category        TEXT NOT NULL,
     village         TEXT NOT NULL,
     field           TEXT,
     device          TEXT,
     severity        TEXT NOT NULL,
     state           TEXT NOT NULL,
     value           REAL,
     threshold       REAL,
     started_at_ms   INTEGER NOT NULL,
     fired_at_ms     INTEGER,
     resolved_at_ms  INTEGER,
     updated_at_ms   INTEGER NOT NULL,
     acked_at_ms     INTEGER,
     acked_by        TEXT,
     escalated_at_ms INTEGER
   );
   CREATE UNIQUE INDEX alerts_one_active ON alerts(rule, subject) WHERE state IN ('pending', 'firing');
   CREATE INDEX alerts_state ON alerts(state);
   CREATE TABLE alert_deliveries (
     alert          INTEGER NOT NULL REFERENCES alerts(id),
     recipient      TEXT NOT NULL,
     notified_at_ms INTEGER NOT NULL,
     count          INTEGER NOT NULL,
     resolved_sent  INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (alert, recipient)
   );
   CREATE TABLE alert_recipients (
     recipient    TEXT PRIMARY KEY,
     seq          INTEGER NOT NULL,
     last_sent_ms INTEGER
   );
   CREATE TABLE alert_messages (
     id             INTEGER PRIMARY KEY AUTOINCREMENT,
     key            TEXT NOT NULL UNIQUE,
     recipient      TEXT NOT NULL,
     phone          TEXT NOT NULL,
     text           TEXT NOT NULL,
     critical       INTEGER NOT NULL,
     not_before_ms  INTEGER,
     alerts         TEXT NOT NULL,
     created_at_ms  INTEGER NOT NULL,
     enqueued_at_ms INTEGER
   );
   CREATE INDEX alert_messages_unsent ON alert_messages(id) WHERE enqueued_at_ms IS NULL;
   CREATE TABLE silences (
     id            INTEGER PRIMARY KEY AUTOINCREMENT,
     matchers      TEXT NOT NULL,
     starts_at_ms  INTEGER NOT NULL,
     ends_at_ms    INTEGER NOT NULL,
     created_by    TEXT NOT NULL,
     comment       TEXT NOT NULL,
     created_at_ms INTEGER NOT NULL
   );
   CREATE TABLE recent_readings (
     device   TEXT NOT NULL,
     sensor   TEXT NOT NULL,
     quantity TEXT NOT NULL,
     time_ms  INTEGER NOT NULL,
     village  TEXT NOT NULL,
     value    REAL NOT NULL,
     PRIMARY KEY (device, quantity, time_ms, sensor)
   ) WITHOUT ROWID;
   CREATE INDEX recent_readings_village ON recent_readings(village, quantity, time_ms);
   CREATE INDEX recent_readings_time ON recent_readings(time_ms);
   CREATE TABLE device_seen (
     device       TEXT PRIMARY KEY,
     village      TEXT NOT NULL,
     last_ms      INTEGER NOT NULL,
     status       TEXT,
     status_at_ms INTEGER
   );
   CREATE TABLE weather_days (
     village      TEXT NOT NULL,
     day_start_ms INTEGER NOT NULL,
     summary      TEXT NOT NULL,
     closed       INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (village, day_start_ms)
   );
   CREATE TABLE irrigation_advice (
     field        TEXT NOT NULL,
     day_start_ms INTEGER NOT NULL,
     detail       TEXT NOT NULL,
     PRIMARY KEY (field, day_start_ms)
   );
   CREATE TABLE alert_events (
     id             INTEGER PRIMARY KEY AUTOINCREMENT,
     measurement    TEXT NOT NULL,
     time_ms        INTEGER NOT NULL,
     tags           TEXT NOT NULL,
     fields         TEXT NOT NULL,
     exported_at_ms INTEGER
   );
   CREATE INDEX alert_events_unexported ON alert_events(id) WHERE exported_at_ms IS NULL;`,
  // Alerts (issue 13, "fields know their soil and season"): a field's soil (FAO-56 Table 19 texture
  // or measured FC/WP, root depth, p, probe calibration; JSON), its variety's season length, its
  // own threshold overrides (JSON); and the water farmers applied (SUDAH / AIR <mm> replies) or a
  // probe saw arrive, which restarts the irrigation balance. Belongs to the alerts migration list.
  `ALTER TABLE fields ADD COLUMN soil TEXT;
   ALTER TABLE fields ADD COLUMN season_days INTEGER;
   ALTER TABLE fields ADD COLUMN thresholds TEXT;
   CREATE TABLE field_water (
     id     INTEGER PRIMARY KEY AUTOINCREMENT,
     field  TEXT NOT NULL REFERENCES fields(id),
     at_ms  INTEGER NOT NULL,
     mm     REAL,
     source TEXT NOT NULL
   );
   CREATE INDEX field_water_field ON field_water(field, at_ms);`,
]

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
    const db = new Database(this.opts.path)
    db.pragma('journal_mode = WAL')
    // Explicitly: better-sqlite3 is built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, so a file that is
    // already in WAL mode would open with NORMAL (no fsync per commit), a new one with FULL. Alert
    // state and deliveries must survive a power cut as the outbox's idempotency keys do (the
    // alerts engine commits only its look-back history with NORMAL, on purpose).
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    const from = db.pragma('user_version', { simple: true }) as number
    for (let version = from; version < MIGRATIONS.length; version++) {
      db.transaction(() => {
        db.exec(MIGRATIONS[version]!)
        db.pragma(`user_version = ${version + 1}`)
      })()
    }
    if (from < MIGRATIONS.length) log.info({ from, to: MIGRATIONS.length }, 'registry schema migrated')
    this.db = db
    return Promise.resolve()
  }

  stop(): Promise<void> {
    this.db?.close()
    this.db = undefined
    this.verified.clear()
    return Promise.resolve()
  }

  /** The SQLite handle, for capabilities whose tables these migrations create (src/oksigen). */
  database(): Database.Database {
    return this.open()
  }

  /** How many migrations have run on this database. */
  schemaVersion(): number {
    return this.open().pragma('user_version', { simple: true }) as number
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
