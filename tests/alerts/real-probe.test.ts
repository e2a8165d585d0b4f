/**
 * The dry rule on a real probe series (issue 13: check every judgment against data we did not
 * write). Two capacitive soil-moisture probes of the SIMPaCT smart-irrigation deployment in
 * Bicentennial Park, Sydney (CC BY 4.0; tests/fixtures/simpact/README.md): hourly % VWC, 15 Nov
 * 2022 – 17 Jan 2023, watered every night from 27/28 Nov to 22 Dec, then not (a dry-down of twelve
 * days), storms on 5 Dec, 12 Dec, 4 Jan and 6 Jan, then a second dry-down.
 *
 * The site documents neither soil texture nor θFC/θWP, so the references here are taken from the
 * data itself, independently of the engine, and the assumptions are stated:
 * - θFC: the drained plateau, the first night after each of the three storms on which the reading
 *   stays flat (no ET at night; a still-draining soil falls), 19:00–00:00 AEDT (08–13 UTC);
 * - θWP: Table 19's mid-range of the class whose θFC range holds that plateau (assumed: sand
 *   for SENS0008, 13.1–13.6 % VWC drained; loam for SENS0012, 26.3–28.2);
 * - p: FAO-56 Table 22's 0.50 for warm-season turf grass (the park's vegetation), set on the field
 *   as an officer would (`soil.p`); the crop id only carries the rule's defaults (maize: forMs 3 h).
 * No weather station: the engine knows no ETc, so p stays 0.50 and the learner adds no ETc.
 *
 * Replayed through the engine's public surface (onReadings, tick, listAlerts and the SMS outbox) like a
 * gateway's backlog, one reading an hour; the learned field-capacity reading is read with
 * fieldMoistureRule (the bench's view of a field's threshold).
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SOIL_TEXTURES } from '../../src/agronomy/index.ts'
import type { Alert } from '../../src/alerts/index.ts'
import { fieldMoistureRule } from '../../src/alerts/rules/index.ts'
import { DAY, HOUR, type Rig, reading, rig } from './helpers.ts'

const FILE = path.join(import.meta.dirname, '../fixtures/simpact/sopa_hourly_2probes.csv')
const PROBES = ['SENS0008', 'SENS0012'] as const
type Probe = (typeof PROBES)[number]
interface Row {
  t: number
  v: Record<Probe, number>
}
let rows: Row[] = []
const utc = (s: string) => Date.parse(`${s}:00:00Z`)

/** Turf grass, warm season (FAO-56 Table 22): p 0.50. */
const P_TURF = 0.5
const CLASS: Record<Probe, keyof typeof SOIL_TEXTURES> = { SENS0008: 'sand', SENS0012: 'loam' }
/** The storms (a rise of ≥ 5 % VWC within two hours on both probes), as UTC hours. */
const STORMS = ['2022-12-05T10', '2022-12-12T00', '2023-01-06T00']
/** Nightly watering: the first and the last pulse on SENS0008 (14–15 UTC, ~01:00 AEDT). */
const WATERED = { from: utc('2022-11-28T14'), to: utc('2022-12-22T15') }

const at = (t: number, p: Probe) => rows.find((r) => r.t === t)!.v[p]

/**
 * θFC as the data shows it: the mean of the first flat night (08–13 UTC, a fall < 0.4) that starts
 * 18 h or more after each storm (a night flat at saturation the same day, SENS0012 on 6 Jan at
 * 37.6 % VWC, is ponding, not field capacity).
 */
function drainedPlateaus(p: Probe): number[] {
  return STORMS.map((s) => {
    for (let night = utc(`${s.slice(0, 10)}T08`); ; night += DAY) {
      if (night < utc(s) + 18 * HOUR) continue
      const v = Array.from({ length: 6 }, (_, h) => at(night + h * HOUR, p))
      if (v[0]! - v[5]! < 0.4) return v.reduce((a, b) => a + b, 0) / v.length
    }
  })
}

/** FAO-56's stress point from the plateau and the assumed class's mid θWP: θFC − p (θFC − θWP). */
function faoThreshold(p: Probe): number {
  const fc = drainedPlateaus(p).reduce((a, b) => a + b, 0) / STORMS.length
  const wp = ((SOIL_TEXTURES[CLASS[p]].wp[0] + SOIL_TEXTURES[CLASS[p]].wp[1]) / 2) * 100
  return fc - P_TURF * (fc - wp)
}

/**
 * The onsets of stress as FAO-56 puts them: each first reading below the threshold, runs below it
 * merged when the soil rose above it for less than two days between them (a shower that wets the
 * top for a few hours does not end a dry-down).
 */
function onsets(p: Probe, threshold: number): number[] {
  const out: number[] = []
  let lastBelow = Number.NEGATIVE_INFINITY
  for (const r of rows) {
    if (r.v[p] >= threshold) continue
    if (r.t - lastBelow > 2 * DAY) out.push(r.t)
    lastBelow = r.t
  }
  return out
}

const FIELD: Record<Probe, string> = { SENS0008: 'park-08', SENS0012: 'park-12' }
const DEVICE: Record<Probe, string> = { SENS0008: 'sens0008', SENS0012: 'sens0012' }

async function replay(pField = P_TURF): Promise<{
  r: Rig
  fc: Record<Probe, number | undefined>
  dry: Record<Probe, Alert[]>
}> {
  const start = rows[0]!.t
  const r = await rig(
    { quietHours: { start: '00:00', end: '00:00' }, groupWaitMs: 0, groupIntervalMs: 0 },
    { startMs: start },
  )
  r.registry.addVillage({ id: 'park', name: 'Bicentennial Park' })
  const d = r.engine.directory
  for (const p of PROBES) {
    await r.registry.addDevice({ id: DEVICE[p], village: 'park', kind: 'soil', format: 'json' })
    d.addField({
      id: FIELD[p],
      village: 'park',
      name: p,
      crop: 'maize',
      plantedAtMs: start - 30 * DAY,
      areaHa: 0.1,
      devices: [DEVICE[p]],
      soil: { texture: CLASS[p], p: pField },
    })
  }
  d.addFarmer({
    id: 'ranger',
    name: 'Ranger',
    phone: '+6281200000001',
    village: 'park',
    quietStart: '00:00',
    quietEnd: '00:00',
  })
  for (const p of PROBES) d.subscribe('ranger', FIELD[p])
  for (const x of rows) {
    r.clock.now = x.t
    r.engine.onReadings(PROBES.map((p) => reading(DEVICE[p], 'soil_moisture', x.v[p], x.t, 'park')))
    r.engine.tick(x.t)
  }
  const end = rows.at(-1)!.t
  const fc = Object.fromEntries(
    PROBES.map((p) => [p, fieldMoistureRule(r.engine, d.getField(FIELD[p])!, 'dry', end).probeFcPct]),
  ) as Record<Probe, number | undefined>
  const dry = Object.fromEntries(
    PROBES.map((p) => [
      p,
      r.engine
        .listAlerts({ field: FIELD[p] })
        .filter((a) => a.rule === 'dry')
        .sort((a, b) => a.firedAtMs! - b.firedAtMs!),
    ]),
  ) as Record<Probe, Alert[]>
  return { r, fc, dry }
}

describe('the dry rule on a real probe series (SIMPaCT, Bicentennial Park)', () => {
  let run: Awaited<ReturnType<typeof replay>> | undefined
  beforeAll(async () => {
    rows = readFileSync(FILE, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => {
        const [day, hour, a, b] = l.split(',')
        return {
          t: Date.parse(`${day}T00:00:00Z`) + Number(hour) * HOUR,
          v: { SENS0008: Number(a), SENS0012: Number(b) },
        }
      })
    run = await replay()
  }, 60_000)
  afterAll(async () => {
    await run?.r.stop()
  })

  it('the fixture is the series its README describes', () => {
    expect(rows).toHaveLength(1522)
    expect(rows[0]!.t).toBe(utc('2022-11-15T00'))
    expect(rows.at(-1)!.t).toBe(utc('2023-01-17T09'))
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.t - rows[i - 1]!.t).toBe(HOUR)
    // the storm of 6 Jan: both probes rise by ≥ 5 % VWC within two hours
    expect(at(utc('2023-01-06T00'), 'SENS0008') - at(utc('2023-01-05T22'), 'SENS0008')).toBeGreaterThan(5)
    expect(at(utc('2023-01-06T00'), 'SENS0012') - at(utc('2023-01-05T22'), 'SENS0012')).toBeGreaterThan(5)
  })

  it('learns the probe’s field-capacity reading: within the drained plateau the storms show', () => {
    for (const p of PROBES) {
      const plateau = drainedPlateaus(p)
      const learned = run!.fc[p]
      expect(learned, p).toBeDefined()
      // ± 0.5 % VWC: the hourly noise of these probes at night is ~0.1, the plateaus differ by ≤ 2
      expect(learned!, `${p} plateaus ${plateau.map((x) => x.toFixed(2))}`).toBeGreaterThanOrEqual(
        Math.min(...plateau) - 0.5,
      )
      expect(learned!, `${p} plateaus ${plateau.map((x) => x.toFixed(2))}`).toBeLessThanOrEqual(
        Math.max(...plateau) + 0.5,
      )
    }
  })

  it('sends no dry SMS while the soil is watered back to field capacity every night', () => {
    for (const p of PROBES) {
      const during = run!.dry[p].filter(
        (a) => a.firedAtMs! >= WATERED.from && a.firedAtMs! <= WATERED.to + DAY,
      )
      expect(
        during.map((a) => new Date(a.firedAtMs!).toISOString()),
        p,
      ).toEqual([])
    }
    // What the ranger's phone shows in those weeks: no "kering" text at all, nor a reminder, from
    // 29 Nov on. Not asserted: the reminder of 28 Nov 15 UTC for SENS0012, an alert from before
    // the watering kept open a day after the soaking (finding 2, tests/fixtures/simpact/README.md).
    const texts = run!.r.outbox.messages
      .filter((m) => m.enqueuedAtMs >= utc('2022-11-29T00') && m.enqueuedAtMs <= WATERED.to + DAY)
      .map((m) => m.text)
      .filter((t) => / kering/.test(t) && !/tidak kering/.test(t))
    expect(texts).toEqual([])
  })

  it('with chili’s p 0.30, sends no dry SMS on the field watered every night (the field-capacity sample is the drained level, not the next pulse)', async () => {
    // Finding 1 of tests/fixtures/simpact/README.md: the reading 24 h after a nightly watering is
    // the top of the next pulse (14.88 on SENS0008, drained ~11.5); taken as field capacity it put
    // chili's threshold at 12.94 and sent two false SMS (1 Dec 05 UTC, 2 Dec 07 UTC).
    const chili = await replay(0.3)
    try {
      const during = chili.dry.SENS0008.filter(
        (a) => a.firedAtMs! >= WATERED.from && a.firedAtMs! <= WATERED.to + DAY,
      )
      expect(during.map((a) => new Date(a.firedAtMs!).toISOString())).toEqual([])
      const plateau = drainedPlateaus('SENS0008')
      expect(chili.fc.SENS0008!).toBeLessThanOrEqual(Math.max(...plateau) + 0.5)
    } finally {
      await chili.r.stop()
    }
  })

  it('on SENS0008, alerts each dry-down from 48 h before FAO-56’s stress point to 6 h after it, and at no other time', () => {
    const threshold = faoThreshold('SENS0008')
    const starts = onsets('SENS0008', threshold)
    // three dry-downs cross it: before the watering began, after it stopped, after the last storm
    expect(starts.map((t) => new Date(t).toISOString().slice(0, 13))).toEqual([
      '2022-11-18T05',
      '2022-12-28T05',
      '2023-01-12T06',
    ])
    const alerts = run!.dry.SENS0008
    const fired = alerts.map((a) => a.firedAtMs!)
    for (const onset of starts) {
      const hit = fired.filter((t) => t >= onset - 48 * HOUR && t <= onset + 6 * HOUR)
      expect(hit.length, `onset ${new Date(onset).toISOString()}`).toBe(1)
    }
    const stray = fired.filter((t) => !starts.some((o) => t >= o - 48 * HOUR && t <= o + 6 * HOUR))
    expect(stray.map((t) => new Date(t).toISOString())).toEqual([])
    // each resolves with the soaking that ended its dry-down (the storms of 27 Nov and 4 Jan), not before
    expect(alerts.map((a) => a.resolvedAtMs && new Date(a.resolvedAtMs).toISOString().slice(0, 13))).toEqual([
      '2022-11-27T14',
      '2023-01-04T14',
      undefined,
    ])
  })

  it('on SENS0012, alerts at once: it starts 9 % VWC below its later drained level, before the watering began', () => {
    const first = run!.dry.SENS0012[0]!
    expect(rows[0]!.v.SENS0012).toBeLessThan(faoThreshold('SENS0012'))
    expect(first.firedAtMs! - rows[0]!.t).toBeLessThanOrEqual(3 * HOUR) // forMs 3 h (maize)
    // Not asserted, a finding (tests/fixtures/simpact/README.md): it resolves only on 28 Nov 16 UTC,
    // 26 h after the soaking, with three "kering … Siram" reminders in between.
  })
})
