import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UserStore } from '../../src/console/index.ts'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'
import { launchChromium, screenshot } from '../harness/chromium.ts'

const UI_TIMEOUT_MS = 15_000
const VILLAGE = 'kemiren'

/**
 * The console's alerts page against the real app: alerts raised by the dry rule from readings
 * POSTed to /api/v1/telemetry, listed and acknowledged through the real /api/v1/alerts routes
 * (console session + CSRF, as authenticateOfficer checks them).
 */
describe('acknowledging an alert in the console (real app, real alerts route)', () => {
  let t: TestApp
  let browser: Browser
  let base: string
  const alertIds: Record<string, number> = {}

  async function postReading(device: string, secret: string, soilMoisture: number): Promise<void> {
    const res = await fetch(`${base}/api/v1/telemetry`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${device}:${secret}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ values: { soil_moisture: soilMoisture } }),
    })
    expect(res.status).toBeLessThan(300)
  }

  beforeAll(async () => {
    t = await startApp({
      console: { defaultLanguage: 'en' }, // checked in English; Indonesian in console-i18n.test.ts
      alerts: { groupWaitMs: 0, rules: { crops: { chili: { dry: { thresholdPct: 25, forMs: 0 } } } } },
    })
    base = t.apiUrl
    await new UserStore(t.app.registry).add({ id: 'budi', role: 'officer', password: 'officer-password-1' })
    const engine = t.app.alerts!
    for (const [i, name] of ['SAWAH1', 'SAWAH2'].entries()) {
      const device = `soil-${i + 1}`
      const secret = await t.addDevice({ id: device, village: VILLAGE })
      const field = `${VILLAGE}-${name.toLowerCase()}`
      engine.directory.addField({
        id: field,
        village: VILLAGE,
        name,
        crop: 'chili',
        stage: 'mid',
        areaHa: 0.15,
        devices: [device],
      })
      await postReading(device, secret, 18.5 - i)
      await waitFor(
        `the dry alert of ${field}`,
        () => engine.listAlerts({ field, state: 'firing' }).length === 1,
      )
      alertIds[field] = engine.listAlerts({ field })[0]!.id
    }
    new UserStore(t.app.registry).setVillages('budi', [VILLAGE]) // officers see their villages only
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await t?.stop()
  })

  it('lists firing alerts and acknowledges one; the acknowledgement shows and is recorded with who', async () => {
    const engine = t.app.alerts!
    const first = alertIds['kemiren-sawah1']!
    const second = alertIds['kemiren-sawah2']!
    const page = await (await browser.newContext()).newPage()
    await page.goto(`${base}/console/login?next=%2Fconsole%2Falerts`)
    await page.fill('#user', 'budi')
    await page.fill('#password', 'officer-password-1')
    await Promise.all([page.waitForURL(`${base}/console/alerts`), page.click('button[type=submit]')])
    const row = page.locator(`#alerts tr[data-alert="${first}"]`)
    await row.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await row.textContent()).toContain('field:kemiren-sawah1 / kemiren-sawah1')
    expect(await row.textContent()).toContain('dry (18.5)')
    expect(await page.locator(`#alerts tr[data-alert="${second}"]`).textContent()).toContain('dry (17.5)')
    await screenshot(page, 'alerts-firing')
    await row.locator('button:has-text("Acknowledge")').click()
    await expect
      .poll(() => page.textContent('#message'), { timeout: UI_TIMEOUT_MS })
      .toContain(`Alert ${first} (dry, field:kemiren-sawah1) acknowledged.`)
    await expect
      .poll(() => row.locator('td.ack').textContent(), { timeout: UI_TIMEOUT_MS })
      .toContain('by officer:budi')
    expect(engine.getAlert(first)).toMatchObject({ ackedBy: 'officer:budi', state: 'firing' })
    expect(engine.getAlert(second)!.ackedAtMs).toBeUndefined()
    await screenshot(page, 'alerts-acknowledged')
    // the same POST without the page's CSRF token is refused
    const forged = await page.request.post(`${base}/api/v1/alerts/${second}/ack`)
    expect(forged.status()).toBe(403)
    expect(engine.getAlert(second)!.ackedAtMs).toBeUndefined()
  })
})
