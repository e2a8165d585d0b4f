import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import mqtt from 'mqtt'
import type { Browser, Page, Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tileOrigin } from '../../src/api/map-route.ts'
import type { ConfigError } from '../../src/config.ts'
import { parseConfig } from '../../src/config.ts'
import { UserStore } from '../../src/console/index.ts'
// @ts-expect-error: a browser module without type declarations (the console has no build step)
import { DICTIONARIES } from '../../src/console/public/i18n.js'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'
import { launchChromium, screenshot } from '../harness/chromium.ts'
import { PASSWORDS } from './fixtures.ts'

const UI_TIMEOUT_MS = 15_000
const DAY_MS = 86_400_000

/** Registered coordinates: two villages, apart enough that no marker hides another. */
const DEVICES = [
  { id: 'kmr-soil1', village: 'kemiren', kind: 'soil' as const, lat: -8.2005, lon: 114.301 },
  { id: 'kmr-dendro1', village: 'kemiren', kind: 'dendrometer' as const, lat: -8.207, lon: 114.306 },
  { id: 'kmr-dendro2', village: 'kemiren', kind: 'dendrometer' as const, lat: -8.204, lon: 114.295 },
  { id: 'olh-soil1', village: 'olehsari', kind: 'soil' as const, lat: -8.251, lon: 114.351 },
  { id: 'olh-weather1', village: 'olehsari', kind: 'weather' as const, lat: -8.2575, lon: 114.3555 },
]
const FIELDS = [
  {
    id: 'kmr-sawah1',
    village: 'kemiren',
    name: 'SAWAH1',
    lat: -8.1985,
    lon: 114.2985,
    devices: ['kmr-soil1'],
  },
  { id: 'kmr-sawah2', village: 'kemiren', name: 'SAWAH2', lat: -8.2105, lon: 114.2995, devices: [] },
  {
    id: 'olh-tegal1',
    village: 'olehsari',
    name: 'TEGAL1',
    lat: -8.2545,
    lon: 114.3465,
    devices: ['olh-soil1'],
  },
]
const TREES = {
  failing: { device: 'kmr-dendro1', lat: -8.2095, lon: 114.3095, state: 'failed' as const },
  growing: { device: 'kmr-dendro2', lat: -8.2025, lon: 114.2915, state: 'growing' as const },
}

interface World {
  t: TestApp
  trees: Record<keyof typeof TREES, string>
}

/** Two villages with devices, fields and trees at known places; SAWAH1 has a firing dry alert. */
async function mapWorld(map: Record<string, unknown> = {}): Promise<World> {
  const t = await startApp({ console: { map } as never })
  const users = new UserStore(t.app.registry)
  t.app.registry.addVillage({ id: 'kemiren', name: 'Desa Kemiren' })
  t.app.registry.addVillage({ id: 'olehsari', name: 'Desa Olehsari' })
  // Indonesian (the default), officer of both villages (issue 16: an officer sees only theirs)
  await users.add({
    id: 'budi',
    role: 'officer',
    password: PASSWORDS.officer,
    villages: ['kemiren', 'olehsari'],
  })
  for (const d of DEVICES) await t.addDevice({ ...d, format: 'json' })
  const directory = t.app.alerts!.directory
  for (const f of FIELDS)
    directory.addField({ ...f, crop: 'chili', plantedAtMs: Date.now() - 30 * DAY_MS, areaHa: 0.2 })
  t.app.alerts!.apply({
    rule: 'dry',
    subject: 'field:kmr-sawah1',
    category: 'field',
    village: 'kemiren',
    field: 'kmr-sawah1',
    severity: 'warning',
    active: true,
    clear: false,
    value: 18,
    atMs: Date.now(),
    forMs: 0,
  })
  const repo = t.app.oksigen!.repo
  const trees = {} as Record<keyof typeof TREES, string>
  for (const [key, tr] of Object.entries(TREES) as Array<[keyof typeof TREES, (typeof TREES)['failing']]>) {
    const tree = repo.addTree(
      {
        device: tr.device,
        species: 'sengon',
        plantedAtMs: Date.now() - 60 * DAY_MS,
        initialDiameterMm: 15,
        lat: tr.lat,
        lon: tr.lon,
      },
      ['sengon'],
    )
    repo.saveState(tree.id, { state: tr.state, detail: { reason: 'test' }, updatedAtMs: Date.now() })
    trees[key] = tree.id
  }
  return { t, trees }
}

async function loginAs(page: Page, base: string, user: string, password: string): Promise<void> {
  await page.goto(`${base}/console/login`)
  await page.fill('#user', user)
  await page.fill('#password', password)
  await Promise.all([
    page.waitForURL(`${base}/console/`, { timeout: UI_TIMEOUT_MS }),
    page.click('button[type=submit]'),
  ])
}

/** Every request the page makes, and any not to `base` refused (as if the machine were offline). */
async function offline(page: Page, base: string): Promise<string[]> {
  const foreign: string[] = []
  await page.route('**/*', (route) => {
    const url = route.request().url()
    if (url.startsWith(`${base}/`)) return route.continue()
    foreign.push(url)
    return route.abort('internetdisconnected')
  })
  return foreign
}

const markerPositions = (page: Page) =>
  page.evaluate(() => {
    const m = (
      window as unknown as {
        kampungMap: { markers: Map<string, { getLatLng(): { lat: number; lng: number } }> }
      }
    ).kampungMap.markers
    return Object.fromEntries([...m].map(([k, v]) => [k, [v.getLatLng().lat, v.getLatLng().lng]]))
  })

describe('console.map config', () => {
  const problems = (map: Record<string, unknown>) => {
    try {
      parseConfig({ console: { map } as never })
      return []
    } catch (err) {
      return (err as ConfigError).problems ?? [String(err)]
    }
  }

  it('no tiles by default; a tile URL needs {z} {x} {y}, http(s) without credentials or a local path', () => {
    expect(parseConfig({}).console.map).toEqual({ tileAttribution: '', onlineWithinMs: 3_600_000 })
    expect(problems({ tileUrl: 'https://{s}.tile.example.id/{z}/{x}/{y}.png' })).toEqual([])
    expect(problems({ tileUrl: '/tiles/{z}/{x}/{y}.png' })).toEqual([])
    expect(problems({ tileUrl: 'https://tile.example.id/{z}/{x}.png' }).join()).toMatch(
      /console\.map\.tileUrl.*\{y\}/,
    )
    expect(problems({ tileUrl: 'https://u:p@tile.example.id/{z}/{x}/{y}.png' }).join()).toMatch(
      /without credentials/,
    )
    expect(problems({ tileUrl: 'ftp://tile.example.id/{z}/{x}/{y}.png' }).join()).toMatch(
      /console\.map\.tileUrl/,
    )
  })

  it("the page's CSP allows the tile server's origin only", () => {
    expect(tileOrigin(undefined)).toBeUndefined()
    expect(tileOrigin('/tiles/{z}/{x}/{y}.png')).toBeUndefined()
    expect(tileOrigin('https://{s}.tile.example.id/{z}/{x}/{y}.png')).toBe('https://*.tile.example.id')
    expect(tileOrigin('http://localhost:8081/{z}/{x}/{y}.png')).toBe('http://localhost:8081')
  })
})

describe('console map in headless Chromium, no tile server (offline)', () => {
  let w: World
  let browser: Browser
  let base: string

  beforeAll(async () => {
    w = await mapWorld()
    base = w.t.apiUrl
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await w?.t.stop()
  })

  it('GET /api/v1/map: officers only; one village with ?village=', async () => {
    expect((await fetch(`${base}/api/v1/map`)).status).toBe(401)
    const ctx = await browser.newContext()
    const page = await ctx.newPage()
    await loginAs(page, base, 'budi', PASSWORDS.officer)
    const all = await page.evaluate(() => fetch('/api/v1/map').then((r) => r.json()))
    expect(all.tiles).toBeNull()
    expect(all.villages.map((v: { id: string }) => v.id)).toEqual(['kemiren', 'olehsari'])
    const kemiren = all.villages.find((v: { id: string }) => v.id === 'kemiren')
    const own = DEVICES.filter((d) => d.village === 'kemiren')
    expect(kemiren.lat).toBeCloseTo(own.reduce((a, d) => a + d.lat, 0) / own.length, 10)
    expect(kemiren.lon).toBeCloseTo(own.reduce((a, d) => a + d.lon, 0) / own.length, 10)
    expect(Object.fromEntries(all.fields.map((f: { id: string; alert: string }) => [f.id, f.alert]))).toEqual(
      {
        'kmr-sawah1': 'firing',
        'kmr-sawah2': 'none',
        'olh-tegal1': 'none',
      },
    )
    const one = await page.evaluate(() => fetch('/api/v1/map?village=olehsari').then((r) => r.json()))
    expect(one.villages.map((v: { id: string }) => v.id)).toEqual(['olehsari'])
    expect(one.fields.map((f: { id: string }) => f.id)).toEqual(['olh-tegal1'])
    expect(one.trees).toEqual([])
    expect(one.devices.map((d: { id: string }) => d.id)).toEqual(['olh-soil1', 'olh-weather1'])
    await ctx.close()
  })

  it('a device with a fresh reading is online, one without is offline', async () => {
    const secret = await w.t.app.registry.rotateSecret('olh-weather1')
    const res = await fetch(`${base}/api/v1/telemetry`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`olh-weather1:${secret}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify([{ ts: Date.now(), values: { air_temperature: 27.5 } }]),
    })
    expect(res.status).toBe(200)
    await waitFor('the reading to reach the alerts engine', () =>
      w.t.app.alerts!.devicesLastSeenMs().has('olh-weather1'),
    )
    const ctx = await browser.newContext()
    const page = await ctx.newPage()
    await loginAs(page, base, 'budi', PASSWORDS.officer)
    const map = await page.evaluate(() => fetch('/api/v1/map').then((r) => r.json()))
    const status = Object.fromEntries(
      map.devices.map((d: { id: string; status: string }) => [d.id, d.status]),
    )
    expect(status).toEqual({
      'kmr-soil1': 'offline',
      'kmr-dendro1': 'offline',
      'kmr-dendro2': 'offline',
      'olh-soil1': 'offline',
      'olh-weather1': 'online',
    })
    // a live MQTT connection (the embedded broker's online set) counts too, while it lasts
    const dendroSecret = await w.t.app.registry.rotateSecret('kmr-dendro2')
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${w.t.mqttPort}`, {
      clientId: 'kmr-dendro2:map-test',
      username: 'kmr-dendro2',
      password: dendroSecret,
    })
    const statusOf = async (id: string) => {
      const m = await page.evaluate(() => fetch('/api/v1/map').then((r) => r.json()))
      return m.devices.find((d: { id: string }) => d.id === id).status as string
    }
    try {
      expect(await statusOf('kmr-dendro2')).toBe('online')
    } finally {
      await client.endAsync()
    }
    await waitFor('kmr-dendro2 to go offline', async () => (await statusOf('kmr-dendro2')) === 'offline')
    await ctx.close()
  })

  it('an Indonesian officer sees every marker where it is registered, offline, and opens the failing tree', async () => {
    const ctx = await browser.newContext()
    const page = await ctx.newPage()
    const requests: string[] = []
    page.on('request', (r: Request) => requests.push(r.url()))
    const foreign = await offline(page, base)
    await loginAs(page, base, 'budi', PASSWORDS.officer)
    await page.click('header nav a[href="/console/map"]')
    await page.waitForSelector('body[data-map-ready="true"]', { timeout: UI_TIMEOUT_MS })
    expect(await page.textContent('h1')).toBe('Peta')
    expect(await page.getAttribute('html', 'lang')).toBe('id')

    const at = await markerPositions(page)
    const expected: Record<string, [number, number]> = {}
    for (const d of DEVICES) expected[`device:${d.id}`] = [d.lat, d.lon]
    for (const f of FIELDS) expected[`field:${f.id}`] = [f.lat, f.lon]
    for (const [key, tr] of Object.entries(TREES))
      expected[`tree:${w.trees[key as keyof typeof TREES]}`] = [tr.lat, tr.lon]
    for (const v of ['kemiren', 'olehsari']) {
      const own = DEVICES.filter((d) => d.village === v)
      expected[`village:${v}`] = [
        own.reduce((a, d) => a + d.lat, 0) / own.length,
        own.reduce((a, d) => a + d.lon, 0) / own.length,
      ]
    }
    expect(Object.keys(at).sort()).toEqual(Object.keys(expected).sort())
    for (const [k, [lat, lon]] of Object.entries(expected)) {
      expect(at[k]![0], k).toBeCloseTo(lat, 9)
      expect(at[k]![1], k).toBeCloseTo(lon, 9)
    }

    // colours by state
    expect(await page.getAttribute('[data-marker="field:kmr-sawah1"]', 'class')).toContain('mk-field-firing')
    expect(await page.getAttribute('[data-marker="field:kmr-sawah2"]', 'class')).toContain('mk-field-none')
    expect(await page.getAttribute(`[data-marker="tree:${w.trees.failing}"]`, 'class')).toContain(
      'mk-tree-failed',
    )
    expect(await page.getAttribute('[data-marker="device:olh-weather1"]', 'class')).toContain(
      'mk-device-online',
    )
    expect(await page.getAttribute('[data-marker="device:kmr-soil1"]', 'class')).toContain(
      'mk-device-offline',
    )

    // Indonesian words and numbers: decimal comma in the coordinates
    await page.hover('[data-marker="field:kmr-sawah1"]')
    const tip = await page.textContent('.leaflet-tooltip', { timeout: UI_TIMEOUT_MS })
    expect(tip).toContain('Lahan SAWAH1 (kemiren)')
    expect(tip).toContain('1 peringatan aktif')
    expect(tip).toContain('lintang -8,19850; bujur 114,29850')
    const legend = await page.textContent('#map-legend')
    expect(legend).toContain('Keterangan')
    expect(legend).toContain('gagal')
    expect(legend).toContain('tidak ada server peta')
    await screenshot(page, 'map-offline-id')
    // no English text of the dictionary on the Indonesian map page (as console-i18n.test.ts checks)
    const own = await page.evaluate(() => {
      const body = document.body.cloneNode(true) as HTMLElement
      for (const n of body.querySelectorAll('select#language')) n.remove()
      return body.textContent ?? ''
    })
    const ID = DICTIONARIES.id as Record<string, string>
    const EN = DICTIONARIES.en as Record<string, string>
    const englishOnly = Object.keys(EN)
      .filter((k) => k.startsWith('map.') || k === 'nav.map')
      .filter((k) => EN[k] !== ID[k])
      .map((k) =>
        EN[k]!.split(/\{\w+\}/)
          .sort((a, b) => b.length - a.length)[0]!
          .trim(),
      )
      .filter((piece) => piece.length >= 3)
    expect(englishOnly.length).toBeGreaterThan(10)
    for (const piece of englishOnly) expect(own, piece).not.toContain(piece)

    // offline: the page asked nothing of any other server, and drew its own grid
    expect(foreign).toEqual([])
    expect(requests.every((u) => u.startsWith(`${base}/`))).toBe(true)
    expect(requests.some((u) => u.includes('/console/vendor/leaflet/leaflet-src.esm.js'))).toBe(true)
    expect(await page.locator('.leaflet-tile').count()).toBe(0)
    expect(await page.locator('path.map-grid').count()).toBeGreaterThan(4)

    // the failing tree's marker opens its page
    await Promise.all([
      page.waitForURL(`${base}/console/tree?id=${encodeURIComponent(w.trees.failing)}`, {
        timeout: UI_TIMEOUT_MS,
      }),
      page.click(`[data-marker="tree:${w.trees.failing}"]`),
    ])
    await page.waitForSelector('#title', { timeout: UI_TIMEOUT_MS })
    await page.waitForFunction(
      (id) => document.querySelector('#title')?.textContent?.includes(id),
      w.trees.failing,
      { timeout: UI_TIMEOUT_MS },
    )
    expect(await page.textContent('#title')).toBe(`Pohon ${w.trees.failing} gagal`)
    expect(foreign).toEqual([])
    await ctx.close()
  })

  it("a field's marker opens that field's alerts", async () => {
    const ctx = await browser.newContext()
    const page = await ctx.newPage()
    await loginAs(page, base, 'budi', PASSWORDS.officer)
    await page.goto(`${base}/console/map`)
    await page.waitForSelector('body[data-map-ready="true"]', { timeout: UI_TIMEOUT_MS })
    await Promise.all([
      page.waitForURL(`${base}/console/alerts?field=kmr-sawah1`, { timeout: UI_TIMEOUT_MS }),
      page.click('[data-marker="field:kmr-sawah1"]'),
    ])
    await page.waitForSelector('#alerts tbody tr', { timeout: UI_TIMEOUT_MS })
    expect(await page.textContent('#field')).toBe('Peringatan lahan kmr-sawah1')
    const rows = await page.locator('#alerts tbody tr').allTextContents()
    expect(rows).toHaveLength(1)
    expect(rows[0]).toContain('dry')
    await ctx.close()
  })

  it('in English: English words and a decimal point', async () => {
    await new UserStore(w.t.app.registry).add({
      id: 'sari',
      role: 'officer',
      password: PASSWORDS.officer,
      language: 'en',
      villages: ['kemiren', 'olehsari'],
    })
    const ctx = await browser.newContext()
    const page = await ctx.newPage()
    await loginAs(page, base, 'sari', PASSWORDS.officer)
    await page.goto(`${base}/console/map`)
    await page.waitForSelector('body[data-map-ready="true"]', { timeout: UI_TIMEOUT_MS })
    expect(await page.textContent('h1')).toBe('Map')
    await page.hover(`[data-marker="tree:${w.trees.failing}"]`)
    const tip = await page.textContent('.leaflet-tooltip', { timeout: UI_TIMEOUT_MS })
    expect(tip).toContain(`Tree ${w.trees.failing} (white albizia)`)
    expect(tip).toContain('failed')
    expect(tip).toContain('lat -8.20950, lon 114.30950')
    expect(await page.textContent('#map-legend')).toContain('no tile server configured')
    await ctx.close()
  })
})

describe('console map with a tile server configured', () => {
  let w: World
  let browser: Browser
  let tiles: Server
  const tileHits: string[] = []
  // a 1×1 transparent PNG
  const PNG = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
    'base64',
  )

  beforeAll(async () => {
    tiles = createServer((req, res) => {
      tileHits.push(req.url ?? '')
      res.writeHead(200, { 'content-type': 'image/png' }).end(PNG)
    })
    await new Promise<void>((r) => tiles.listen(0, '127.0.0.1', r))
    const port = (tiles.address() as AddressInfo).port
    w = await mapWorld({
      tileUrl: `http://localhost:${port}/{z}/{x}/{y}.png`,
      tileAttribution: '© <b>Peta Desa</b>',
    })
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await w?.t.stop()
    await new Promise((r) => tiles?.close(r))
  })

  it('loads its tiles (allowed by the CSP) and shows the credit as text', async () => {
    const ctx = await browser.newContext()
    const page = await ctx.newPage()
    const blocked: string[] = []
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) blocked.push(m.text())
    })
    await loginAs(page, w.t.apiUrl, 'budi', PASSWORDS.officer)
    await page.goto(`${w.t.apiUrl}/console/map`)
    await page.waitForSelector('body[data-map-ready="true"]', { timeout: UI_TIMEOUT_MS })
    await page.waitForSelector('img.leaflet-tile-loaded', { timeout: UI_TIMEOUT_MS })
    expect(tileHits.length).toBeGreaterThan(0)
    expect(tileHits.every((u) => /^\/\d+\/\d+\/\d+\.png$/.test(u))).toBe(true)
    expect(blocked).toEqual([])
    expect(await page.textContent('.leaflet-control-attribution')).toBe('© <b>Peta Desa</b>')
    expect(await page.locator('path.map-grid').count()).toBe(0)
    await ctx.close()
  })
})
