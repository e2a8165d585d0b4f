import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import mqtt from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { signRecord } from '../../src/oksigen/index.ts'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'
import { draft } from '../oksigen/certificate-fixtures.ts'

const run = promisify(execFile)
const DAY = 86_400_000

/**
 * Issue 16 item 6: a backup taken by `kampung backup` (its own process, as an operator runs it)
 * while a device streams readings and alert SMS go out; `kampung restore` into a fresh directory;
 * the restored system starts, the old certificate verifies, the device's secret works, the alert is
 * still the same alert and its SMS is not sent again.
 */
describe('kampung backup / restore', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kampung-backup-'))
  const dataDir = path.join(root, 'data')
  const backupDir = path.join(root, 'backup')
  const restoredDir = path.join(root, 'restored')
  let apps: TestApp[] = []
  afterAll(async () => {
    for (const a of apps) await a.stop()
    rmSync(root, { recursive: true, force: true })
  })

  const kampung = (dir: string, ...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      env: { ...process.env, KAMPUNG_DATA_DIR: dir, KAMPUNG_LOG_LEVEL: 'warn' },
    })

  const overrides = {
    alerts: {
      tickIntervalMs: 100,
      groupWaitMs: 0,
      groupIntervalMs: 0,
      rules: { sensorHealth: { enabled: false }, moistureDrop: { enabled: false } },
    },
  }
  const PHONE = '+6281200007777'

  it('copies a running system under load and restores it into a fresh directory without a duplicate SMS', async () => {
    const t = await startApp(overrides, dataDir)
    apps.push(t)
    const secret = await t.addDevice({ id: 'soil-01', village: 'kemiren', kind: 'soil' })
    const directory = t.app.alerts!.directory
    directory.addField({
      id: 'kemiren-jagung',
      village: 'kemiren',
      name: 'JAGUNG1',
      crop: 'maize',
      plantedAtMs: Date.now() - 40 * DAY,
      areaHa: 0.3,
      devices: ['soil-01'],
    })
    directory.addFarmer({
      id: 'pak-budi',
      name: 'Pak Budi',
      phone: PHONE,
      quietStart: '00:00',
      quietEnd: '00:00',
    })
    directory.subscribe('pak-budi', 'kemiren-jagung')
    await t.addDevice({ id: 'dendro-01', village: 'kemiren', kind: 'dendrometer' })
    t.app.oksigen!.repo.addTree(
      {
        id: 'T-7QK2M9',
        device: 'dendro-01',
        species: 'sengon',
        plantedAtMs: Date.now() - 400 * DAY,
        initialDiameterMm: 15,
      },
      ['sengon'],
    )
    const signed = signRecord(draft(), t.app.oksigen!.keyRing)
    await t.app.oksigen!.certificates.put(signed)

    // A device streaming a dry field (loam maize: dry below ~18 % VWC) until the backup is done.
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${t.mqttPort}`, {
      clientId: 'soil-01',
      username: 'soil-01',
      password: secret,
    })
    // six dry hours from the device's backlog (past the rule's duration), then live readings
    const HOUR = 3_600_000
    for (let h = 6; h >= 1; h -= 0.5)
      await client.publishAsync(
        'kampung/kemiren/soil-01/up',
        JSON.stringify({ ts: Date.now() - h * HOUR, values: { soil_moisture: 9 } }),
        { qos: 1 },
      )
    let streaming = true
    let published = 0
    const stream = (async () => {
      while (streaming) {
        await client.publishAsync(
          'kampung/kemiren/soil-01/up',
          JSON.stringify({ ts: Date.now(), values: { soil_moisture: 9 + (published % 3) } }),
          { qos: 1 },
        )
        published++
        await new Promise((r) => setTimeout(r, 10))
      }
    })()
    const sent = () => t.app.notify!.outbox.list({ to: PHONE })
    await waitFor('the dry-field SMS', () => sent().length >= 1)
    const before = published

    const out = await kampung(dataDir, 'backup', backupDir)
    expect(out.stdout).toMatch(/registry\.db: \d+ KiB in \d+ ms/)
    expect(out.stdout).toMatch(/notify\/outbox\.sqlite: /)
    expect(out.stdout).toMatch(/oksigen\/keys\/.*\.key\.pem/)
    expect(out.stdout).toMatch(/backup in .*: \d+ files, [\d.]+ MiB, \d+ ms; restore with: kampung restore/)
    expect(published - before, 'readings kept streaming during the backup').toBeGreaterThan(0)
    streaming = false
    await stream
    await client.endAsync()
    expect(statSync(backupDir).mode & 0o777).toBe(0o700)
    expect(statSync(path.join(backupDir, 'registry.db')).mode & 0o777).toBe(0o600)

    const alertsThen = t.app.alerts!.listAlerts({ field: 'kemiren-jagung' })
    expect(alertsThen.map((a) => a.rule)).toContain('dry')
    const smsThen = sent().map((m) => m.text)
    await t.stop()
    apps = []

    // restore refuses a directory that already holds a system, then goes into a fresh one
    const refused = await kampung(dataDir, 'restore', backupDir).catch(
      (e: { code: number; stderr: string }) => e,
    )
    expect(refused).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/already holds registry\.db.*fresh data directory/),
    })
    const restored = await kampung(restoredDir, 'restore', backupDir)
    expect(restored.stdout).toMatch(/restored the backup of .* into .*restored/)

    const r = await startApp(overrides, restoredDir)
    apps.push(r)
    // the certificate signed before the backup verifies on the restored system
    const page = await fetch(`${r.apiUrl}/verify/${signed.record.id}`)
    expect(page.status).toBe(200)
    expect(await page.text()).toMatch(/VALID/)
    // the device's secret still works, and the same alert goes on firing: no second SMS for it
    const again = await mqtt.connectAsync(`mqtt://127.0.0.1:${r.mqttPort}`, {
      clientId: 'soil-01',
      username: 'soil-01',
      password: secret,
    })
    for (let i = 0; i < 20; i++) {
      await again.publishAsync(
        'kampung/kemiren/soil-01/up',
        JSON.stringify({ ts: Date.now(), values: { soil_moisture: 9 } }),
        { qos: 1 },
      )
      await new Promise((res) => setTimeout(res, 30))
    }
    await again.endAsync()
    await new Promise((res) => setTimeout(res, 1_000)) // a few engine ticks
    const alertsNow = r.app.alerts!.listAlerts({ field: 'kemiren-jagung' })
    const dryThen = alertsThen.find((a) => a.rule === 'dry')!
    expect(alertsNow.find((a) => a.rule === 'dry')?.id).toBe(dryThen.id)
    expect(r.app.notify!.outbox.list({ to: PHONE }).map((m) => m.text)).toEqual(smsThen)
  }, 120_000)

  it('refuses a damaged backup and names the file', async () => {
    // (uses the backup made by the test above)
    const damaged = path.join(root, 'damaged')
    await run('cp', ['-a', backupDir, damaged])
    writeFileSync(path.join(damaged, 'registry.db'), 'not a database')
    const check = await kampung(path.join(root, 'never'), 'restore', damaged).catch(
      (e: { code: number; stderr: string }) => e,
    )
    expect(check).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('registry.db: checksum differs from the manifest'),
    })
  })
})
