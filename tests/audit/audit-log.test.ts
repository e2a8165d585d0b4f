import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import type { Command } from 'commander'
import { parse } from 'csv-parse/sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Directory } from '../../src/alerts/index.ts'
import { type AuditEntry, auditCsvRecord, cliActor } from '../../src/audit/index.ts'
import { alertsCommands } from '../../src/cli/alerts.ts'
import { auditCommand } from '../../src/cli/audit.ts'
import { devicesCommand, villagesCommand } from '../../src/cli/devices.ts'
import { importCommand } from '../../src/cli/import.ts'
import { usersCommand } from '../../src/cli/users.ts'
import { parseConfig, resolvePaths } from '../../src/config.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'
import { launchChromium } from '../harness/chromium.ts'
import { apiSession } from '../harness/session.ts'

const run = promisify(execFile)

// biome-ignore lint/suspicious/noExplicitAny: the API's JSON answers, of many shapes
type Json = any

const KANNEL_TOKEN = 'a1b2c3d4e5f60718293a4b5c6d7e8f90'
const PASSWORDS = { ayu: 'admin-password-1', budi: 'officer-password-1', budi2: 'officer-password-2' }

/**
 * Issue 16 item 5: every change by a person or a service is in the audit log with who, when and
 * from where. The app runs for real; changes go through its HTTP API (console sessions of an admin
 * and an officer, HTTP Basic of a `service` account) and through the CLI's commands on the same
 * data directory (in this process, each command opening its own connection to the registry file
 * as `kampung` does; one real `kampung audit --csv` process at the end).
 */
describe('audit log', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-audit-'))
  let t: TestApp
  let registryPath: string
  let startMs: number
  const secrets: string[] = []
  const errors: string[] = []
  const out: string[] = []
  const io = { out: (l: string) => out.push(l), err: (l: string) => errors.push(l) }
  let nextPassword = ''
  const usersIo = { ...io, password: async () => nextPassword }

  const openRegistry = async () => {
    const r = new Registry({ path: registryPath, schemas: SCHEMAS })
    await r.start()
    return r
  }
  const alertsConfig = () => parseConfig({}).alerts
  /** One CLI command line, as `kampung <args>` would run it. */
  async function cli(make: () => Command | Command[], ...args: string[]): Promise<void> {
    const made = make()
    const cmds = Array.isArray(made) ? made : [made]
    const cmd = cmds.find((c) => c.name() === args[0])!
    cmd.exitOverride()
    await cmd.parseAsync(args.slice(1), { from: 'user' })
    expect(errors, args.join(' ')).toEqual([])
    expect(process.exitCode ?? 0, args.join(' ')).toBe(0)
  }

  const sessions: Record<string, { cookie: string; csrf: string }> = {}
  async function login(user: string, password: string): Promise<void> {
    const s = await apiSession(t.apiUrl, user, password)
    sessions[user] = { cookie: s.cookie, csrf: s.csrfToken }
  }
  async function as(
    user: string,
    method: string,
    url: string,
    body?: unknown,
    type = 'application/json',
  ): Promise<{ status: number; data: Json; text: string }> {
    const s = sessions[user]
    const headers: Record<string, string> = s
      ? { cookie: s.cookie, 'x-csrf-token': s.csrf }
      : { authorization: `Basic ${Buffer.from(user).toString('base64')}` }
    if (body !== undefined) headers['content-type'] = type
    const res = await fetch(`${t.apiUrl}${url}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    })
    const text = await res.text()
    let data: Json
    try {
      data = JSON.parse(text)
    } catch {
      data = undefined
    }
    return { status: res.status, data, text }
  }

  beforeAll(async () => {
    startMs = Date.now()
    t = await startApp(
      {
        console: { defaultLanguage: 'en' },
        // farmers' replies come in on Kannel's MO callback; nothing listens at sendsmsUrl
        notify: {
          sender: 'kannel',
          kannel: {
            sendsmsUrl: 'http://127.0.0.1:9/cgi-bin/sendsms',
            password: 'not-used-here',
            callbackToken: KANNEL_TOKEN,
          },
        },
        alerts: { groupWaitMs: 0, rules: { crops: { chili: { dry: { thresholdPct: 25, forMs: 0 } } } } },
      },
      dataDir,
    )
    registryPath = resolvePaths(parseConfig({ dataDir })).registry
  }, 60_000)

  afterAll(async () => {
    await t?.stop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  let alertId = 0
  let treeId = ''

  it('records every kind of change, from the CLI and from the API, with actor, time and address', async () => {
    // --- the CLI: users and passwords, villages, devices, fields, farmers, subscriptions, alerts, import
    nextPassword = PASSWORDS.ayu
    await cli(() => usersCommand(openRegistry, usersIo), 'users', 'add', 'ayu', '--role', 'admin')
    nextPassword = PASSWORDS.budi
    await cli(() => usersCommand(openRegistry, usersIo), 'users', 'add', 'budi')
    nextPassword = PASSWORDS.budi2
    await cli(() => usersCommand(openRegistry, usersIo), 'users', 'passwd', 'budi')
    await cli(() => usersCommand(openRegistry, usersIo), 'users', 'language', 'budi', 'en')
    await cli(() => villagesCommand(openRegistry, io), 'villages', 'add', 'kemiren', '--name', 'Desa Kemiren')
    // budi is the officer of kemiren (issue 16: an officer acts only in his villages)
    await cli(() => usersCommand(openRegistry, usersIo), 'users', 'villages', 'budi', 'kemiren')
    const devices = () => devicesCommand(openRegistry, io)
    await cli(
      devices,
      'devices',
      'add',
      'cli-node',
      '--village',
      'kemiren',
      '--kind',
      'soil',
      '--format',
      'json',
    )
    await cli(devices, 'devices', 'rotate-secret', 'cli-node')
    await cli(devices, 'devices', 'remove', 'cli-node')
    for (const line of out) if (line.startsWith('secret: ')) secrets.push(line.slice('secret: '.length))
    expect(secrets).toHaveLength(2)

    // --- the API as the console admin: devices, fields, farmers (+ subscription), silence, import
    await login('ayu', PASSWORDS.ayu)
    const added = await as('ayu', 'POST', '/api/v1/devices', {
      id: 'soil-1',
      village: 'kemiren',
      kind: 'soil',
      format: 'json',
    })
    expect(added.status).toBe(201)
    const rotated = await as('ayu', 'POST', '/api/v1/devices/soil-1/rotate-secret', {})
    expect(rotated.status).toBe(200)
    secrets.push(added.data.secret, rotated.data.secret)
    const dendro = await as('ayu', 'POST', '/api/v1/devices', {
      id: 'dendro-1',
      village: 'kemiren',
      kind: 'dendrometer',
      format: 'json',
    })
    expect(dendro.status).toBe(201)
    secrets.push(dendro.data.secret)
    const field = {
      id: 'kemiren-sawah1',
      village: 'kemiren',
      name: 'SAWAH1',
      crop: 'chili',
      stage: 'mid',
      areaHa: 0.15,
      devices: ['soil-1'],
    }
    expect((await as('ayu', 'POST', '/api/v1/fields', field)).status).toBe(201)
    expect((await as('ayu', 'PATCH', '/api/v1/fields/kemiren-sawah1', { areaHa: 0.2 })).status).toBe(200)
    const farmer = {
      id: 'pak-slamet',
      name: 'Pak Slamet',
      phone: '+6281234500001',
      fields: ['kemiren-sawah1'],
    }
    expect((await as('ayu', 'POST', '/api/v1/farmers', farmer)).status).toBe(201)
    const silence = {
      matchers: { village: 'kemiren', rule: 'offline' },
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      comment: 'gateway maintenance',
    }
    expect((await as('ayu', 'POST', '/api/v1/silences', silence)).status).toBe(201)
    const fieldsCsv = 'id,village,name,crop,area_ha,stage\nkemiren-sawah2,kemiren,SAWAH2,chili,0.1,mid\n'
    const imported = await as('ayu', 'POST', '/api/v1/import/fields', fieldsCsv, 'text/csv')
    expect(imported.status, imported.text).toBe(200)

    // a dry reading fires an alert; the admin acknowledges it in the API, then someone at the CLI
    const reading = await fetch(`${t.apiUrl}/api/v1/telemetry`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`soil-1:${rotated.data.secret}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ values: { soil_moisture: 18 } }),
    })
    expect(reading.status).toBeLessThan(300)
    const engine = t.app.alerts!
    await waitFor(
      'the dry alert',
      () => engine.listAlerts({ field: 'kemiren-sawah1', state: 'firing' }).length === 1,
    )
    alertId = engine.listAlerts({ field: 'kemiren-sawah1' })[0]!.id
    expect((await as('ayu', 'POST', `/api/v1/alerts/${alertId}/ack`, {})).status).toBe(200)
    // the farmer answers by SMS (through Kannel's MO callback): OK <id>, then STOP
    for (const text of [`OK ${alertId}`, 'STOP']) {
      const q = new URLSearchParams({ from: farmer.phone, to: '62811', text })
      const mo = await fetch(`${t.apiUrl}/api/v1/sms/kannel/mo?${q}`, {
        headers: { authorization: `Bearer ${KANNEL_TOKEN}` },
      })
      expect(mo.status, text).toBeLessThan(300)
    }
    await waitFor("the farmer's SMS commands in the audit log", async () => {
      const { data } = await as('ayu', 'GET', '/api/v1/audit?limit=2')
      return (data.entries as AuditEntry[]).some((e) => e.action === 'farmer.stop')
    })

    const alertsCli = () => alertsCommands(openRegistry, alertsConfig, io)
    await cli(
      alertsCli,
      'fields',
      'add',
      'f-cli',
      '--village',
      'kemiren',
      '--name',
      'SAWAH9',
      '--crop',
      'chili',
      '--stage',
      'mid',
      '--area-ha',
      '0.3',
    )
    await cli(alertsCli, 'fields', 'set', 'f-cli', '--area-ha', '0.4')
    await cli(alertsCli, 'farmers', 'add', 'bu-sri', '--name', 'Bu Sri', '--phone', '+6281234500002')
    await cli(alertsCli, 'farmers', 'subscribe', 'bu-sri', 'f-cli')
    await cli(alertsCli, 'alerts', 'ack', String(alertId))
    await cli(
      alertsCli,
      'alerts',
      'silence',
      '--until',
      '2h',
      '--village',
      'kemiren',
      '--comment',
      'harvest week',
    )
    const farmersFile = path.join(dataDir, 'farmers.csv')
    writeFileSync(farmersFile, 'id,name,phone,fields\npak-joko,Pak Joko,+6281234500003,f-cli\n')
    await cli(
      () =>
        importCommand({
          getRegistry: openRegistry,
          directoryOf: (registry) => new Directory({ registry, quietHours: alertsConfig().quietHours }),
          treesOf: () => Promise.reject(new Error('no trees here')),
        }),
      'import',
      'farmers',
      farmersFile,
    )

    // --- the officer's console: language, trees, a measurement, a decision
    await login('budi', PASSWORDS.budi2)
    expect((await as('budi', 'PUT', '/api/v1/session/language', { language: 'id' })).status).toBe(200)
    const tree = await as('budi', 'POST', '/api/v1/trees', {
      device: 'dendro-1',
      species: 'sengon',
      plantedAt: new Date(Date.now() - 86_400_000).toISOString(),
      initialDiameterMm: 15,
    })
    expect(tree.status, tree.text).toBe(201)
    treeId = tree.data.tree.id
    const measured = await as('budi', 'POST', `/api/v1/trees/${treeId}/measurements`, { heightM: 1.2 })
    expect(measured.status, measured.text).toBe(201)
    const decided = await as('budi', 'POST', `/api/v1/trees/${treeId}/decisions`, {
      decision: 'reject',
      reason: 'the tree was found dead on site',
    })
    expect(decided.status, decided.text).toBe(200)

    // --- a service account (HTTP Basic), as ingest workers and scripts call
    const svcSecret = await t.addDevice({ id: 'svc-1', village: 'kemiren', kind: 'service' })
    expect((await as(`svc-1:${svcSecret}`, 'POST', `/api/v1/trees/${treeId}/reverify`)).status).toBe(200)

    // --- what the admin reads back
    const { status, data } = await as('ayu', 'GET', '/api/v1/audit')
    expect(status).toBe(200)
    const entries = data.entries as AuditEntry[]
    const cliUser = cliActor().id
    expect(cliUser).toMatch(/^cli:.+/)
    const local = /^(::ffff:)?127\.0\.0\.1$/
    const expected: Array<[actor: string, action: string, target: string]> = [
      [cliUser, 'user.add', 'ayu'],
      [cliUser, 'user.add', 'budi'],
      [cliUser, 'user.password', 'budi'],
      [cliUser, 'user.language', 'budi'],
      [cliUser, 'village.add', 'kemiren'],
      [cliUser, 'user.villages', 'budi'],
      [cliUser, 'device.add', 'cli-node'],
      [cliUser, 'device.rotate-secret', 'cli-node'],
      [cliUser, 'device.remove', 'cli-node'],
      ['ayu', 'device.add', 'soil-1'],
      ['ayu', 'device.rotate-secret', 'soil-1'],
      ['ayu', 'device.add', 'dendro-1'],
      ['ayu', 'field.add', 'kemiren-sawah1'],
      ['ayu', 'field.update', 'kemiren-sawah1'],
      ['ayu', 'farmer.add', 'pak-slamet'],
      ['ayu', 'silence.add', expect.any(String) as unknown as string],
      ['ayu', 'import', 'fields'],
      ['ayu', 'alert.ack', String(alertId)],
      ['pak-slamet', 'alert.ack', String(alertId)],
      ['pak-slamet', 'farmer.stop', 'pak-slamet'],
      [cliUser, 'field.add', 'f-cli'],
      [cliUser, 'field.update', 'f-cli'],
      [cliUser, 'farmer.add', 'bu-sri'],
      [cliUser, 'farmer.subscribe', 'bu-sri'],
      [cliUser, 'alert.ack', String(alertId)],
      [cliUser, 'silence.add', expect.any(String) as unknown as string],
      [cliUser, 'import', 'farmers'],
      ['budi', 'user.language', 'budi'],
      ['budi', 'tree.add', treeId],
      ['budi', 'tree.measure', treeId],
      ['budi', 'tree.decide', treeId],
      ['svc-1', 'tree.reverify', treeId],
    ]
    const oldestFirst = [...entries].reverse()
    expect(oldestFirst.map((e) => [e.actor, e.action, e.target])).toEqual(expected)
    const endMs = Date.now()
    for (const e of entries) {
      expect(e.atMs).toBeGreaterThanOrEqual(startMs)
      expect(e.atMs).toBeLessThanOrEqual(endMs)
      if (e.actor.startsWith('cli:')) expect([e.actorKind, e.address]).toEqual(['cli', 'cli'])
      else if (e.actor === 'pak-slamet') expect([e.actorKind, e.address]).toEqual(['farmer', 'sms'])
      else expect(e.address, `${e.action} by ${e.actor}`).toMatch(local)
    }
    expect(entries.find((e) => e.actor === 'ayu')!.actorKind).toBe('user')
    expect(entries.find((e) => e.actor === 'svc-1')!.actorKind).toBe('service')
    expect(entries.find((e) => e.action === 'tree.decide')!.detail).toMatchObject({
      decision: 'reject',
      reason: 'the tree was found dead on site',
      state: decided.data.state,
    })
    expect(entries.find((e) => e.action === 'field.update' && e.actor === 'ayu')!.detail).toEqual({
      areaHa: 0.2,
    })
    expect(entries.find((e) => e.action === 'import' && e.actor === 'ayu')!.detail).toEqual({ imported: 1 })

    // never a secret, a password or a phone number
    const all = JSON.stringify(entries)
    expect(secrets).toHaveLength(5)
    for (const s of [...secrets, svcSecret, ...Object.values(PASSWORDS), '+6281234500001', '+6281234500002'])
      expect(all).not.toContain(s)
  }, 120_000)

  it('an officer reads only their own entries; a service account none', async () => {
    const mine = await as('budi', 'GET', '/api/v1/audit')
    expect(mine.status).toBe(200)
    const actors = new Set((mine.data.entries as AuditEntry[]).map((e) => e.actor))
    expect([...actors]).toEqual(['budi'])
    const svcSecret = await t.addDevice({ id: 'svc-2', village: 'kemiren', kind: 'service' })
    expect((await as(`svc-2:${svcSecret}`, 'GET', '/api/v1/audit')).status).toBe(403)
    expect((await fetch(`${t.apiUrl}/api/v1/audit`)).status).toBe(401)
  })

  it('offers no way to change or delete an entry: not through the API, not through SQL', async () => {
    const before = (await as('ayu', 'GET', '/api/v1/audit')).data.entries as AuditEntry[]
    const id = before[0]!.id
    for (const method of ['PUT', 'PATCH', 'DELETE', 'POST'])
      for (const url of ['/api/v1/audit', `/api/v1/audit/${id}`]) {
        const res = await as('ayu', method, url, method === 'DELETE' ? undefined : { action: 'nothing' })
        expect(res.status, `${method} ${url}`).toBe(405)
      }
    // even a direct write on the file is refused by the table's triggers
    const db = new Database(registryPath)
    try {
      expect(() => db.prepare("UPDATE audit_log SET actor = 'nobody'").run()).toThrow(/append-only/)
      expect(() => db.prepare('DELETE FROM audit_log').run()).toThrow(/append-only/)
    } finally {
      db.close()
    }
    const after = (await as('ayu', 'GET', '/api/v1/audit')).data.entries as AuditEntry[]
    expect(after).toEqual(before)
  })

  it('the CSV export (API and `kampung audit --csv`) has exactly the entries', async () => {
    const from = new Date(startMs).toISOString()
    const to = new Date(Date.now() + 1000).toISOString()
    const entries = (
      (await as('ayu', 'GET', `/api/v1/audit?from=${from}&to=${to}`)).data.entries as AuditEntry[]
    ).reverse()
    expect(entries.length).toBeGreaterThanOrEqual(31)
    const res = await as(
      'ayu',
      'GET',
      `/api/v1/audit?format=csv&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
    )
    expect(res.status).toBe(200)
    const rows = parse(res.text) as string[][]
    expect(rows[0]).toEqual(['id', 'time', 'actor_kind', 'actor', 'address', 'action', 'target', 'detail'])
    expect(rows.slice(1)).toEqual(entries.map(auditCsvRecord))
    // the range bounds: nothing from before `from`
    const later = await as('ayu', 'GET', `/api/v1/audit?format=csv&from=${to}`)
    expect(parse(later.text)).toEqual([rows[0]])

    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'audit', '--csv', '--since', '1h'],
      {
        env: { ...process.env, KAMPUNG_DATA_DIR: dataDir, KAMPUNG_LOG_LEVEL: 'warn' },
      },
    )
    expect(parse(stdout)).toEqual(rows)

    // a command that is not a registry command: the signing keys
    await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'keys', 'rotate'], {
      env: { ...process.env, KAMPUNG_DATA_DIR: dataDir, KAMPUNG_LOG_LEVEL: 'warn' },
    })
    const [rotated] = (await as('ayu', 'GET', '/api/v1/audit?limit=1')).data.entries as AuditEntry[]
    expect(rotated).toMatchObject({ actor: cliActor().id, address: 'cli', action: 'keys.rotate' })

    out.length = 0
    await cli(() => auditCommand(openRegistry, io), 'audit', '--since', '1h', '--limit', '3')
    expect(out).toHaveLength(5) // header, 3 entries, count
    expect(out[1]).toContain('keys.rotate')
    expect(out[2]).toContain('tree.reverify')
    expect(out[4]).toBe('3 entries (newest first)')
  }, 90_000)

  it('the console page lists the entries (Chromium)', async () => {
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      const base = t.apiUrl
      await page.goto(`${base}/console/login?next=%2Fconsole%2Faudit`)
      await page.fill('#user', 'ayu')
      await page.fill('#password', PASSWORDS.ayu)
      await Promise.all([page.waitForURL(`${base}/console/audit`), page.click('button[type=submit]')])
      const entries = (await as('ayu', 'GET', '/api/v1/audit')).data.entries as AuditEntry[]
      await page.waitForSelector('#entries tbody tr', { timeout: 15_000 })
      expect(await page.locator('#entries tbody tr').count()).toBe(entries.length)
      const decide = page.locator('#entries tr[data-action="tree.decide"] td')
      expect(await decide.nth(1).textContent()).toBe('budi')
      expect(await decide.nth(4).textContent()).toBe(treeId)
      expect(await page.locator('#csv').getAttribute('href')).toMatch(/^\/api\/v1\/audit\?format=csv&from=/)
      expect(await page.locator('h1').textContent()).toBe('Audit log')
    } finally {
      await browser.close()
    }
  }, 60_000)
})
