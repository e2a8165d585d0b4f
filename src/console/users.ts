import type Database from 'better-sqlite3'
import { KampungError } from '../errors.ts'
import type { Registry } from '../registry/index.ts'
import { hashSecret, ID_PATTERN, verifyHash } from '../registry/index.ts'

export const USER_ROLES = ['officer', 'admin'] as const
export type UserRole = (typeof USER_ROLES)[number]

/** The console's languages: Bahasa Indonesia (the default) and English. */
export const CONSOLE_LANGUAGES = ['id', 'en'] as const
export type ConsoleLanguage = (typeof CONSOLE_LANGUAGES)[number]
const isLanguage = (v: unknown): v is ConsoleLanguage => (CONSOLE_LANGUAGES as readonly unknown[]).includes(v)

/**
 * People's passwords are guessable, unlike device secrets: they pay Node's default scrypt cost
 * (N=2^14, 16 MiB, about 70 ms a check on this 2-core machine), which only logins pay.
 */
const PASSWORD_SCRYPT = { N: 16_384, r: 8, p: 1 } as const
/** NIST SP 800-63B asks for at least 8; officers' accounts release certificates, so 10. */
export const MIN_PASSWORD_LENGTH = 10
const MAX_PASSWORD_LENGTH = 200

export interface User {
  id: string
  role: UserRole
  createdAtMs: number
  failedLogins: number
  /** 0 when not locked. */
  lockedUntilMs: number
  /** The console's language chosen by the user; undefined: the console's default. */
  language?: ConsoleLanguage
  /** The villages an officer sees and acts in (none: nothing); an admin sees every village. */
  villages: string[]
}

interface UserRow {
  id: string
  role: string
  password_hash: string
  failed_logins: number
  locked_until_ms: number
  created_at_ms: number
  language: string | null
}

const toUser = (r: UserRow, villages: string[]): User => ({
  id: r.id,
  role: r.role as UserRole,
  createdAtMs: r.created_at_ms,
  failedLogins: r.failed_logins,
  lockedUntilMs: r.locked_until_ms,
  ...(isLanguage(r.language) ? { language: r.language } : {}),
  villages,
})

const fail = (code: string, message: string) => new KampungError(code, message, { retryable: false })

export type LoginResult =
  | { ok: true; user: User }
  | { ok: false; reason: 'bad_credentials' }
  | { ok: false; reason: 'locked'; retryAfterMs: number }

export interface LockoutPolicy {
  maxFailedLogins: number
  lockoutMs: number
}

/** A hash of a random password: unknown ids are checked against it so they take as long as known ones. */
let dummyHash: Promise<string> | undefined

/**
 * Console users (officer | admin) in the registry's SQLite database; passwords only as scrypt
 * hashes. Constructor assigns; the registry must be started.
 */
export class UserStore {
  private readonly registry: Registry

  constructor(registry: Registry) {
    this.registry = registry
  }

  private get db(): Database.Database {
    return this.registry.database()
  }

  async add(input: {
    id: string
    role: string
    password: string
    language?: string
    villages?: readonly string[]
  }): Promise<User> {
    if (!ID_PATTERN.test(input.id))
      throw fail('invalid_id', `user id "${input.id}": use a-z, 0-9, - and _ (1 to 63, starting a-z or 0-9)`)
    if (!(USER_ROLES as readonly string[]).includes(input.role))
      throw fail('invalid_role', `role "${input.role}" is not one of ${USER_ROLES.join(', ')}`)
    checkPassword(input.password)
    if (input.language !== undefined) checkLanguage(input.language)
    const villages = this.checkVillages(input.villages ?? [])
    if (this.get(input.id)) throw fail('user_exists', `user "${input.id}" already exists`)
    const hash = await hashSecret(input.password, PASSWORD_SCRYPT)
    try {
      this.db.transaction(() => {
        this.db
          .prepare(
            'INSERT INTO users (id, role, password_hash, created_at_ms, language) VALUES (?, ?, ?, ?, ?)',
          )
          .run(input.id, input.role, hash, Date.now(), input.language ?? null)
        this.writeVillages(input.id, villages)
      })()
    } catch (err) {
      // another caller added the same id while scrypt ran
      const code = (err as { code?: unknown }).code
      if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE')
        throw fail('user_exists', `user "${input.id}" already exists`)
      throw err
    }
    return this.get(input.id)!
  }

  get(id: string): User | undefined {
    const row = this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined
    return row && toUser(row, this.villagesOf(id))
  }

  list(): User[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY id').all() as UserRow[]).map((r) =>
      toUser(r, this.villagesOf(r.id)),
    )
  }

  /** The villages assigned to a user, sorted (what an officer sees; admins see all regardless). */
  villagesOf(id: string): string[] {
    return (
      this.db.prepare('SELECT village FROM user_villages WHERE user = ? ORDER BY village').all(id) as Array<{
        village: string
      }>
    ).map((r) => r.village)
  }

  /** Replaces a user's villages (each must be registered); an empty list: an officer sees nothing. */
  setVillages(id: string, villages: readonly string[]): string[] {
    const checked = this.checkVillages(villages)
    if (!this.get(id)) throw fail('unknown_user', `user "${id}" does not exist`)
    this.db.transaction(() => this.writeVillages(id, checked))()
    return this.villagesOf(id)
  }

  private writeVillages(id: string, villages: readonly string[]): void {
    this.db.prepare('DELETE FROM user_villages WHERE user = ?').run(id)
    const insert = this.db.prepare('INSERT INTO user_villages (user, village) VALUES (?, ?)')
    for (const v of villages) insert.run(id, v)
  }

  /** Every unknown village named at once; duplicates dropped. */
  private checkVillages(villages: readonly string[]): string[] {
    const unique = [...new Set(villages)]
    const unknown = unique.filter((v) => !this.registry.getVillage(v))
    if (unknown.length > 0)
      throw fail(
        'unknown_village',
        `no village ${unknown.map((v) => `"${v}"`).join(', ')} (see \`kampung villages list\`)`,
      )
    return unique
  }

  /** The console's language of a user (each chooses; the console's default until then). */
  setLanguage(id: string, language: string): void {
    checkLanguage(language)
    const changed = this.db.prepare('UPDATE users SET language = ? WHERE id = ?').run(language, id).changes
    if (changed === 0) throw fail('unknown_user', `user "${id}" does not exist`)
  }

  /** New password: clears a lockout and ends every session of the user. */
  async setPassword(id: string, password: string): Promise<void> {
    if (!this.get(id)) throw fail('unknown_user', `user "${id}" does not exist`)
    checkPassword(password)
    const hash = await hashSecret(password, PASSWORD_SCRYPT)
    this.db.transaction(() => {
      this.db
        .prepare('UPDATE users SET password_hash = ?, failed_logins = 0, locked_until_ms = 0 WHERE id = ?')
        .run(hash, id)
      this.db.prepare('DELETE FROM sessions WHERE user = ?').run(id)
    })()
  }

  /**
   * Checks a login. `maxFailedLogins` wrong passwords in a row lock the account for `lockoutMs`;
   * while locked the password is not even checked, so guessing cannot go on.
   *
   * The attempt is counted (reserved) before the slow scrypt check, in one synchronous SQLite
   * statement: of any number of concurrent attempts at most `maxFailedLogins` are checked, the
   * rest are refused as locked without hashing. A right password gives its slot back (the count
   * starts again at 0); a wrong one keeps it, and the one that fills the last slot locks.
   */
  async login(id: string, password: string, policy: LockoutPolicy, nowMs = Date.now()): Promise<LoginResult> {
    const reserved = this.reserveAttempt(id, policy, nowMs)
    if (reserved.kind === 'unknown') {
      dummyHash ??= hashSecret(`${Math.random()}${Date.now()}`, PASSWORD_SCRYPT)
      await verifyHash(password, await dummyHash)
      return { ok: false, reason: 'bad_credentials' }
    }
    if (reserved.kind === 'locked')
      return { ok: false, reason: 'locked', retryAfterMs: reserved.retryAfterMs }
    const { row } = reserved
    const good = password.length <= MAX_PASSWORD_LENGTH && (await verifyHash(password, row.password_hash))
    if (good) {
      this.db.prepare('UPDATE users SET failed_logins = 0, locked_until_ms = 0 WHERE id = ?').run(id)
      return { ok: true, user: toUser({ ...row, failed_logins: 0, locked_until_ms: 0 }, this.villagesOf(id)) }
    }
    // counted already; the attempts that filled the allowance lock the account (the count restarts)
    this.db
      .prepare(
        'UPDATE users SET failed_logins = 0, locked_until_ms = ? WHERE id = ? AND failed_logins >= ? AND locked_until_ms <= ?',
      )
      .run(nowMs + policy.lockoutMs, id, policy.maxFailedLogins, nowMs)
    return { ok: false, reason: 'bad_credentials' }
  }

  /** Counts one attempt on `id` unless the account is locked or its allowance is taken by attempts in flight. */
  private reserveAttempt(
    id: string,
    policy: LockoutPolicy,
    nowMs: number,
  ): { kind: 'unknown' } | { kind: 'locked'; retryAfterMs: number } | { kind: 'reserved'; row: UserRow } {
    const row = this.db
      .prepare(
        `UPDATE users SET failed_logins = failed_logins + 1
         WHERE id = ? AND locked_until_ms <= ? AND failed_logins < ? RETURNING *`,
      )
      .get(id, nowMs, policy.maxFailedLogins) as UserRow | undefined
    if (row) return { kind: 'reserved', row }
    const user = this.get(id)
    if (!user) return { kind: 'unknown' }
    // locked, or the last allowed attempts are being checked now: they may yet lock it for lockoutMs
    return {
      kind: 'locked',
      retryAfterMs: user.lockedUntilMs > nowMs ? user.lockedUntilMs - nowMs : policy.lockoutMs,
    }
  }
}

function checkLanguage(language: string): void {
  if (!isLanguage(language))
    throw fail('invalid_language', `language "${language}" is not one of ${CONSOLE_LANGUAGES.join(', ')}`)
}

function checkPassword(password: string): void {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH)
    throw fail('weak_password', `a password needs at least ${MIN_PASSWORD_LENGTH} characters`)
  if (password.length > MAX_PASSWORD_LENGTH)
    throw fail('invalid_password', `a password has at most ${MAX_PASSWORD_LENGTH} characters`)
}
