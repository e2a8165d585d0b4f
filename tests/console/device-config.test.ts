import mqtt, { type MqttClient } from 'mqtt'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSimNode, type SimNodeDriver } from '../../firmware-sim/node/sim-node.ts'
import { UserStore } from '../../src/console/index.ts'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'
import { launchChromium, screenshot } from '../harness/chromium.ts'
import { englishOnly } from './english-only.ts'

const UI_TIMEOUT_MS = 15_000

/** This page's English texts (config.*, command.state.*) that must not be on its Indonesian version. */
const ENGLISH_ONLY = englishOnly((k) => k.startsWith('config.') || k.startsWith('command.state.'))

/**
 * The device configuration page (issue 17 scope 2) in headless Chromium: an Indonesian officer sets
 * a node's configuration while it is offline (waiting), the node comes online through the embedded
 * broker and answers with what it applied (in sync, desired against reported); an English admin sees
 * a node refuse a setting it cannot apply (failed, with its reason).
 */
describe('console: device configuration, desired against reported', () => {
  let t: TestApp
  let browser: Browser
  let base: string
  const secrets: Record<string, string> = {}
  const clients: MqttClient[] = []
  const nodes: SimNodeDriver[] = []

  beforeAll(async () => {
    t = await startApp({ commands: { resendAfterS: 1, checkEveryMs: 200 } })
    base = t.apiUrl
    t.app.registry.addVillage({ id: 'kemiren', name: 'Desa Kemiren' })
    secrets['kemiren-sawah1'] = await t.addDevice({ id: 'kemiren-sawah1', village: 'kemiren', kind: 'soil' })
    secrets['kemiren-wx'] = await t.addDevice({ id: 'kemiren-wx', village: 'kemiren', kind: 'weather' })
    const users = new UserStore(t.app.registry)
    await users.add({ id: 'budi', role: 'officer', password: 'officer-password-1', villages: ['kemiren'] })
    await users.add({ id: 'ayu', role: 'admin', password: 'admin-password-1', language: 'en' })
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => {})
    for (const n of nodes) n.stop()
    await browser?.close()
    await t?.stop()
  })

  /** A node running its firmware behind its own MQTT connection: it answers each command on its ack topic. */
  async function online(id: string, kind: 'soil' | 'weather'): Promise<SimNodeDriver> {
    const node = await createSimNode({
      config: { kind, deviceId: id, intervalMs: 60_000 } as Parameters<typeof createSimNode>[0]['config'],
      environment: () => ({
        soil_moisture: 30,
        soil_temperature: 27,
        air_temperature: 27,
        relative_humidity: 80,
        pressure: 1010,
        battery_voltage: 4,
      }),
    })
    nodes.push(node)
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${t.mqttPort}`, {
      clientId: id,
      username: id,
      password: secrets[id],
      protocolVersion: 4,
      reconnectPeriod: 0,
    })
    clients.push(client)
    client.on('message', (_topic, payload) => {
      const ack = node.firmware.handleCommand(payload)
      if (ack) client.publish(`kampung/kemiren/${id}/ack`, JSON.stringify(ack), { qos: 1 })
    })
    await client.subscribeAsync(`kampung/kemiren/${id}/down`, { qos: 1 })
    return node
  }

  async function login(page: Page, user: string, password: string, next: string): Promise<void> {
    await page.goto(`${base}/console/login?next=${encodeURIComponent(next)}`)
    await page.fill('#user', user)
    await page.fill('#password', password)
    await Promise.all([page.waitForURL(`${base}${next}`), page.click('button[type=submit]')])
  }

  const cell = (page: Page, row: string, col: 'desired' | 'reported') =>
    page.textContent(`#comparison tr[data-row="${row}"] td.${col}`)

  it('an officer sets a version while the node is offline (waiting), and sees it in sync once the node applied it', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage()
    await login(page, 'budi', 'officer-password-1', '/console/device?id=kemiren-sawah1')
    await page.locator('#status').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await page.textContent('h1')).toBe('Konfigurasi kemiren-sawah1')
    expect(await page.textContent('#status')).toBe('Belum diatur')
    expect(await cell(page, 'version', 'reported')).toBe('—')

    await page.fill('#set-reportIntervalS', '600')
    await page.fill('#set-dryThresholdPct', '20.5')
    await page.click('#config-form button[type=submit]')
    await expect
      .poll(() => page.textContent('#message'), { timeout: UI_TIMEOUT_MS })
      .toBe('Versi 1 disimpan dan dikirim ke perangkat.')
    expect(await page.getAttribute('#status', 'data-status')).toBe('waiting')
    expect(await page.textContent('#status')).toMatch(
      /^Menunggu sejak \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}\.\d{2} WIB$/,
    )
    expect(await cell(page, 'version', 'desired')).toBe('1')
    expect(await cell(page, 'dryThresholdPct', 'desired')).toBe('20,5') // decimal comma in Indonesian
    expect(await cell(page, 'when', 'reported')).toBe('belum ada laporan')
    expect(await page.textContent('#history tr[data-version="1"]')).toContain('menunggu perangkat')

    // The node comes online; the page drawn again shows what it reported.
    const node = await online('kemiren-sawah1', 'soil')
    await waitFor(
      'reported',
      () => t.app.nodeConfig!.get('kemiren-sawah1').status === 'in_sync',
      UI_TIMEOUT_MS,
    )
    expect(node.firmware.intervalMs).toBe(600_000)
    await page.reload()
    await page.locator('#status').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await page.getAttribute('#status', 'data-status')).toBe('in_sync')
    expect(await page.textContent('#status')).toBe('Sesuai')
    expect(await cell(page, 'version', 'reported')).toBe('1')
    expect(await cell(page, 'reportIntervalS', 'desired')).toBe('600')
    expect(await cell(page, 'reportIntervalS', 'reported')).toBe('600')
    expect(await cell(page, 'dryThresholdPct', 'reported')).toBe('20,5')
    expect(await cell(page, 'when', 'reported')).toMatch(/WIB$/)
    expect(await page.textContent('#history tr[data-version="1"]')).toContain('diterapkan')
    expect(await page.textContent('#comparison thead')).toBe('DiinginkanDilaporkan perangkat')
    // Indonesian words only (the language switch names English, and a node's reason is its own)
    const own = await page.evaluate(() => {
      const body = document.body.cloneNode(true) as HTMLElement
      for (const n of body.querySelectorAll('[lang="en"], select#language')) n.remove()
      return body.textContent ?? ''
    })
    expect(ENGLISH_ONLY.length).toBeGreaterThan(20)
    for (const piece of ENGLISH_ONLY) expect(own, piece).not.toContain(piece)
    await screenshot(page, 'id-device-config')

    // A change while online: version 2, in sync without leaving the page's data behind.
    await page.fill('#set-reportIntervalS', '300')
    await page.fill('#set-dryThresholdPct', '')
    await page.click('#config-form button[type=submit]')
    await expect
      .poll(() => page.textContent('#message'), { timeout: UI_TIMEOUT_MS })
      .toBe('Versi 2 disimpan dan dikirim ke perangkat.')
    await waitFor('version 2 applied', () => node.firmware.configVersion === 2, UI_TIMEOUT_MS)
    await page.reload()
    await expect.poll(() => page.textContent('#status'), { timeout: UI_TIMEOUT_MS }).toBe('Sesuai')
    expect(await cell(page, 'reportIntervalS', 'reported')).toBe('300')
    expect(await cell(page, 'dryThresholdPct', 'reported')).toBe('—')
  }, 60_000)

  it('an English admin sees a node refuse what it cannot apply, with its reason', async () => {
    await online('kemiren-wx', 'weather')
    const page = await (await browser.newContext()).newPage()
    await login(page, 'ayu', 'admin-password-1', '/console/device?id=kemiren-wx')
    await page.locator('#status').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await page.textContent('h1')).toBe('Configuration of kemiren-wx')
    expect(await page.textContent('#status')).toBe('Not set')
    await page.fill('#set-dryThresholdPct', '20')
    await page.click('#config-form button[type=submit]')
    await expect
      .poll(() => page.textContent('#message'), { timeout: UI_TIMEOUT_MS })
      .toBe('Version 1 saved and sent to the device.')
    await waitFor('answered', () => t.app.nodeConfig!.get('kemiren-wx').status === 'failed', UI_TIMEOUT_MS)
    await page.reload()
    await page.locator('#status').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await page.textContent('#status')).toBe('Failed: no valve on this node (dryThresholdPct)')
    expect(await cell(page, 'version', 'reported')).toBe('0')
    expect(await cell(page, 'reportIntervalS', 'reported')).toBe('60')
    expect(await cell(page, 'reportIntervalS', 'desired')).toBe("the device's default")
    expect(await page.textContent('#history tr[data-version="1"]')).toContain('failed')
    await screenshot(page, 'en-device-config-failed')
    // The same configuration again after a failure is a new attempt: version 2.
    await page.click('#config-form button[type=submit]')
    await expect
      .poll(() => page.textContent('#message'), { timeout: UI_TIMEOUT_MS })
      .toBe('Version 2 saved and sent to the device.')
    // The devices page links here.
    await page.goto(`${base}/console/devices`)
    await page.locator('#device-kemiren-wx a').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await page.getAttribute('#device-kemiren-wx a', 'href')).toBe('/console/device?id=kemiren-wx')
  }, 60_000)
})
