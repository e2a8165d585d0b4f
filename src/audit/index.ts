export {
  AUDIT_CSV_COLUMNS,
  type AuditActor,
  type AuditEntry,
  AuditLog,
  type AuditQuery,
  auditCsvRecord,
  cliActor,
  redact,
} from './audit-log.ts'
export { auditTables } from './schema.ts'
