import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { COMMAND_STATES, CONFIG_SYNC_STATES, NODE_SETTING_NAMES } from '../../src/commands/index.ts'
import { CONSOLE_PUBLIC_DIR, UserStore } from '../../src/console/index.ts'
import { getSpecies, SPECIES_IDS, TREE_STATES } from '../../src/oksigen/index.ts'
import { launchChromium, screenshot } from '../harness/chromium.ts'
import { EN, englishOnly, ID } from './english-only.ts'
import { type ConsoleWorld, consoleWorld, PASSWORDS } from './fixtures.ts'

const UI_TIMEOUT_MS = 15_000

/** English texts that must not be on an Indonesian page (tests/console/english-only.ts). */
const ENGLISH_ONLY = englishOnly()

/** The page's own words: without text the server wrote (lang="en") or people typed (decision reasons). */
const ownText = (page: Page) =>
  page.evaluate(() => {
    const body = document.body.cloneNode(true) as HTMLElement
    for (const n of body.querySelectorAll('[lang="en"], #decisions tbody td:nth-child(4), select#language'))
      n.remove()
    return body.textContent ?? ''
  })

async function loginAs(page: Page, base: string, user: string, password: string): Promise<void> {
  await page.goto(`${base}/console/login`)
  await page.fill('#user', user)
  await page.fill('#password', password)
  await Promise.all([
    page.waitForURL(`${base}/console/`, { timeout: UI_TIMEOUT_MS }),
    page.click('button[type=submit]'),
  ])
}

describe('console languages: every key in both, every key used exists', () => {
  it('id and en have the same keys, and no entry is empty', () => {
    expect(Object.keys(ID).sort()).toEqual(Object.keys(EN).sort())
    for (const [k, v] of [...Object.entries(ID), ...Object.entries(EN)]) expect(v.trim(), k).not.toBe('')
  })

  it("every t('key') and data-i18n key in the pages, and every state, severity and status, has a text", () => {
    const used = new Set<string>()
    for (const file of readdirSync(CONSOLE_PUBLIC_DIR)) {
      const text = readFileSync(path.join(CONSOLE_PUBLIC_DIR, file), 'utf8')
      for (const m of text.matchAll(/\bt\('([\w.]+)'/g)) used.add(m[1]!)
      for (const m of text.matchAll(/data-i18n(?:-title)?="([\w.]+)"/g)) used.add(m[1]!)
    }
    expect(used.size).toBeGreaterThan(80) // the scan finds the pages' keys
    for (const s of TREE_STATES) used.add(`state.${s}`)
    for (const s of SPECIES_IDS) {
      used.add(`species.${s}`)
      // the species' names as src/oksigen/species.ts has them
      expect([ID[`species.${s}`], EN[`species.${s}`]], s).toEqual([
        getSpecies(s)!.localName,
        getSpecies(s)!.englishName,
      ])
    }
    for (const s of ['failure', 'warning', 'info', 'critical']) used.add(`severity.${s}`)
    for (const s of ['pending', 'released', 'refused']) used.add(`application.${s}`)
    for (const s of ['firing', 'pending', 'resolved']) used.add(`alerts.state.${s}`)
    for (const s of ['verify', 'reject', 'reopen']) used.add(`decision.${s}`)
    for (const s of ['officer', 'admin']) used.add(`role.${s}`)
    for (const s of CONFIG_SYNC_STATES) used.add(`config.status.${s}`)
    for (const s of COMMAND_STATES) used.add(`command.state.${s}`)
    for (const s of NODE_SETTING_NAMES) used.add(`config.setting.${s}`)
    for (const s of ['true', 'false', 'unknown']) used.add(`tree.alive.${s}`)
    // the verifier's reasons and flags, said in the page's language
    const policy = readFileSync('src/oksigen/policy.ts', 'utf8')
    const codes = /export type ReasonCode =([^;]*?)\n\n/s.exec(policy)![1]!
    for (const m of codes.matchAll(/'(\w+)'/g)) used.add(`reason.${m[1]}`)
    const liveness = readFileSync('src/oksigen/dendro/liveness.ts', 'utf8')
    for (const m of liveness.matchAll(/kind: '(\w+)'/g)) used.add(`flag.${m[1]}`)
    expect([...used].filter((k) => k.startsWith('flag.')).length).toBeGreaterThanOrEqual(12)
    expect([...used].filter((k) => k.startsWith('reason.')).length).toBeGreaterThanOrEqual(11)
    const missing = [...used].filter((k) => ID[k] === undefined || EN[k] === undefined)
    expect(missing).toEqual([])
  })
})

describe('console in Bahasa Indonesia (default) and English, per user, in headless Chromium', () => {
  let w: ConsoleWorld
  let browser: Browser
  let base: string

  beforeAll(async () => {
    w = await consoleWorld() // console.defaultLanguage: id
    base = w.t.apiUrl
    browser = await launchChromium()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await w?.t.stop()
  })

  it('an Indonesian officer: login, queue and tree in Indonesian, numbers with a decimal comma, dates in Indonesian', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))

    await page.goto(`${base}/console/login`)
    await expect
      .poll(() => page.textContent('h1'), { timeout: UI_TIMEOUT_MS })
      .toBe('Konsol petugas Smart Kampung')
    expect(await page.getAttribute('html', 'lang')).toBe('id')
    expect(await page.title()).toBe('Masuk · Smart Kampung')
    await page.fill('#user', 'budi')
    await page.fill('#password', 'not-the-password')
    await page.click('button[type=submit]')
    await expect
      .poll(() => page.textContent('#message'), { timeout: UI_TIMEOUT_MS })
      .toBe('Pengguna atau kata sandi salah.')

    await loginAs(page, base, 'budi', PASSWORDS.officer)
    const row = page.locator(`#queue tr[data-tree="${w.eligibleTree}"]`)
    await row.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await page.textContent('h1')).toBe('Antrean verifikasi')
    expect(await page.title()).toBe('Antrean verifikasi · Smart Kampung')
    expect(await page.locator('.tabs button').first().textContent()).toBe('perlu keputusan (1)')
    expect(await row.locator('.badge').textContent()).toBe('layak')
    expect(await page.locator('header nav').textContent()).toBe('Antrean verifikasiPeringatanPetaLog audit')
    expect(await page.locator('header .who').textContent()).toContain('budi (petugas)')
    // planted 20 days ago: an Indonesian date ("13 Nov 2026"; Indonesian months: Agu, Okt, Des, Mei)
    expect(await row.locator('td').last().textContent()).toMatch(/^\d{1,2} [A-Z][a-z]{2} \d{4}$/)
    for (const piece of ENGLISH_ONLY) expect(await ownText(page), 'queue').not.toContain(piece)
    await screenshot(page, 'id-queue')

    await Promise.all([page.waitForURL(/\/console\/tree\?id=/), row.locator('a').click()])
    await page.locator('#state').waitFor({ timeout: UI_TIMEOUT_MS })
    await expect.poll(() => page.locator('.chart canvas').count(), { timeout: UI_TIMEOUT_MS }).toBe(2)
    expect(await page.textContent('#state')).toBe('layak')
    expect(await page.getAttribute('#state', 'data-state')).toBe('eligible')
    const facts = (await page.textContent('#assessment'))!
    expect(facts).toMatch(/Pertumbuhan \(GRO\)\d+,\d\d mm dalam \d+ hari/)
    expect(facts).toMatch(/Laju pertumbuhan\d+,\d µm\/hari \(7 hari\), \d+,\d µm\/hari \(30 hari\)/)
    expect(facts).toMatch(/Diameter awal15,0 mm/)
    // the verifier's reason, in Indonesian with its numbers
    expect(facts).toMatch(/Penilaiandiameter \+\d+,\d\d mm \(≥ 0,5\), tumbuh \d+,\d µm\/hari, hidup/)
    expect(await page.locator('.chart .u-title').allTextContents()).toEqual([
      'Diameter batang (mm)',
      'Pertumbuhan harian GRO dan defisit air batang TWD (µm)',
    ])
    // the chart's legend under the cursor: WIB time in Indonesian, the diameter with a decimal comma
    const over = page.locator('.chart .u-over').first()
    const box = (await over.boundingBox())!
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
    const legend = await page.locator('.chart').first().locator('.u-legend .u-value').allTextContents()
    expect(legend[0]).toMatch(/^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d\.\d\d WIB$/)
    expect(legend[1]).toMatch(/^\d+,\d{3}$/)
    // the automatic decision's time, in Indonesian
    expect(await page.locator('#decisions tbody tr td').first().textContent()).toMatch(
      /^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d\.\d\d WIB$/,
    )
    // the verifier's own decision (to eligible), in Indonesian too; officers' reasons stay as written.
    // Which row it is depends on whether the verifier also judged the tree while its 20 days were
    // still arriving ("diameter +0,41 dari 0,5 mm" first, in an evening run): find it by its state.
    const reasons = await page.locator('#decisions tbody tr td:nth-child(4)').allTextContents()
    expect(
      reasons.filter((r) => /^diameter \+\d+,\d\d mm \(≥ 0,5\), tumbuh \d+,\d µm\/hari, hidup$/.test(r)),
      reasons.join(' | '),
    ).toHaveLength(1)
    for (const r of reasons) expect(r).not.toMatch(/[a-z] of \d|growing|alive/)
    for (const piece of ENGLISH_ONLY) expect(await ownText(page), 'tree').not.toContain(piece)
    await screenshot(page, 'id-tree')
    expect(errors).toEqual([])
    await context.close()
  })

  it('in Indonesian: a tree without evidence is refused, an override needs a real reason, and its certificate says so', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await loginAs(page, base, 'budi', PASSWORDS.officer)
    await page.goto(`${base}/console/tree?id=${encodeURIComponent(w.awaitingTree)}`)
    await page.locator('#state').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await page.textContent('#state')).toBe('menunggu data')
    expect(await page.textContent('#assessment')).toContain('Penilaian0 dari 7 hari data dendrometer')
    expect(await page.textContent('#assessment')).toContain('Jenisjati') // teak, by its Indonesian name
    await page.fill('#reason', 'Pohon terlihat sehat dari jalan')
    await page.click('#verify')
    await expect
      .poll(() => page.textContent('#message'), { timeout: UI_TIMEOUT_MS })
      .toContain('Pohon ini belum memiliki bukti yang disyaratkan kebijakan.')
    await page.check('#override')
    await page.fill('#reason', 'sensor rusak')
    await page.click('#verify')
    await expect
      .poll(() => page.textContent('#message'), { timeout: UI_TIMEOUT_MS })
      .toBe('Keputusan khusus memerlukan alasan tertulis minimal 20 karakter.')
    const reason = 'Sensor rusak sejak tanam; kunjungan lapangan 1 Des: diameter 18 mm, foto di berkas 503/7'
    await page.fill('#reason', reason)
    await page.click('#verify')
    await expect
      .poll(() => page.textContent('#message'), { timeout: UI_TIMEOUT_MS })
      .toBe('Keputusan dicatat: verifikasi — status pohon sekarang terverifikasi.')
    const link = page.locator('a[href^="/verify/"]')
    await link.waitFor({ timeout: UI_TIMEOUT_MS })
    await Promise.all([page.waitForURL(/\/verify\//), link.click()])
    await page.locator('#override').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await page.textContent('.status strong')).toBe('SAH')
    const note = (await page.textContent('#override'))!
    expect(note).toContain('TANPA bukti pertumbuhan yang disyaratkan kebijakan')
    expect(note).toContain(reason)
    await screenshot(page, 'id-certificate-override')
    await context.close()
  })

  it('an officer switches to English: stored with the account, English from then on (decimal point), others stay Indonesian', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await loginAs(page, base, 'budi', PASSWORDS.officer)
    await page.locator('#queue').waitFor({ timeout: UI_TIMEOUT_MS })
    // the language is a state change: not without the session's CSRF token
    const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ')
    const forged = await fetch(`${base}/api/v1/session/language`, {
      method: 'PUT',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ language: 'en' }),
    })
    expect(forged.status).toBe(403)
    expect(new UserStore(w.t.app.registry).get('budi')!.language).toBeUndefined()

    await Promise.all([page.waitForEvent('load'), page.selectOption('#language', 'en')])
    await expect.poll(() => page.textContent('h1'), { timeout: UI_TIMEOUT_MS }).toBe('Verification queue')
    expect(await page.getAttribute('html', 'lang')).toBe('en')
    expect(new UserStore(w.t.app.registry).get('budi')!.language).toBe('en')
    await context.close()

    // a new browser: the login page speaks the default, the account's choice wins after login
    const again = await browser.newContext()
    const p2 = await again.newPage()
    await loginAs(p2, base, 'budi', PASSWORDS.officer)
    await p2.locator('#queue').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await p2.textContent('h1')).toBe('Verification queue')
    expect(await p2.locator('header .who').textContent()).toContain('budi (officer)')
    await p2.goto(`${base}/console/tree?id=${encodeURIComponent(w.eligibleTree)}`)
    await p2.locator('#state').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await p2.textContent('#assessment')).toMatch(/Growth \(GRO\)\d+\.\d\d mm over \d+ days/)
    await screenshot(p2, 'en-tree')
    // the login page of this browser now remembers English
    await p2.goto(`${base}/console/login`)
    await expect
      .poll(() => p2.textContent('h1'), { timeout: UI_TIMEOUT_MS })
      .toBe('Smart Kampung officer console')
    await again.close()

    // the admin has not chosen: Indonesian, devices and alerts pages too
    const admin = await browser.newContext()
    const p3 = await admin.newPage()
    await loginAs(p3, base, 'ayu', PASSWORDS.admin)
    await p3.goto(`${base}/console/devices`)
    await p3.locator('#add-device').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await p3.textContent('h1')).toBe('Perangkat')
    expect(await p3.textContent('#add-device button[type=submit]')).toBe('Tambah perangkat')
    for (const piece of ENGLISH_ONLY) expect(await ownText(p3), 'devices').not.toContain(piece)
    // a refusal the console knows by its code, in Indonesian
    await p3.fill('#id', 'kemiren-sawah7')
    await p3.fill('#village', 'tidak-ada')
    await p3.click('#add-device button[type=submit]')
    await expect
      .poll(() => p3.textContent('#message'), { timeout: UI_TIMEOUT_MS })
      .toBe('Desa tidak terdaftar.')
    await p3.goto(`${base}/console/alerts`)
    await p3.locator('#alerts').waitFor({ timeout: UI_TIMEOUT_MS })
    await expect
      .poll(() => p3.textContent('#alerts'), { timeout: UI_TIMEOUT_MS })
      .toBe('Tidak ada peringatan berstatus aktif.')
    expect(await p3.locator('.tabs button').allTextContents()).toEqual(['aktif', 'tertunda', 'selesai'])
    for (const piece of ENGLISH_ONLY) expect(await ownText(p3), 'alerts').not.toContain(piece)
    await admin.close()
  })

  it('on a phone in Indonesian: the login page switches language by hand; queue and tree fit the screen', async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    })
    const page = await context.newPage()
    await page.goto(`${base}/console/login`)
    await expect
      .poll(() => page.textContent('h1'), { timeout: UI_TIMEOUT_MS })
      .toBe('Konsol petugas Smart Kampung')
    await page.click('#language-choice button[data-language="en"]')
    expect(await page.textContent('h1')).toBe('Smart Kampung officer console')
    expect(await page.textContent('button[type=submit]')).toBe('Log in')
    expect(await page.getAttribute('html', 'lang')).toBe('en')
    await page.click('#language-choice button[data-language="id"]')
    expect(await page.textContent('button[type=submit]')).toBe('Masuk')
    await loginAs(page, base, 'ayu', PASSWORDS.admin)
    await page.locator('#queue').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await screenshot(page, 'id-queue-phone')
    await page.goto(`${base}/console/tree?id=${encodeURIComponent(w.eligibleTree)}`)
    await expect.poll(() => page.locator('.chart canvas').count(), { timeout: UI_TIMEOUT_MS }).toBe(2)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await screenshot(page, 'id-tree-phone')
    await context.close()
  })
})
