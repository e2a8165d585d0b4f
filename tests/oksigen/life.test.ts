import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderPage } from '../../src/oksigen/certificate/page.ts'
import type { VerificationRecord } from '../../src/oksigen/certificate/record.ts'
import { DAY, type DayRecord, dayName, runVillage, WIB } from './life-harness.ts'

/**
 * Issue 14, "life proven by growth": the must-shows, each through a real Verifier fed a simulated
 * village (weather station + dendrometers) one day at a time. The simulator sets the truth (a
 * living tree, a dead stem, a wooden post); the verifier only sees readings.
 */

type Run = Awaited<ReturnType<typeof runVillage>>
const between = (days: DayRecord[], fromMs: number, toMs: number) =>
  days.filter((d) => d.dayMs >= fromMs && d.dayMs < toMs)
const local = (y: number, m: number, d: number) => Date.UTC(y, m - 1, d) - WIB

describe('a hygroscopic post and a dead stem are never verified', () => {
  const start = local(2024, 11, 1)
  let run: Run
  beforeAll(async () => {
    run = await runVillage({
      startMs: start,
      days: 150,
      seed: 7,
      trees: [
        // a sengon planted a few years ago: 80 mm at the dendrometer (30 cm up)
        { id: 'alive', species: 'sengon', initialDiameterMm: 80 },
        { id: 'post', species: 'sengon', faults: [{ kind: 'hygroscopic_post', fromMs: start }] },
        { id: 'dead', species: 'sengon', faults: [{ kind: 'dead_stem', fromMs: start + 15 * DAY }] },
        { id: 'dead-teak', species: 'teak', faults: [{ kind: 'dead_stem', fromMs: start + 5 * DAY }] },
      ],
      // an officer measures the living sengon's DBH and height two months in
      measurements: [{ tree: 'alive', day: 60, dbhCm: 6.5, heightM: 7 }],
    })
  }, 120_000)
  afterAll(() => run?.close())

  it('the simulator, not the rule, says what each dendrometer is on', () => {
    expect(run.days.post!.at(-1)!.truth).toBe('post')
    expect(run.days.dead!.at(-1)!.truth).toBe('dead')
    expect(run.days['dead-teak']!.at(-1)!.truth).toBe('dead')
    expect(run.days.alive!.every((d) => d.truth === 'alive')).toBe(true)
  })

  it('their daily cycle alone would have passed them as alive: wood swells with humidity', () => {
    for (const id of ['post', 'dead', 'dead-teak']) {
      const after = run.days[id]!.filter((d) => d.truth !== 'alive' && d.cycleOnlyAlive !== 'unknown')
      const fooled = after.filter((d) => d.cycleOnlyAlive === true).length / after.length
      expect(fooled, id).toBeGreaterThan(0.8)
    }
  })

  it('are never verified, and fail only after a growing season without growth, saying why', () => {
    for (const id of ['post', 'dead', 'dead-teak']) {
      expect(
        run.decisions[id]!.map((d) => d.toState),
        id,
      ).not.toContain('verified')
      expect(run.certificates[id], id).toEqual([])
      expect(
        run.days[id]!.some((d) => d.state === 'verified' || d.state === 'eligible'),
        id,
      ).toBe(false)
      // the proof of growth fades within days of the stem's last growth (3-day recent window + weather lag)
      const aliveAfter = run.days[id]!.filter((d) => d.truth !== 'alive' && d.alive === true).length
      expect(aliveAfter, id).toBeLessThanOrEqual(5)
      const failed = run.decisions[id]!.find((d) => d.toState === 'failed')
      expect(failed, id).toBeDefined()
      expect(failed!.reason).toMatch(/no irreversible growth over \d+ growing-season days/)
      expect(failed!.reason).toMatch(/cycle/)
      // 60 counted growing-season days: not before two months after the stem stopped growing
      const changedMs = run.days[id]!.find((d) => d.truth !== 'alive')!.dayMs
      expect(
        (failed!.atMs - changedMs) / DAY,
        `${id} failed on ${dayName(failed!.atMs)}`,
      ).toBeGreaterThanOrEqual(60)
    }
  })

  it('a living sengon beside them is verified, with a certificate stating DBH, method, MDS and O2', async () => {
    expect(run.decisions.alive!.map((d) => d.toState)).toContain('verified')
    expect(run.decisions.alive!.map((d) => d.toState)).not.toContain('failed')
    expect(run.certificates.alive!.length).toBe(1)
    const signed = (await run.oksigen.certificates.get(run.certificates.alive![0]!)) as {
      record: VerificationRecord
    }
    const r = signed.record
    expect(r.evidence.mdsMethod).toBe('mds') // the processor reports MDS per day (morning max → afternoon min)
    expect(r.evidence.mdsUm).toBeGreaterThan(5)
    expect(r.estimate).toMatchObject({
      method: 'chave2014-eq4',
      diameterKind: 'dbh',
      dbhMeasuredCm: 6.5,
      heightSource: 'scaled-from-measured',
      woodDensityGCm3: 0.29,
    })
    if (r.estimate.method !== 'chave2014-eq4') return
    // the dendrometer's growth after the measurement is added to the measured DBH
    expect(r.estimate.dbhIncrementCm).toBeGreaterThan(0)
    expect(r.estimate.diameterCm).toBeCloseTo(6.5 + r.estimate.dbhIncrementCm!, 2)
    expect(r.estimate.o2Kg).toBeGreaterThan(0)
    const html = renderPage({ kind: 'valid', record: r, keyId: r.keyId, url: 'u', qrSvg: '' })
    for (const text of [
      'Diameter at breast height (D)',
      'Chave et al. 2014 eq. 4',
      'Maximum daily shrinkage (MDS)',
      'kg O₂',
    ])
      expect(html).toContain(text)
  })
})

describe('a verified teak stays verified through the dry season', () => {
  const start = local(2025, 2, 1)
  let run: Run
  beforeAll(async () => {
    // 2 mm of diameter: a teak reaches it in ~7 weeks of the wet season, before its leaves fall
    run = await runVillage({
      startMs: start,
      days: 320,
      seed: 8,
      policy: { minIncrementMm: 2 },
      trees: [{ id: 'teak', species: 'teak' }],
    })
  }, 120_000)
  afterAll(() => run?.close())

  it('is verified in the wet season and never leaves verified, leafless July–October included', () => {
    const days = run.days.teak!
    const verifiedAt = days.find((d) => d.state === 'verified')!.dayMs
    expect(verifiedAt).toBeLessThan(local(2025, 6, 1))
    const after = days.filter((d) => d.dayMs >= verifiedAt)
    expect(after.every((d) => d.state === 'verified')).toBe(true)
    expect(run.decisions.teak!.map((d) => d.toState)).toEqual(['growing', 'verified'])
    expect(after.at(-1)!.dayMs).toBeGreaterThan(local(2025, 12, 1))
  })

  it('was dormant (leafless) in the dry season, with no cycle the old rule would have failed it for', () => {
    const dry = between(run.days.teak!, local(2025, 7, 10), local(2025, 10, 31))
    expect(dry.length).toBeGreaterThan(100)
    expect(dry.every((d) => d.dormancy === 'leafless')).toBe(true)
    // The daily cycle alone (the rule before issue 14) calls the leafless teak dead most days.
    expect(dry.filter((d) => d.cycleOnlyAlive === false).length / dry.length).toBeGreaterThan(0.5)
  })

  it('grows again once the rains return', () => {
    const e = run.oksigen.verifier.evidence(run.treeIds.teak!)!
    expect(e.life!.growthProven).toBe(true)
    expect(e.life!.dormancy).toBeNull()
    expect(e.liveness!.alive).toBe(true)
  })
})

describe('a teak registered just before its leafless season', () => {
  it('is dormant, not failed, through July–October and grows again after', async () => {
    const run = await runVillage({
      startMs: local(2025, 5, 15),
      days: 210,
      seed: 12,
      trees: [{ id: 'teak', species: 'teak' }],
    })
    try {
      const days = run.days.teak!
      expect(days.some((d) => d.state === 'failed')).toBe(false)
      const dry = between(days, local(2025, 7, 10), local(2025, 10, 31))
      expect(
        dry.every((d) => d.state === 'dormant'),
        dry.map((d) => d.state).join(),
      ).toBe(true)
      expect(days.at(-1)!.state).toBe('growing')
    } finally {
      await run.close()
    }
  }, 120_000)
})

describe('a living tree in a week of rain is not failed', () => {
  const start = local(2024, 12, 1)
  const wetFrom = start + 40 * DAY
  const wetTo = start + 47 * DAY
  let run: Run
  beforeAll(async () => {
    run = await runVillage({
      startMs: start,
      days: 70,
      seed: 9,
      wetSpells: [{ fromMs: wetFrom, toMs: wetTo }],
      trees: [
        { id: 'sengon', species: 'sengon' },
        { id: 'soursop', species: 'soursop' },
        { id: 'durian', species: 'durian' },
      ],
    })
  }, 120_000)
  afterAll(() => run?.close())

  it('the week of rain is seen as a wet spell (VPD from the village station)', () => {
    for (const id of ['sengon', 'soursop', 'durian']) {
      const week = between(run.days[id]!, wetFrom + DAY, wetTo)
      expect(
        week.every((d) => d.dormancy === 'wet_spell'),
        id,
      ).toBe(true)
    }
  })

  it('no tree is failed or at risk during or after it, and none is failed at all', () => {
    for (const id of ['sengon', 'soursop', 'durian']) {
      expect(
        run.decisions[id]!.map((d) => d.toState),
        id,
      ).not.toContain('failed')
      const weekAndAfter = between(run.days[id]!, wetFrom, start + 70 * DAY)
      expect(
        weekAndAfter.every((d) => d.state !== 'failed' && d.state !== 'at_risk'),
        id,
      ).toBe(true)
    }
    // the fast sengon keeps growing in the rain and is verified
    expect(run.days.sengon!.at(-1)!.state).toBe('verified')
  })
})
