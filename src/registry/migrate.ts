import type Database from 'better-sqlite3'
import { KampungError } from '../errors.ts'

/**
 * The SQLite tables one capability owns, as an ordered list of migrations. Each capability exports
 * its own from its folder (`src/<capability>/schema.ts`); the registry runs them without knowing
 * who they belong to. Append to `migrations`, never edit an entry that has shipped.
 */
export interface CapabilitySchema {
  /** Key in `schema_migrations`; the folder name (`registry`, `oksigen`, `console`, `alerts`). */
  capability: string
  migrations: readonly string[]
  /**
   * Until December 2026 one list in src/registry ran every capability's first migration and
   * counted them in `PRAGMA user_version`. A file whose user_version is at least this number
   * already has this capability's migration 1: it is recorded as applied instead of run again.
   */
  legacyUserVersion?: number
}

const LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations (
  capability    TEXT NOT NULL,
  version       INTEGER NOT NULL,
  applied_at_ms INTEGER NOT NULL,
  PRIMARY KEY (capability, version)
)`

export interface MigrationStep {
  capability: string
  from: number
  to: number
  /** Migration 1 was found already applied by the old single list (`PRAGMA user_version`). */
  adopted?: true
}

/** The version each capability has reached in this file (capabilities never migrated are absent). */
export function schemaVersions(db: Database.Database): Record<string, number> {
  const ledger = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    .get()
  if (!ledger) return {}
  const rows = db
    .prepare('SELECT capability, MAX(version) AS version FROM schema_migrations GROUP BY capability')
    .all() as Array<{ capability: string; version: number }>
  return Object.fromEntries(rows.map((r) => [r.capability, r.version]))
}

/**
 * Brings every capability in `schemas` to its latest version, in list order (a capability whose
 * tables reference another's comes after it). One IMMEDIATE transaction, ledger rows with the
 * migrations: a crash leaves the file as it was, and processes starting at once on one file (after
 * an upgrade, the ingest, state and API units together) take turns, each reading the versions the
 * one before it left (no "duplicate column"). Returns what was run.
 */
export function migrate(db: Database.Database, schemas: readonly CapabilitySchema[]): MigrationStep[] {
  return db.transaction(() => migrateInTransaction(db, schemas)).immediate()
}

function migrateInTransaction(db: Database.Database, schemas: readonly CapabilitySchema[]): MigrationStep[] {
  const seen = new Set<string>()
  for (const s of schemas) {
    if (seen.has(s.capability)) {
      throw new KampungError('schema_duplicate', `capability "${s.capability}" is listed twice`, {
        retryable: false,
      })
    }
    seen.add(s.capability)
  }
  db.exec(LEDGER)
  const legacyVersion = db.pragma('user_version', { simple: true }) as number
  const now = Date.now()
  const record = db.prepare(
    'INSERT INTO schema_migrations (capability, version, applied_at_ms) VALUES (?, ?, ?)',
  )
  const steps: MigrationStep[] = []
  for (const schema of schemas) {
    let from = schemaVersions(db)[schema.capability] ?? 0
    let adopted = false
    if (from === 0 && schema.legacyUserVersion !== undefined && legacyVersion >= schema.legacyUserVersion) {
      // Migration 1 ran under the single user_version list: adopt it, do not run it again.
      record.run(schema.capability, 1, now)
      from = 1
      adopted = true
    }
    if (from > schema.migrations.length) {
      throw new KampungError(
        'schema_too_new',
        `${schema.capability} tables are at version ${from}, this program knows ${schema.migrations.length}: run a newer kampung`,
        { retryable: false },
      )
    }
    for (let version = from; version < schema.migrations.length; version++) {
      db.transaction(() => {
        db.exec(schema.migrations[version]!)
        record.run(schema.capability, version + 1, now)
      })()
    }
    if (adopted) steps.push({ capability: schema.capability, from: 0, to: 1, adopted: true })
    if (from < schema.migrations.length)
      steps.push({ capability: schema.capability, from, to: schema.migrations.length })
  }
  return steps
}
