import type Database from 'better-sqlite3'
import { KampungError } from '../../errors.ts'
import { openSqlite, sqliteFault } from '../../files.ts'
import type { Reading } from '../../telemetry/index.ts'
import { isQuantity } from '../../telemetry/index.ts'
import type { ReadingQuery, TelemetryStore } from '../types.ts'

export interface SqliteStoreOptions {
  /** Database file, or `:memory:` (tests only: nothing is durable). */
  path: string
  /** `FULL` (default) fsyncs every commit, so a resolved write survives power loss; `NORMAL` only a crash. */
  synchronous?: 'FULL' | 'NORMAL'
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS readings (
  quantity TEXT NOT NULL,
  village  TEXT NOT NULL,
  device   TEXT NOT NULL,
  sensor   TEXT NOT NULL,
  time_ms  INTEGER NOT NULL,
  value    REAL NOT NULL,
  PRIMARY KEY (quantity, village, device, sensor, time_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_time ON readings (quantity, time_ms);
`

interface Row {
  village: string
  device: string
  sensor: string
  time_ms: number
  value: number
}

/** The embedded TelemetryStore used when no InfluxDB is configured: one SQLite table. */
export class SqliteStore implements TelemetryStore {
  readonly name = 'sqlite'
  private readonly options: Required<SqliteStoreOptions>
  private db: Database.Database | undefined
  private insert: Database.Statement | undefined

  constructor(options: SqliteStoreOptions) {
    this.options = { synchronous: 'FULL', ...options }
  }

  async start(): Promise<void> {
    if (this.db) return
    const { path, synchronous } = this.options
    // 0600, WAL; a damaged file or write-ahead log is refused by name (src/files.ts).
    const db = openSqlite(path, {
      what: 'telemetry store',
      init: (db) => {
        db.pragma(`synchronous = ${synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`)
        db.exec(SCHEMA)
      },
    })
    this.insert = db.prepare(
      // Same key again replaces the point: redelivery never creates a second one.
      'INSERT OR REPLACE INTO readings (quantity, village, device, sensor, time_ms, value) VALUES (?, ?, ?, ?, ?, ?)',
    )
    this.db = db
  }

  async stop(): Promise<void> {
    this.db?.close()
    this.db = undefined
    this.insert = undefined
  }

  async write(readings: readonly Reading[]): Promise<void> {
    if (readings.length === 0) return
    const db = this.open()
    const insert = this.insert!
    try {
      db.transaction(() => {
        for (const r of readings) insert.run(r.quantity, r.village, r.device, r.sensor, r.timeMs, r.value)
      })()
    } catch (err) {
      // A full disk or an I/O error is retryable (the messages are not acknowledged and come again).
      throw sqliteFault(err, this.options.path, 'telemetry store')
    }
  }

  async query(q: ReadingQuery): Promise<Reading[]> {
    const { where, params } = this.where(q)
    const limit = q.limit !== undefined ? ` LIMIT ${checkLimit(q.limit)}` : ''
    const rows = this.open()
      .prepare(
        `SELECT village, device, sensor, time_ms, value FROM readings WHERE ${where}
         ORDER BY time_ms, village, device, sensor${limit}`,
      )
      .all(...params) as Row[]
    return rows.map((row) => ({
      timeMs: row.time_ms,
      village: row.village,
      device: row.device,
      sensor: row.sensor,
      quantity: q.quantity,
      value: row.value,
    }))
  }

  async count(q: ReadingQuery): Promise<number> {
    const { where, params } = this.where(q)
    const row = this.open()
      .prepare(`SELECT count(*) AS n FROM readings WHERE ${where}`)
      .get(...params) as { n: number }
    return q.limit !== undefined ? Math.min(row.n, checkLimit(q.limit)) : row.n
  }

  private where(q: ReadingQuery): { where: string; params: Array<string | number> } {
    if (!isQuantity(q.quantity)) {
      throw new KampungError('invalid_query', `unknown quantity ${String(q.quantity)}`, { retryable: false })
    }
    const conditions = ['quantity = ?']
    const params: Array<string | number> = [q.quantity]
    for (const key of ['village', 'device', 'sensor'] as const) {
      const value = q[key]
      if (value !== undefined) {
        conditions.push(`${key} = ?`)
        params.push(value)
      }
    }
    if (q.fromMs !== undefined) {
      conditions.push('time_ms >= ?')
      params.push(q.fromMs)
    }
    if (q.toMs !== undefined) {
      conditions.push('time_ms < ?')
      params.push(q.toMs)
    }
    return { where: conditions.join(' AND '), params }
  }

  private open(): Database.Database {
    if (!this.db) throw new KampungError('store_stopped', 'SqliteStore is not started', { retryable: false })
    return this.db
  }
}

function checkLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new KampungError('invalid_query', `bad limit ${limit}`, { retryable: false })
  }
  return limit
}
