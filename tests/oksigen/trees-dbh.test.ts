import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type TestApp } from '../harness/app.ts'

const run = promisify(execFile)

/** DBH, mounting height and measurements through the officers' API and the `kampung trees` CLI. */
describe('trees: DBH, mounting height and measurements (API and CLI)', () => {
  let t: TestApp
  let secret: string
  const api = (path: string, body?: unknown) =>
    fetch(`${t.apiUrl}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`officer-3:${secret}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  const kampung = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'trees', '--api', t.apiUrl, ...args], {
      env: {
        ...process.env,
        KAMPUNG_API_USER: 'officer-3',
        KAMPUNG_API_PASSWORD: secret,
        KAMPUNG_LOG_LEVEL: 'warn',
      },
    })

  beforeAll(async () => {
    t = await startApp({})
    t.app.registry.addVillage({ id: 'dinas', name: 'Dinas' })
    secret = await t.addDevice({ id: 'officer-3', village: 'dinas', kind: 'service' })
    for (const id of ['dendro-a', 'dendro-b', 'dendro-c'])
      await t.addDevice({ id, village: 'kemiren', kind: 'dendrometer' })
  }, 60_000)
  afterAll(() => t?.stop())

  it('POST /api/v1/trees takes dbhCm and mountHeightCm; the evidence shows the measurement and the estimate', async () => {
    const res = await api('/api/v1/trees', {
      device: 'dendro-a',
      species: 'teak',
      plantedAt: '2026-01-05T08:00:00+07:00',
      initialDiameterMm: 70,
      initialHeightM: 3.2,
      mountHeightCm: 30,
      dbhCm: 3.6,
    })
    expect(res.status, await res.clone().text()).toBe(201)
    const { tree } = (await res.json()) as { tree: { id: string; mountHeightCm: number } }
    expect(tree.mountHeightCm).toBe(30)
    const e = (await (await api(`/api/v1/trees/${tree.id}`)).json()) as {
      measurements: Array<{ dbhCm: number; heightM: number; groUmAt: number; by: string }>
      estimate: {
        method: string
        dbhCm: number
        heightSource: string
        biomass: { inFittedRange: boolean; note: string }
      }
    }
    expect(e.measurements).toEqual([
      expect.objectContaining({ dbhCm: 3.6, heightM: 3.2, groUmAt: 0, by: 'registration' }),
    ])
    expect(e.estimate).toMatchObject({ method: 'chave2014-eq4', dbhCm: 3.6, heightSource: 'measured' })
    // 3.6 cm is below eq. 4's fitted range: no figure, a note
    expect(e.estimate.biomass.inFittedRange).toBe(false)

    const m = await api(`/api/v1/trees/${tree.id}/measurements`, { dbhCm: 5.4, heightM: 4.1 })
    expect(m.status, await m.clone().text()).toBe(201)
    const after = (await (await api(`/api/v1/trees/${tree.id}`)).json()) as {
      measurements: Array<{ by: string }>
      estimate: { dbhCm: number; biomass: { inFittedRange: boolean; o2Kg: number } }
    }
    expect(after.measurements.map((x) => x.by)).toEqual(['registration', 'officer-3'])
    expect(after.estimate.dbhCm).toBe(5.4)
    expect(after.estimate.biomass.inFittedRange).toBe(true)
    expect(after.estimate.biomass.o2Kg).toBeGreaterThan(0)
  })

  it('refuses impossible values with every problem named', async () => {
    const res = await api('/api/v1/trees', {
      device: 'dendro-b',
      species: 'teak',
      plantedAt: '2026-01-05T08:00:00+07:00',
      initialDiameterMm: 12,
      initialHeightM: 0.8,
      mountHeightCm: 900,
      dbhCm: 2,
    })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { problems: string[] }
    const text = body.problems.join('\n')
    expect(text).toMatch(/mountHeightCm.*900 cm is outside 1–300 cm/)
    expect(text).toMatch(/dbhCm.*a tree 0.8 m tall has no diameter at breast height/)
    // a DBH thicker than the stem lower down, where the dendrometer sits: cm and mm mixed up
    const taper = await api('/api/v1/trees', {
      device: 'dendro-b',
      species: 'teak',
      plantedAt: '2026-01-05T08:00:00+07:00',
      initialDiameterMm: 30,
      initialHeightM: 2,
      mountHeightCm: 30,
      dbhCm: 30,
    })
    expect(taper.status).toBe(400)
    expect(((await taper.json()) as { problems: string[] }).problems.join('\n')).toMatch(
      /dbhCm.*30 cm is thicker than the stem at the dendrometer \(3.00 cm at 30 cm\)/,
    )
    const none = await api('/api/v1/trees/nope/measurements', { dbhCm: 5 })
    expect(none.status).toBe(404)
    const empty = await api('/api/v1/trees/nope/measurements', {})
    expect(empty.status).toBe(400)
  })

  it('kampung trees add --dbh-cm --mount-height-cm and kampung trees measure', async () => {
    const added = await kampung(
      'add',
      '--device',
      'dendro-c',
      '--species',
      'sengon',
      '--planted',
      '2026-01-05T08:00:00+07:00',
      '--diameter-mm',
      '60',
      '--height-m',
      '2.5',
      '--mount-height-cm',
      '30',
      '--dbh-cm',
      '3',
    )
    const id = /tree (\S+) registered/.exec(added.stdout)?.[1]
    expect(id, added.stdout).toBeTruthy()
    const measured = await kampung('measure', id!, '--dbh-cm', '5.2', '--height-m', '4')
    expect(measured.stdout).toContain(`tree ${id}: DBH 5.2 cm, height 4 m recorded`)
    expect((await kampung('show', id!)).stdout).toMatch(
      /estimate: DBH 5\.20 cm, H 4\.0 m \(measured\), O2 \d/,
    )
    const bad = await kampung('measure', id!, '--dbh-cm', '520').catch(
      (err: { stderr: string; code: number }) => err,
    )
    expect(bad).toMatchObject({ code: 1 })
    expect((bad as { stderr: string }).stderr).toMatch(/dbhCm.*520 cm is outside/)
  })
})
