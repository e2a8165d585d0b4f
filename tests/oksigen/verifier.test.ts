import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Oksigen, SPECIES_IDS } from '../../src/oksigen/index.ts'
import { policySchema } from '../../src/oksigen/policy.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import type { Reading } from '../../src/telemetry/reading.ts'

const DAY = 86_400_000
const WIB = 7 * 3_600_000

/** A stem: growing with a daily cycle (thinnest mid-afternoon), then shrinking in a drought. */
function stem(startMs: number, days: number, droughtFromDay: number): Reading[] {
  const readings: Reading[] = []
  let base = 20_000
  for (let t = startMs; t < startMs + days * DAY; t += 10 * 60_000) {
    const day = (t - startMs) / DAY
    base += day < droughtFromDay ? 40 / 144 : -25 / 144 // µm per 10 min: +40/day, then −25/day
    const hour = ((t + WIB) % DAY) / 3_600_000
    const cycle = 25 * Math.cos((2 * Math.PI * (hour - 5)) / 24) // max near 05:00, min near 17:00
    readings.push({
      timeMs: t,
      village: 'kemiren',
      device: 'dendro-1',
      sensor: 'main',
      quantity: 'stem_diameter',
      value: base + cycle,
    })
  }
  return readings
}

describe('Oksigen lifecycle', () => {
  it('writes nothing when constructed; start() creates the pseudonym key and keys once', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-oksigen-life-'))
    const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
    await registry.start()
    const options = {
      registry,
      dir: path.join(dir, 'oksigen'),
      keyDir: path.join(dir, 'oksigen', 'keys'),
      policies: { default: policySchema.parse({}) },
      evaluateEveryMs: 60_000,
    }
    try {
      const first = new Oksigen(options)
      expect(existsSync(options.dir)).toBe(false)
      await first.start()
      const key = readFileSync(path.join(options.dir, 'pseudonym.key'))
      expect(key.length).toBe(32)
      expect(statSync(path.join(options.dir, 'pseudonym.key')).mode & 0o077).toBe(0)
      await first.stop()
      const second = new Oksigen(options)
      await second.start()
      expect(readFileSync(path.join(options.dir, 'pseudonym.key'))).toEqual(key)
      await second.stop()
    } finally {
      await registry.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('Verifier', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-verifier-'))
  const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
  let oksigen: Oksigen
  let treeId: string

  beforeAll(async () => {
    await registry.start()
    registry.addVillage({ id: 'kemiren', name: 'Kemiren' })
    await registry.addDevice({ id: 'dendro-1', village: 'kemiren', kind: 'dendrometer', format: 'json' })
    oksigen = new Oksigen({
      registry,
      dir: path.join(dir, 'oksigen'),
      keyDir: path.join(dir, 'oksigen', 'keys'),
      policies: { default: policySchema.parse({}) },
      evaluateEveryMs: 60_000,
    })
    await oksigen.start()
    treeId = oksigen.repo.addTree(
      { device: 'dendro-1', species: 'teak', plantedAtMs: Date.UTC(2026, 0, 1), initialDiameterMm: 20 },
      SPECIES_IDS,
    ).id
    oksigen.verifier.refreshTrees()
  })

  afterAll(async () => {
    await oksigen.stop()
    await registry.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('puts a drought-stressed tree at risk and records the SMS owed to its planter; state survives a restart', async () => {
    const readings = stem(Date.UTC(2026, 0, 1) - WIB, 40, 30)
    const feed = (from: number, to: number) => {
      for (let i = from; i < to; i += 500)
        oksigen.verifier.onReadings(readings.slice(i, Math.min(to, i + 500)))
      oksigen.verifier.evaluateDirty()
    }
    feed(0, 30 * 144) // 30 days of growth
    expect(oksigen.repo.getState(treeId)!.state).toBe('growing')
    feed(30 * 144, readings.length) // then 10 days of drought
    const s = oksigen.repo.getState(treeId)!
    expect(s.state).toBe('at_risk')
    expect(String((s.detail as { reason: string }).reason)).toMatch(/^drought stress.*planter SMS pending/)
    const decisions = oksigen.repo.decisions(treeId).map((d) => d.toState)
    expect(decisions).toEqual(['growing', 'at_risk'])
    expect(oksigen.repo.decisions(treeId).at(-1)!.reason).toMatch(/planter SMS pending/)
    // a later assessment, still at risk, keeps the record of the SMS owed
    oksigen.verifier.evaluate(treeId)
    expect(String((oksigen.repo.getState(treeId)!.detail as { reason: string }).reason)).toMatch(
      /planter SMS pending/,
    )

    // a new Oksigen on the same registry resumes from the saved processor state, not from history
    await oksigen.stop()
    oksigen = new Oksigen({
      registry,
      dir: path.join(dir, 'oksigen'),
      keyDir: path.join(dir, 'oksigen', 'keys'),
      policies: { default: policySchema.parse({}) },
      evaluateEveryMs: 60_000,
    })
    await oksigen.start()
    const evidence = oksigen.verifier.evidence(treeId)!
    expect(evidence.dendro!.days).toBeGreaterThanOrEqual(39)
    expect(evidence.growth!.groUm).toBeGreaterThan(1000)
  })
})

describe('Verifier and the wall clock', () => {
  it('flags a tree whose live data stopped, but not trees whose past is being replayed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-verifier-clock-'))
    const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
    await registry.start()
    registry.addVillage({ id: 'kemiren', name: 'Kemiren' })
    await registry.addDevice({ id: 'dendro-1', village: 'kemiren', kind: 'dendrometer', format: 'json' })
    const start = Date.UTC(2026, 0, 1) - WIB
    let wall = start + 400 * DAY // the data below is a replay of the past
    const oksigen = new Oksigen({
      registry,
      dir: path.join(dir, 'oksigen'),
      keyDir: path.join(dir, 'oksigen', 'keys'),
      policies: { default: policySchema.parse({}) },
      evaluateEveryMs: 60_000,
      clock: () => wall,
    })
    await oksigen.start()
    try {
      const tree = oksigen.repo.addTree(
        { device: 'dendro-1', species: 'teak', plantedAtMs: start, initialDiameterMm: 20 },
        SPECIES_IDS,
      ).id
      oksigen.verifier.refreshTrees()
      const readings = stem(start, 20, 99)
      oksigen.verifier.onReadings(readings.slice(0, 10 * 144))
      oksigen.verifier.evaluateDirty()
      expect(oksigen.repo.getState(tree)!.state).toBe('growing') // replay: judged at the data's time

      // the rest arrives live: the wall clock is the last reading's time
      wall = readings.at(-1)!.timeMs + 60_000
      oksigen.verifier.onReadings(readings.slice(10 * 144))
      oksigen.verifier.evaluateDirty()
      expect(oksigen.repo.getState(tree)!.state).toBe('growing')

      // then nothing for 7 hours
      wall += 7 * 3_600_000
      oksigen.verifier.evaluate(tree)
      const s = oksigen.repo.getState(tree)!
      expect(s.state).toBe('at_risk')
      expect(String((s.detail as { reason: string }).reason)).toMatch(/no reading|stopped|silent/i)
    } finally {
      await oksigen.stop()
      await registry.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
