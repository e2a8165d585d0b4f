import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Directory } from '../../src/alerts/index.ts'
import { UserStore } from '../../src/console/index.ts'
import { TreeRepo } from '../../src/oksigen/index.ts'
import {
  type CapabilitySchema,
  migrate,
  Registry,
  registryTables,
  schemaVersions,
} from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import { runAtOnce } from '../harness/process.ts'

const FIXTURES = path.join(import.meta.dirname, 'fixtures')
// Every capability at its latest version (oksigen 2: issue 14's DBH measurements; alerts 2: issue
// 13's soil and season; console 2: issue 16's language per user; console 3: issue 16's officer villages;
// alerts 3: issue 15's history journal; alerts 4: alert events InfluxDB refused for good;
// alerts 5: issue 17's field valves and farmers' valve commands).
const ALL_AT_1 = {
  registry: 1,
  ...Object.fromEntries(SCHEMAS.map((s) => [s.capability, s.migrations.length])),
}

/** Every table, index and trigger with its SQL as SQLite stores it (root pages differ, so left out). */
function schemaOf(file: string): Array<{ type: string; name: string; tbl_name: string; sql: string | null }> {
  const db = new Database(file, { readonly: true })
  try {
    return db
      .prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name')
      .all() as Array<{ type: string; name: string; tbl_name: string; sql: string | null }>
  } finally {
    db.close()
  }
}

describe('schema migrations keyed by capability', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-migrate-'))
  })
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  async function open(file: string, schemas: readonly CapabilitySchema[] = SCHEMAS): Promise<Registry> {
    const registry = new Registry({ path: file, schemas })
    await registry.start()
    return registry
  }

  async function freshSchema() {
    const file = path.join(dir, 'fresh.db')
    const registry = await open(file)
    expect(registry.schemaVersions()).toEqual(ALL_AT_1)
    await registry.stop()
    return schemaOf(file)
  }

  it('a fresh file gets every capability at its latest version, each recorded once', async () => {
    const schema = await freshSchema()
    const tables = schema.filter((o) => o.type === 'table').map((o) => o.name)
    expect(tables).toEqual(
      expect.arrayContaining(['villages', 'devices', 'trees', 'users', 'fields', 'alerts']),
    )
    expect(tables).toContain('schema_migrations')
    const registry = await open(path.join(dir, 'fresh.db'))
    const rows = registry
      .database()
      .prepare('SELECT capability, version FROM schema_migrations ORDER BY capability')
      .all()
    expect(rows).toEqual([
      { capability: 'alerts', version: 1 },
      { capability: 'alerts', version: 2 },
      { capability: 'alerts', version: 3 },
      { capability: 'alerts', version: 4 },
      { capability: 'alerts', version: 5 },
      { capability: 'alerts', version: 6 },
      { capability: 'audit', version: 1 },
      { capability: 'commands', version: 1 },
      { capability: 'console', version: 1 },
      { capability: 'console', version: 2 },
      { capability: 'console', version: 3 },
      { capability: 'device_config', version: 1 },
      { capability: 'lorawan', version: 1 },
      { capability: 'oksigen', version: 1 },
      { capability: 'oksigen', version: 2 },
      { capability: 'registry', version: 1 },
    ])
    await registry.stop()
  })

  // Files written by the code of 0d72874 (tests/registry/fixtures/make-legacy.ts): user_version 4 is
  // what every installation of that main has; 1 to 3 are files an older main left behind.
  for (const legacy of [1, 2, 3, 4]) {
    it(`upgrades a file at user_version ${legacy} in place: data intact, schema equal to a fresh file's`, async () => {
      const fresh = await freshSchema()
      const file = path.join(dir, `legacy-v${legacy}.db`)
      copyFileSync(path.join(FIXTURES, `legacy-v${legacy}.sqlite`), file)
      expect(new Database(file, { readonly: true }).pragma('user_version', { simple: true })).toBe(legacy)

      const registry = await open(file)
      expect(registry.schemaVersions()).toEqual(ALL_AT_1)
      expect(registry.listVillages()).toEqual([
        { id: 'kemiren', name: 'Desa Kemiren' },
        { id: 'licin', name: 'Desa Licin' },
      ])
      expect(registry.listDevices().map((d) => d.id)).toEqual(['dendro-01', 'soil-01', 'gw-licin'])
      expect(registry.getDevice('soil-01')).toMatchObject({
        kind: 'soil',
        format: 'lpp',
        lat: -8.21,
        channels: { '1': { quantity: 'soil_moisture', sensor: 'probe1' } },
      })
      const trees = new TreeRepo(registry, `${file}.pseudonym.key`)
      const users = new UserStore(registry)
      const directory = new Directory({ registry, quietHours: { start: '21:00', end: '06:00' } })
      if (legacy >= 2) {
        expect(trees.getTree('tree-durian-1')).toMatchObject({
          device: 'dendro-01',
          species: 'durian',
          initialDiameterMm: 42.5,
        })
      } else {
        expect(trees.listTrees()).toEqual([]) // the table is new and empty
      }
      if (legacy >= 3) {
        expect(users.list().map((u) => [u.id, u.role])).toEqual([
          ['ayu', 'officer'],
          ['budi', 'admin'],
        ])
        // The password hash written by the old code still checks.
        const login = await users.login('ayu', 'kemiren-sawah-2026', {
          maxFailedLogins: 5,
          lockoutMs: 60_000,
        })
        expect(login).toMatchObject({ ok: true })
      } else {
        expect(users.list()).toEqual([])
      }
      if (legacy >= 4) {
        expect(directory.getField('sawah-1')).toMatchObject({
          name: 'SAWAH1',
          crop: 'rice',
          devices: ['soil-01'],
        })
        expect(registry.database().prepare('SELECT rule, subject, state, value FROM alerts').all()).toEqual([
          { rule: 'soil_dry', subject: 'sawah-1', state: 'firing', value: 11.5 },
        ])
      } else {
        expect(directory.listFields()).toEqual([])
      }
      await registry.stop()

      expect(schemaOf(file)).toEqual(fresh)
      // Opening again runs nothing.
      const again = new Database(file)
      expect(migrate(again, [registryTables, ...SCHEMAS])).toEqual([])
      again.close()
    })
  }

  it('a capability first opened later is created then, and adopted tables are never created twice', async () => {
    const file = path.join(dir, 'later.db')
    copyFileSync(path.join(FIXTURES, 'legacy-v4.sqlite'), file)
    // A tool that needs only villages and devices opens the old file first...
    const db = new Database(file)
    expect(migrate(db, [registryTables])).toEqual([{ capability: 'registry', from: 0, to: 1, adopted: true }])
    db.close()
    const registryOnly = await open(file, [])
    expect(registryOnly.schemaVersions()).toEqual({ registry: 1 })
    await registryOnly.stop()
    // ...then the service: the other capabilities' tables exist (user_version 4) and are adopted.
    const all = await open(file)
    expect(all.schemaVersions()).toEqual(ALL_AT_1)
    expect(all.listDevices()).toHaveLength(3)
    await all.stop()
  })

  it('runs only the migrations appended since, each with its ledger row in one transaction', () => {
    const db = new Database(':memory:')
    const v1: CapabilitySchema = { capability: 'demo', migrations: ['CREATE TABLE a (x INTEGER)'] }
    expect(migrate(db, [v1])).toEqual([{ capability: 'demo', from: 0, to: 1 }])
    const v2 = { ...v1, migrations: [...v1.migrations, 'ALTER TABLE a ADD COLUMN y TEXT'] }
    expect(migrate(db, [v2])).toEqual([{ capability: 'demo', from: 1, to: 2 }])
    expect(schemaVersions(db)).toEqual({ demo: 2 })

    const broken = {
      ...v2,
      migrations: [...v2.migrations, 'CREATE TABLE b (z INTEGER); CREATE TABLE a (again)'],
    }
    expect(() => migrate(db, [broken])).toThrow(/already exists/)
    expect(schemaVersions(db)).toEqual({ demo: 2 })
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'b'").get()).toBeUndefined()

    expect(() => migrate(db, [v1])).toThrow(expect.objectContaining({ code: 'schema_too_new' }))
    expect(() => migrate(db, [v2, v2])).toThrow(expect.objectContaining({ code: 'schema_duplicate' }))
    db.close()
  })

  it('the registry lists no other capability: each capability owns its tables', () => {
    const owners = new Map<string, string>()
    for (const schema of [registryTables, ...SCHEMAS]) {
      const db = new Database(':memory:')
      // Each capability's tables, created on top of the ones it comes after.
      const before = [registryTables, ...SCHEMAS].slice(0, [registryTables, ...SCHEMAS].indexOf(schema))
      migrate(db, before)
      const existing = new Set(
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all(),
      )
      migrate(db, [schema])
      for (const name of db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .pluck()
        .all() as string[]) {
        if (!existing.has(name) && name !== 'sqlite_sequence') owners.set(name, schema.capability)
      }
      db.close()
    }
    const ownedBy = (capability: string) => [...owners].filter(([, c]) => c === capability).map(([t]) => t)
    expect(ownedBy('registry').sort()).toEqual(['devices', 'villages'])
    expect(ownedBy('oksigen')).toContain('trees')
    expect(ownedBy('console').sort()).toEqual(['sessions', 'user_villages', 'users'])
    expect(ownedBy('alerts')).toContain('alert_events')
    expect(ownedBy('audit')).toEqual(['audit_log'])
    expect(ownedBy('commands')).toEqual(['commands'])
    expect(ownedBy('lorawan')).toEqual(['lorawan_devices'])
    expect(ownedBy('device_config').sort()).toEqual(['device_config', 'device_config_reported'])
    expect(SCHEMAS.map((s) => s.capability)).toEqual([
      'oksigen',
      'console',
      'alerts',
      'audit',
      'commands',
      'lorawan',
      'device_config',
    ])
  })

  it('processes opening one fresh file at once take turns: each migration runs once, none fails', async () => {
    // After an upgrade systemd starts the ingest, state and API units together on one registry.
    const file = path.join(dir, 'shared.db')
    const runs = await runAtOnce(
      4,
      "import { Registry } from './src/registry/index.ts'; import { SCHEMAS } from './src/schemas.ts'",
      'const r = new Registry({ path: FILE, schemas: SCHEMAS }); await r.start(); await r.stop()',
      file,
    )
    expect(runs).toEqual(Array.from({ length: 4 }, () => ({ code: 0, err: '' })))
    const registry = await open(file)
    const counts = registry
      .database()
      .prepare(
        'SELECT capability, version, COUNT(*) AS n FROM schema_migrations GROUP BY capability, version',
      )
      .all() as Array<{ n: number }>
    expect(counts.every((c) => c.n === 1)).toBe(true)
    expect(registry.schemaVersions()).toEqual(ALL_AT_1)
    await registry.stop()
  }, 60_000)
})
