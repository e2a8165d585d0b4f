import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type TestApp } from '../harness/app.ts'
import { runKampung } from '../harness/process.ts'

const kampung = runKampung

describe('kampung users add|list|passwd', () => {
  let dir: string
  let t: TestApp

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-users-'))
  })
  afterAll(async () => {
    await t?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const login = (user: string, password: string) =>
    fetch(`${t.apiUrl}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user, password }),
    })

  it('creates the first admin, who can then log in; a new password ends the old one and its sessions', async () => {
    const added = await kampung(dir, ['users', 'add', 'ayu', '--role', 'admin'], 'first-admin-pw\n')
    expect(added, added.err).toMatchObject({ code: 0 })
    expect(added.out).toContain('added admin ayu')
    const weak = await kampung(dir, ['users', 'add', 'budi'], 'short\n')
    expect(weak.code).toBe(1)
    expect(weak.err).toContain('at least 10 characters')
    const badRole = await kampung(dir, ['users', 'add', 'budi', '--role', 'root'], 'long-enough-pw\n')
    expect(badRole.code).not.toBe(0)
    expect(badRole.err).toMatch(/Allowed choices are officer, admin/)
    const list = await kampung(dir, ['users', 'list'])
    expect(list.out).toMatch(/^ayu\s+admin\s+\(all\)\s+\d{4}-/m)
    expect(list.out).toContain('1 user(s)')

    t = await startApp({}, dir)
    const ok = await login('ayu', 'first-admin-pw')
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ user: 'ayu', role: 'admin' })
    const cookie = ok.headers.get('set-cookie')!.split(';')[0]!
    expect((await fetch(`${t.apiUrl}/api/v1/devices`, { headers: { cookie } })).status).toBe(200)

    const passwd = await kampung(dir, ['users', 'passwd', 'ayu'], 'second-admin-pw\n')
    expect(passwd, passwd.err).toMatchObject({ code: 0 })
    expect((await fetch(`${t.apiUrl}/api/v1/devices`, { headers: { cookie } })).status).toBe(401)
    expect((await login('ayu', 'first-admin-pw')).status).toBe(401)
    expect((await login('ayu', 'second-admin-pw')).status).toBe(200)
    expect((await kampung(dir, ['users', 'passwd', 'nobody'], 'whatever-pw-1\n')).err).toContain(
      'user "nobody" does not exist',
    )
  }, 240_000) // six CLI processes, each loading tsx: up to ~10 s apiece on the shared machine
})
