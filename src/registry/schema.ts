import type { CapabilitySchema } from './migrate.ts'

// Villages and devices (src/registry).
// The SQL text is kept byte for byte as it shipped: sqlite_master stores it, and an upgraded
// file's schema must equal a fresh one's (tests/registry/migrate.test.ts).
export const registryTables: CapabilitySchema = {
  capability: 'registry',
  legacyUserVersion: 1,
  migrations: [
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
  ],
}
