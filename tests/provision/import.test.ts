import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import mqtt from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { UserStore } from '../../src/console/index.ts'
import { startApp, type TestApp } from '../harness/app.ts'
import { apiSession } from '../harness/session.ts'

const run = promisify(execFile)

/**
 * Issue 16 item 7: bulk provisioning. A 500-row device CSV with one bad row imports nothing and
 * names the row; the corrected file imports all 500 and each device connects with its secret.
 * Fields and farmers through the API, trees through the CLI, all-or-none.
 */
describe('kampung import', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kampung-import-'))
  const dataDir = path.join(root, 'data')
  mkdirSync(dataDir)
  let app: TestApp | undefined
  afterAll(async () => {
    await app?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  const kampung = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      env: { ...process.env, KAMPUNG_DATA_DIR: dataDir, KAMPUNG_LOG_LEVEL: 'warn' },
    })
  const failed = (p: Promise<unknown>) =>
    p.then(() => ({ code: 0, stderr: '' })).catch((e: { code: number; stderr: string }) => e)

  const deviceCsv = (badAt?: number) =>
    [
      'id,village,kind,format,lat,lon',
      ...Array.from({ length: 500 }, (_, i) => {
        const n = String(i + 1).padStart(3, '0')
        const kind = i + 1 === badAt ? 'soill' : 'soil'
        return `soil-${n},${i % 2 ? 'kemiren' : 'glagah'},${kind},json,-8.2${n},114.3${n}`
      }),
    ].join('\n')

  it('a 500-row device file with one bad row imports nothing and names it; the corrected file imports all 500, each connects', async () => {
    await kampung('villages', 'add', 'kemiren', '--name', 'Kemiren')
    await kampung('villages', 'add', 'glagah', '--name', 'Glagah')
    const file = path.join(root, 'devices.csv')
    const secrets = path.join(root, 'devices.secrets.csv')

    writeFileSync(file, deviceCsv(251))
    const bad = await failed(kampung('import', 'devices', file))
    expect(bad.code).toBe(1)
    // row 251 is on line 252 (the header is line 1)
    expect(bad.stderr).toMatch(
      /devices\.csv: nothing imported; 1 problem\(s\):\n {2}line 252, column kind: "soill" is not one of soil,/,
    )
    expect(existsSync(secrets), 'no secrets file when nothing was imported').toBe(false)
    const none = await kampung('devices', 'list')
    expect(none.stdout).toMatch(/^0 device\(s\)$/m)

    writeFileSync(file, deviceCsv())
    const good = await kampung('import', 'devices', file)
    expect(good.stdout).toMatch(/500 devices imported; their secrets are in .*devices\.secrets\.csv/)
    expect(statSync(secrets).mode & 0o777).toBe(0o600)
    const rows = readFileSync(secrets, 'utf8').trim().split('\n').slice(1)
    expect(rows).toHaveLength(500)

    // the secrets file is never overwritten: a second import is refused before touching anything
    const again = await failed(kampung('import', 'devices', file))
    expect(again.stderr).toMatch(/EEXIST/)

    app = await startApp({}, dataDir)
    const pairs = rows.map((r) => r.split(',') as [string, string])
    let connected = 0
    for (let i = 0; i < pairs.length; i += 25) {
      await Promise.all(
        pairs.slice(i, i + 25).map(async ([id, secret]) => {
          const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${app!.mqttPort}`, {
            clientId: id,
            username: id,
            password: secret,
            reconnectPeriod: 0,
          })
          connected++
          await c.endAsync()
        }),
      )
    }
    expect(connected).toBe(500)
    // and a wrong secret is still refused
    await expect(
      mqtt.connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, {
        clientId: 'soil-001',
        username: 'soil-001',
        password: 'not-its-secret',
        reconnectPeriod: 0,
      }),
    ).rejects.toThrow(/Not authorized|Bad username or password/)
  }, 180_000)

  it('fields and farmers over the API: every problem with its line and column, then all', async () => {
    const t = app!
    const consoleSecret = await t.addDevice({ id: 'console', village: 'kemiren', kind: 'service' })
    expect(consoleSecret).toBeTruthy()
    await t.addDevice({ id: 'valve-s1', village: 'kemiren' })
    await new UserStore(t.app.registry).add({ id: 'admin', role: 'admin', password: 'admin-password-1' })
    const { csrfToken, cookie } = await apiSession(t.apiUrl, 'admin', 'admin-password-1')
    const post = async (kind: string, body: string, basic?: string) =>
      fetch(`${t.apiUrl}/api/v1/import/${kind}`, {
        method: 'POST',
        headers: basic
          ? { authorization: `Basic ${Buffer.from(basic).toString('base64')}`, 'content-type': 'text/csv' }
          : { cookie, 'x-csrf-token': csrfToken, 'content-type': 'text/csv' },
        body,
      })
    const fields = [
      'id,village,name,crop,area_ha,planted,devices,soil_texture,valve',
      'kemiren-s1,kemiren,SAWAH1,rice,0.4,2026-11-01,soil-001,clay,valve-s1',
      'kemiren-s2,kemiren,SAWAH2,maize,abc,2026-11-01,soil-003,loam,',
      'kemiren-s3,kemiren,SAWAH3,chili,0.2,yesterday,soil-999,loam,',
    ].join('\n')
    const refused = await post('fields', fields)
    expect(refused.status).toBe(400)
    const body = (await refused.json()) as { problems: string[] }
    expect(body.problems).toEqual([
      'line 3, column area_ha: "abc" is not a number',
      'line 4, column planted: "yesterday" is not a date like 2026-11-20',
    ])
    expect(t.app.alerts!.directory.listFields()).toEqual([])

    // a service credential may not import
    expect((await post('fields', fields, `console:${consoleSecret}`)).status).toBe(403)

    const ok = await post(
      'fields',
      fields.replace(',abc,', ',0.3,').replace('yesterday', '2026-11-02').replace('soil-999', 'soil-005'),
    )
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ kind: 'fields', imported: 3 })
    expect(t.app.alerts!.directory.getField('kemiren-s1')?.valve).toEqual({ device: 'valve-s1' })
    expect(t.app.alerts!.directory.getField('kemiren-s2')?.valve).toBeUndefined()

    const farmers = [
      'id,name,phone,village,fields',
      'pak-budi,Pak Budi,0812-3456-7890,kemiren,kemiren-s1;kemiren-s2',
      'bu-sri,Bu Sri,0812-3456-7890,kemiren,kemiren-s3',
    ].join('\n')
    const dup = await post('farmers', farmers)
    expect(dup.status).toBe(400)
    expect(((await dup.json()) as { problems: string[] }).problems).toEqual([
      'line 3: a farmer with id "bu-sri" or phone +6281234567890 exists',
    ])
    expect(t.app.alerts!.directory.listFarmers()).toEqual([])
    const good = await post(
      'farmers',
      farmers.replace('bu-sri,Bu Sri,0812-3456-7890', 'bu-sri,Bu Sri,0813-1111-2222'),
    )
    expect(good.status).toBe(200)
    expect(t.app.alerts!.directory.subscriptionsOf('pak-budi')).toEqual(['kemiren-s1', 'kemiren-s2'])

    await t.addDevice({ id: 'dendro-1', village: 'kemiren', kind: 'dendrometer' })
    await t.addDevice({ id: 'dendro-2', village: 'kemiren', kind: 'dendrometer' })
    const trees = [
      'id,device,species,planted,initial_diameter_mm,lat,lon',
      'T-0001,dendro-1,sengon,2026-10-01,15.2,-8.21,114.35',
      'T-0002,dendro-2,mahoni,2026-10-01,12,-8.21,114.35',
    ].join('\n')
    const noSpecies = await post('trees', trees)
    expect(noSpecies.status).toBe(400)
    expect(((await noSpecies.json()) as { problems: string[] }).problems[0]).toMatch(
      /^line 3: species "mahoni" is not one of /,
    )
    expect(t.app.oksigen!.repo.listTrees()).toEqual([])
    expect((await post('trees', trees.replace('mahoni', 'teak'))).status).toBe(200)
    expect(t.app.oksigen!.repo.listTrees().map((x) => x.id)).toEqual(['T-0001', 'T-0002'])
  }, 60_000)
})
