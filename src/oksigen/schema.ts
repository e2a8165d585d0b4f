import type { CapabilitySchema } from '../registry/index.ts'

// Sedekah Oksigen (src/oksigen): planted trees, certificate applications, every decision taken
// on a tree with its reason and data, the tree's processing state, signed records.
// The SQL text is kept byte for byte as it shipped: sqlite_master stores it, and an upgraded
// file's schema must equal a fresh one's (tests/registry/migrate.test.ts).
export const oksigenTables: CapabilitySchema = {
  capability: 'oksigen',
  legacyUserVersion: 2,
  migrations: [
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
    // Issue 14: the dendrometer's mounting height, and the officers' measurements of a tree (DBH at
    // 1.3 m, height) with the tree's GRO when each was recorded, so biomass uses DBH = measured DBH
    // + growth since (src/oksigen/estimate.ts).
    `ALTER TABLE trees ADD COLUMN mount_height_cm REAL;
   CREATE TABLE tree_measurements (
     id        INTEGER PRIMARY KEY AUTOINCREMENT,
     tree      TEXT NOT NULL REFERENCES trees(id),
     at_ms     INTEGER NOT NULL,
     dbh_cm    REAL,
     height_m  REAL,
     gro_um_at REAL NOT NULL,
     by        TEXT NOT NULL
   );
   CREATE INDEX tree_measurements_tree ON tree_measurements(tree, at_ms);`,
  ],
}
