import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AssessmentRecord,
  encodeAssessment,
  InfluxAssessmentSink,
  SPECIES_IDS,
} from '../../src/oksigen/index.ts'
import type { Reading } from '../../src/telemetry/reading.ts'
import { startApp } from '../harness/app.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { influxQuery } from '../harness/influxql.ts'
import { freePort } from '../harness/ports.ts'

const DAY = 86_400_000
const WIB = 7 * 3_600_000

/** A growing stem with its daily cycle (thinnest mid-afternoon), every 10 minutes. */
function stem(device: string, startMs: number, days: number): Reading[] {
  const readings: Reading[] = []
  let base = 60_000
  for (let t = startMs; t < startMs + days * DAY; t += 10 * 60_000) {
    base += 40 / 144
    const hour = ((t + WIB) % DAY) / 3_600_000
    readings.push({
      timeMs: t,
      village: 'kemiren',
      device,
      sensor: 'main',
      quantity: 'stem_diameter',
      value: base + 25 * Math.cos((2 * Math.PI * (hour - 5)) / 24),
    })
  }
  return readings
}

const record = (over: Partial<AssessmentRecord> = {}): AssessmentRecord => ({
  timeMs: 1_780_000_000_000,
  village: 'kemiren',
  tree: 't-1',
  device: 'dendro-1',
  species: 'teak',
  state: 'growing',
  groUm: 412.5,
  twdUm: 18,
  progressPct: 8.25,
  diameterMm: 60.4,
  growthUmPerDay7d: 40,
  dailyAmplitudeUm: 50,
  daysObserved: 12,
  o2Kg: 3.1,
  o2KgRough: null,
  ...over,
})

describe('oksigen_assessment line protocol', () => {
  it('one line, tags sorted and escaped, absent estimates left out', () => {
    expect(encodeAssessment(record())).toBe(
      'oksigen_assessment,device=dendro-1,species=teak,state=growing,tree=t-1,village=kemiren ' +
        'gro_um=412.5,twd_um=18,progress_pct=8.25,diameter_mm=60.4,growth_um_per_day_7d=40,daily_amplitude_um=50,days_observed=12,o2_kg=3.1 1780000000000',
    )
    expect(encodeAssessment(record({ tree: 'a b,c=d\\', o2Kg: null, o2KgRough: 0.2 }))).toContain(
      'tree=a\\ b\\,c\\=d%5C,village=kemiren ',
    )
    expect(encodeAssessment(record({ o2Kg: null }))).not.toContain('o2_kg')
  })
})

describe('assessments reach InfluxDB', () => {
  let influxd: InfluxdHandle

  beforeAll(async () => {
    influxd = await startInfluxd()
  })
  afterAll(async () => {
    await influxd?.stop()
  })

  it('the app with an InfluxDB store writes every assessment of the real verifier', async () => {
    const t = await startApp({
      store: { kind: 'influx', influx: { url: influxd.url, database: 'kampung' } },
      oksigen: { evaluateEveryMs: 100 },
    })
    let decisions: string[] = []
    let treeId = ''
    try {
      await t.addDevice({ id: 'dendro-1', village: 'kemiren', kind: 'dendrometer' })
      const oksigen = t.app.oksigen!
      treeId = oksigen.repo.addTree(
        {
          device: 'dendro-1',
          species: 'teak',
          plantedAtMs: Date.UTC(2026, 0, 1),
          initialDiameterMm: 60,
          initialHeightM: 4,
          mountHeightCm: 30,
          dbhCm: 5.5, // biomass uses the DBH, not the stem at the dendrometer
        },
        SPECIES_IDS,
      ).id
      oksigen.verifier.refreshTrees()
      const readings = stem('dendro-1', Date.UTC(2026, 0, 1) - WIB, 20)
      for (let day = 0; day < 20; day++) {
        oksigen.verifier.onReadings(readings.slice(day * 144, (day + 1) * 144))
        oksigen.verifier.evaluateDirty()
      }
      decisions = oksigen.repo.decisions(treeId).map((d) => d.toState)
    } finally {
      await t.stop() // stops the verifier, then flushes the sink
    }
    const rows = await influxQuery(
      influxd.url,
      'kampung',
      `SELECT * FROM "kampung"."events"."oksigen_assessment" WHERE "tree" = '${treeId}'`,
    )
    expect(rows.length).toBeGreaterThanOrEqual(20)
    expect(
      rows.every((r) => r.village === 'kemiren' && r.device === 'dendro-1' && r.species === 'teak'),
    ).toBe(true)
    // the states written follow the verifier's decisions (a new tree starts awaiting data), in order
    const states = rows.map((r) => r.state as string).filter((s, i, all) => i === 0 || all[i - 1] !== s)
    expect(decisions.length).toBeGreaterThan(0)
    expect(states).toEqual(['awaiting_data', ...decisions])
    const last = rows.at(-1)!
    expect(last.gro_um as number).toBeGreaterThan(500) // ~40 µm a day for 20 days
    expect(last.o2_kg as number).toBeGreaterThan(0) // DBH ≈ 5.6 cm: inside Chave's fitted range
    expect(last.o2_kg_rough ?? null).toBeNull() // no rough figure next to a sound one
    const rp = await influxQuery(influxd.url, 'kampung', 'SHOW RETENTION POLICIES ON "kampung"')
    expect(rp.find((r) => r.name === 'events')?.duration).toBe('0s') // INF
  })

  it('buffers while InfluxDB is away and writes when it is back; never throws at start', async () => {
    const nowhere = new InfluxAssessmentSink({
      url: `http://127.0.0.1:${await freePort()}`,
      database: 'kampung',
    })
    await nowhere.start() // InfluxDB down at boot: the store spools, the sink waits
    nowhere.add(record())
    await nowhere.flush()
    expect(nowhere.written).toBe(0)
    await nowhere.stop()

    const sink = new InfluxAssessmentSink({ url: influxd.url, database: 'kampung', flushIntervalMs: 60_000 })
    await sink.start()
    await influxd.kill()
    sink.add(record({ tree: 'outage', timeMs: 1_780_000_000_000 }))
    sink.add(record({ tree: 'outage', timeMs: 1_780_000_060_000 }))
    await sink.flush()
    expect(sink.written).toBe(0)
    await influxd.restart()
    await sink.flush()
    expect(sink.written).toBe(2)
    await sink.stop()
    const rows = await influxQuery(
      influxd.url,
      'kampung',
      `SELECT "gro_um" FROM "kampung"."events"."oksigen_assessment" WHERE "tree" = 'outage'`,
    )
    expect(rows.map((r) => r.time)).toEqual([1_780_000_000_000, 1_780_000_060_000])
  })
})
