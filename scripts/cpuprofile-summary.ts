/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, e.g. `BENCH_PROFILE=DIR` of the benchmarks):
 * self time by function and by file or package, and inclusive time of the top functions, over the
 * whole profile or, with a phases.json (bench/district.ts writes one into BENCH_PROFILE), phase by
 * phase.
 *
 *   node --import tsx scripts/cpuprofile-summary.ts PROFILE.cpuprofile [phases.json] [--top N] [--phase NAME]
 */
import { readFileSync } from 'node:fs'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}
interface Phase {
  name: string
  startUs: number
  endUs: number
}

const args = process.argv.slice(2)
const flag = (name: string) => {
  const i = args.indexOf(name)
  if (i < 0) return undefined
  const v = args[i + 1]
  args.splice(i, 2)
  return v
}
const top = Number(flag('--top') ?? 25)
const onlyPhase = flag('--phase')
/** --lines NAME: the hot lines (positionTicks) of functions whose name contains NAME. */
const linesOf = flag('--lines')
const [profilePath, phasesPath] = args
if (!profilePath) {
  console.error('usage: cpuprofile-summary.ts PROFILE.cpuprofile [phases.json] [--top N] [--phase NAME]')
  process.exit(2)
}
const profile = JSON.parse(readFileSync(profilePath, 'utf8')) as Profile
const phases: Phase[] = phasesPath
  ? (JSON.parse(readFileSync(phasesPath, 'utf8')) as Phase[]).filter(
      (p) => p.endUs > profile.startTime && p.startUs < profile.endTime,
    )
  : []
if (phases.length === 0)
  phases.push({ name: 'whole profile', startUs: profile.startTime, endUs: profile.endTime })

const byId = new Map<number, ProfileNode>()
const parent = new Map<number, number>()
for (const n of profile.nodes) {
  byId.set(n.id, n)
  for (const c of n.children ?? []) parent.set(c, n.id)
}

const shortUrl = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, 'nm/')
    .replace(/^\/work\/[^/]+\/[^/]+\/(?:[^/]+\/)?(src|broker|bench|firmware-sim)\//, '$1/')
const fnKey = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`
/** A file's group: the package under node_modules, the folder under src/, node's own code, or V8's pseudo-frames. */
function groupOf(f: CallFrame): string {
  if (!f.url) return f.functionName.startsWith('(') ? f.functionName : '(native)'
  const u = shortUrl(f.url)
  if (u.startsWith('nm/')) {
    const parts = u.slice(3).split('/')
    return `nm/${parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`
  }
  if (u.startsWith('node:')) return u
  const m = /^(src\/[^/]+|broker|bench|firmware-sim)\//.exec(u)
  return m ? (m[1] === 'broker' ? `broker/${u.split('/').pop()}` : m[1]!) : u
}

const pct = (x: number, total: number) => `${((100 * x) / total).toFixed(1).padStart(5)} %`
function table(title: string, m: Map<string, number>, total: number, n: number): void {
  console.log(`  ${title}`)
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`    ${pct(v, total)} ${(v / 1000).toFixed(0).padStart(7)} ms  ${k}`)
  }
}

for (const phase of phases) {
  if (onlyPhase && phase.name !== onlyPhase) continue
  const self = new Map<string, number>()
  const groups = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let t = profile.startTime
  let total = 0
  let idle = 0
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!
    if (t < phase.startUs || t >= phase.endUs) continue
    const dt = profile.timeDeltas[i + 1] ?? 0
    const node = byId.get(profile.samples[i]!)!
    if (node.callFrame.functionName === '(idle)') {
      idle += dt
      continue
    }
    total += dt
    self.set(fnKey(node.callFrame), (self.get(fnKey(node.callFrame)) ?? 0) + dt)
    const g = groupOf(node.callFrame)
    groups.set(g, (groups.get(g) ?? 0) + dt)
    const seen = new Set<string>()
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const k = fnKey(byId.get(id)!.callFrame)
      if (seen.has(k)) continue
      seen.add(k)
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt)
    }
  }
  const wall = (phase.endUs - phase.startUs) / 1e6
  console.log(
    `\n== ${phase.name}: ${wall.toFixed(1)} s wall, main thread busy ${(total / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s`,
  )
  table('self time by group', groups, total, top)
  table('self time by function', self, total, top)
  inclusive.delete(fnKey({ functionName: '(root)', url: '', lineNumber: -1 }))
  table('inclusive time by function', inclusive, total, top)
}

if (linesOf) {
  const ticks = new Map<string, number>()
  for (const n of profile.nodes as Array<
    ProfileNode & { positionTicks?: Array<{ line: number; ticks: number }> }
  >) {
    if (!n.callFrame.functionName.includes(linesOf)) continue
    for (const p of n.positionTicks ?? []) {
      const k = `${shortUrl(n.callFrame.url)}:${p.line} (${n.callFrame.functionName})`
      ticks.set(k, (ticks.get(k) ?? 0) + p.ticks)
    }
  }
  console.log(`\nhot lines of functions named *${linesOf}* (whole profile, samples)`)
  for (const [k, v] of [...ticks].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`  ${String(v).padStart(6)}  ${k}`)
}
