import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { Oksigen, SPECIES_IDS } from '../../src/oksigen/index.ts'
import { policySchema } from '../../src/oksigen/policy.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import type { Reading } from '../../src/telemetry/reading.ts'

const DAY = 86_400_000
const STEP = 10 * 60_000

/**
 * The village weather station's air temperature reaches each tree's processor (frost rule): a
 * steep, lasting 400 µm fall while the station reads −2 °C is kept as shrinkage; the same fall in
 * a village whose station reads 12 °C is corrected as a sensor jump.
 */
describe('Verifier: air temperature of the village weather station', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-verifier-frost-'))
  const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
  let oksigen: Oksigen
  const trees: Record<string, string> = {}

  beforeAll(async () => {
    await registry.start()
    for (const v of ['dingin', 'hangat']) {
      registry.addVillage({ id: v, name: v })
      await registry.addDevice({ id: `dendro-${v}`, village: v, kind: 'dendrometer', format: 'json' })
      await registry.addDevice({ id: `ws-${v}`, village: v, kind: 'weather', format: 'json' })
    }
    oksigen = new Oksigen({
      registry,
      dir: path.join(dir, 'oksigen'),
      keyDir: path.join(dir, 'oksigen', 'keys'),
      policies: { default: policySchema.parse({}) },
      evaluateEveryMs: 60_000,
    })
    await oksigen.start()
    for (const v of ['dingin', 'hangat']) {
      trees[v] = oksigen.repo.addTree(
        { device: `dendro-${v}`, species: 'teak', plantedAtMs: Date.UTC(2026, 0, 1), initialDiameterMm: 20 },
        SPECIES_IDS,
      ).id
    }
    oksigen.verifier.refreshTrees()
  })

  afterAll(async () => {
    await oksigen.stop()
    await registry.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('knows the weather stations registered before start without a lookup per device; a later one is looked up once', async () => {
    const lookups = vi.spyOn(oksigen.repo, 'deviceKind')
    try {
      await registry.addDevice({ id: 'ws-late', village: 'dingin', kind: 'weather', format: 'json' })
      const at = Date.UTC(2025, 11, 1)
      // Humidity: a weather station's reading that no tree's processor takes (the frost test's are).
      const air = (device: string, village: string, timeMs: number): Reading => ({
        device,
        village,
        sensor: 'main',
        quantity: 'relative_humidity',
        timeMs,
        value: 80,
      })
      oksigen.verifier.onReadings([air('ws-dingin', 'dingin', at), air('ws-hangat', 'hangat', at)])
      expect(lookups).not.toHaveBeenCalled()
      oksigen.verifier.onReadings([air('ws-late', 'dingin', at), air('ws-late', 'dingin', at + STEP)])
      expect(lookups).toHaveBeenCalledTimes(1)
      expect(lookups).toHaveReturnedWith('weather')
    } finally {
      lookups.mockRestore()
    }
  })

  it('frost below 5 °C keeps a steep fall as shrinkage; at 12 °C it is a corrected jump', () => {
    const startMs = Date.UTC(2026, 0, 1)
    const fallMs = startMs + 2 * DAY + 3 * 3_600_000
    for (const [village, coldC] of [
      ['dingin', -2],
      ['hangat', 12],
    ] as const) {
      const batch: Reading[] = []
      for (let t = startMs; t < startMs + 4 * DAY; t += STEP) {
        const k = (t - startMs) / STEP
        const noise = ((k * 7919) % 13) / 13 - 0.5
        const value =
          20_000 + k * 0.3 + 20 * Math.cos((2 * Math.PI * k) / 144) + noise - (t >= fallMs ? 400 : 0)
        const cold = t >= fallMs - 6 * 3_600_000 && t < fallMs + 6 * 3_600_000
        const base = { timeMs: t, village, sensor: 'main' }
        batch.push({
          ...base,
          device: `ws-${village}`,
          quantity: 'air_temperature',
          value: cold ? coldC : 20,
        })
        batch.push({ ...base, device: `dendro-${village}`, quantity: 'stem_diameter', value })
      }
      oksigen.verifier.onReadings(batch)
    }
    const cold = oksigen.verifier.evidence(trees.dingin!)!.dendro!
    const warm = oksigen.verifier.evidence(trees.hangat!)!.dendro!
    expect(cold.frostValues).toBe(72)
    expect(cold.jumpsTotal).toBe(0)
    expect(cold.twdUm).toBeGreaterThan(300)
    expect(warm.frostValues).toBe(0)
    expect(warm.jumpsTotal).toBe(1)
    expect(warm.jumps[0]!.offsetUm).toBeCloseTo(-400, -1)
  })
})
