import os from 'node:os'
import type Database from 'better-sqlite3'
import type { Registry } from '../registry/index.ts'

/**
 * Who acted: a console user, a `service` account or device (HTTP Basic), or someone at the
 * command line (`cli`, id = the OS user). `address` is the client address (req.ip, so behind a
 * trusted proxy the real client) or `cli`.
 */
export interface AuditActor {
  kind: string
  id: string
  address: string
}

export interface AuditEntry {
  id: number
  atMs: number
  actorKind: string
  /** `<id>` for users and devices, `cli:<os user>` at the command line. */
  actor: string
  address: string
  /** What was done, `<thing>.<verb>`: `device.add`, `user.password`, `tree.decide`… */
  action: string
  /** What it was done to (a device, user, tree, alert id…). */
  target: string
  /** A short description of the change, never a secret (see `redact`). */
  detail: Record<string, unknown>
}

export interface AuditQuery {
  fromMs?: number
  toMs?: number
  /** Only this actor's entries. */
  actor?: string
  /** Newest first, at most this many (list only; stream returns all, oldest first). */
  limit?: number
}

/** Keys never written to an entry, at any depth: credentials and what identifies a person. */
const SECRET_KEY = /secret|password|token|hash|phone|reference/i
/** A detail longer than this is cut: an entry says what changed, it is not a copy of the body. */
const MAX_DETAIL_CHARS = 2000
/** Rows read at a time by `stream`. */
const STREAM_PAGE = 500

/** A copy of `value` without secret-looking keys. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact)
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([k, v]) => !SECRET_KEY.test(k) && v !== undefined)
        .map(([k, v]) => [k, redact(v)]),
    )
  return value
}

/** The person at the command line: `cli:<os user>`, address `cli`. */
export function cliActor(): AuditActor {
  let user = process.env.SUDO_USER || process.env.USER || ''
  try {
    user ||= os.userInfo().username
  } catch {
    user ||= 'unknown'
  }
  return { kind: 'cli', id: `cli:${user}`, address: 'cli' }
}

interface Row {
  id: number
  at_ms: number
  actor_kind: string
  actor: string
  address: string
  action: string
  target: string
  detail: string
}

const toEntry = (r: Row): AuditEntry => ({
  id: r.id,
  atMs: r.at_ms,
  actorKind: r.actor_kind,
  actor: r.actor,
  address: r.address,
  action: r.action,
  target: r.target,
  detail: JSON.parse(r.detail) as Record<string, unknown>,
})

/**
 * The audit log in the registry's SQLite file (table `audit_log`, src/audit/schema.ts). Only
 * `record` writes, and only appends; nothing here or in the API edits or deletes an entry.
 * Constructor assigns; the registry must be started.
 */
export class AuditLog {
  private readonly registry: Registry
  private readonly clock: () => number

  constructor(registry: Registry, clock: () => number = Date.now) {
    this.registry = registry
    this.clock = clock
  }

  private get db(): Database.Database {
    return this.registry.database()
  }

  record(
    actor: AuditActor,
    action: string,
    target: string,
    detail: Record<string, unknown> = {},
  ): AuditEntry {
    let text = JSON.stringify(redact(detail))
    if (text.length > MAX_DETAIL_CHARS) text = JSON.stringify({ truncated: text.slice(0, MAX_DETAIL_CHARS) })
    const atMs = this.clock()
    const { lastInsertRowid } = this.db
      .prepare(
        'INSERT INTO audit_log (at_ms, actor_kind, actor, address, action, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(atMs, actor.kind, actor.id, actor.address, action, target, text)
    return toEntry({
      id: Number(lastInsertRowid),
      at_ms: atMs,
      actor_kind: actor.kind,
      actor: actor.id,
      address: actor.address,
      action,
      target,
      detail: text,
    })
  }

  private where(q: AuditQuery): { sql: string; args: unknown[] } {
    const clauses: string[] = []
    const args: unknown[] = []
    if (q.fromMs !== undefined) clauses.push('at_ms >= ?') && args.push(q.fromMs)
    if (q.toMs !== undefined) clauses.push('at_ms < ?') && args.push(q.toMs)
    if (q.actor !== undefined) clauses.push('actor = ?') && args.push(q.actor)
    return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', args }
  }

  /** Newest first, at most `limit` (default 500). */
  list(q: AuditQuery = {}): AuditEntry[] {
    const { sql, args } = this.where(q)
    return (
      this.db
        .prepare(`SELECT * FROM audit_log ${sql} ORDER BY id DESC LIMIT ?`)
        .all(...args, q.limit ?? 500) as Row[]
    ).map(toEntry)
  }

  /**
   * Every matching entry, oldest first, read in pages of `STREAM_PAGE` rows: memory stays bounded,
   * and no statement stays open between pages (better-sqlite3 refuses other queries on the
   * connection while one iterates, and a CSV export waits for its client between pages).
   */
  *stream(q: AuditQuery = {}): Generator<AuditEntry> {
    const { sql, args } = this.where(q)
    const page = this.db.prepare(
      `SELECT * FROM audit_log ${sql ? `${sql} AND` : 'WHERE'} id > ? ORDER BY id LIMIT ${STREAM_PAGE}`,
    )
    let after = 0
    for (;;) {
      const rows = page.all(...args, after) as Row[]
      for (const row of rows) yield toEntry(row)
      if (rows.length < STREAM_PAGE) return
      after = rows[rows.length - 1]!.id
    }
  }
}

/** The CSV columns of an export, in order. */
export const AUDIT_CSV_COLUMNS = [
  'id',
  'time',
  'actor_kind',
  'actor',
  'address',
  'action',
  'target',
  'detail',
]

/** One entry as a CSV record (time in ISO 8601 UTC, detail as its JSON). */
export function auditCsvRecord(e: AuditEntry): string[] {
  return [
    String(e.id),
    new Date(e.atMs).toISOString(),
    e.actorKind,
    e.actor,
    e.address,
    e.action,
    e.target,
    JSON.stringify(e.detail),
  ]
}
