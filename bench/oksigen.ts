/**
 * Sedekah Oksigen benchmark: dendrometer processing throughput and the cost of one new reading.
 *
 * The target is 10 000 trees × one year of 10-minute readings (≈ 525 M points). That is streamed
 * per tree (no array of readings is ever built) for a subset of BENCH_OKSIGEN_TREES trees (default
 * 200 → 10.5 M pushes) and extrapolated to 10 000. The readings come from a cheap synthetic stem
 * (growth + a daily sinusoid + Gaussian noise from a seeded PRNG, and now and then a spike), not the
 * simulator's StemModel, whose weather and soil physics would cost far more than the processing
 * being measured; generation alone is timed separately and subtracted.
 *
 * The incremental cost: pushes during each tree's first week vs its last week of the year are
 * timed separately; a bounded state keeps them equal.
 *
 * The real series: treenetproc's example series site-1_dendro-1 (tests/fixtures/treenet, 138 770
 * readings over 2.7 years, with the site's air temperature for the frost rule) parsed first, then
 * streamed through one processor BENCH_OKSIGEN_REAL_RUNS times (default 5; the median run counts):
 * readings per second, and the time 10 000 trees × 1 year (52 560 readings each) would take at
 * that rate.
 *
 * Writes bench/results/oksigen.json and oksigen.md. Run: `npx tsx bench/oksigen.ts`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { assessLiveness, DendroProcessor } from '../src/oksigen/dendro/index.ts'

const TREES = Number(process.env.BENCH_OKSIGEN_TREES ?? 200)
const TARGET_TREES = 10_000
const DAYS = 365
const STEP_MS = 10 * 60_000
const DAY_MS = 86_400_000
const PUSHES_PER_DAY = DAY_MS / STEP_MS
const START_MS = Date.parse('2025-01-01T00:00:00+07:00')
const WEEK_PUSHES = 7 * PUSHES_PER_DAY

export interface OksigenBenchResult {
  date: string
  machine: { cpu: string; cores: number; node: string; os: string; loadAverage1m: number }
  trees: number
  daysPerTree: number
  pushes: number
  /** Wall time of processing alone (generation subtracted), s. */
  processSeconds: number
  generateSeconds: number
  pushesPerS: number
  nsPerPushFirstWeek: number
  nsPerPushLastWeek: number
  /** state() + assessLiveness() once per tree at the end of its year, µs. */
  usPerAssessment: number
  snapshotBytesAfterYear: number
  extrapolated10kTreesSeconds: number
  peakRssMb: number
  /** The real series (treenetproc example data) through one processor. */
  realSeries: RealSeriesResult
  notes: string[]
}

export interface RealSeriesResult {
  series: string
  readings: number
  temperatureReadings: number
  runs: number
  /** Median run, s (parsing excluded). */
  seconds: number
  readingsPerS: number
  /** 10 000 trees × 52 560 readings (a year at 10 min) at that rate, one thread, s. */
  projected10kTreesYearSeconds: number
  groUm: number
  jumps: number
  outliers: number
}

const REAL_RUNS = Number(process.env.BENCH_OKSIGEN_REAL_RUNS ?? 5)
const YEAR_READINGS = 52_560

function loadCsv(file: string): Array<{ series: string; timeMs: number; value: number }> {
  const text = gunzipSync(readFileSync(file)).toString('utf8')
  const out: Array<{ series: string; timeMs: number; value: number }> = []
  for (const line of text.trim().split(/\r?\n/).slice(1)) {
    const [series, ts, value] = line.split(',')
    out.push({ series: series!, timeMs: Date.parse(`${ts!.replace(' ', 'T')}Z`), value: Number(value) })
  }
  return out
}

/** treenetproc's example series through the processor: readings per second on real data. */
export function runRealSeries(): RealSeriesResult {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../tests/fixtures/treenet')
  const series = 'site-1_dendro-1'
  const dendro = loadCsv(path.join(dir, 'dendro_L0.csv.gz')).filter((r) => r.series === series)
  const temp = loadCsv(path.join(dir, 'temp_L0.csv.gz'))
  const dT = Float64Array.from(dendro, (r) => r.timeMs)
  const dV = Float64Array.from(dendro, (r) => r.value)
  const tT = Float64Array.from(temp, (r) => r.timeMs)
  const tV = Float64Array.from(temp, (r) => r.value)
  const times: number[] = []
  let last: DendroProcessor | undefined
  for (let run = 0; run < REAL_RUNS + 1; run++) {
    const p = new DendroProcessor({ utcOffsetH: 0 })
    const t0 = process.hrtime.bigint()
    let ti = 0
    for (let i = 0; i < dT.length; i++) {
      const t = dT[i]!
      while (ti < tT.length && tT[ti]! <= t) p.pushTemperature(tT[ti]!, tV[ti++]!)
      p.push(t, dV[i]!)
    }
    const ns = Number(process.hrtime.bigint() - t0)
    if (run > 0) times.push(ns / 1e9) // the first run warms the JIT
    last = p
  }
  times.sort((a, b) => a - b)
  const seconds = times[Math.floor(times.length / 2)]!
  const readingsPerS = dT.length / seconds
  const st = last!.state()
  return {
    series,
    readings: dT.length,
    temperatureReadings: tT.length,
    runs: REAL_RUNS,
    seconds,
    readingsPerS,
    projected10kTreesYearSeconds: (TARGET_TREES * YEAR_READINGS) / readingsPerS,
    groUm: st.groUm,
    jumps: st.jumpsTotal,
    outliers: st.outliersDropped,
  }
}

/** xorshift32 + Box–Muller: a cheap seeded Gaussian. */
function gaussianSource(seed: number): () => number {
  let x = seed >>> 0 || 1
  const u = () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return ((x >>> 0) + 0.5) / 4_294_967_296
  }
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u())
}

/** Reading k of a synthetic tree: ~25 mm/yr growth, a 30 µm daily cycle thinnest mid-afternoon, σ 1 µm. */
function makeTree(seed: number) {
  const g = gaussianSource(seed)
  const baseUm = 15_000 + (seed % 97) * 10
  const growthUmPerStep = (25_000 / 365 / PUSHES_PER_DAY) * (0.8 + (seed % 5) * 0.1)
  const cycleUm = 15
  const cosTable = new Float64Array(PUSHES_PER_DAY)
  for (let i = 0; i < PUSHES_PER_DAY; i++) cosTable[i] = Math.cos(2 * Math.PI * (i / PUSHES_PER_DAY - 4 / 24))
  return (k: number) => {
    const spike = (k * 2_654_435_761 + seed) % 997 === 0 ? 3000 : 0
    return baseUm + growthUmPerStep * k + cycleUm * cosTable[k % PUSHES_PER_DAY]! + g() + spike
  }
}

export async function runOksigenBench(): Promise<OksigenBenchResult> {
  const stepsPerTree = DAYS * PUSHES_PER_DAY
  // Warm-up (JIT) on a few trees, not timed.
  for (let s = 0; s < 3; s++) {
    const p = new DendroProcessor()
    const gen = makeTree(1_000_000 + s)
    for (let k = 0; k < 30 * PUSHES_PER_DAY; k++) p.push(START_MS + k * STEP_MS, gen(k))
  }

  // Generation alone, to subtract.
  let sink = 0
  const g0 = process.hrtime.bigint()
  for (let tree = 0; tree < TREES; tree++) {
    const gen = makeTree(tree + 1)
    for (let k = 0; k < stepsPerTree; k++) sink += gen(k)
  }
  const generateNs = Number(process.hrtime.bigint() - g0)

  let firstWeekNs = 0
  let lastWeekNs = 0
  let assessNs = 0
  let snapshotBytes = 0
  let alive = 0
  const t0 = process.hrtime.bigint()
  for (let tree = 0; tree < TREES; tree++) {
    const gen = makeTree(tree + 1)
    const p = new DendroProcessor()
    let k = 0
    const a = process.hrtime.bigint()
    for (; k < WEEK_PUSHES; k++) p.push(START_MS + k * STEP_MS, gen(k))
    firstWeekNs += Number(process.hrtime.bigint() - a)
    for (; k < stepsPerTree - WEEK_PUSHES; k++) p.push(START_MS + k * STEP_MS, gen(k))
    const b = process.hrtime.bigint()
    for (; k < stepsPerTree; k++) p.push(START_MS + k * STEP_MS, gen(k))
    lastWeekNs += Number(process.hrtime.bigint() - b)
    const c = process.hrtime.bigint()
    const liveness = assessLiveness(p.state())
    assessNs += Number(process.hrtime.bigint() - c)
    if (liveness.alive === true) alive++
    if (tree === 0) snapshotBytes = JSON.stringify(p.snapshot()).length
  }
  const totalNs = Number(process.hrtime.bigint() - t0)
  if (alive !== TREES || sink === 0) throw new Error(`bench sanity: ${alive}/${TREES} synthetic trees alive`)

  const pushes = TREES * stepsPerTree
  const processNs = Math.max(1, totalNs - generateNs)
  const genPerPushNs = generateNs / pushes
  const weekPushes = TREES * WEEK_PUSHES
  const result: OksigenBenchResult = {
    date: new Date().toISOString(),
    machine: {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      node: process.version,
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      loadAverage1m: os.loadavg()[0]!,
    },
    trees: TREES,
    daysPerTree: DAYS,
    pushes,
    processSeconds: processNs / 1e9,
    generateSeconds: generateNs / 1e9,
    pushesPerS: pushes / (processNs / 1e9),
    nsPerPushFirstWeek: firstWeekNs / weekPushes - genPerPushNs,
    nsPerPushLastWeek: lastWeekNs / weekPushes - genPerPushNs,
    usPerAssessment: assessNs / TREES / 1000,
    snapshotBytesAfterYear: snapshotBytes,
    extrapolated10kTreesSeconds: (processNs / 1e9) * (TARGET_TREES / TREES),
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    realSeries: runRealSeries(),
    notes: [
      `${TREES} trees measured, extrapolated linearly to ${TARGET_TREES} (trees are independent; per-tree cost is constant)`,
      'synthetic stem (growth + daily sinusoid + Gaussian noise + 0.1 % spikes), not StemModel: its weather/soil physics would dominate the time',
      'generation time measured in a separate pass and subtracted; per-push figures subtract its mean cost',
      'single thread; trees are independent, so cores scale it',
    ],
  }
  return result
}

function markdown(r: OksigenBenchResult): string {
  const f = (v: number, d = 0) =>
    v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
  return `# Sedekah Oksigen benchmark (dendrometer processing)

${r.date} · ${r.machine.cpu} · ${r.machine.cores} cores · Node ${r.machine.node} · ${r.machine.os} · load average ${r.machine.loadAverage1m.toFixed(1)} at the start

| | |
|---|---|
| trees × days (10-min readings) | ${f(r.trees)} × ${r.daysPerTree} = ${f(r.pushes)} pushes |
| processing time (generation subtracted) | ${f(r.processSeconds, 2)} s |
| throughput | ${f(r.pushesPerS)} pushes/s (one thread) |
| ns per push, first week of history | ${f(r.nsPerPushFirstWeek, 1)} |
| ns per push, last week of a year | ${f(r.nsPerPushLastWeek, 1)} |
| state() + assessLiveness() per tree | ${f(r.usPerAssessment, 1)} µs |
| snapshot after a year | ${f(r.snapshotBytesAfterYear)} bytes (JSON) |
| **10 000 trees × 1 year, extrapolated** | **${f(r.extrapolated10kTreesSeconds, 0)} s** |
| peak RSS | ${f(r.peakRssMb, 0)} MB |
| generation alone (not counted) | ${f(r.generateSeconds, 2)} s |

Real series: treenetproc's example \`${r.realSeries.series}\` (tests/fixtures/treenet), ${f(r.realSeries.readings)} readings
over 2.7 years plus ${f(r.realSeries.temperatureReadings)} air temperatures (frost rule), one processor, median of ${r.realSeries.runs} runs:

| | |
|---|---|
| time | ${f(r.realSeries.seconds, 3)} s |
| throughput | ${f(r.realSeries.readingsPerS)} readings/s (one thread, temperature pushes included) |
| **10 000 trees × 1 year (52 560 readings each) at that rate** | **${f(r.realSeries.projected10kTreesYearSeconds, 0)} s** |
| result | GRO ${f(r.realSeries.groUm, 1)} µm (radius), ${r.realSeries.jumps} jump, ${r.realSeries.outliers} outliers removed |

${r.notes.map((n) => `- ${n}`).join('\n')}
`
}

export function writeOksigenResults(r: OksigenBenchResult, dir: string): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, 'oksigen.json'), `${JSON.stringify(r, null, 2)}\n`)
  writeFileSync(path.join(dir, 'oksigen.md'), markdown(r))
}

async function main(): Promise<void> {
  const r = await runOksigenBench()
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results')
  writeOksigenResults(r, dir)
  process.stdout.write(markdown(r))
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`)
    process.exit(1)
  })
}
