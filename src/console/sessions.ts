import { createHash, randomBytes } from 'node:crypto'
import type Database from 'better-sqlite3'
import type { Registry } from '../registry/index.ts'
import type { UserRole } from './users.ts'

/** 32 random bytes: the cookie token and the CSRF token are each 256 bits. */
const TOKEN_BYTES = 32

export interface SessionOptions {
  /** A session unused this long is over. */
  idleMs: number
  /** Any session is over this long after login. */
  absoluteMs: number
  /** The wall clock (tests replace it). */
  clock?: () => number
}

export interface Session {
  user: string
  role: UserRole
  /** The user's villages, read at every request (a change applies at once); admins see all regardless. */
  villages: string[]
  /** Sent by the page with every state-changing request (header X-CSRF-Token), checked here. */
  csrfToken: string
  createdAtMs: number
  expiresAtMs: number
}

interface SessionRow {
  token_hash: string
  user: string
  role: string
  villages: string | null
  csrf_token: string
  created_at_ms: number
  last_seen_ms: number
}

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex')

/**
 * Login sessions in the registry's SQLite database: the cookie holds a random token, the table
 * only its SHA-256. A session ends after `idleMs` without use or `absoluteMs` after login,
 * whichever comes first; an ended session is deleted when next seen, and all ended ones at each login.
 */
export class SessionStore {
  private readonly registry: Registry
  private readonly opts: SessionOptions

  constructor(registry: Registry, opts: SessionOptions) {
    this.registry = registry
    this.opts = opts
  }

  private get db(): Database.Database {
    return this.registry.database()
  }

  private now(): number {
    return (this.opts.clock ?? Date.now)()
  }

  /** A new session for `user`; the token goes into the cookie and is never stored. */
  create(user: string): { token: string; csrfToken: string } {
    const now = this.now()
    const token = randomBytes(TOKEN_BYTES).toString('base64url')
    const csrfToken = randomBytes(TOKEN_BYTES).toString('base64url')
    this.db
      .prepare('DELETE FROM sessions WHERE last_seen_ms < ? OR created_at_ms < ?')
      .run(now - this.opts.idleMs, now - this.opts.absoluteMs)
    this.db
      .prepare(
        'INSERT INTO sessions (token_hash, user, csrf_token, created_at_ms, last_seen_ms) VALUES (?, ?, ?, ?, ?)',
      )
      .run(hashToken(token), user, csrfToken, now, now)
    return { token, csrfToken }
  }

  /** The live session of a cookie token (and it counts as used now), or undefined. */
  lookup(token: string): Session | undefined {
    const now = this.now()
    const hash = hashToken(token)
    const row = this.db
      .prepare(
        `SELECT sessions.*, users.role AS role,
           (SELECT group_concat(village, ',') FROM user_villages WHERE user_villages.user = sessions.user) AS villages
         FROM sessions JOIN users ON users.id = sessions.user
         WHERE token_hash = ?`,
      )
      .get(hash) as SessionRow | undefined
    if (!row) return undefined
    if (now - row.last_seen_ms > this.opts.idleMs || now - row.created_at_ms > this.opts.absoluteMs) {
      this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(hash)
      return undefined
    }
    this.db.prepare('UPDATE sessions SET last_seen_ms = ? WHERE token_hash = ?').run(now, hash)
    return {
      user: row.user,
      role: row.role as UserRole,
      villages: row.villages ? row.villages.split(',').sort() : [],
      csrfToken: row.csrf_token,
      createdAtMs: row.created_at_ms,
      expiresAtMs: Math.min(now + this.opts.idleMs, row.created_at_ms + this.opts.absoluteMs),
    }
  }

  /** Logout. */
  destroy(token: string): void {
    this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(hashToken(token))
  }

  /** How many sessions a user has open (expired ones not yet swept included). */
  countFor(user: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM sessions WHERE user = ?').get(user) as { n: number }).n
  }
}
