import type { CapabilitySchema } from '../registry/index.ts'

// Commands to devices (src/commands): one row per client-given command id. `content` is the
// canonical JSON of what was asked (device, kind, params, expiry as asked), so a repeated id is
// compared byte for byte. States: queued → sent → acknowledged | failed | expired.
export const commandsTables: CapabilitySchema = {
  capability: 'commands',
  migrations: [
    `CREATE TABLE commands (
     id             TEXT PRIMARY KEY,
     device         TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
     kind           TEXT NOT NULL,
     params         TEXT NOT NULL,
     content        TEXT NOT NULL,
     state          TEXT NOT NULL,
     created_by     TEXT,
     created_at_ms  INTEGER NOT NULL,
     expires_at_ms  INTEGER NOT NULL,
     sent_at_ms     INTEGER,
     sends          INTEGER NOT NULL DEFAULT 0,
     done_at_ms     INTEGER,
     acks           INTEGER NOT NULL DEFAULT 0,
     error          TEXT
   );
   CREATE INDEX commands_device ON commands(device, created_at_ms);
   CREATE INDEX commands_open ON commands(state, expires_at_ms) WHERE state IN ('queued', 'sent');`,
  ],
}

// Versioned node configuration (src/commands/config.ts), a schema of its own so that the commands
// table's migrations stay apart: every desired version per device (monotonic, never reused while
// the device exists) with the set_config command that carries it, and the latest configuration
// each node reported as applied.
export const deviceConfigTables: CapabilitySchema = {
  capability: 'device_config',
  migrations: [
    `CREATE TABLE device_config (
     device         TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
     version        INTEGER NOT NULL,
     settings       TEXT NOT NULL,
     command_id     TEXT NOT NULL,
     created_by     TEXT,
     created_at_ms  INTEGER NOT NULL,
     PRIMARY KEY (device, version)
   );
   CREATE TABLE device_config_reported (
     device         TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
     version        INTEGER NOT NULL,
     settings       TEXT NOT NULL,
     command_id     TEXT,
     reported_at_ms INTEGER NOT NULL
   );`,
  ],
}
