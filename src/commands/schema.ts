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
