import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SessionStore, UserStore } from '../../src/console/index.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'

const MIN = 60_000
const policy = { maxFailedLogins: 3, lockoutMs: 15 * MIN }

describe('console users and sessions (registry SQLite)', () => {
  let registry: Registry
  let users: UserStore

  beforeEach(async () => {
    registry = new Registry({ path: ':memory:', schemas: SCHEMAS })
    await registry.start()
    users = new UserStore(registry)
  })
  afterEach(() => registry.stop())

  it('the users and sessions tables come from the console migration (src/console/schema.ts)', () => {
    const tables = registry
      .database()
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('users', 'sessions')")
      .all()
    expect(tables).toHaveLength(2)
  })

  it('two adds of one id racing through scrypt: one user, the other user_exists (by SQLite code)', async () => {
    const results = await Promise.allSettled([
      users.add({ id: 'budi', role: 'officer', password: 'long enough pw' }),
      users.add({ id: 'budi', role: 'admin', password: 'another long pw' }),
    ])
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
    expect(refused.reason).toMatchObject({ code: 'user_exists', retryable: false })
  })

  it('stores only a scrypt hash of the password; refuses bad ids, roles, short passwords and duplicates', async () => {
    await users.add({ id: 'ayu', role: 'admin', password: 'correct horse' })
    const row = registry.database().prepare('SELECT password_hash FROM users WHERE id = ?').get('ayu') as {
      password_hash: string
    }
    expect(row.password_hash).toMatch(/^scrypt\$16384\$8\$1\$/)
    expect(row.password_hash).not.toContain('correct horse')
    await expect(
      users.add({ id: 'Bad Id', role: 'officer', password: 'long enough pw' }),
    ).rejects.toMatchObject({
      code: 'invalid_id',
    })
    await expect(users.add({ id: 'x', role: 'root', password: 'long enough pw' })).rejects.toMatchObject({
      code: 'invalid_role',
    })
    await expect(users.add({ id: 'x', role: 'officer', password: 'short' })).rejects.toMatchObject({
      code: 'weak_password',
      retryable: false,
    })
    await expect(users.add({ id: 'ayu', role: 'officer', password: 'long enough pw' })).rejects.toMatchObject(
      {
        code: 'user_exists',
      },
    )
  })

  it('locks an account after repeated wrong passwords, refuses even the right one while locked, unlocks after', async () => {
    await users.add({ id: 'budi', role: 'officer', password: 'budi-password' })
    const t0 = 1_800_000_000_000
    expect(await users.login('budi', 'budi-password', policy, t0)).toMatchObject({ ok: true })
    expect(await users.login('nobody', 'budi-password', policy, t0)).toEqual({
      ok: false,
      reason: 'bad_credentials',
    })
    for (let i = 0; i < 3; i++)
      expect(await users.login('budi', 'wrong', policy, t0 + i)).toEqual({
        ok: false,
        reason: 'bad_credentials',
      })
    expect(await users.login('budi', 'budi-password', policy, t0 + 10)).toMatchObject({
      ok: false,
      reason: 'locked',
    })
    expect(users.get('budi')!.lockedUntilMs).toBe(t0 + 2 + 15 * MIN)
    expect(await users.login('budi', 'budi-password', policy, t0 + 16 * MIN)).toMatchObject({ ok: true })
    // a success resets the count: two more failures do not lock
    await users.login('budi', 'wrong', policy, t0 + 17 * MIN)
    await users.login('budi', 'wrong', policy, t0 + 17 * MIN)
    expect(await users.login('budi', 'budi-password', policy, t0 + 17 * MIN)).toMatchObject({ ok: true })
  })

  it('ends a session after the idle time, and after the absolute time however busy it is', async () => {
    await users.add({ id: 'dewi', role: 'officer', password: 'dewi-password' })
    let now = 1_800_000_000_000
    const sessions = new SessionStore(registry, { idleMs: 10 * MIN, absoluteMs: 60 * MIN, clock: () => now })
    const idle = sessions.create('dewi')
    now += 9 * MIN
    expect(sessions.lookup(idle.token)).toMatchObject({
      user: 'dewi',
      role: 'officer',
      csrfToken: idle.csrfToken,
    })
    now += 11 * MIN // 11 min since the last use
    expect(sessions.lookup(idle.token)).toBeUndefined()
    expect(sessions.lookup(idle.token)).toBeUndefined() // and it is gone

    const busy = sessions.create('dewi')
    for (let min = 5; min <= 60; min += 5) {
      now += 5 * MIN
      expect(sessions.lookup(busy.token), `${min} min after login`).toBeDefined()
    }
    now += 5 * MIN // 65 min since login, used every 5 min
    expect(sessions.lookup(busy.token)).toBeUndefined()
  })

  it('keeps only the hash of a session token; logout and a new password end sessions', async () => {
    await users.add({ id: 'eka', role: 'admin', password: 'eka-password1' })
    const sessions = new SessionStore(registry, { idleMs: 10 * MIN, absoluteMs: 60 * MIN })
    const a = sessions.create('eka')
    const b = sessions.create('eka')
    const stored = JSON.stringify(registry.database().prepare('SELECT * FROM sessions').all())
    expect(stored).not.toContain(a.token)
    expect(a.csrfToken).not.toBe(b.csrfToken)
    sessions.destroy(a.token)
    expect(sessions.lookup(a.token)).toBeUndefined()
    expect(sessions.lookup(b.token)).toBeDefined()
    await users.setPassword('eka', 'eka-password2')
    expect(sessions.lookup(b.token)).toBeUndefined()
    expect(sessions.countFor('eka')).toBe(0)
  })
})
