import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  AlertEngine,
  ownership,
  parseAlertsConfig,
  partitionClientId,
  villageBucket,
} from '../../src/alerts/index.ts'
import { type ConfigError, loadConfig } from '../../src/config.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import type { Reading } from '../../src/telemetry/reading.ts'
import { HOUR, MIN, PHONE_A, PHONE_B, rig, wib } from '../alerts/helpers.ts'
import { spawnKampung } from '../harness/process.ts'

/** ~200 village ids shaped like the district's (names, and numbered ids that differ by one character). */
const VILLAGES = [
  ...Array.from({ length: 150 }, (_, i) => `desa-${String(i + 1).padStart(3, '0')}`),
  ...'kemiren licin tamansari olehsari glagah banjarsari rogojampi kabat genteng sempu songgon singojuruh cluring tegaldlimo muncar pesanggaran siliragung bangorejo purwoharjo tegalsari kalibaru glenmore wongsorejo kalipuro giri sobo kepatihan pakis gombengsari tamansuruh bakungan paspan jambesari segobang kelir kampunganyar bayu'.split(
    ' ',
  ),
  ...Array.from({ length: 12 }, (_, i) => `Sumberagung ${i + 1}`),
]

describe('village ownership', () => {
  it('is the SHA-256 bucket: values checked with coreutils sha256sum, the same in every process', () => {
    // echo -n kemiren | sha256sum → 7ace8c13…; 0x7ace8c13 mod 2 = 1, mod 3 = 1, mod 7 = 0
    expect([villageBucket('kemiren', 2), villageBucket('kemiren', 3), villageBucket('kemiren', 7)]).toEqual([
      1, 1, 0,
    ])
    expect([villageBucket('licin', 2), villageBucket('licin', 3), villageBucket('licin', 7)]).toEqual([
      0, 2, 4,
    ])
    expect([villageBucket('tamansari', 3), villageBucket('tamansari', 7)]).toEqual([2, 2])
    // stable: asking again, in another order, gives the same answer
    const first = VILLAGES.map((v) => villageBucket(v, 5))
    const again = [...VILLAGES].reverse().map((v) => villageBucket(v, 5))
    expect(again.reverse()).toEqual(first)
  })

  it('every village has exactly one owner, and the split is balanced over ~200 ids', () => {
    expect(new Set(VILLAGES).size).toBeGreaterThanOrEqual(195)
    for (const count of [2, 3, 4, 5, 8]) {
      const owners = Array.from({ length: count }, (_, index) => ownership({ index, count }))
      const sizes = new Array<number>(count).fill(0)
      for (const v of VILLAGES) {
        const owning = owners.map((own, i) => (own(v) ? i : -1)).filter((i) => i >= 0)
        expect(owning, v).toHaveLength(1)
        sizes[owning[0]!]! += 1
      }
      const mean = VILLAGES.length / count
      // A fair split of ~200 into `count` parts: each within ±35 % of the mean (binomial spread
      // is about ±2σ of that for count 8; a clustering hash on numbered ids would fail it).
      for (const n of sizes) {
        expect(n, `count ${count}: ${sizes.join('/')}`).toBeGreaterThan(mean * 0.65)
        expect(n, `count ${count}: ${sizes.join('/')}`).toBeLessThan(mean * 1.35)
      }
    }
  })

  it('an explicit village list owns exactly those villages', () => {
    const own = ownership({ villages: ['kemiren', 'licin'] })
    expect(VILLAGES.filter(own)).toEqual(['kemiren', 'licin'])
    expect(partitionClientId({ villages: ['kemiren', 'licin'] })).toBe('kampung-state-kemiren_licin')
    expect(partitionClientId({ index: 1, count: 3 })).toBe('kampung-state-1-of-3')
  })

  it('an invalid partition is refused with every problem and its path', () => {
    const problems = (partition: unknown): string[] => {
      try {
        loadConfig({ env: {}, overrides: { alerts: { partition } } as never })
        return []
      } catch (err) {
        return (err as ConfigError).problems
      }
    }
    expect(problems({ index: 2, count: 2 })).toEqual(['alerts.partition.index: must be below count (2)'])
    expect(problems({ index: 0 })).toEqual(['alerts.partition: index and count go together'])
    expect(problems({ index: 0, count: 2, villages: ['licin'] })).toEqual([
      'alerts.partition: either index and count, or villages, not both',
    ])
    expect(problems({})).toEqual(['alerts.partition: give index and count, or villages'])
    expect(problems({ villages: ['a/b'] })[0]).toMatch(/^alerts\.partition\.villages\.0: /)
    expect(problems({ index: 0, count: 2, worker: 1 })[0]).toMatch(/worker/)
    expect(problems({ index: 1, count: 2 })).toEqual([])
  })
})

describe('kampung state refuses a missing or invalid partition', () => {
  const run = async (config: Record<string, unknown>) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-state-refuse-'))
    try {
      const file = path.join(dir, 'kampung.json')
      writeFileSync(file, JSON.stringify(config))
      // the broker URL goes nowhere: refusing must happen before any connection is tried
      const p = spawnKampung(['state'], {
        KAMPUNG_CONFIG: file,
        KAMPUNG_DATA_DIR: dir,
        KAMPUNG_INGEST_MQTT_URL: 'mqtt://127.0.0.1:1',
      })
      const code = await new Promise<number | null>((resolve) => p.child.once('exit', resolve))
      return { code, output: p.output() }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }

  it('exits 1 naming each problem', async () => {
    const none = await run({})
    expect(none.code).toBe(1)
    expect(none.output).toContain('the state role needs alerts.partition (index and count, or villages)')
    const bad = await run({
      alerts: { partition: { index: 2, count: 2 } },
      ingest: { mqtt: { protocolVersion: 3 } },
    })
    expect(bad.code).toBe(1)
    // every problem at once, with its path
    expect(bad.output).toContain('alerts.partition.index: must be below count (2)')
    expect(bad.output).toContain('ingest.mqtt.protocolVersion')
  }, 60_000)
})

const soil = (village: string, device: string, timeMs: number, value: number): Reading => ({
  village,
  device,
  sensor: 'soil',
  quantity: 'soil_moisture',
  timeMs,
  value,
})

describe('an engine with a partition on a shared registry', () => {
  it('evaluates, times and SMS only its own villages; the other owner does the rest, once', async () => {
    // licin is in bucket 0 of 2, kemiren in bucket 1 (checked above).
    const r = await rig(
      { partition: { index: 0, count: 2 }, groupWaitMs: 0 },
      { startMs: wib(2026, 7, 1, 9) },
    )
    try {
      const d = r.engine.directory
      for (const [village, phone] of [
        ['licin', PHONE_A],
        ['kemiren', PHONE_B],
      ] as const) {
        r.registry.addVillage({ id: village, name: village })
        await r.registry.addDevice({ id: `${village}-soil1`, village, kind: 'soil', format: 'json' })
        d.addField({
          id: `${village}-sawah1`,
          village,
          name: 'SAWAH1',
          crop: 'chili',
          plantedAtMs: wib(2026, 6, 1),
          areaHa: 0.15,
          devices: [`${village}-soil1`],
        })
        d.addFarmer({ id: `pak-${village}`, name: 'Pak', phone })
        d.subscribe(`pak-${village}`, `${village}-sawah1`)
      }
      const dry = (village: string) =>
        Array.from({ length: 20 }, (_, i) =>
          soil(village, `${village}-soil1`, r.clock.now - 3 * HOUR + i * 10 * MIN, 20),
        )
      // The owner of bucket 0 is handed both villages' readings (as `kampung state --api` could be
      // through HTTP): it keeps licin's and leaves kemiren's alone.
      for (const [i, x] of dry('licin').entries()) r.engine.onReadings([x, dry('kemiren')[i]!])
      r.engine.tick(r.clock.now)
      expect(r.engine.listAlerts().map((a) => a.village)).toEqual(['licin'])
      expect(r.outbox.to(PHONE_A)).toHaveLength(1)
      expect(r.outbox.to(PHONE_B)).toHaveLength(0)
      // The other owner on the same registry file and outbox: it opens kemiren's alert only, and
      // neither engine's timers send or hand over the other's SMS.
      const registry = new Registry({ path: path.join(r.dir, 'registry.db'), schemas: SCHEMAS })
      await registry.start()
      const other = new AlertEngine({
        registry,
        outbox: r.outbox,
        config: parseAlertsConfig({ partition: { index: 1, count: 2 }, groupWaitMs: 0 }),
        clock: () => r.clock.now,
        timers: false,
      })
      await other.start()
      try {
        for (const [i, x] of dry('licin').entries()) other.onReadings([x, dry('kemiren')[i]!])
        for (let i = 0; i < 3; i++) {
          r.clock.now += 13 * HOUR // past the repeat interval: a reminder each, from its owner only
          r.engine.tick(r.clock.now)
          other.tick(r.clock.now)
        }
        expect(
          r.engine
            .listAlerts()
            .map((a) => `${a.village}:${a.rule}`)
            .sort(),
        ).toEqual(['kemiren:device_offline', 'kemiren:dry', 'licin:device_offline', 'licin:dry'])
        expect(r.outbox.duplicates).toBe(0)
        const texts = (phone: string) => r.outbox.to(phone).map((m) => m.key)
        // one firing SMS, then the reminders of its own owner (no second copy from the other engine)
        expect(texts(PHONE_A).filter((k) => k.endsWith(':1'))).toHaveLength(1)
        expect(texts(PHONE_B).filter((k) => k.endsWith(':1'))).toHaveLength(1)
        expect(new Set(texts(PHONE_A)).size).toBe(texts(PHONE_A).length)
        expect(texts(PHONE_B).length).toBe(texts(PHONE_A).length)
      } finally {
        await other.stop()
        await registry.stop()
      }
    } finally {
      await r.stop()
    }
  })
})
