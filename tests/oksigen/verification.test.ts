import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildDistrict } from '../../firmware-sim/district.ts'
import { Fleet, provisionDistrict } from '../../firmware-sim/fleet.ts'
import { UserStore } from '../../src/console/index.ts'
import { SPECIES_IDS, type TreeState } from '../../src/oksigen/index.ts'
import { startApp, type TestApp } from '../harness/app.ts'
import { apiSession } from '../harness/session.ts'

const DAY = 86_400_000
const WIB = 7 * 3_600_000

/**
 * Sedekah Oksigen through the real pipeline: simulated dendrometer nodes on four planted trees
 * report through their village gateway, the broker and ingest; the verifier follows each tree.
 * A healthy sengon is verified and gets a certificate anyone can check; a dead tree, a
 * dendrometer on a post and a node carried away are never verified, each with its reason.
 */
describe('Sedekah Oksigen verification from simulated trees', () => {
  let t: TestApp
  let officer: string
  // Wet season a year ago (Dec–Mar, when a planted sengon grows fastest), ending in the past.
  const startMs = Date.UTC(2025, 11, 1) - WIB
  const projections: number[] = []
  const ids: Record<string, string> = {}

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${t.apiUrl}${path}`, {
      ...init,
      headers: {
        authorization: `Basic ${Buffer.from(`officer-1:${officer}`).toString('base64')}`,
        'content-type': 'application/json',
        ...init.headers,
      },
    })

  beforeAll(async () => {
    t = await startApp({ oksigen: { evaluateEveryMs: 100 } })
    t.app.registry.addVillage({ id: 'dinas', name: 'Dinas Lingkungan Hidup' })
    officer = await t.addDevice({ id: 'officer-1', village: 'dinas', kind: 'service' })
    const villages = buildDistrict({
      seed: 11,
      villages: 1,
      fieldsPerVillage: 0,
      treesPerVillage: 4,
      startMs,
      faults: {
        'kemiren-pohon2': [{ kind: 'dead_tree', fromMs: startMs + 20 * DAY, noiseUm: 1 }],
        'kemiren-pohon3': [{ kind: 'post', fromMs: startMs + 20 * DAY, thermalAmplitudeUm: 1, noiseUm: 1 }],
        'kemiren-pohon4': [{ kind: 'moved', fromMs: startMs + 40 * DAY, latDeg: -8.25, lonDeg: 114.36 }],
      },
    })
    const secrets = await provisionDistrict(t.app.registry, villages)
    // Officers register each tree (and an application) before its data arrives.
    for (const node of villages[0]!.nodes.filter((n) => n.kind === 'dendrometer')) {
      const res = await api('/api/v1/trees', {
        method: 'POST',
        body: JSON.stringify({
          device: node.id,
          species: node.subject,
          plantedAt: new Date(startMs).toISOString(),
          initialDiameterMm: 15,
          initialHeightM: 1.2,
          lat: node.latDeg,
          lon: node.lonDeg,
        }),
      })
      expect(res.status, await res.clone().text()).toBe(201)
      const { tree } = (await res.json()) as { tree: { id: string } }
      ids[node.id] = tree.id
      const app = await api(`/api/v1/trees/${tree.id}/applications`, {
        method: 'POST',
        body: JSON.stringify({
          id: `app-${node.id}`,
          certificateType: 'imb',
          reference: `503/IMB/${node.id}/2026`,
          planterPhone: '+6281234567890',
        }),
      })
      expect(app.status).toBe(201)
    }
    const fleet = new Fleet({
      villages,
      url: `mqtt://127.0.0.1:${t.mqttPort}`,
      dataDir: t.dataDir,
      secrets,
      reportIntervalMs: 10 * 60_000,
      startMs,
      endMs: startMs + 120 * DAY,
      speed: 50_000_000,
      tickMs: 20,
      gateway: { maxMessagesPerSec: 1000 },
    })
    // Record the projected eligibility date of the sengon while it grows.
    const sengon = () => ids['kemiren-pohon1']!
    const watch = setInterval(() => {
      const s = t.app.oksigen!.repo.getState(sengon())
      const d = s?.detail as { projectedEligibleMs?: number; growth?: { daysObserved: number } } | undefined
      if (s?.state === 'growing' && d?.projectedEligibleMs && (d.growth?.daysObserved ?? 0) >= 30) {
        projections.push(d.projectedEligibleMs)
      }
    }, 20)
    await fleet.start()
    await fleet.done
    await fleet.stop()
    t.app.oksigen!.verifier.evaluateDirty()
    clearInterval(watch)
  }, 180_000)

  afterAll(() => t?.stop())

  const state = (node: string) => t.app.oksigen!.repo.getState(ids[node]!)!

  it('the species planted are the ones handed out', () => {
    expect(SPECIES_IDS).toContain('sengon')
  })

  it('a healthy sengon is verified near the date its growth curve projected, with a certificate anyone can check', async () => {
    expect(state('kemiren-pohon1').state, JSON.stringify(state('kemiren-pohon1').detail)).toBe<TreeState>(
      'verified',
    )
    const decisions = t.app.oksigen!.repo.decisions(ids['kemiren-pohon1']!)
    const verified = decisions.find((d) => d.toState === 'verified')!
    expect(verified.by).toBe('auto')
    expect(decisions.map((d) => d.toState)).toContain('growing')
    // the projection made once a month of growth was known, against the day it happened
    expect(projections.length).toBeGreaterThan(0)
    const projected = projections[0]!
    expect(Math.abs(verified.atMs - projected) / DAY).toBeLessThan(20)

    const [certificate] = t.app.oksigen!.repo.certificatesOf(ids['kemiren-pohon1']!)
    expect(certificate).toBeTruthy()
    const page = await fetch(`${t.apiUrl}/verify/${certificate}`)
    expect(page.status).toBe(200)
    expect(page.headers.get('x-oksigen-verification')).toBe('valid')
    const html = await page.text()
    expect(html).toContain(ids['kemiren-pohon1'])
    expect(html).not.toContain('503/IMB') // no applicant data on the public page
    expect(html).not.toContain('+62812')
    const qr = await fetch(`${t.apiUrl}/verify/${certificate}/qr.svg`)
    expect(qr.headers.get('content-type')).toContain('svg')

    // one byte of the stored record changed: the public page says invalid
    const store = t.app.oksigen!.certificates
    const raw = store.rawForTest(certificate!)!
    store.setRawForTest(
      certificate!,
      raw.replace(/"groUm":(\d)/, (_m, d) => `"groUm":${(Number(d) + 1) % 10}`),
    )
    const tampered = await fetch(`${t.apiUrl}/verify/${certificate}`)
    expect(tampered.headers.get('x-oksigen-verification')).toBe('invalid')
  })

  it('a dead tree, a dendrometer on a post and a moved node are never verified, each with its reason', async () => {
    for (const node of ['kemiren-pohon2', 'kemiren-pohon3', 'kemiren-pohon4']) {
      const decisions = t.app.oksigen!.repo.decisions(ids[node]!)
      expect(
        decisions.map((d) => d.toState),
        node,
      ).not.toContain('verified')
      expect(state(node).state, node).toBe('failed')
    }
    const reasons = (node: string) => String((state(node).detail as { reason: string }).reason)
    expect(reasons('kemiren-pohon2')).toMatch(/cycle/i)
    expect(reasons('kemiren-pohon3')).toMatch(/cycle|phase|post/i)
    expect(reasons('kemiren-pohon4')).toMatch(/from where it was|moved|location/i)
  })

  it("shows one tree's evidence to an officer and records an officer's decision with who and why", async () => {
    const res = await api(`/api/v1/trees/${ids['kemiren-pohon2']}`)
    expect(res.status).toBe(200)
    const evidence = (await res.json()) as {
      state: string
      liveness: { flags: Array<{ kind: string }> }
      decisions: unknown[]
    }
    expect(evidence.state).toBe('failed')
    expect(evidence.liveness.flags.map((f) => f.kind)).toContain('no_daily_cycle')
    // a service credential reads, but decisions are a person's (issue 18): a console officer's
    const byService = await api(`/api/v1/trees/${ids['kemiren-pohon2']}/decisions`, {
      method: 'POST',
      body: JSON.stringify({ decision: 'reject', reason: 'site visit: tree dead' }),
    })
    expect(byService.status).toBe(403)
    await new UserStore(t.app.registry).add({
      id: 'officer-1',
      role: 'officer',
      password: 'officer-password-1',
      villages: ['kemiren'], // an officer acts only in their villages
    })
    const session = (await apiSession(t.apiUrl, 'officer-1', 'officer-password-1')).headers
    const decide = (body: unknown) =>
      fetch(`${t.apiUrl}/api/v1/trees/${ids['kemiren-pohon2']}/decisions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...session },
        body: JSON.stringify(body),
      })
    const refused = await decide({ decision: 'verify', reason: 'looked fine to me', override: true })
    expect(refused.status).toBe(409)
    expect(((await refused.json()) as { error: string }).error).toBe('not_verifiable')
    // typed errors from the verifier: the route maps codes, not message text
    const unknown = await api('/api/v1/trees/no-such-tree/reverify', { method: 'POST' })
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as { error: string }).error).toBe('unknown_tree')
    const rejected = await decide({ decision: 'reject', reason: 'site visit: tree dead' })
    expect(rejected.status).toBe(200)
    const last = t.app.oksigen!.repo.decisions(ids['kemiren-pohon2']!).at(-1)!
    expect(last).toMatchObject({ by: 'officer-1', reason: 'site visit: tree dead', toState: 'failed' })
    const list = await api('/api/v1/trees?state=failed')
    expect(((await list.json()) as { trees: unknown[] }).trees.length).toBeGreaterThanOrEqual(3)
  })
})

describe('kampung trees (CLI, a client of the same API)', () => {
  it('lists, shows and decides through the running service', async () => {
    const { execFile } = await import('node:child_process')
    const { promisify } = await import('node:util')
    const run = promisify(execFile)
    const t = await startApp({})
    try {
      t.app.registry.addVillage({ id: 'dinas', name: 'Dinas' })
      const secret = await t.addDevice({ id: 'officer-2', village: 'dinas', kind: 'service' })
      await t.addDevice({ id: 'dendro-9', village: 'kemiren', kind: 'dendrometer' })
      const kampung = (...args: string[]) =>
        run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'trees', '--api', t.apiUrl, ...args], {
          env: {
            ...process.env,
            KAMPUNG_API_USER: 'officer-2',
            KAMPUNG_API_PASSWORD: secret,
            KAMPUNG_LOG_LEVEL: 'warn',
          },
        })
      const added = await kampung(
        'add',
        '--device',
        'dendro-9',
        '--species',
        'teak',
        '--planted',
        '2026-11-01T08:00:00+07:00',
        '--diameter-mm',
        '12',
      )
      const id = /tree (\S+) registered/.exec(added.stdout)?.[1]
      expect(id, added.stdout).toMatch(/^T-[0-9A-Z]{6}$/)
      expect((await kampung('list', '--state', 'awaiting_data')).stdout).toContain(
        `${id}  awaiting_data  teak  kemiren/dendro-9`,
      )
      expect((await kampung('show', id!)).stdout).toContain('state: awaiting_data')
      const bad = await kampung(
        'add',
        '--device',
        'dendro-9',
        '--species',
        'oak',
        '--planted',
        'yesterday',
        '--diameter-mm',
        '12',
      ).catch((err: { stderr: string; code: number }) => err)
      expect(bad).toMatchObject({ code: 1 })
      expect((bad as { stderr: string }).stderr).toMatch(/species[\s\S]*plantedAt/)
    } finally {
      await t.stop()
    }
  })
})
