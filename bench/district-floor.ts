/**
 * The floor of the district benchmark's figure (issue 15): what a report costs the receiving
 * process when nothing is authenticated and nothing stored, under the district's load shape
 * (BENCH_DISTRICT_NODES connections held by the same load processes, one report in flight per node,
 * as fast as acknowledged). Two servers, each in its own process, each CPU µs per report from /proc:
 *
 * - `bare aedes` (bench/bare-aedes.ts): stock aedes, no auth, nothing stored;
 * - `bare PUBACK server` (bench/bare-puback.ts): a plain TCP server answering each PUBLISH with
 *   its PUBACK, nothing else: the cost of reading a report and writing its acknowledgement on
 *   this machine (on loopback the sender's write also runs the receiver's TCP delivery).
 *
 * bench/district.ts runs it after its own phases and puts it in district.{json,md}; alone:
 * `npx tsx bench/district-floor.ts` prints the figures (BENCH_DISTRICT_NODES, _PROCS, _REPORTS).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { freePort, waitForPort } from '../tests/harness/ports.ts'
import type { ClientInit, PhaseJob, PhaseResult } from './district-client.ts'
import type { LoadDevice } from './load-client.ts'
import { cpuSecondsSplit as cpuSplit } from './proc-stats.ts'

export interface FloorFigures {
  server: string
  nodes: number
  reportsPerNode: number
  messages: number
  messagesPerS: number
  /** The server's CPU (user + system, all threads) per report, first publish → last PUBACK. */
  cpuUsPerMessage: number
  /** Of it, system time (the kernel: socket reads and writes, loopback delivery). */
  systemUsPerMessage: number
}

const SERVERS = [
  { name: 'bare aedes', file: 'bare-aedes.ts' },
  { name: 'bare PUBACK server', file: 'bare-puback.ts' },
] as const

interface LoadProcessLike {
  readonly child: ChildProcess
  request<T>(command: import('./district-client.ts').Command): Promise<T>
}

/**
 * Each floor server under the district's load: `devices` split over `procs` load processes,
 * connected, `warmupReports` reports per node unmeasured, then `reports` per node measured.
 */
export async function measureFloor(opts: {
  devices: LoadDevice[]
  procs: number
  reports: number
  warmupReports: number
  window: number
  keepaliveS: number
  newLoadProcess: () => LoadProcessLike
  log: (msg: string) => void
}): Promise<FloorFigures[]> {
  const out: FloorFigures[] = []
  let baseTimeMs = Math.floor((Date.now() - 40 * 60_000) / 60_000) * 60_000
  for (const server of SERVERS) {
    const port = await freePort()
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(import.meta.dirname, server.file), String(port)],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    )
    const procs: LoadProcessLike[] = []
    try {
      await waitForPort(port)
      for (let p = 0; p < opts.procs; p++) procs.push(opts.newLoadProcess())
      await Promise.all(
        procs.map((p, i) => {
          const init: ClientInit = {
            port,
            devices: opts.devices.filter((_, d) => d % opts.procs === i),
            keepaliveS: opts.keepaliveS,
            retryMs: 1_000,
            connackTimeoutMs: 30_000,
          }
          return p.request({ cmd: 'init', init })
        }),
      )
      await Promise.all(procs.map((p) => p.request({ cmd: 'connect' })))
      const run = async (reports: number) => {
        const job: PhaseJob = { baseTimeMs, reports, window: opts.window, ratePerS: 0 }
        baseTimeMs += reports * 60_000
        await Promise.all(procs.map((p) => p.request({ cmd: 'prepare', job })))
        const before = cpuSplit(child.pid!)
        const results = await Promise.all(procs.map((p) => p.request<PhaseResult>({ cmd: 'go' })))
        const after = cpuSplit(child.pid!)
        const messages = results.reduce((n, r) => n + r.messages, 0)
        const seconds =
          (Math.max(...results.map((r) => r.lastAckMs)) - Math.min(...results.map((r) => r.firstSendMs))) /
          1000
        const cpu = after.user + after.system - before.user - before.system
        return {
          messages,
          messagesPerS: Math.round(messages / seconds),
          cpuUsPerMessage: Number(((cpu * 1e6) / messages).toFixed(1)),
          systemUsPerMessage: Number((((after.system - before.system) * 1e6) / messages).toFixed(1)),
        }
      }
      await run(opts.warmupReports)
      const measured = await run(opts.reports)
      const figures: FloorFigures = {
        server: server.name,
        nodes: opts.devices.length,
        reportsPerNode: opts.reports,
        ...measured,
      }
      opts.log(
        `floor, ${server.name}: ${figures.messagesPerS} msg/s, ${figures.cpuUsPerMessage} CPU µs per report (system ${figures.systemUsPerMessage})`,
      )
      out.push(figures)
    } finally {
      await Promise.all(procs.map((p) => p.request({ cmd: 'stop' }).catch(() => undefined)))
      for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL')
      child.kill('SIGTERM')
    }
  }
  return out
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { LoadProcess, districtFleet } = await import('./district.ts')
  const nodes = Number(process.env.BENCH_DISTRICT_NODES ?? 10_000)
  const { devices } = await districtFleet()
  const figures = await measureFloor({
    devices,
    procs: Number(process.env.BENCH_DISTRICT_PROCS ?? 4),
    reports: Number(process.env.BENCH_DISTRICT_REPORTS ?? 10),
    warmupReports: 3,
    window: 1,
    keepaliveS: 60,
    newLoadProcess: () => new LoadProcess(),
    log: (msg) => process.stderr.write(`[floor] ${msg}\n`),
  })
  console.log(JSON.stringify({ nodes, figures }, null, 2))
  process.exit(0)
}
