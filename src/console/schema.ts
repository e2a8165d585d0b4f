import type { CapabilitySchema } from '../registry/index.ts'

// Officer console (src/console): people who log in (officer | admin) and their sessions. A
// session is kept only as the SHA-256 of its cookie token, so a copy of this file logs no one in.
// The SQL text is kept byte for byte as it shipped: sqlite_master stores it, and an upgraded
// file's schema must equal a fresh one's (tests/registry/migrate.test.ts).
export const consoleTables: CapabilitySchema = {
  capability: 'console',
  legacyUserVersion: 3,
  migrations: [
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
    // The console's language per user (issue 16): NULL follows console.defaultLanguage.
    'ALTER TABLE users ADD COLUMN language TEXT',
    // The villages an officer sees and acts in (issue 16); none: nothing. Admins see every village.
    `CREATE TABLE user_villages (
     user    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     village TEXT NOT NULL,
     PRIMARY KEY (user, village)
   )`,
  ],
}
