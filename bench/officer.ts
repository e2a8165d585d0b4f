/**
 * The officer's view (issue 15, scope 4): how long every dashboard panel's query takes over a
 * district's real history, and which retention policy each reads.
 *
 *  1. A real influxd gets 90 days (BENCH_OFFICER_DAYS) of a BENCH_OFFICER_NODES (300) node
 *     district in BENCH_OFFICER_VILLAGES (10) villages, every node reporting every 5 minutes:
 *     per village 80 % soil nodes (soil moisture and temperature, battery, signal strength), a
 *     fifteenth weather stations (air temperature, humidity, pressure, rain, wind, sun, battery)
 *     and the rest dendrometers (stem diameter, battery); every node's position hourly. Schema
 *     from the system's own writers' start() (InfluxStore: `raw` 90 d, `rp_1h` and its continuous
 *     query; the Oksigen sink: `events`); the readings as line protocol from the store's own
 *     encoder (encodeBody) through its own InfluxClient, in batches. Alert events, daily
 *     irrigation advice per field and 6-hourly tree assessments go to `events` through the
 *     alerts' and Oksigen's own encoders (values synthetic, shapes real).
 *  2. `rp_1h`: a continuous query only ever covers the interval that just ended. For the last
 *     BENCH_OFFICER_CQ_HOURS (6) complete hours influxd's CQ service runs the store's own
 *     statement (InfluxStore.continuousQuery(), a copy with RESAMPLE so it runs now, dropped
 *     afterwards); the result must equal the loader's hourly mean/min/max of those hours. The
 *     older history is computed by the loader while it generates the readings (in the CQ's
 *     order: by time) and written with them, and checked against the CQ's SELECT on sample
 *     hours (a SELECT … INTO per day took 25 min for 90 days; this takes seconds).
 *     `rp_1d` the same way: the store's daily CQ (from rp_1h, local days, RESAMPLE … FOR 2d) itself
 *     for yesterday and today so far, equal to the loader's days computed from its hourly
 *     aggregates; the older days written by the loader and checked against its SELECT on sample days.
 *  3. Every panel target of every generated dashboard (dashboards/generated, walked: a new panel
 *     is timed without touching this file), with Grafana's macros and template variables expanded
 *     as tests/dashboards/grafana.ts does, for ranges 6 h, 7 d and 90 d ending now; each query
 *     once untimed (warm-up), then timed BENCH_OFFICER_RUNS (10) times one after another (at most
 *     10 s per query and range, at least 3 runs); p50/p95 per target. Then each dashboard's targets
 *     all at once, as Grafana sends them when the dashboard opens. Variables: single-value ones
 *     the first option (the first village), multi-value ones All.
 *
 * Writes bench/results/officer.{json,md}. Run alone: `BENCH_ONLY=officer npm run bench`.
 * BENCH_OFFICER_HOLD_S=<s> keeps the loaded influxd up that long (its URL is logged) before the timing.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parse as parseYaml } from 'yaml'
import { GENERATED_DIR } from '../dashboards/src/generate.ts'
import { encodeEvent } from '../src/alerts/index.ts'
import { encodeAssessment, InfluxAssessmentSink, TREE_STATES } from '../src/oksigen/index.ts'
import { InfluxClient, InfluxStore } from '../src/store/index.ts'
import { encodeBody, formatFloat } from '../src/store/influx/line-protocol.ts'
import type { Reading } from '../src/telemetry/reading.ts'
import {
  allPanels,
  type ExpandContext,
  expand,
  intervalFor,
  type Panel,
  type VariableState,
  variableValues,
} from '../tests/dashboards/grafana.ts'
import { startInfluxd } from '../tests/harness/influxd.ts'
import { cpuSeconds, machine, percentile } from './proc-stats.ts'

const NODES = Number(process.env.BENCH_OFFICER_NODES ?? 300)
const VILLAGES = Number(process.env.BENCH_OFFICER_VILLAGES ?? 10)
const DAYS = Number(process.env.BENCH_OFFICER_DAYS ?? 90)
const RUNS = Number(process.env.BENCH_OFFICER_RUNS ?? 10)
/** The last hours whose rp_1h points the continuous query itself computes. */
const CQ_HOURS = Number(process.env.BENCH_OFFICER_CQ_HOURS ?? 6)
const QUERY_BUDGET_MS = 10_000
const DATABASE = 'kampung'
const STEP_MS = 5 * 60_000
const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000
const BATCH_LINES = 10_000
/** Grafana passes the panel's width in pixels as maxDataPoints; a half-width panel on a laptop (as the dashboard tests). */
const MAX_DATA_POINTS = 800
/** The provisioned datasource's `timeInterval` (dashboards/provisioning/datasources/kampung.yaml). */
const DATASOURCE_MIN_INTERVAL = (
  parseYaml(
    readFileSync(path.join(GENERATED_DIR, '..', 'provisioning', 'datasources', 'kampung.yaml'), 'utf8'),
  ) as {
    datasources: Array<{ type: string; jsonData?: { timeInterval?: string } }>
  }
).datasources.find((d) => d.type === 'influxdb')?.jsonData?.timeInterval
const RANGES = [
  { name: '6 h', ms: 6 * HOUR_MS },
  { name: '7 d', ms: 7 * DAY_MS },
  { name: `${DAYS} d`, ms: DAYS * DAY_MS },
]

const log = (msg: string) =>
  process.stderr.write(`[officer] ${new Date().toISOString().slice(11, 19)} ${msg}\n`)
const now = () => performance.now()
const round1 = (x: number) => Number(x.toFixed(1))

type Kind = 'soil' | 'weather' | 'dendrometer'
interface SimNode {
  id: string
  village: string
  kind: Kind
  lat: number
  lon: number
  /** A per-node phase so the nodes' curves differ. */
  phase: number
}

function district(): SimNode[] {
  const nodes: SimNode[] = []
  const perVillage = Math.ceil(NODES / VILLAGES)
  for (let i = 0; i < NODES; i++) {
    const v = Math.floor(i / perVillage)
    const j = i % perVillage
    // Of 30: 24 soil nodes, 2 weather stations, 4 dendrometers.
    const kind: Kind =
      j < perVillage * 0.8 ? 'soil' : j < perVillage * (0.8 + 1 / 15) ? 'weather' : 'dendrometer'
    nodes.push({
      id: `desa${v}-${kind === 'soil' ? 'sawah' : kind === 'weather' ? 'cuaca' : 'pohon'}${j}`,
      village: `desa${v}`,
      kind,
      lat: -8.2 - v * 0.03 + j * 0.0005,
      lon: 114.3 + v * 0.03 + j * 0.0005,
      phase: (i * 0.37) % 1,
    })
  }
  return nodes
}

/** A node's report at time t (synthetic: diurnal cycles, slow drying, rain showers). */
function report(n: SimNode, t: number, out: Reading[]): void {
  const dayFrac = ((t + 7 * HOUR_MS) % DAY_MS) / DAY_MS // local time in Banyuwangi (UTC+7)
  const diurnal = Math.sin(2 * Math.PI * (dayFrac - 0.3))
  const day = Math.floor(t / DAY_MS)
  const r = (quantity: Reading['quantity'], sensor: string, value: number) =>
    out.push({
      timeMs: t,
      village: n.village,
      device: n.id,
      sensor,
      quantity,
      value: Math.round(value * 100) / 100,
    })
  const battery = 3.6 + 0.4 * ((t / (7 * DAY_MS) + n.phase) % 1)
  if (n.kind === 'soil') {
    r('soil_moisture', 'soil1', 18 + 15 * ((day * 0.13 + n.phase) % 1) - 2 * diurnal)
    r('soil_temperature', 'soil1', 27 + 3 * diurnal)
    r('battery_voltage', 'main', battery)
    r('signal_strength', 'radio', -80 - 15 * n.phase)
  } else if (n.kind === 'weather') {
    const raining = (day * 7 + Math.floor(dayFrac * 24)) % 23 < 2
    r('air_temperature', 'bme280', 27 + 5 * diurnal)
    r('relative_humidity', 'bme280', 75 - 15 * diurnal)
    r('pressure', 'bme280', 1009 + diurnal)
    r('rainfall', 'gauge', raining ? 1.2 : 0)
    r('wind_speed', 'anemometer', 2 + 1.5 * Math.max(0, diurnal))
    r('solar_radiation', 'pyranometer', Math.max(0, 900 * diurnal))
    r('battery_voltage', 'main', battery)
  } else {
    r('stem_diameter', 'dendro', 80_000 + ((t - Date.UTC(2026, 0, 1)) / DAY_MS) * 20 - 30 * diurnal)
    r('battery_voltage', 'main', battery)
  }
  if (t % HOUR_MS === 0) {
    r('latitude', 'gps', n.lat)
    r('longitude', 'gps', n.lon)
  }
}

/** One series' hourly aggregate in the making, as the CQ's mean/min/max compute it. */
interface HourAgg {
  series: string
  sum: number
  count: number
  min: number
  max: number
}

/** The rp_1h line the continuous query writes for one series and hour (fields value, min, max, sum). */
const hourLine = (a: HourAgg, hourMs: number) =>
  `${a.series} value=${formatFloat(a.sum / a.count)},min=${formatFloat(a.min)},max=${formatFloat(a.max)},sum=${formatFloat(a.sum)} ${hourMs}`

/**
 * One series' daily aggregate in the making, as the daily CQ computes it from the hourly points:
 * the mean of the hourly means (summed in time order), min of the minima, max of the maxima, sum
 * of the sums.
 */
interface DayAgg {
  series: string
  sumOfMeans: number
  hours: number
  min: number
  max: number
  sum: number
}

const addHour = (days: Map<string, DayAgg>, a: HourAgg) => {
  const d = days.get(a.series)
  if (d === undefined)
    days.set(a.series, {
      series: a.series,
      sumOfMeans: a.sum / a.count,
      hours: 1,
      min: a.min,
      max: a.max,
      sum: a.sum,
    })
  else {
    d.sumOfMeans += a.sum / a.count
    d.hours++
    if (a.min < d.min) d.min = a.min
    if (a.max > d.max) d.max = a.max
    d.sum += a.sum
  }
}

const dayLine = (d: DayAgg, dayMs: number) =>
  `${d.series} value=${formatFloat(d.sumOfMeans / d.hours)},min=${formatFloat(d.min)},max=${formatFloat(d.max)},sum=${formatFloat(d.sum)} ${dayMs}`

/**
 * The readings into `raw`, and for every hour before `cqFromMs` the CQ's hourly mean/min/max/sum of
 * each series into `rp_1h` (computed here in the order the CQ sums, by time); the hours from
 * `cqFromMs` on are left to the continuous query itself and returned, to compare with what it wrote.
 * Likewise the daily CQ's points from those hours into `rp_1d` for every day before
 * `daily.cqFromMs` (days start at `daily.startOfDay(t)`); the hours from there on are returned.
 */
async function load(
  client: InfluxClient,
  nodes: SimNode[],
  fromMs: number,
  toMs: number,
  cqFromMs: number,
  daily: { cqFromMs: number; startOfDay: (t: number) => number },
): Promise<{
  points: number
  hourly: number
  dailyPoints: number
  cqExpected: Map<string, HourAgg & { hourMs: number }>
  recentHours: Array<HourAgg & { hourMs: number }>
}> {
  let points = 0
  let hourly = 0
  let dailyPoints = 0
  const inFlight = new Set<Promise<void>>()
  const send = async (rp: string, body: Buffer | string) => {
    const partial = await client.write({ database: DATABASE, retentionPolicy: rp }, body)
    if (partial) throw new Error(`write to ${rp} refused: ${partial.message}`)
  }
  const queue = async (rp: string, body: Buffer | string) => {
    const p = send(rp, body).finally(() => inFlight.delete(p))
    inFlight.add(p)
    // Two requests in flight: influxd parses one while the next is encoded.
    if (inFlight.size >= 2) await Promise.race(inFlight)
  }
  const readings: Reading[] = []
  const seriesText = new Map<string, string>()
  const seriesOf = (r: Reading) => {
    const key = `${r.device}|${r.quantity}|${r.sensor}`
    let text = seriesText.get(key)
    if (text === undefined) {
      // The store's own encoder gives the series key (measurement and tags) the CQ keeps.
      const line = encodeBody([r]).toString('utf8')
      text = line.slice(0, line.indexOf(' value='))
      seriesText.set(key, text)
    }
    return text
  }
  const hour = new Map<string, HourAgg>()
  let hourStart = Math.floor(fromMs / HOUR_MS) * HOUR_MS
  const cqExpected = new Map<string, HourAgg & { hourMs: number }>()
  const recentHours: Array<HourAgg & { hourMs: number }> = []
  let hourLines: string[] = []
  const day = new Map<string, DayAgg>()
  let dayStart = daily.startOfDay(hourStart)
  let dayLines: string[] = []
  const closeDay = async () => {
    for (const d of day.values()) dayLines.push(dayLine(d, dayStart))
    day.clear()
    if (dayLines.length >= BATCH_LINES) {
      dailyPoints += dayLines.length
      await queue('rp_1d', dayLines.join('\n'))
      dayLines = []
    }
  }
  const closeHour = async () => {
    if (hourStart < daily.cqFromMs && daily.startOfDay(hourStart) !== dayStart) {
      await closeDay()
      dayStart = daily.startOfDay(hourStart)
    }
    for (const a of hour.values()) {
      if (hourStart >= cqFromMs) cqExpected.set(`${a.series} ${hourStart}`, { ...a, hourMs: hourStart })
      else hourLines.push(hourLine(a, hourStart))
      if (hourStart >= daily.cqFromMs) recentHours.push({ ...a, hourMs: hourStart })
      else addHour(day, a)
    }
    hour.clear()
    if (hourLines.length >= BATCH_LINES) {
      hourly += hourLines.length
      await queue('rp_1h', hourLines.join('\n'))
      hourLines = []
    }
  }
  let lastLog = now()
  for (let t = fromMs; t < toMs; t += STEP_MS) {
    if (t >= hourStart + HOUR_MS) {
      await closeHour()
      hourStart = Math.floor(t / HOUR_MS) * HOUR_MS
    }
    const first = readings.length
    for (const n of nodes) report(n, t, readings)
    for (let i = first; i < readings.length; i++) {
      const r = readings[i]!
      const series = seriesOf(r)
      const a = hour.get(series)
      if (a === undefined) hour.set(series, { series, sum: r.value, count: 1, min: r.value, max: r.value })
      else {
        a.sum += r.value
        a.count++
        if (r.value < a.min) a.min = r.value
        if (r.value > a.max) a.max = r.value
      }
    }
    if (readings.length >= BATCH_LINES || t + STEP_MS >= toMs) {
      points += readings.length
      const body = encodeBody(readings)
      readings.length = 0
      await queue('raw', body)
      if (now() - lastLog > 20_000) {
        lastLog = now()
        log(`  ${Math.round((100 * (t - fromMs)) / (toMs - fromMs))} %, ${points} points`)
      }
    }
  }
  await closeHour()
  if (day.size > 0) await closeDay()
  if (hourLines.length > 0) {
    hourly += hourLines.length
    await queue('rp_1h', hourLines.join('\n'))
  }
  if (dayLines.length > 0) {
    dailyPoints += dayLines.length
    await queue('rp_1d', dayLines.join('\n'))
  }
  await Promise.all(inFlight)
  return { points, hourly, dailyPoints, cqExpected, recentHours }
}

/** Alert events, irrigation advice per field and day, and tree assessments every 6 h, in `events`. */
async function loadEvents(
  client: InfluxClient,
  nodes: SimNode[],
  fromMs: number,
  toMs: number,
): Promise<number> {
  const lines: string[] = []
  const rules = ['dry', 'heavy_rain', 'heat', 'battery_low'] as const
  let alertId = 1
  for (const n of nodes.filter((x) => x.kind === 'soil')) {
    const crop = ['rice', 'maize', 'chili'][Math.floor(n.phase * 3)]!
    for (let day = Math.ceil(fromMs / DAY_MS) * DAY_MS; day + DAY_MS <= toMs; day += DAY_MS) {
      const et0 = 4 + 1.5 * Math.sin(day / (17 * DAY_MS) + n.phase)
      const kc = 0.7 + 0.5 * n.phase
      const rain = (day / DAY_MS) % 5 === 0 ? 12 : 0
      lines.push(
        encodeEvent({
          measurement: 'irrigation_advice',
          timeMs: day + 11 * HOUR_MS,
          tags: { crop, field: n.id, village: n.village },
          fields: {
            et0_mm: et0,
            kc,
            etc_mm: et0 * kc,
            rain_mm: rain,
            rain_eff_mm: rain * 0.8,
            need_mm: Math.max(0, et0 * kc - rain * 0.8),
            litres: Math.max(0, et0 * kc - rain * 0.8) * 2_500,
          },
        }),
      )
      // An alert about every 15 days per field, resolved a day later (the last may stay active).
      if (((day / DAY_MS) * 7 + Math.floor(n.phase * 100)) % 15 === 0) {
        const rule = rules[alertId % rules.length]!
        const tags = { field: n.id, rule, severity: 'warning', village: n.village }
        lines.push(
          encodeEvent({
            measurement: 'alert_events',
            timeMs: day + 9 * HOUR_MS,
            tags: { ...tags, state: 'firing' },
            fields: { alert_id: alertId, value: 17, message: 'Sawah kering: 17 %VWC' },
          }),
        )
        if (day + 2 * DAY_MS <= toMs)
          lines.push(
            encodeEvent({
              measurement: 'alert_events',
              timeMs: day + DAY_MS + 9 * HOUR_MS,
              tags: { ...tags, state: 'resolved' },
              fields: { alert_id: alertId, value: 24, message: 'Sawah sudah basah lagi' },
            }),
          )
        alertId++
      }
    }
  }
  for (const n of nodes.filter((x) => x.kind === 'dendrometer')) {
    for (let t = Math.ceil(fromMs / (6 * HOUR_MS)) * 6 * HOUR_MS, k = 0; t < toMs; t += 6 * HOUR_MS, k++) {
      const gro = k * 5
      lines.push(
        encodeAssessment({
          timeMs: t,
          village: n.village,
          tree: `tree-${n.id}`,
          device: n.id,
          species: 'swietenia_macrophylla',
          state: TREE_STATES[k < 40 ? 0 : 1]!,
          groUm: gro,
          twdUm: 20 + 10 * n.phase,
          progressPct: Math.min(100, k / 3),
          diameterMm: 60 + gro / 1000,
          growthUmPerDay7d: 20,
          dailyAmplitudeUm: 60,
          daysObserved: k / 4,
          o2Kg: n.phase > 0.5 ? 1 + k / 100 : null,
          o2KgRough: n.phase > 0.5 ? null : 0.2 + k / 500,
        }),
      )
    }
  }
  for (let i = 0; i < lines.length; i += BATCH_LINES) {
    const partial = await client.write(
      { database: DATABASE, retentionPolicy: 'events' },
      lines.slice(i, i + BATCH_LINES).join('\n'),
    )
    if (partial) throw new Error(`events write refused: ${partial.message}`)
  }
  return lines.length
}

interface Series {
  name: string
  tags?: Record<string, string>
  columns: string[]
  values: unknown[][]
}

/** A series' key as line protocol writes it (measurement, tags sorted by key; our ids need no escape). */
function seriesKey(s: Series): string {
  const tags = Object.entries(s.tags ?? {})
    .filter(([, v]) => v !== '')
    .sort(([a], [b]) => (a < b ? -1 : 1))
  return [s.name, ...tags.map(([k, v]) => `${k}=${v}`)].join(',')
}

/**
 * rp_1h or rp_1d rows (GROUP BY *) against the expected aggregates by `<series> <timeMs>`: the same
 * set of series-hours (-days), min and max exact, means and sums within 1e-12 relative (InfluxDB may
 * sum a shard's points before dividing, or divide first). Throws on any difference.
 */
function compareAggregates(
  policy: string,
  rows: Series[],
  expected: Map<string, { mean: number; sum: number; min: number; max: number }>,
): { compared: number; maxRelDiff: number } {
  let compared = 0
  let maxRelDiff = 0
  const seen = new Set<string>()
  for (const s of rows) {
    const [iTime, iValue, iMin, iMax, iSum] = ['time', 'value', 'min', 'max', 'sum'].map((c) =>
      s.columns.indexOf(c),
    )
    for (const row of s.values) {
      const key = `${seriesKey(s)} ${row[iTime!]}`
      const e = expected.get(key)
      if (!e) throw new Error(`${policy} has ${key}, not expected`)
      seen.add(key)
      const relative = (got: unknown, want: number) =>
        Math.abs(Number(got) - want) / Math.max(1e-300, Math.abs(want))
      const rel = Math.max(
        relative(row[iValue!], e.mean),
        e.sum === 0 ? Math.abs(Number(row[iSum!])) : relative(row[iSum!], e.sum),
      )
      if (rel > 1e-12 || Number(row[iMin!]) !== e.min || Number(row[iMax!]) !== e.max)
        throw new Error(
          `${policy} ${key}: value/min/max/sum ${row[iValue!]}/${row[iMin!]}/${row[iMax!]}/${row[iSum!]}, expected ${e.mean}/${e.min}/${e.max}/${e.sum}`,
        )
      maxRelDiff = Math.max(maxRelDiff, rel)
      compared++
    }
  }
  if (seen.size !== expected.size)
    throw new Error(`${policy} lacks ${expected.size - seen.size} of ${expected.size} expected points`)
  return { compared, maxRelDiff }
}

/** A CQ SELECT's rows (without INTO, GROUP BY *) as compareAggregates() expects them. */
function expectedFrom(rows: Series[]): Map<string, { mean: number; sum: number; min: number; max: number }> {
  const expected = new Map<string, { mean: number; sum: number; min: number; max: number }>()
  for (const s of rows) {
    const [iTime, iValue, iMin, iMax, iSum] = ['time', 'value', 'min', 'max', 'sum'].map((c) =>
      s.columns.indexOf(c),
    )
    for (const row of s.values)
      expected.set(`${seriesKey(s)} ${row[iTime!]}`, {
        mean: Number(row[iValue!]),
        sum: Number(row[iSum!]),
        min: Number(row[iMin!]),
        max: Number(row[iMax!]),
      })
  }
  return expected
}

async function run(url: string, q: string): Promise<Series[]> {
  // As Grafana's backend asks: the datasource's URL and database, epoch=ms.
  const res = await fetch(`${url}/query`, {
    method: 'POST',
    body: new URLSearchParams({ db: DATABASE, epoch: 'ms', q }),
  })
  const body = (await res.json()) as { error?: string; results: Array<{ error?: string; series?: Series[] }> }
  if (res.status !== 200 || body.error || body.results[0]?.error)
    throw new Error(`InfluxDB refused ${q}: ${body.error ?? body.results[0]?.error}`)
  return body.results[0]?.series ?? []
}

interface DashboardJson {
  uid: string
  title: string
  panels?: Panel[]
  templating?: { list: Array<Record<string, unknown>> }
}

interface Timed {
  dashboard: string
  panel: string
  refId: string
  range: string
  /** Retention policies the query reads (`rp.measurement`, subqueries included). */
  reads: string[]
  /** What the dashboard's `$rp` chose for this range. */
  rp: string
  /** Why a target that reads raw does (its panel's description). */
  why?: string
  intervalMs: number
  runs: number
  firstMs: number
  p50Ms: number
  p95Ms: number
  maxMs: number
  /** influxd CPU ms per timed run (its /proc stat before and after the runs, over the runs). */
  influxdCpuMsPerRun: number
  rows: number
  query: string
}

async function main(): Promise<void> {
  const started = now()
  const loadBefore = os.loadavg()
  const influx = await startInfluxd()
  try {
    const toMs = Math.floor(Date.now() / STEP_MS) * STEP_MS
    // An hour inside the raw policy's 90 days, so its retention check drops nothing during the run.
    const fromMs = toMs - DAYS * DAY_MS + HOUR_MS
    const store = new InfluxStore({ url: influx.url, database: DATABASE })
    await store.start()
    const sink = new InfluxAssessmentSink({ url: influx.url, database: DATABASE })
    await sink.start()
    await sink.stop()
    const [cq, dailyCq] = store.continuousQueries()
    await store.stop()
    if (!cq || !dailyCq) throw new Error('the store has no hourly and daily continuous queries')

    const client = new InfluxClient({ url: influx.url, requestTimeoutMs: 600_000 })
    const nodes = district()
    log(
      `loading ${DAYS} days of ${nodes.length} nodes (${nodes.filter((n) => n.kind === 'soil').length} soil, ${nodes.filter((n) => n.kind === 'weather').length} weather, ${nodes.filter((n) => n.kind === 'dendrometer').length} dendrometers) every 5 min`,
    )
    const select = /BEGIN (.*) END$/.exec(cq.statement)?.[1]
    if (!select || !/ INTO \S+ /.test(select) || !/ GROUP BY /.test(select))
      throw new Error(`unexpected CQ statement: ${cq.statement}`)
    // The hours the continuous query itself computes; the older ones are written by the loader.
    const currentHourMs = Math.floor(toMs / HOUR_MS) * HOUR_MS
    const cqFromMs = currentHourMs - CQ_HOURS * HOUR_MS
    // The daily CQ's days: GROUP BY time(1d, <offset>) (local midnight), from its own statement.
    const dailySelect = /BEGIN (.*) END$/.exec(dailyCq.statement)?.[1]
    const dayOffset = /GROUP BY time\(1d(?:, (\d+)h)?\)/.exec(dailySelect ?? '')
    if (!dailySelect || !dayOffset || !/ INTO \S+ /.test(dailySelect))
      throw new Error(`unexpected daily CQ statement: ${dailyCq.statement}`)
    const dayOffsetMs = Number(dayOffset[1] ?? 0) * HOUR_MS
    const startOfDay = (t: number) => Math.floor((t - dayOffsetMs) / DAY_MS) * DAY_MS + dayOffsetMs
    // RESAMPLE … FOR 2d: the daily CQ rewrites the day in progress and the one before; the loader
    // writes the days before those.
    const currentDayMs = startOfDay(currentHourMs)
    const dailyCqFromMs = currentDayMs - DAY_MS
    const cpu0 = cpuSeconds(influx.pid)
    const loadStart = now()
    const { points, hourly, dailyPoints, cqExpected, recentHours } = await load(
      client,
      nodes,
      fromMs,
      toMs,
      cqFromMs,
      { cqFromMs: dailyCqFromMs, startOfDay },
    )
    const events = await loadEvents(client, nodes, fromMs, toMs)
    const loadSeconds = (now() - loadStart) / 1000
    const loadCpu = cpuSeconds(influx.pid) - cpu0
    log(
      `loaded ${points} readings, ${hourly} rp_1h points before the last ${CQ_HOURS} h, ${dailyPoints} rp_1d points before yesterday and ${events} events in ${loadSeconds.toFixed(0)} s (${Math.round(points / loadSeconds)} readings/s)`,
    )

    // The continuous query over the last hours: the store's own statement, run by influxd's CQ
    // service. As created it runs once an hour for the hour that just ended; a copy of it with
    // RESAMPLE runs at once over the last CQ_HOURS hours, then is dropped.
    const cqStart = now()
    const benchCq = `${cq.name}_bench`
    // RESAMPLE FOR reaches back from the hour in progress when it runs (the load may have crossed
    // an hour), one more for an hour boundary passing before its first run.
    const forHours = (Math.floor(Date.now() / HOUR_MS) * HOUR_MS - cqFromMs) / HOUR_MS + 2
    await client.query(
      cq.statement.replace(
        /^CREATE CONTINUOUS QUERY "[^"]+" (ON "[^"]+") BEGIN /,
        `CREATE CONTINUOUS QUERY "${benchCq}" $1 RESAMPLE EVERY 10s FOR ${forHours}h BEGIN `,
      ),
      { database: DATABASE },
    )
    const complete = [...cqExpected.values()].filter((x) => x.hourMs < currentHourMs)
    const window = `time >= ${cqFromMs}ms AND time < ${currentHourMs}ms`
    let cqPoints = 0
    while (cqPoints < complete.length) {
      if (now() - cqStart > 180_000)
        throw new Error(`the continuous query wrote ${cqPoints} of ${complete.length} rp_1h points in 180 s`)
      await new Promise((r) => setTimeout(r, 2_000))
      cqPoints = (await run(influx.url, `SELECT count("value") FROM "rp_1h"./.*/ WHERE ${window}`)).reduce(
        (n, s) => n + Number(s.values[0]?.[1] ?? 0),
        0,
      )
    }
    await client.query(`DROP CONTINUOUS QUERY "${benchCq}" ON "${DATABASE}"`)
    const cqSeconds = (now() - cqStart) / 1000
    // What the CQ wrote = what the loader computed for those hours (the loader's arithmetic checked).
    const cqCheck = compareAggregates(
      'rp_1h',
      await run(
        influx.url,
        `SELECT "value", "min", "max", "sum" FROM "rp_1h"./.*/ WHERE ${window} GROUP BY *`,
      ),
      new Map(
        complete.map((x) => [
          `${x.series} ${x.hourMs}`,
          { mean: x.sum / x.count, sum: x.sum, min: x.min, max: x.max },
        ]),
      ),
    )
    log(
      `continuous query: ${cqPoints} rp_1h points for the last ${CQ_HOURS} h in ${cqSeconds.toFixed(0)} s, equal to the loader's (max relative difference of means and sums ${cqCheck.maxRelDiff})`,
    )
    // And the loader's history = what the CQ's SELECT answers, on sample hours across the range.
    const selectOnly = select.replace(/ INTO \S+ /, ' ')
    const sampleHours = [1, 30, 60, DAYS - 1].map((d) => currentHourMs - d * DAY_MS + 5 * HOUR_MS)
    let sampled = 0
    let sampleMaxRelDiff = 0
    for (const h of sampleHours) {
      const w = `time >= ${h}ms AND time < ${h + HOUR_MS}ms`
      const fromCq = await run(influx.url, selectOnly.replace(' GROUP BY ', ` WHERE ${w} GROUP BY `))
      if (h >= fromMs && fromCq.length === 0) throw new Error(`the CQ's SELECT found nothing at ${w}`)
      const expected = expectedFrom(fromCq)
      const c = compareAggregates(
        'rp_1h',
        await run(influx.url, `SELECT "value", "min", "max", "sum" FROM "rp_1h"./.*/ WHERE ${w} GROUP BY *`),
        expected,
      )
      sampled += c.compared
      sampleMaxRelDiff = Math.max(sampleMaxRelDiff, c.maxRelDiff)
    }
    log(
      `rp_1h history = the CQ's SELECT on ${sampled} series-hours in ${sampleHours.length} sample hours (max relative difference of means and sums ${sampleMaxRelDiff})`,
    )
    const rp1hCount = await run(influx.url, `SELECT count("value") FROM "rp_1h"."soil_moisture"`)

    // rp_1d: the daily CQ itself for yesterday and today so far (a copy of the store's statement,
    // RESAMPLE EVERY 10s instead of every hour, FOR 2d as created), equal to the loader's days
    // from its hours; the older days written by the loader, checked against the daily CQ's SELECT.
    const dailyStart = now()
    const lastHourInRp1h =
      (await run(influx.url, `SELECT count("value") FROM "rp_1h"./.*/ WHERE time >= ${currentHourMs}ms`))
        .length > 0
        ? currentHourMs
        : currentHourMs - HOUR_MS
    const dailyExpected = new Map<string, DayAgg & { dayMs: number }>()
    for (const a of recentHours) {
      if (a.hourMs > lastHourInRp1h) continue
      const dayMs = startOfDay(a.hourMs)
      const days = new Map<string, DayAgg>()
      const known = dailyExpected.get(`${a.series} ${dayMs}`)
      if (known) days.set(a.series, known)
      addHour(days, a)
      dailyExpected.set(`${a.series} ${dayMs}`, { ...days.get(a.series)!, dayMs })
    }
    const benchDailyCq = `${dailyCq.name}_bench`
    await client.query(
      dailyCq.statement
        .replace(/^CREATE CONTINUOUS QUERY "[^"]+"/, `CREATE CONTINUOUS QUERY "${benchDailyCq}"`)
        .replace(/ RESAMPLE EVERY \S+ FOR /, ' RESAMPLE EVERY 10s FOR '),
      { database: DATABASE },
    )
    const dailyWindow = `time >= ${dailyCqFromMs}ms`
    let dailyCqPoints = 0
    while (dailyCqPoints < dailyExpected.size) {
      if (now() - dailyStart > 180_000)
        throw new Error(
          `the daily continuous query wrote ${dailyCqPoints} of ${dailyExpected.size} rp_1d points in 180 s`,
        )
      await new Promise((r) => setTimeout(r, 2_000))
      dailyCqPoints = (
        await run(influx.url, `SELECT count("value") FROM "rp_1d"./.*/ WHERE ${dailyWindow}`)
      ).reduce((n, s) => n + Number(s.values[0]?.[1] ?? 0), 0)
    }
    await client.query(`DROP CONTINUOUS QUERY "${benchDailyCq}" ON "${DATABASE}"`)
    const dailyCqSeconds = (now() - dailyStart) / 1000
    const dailyCqCheck = compareAggregates(
      'rp_1d',
      await run(
        influx.url,
        `SELECT "value", "min", "max", "sum" FROM "rp_1d"./.*/ WHERE ${dailyWindow} GROUP BY *`,
      ),
      new Map(
        [...dailyExpected.values()].map((d) => [
          `${d.series} ${d.dayMs}`,
          { mean: d.sumOfMeans / d.hours, sum: d.sum, min: d.min, max: d.max },
        ]),
      ),
    )
    log(
      `daily continuous query: ${dailyCqPoints} rp_1d points for yesterday and today in ${dailyCqSeconds.toFixed(0)} s, equal to the loader's (max relative difference of means and sums ${dailyCqCheck.maxRelDiff})`,
    )
    const dailySelectOnly = dailySelect.replace(/ INTO \S+ /, ' ')
    const sampleDays = [2, 30, 60, DAYS - 1].map((d) => currentDayMs - d * DAY_MS)
    let sampledDays = 0
    let sampleDaysMaxRelDiff = 0
    for (const d of sampleDays) {
      const w = `time >= ${d}ms AND time < ${d + DAY_MS}ms`
      const fromCq = await run(influx.url, dailySelectOnly.replace(' GROUP BY ', ` WHERE ${w} GROUP BY `))
      if (d >= fromMs && fromCq.length === 0) throw new Error(`the daily CQ's SELECT found nothing at ${w}`)
      const c = compareAggregates(
        'rp_1d',
        await run(influx.url, `SELECT "value", "min", "max", "sum" FROM "rp_1d"./.*/ WHERE ${w} GROUP BY *`),
        expectedFrom(fromCq),
      )
      sampledDays += c.compared
      sampleDaysMaxRelDiff = Math.max(sampleDaysMaxRelDiff, c.maxRelDiff)
    }
    log(
      `rp_1d history = the daily CQ's SELECT on ${sampledDays} series-days in ${sampleDays.length} sample days (max relative difference of means and sums ${sampleDaysMaxRelDiff})`,
    )

    const holdS = Number(process.env.BENCH_OFFICER_HOLD_S ?? 0)
    if (holdS > 0) {
      // For trying queries by hand on the loaded district before the timing starts.
      log(`holding: influxd at ${influx.url} (database ${DATABASE}) for ${holdS} s (BENCH_OFFICER_HOLD_S)`)
      await new Promise((r) => setTimeout(r, holdS * 1000))
    }

    // --- every panel target, per range ---
    const dashboards = readdirSync(GENERATED_DIR)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map(
        (f) => [f, JSON.parse(readFileSync(path.join(GENERATED_DIR, f), 'utf8')) as DashboardJson] as const,
      )
    const timed: Timed[] = []
    const opened: Array<{ dashboard: string; range: string; targets: number; p50Ms: number; maxMs: number }> =
      []
    const notExecuted: string[] = []
    for (const [file, d] of dashboards) {
      for (const range of RANGES) {
        const span = { fromMs: toMs - range.ms, toMs }
        const vars: Record<string, VariableState> = {}
        const ctx = (overrides: Partial<ExpandContext> = {}): ExpandContext => ({
          ...span,
          intervalMs: intervalFor(range.ms, MAX_DATA_POINTS, DATASOURCE_MIN_INTERVAL),
          variables: vars,
          ...overrides,
        })
        for (const v of d.templating?.list ?? []) {
          const series = await run(influx.url, expand(v.query as string, ctx()))
          const values = variableValues(series)
          if (values.length === 0) throw new Error(`${file} $${v.name}: no options`)
          const multi = v.multi === true
          vars[v.name as string] = {
            multi,
            includeAll: v.includeAll === true,
            allValue: v.allValue as string | undefined,
            value: multi && v.includeAll === true ? { all: true } : values[0]!,
          }
        }
        const texts: string[] = []
        for (const panel of allPanels(d)) {
          for (const target of panel.targets ?? []) {
            const ds = target.datasource ?? panel.datasource
            if (ds?.type === 'prometheus') {
              if (range === RANGES[0]) notExecuted.push(`${file} "${panel.title}" ${target.refId}: PromQL`)
              continue
            }
            const fromMs = panel.timeFrom ? toMs - Number.parseInt(panel.timeFrom, 10) * DAY_MS : span.fromMs
            const intervalMs = intervalFor(
              toMs - fromMs,
              // Grafana takes the panel's own maxDataPoints instead of its width where it has one.
              panel.maxDataPoints ?? MAX_DATA_POINTS,
              panel.interval ?? DATASOURCE_MIN_INTERVAL,
            )
            const text = expand(target.query as string, ctx({ fromMs, intervalMs }))
            texts.push(text)
            const t0 = now()
            const first = await run(influx.url, text)
            const firstMs = now() - t0
            const times: number[] = []
            const budgetStart = now()
            const cpuBefore = cpuSeconds(influx.pid)
            while (times.length < RUNS && (times.length < 3 || now() - budgetStart < QUERY_BUDGET_MS)) {
              const t = now()
              await run(influx.url, text)
              times.push(now() - t)
            }
            // influxd's CPU per run: what the machine's load does not change (10 ms clock ticks).
            const cpuMsPerRun = ((cpuSeconds(influx.pid) - cpuBefore) * 1000) / times.length
            times.sort((a, b) => a - b)
            const reads = [
              ...new Set([...text.matchAll(/FROM "(\w+)"\."(\w+)"/g)].map((m) => `${m[1]}.${m[2]}`)),
            ]
            const item: Timed = {
              dashboard: file.replace(/\.json$/, ''),
              panel: panel.title,
              refId: target.refId,
              range: range.name,
              reads,
              rp: (vars.rp?.value as string | undefined) ?? '(no $rp)',
              ...(reads.some((r) => r.startsWith('raw.'))
                ? { why: panel.description ?? '(no description)' }
                : {}),
              intervalMs,
              runs: times.length,
              firstMs: round1(firstMs),
              p50Ms: round1(percentile(times, 50)),
              p95Ms: round1(percentile(times, 95)),
              maxMs: round1(times[times.length - 1]!),
              influxdCpuMsPerRun: round1(cpuMsPerRun),
              rows: first.reduce((n, s) => n + s.values.length, 0),
              query: text,
            }
            timed.push(item)
            log(
              `${file} ${range.name} "${panel.title}" ${target.refId}: p50 ${item.p50Ms} ms, p95 ${item.p95Ms} ms, influxd ${item.influxdCpuMsPerRun} CPU ms (${reads.join(', ')})`,
            )
          }
        }
        // The dashboard opening: all its targets at once, as Grafana sends them.
        const wholes: number[] = []
        for (let i = 0; i < Math.min(RUNS, 5); i++) {
          const t = now()
          await Promise.all(texts.map((q) => run(influx.url, q)))
          wholes.push(now() - t)
        }
        wholes.sort((a, b) => a - b)
        opened.push({
          dashboard: file.replace(/\.json$/, ''),
          range: range.name,
          targets: texts.length,
          p50Ms: round1(percentile(wholes, 50)),
          maxMs: round1(wholes[wholes.length - 1]!),
        })
      }
    }
    client.close()

    const longest = RANGES[RANGES.length - 1]!.name
    const rawAtLongest = timed.filter((t) => t.range === longest && t.reads.some((r) => r.startsWith('raw.')))
    const policyByRange = Object.fromEntries(
      RANGES.map((r) => [r.name, [...new Set(timed.filter((t) => t.range === r.name).map((t) => t.rp))]]),
    )
    const result = {
      name: 'officer',
      date: new Date().toISOString(),
      machine: machine(),
      loadAverage: { before: loadBefore.map(round1), after: os.loadavg().map(round1) },
      runSeconds: Math.round((now() - started) / 1000),
      setup: {
        nodes: nodes.length,
        villages: VILLAGES,
        soil: nodes.filter((n) => n.kind === 'soil').length,
        weather: nodes.filter((n) => n.kind === 'weather').length,
        dendrometers: nodes.filter((n) => n.kind === 'dendrometer').length,
        days: DAYS,
        reportEveryMin: STEP_MS / 60_000,
        from: new Date(fromMs).toISOString(),
        to: new Date(toMs).toISOString(),
        variables: 'single-value: the first option (first village, its first field/device); multi-value: All',
        maxDataPoints: MAX_DATA_POINTS,
        runsPerQuery: `${RUNS} after one untimed warm-up (at most ${QUERY_BUDGET_MS / 1000} s per query and range, at least 3); p95 of 10 runs is the slowest`,
      },
      load: {
        readings: points,
        events,
        seconds: Math.round(loadSeconds),
        pointsPerS: Math.round(points / loadSeconds),
        influxdCpuS: Math.round(loadCpu),
      },
      rp1h: {
        continuousQuery: cq.statement,
        loadedBeforeLastHours: hourly,
        cqHours: CQ_HOURS,
        cqPoints,
        cqSeconds: Math.round(cqSeconds),
        cqMaxRelDiffOfMeans: cqCheck.maxRelDiff,
        sampleHours: sampleHours.map((h) => new Date(h).toISOString()),
        sampleSeriesHours: sampled,
        sampleMaxRelDiffOfMeans: sampleMaxRelDiff,
        soilMoisturePoints: Number(rp1hCount[0]?.values[0]?.[1] ?? 0),
      },
      rp1d: {
        continuousQuery: dailyCq.statement,
        loadedBeforeYesterday: dailyPoints,
        cqPoints: dailyCqPoints,
        cqSeconds: Math.round(dailyCqSeconds),
        cqMaxRelDiffOfMeans: dailyCqCheck.maxRelDiff,
        sampleDays: sampleDays.map((d) => new Date(d).toISOString()),
        sampleSeriesDays: sampledDays,
        sampleMaxRelDiffOfMeans: sampleDaysMaxRelDiff,
      },
      queries: timed,
      dashboardsOpened: opened,
      notExecuted,
      findings: {
        rangePolicy: policyByRange,
        targetsReadingRawAtLongestRange: rawAtLongest.map((t) => ({
          target: `${t.dashboard} "${t.panel}" ${t.refId}`,
          why: t.why,
        })),
        slowestAtLongestRangeP95Ms: Math.max(...timed.filter((t) => t.range === longest).map((t) => t.p95Ms)),
        everyPanelP95Below1sAtLongest: timed.filter((t) => t.range === longest).every((t) => t.p95Ms < 1000),
      },
    }
    const dir = path.join(import.meta.dirname, 'results')
    writeFileSync(path.join(dir, 'officer.json'), `${JSON.stringify(result, null, 2)}\n`)
    const byTarget = new Map<string, Timed[]>()
    for (const t of timed) {
      const key = `${t.dashboard}|${t.panel}|${t.refId}`
      byTarget.set(key, [...(byTarget.get(key) ?? []), t])
    }
    const m = result.machine
    const md = [
      `# Officer's view: dashboard queries over ${DAYS} days (${result.date})`,
      '',
      `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.influxd}. Load average before / after: ${result.loadAverage.before.join(' ')} / ${result.loadAverage.after.join(' ')} (2 cores shared with other work). Run time ${result.runSeconds} s.`,
      '',
      `Data: ${nodes.length} nodes in ${VILLAGES} villages (${result.setup.soil} soil nodes, ${result.setup.weather} weather stations, ${result.setup.dendrometers} dendrometers), a report every 5 min for ${DAYS} days (${result.setup.from} → ${result.setup.to}), positions hourly: **${points} readings** in \`raw\`, written as line protocol by the store's encoder through its InfluxClient in ${result.load.seconds} s (${result.load.pointsPerS} points/s, influxd ${result.load.influxdCpuS} CPU s); ${events} alert events, irrigation advice and tree assessments in \`events\` (synthetic values, the writers' encoders).`,
      '',
      `\`rp_1h\` (the store's continuous query \`${cq.statement}\`): for the ${CQ_HOURS} h before the current hour the **continuous query itself** wrote it (influxd's CQ service running a copy of the store's statement with \`RESAMPLE EVERY 10s FOR ${forHours}h\` from the hour it ran in, dropped afterwards): ${cqPoints} points in ${result.rp1h.cqSeconds} s, equal to the loader's own hourly mean/min/max/sum of those hours (means and sums within ${cqCheck.maxRelDiff} relative, min/max exact). The history before that (${hourly} points) was computed by the loader from the readings it generated, in the CQ's order, and written with them; checked against the CQ's SELECT (without INTO) on ${sampled} series-hours in ${sampleHours.length} sample hours (${sampleHours.map((h) => new Date(h).toISOString().slice(0, 13)).join(', ')}): equal (means and sums within ${sampleMaxRelDiff} relative, min/max exact).`,
      '',
      `\`rp_1d\` (the store's daily continuous query \`${dailyCq.statement}\`, days from local midnight): for yesterday and today so far the **daily continuous query itself** wrote it (a copy with \`RESAMPLE EVERY 10s FOR 2d\`, dropped afterwards): ${dailyCqPoints} points in ${result.rp1d.cqSeconds} s, equal to the loader's days computed from its hourly aggregates (means and sums within ${dailyCqCheck.maxRelDiff} relative, min/max exact). The days before (${dailyPoints} points) were computed by the loader the same way and written with the readings; checked against the daily CQ's SELECT on ${sampledDays} series-days in ${sampleDays.length} sample days (${sampleDays.map((d) => new Date(d).toISOString().slice(0, 13)).join(', ')}): equal (within ${sampleDaysMaxRelDiff} relative, min/max exact).`,
      '',
      `Retention policy chosen by the dashboards' \`$rp\` (rp_config written by the store's start()): ${RANGES.map((r) => `${r.name} → ${policyByRange[r.name]!.join(', ')}`).join('; ')}.`,
      '',
      `Each target: Grafana's macros and variables expanded (tests/dashboards/grafana.ts; maxDataPoints ${MAX_DATA_POINTS}; single-value variables the first village/field/device, multi-value All), one untimed run, then up to ${RUNS} timed runs in a row (fewer, at least 3, where they take over ${QUERY_BUDGET_MS / 1000} s; p95 of 10 or fewer runs is the slowest). Wall-clock times follow the machine's load; influxd's CPU per run (from its /proc stat over the timed runs, 10 ms ticks) does not. Range ends now. "reads" is the retention policy and measurement of its FROM (\`a → b\`: a at the short ranges, b at the long ones).`,
      '',
      `| dashboard | panel | ref | reads | ${RANGES.map((r) => `${r.name} p50 / p95 ms`).join(' | ')} | influxd CPU ms per run at ${longest} | rows at ${longest} |`,
      `|---|---|---|---|${RANGES.map(() => '---|').join('')}---|---|`,
      ...[...byTarget.values()].map((ts) => {
        const t0 = ts[0]!
        const cells = RANGES.map((r) => {
          const t = ts.find((x) => x.range === r.name)
          if (!t) return '–'
          const text = `${t.p50Ms} / ${t.p95Ms}`
          return t.p95Ms >= 1000 ? `**${text}**` : text
        })
        const last = ts.find((x) => x.range === longest)
        const reads = [...new Set(ts.map((t) => t.reads.join(', ')))].join(' → ')
        return `| ${t0.dashboard} | ${t0.panel} | ${t0.refId} | ${reads} | ${cells.join(' | ')} | ${last?.influxdCpuMsPerRun ?? ''} | ${last?.rows ?? ''} |`
      }),
      '',
      'Whole dashboard opening (all its targets sent at once, as Grafana does), p50 / slowest of 5, ms:',
      '',
      `| dashboard | targets | ${RANGES.map((r) => r.name).join(' | ')} |`,
      `|---|---|${RANGES.map(() => '---|').join('')}`,
      ...dashboards.map(([file]) => {
        const name = file.replace(/\.json$/, '')
        const rows = opened.filter((o) => o.dashboard === name)
        return `| ${name} | ${rows[0]?.targets ?? 0} | ${RANGES.map((r) => {
          const o = rows.find((x) => x.range === r.name)
          return o ? `${o.p50Ms} / ${o.maxMs}` : '–'
        }).join(' | ')} |`
      }),
      '',
      `Not executed (no Prometheus here): ${notExecuted.join('; ') || 'none'}.`,
      '',
      `**At ${longest}, ${rawAtLongest.length} of ${timed.filter((t) => t.range === longest).length} targets read the raw policy**, each saying why:`,
      '',
      ...[...new Set(rawAtLongest.map((t) => `- ${t.dashboard} "${t.panel}": ${t.why}`))],
      '',
      `Slowest p95 at ${longest}: ${result.findings.slowestAtLongestRangeP95Ms} ms; every panel p95 < 1 s at ${longest}: ${result.findings.everyPanelP95Below1sAtLongest ? 'yes' : '**no**'} (bold cells above are ≥ 1 s).`,
      '',
    ].join('\n')
    writeFileSync(path.join(dir, 'officer.md'), md)
    console.log(md)
  } finally {
    await influx.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
