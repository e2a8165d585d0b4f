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
 * Writes bench/results/oksigen.json and oksigen.md. Run: `npx tsx bench/oksigen.ts`.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
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
  machine: { cpu: string; cores: number; node: string; os: string }
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
  notes: string[]
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

${r.date} · ${r.machine.cpu} · ${r.machine.cores} cores · Node ${r.machine.node} · ${r.machine.os}

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
