import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UserStore } from '../../src/console/index.ts'
import { startApp, type TestApp } from '../harness/app.ts'
import { launchChromium, screenshot } from '../harness/chromium.ts'
import { type ConsoleWorld, consoleWorld, PASSWORDS } from './fixtures.ts'

/** Generous: the machine is shared and slow; a page that works answers in well under a second. */
const UI_TIMEOUT_MS = 15_000

async function login(page: Page, base: string, user: string, password: string): Promise<void> {
  await page.goto(`${base}/console/login`)
  await page.fill('#user', user)
  await page.fill('#password', password)
  await Promise.all([
    page.waitForURL(`${base}/console/`, { timeout: UI_TIMEOUT_MS }),
    page.click('button[type=submit]'),
  ])
}

/** The session cookie of a browser context, as a Cookie header for Node's fetch. */
async function cookieHeader(context: BrowserContext): Promise<string> {
  return (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ')
}

describe('officer console in headless Chromium', () => {
  let w: ConsoleWorld
  let browser: Browser
  let base: string

  beforeAll(async () => {
    // these pages are checked in English (the console's default is Indonesian: console-i18n.test.ts)
    w = await consoleWorld({ console: { defaultLanguage: 'en' } })
    base = w.t.apiUrl
    browser = await launchChromium()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await w?.t.stop()
  })

  it('sends a visitor to the login page; a wrong password is refused, the right one logs in', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${base}/console/`)
    await page.waitForURL(/\/console\/login\?next=%2Fconsole%2F$/, { timeout: UI_TIMEOUT_MS })
    await page.fill('#user', 'budi')
    await page.fill('#password', 'not-the-password')
    await page.click('button[type=submit]')
    await expect
      .poll(() => page.textContent('#message'), { timeout: UI_TIMEOUT_MS })
      .toContain('wrong user or password')
    expect(page.url()).toContain('/console/login')
    expect(await context.cookies()).toHaveLength(0)
    await screenshot(page, 'login-refused')
    await page.fill('#password', PASSWORDS.officer)
    await Promise.all([
      page.waitForURL(`${base}/console/`, { timeout: UI_TIMEOUT_MS }),
      page.click('button[type=submit]'),
    ])
    const [cookie] = await context.cookies()
    expect(cookie).toMatchObject({ name: 'kampung_session', httpOnly: true, sameSite: 'Strict' })
    await context.close()
  })

  it('an officer opens the queue and a tree, sees its growth chart, verifies it, and sees the decision (also in the API)', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    await login(page, base, 'budi', PASSWORDS.officer)

    // the queue: the eligible tree waits for a decision; the one without data does not
    const row = page.locator(`#queue tr[data-tree="${w.eligibleTree}"]`)
    await row.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await row.textContent()).toContain('eligible')
    expect(await page.locator(`#queue tr[data-tree="${w.awaitingTree}"]`).count()).toBe(0)
    expect(await page.locator('header nav').textContent()).not.toContain('Devices') // officers do not manage devices
    await screenshot(page, 'queue-laptop')

    await Promise.all([page.waitForURL(/\/console\/tree\?id=/), row.locator('a').click()])
    await page.locator('#state').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await page.textContent('#state')).toBe('eligible')
    expect(await page.textContent('#assessment')).toMatch(/diameter \+\d\.\d\d mm/)
    // both charts drawn by uPlot: the stem diameter from the readings API, GRO/TWD from the evidence
    await expect.poll(() => page.locator('.chart canvas').count(), { timeout: UI_TIMEOUT_MS }).toBe(2)
    expect(await page.locator('.chart .u-title').allTextContents()).toEqual([
      'Stem diameter (mm)',
      'Daily growth GRO and tree water deficit TWD (µm)',
    ])
    await screenshot(page, 'tree-before-decision')

    // a reason that is markup: it must come back as text, never as an element or a script
    const reason = '<img src=x onerror="window.__xss=1">site visit: sengon growing well'
    await page.fill('#reason', reason)
    await page.click('#verify')
    await expect
      .poll(() => page.textContent('#message'), { timeout: UI_TIMEOUT_MS })
      .toContain('Decision recorded: verify — tree is now verified')
    expect(await page.textContent('#state')).toBe('verified')
    const newest = page.locator('#decisions tbody tr').first()
    expect(await newest.locator('td').allTextContents()).toEqual([
      expect.any(String),
      'eligible → verified',
      'budi',
      reason,
    ])
    expect(await page.locator('#decisions img').count()).toBe(0)
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined()
    expect(await page.locator('a[href^="/verify/"]').count()).toBe(1) // the certificate it issued
    await screenshot(page, 'tree-verified')

    // the same decision through the API the CLI uses
    const evidence = (await (await page.request.get(`${base}/api/v1/trees/${w.eligibleTree}`)).json()) as {
      state: string
      decisions: Array<{ by: string; reason: string; toState: string }>
      certificates: string[]
    }
    expect(evidence.state).toBe('verified')
    expect(evidence.decisions.at(-1)).toMatchObject({ by: 'budi', reason, toState: 'verified' })
    expect(evidence.certificates).toHaveLength(1)

    // reopen: back to what the data says
    await page.fill('#reason', 'reopened to re-check the site')
    await page.click('#reopen')
    await expect.poll(() => page.textContent('#state'), { timeout: UI_TIMEOUT_MS }).toBe('eligible')
    expect(w.t.app.oksigen!.repo.getState(w.eligibleTree)!.state).toBe('eligible')
    expect(errors).toEqual([])
    await context.close()
  })

  it('refuses a state-changing request on a session without its CSRF token (403), accepts it with the token', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await login(page, base, 'budi', PASSWORDS.officer)
    const url = `${base}/api/v1/trees/${w.awaitingTree}/decisions`
    const data = { decision: 'reject', reason: 'forged by another site' }
    // the browser's cookie, no token: what a forged cross-site form or fetch would carry
    const bare = await page.request.post(url, { data })
    expect(bare.status()).toBe(403)
    expect(await bare.json()).toMatchObject({ error: 'csrf' })
    const wrong = await page.request.post(url, { data, headers: { 'x-csrf-token': 'guessed' } })
    expect(wrong.status()).toBe(403)
    const cookie = await cookieHeader(context)
    const noToken = await fetch(url, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify(data),
    })
    expect(noToken.status).toBe(403)
    expect(w.t.app.oksigen!.repo.getState(w.awaitingTree)!.state).toBe('awaiting_data') // nothing happened
    // the page's own token makes it a legitimate request
    const { csrfToken } = (await (await page.request.get(`${base}/api/v1/session`)).json()) as {
      csrfToken: string
    }
    const ok = await page.request.post(url, {
      data: { decision: 'reopen', reason: 'console test: with token' },
      headers: { 'x-csrf-token': csrfToken },
    })
    expect(ok.status()).toBe(200)
    // logging in from another site is refused by its Origin
    const foreign = await fetch(`${base}/api/v1/session`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'budi', password: PASSWORDS.officer }),
    })
    expect(foreign.status).toBe(403)
    await context.close()
  })

  it('an officer cannot manage devices; an admin adds one and rotates its secret, each shown once', async () => {
    const officer = await browser.newContext()
    const op = await officer.newPage()
    await login(op, base, 'budi', PASSWORDS.officer)
    await op.goto(`${base}/console/devices`)
    await op.locator('#forbidden').waitFor({ timeout: UI_TIMEOUT_MS })
    const { csrfToken } = (await (await op.request.get(`${base}/api/v1/session`)).json()) as {
      csrfToken: string
    }
    const denied = await op.request.post(`${base}/api/v1/devices`, {
      data: { id: 'sneaky-1', village: 'kemiren', kind: 'service', format: 'json' },
      headers: { 'x-csrf-token': csrfToken },
    })
    expect(denied.status()).toBe(403)
    expect((await op.request.get(`${base}/api/v1/devices`)).status()).toBe(403)
    expect(w.t.app.registry.getDevice('sneaky-1')).toBeUndefined()
    await officer.close()

    const admin = await browser.newContext()
    const page = await admin.newPage()
    page.on('dialog', (d) => void d.accept())
    await login(page, base, 'ayu', PASSWORDS.admin)
    await page.click('header nav a:has-text("Devices")')
    await page.locator('#add-device').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await page.locator('#devices tr[data-device="kemiren-pohon1"]').count()).toBe(1)
    await page.fill('#id', 'kemiren-sawah9')
    await page.fill('#village', 'kemiren')
    await page.selectOption('#kind', 'soil')
    await page.selectOption('#format', 'senml')
    await page.click('#add-device button[type=submit]')
    await page.locator('#secret-value').waitFor({ timeout: UI_TIMEOUT_MS })
    const first = (await page.textContent('#secret-value'))!.trim()
    expect(first).toMatch(/^[A-Za-z0-9_-]{32}$/)
    await page.locator('#devices tr[data-device="kemiren-sawah9"]').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await w.t.app.registry.verifySecret('kemiren-sawah9', first)).toMatchObject({
      kind: 'soil',
      format: 'senml',
    })
    await screenshot(page, 'devices-added')
    // the secret is not part of any listing
    expect(JSON.stringify(await (await page.request.get(`${base}/api/v1/devices`)).json())).not.toContain(
      first,
    )

    await page.click('#devices tr[data-device="kemiren-sawah9"] button')
    await expect
      .poll(async () => (await page.textContent('#secret-value'))?.trim(), { timeout: UI_TIMEOUT_MS })
      .not.toBe(first)
    const second = (await page.textContent('#secret-value'))!.trim()
    expect(await w.t.app.registry.verifySecret('kemiren-sawah9', second)).toBeTruthy()
    expect(await w.t.app.registry.verifySecret('kemiren-sawah9', first)).toBeUndefined()
    await admin.close()
  })

  it('locks an account after repeated wrong passwords, even for the right one', async () => {
    await new UserStore(w.t.app.registry).add({ id: 'citra', role: 'officer', password: 'citra-password-1' })
    const attempt = (password: string) =>
      fetch(`${base}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'citra', password }),
      })
    for (let i = 0; i < 5; i++) expect((await attempt(`wrong-${i}`)).status).toBe(401)
    const locked = await attempt('citra-password-1')
    expect(locked.status).toBe(429)
    expect(await locked.json()).toMatchObject({ error: 'locked' })
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(800) // about the 15 min lockout
  })

  it('renders the queue and a tree on a phone', async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    })
    const page = await context.newPage()
    await login(page, base, 'budi', PASSWORDS.officer)
    await page.click('.tabs button:has-text("all")')
    const row = page.locator(`#queue tr[data-tree="${w.eligibleTree}"]`)
    await row.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await row.isVisible()).toBe(true)
    // nothing wider than the screen: no sideways scrolling of the page
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    expect(await page.locator('th:has-text("Species")').isVisible()).toBe(false) // narrow layout
    await screenshot(page, 'queue-phone')
    await row.locator('a').click()
    await expect.poll(() => page.locator('.chart canvas').count(), { timeout: UI_TIMEOUT_MS }).toBe(2)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await screenshot(page, 'tree-phone')
    await context.close()
  })
})

describe('console sessions expire (alerts disabled)', () => {
  let t: TestApp
  let browser: Browser
  const IDLE_MS = 1500

  beforeAll(async () => {
    t = await startApp({
      console: { sessionIdleMs: IDLE_MS, maxFailedLoginsPerIp: 3, defaultLanguage: 'en' },
      alerts: { enabled: false },
    })
    await new UserStore(t.app.registry).add({ id: 'dewi', role: 'officer', password: 'dewi-password-1' })
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await t?.stop()
  })

  it('says alerts are not available on a server run with alerts disabled', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await login(page, t.apiUrl, 'dewi', 'dewi-password-1')
    await page.goto(`${t.apiUrl}/console/alerts`)
    await page.locator('#unavailable').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await page.textContent('#unavailable')).toContain('not available')
    await screenshot(page, 'alerts-unavailable')
    await context.close()
  })

  it('refuses a session left idle past its expiry, in the API and in the pages', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await login(page, t.apiUrl, 'dewi', 'dewi-password-1')
    const cookie = await cookieHeader(context)
    expect((await fetch(`${t.apiUrl}/api/v1/trees`, { headers: { cookie } })).status).toBe(200)
    await new Promise((r) => setTimeout(r, IDLE_MS * 2))
    const late = await fetch(`${t.apiUrl}/api/v1/trees`, { headers: { cookie } })
    expect(late.status).toBe(401)
    expect(await late.json()).toMatchObject({ message: 'your session has ended: log in again' })
    expect(late.headers.get('www-authenticate')).toBeNull() // no browser password dialog
    await page.goto(`${t.apiUrl}/console/`)
    await page.waitForURL(/\/console\/login\?next=/, { timeout: UI_TIMEOUT_MS })
    await context.close()
  })

  it('refuses logins from an address after too many failures, whatever the account', async () => {
    const attempt = (user: string, password: string) =>
      fetch(`${t.apiUrl}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user, password }),
      })
    for (const user of ['a1', 'a2', 'a3']) expect((await attempt(user, 'guess-guess-1')).status).toBe(401)
    const limited = await attempt('dewi', 'dewi-password-1')
    expect(limited.status).toBe(429)
    expect(await limited.json()).toMatchObject({ error: 'rate_limited' })
  })
})
