import { execFile } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import v8 from 'node:v8'
import vm from 'node:vm'
import { parse } from 'csv-parse/sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Finding } from '../../src/alerts/rules/types.ts'
import { UserStore } from '../../src/console/index.ts'
import { EXPORT_KINDS, wib } from '../../src/export/index.ts'
import type { ReadingQuery } from '../../src/store/index.ts'
import type { Reading } from '../../src/telemetry/index.ts'
import { startApp, type TestApp } from '../harness/app.ts'
import { apiSession } from '../harness/session.ts'

const run = promisify(execFile)
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

const HOUR_MS = 3_600_000
/** A whole hour, 10 days ago: inside any retention. */
const BASE_MS = Math.floor((Date.now() - 10 * 24 * HOUR_MS) / HOUR_MS) * HOUR_MS
const BIG_READINGS = 200_000
const OFFICER_PASSWORD = 'officer-password-1'

type Row = Record<string, string>
const csv = (text: string): Row[] => parse(text, { columns: true, bom: true }) as Row[]

describe('CSV export (API, CLI): readings, alerts, trees, decisions', () => {
  let t: TestApp
  let service: string
  let cookie: string
  const written: Reading[] = []

  const get = (path: string, headers: Record<string, string> = { cookie }) =>
    fetch(`${t.apiUrl}${path}`, { headers })

  beforeAll(async () => {
    t = await startApp({})
    t.app.registry.addVillage({ id: 'dinas', name: 'Dinas' })
    service = `Basic ${Buffer.from(`ops:${await t.addDevice({ id: 'ops', village: 'dinas', kind: 'service' })}`).toString('base64')}`
    // the officer of every village the exports below read (issue 16: officers export only theirs)
    for (const v of ['kemiren', 'sukorejo', 'besar']) t.app.registry.addVillage({ id: v, name: v })
    await new UserStore(t.app.registry).add({
      id: 'budi',
      role: 'officer',
      password: OFFICER_PASSWORD,
      villages: ['kemiren', 'sukorejo', 'besar', 'dinas'],
    })
    cookie = (await apiSession(t.apiUrl, 'budi', OFFICER_PASSWORD)).cookie
    // Two villages, two quantities, values with many decimals, readings sharing a time.
    for (let i = 0; i < 3_000; i++) {
      const village = i % 3 === 0 ? 'sukorejo' : 'kemiren'
      written.push({
        timeMs: BASE_MS + Math.floor(i / 2) * 60_000 + (i % 7),
        village,
        device: `${village}-sawah${i % 4}`,
        sensor: i % 5 === 0 ? 'soil2' : 'soil1',
        quantity: i % 10 === 0 ? 'air_temperature' : 'soil_moisture',
        value: i % 10 === 0 ? 24 + i / 997 : (i * 7.123456789) % 60,
      })
    }
    await t.app.store.write(written)
  }, 60_000)
  afterAll(() => t?.stop())

  it("exports a village's readings: rows match the store exactly (count, values, times)", async () => {
    const from = new Date(BASE_MS + 100 * 60_000).toISOString()
    const to = new Date(BASE_MS + 1_200 * 60_000).toISOString()
    const res = await get(
      `/api/v1/export/readings.csv?village=kemiren&quantity=soil_moisture&from=${from}&to=${to}`,
    )
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    expect(res.headers.get('content-disposition')).toMatch(
      /^attachment; filename="readings-kemiren-\d{8}\.csv"$/,
    )
    const text = Buffer.from(await res.arrayBuffer()).toString('utf8') // with its byte-order mark
    expect(text.split('\n')[0]).toBe('\uFEFFtime_utc,time_wib,village,device,sensor,quantity,value,unit')
    const rows = csv(text)
    const q: ReadingQuery = {
      quantity: 'soil_moisture',
      village: 'kemiren',
      fromMs: Date.parse(from),
      toMs: Date.parse(to),
    }
    const stored = await t.app.store.query(q)
    expect(stored.length).toBeGreaterThan(1_000)
    expect(rows).toHaveLength(stored.length)
    rows.forEach((row, i) => {
      const r = stored[i]!
      expect(Date.parse(row.time_utc!)).toBe(r.timeMs)
      expect(row.time_utc).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      expect(row.time_wib).toBe(wib(r.timeMs))
      expect([row.village, row.device, row.sensor, row.quantity, row.unit]).toEqual([
        r.village,
        r.device,
        r.sensor,
        'soil_moisture',
        '%VWC',
      ])
      expect(row.value).not.toContain(',')
      expect(Number(row.value)).toBe(r.value) // exact: the shortest form that reads back the same double
    })
    // WIB is UTC+7: 2026-12-03T17:30:00Z is 2026-12-04 00:30:00 in Banyuwangi
    expect(wib(Date.parse('2026-12-03T17:30:00Z'))).toBe('2026-12-04 00:30:00')
    // Without a quantity: every quantity of the village, one after another.
    const all = csv(await (await get('/api/v1/export/readings.csv?village=kemiren')).text())
    const kemiren = written.filter((r) => r.village === 'kemiren')
    expect(all).toHaveLength(kemiren.length)
    expect(new Set(all.map((r) => r.quantity))).toEqual(new Set(['soil_moisture', 'air_temperature']))
  })

  it('refuses unknown parameters, bad times, strangers and unknown exports with a structured answer', async () => {
    const bad = await get('/api/v1/export/readings.csv?quantity=sunshine&from=yesterday&colour=red')
    expect(bad.status).toBe(400)
    const body = (await bad.json()) as { problems: string[] }
    expect(body.problems.join('\n')).toMatch(/colour: not a parameter[\s\S]*quantity: "sunshine"[\s\S]*from:/)
    expect((await get('/api/v1/export/readings.csv', {})).status).toBe(401)
    expect((await get('/api/v1/export/passwords.csv')).status).toBe(404)
    expect((await get('/api/v1/export/constructor.csv')).status).toBe(404)
    expect((await get('/api/v1/export/alerts.csv?state=angry')).status).toBe(400)
  })

  it(`streams ${BIG_READINGS} readings with bounded memory, starting before it finishes, held back by a slow reader`, async () => {
    const batch: Reading[] = []
    let expectedSum = 0
    for (let i = 0; i < BIG_READINGS; i++) {
      const value = (i % 1000) / 8
      expectedSum += value
      batch.push({
        timeMs: BASE_MS + i * 3_000,
        village: 'besar',
        device: `besar-node${i % 40}`,
        sensor: 'soil1',
        quantity: 'soil_moisture',
        value,
      })
      if (batch.length === 20_000) await t.app.store.write(batch.splice(0))
    }
    // Count the store's pages as they are read.
    const store = t.app.store
    const query = store.query.bind(store)
    let pages = 0
    store.query = (q) => {
      pages++
      return query(q)
    }
    try {
      gc()
      const baseHeap = process.memoryUsage().heapUsed
      let peakGrowth = 0
      const sample = () => {
        gc()
        peakGrowth = Math.max(peakGrowth, process.memoryUsage().heapUsed - baseHeap)
      }
      const url = new URL('/api/v1/export/readings.csv?village=besar&quantity=soil_moisture', t.apiUrl)
      const result = await new Promise<{
        lines: number
        sum: number
        firstPages: number
        pausedPages: number
      }>((resolve, reject) => {
        http
          .get(url, { headers: { authorization: service } }, (res) => {
            expect(res.statusCode).toBe(200)
            let firstPages = -1
            let pausedPages = -1
            let rest = ''
            let lines = 0
            let sum = 0
            let sinceSample = 0
            res.setEncoding('utf8')
            res.on('data', (chunk: string) => {
              if (firstPages < 0) {
                firstPages = pages
                // a slow reader: nothing read for 1 s
                res.pause()
                setTimeout(() => {
                  pausedPages = pages
                  sample()
                  res.resume()
                }, 1_000)
              }
              const text = rest + chunk
              const cut = text.lastIndexOf('\n')
              rest = text.slice(cut + 1)
              if (cut < 0) return // no whole line yet
              for (const line of text.slice(0, cut).split('\n')) {
                lines++
                if (lines > 1) sum += Number(line.split(',')[6])
              }
              sinceSample += chunk.length
              if (sinceSample > 1_000_000) {
                sinceSample = 0
                sample()
              }
            })
            res.on('end', () => resolve({ lines, sum, firstPages, pausedPages }))
            res.on('error', reject)
          })
          .on('error', reject)
      })
      sample()
      console.log(
        `export of ${BIG_READINGS} readings: ${pages} store queries; ${result.firstPages} before the first byte arrived, ` +
          `${result.pausedPages} after 1 s of a paused reader; peak heap growth ${(peakGrowth / 1048576).toFixed(1)} MiB`,
      )
      expect(result.lines).toBe(BIG_READINGS + 1)
      expect(result.sum).toBeCloseTo(expectedSum, 3)
      // 200 000 readings are 40 pages of 5 000 (and one query per page boundary's millisecond).
      expect(pages).toBeGreaterThanOrEqual(40)
      // it started sending long before the last page (what is read ahead sits in the sockets'
      // buffers, a few MB on loopback, not in the heap)
      expect(result.firstPages).toBeLessThan(pages / 2)
      // backpressure: while the reader pauses, the paging stops
      expect(result.pausedPages).toBeLessThanOrEqual(result.firstPages + 2)
      // bounded: the readings alone as objects would be ~40 MiB, the CSV text ~17 MiB
      expect(peakGrowth).toBeLessThan(12 * 1048576)
    } finally {
      store.query = query
    }
  }, 120_000)

  it('exports alerts: the columns, every alert of the village newest first (paged past 1 000)', async () => {
    const engine = t.app.alerts!
    const finding = (i: number, village: string): Finding => ({
      rule: 'dry',
      subject: `${village}-field${i}`,
      category: 'field',
      village,
      field: `${village}-field${i}`,
      device: `${village}-sawah${i % 4}`,
      severity: 'warning',
      active: true,
      clear: false,
      value: 12.5 + i / 100,
      threshold: 18,
      atMs: BASE_MS + i * 1_000,
      forMs: HOUR_MS,
    })
    engine.applyAll([
      ...Array.from({ length: 1_203 }, (_, i) => finding(i, 'kemiren')),
      ...Array.from({ length: 4 }, (_, i) => finding(i, 'sukorejo')),
    ])
    const res = await get('/api/v1/export/alerts.csv?village=kemiren')
    expect(res.status).toBe(200)
    const text = Buffer.from(await res.arrayBuffer()).toString('utf8')
    expect(text.split('\n')[0]).toBe(`\uFEFF${EXPORT_KINDS.alerts!.columns.join(',')}`)
    const rows = csv(text)
    const stored = engine.listAlerts({ village: 'kemiren', limit: 10_000 })
    expect(rows).toHaveLength(1_203)
    expect(rows.map((r) => Number(r.id))).toEqual(stored.map((a) => a.id))
    for (const [i, row] of rows.entries()) {
      const a = stored[i]!
      expect(row).toMatchObject({
        village: 'kemiren',
        field: a.field,
        device: a.device,
        rule: 'dry',
        severity: 'warning',
        state: a.state,
        started_utc: new Date(a.startedAtMs).toISOString(),
        started_wib: wib(a.startedAtMs),
        resolved_utc: '',
      })
      expect(Number(row.value)).toBe(a.value)
      expect(Number(row.threshold)).toBe(18)
    }
    const sukorejo = csv(await (await get('/api/v1/export/alerts.csv?village=sukorejo&state=pending')).text())
    expect(sukorejo.map((r) => r.field).sort()).toEqual([
      'sukorejo-field0',
      'sukorejo-field1',
      'sukorejo-field2',
      'sukorejo-field3',
    ])
  })

  it("exports trees with their evidence summary and the officers' decisions", async () => {
    const { repo, verifier } = t.app.oksigen!
    for (const id of ['kemiren-pohon1', 'kemiren-pohon2', 'sukorejo-pohon1'])
      await t.addDevice({ id, village: id.split('-')[0]!, kind: 'dendrometer' })
    const a = repo.addTree(
      {
        device: 'kemiren-pohon1',
        species: 'sengon',
        plantedAtMs: BASE_MS,
        initialDiameterMm: 15,
        lat: -8.1981,
        lon: 114.3,
      },
      ['sengon'],
    )
    const b = repo.addTree(
      { device: 'kemiren-pohon2', species: 'teak', plantedAtMs: BASE_MS, initialDiameterMm: 12 },
      ['teak'],
    )
    repo.addTree(
      { device: 'sukorejo-pohon1', species: 'teak', plantedAtMs: BASE_MS, initialDiameterMm: 12 },
      ['teak'],
    )
    verifier.refreshTrees()
    verifier.evaluate(b.id)
    verifier.decide(b.id, { decision: 'reject', by: 'budi', reason: 'the stump was found cut, photo 14' })

    const trees = csv(await (await get('/api/v1/export/trees.csv?village=kemiren')).text())
    expect(Object.keys(trees[0]!)).toEqual([...EXPORT_KINDS.trees!.columns])
    expect(trees.map((r) => r.id).sort()).toEqual([a.id, b.id].sort())
    const rowA = trees.find((r) => r.id === a.id)!
    expect(rowA).toMatchObject({
      village: 'kemiren',
      device: 'kemiren-pohon1',
      species: 'sengon',
      lat: '-8.1981',
      lon: '114.3',
    })
    expect(rowA.state).toBe(repo.getState(a.id)?.state ?? 'awaiting_data')
    expect(rowA.planted_utc).toBe(new Date(BASE_MS).toISOString())
    const rowB = trees.find((r) => r.id === b.id)!
    expect(rowB).toMatchObject({ state: 'failed', decisions: '1', last_decision_by: 'budi' })

    const decisions = csv(await (await get('/api/v1/export/decisions.csv?village=kemiren')).text())
    expect(Object.keys(decisions[0]!)).toEqual([...EXPORT_KINDS.decisions!.columns])
    const stored = repo.decisions(b.id)
    expect(decisions.filter((r) => r.tree === b.id)).toEqual(
      stored.map((d) => ({
        tree: b.id,
        village: 'kemiren',
        time_utc: new Date(d.atMs).toISOString(),
        time_wib: wib(d.atMs),
        by: d.by,
        from_state: d.fromState ?? '',
        to_state: d.toState,
        override: 'false',
        reason: d.reason,
      })),
    )
    expect(decisions.some((r) => r.by === 'budi' && r.to_state === 'failed')).toBe(true)
    expect(decisions.every((r) => r.village === 'kemiren')).toBe(true)
  })

  it('kampung export writes the file (the same CSV as the API), and refuses a bad request without leaving one', async () => {
    const dir = os.tmpdir()
    const out = path.join(dir, `kampung-export-${process.pid}.csv`)
    const env = {
      ...process.env,
      KAMPUNG_API_USER: 'ops',
      KAMPUNG_API_PASSWORD: Buffer.from(service.slice(6), 'base64').toString().split(':')[1]!,
      KAMPUNG_LOG_LEVEL: 'warn',
    }
    const kampung = (...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'export', ...args, '--api', t.apiUrl], {
        env,
      })
    try {
      const { stderr } = await kampung(
        'readings',
        '--village',
        'kemiren',
        '--quantity',
        'soil_moisture',
        '--out',
        out,
      )
      expect(stderr).toContain(`readings exported to ${out}`)
      const file = csv(readFileSync(out, 'utf8'))
      const stored = await t.app.store.query({ quantity: 'soil_moisture', village: 'kemiren' })
      expect(file).toHaveLength(stored.length)
      expect(file.map((r) => [Date.parse(r.time_utc!), r.device, Number(r.value)])).toEqual(
        stored.map((r) => [r.timeMs, r.device, r.value]),
      )
      rmSync(out)
      const failed = await kampung('alerts', '--state', 'angry', '--out', out).catch(
        (e: { stderr: string; code: number }) => e,
      )
      expect((failed as { code: number }).code).not.toBe(0)
      expect((failed as { stderr: string }).stderr).toContain('400')
      expect(() => readFileSync(out)).toThrow()
    } finally {
      rmSync(out, { force: true })
    }
  }, 60_000)
})

describe('export kinds: every kind listed and complete', () => {
  it('each has its name as key, distinct columns, known parameters, rows and availability', () => {
    for (const [name, kind] of Object.entries(EXPORT_KINDS)) {
      expect(kind.name).toBe(name)
      expect(kind.description.length).toBeGreaterThan(10)
      expect(new Set(kind.columns).size).toBe(kind.columns.length)
      expect(kind.columns.length).toBeGreaterThan(3)
      for (const p of kind.params)
        expect(['village', 'device', 'sensor', 'quantity', 'state', 'from', 'to']).toContain(p)
      // the village filter is every kind's (the one place a village scope narrows an export)
      expect(kind.params).toContain('village')
      expect(typeof kind.rows).toBe('function')
      expect(typeof kind.available).toBe('function')
    }
    expect(Object.keys(EXPORT_KINDS).sort()).toEqual(['alerts', 'decisions', 'readings', 'trees'])
  })
})
