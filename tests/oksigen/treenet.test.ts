/**
 * The processor on real point-dendrometer data (treenetproc v0.1.4 example data, TreeNet/WSL; see
 * tests/fixtures/treenet/README.md), compared with treenetproc's own processing of the same series.
 * Values are stem RADIUS changes in µm; the timestamps are the package's shifted clock, so days are
 * taken in UTC of that clock (utcOffsetH 0), as treenetproc's daily files are.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  type DendroDay,
  DendroProcessor,
  type DendroState,
  StepHistogram,
  treenetprocBounds,
} from '../../src/oksigen/dendro/index.ts'

const DIR = path.join(import.meta.dirname, '../fixtures/treenet')
type Row = Record<string, string>

function csv(file: string): Row[] {
  const buf = readFileSync(path.join(DIR, file))
  const text = file.endsWith('.gz') ? gunzipSync(buf).toString('utf8') : buf.toString('utf8')
  const lines = text.trim().split(/\r?\n/)
  const head = lines[0]!.split(',')
  return lines.slice(1).map((l) => {
    // Only the events file quotes a field ("out1, fill"); split outside quotes.
    const cells = l.match(/("[^"]*"|[^,]*)(,|$)/g)!.map((c) => c.replace(/,$/, '').replace(/"/g, ''))
    return Object.fromEntries(head.map((h, i) => [h, cells[i] ?? '']))
  })
}

const utc = (s: string) => Date.parse(`${s.replace(' ', 'T')}Z`)
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10)

interface Run {
  state: DendroState
  days: Map<string, DendroDay>
}

/** Streams a series (and optionally the site's air temperature) through one processor. */
function run(series: string, opts: { temperature: boolean; scale?: number }): Run {
  const dendro = DENDRO.filter((r) => r.series === series)
  const temps = opts.temperature ? TEMP : []
  const p = new DendroProcessor({ utcOffsetH: 0 })
  const days = new Map<string, DendroDay>()
  let ti = 0
  let closed = 0
  for (const r of dendro) {
    const t = utc(r.ts!)
    while (ti < temps.length && temps[ti]!.timeMs <= t) {
      p.pushTemperature(temps[ti]!.timeMs, temps[ti]!.value)
      ti++
    }
    p.push(t, Number(r.value) * (opts.scale ?? 1))
    if (p.daysClosedCount() !== closed) {
      closed = p.daysClosedCount()
      const d = p.latestDay()!
      days.set(dayOf(d.dayStartMs), d)
    }
  }
  return { state: p.state(), days }
}

let DENDRO: Row[]
let TEMP: Array<{ timeMs: number; value: number }>
let TNP: Map<string, Row>
let ours: Run

beforeAll(() => {
  DENDRO = csv('dendro_L0.csv.gz')
  TEMP = csv('temp_L0.csv.gz').map((r) => ({ timeMs: utc(r.ts!), value: Number(r.value) }))
  TNP = new Map(
    csv('treenetproc_L2_daily.csv')
      .filter((r) => r.series === 'site-1_dendro-1')
      .map((r) => [r.day!, r]),
  )
  ours = run('site-1_dendro-1', { temperature: true })
}, 60_000)

/** Our cumulative GRO at the end of a day (µm) and treenetproc's. */
const groEnd = (day: string) => ({ ours: ours.days.get(day)!.groUm, tnp: Number(TNP.get(day)!.gro_cum_end) })

describe('treenetproc example series site-1_dendro-1 (2.7 years, 138 770 readings)', () => {
  it('yearly growth (GRO) within 2 % of treenetproc for 2014 and 2015', () => {
    const year = (y: number) => groEnd(`${y}-12-31`)
    const gro2014 = year(2014).ours - year(2013).ours
    // The series ends on 2015-12-31 06:26, before that day closes: its end is the final state.
    const gro2015 = ours.state.groUm - year(2014).ours
    // treenetproc: 780.0 and 1 085.2 µm (gro_yr_end on 31 Dec).
    const tnp2014 = Number(TNP.get('2014-12-31')!.gro_yr_end)
    const tnp2015 = Number(TNP.get('2015-12-31')!.gro_yr_end)
    expect(Math.abs(gro2014 - tnp2014) / tnp2014).toBeLessThan(0.02)
    expect(Math.abs(gro2015 - tnp2015) / tnp2015).toBeLessThan(0.02)
    console.log(
      `GRO: 2014 ${gro2014.toFixed(1)} (treenetproc ${tnp2014}), 2015 ${gro2015.toFixed(1)} (${tnp2015}), all ${ours.state.groUm.toFixed(1)} µm`,
    )
    // Measured: 780.0 / 1 085.2 µm, i.e. within 0.1 µm; the whole series 2 205.8 as treenetproc.
    expect(Math.abs(ours.state.groUm - 2205.8)).toBeLessThan(5)
  })

  it('the re-mount (−2 498 µm in two steps, 2013-05-05 13:10) is one corrected jump, not a loss', () => {
    const remount = ours.state.jumps.filter((j) => dayOf(j.timeMs) === '2013-05-05')
    expect(remount).toHaveLength(1)
    // Two values of the transition removed as outliers (as treenetproc does), then the full
    // offset to the last good value subtracted.
    expect(remount[0]!.offsetUm).toBeGreaterThan(-2510)
    expect(remount[0]!.offsetUm).toBeLessThan(-2480)
    expect(ours.days.get('2013-05-05')!.outliers).toBe(2)
    expect(ours.state.jumpsTotal).toBe(1)
    const after = groEnd('2013-05-06')
    expect(Math.abs(after.ours - after.tnp)).toBeLessThan(1)
  })

  it('the Jussy spikes (−500 to −1 100 µm, one reading each) are removed', () => {
    for (const day of ['2013-05-23', '2013-05-26', '2013-05-29', '2013-05-31']) {
      const d = ours.days.get(day)!
      expect(d.outliers, day).toBeGreaterThanOrEqual(2) // the spike and the step back from it
      // A spike left in would make the day's range hundreds of µm; it is treenetproc's, ±5 µm.
      expect(d.amplitudeUm, day).toBeLessThan(150)
      expect(Math.abs(d.amplitudeUm - Number(TNP.get(day)!.amp)), day).toBeLessThan(5)
    }
    const may = groEnd('2013-05-31')
    expect(Math.abs(may.ours - may.tnp)).toBeLessThan(1)
  })

  it('no growth is removed at the real gaps (10.8 h on 2013-06-23: +61.6 µm; 8.6 days to 2013-10-07: +142.8 µm)', () => {
    // Both steps are far beyond the per-10-minute jump bound (±~95–127 µm would not be, but 61.6 µm
    // after 10.8 h is judged as 0.95 µm per interval, 142.8 µm after 8.6 days as 0.12).
    const jumpDays = new Set(ours.state.jumps.map((j) => dayOf(j.timeMs)))
    expect(jumpDays.has('2013-06-23')).toBe(false)
    expect(jumpDays.has('2013-10-07')).toBe(false)
    expect(ours.state.gaps.count).toBeGreaterThanOrEqual(4)
    for (const day of ['2013-06-23', '2013-06-24', '2013-10-07', '2013-10-08']) {
      const g = groEnd(day)
      expect(Math.abs(g.ours - g.tnp), day).toBeLessThan(1)
    }
    // The stem refilled across the first gap: the value after it is 61.6 µm above the one before.
    expect(ours.days.get('2013-06-23')!.maxUm - ours.days.get('2013-06-22')!.minUm).toBeGreaterThan(61)
  })

  it('TWD within 3 µm of treenetproc on the days both agree on the cleaning', () => {
    let agreeing = 0
    let within = 0
    for (const [day, r] of TNP) {
      const d = ours.days.get(day)
      if (!d || r.twd_end === 'NA' || r.twd_end === '') continue
      // Same running maximum so far (the cleaning agrees up to here) and nothing flagged today.
      if (Math.abs(d.groUm - Number(r.gro_cum_end)) > 1) continue
      if (Number(r.n_out) !== d.outliers || Number(r.n_jump) !== d.jumps) continue
      agreeing++
      if (Math.abs(d.twdUm - Number(r.twd_end)) <= 3) within++
    }
    console.log(
      `TWD: ${agreeing} days agree on the cleaning; within 3 µm on ${((100 * within) / agreeing).toFixed(1)} %`,
    )
    expect(agreeing).toBeGreaterThan(900)
    expect(within / agreeing).toBeGreaterThan(0.99)
  })

  it('the −157 µm two-step fall of 2014-01-22 20:20 is kept as shrinkage, as treenetproc keeps it', () => {
    // The stem (radius) fell 1 328.7 → 1 321.4 → 1 251.2 → 1 164.5 µm within 30 minutes and then
    // stayed flat at the sensor's 0.6 µm resolution for five days, at an air temperature of +3 °C.
    // We judge this a slip of the sensor rather than frost shrinkage (which follows sub-zero
    // temperatures over hours, not 157 µm in 20 minutes at +3 °C): treenetproc is wrong to keep it,
    // and so are we. Neither can tell: the two steepest values are outliers, the step across them
    // (−52 µm per interval) is well inside the jump bound, and in frost (below 5 °C) we do not
    // correct jumps at all. (treenetproc removes the two steepest values as outliers against its
    // frost bounds from the whole series; ours in January 2014 come from the frost seen so far and
    // may let them stand: the level after the fall is the same either way.) The cost: TWD overstated by ~157 µm until the stem regains its old
    // maximum, and up to that much of the next spring's growth uncounted. It is kept here so that
    // GRO stays comparable; the test pins the behaviour so a change to it is seen.
    const d = ours.days.get('2014-01-22')!
    expect(d.jumps).toBe(0)
    expect(d.outliers).toBeLessThanOrEqual(2)
    const tnp = TNP.get('2014-01-22')!
    expect(Math.abs(d.twdUm - Number(tnp.twd_end))).toBeLessThan(3)
    expect(d.twdUm).toBeGreaterThan(350)
  })

  it('maximum daily shrinkage close to treenetproc phase_stats (within 5 µm on ≥ 80 % of days)', () => {
    const phase = csv('treenetproc_phase_stats.csv').filter(
      (r) => r.series === 'site-1_dendro-1' && r.mds !== 'NA' && r.mds !== '',
    )
    let n = 0
    let within5 = 0
    let within10pct = 0
    let sumOurs = 0
    let sumTnp = 0
    for (const r of phase) {
      const d = ours.days.get(r.day!)
      if (!d || d.mdsUm === null) continue
      const tnp = Math.abs(Number(r.mds))
      n++
      sumOurs += d.mdsUm
      sumTnp += tnp
      if (Math.abs(d.mdsUm - tnp) <= 5) within5++
      if (Math.abs(d.mdsUm - tnp) <= Math.max(5, 0.1 * tnp)) within10pct++
    }
    expect(n).toBeGreaterThan(500)
    // MDS here is the largest fall from a value to a later one within the day; phase_stats takes
    // the shrinkage phase between its detected maximum and minimum (< 24 h long). They differ on
    // days where phase_stats' phase starts the evening before or noise adds a step at either end.
    expect(within5 / n).toBeGreaterThan(0.8)
    expect(within10pct / n).toBeGreaterThan(0.85)
    expect(Math.abs(sumOurs / n - sumTnp / n)).toBeLessThan(5)
    console.log(
      `MDS: ${n} days; |ours − phase_stats| ≤ 5 µm on ${((100 * within5) / n).toFixed(1)} %, ` +
        `≤ max(5 µm, 10 %) on ${((100 * within10pct) / n).toFixed(1)} %; ` +
        `mean ${(sumOurs / n).toFixed(1)} vs ${(sumTnp / n).toFixed(1)} µm`,
    )
  })

  it('growing season start and end within a week of treenetproc grow_seas', () => {
    const seasons = csv('treenetproc_grow_seas.csv').filter((r) => r.series === 'site-1_dendro-1')
    expect(seasons.length).toBe(2)
    for (const s of seasons) {
      const y = s.year!
      const days = [...ours.days.entries()]
        .filter(([k]) => k.startsWith(y))
        .sort(([a], [b]) => a.localeCompare(b))
      const base = ours.days.get(`${Number(y) - 1}-12-31`)!.groUm
      const total = (y === '2015' ? ours.state.groUm : days.at(-1)![1].groUm) - base
      const doy = (day: string) =>
        Math.round((utc(`${day} 00:00:00`) - utc(`${y}-01-01 00:00:00`)) / 86_400_000) + 1
      const start = days.find(([, d]) => d.groUm - base > 0.05 * total)![0]
      const end = days.find(([, d]) => d.groUm - base >= 0.95 * total)![0]
      expect(Math.abs(doy(start) - Number(s.gro_start)), `${y} start`).toBeLessThanOrEqual(7)
      expect(Math.abs(doy(end) - Number(s.gro_end)), `${y} end`).toBeLessThanOrEqual(7)
    }
  })

  it('radius or diameter: the same cleaning, GRO scaled by exactly the factor (no unit-dependent floor)', () => {
    const diameter = run('site-1_dendro-1', { temperature: true, scale: 2 })
    expect(diameter.state.jumpsTotal).toBe(ours.state.jumpsTotal)
    expect(diameter.state.outliersDropped).toBe(ours.state.outliersDropped)
    expect(diameter.state.groUm / ours.state.groUm).toBeCloseTo(2, 3)
  }, 60_000)

  it('the incremental bounds match treenetproc: its own figures and the exact computation on the same steps', () => {
    const b = ours.state.bounds
    // treenetproc on this series (its README): outliers ±23 µm, jumps ±127 µm per 10 minutes.
    // Ours at the end of the series: outliers −24.2…+23.5, jumps ±96. treenetproc's statistic is
    // unstable on such data: with the central 30–70 % removed, the remaining steps' median is
    // the mean of the two middle values, which lie either both in the lower half (median ≈ q30,
    // MAD ≈ 1.83 µm) or one in each (median ≈ (q30 + q70)/2, MAD ≈ 1.48 µm) depending on a single
    // value. On our own steps of this series R's formula gives a jump bound of ±94 or ±127
    // depending on that; the outlier bound ±23.8 or ±28.9. Hence the tolerances here.
    expect(Math.abs(b.outlier!.high - 23) / 23).toBeLessThan(0.1)
    expect(Math.abs(b.outlier!.low + 23) / 23).toBeLessThan(0.1)
    expect(Math.abs(b.jump!.high - 127) / 127).toBeLessThan(0.3)
    expect(Math.abs(b.jump!.low + 127) / 127).toBeLessThan(0.3)
    // The histogram against the exact R computation on the same steps: per interval, from the raw
    // readings of the long Pfynwald part in their 10-minute slots (quantised at 0.61 µm: the
    // frequent exact values are counted exactly, which R's strict "between" needs).
    const rows = DENDRO.filter((r) => r.series === 'site-1_dendro-1' && r.ts! >= '2013-06-01')
    const steps: number[] = []
    let prev: { slot: number; v: number } | null = null
    for (const r of rows) {
      const slot = Math.round(utc(r.ts!) / 600_000)
      const v = Number(r.value)
      if (prev && slot > prev.slot) steps.push((v - prev.v) / (slot - prev.slot))
      prev = { slot, v }
    }
    const h = new StepHistogram()
    for (const s of steps) h.add(s)
    for (const tol of [10, 50]) {
      const exact = treenetprocBounds(steps, tol)
      const approx = h.bounds(tol, 144)!
      console.log(
        `tol ${tol}: exact ${exact.low.toFixed(3)}…${exact.high.toFixed(3)}, histogram ${approx.low.toFixed(3)}…${approx.high.toFixed(3)} µm`,
      )
      expect(Math.abs(approx.high - exact.high) / exact.high).toBeLessThan(0.01)
      expect(Math.abs(approx.low - exact.low) / -exact.low).toBeLessThan(0.01)
    }
  })
})

describe('treenetproc example series site-1_dendro-2 (Jussy, one August)', () => {
  it('its two single-reading outliers are removed and nothing is called a jump', () => {
    const r = run('site-1_dendro-2', { temperature: false })
    expect(r.state.jumpsTotal).toBe(0)
    // treenetproc removes one value on 2013-08-08 and one on 2013-08-18; we need a day of steps
    // before judging, so the first may slip through, the second must not.
    expect(r.days.get('2013-08-18')!.outliers).toBeGreaterThanOrEqual(1)
  })
})
