import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UserStore } from '../../src/console/index.ts'
import { startApp, type TestApp } from '../harness/app.ts'
import { runKampung } from '../harness/process.ts'

const kampung = runKampung

/** The console's language per user from the CLI, as the session API then reports it. */
describe('kampung users add --language, users language', () => {
  let dir: string
  let t: TestApp | undefined

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-users-lang-'))
  })
  afterAll(async () => {
    await t?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('sets the language at add and later; refuses one the console does not speak; the login says it', async () => {
    expect(await kampung(dir, ['users', 'add', 'eka', '--language', 'en'], 'eka-password-1\n')).toMatchObject(
      {
        code: 0,
      },
    )
    const bad = await kampung(dir, ['users', 'language', 'eka', 'jv'])
    expect(bad.code).not.toBe(0)
    expect(bad.err).toContain('language "jv" is not one of id, en')

    t = await startApp({}, dir)
    await new UserStore(t.app.registry).add({ id: 'fajar', role: 'officer', password: 'fajar-password-1' })
    const login = async (user: string, password: string) => {
      const res = await fetch(`${t!.apiUrl}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user, password }),
      })
      expect(res.status).toBe(200)
      return ((await res.json()) as { language: string }).language
    }
    expect(await login('eka', 'eka-password-1')).toBe('en')
    expect(await login('fajar', 'fajar-password-1')).toBe('id') // the default
    // changed from the CLI while the service runs: the next login says it
    expect(await kampung(dir, ['users', 'language', 'fajar', 'en'])).toMatchObject({
      code: 0,
      out: 'fajar: console in en\n',
    })
    expect(await login('fajar', 'fajar-password-1')).toBe('en')
  }, 60_000)
})
