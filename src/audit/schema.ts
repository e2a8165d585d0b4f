import type { CapabilitySchema } from '../registry/index.ts'

// Audit log (src/audit): who changed what, when, from where. Append-only: the triggers refuse any
// UPDATE or DELETE, so not even a bug in another capability can rewrite history through SQL.
// Append to `migrations`, never edit an entry that has shipped.
export const auditTables: CapabilitySchema = {
  capability: 'audit',
  migrations: [
    `CREATE TABLE audit_log (
     id         INTEGER PRIMARY KEY AUTOINCREMENT,
     at_ms      INTEGER NOT NULL,
     actor_kind TEXT NOT NULL,
     actor      TEXT NOT NULL,
     address    TEXT NOT NULL,
     action     TEXT NOT NULL,
     target     TEXT NOT NULL,
     detail     TEXT NOT NULL
   );
   CREATE INDEX audit_log_at ON audit_log(at_ms);
   CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
   BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
   CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
   BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;`,
  ],
}
