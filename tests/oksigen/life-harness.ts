import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  type FaultSpec,
  SimNode,
  type Species,
  StemModel,
  WeatherModel,
  WeatherStation,
} from '../../firmware-sim/models/index.ts'
import { assessLiveness } from '../../src/oksigen/dendro/index.ts'
import { Oksigen, SPECIES_IDS, type TreeState } from '../../src/oksigen/index.ts'
import { type Policy, policySchema } from '../../src/oksigen/policy.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import type { Quantity } from '../../src/telemetry/quantities.ts'
import type { Reading } from '../../src/telemetry/reading.ts'

export const DAY = 86_400_000
export const WIB = 7 * 3_600_000
const STEP = 10 * 60_000

export interface SimTree {
  id: string
  species: Species
  faults?: FaultSpec[]
  /** Stem diameter at the dendrometer (30 cm up) at the start, mm (default: the species' sapling). */
  initialDiameterMm?: number
}

export interface DayRecord {
  dayMs: number
  state: TreeState
  truth: string
  dormancy: string | null
  alive: boolean | 'unknown'
  /** What the daily cycle alone (assessLiveness without life evidence) would say. */
  cycleOnlyAlive: boolean | 'unknown'
}

/**
 * A village with a weather station and simulated dendrometers, replayed through a real Verifier
 * (registry, repo, policy, certificates) one simulated day at a time, as the ingest pipeline hands
 * it stored readings. The simulator sets the truth (alive / dead / post); the verifier only sees
 * readings.
 */
export async function runVillage(o: {
  startMs: number
  days: number
  trees: SimTree[]
  seed: number
  wetSpells?: Array<{ fromMs: number; toMs: number }>
  policy?: Partial<Policy>
  /** Officer measurements (DBH at 1.3 m, height) recorded at the end of a simulated day. */
  measurements?: Array<{ tree: string; day: number; dbhCm?: number; heightM?: number }>
}): Promise<{
  days: Record<string, DayRecord[]>
  decisions: Record<string, Array<{ toState: TreeState; atMs: number; reason: string }>>
  certificates: Record<string, string[]>
  oksigen: Oksigen
  treeIds: Record<string, string>
  close: () => Promise<void>
}> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-life-'))
  const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
  await registry.start()
  registry.addVillage({ id: 'kemiren', name: 'Kemiren' })
  await registry.addDevice({ id: 'kemiren-wx', village: 'kemiren', kind: 'weather', format: 'json' })
  const oksigen = new Oksigen({
    registry,
    dir: path.join(dir, 'oksigen'),
    keyDir: path.join(dir, 'oksigen', 'keys'),
    policies: { default: policySchema.parse(o.policy ?? {}) },
    evaluateEveryMs: 3_600_000,
    clock: () => Date.UTC(2030, 0, 1), // the data is a replay of the past
  })
  await oksigen.start()
  const weather = new WeatherModel({ seed: o.seed })
  for (const w of o.wetSpells ?? []) weather.forceWetSpell(w.fromMs, w.toMs)
  const station = new SimNode({
    model: new WeatherStation({ weather, startMs: o.startMs, seed: o.seed }),
    seed: o.seed,
    status: false,
  })
  const treeIds: Record<string, string> = {}
  const stems: Record<string, StemModel> = {}
  const nodes: Record<string, SimNode> = {}
  for (const [i, t] of o.trees.entries()) {
    await registry.addDevice({ id: t.id, village: 'kemiren', kind: 'dendrometer', format: 'json' })
    const stem = new StemModel({
      weather,
      species: t.species,
      plantedAtMs: o.startMs - 30 * DAY,
      startMs: o.startMs,
      seed: o.seed + 10 + i,
      ...(t.initialDiameterMm ? { initialDiameterUm: t.initialDiameterMm * 1000 } : {}),
    })
    stems[t.id] = stem
    nodes[t.id] = new SimNode({ model: stem, seed: o.seed + 20 + i, faults: t.faults, status: false })
    treeIds[t.id] = oksigen.repo.addTree(
      {
        device: t.id,
        species: t.species,
        plantedAtMs: o.startMs - 30 * DAY,
        initialDiameterMm: t.initialDiameterMm ?? 15,
        mountHeightCm: 30,
      },
      SPECIES_IDS,
    ).id
  }
  oksigen.verifier.refreshTrees()
  const days: Record<string, DayRecord[]> = Object.fromEntries(o.trees.map((t) => [t.id, []]))
  const reading = (device: string, timeMs: number, quantity: Quantity, value: number): Reading => ({
    timeMs,
    village: 'kemiren',
    device,
    sensor: 'main',
    quantity,
    value,
  })
  for (let d = 0; d < o.days; d++) {
    const batch: Reading[] = []
    for (let t = o.startMs + d * DAY + STEP; t <= o.startMs + (d + 1) * DAY; t += STEP) {
      const wx = station.sample(t)
      if (wx?.timeMs != null)
        for (const r of wx.readings) batch.push(reading('kemiren-wx', wx.timeMs, r.quantity, r.value))
      for (const tr of o.trees) {
        const s = nodes[tr.id]!.sample(t)
        if (s?.timeMs != null)
          for (const r of s.readings) batch.push(reading(tr.id, s.timeMs, r.quantity, r.value))
      }
    }
    oksigen.verifier.onReadings(batch)
    oksigen.verifier.evaluateDirty()
    for (const m of (o.measurements ?? []).filter((x) => x.day === d)) {
      oksigen.verifier.measure(treeIds[m.tree]!, {
        dbhCm: m.dbhCm,
        heightM: m.heightM,
        atMs: o.startMs + (d + 1) * DAY,
        by: 'officer-1',
      })
    }
    for (const tr of o.trees) {
      const ev = oksigen.verifier.evidence(treeIds[tr.id]!)!
      days[tr.id]!.push({
        dayMs: o.startMs + d * DAY,
        state: ev.state,
        truth: stems[tr.id]!.truth(),
        dormancy: ev.liveness?.dormancy ?? null,
        alive: ev.liveness?.alive ?? 'unknown',
        cycleOnlyAlive: ev.dendro ? assessLiveness(ev.dendro).alive : 'unknown',
      })
    }
  }
  const decisions = Object.fromEntries(
    o.trees.map((t) => [
      t.id,
      oksigen.repo
        .decisions(treeIds[t.id]!)
        .map((x) => ({ toState: x.toState, atMs: x.atMs, reason: x.reason })),
    ]),
  )
  const certificates = Object.fromEntries(
    o.trees.map((t) => [t.id, oksigen.repo.certificatesOf(treeIds[t.id]!)]),
  )
  return {
    days,
    decisions,
    certificates,
    oksigen,
    treeIds,
    close: async () => {
      await oksigen.stop()
      await registry.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Local date of a day, for messages. */
export const dayName = (ms: number) => new Date(ms + WIB).toISOString().slice(0, 10)
