import { readFileSync } from 'node:fs'
import { parse } from 'csv-parse/sync'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ConsoleWorld, consoleWorld, PASSWORDS } from '../console/fixtures.ts'
import { launchChromium } from '../harness/chromium.ts'

const UI_TIMEOUT_MS = 15_000

/** An Indonesian officer downloads a tree's readings from its page and opens the file. */
describe('console: CSV download', () => {
  let w: ConsoleWorld
  let browser: Browser

  beforeAll(async () => {
    w = await consoleWorld()
    browser = await launchChromium()
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await w?.t.stop()
  })

  it("downloads the tree's dendrometer readings: the file's rows are the store's", async () => {
    const base = w.t.apiUrl
    const context = await browser.newContext({ acceptDownloads: true })
    const page = await context.newPage()
    await page.goto(`${base}/console/login`)
    await page.fill('#user', 'budi')
    await page.fill('#password', PASSWORDS.officer)
    await Promise.all([
      page.waitForURL(`${base}/console/`, { timeout: UI_TIMEOUT_MS }),
      page.click('button[type=submit]'),
    ])
    // the queue page offers the trees and decisions exports, in Indonesian
    await expect
      .poll(() => page.textContent('.exports'), { timeout: UI_TIMEOUT_MS })
      .toContain('Unduh pohon dan buktinya (CSV)')
    await page.goto(`${base}/console/tree?id=${encodeURIComponent(w.eligibleTree)}`)
    const link = page.locator('#export-readings')
    await link.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await link.textContent()).toBe('Unduh pembacaan perangkat ini (CSV)')
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: UI_TIMEOUT_MS }),
      link.click(),
    ])
    expect(download.suggestedFilename()).toMatch(/^readings-kemiren-kemiren-pohon1-\d{8}\.csv$/)
    const rows = parse(readFileSync((await download.path())!, 'utf8'), { columns: true, bom: true }) as Array<
      Record<string, string>
    >
    const stored = await w.t.app.store.query({ quantity: 'stem_diameter', device: w.dendrometer })
    expect(stored.length).toBeGreaterThan(2_000)
    expect(rows.map((r) => [Date.parse(r.time_utc!), r.device, r.quantity, Number(r.value)])).toEqual(
      stored.map((r) => [r.timeMs, r.device, 'stem_diameter', r.value]),
    )
    await context.close()
  }, 60_000)
})
