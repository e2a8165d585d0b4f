/**
 * The district benchmark (issue 15, scopes 1–3), the headline of `npm run bench`:
 *
 *  1. `kampung up` with its defaults (alerts engine and Oksigen verifier on) into a real InfluxDB;
 *     BENCH_DISTRICT_NODES (10 000) device connections, each with its own id and secret, held
 *     open by BENCH_DISTRICT_PROCS (4) load-generator processes (bench/district-client.ts);
 *     reports of 4 (soil node) or 6 (weather station) readings, 60 s apart in device time, replayed
 *     as fast as the service acknowledges them: a cold phase right after the start, the measured
 *     warm phase, then a paced phase at BENCH_DISTRICT_RATE (5 000) reports/s for the latency
 *     target;
 *  2. idle: the nodes stay connected and send only keep-alives for BENCH_DISTRICT_IDLE_S (60 s);
 *  3. reconnect storm: the service is stopped (SIGTERM) and started again; every node reconnects
 *     on its own and sends one report; timed until all are connected and all those reports stored.
 *     The authentication's CPU cost is measured apart: the registry's verifySecret over the fleet,
 *     cold cache, in this process.
 *
 * Writes bench/results/district.{json,md}; the md carries the 50 × 1 s ingest run
 * (bench/results/ingest.json, bench/run.ts) as its second line. Run alone:
 * `BENCH_ONLY=district npm run bench`.
 */

import { type ChildProcess, execFileSync, fork } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Registry } from '../src/registry/index.ts'
import { SCHEMAS } from '../src/schemas.ts'
import { startInfluxd } from '../tests/harness/influxd.ts'
import { influxQuery } from '../tests/harness/influxql.ts'
import { freePort } from '../tests/harness/ports.ts'
import { type KampungProcess, serviceEnv, spawnKampung } from '../tests/harness/process.ts'
import type {
  ClientDump,
  ClientInit,
  ClientStats,
  Command,
  FailureReason,
  PhaseJob,
  PhaseResult,
  StormResult,
} from './district-client.ts'
import { type LoadDevice, QUANTITIES_SENT } from './load-client.ts'
import { registerFleet } from './load-runner.ts'
import {
  cpuSeconds,
  cpuSecondsByThread,
  cpuSecondsSplit,
  machine,
  peakRssMb,
  percentile,
  rssMb,
  wallClockOrigin,
} from './proc-stats.ts'

const NODES = Number(process.env.BENCH_DISTRICT_NODES ?? 10_000)
const PROCS = Number(process.env.BENCH_DISTRICT_PROCS ?? 4)
const VILLAGES = Number(process.env.BENCH_DISTRICT_VILLAGES ?? 40)
const COLD_REPORTS = Number(process.env.BENCH_DISTRICT_COLD_REPORTS ?? 3)
const WARM_REPORTS = Number(process.env.BENCH_DISTRICT_REPORTS ?? 10)
const WINDOW = Number(process.env.BENCH_DISTRICT_WINDOW ?? 1)
const RATE = Number(process.env.BENCH_DISTRICT_RATE ?? 5_000)
const PACED_REPORTS = Number(process.env.BENCH_DISTRICT_PACED_REPORTS ?? 4)
const IDLE_S = Number(process.env.BENCH_DISTRICT_IDLE_S ?? 60)
const KEEPALIVE_S = 60
/** Connections per step of the first connect (the service's RSS is read after each). */
const CONNECT_STEP = Number(process.env.BENCH_DISTRICT_CONNECT_STEP ?? 1_000)
/**
 * `storm`: only the connect, idle and storm phases, for quick iteration on them (no load phases;
 * figures to stderr and $TMPDIR/kampung-district-storm.json, not bench/results).
 */
const ONLY_STORM = process.env.BENCH_DISTRICT_PHASES === 'storm'
/**
 * `load`: only the connect and the load phases (cold, warm, paced), for repeated runs of them
 * (figures to stderr only, not bench/results).
 */
const ONLY_LOAD = process.env.BENCH_DISTRICT_PHASES === 'load'
/**
 * A directory: the service runs with `--heapsnapshot-signal=SIGUSR2` and writes a heap snapshot
 * there at the end of the warm phase (V8 collects garbage first: it shows what is live under load).
 */
const HEAP_SNAPSHOT_DIR = process.env.BENCH_DISTRICT_HEAP_SNAPSHOT
/**
 * Watchdog: a load process that sees no PUBACK (or CONNACK) for this long in a phase, the storm or
 * the first connect fails the run with a stall report (see stallReport) instead of waiting forever.
 */
const STALL_S = Number(process.env.BENCH_DISTRICT_STALL_S ?? 60)
const RETRY_MS = 1_000
/** The service's start, fleet or not: on a shared 2-core VM at load 20+ it took over the harness's 30 s. */
const START_TIMEOUT_MS = 120_000
const CONNACK_TIMEOUT_MS = 30_000
const VERIFY_SAMPLE = 500
const DATABASE = 'district'
const REPORT_MS = 60_000

const log = (msg: string) =>
  process.stderr.write(`[district] ${new Date().toISOString().slice(11, 19)} ${msg}\n`)
/** The wall clock, comparable with the load processes' times (proc-stats.ts wallClockOrigin). */
const ORIGIN_MS = wallClockOrigin()
const now = () => ORIGIN_MS + performance.now()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const round1 = (x: number) => Number(x.toFixed(1))

/**
 * With BENCH_PROFILE, each phase's start and end on the monotonic clock V8's CPU profiles use
 * (µs), written to <BENCH_PROFILE>/phases.json: `node --import tsx scripts/cpuprofile-summary.ts`
 * summarises a profile phase by phase.
 */
const phaseMarks: Array<{ name: string; startUs: number; endUs: number }> = []
const monoUs = () => Number(process.hrtime.bigint() / 1000n)
function markPhase(name: string, startUs: number): void {
  if (!process.env.BENCH_PROFILE) return
  phaseMarks.push({ name, startUs, endUs: monoUs() })
  mkdirSync(process.env.BENCH_PROFILE, { recursive: true })
  writeFileSync(
    path.join(process.env.BENCH_PROFILE, 'phases.json'),
    `${JSON.stringify(phaseMarks, null, 2)}\n`,
  )
}

/**
 * The fleet's registry, cached in the temp dir under a fingerprint of the registry's code
 * (secrets.ts, registry.ts): registering 10 000 devices with scrypt costs about a minute of CPU,
 * and a changed hash (or registry) registers a new fleet with it.
 */
export async function districtFleet(): Promise<{
  registryPath: string
  devices: LoadDevice[]
  readingsPerRound: number
}> {
  const src = path.join(import.meta.dirname, '..', 'src', 'registry')
  const fingerprint = createHash('sha256')
    .update(readFileSync(path.join(src, 'secrets.ts')))
    .update(readFileSync(path.join(src, 'registry.ts')))
    .update(`${NODES}/${VILLAGES}`)
    .digest('hex')
    .slice(0, 16)
  const dir = path.join(os.tmpdir(), 'kampung-bench-fleet', fingerprint)
  const registryPath = path.join(dir, 'registry.db')
  const devicesPath = path.join(dir, 'devices.json')
  if (existsSync(devicesPath)) {
    log(`fleet of ${NODES} devices from ${dir}`)
    const cached = JSON.parse(readFileSync(devicesPath, 'utf8'))
    return { registryPath, ...cached }
  }
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const started = now()
  const cpu0 = process.cpuUsage()
  const registered = await registerFleet(registryPath, NODES, 'district', {
    villages: VILLAGES,
    concurrency: 16,
  })
  const cpu = process.cpuUsage(cpu0)
  log(
    `registered ${NODES} devices in ${((now() - started) / 1000).toFixed(1)} s (${((cpu.user + cpu.system) / 1e6).toFixed(1)} CPU s), cached in ${dir}`,
  )
  writeFileSync(devicesPath, JSON.stringify(registered))
  return { registryPath, ...registered }
}

/** The service's output (warnings and errors: it runs at level warn), kept in the temp dir. */
function keepServiceLog(service: KampungProcess, n: number): void {
  const file = path.join(os.tmpdir(), `kampung-district-service-${n}.log`)
  writeFileSync(file, service.output())
  const lines = service.output().split('\n').filter(Boolean).length
  if (lines > 1) log(`service output (${lines} lines) in ${file}`)
}

/** One load-generator process and its request/answer channel. */
export class LoadProcess {
  readonly child: ChildProcess
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  private seq = 0
  constructor() {
    this.child = fork(path.join(import.meta.dirname, 'district-client.ts'), [], {
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    type Answer = { seq?: number; ok: boolean; value?: unknown; error?: string; dump?: ClientDump }
    this.child.on('message', (m: Answer) => {
      if (m.seq === undefined) {
        // An uncaught error (no seq): every request waiting fails with it.
        const err = new Error(`load process: ${m.error ?? JSON.stringify(m).slice(0, 200)}`)
        for (const x of this.waiting.values()) x.reject(err)
        this.waiting.clear()
        return
      }
      const w = this.waiting.get(m.seq)
      if (!w) return // a request given up on (its watch failed it)
      this.waiting.delete(m.seq)
      if (m.ok) w.resolve(m.value)
      // A stalled phase's answer carries the process's dump (district-client.ts StallError).
      else w.reject(Object.assign(new Error(`load process: ${m.error}`), m.dump ? { dump: m.dump } : {}))
    })
    this.child.once('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`load process exited (${code})`))
      this.waiting.clear()
    })
  }
  /**
   * Sends a command; resolves with its answer. With `watchMs`, the process is asked for a `dump`
   * every `watchMs` while the answer is pending, and the request fails (instead of waiting
   * forever) when the process does not answer the dump within 15 s, or when its dump says it has
   * answered this request and the answer has still not arrived one period later. (The load
   * process's own watchdog covers a phase that stops making progress.)
   */
  request<T>(command: Command, watchMs?: number): Promise<T> {
    const seq = ++this.seq
    const answer = new Promise<T>((resolve, reject) => {
      this.waiting.set(seq, { resolve: resolve as (v: unknown) => void, reject })
      this.child.send({ ...command, seq })
    })
    if (!watchMs) return answer
    let timer: NodeJS.Timeout | undefined
    let answeredSince = 0
    const watch = () => {
      timer = setTimeout(async () => {
        if (!this.waiting.has(seq)) return
        const dump = await within(this.request<ClientDump>({ cmd: 'dump' }), 15_000)
        const w = this.waiting.get(seq)
        if (!w) return
        const fail = (why: string) => {
          this.waiting.delete(seq)
          w.reject(
            Object.assign(new Error(`load process ${this.child.pid}: ${command.cmd} ${why}`), { dump }),
          )
        }
        if (!dump) return fail('pending, and the process did not answer a dump within 15 s')
        if (dump.answered.includes(seq)) {
          if (answeredSince && performance.now() - answeredSince >= watchMs)
            return fail(
              `answered ${Math.round((performance.now() - answeredSince) / 1000)} s ago, and the answer never arrived`,
            )
          answeredSince ||= performance.now()
        }
        watch()
      }, watchMs)
    }
    watch()
    return answer.finally(() => clearTimeout(timer))
  }
}

interface PhaseFigures {
  reportsPerNode: number
  messages: number
  readings: number
  stored: number
  lost: number
  seconds: number
  messagesPerS: number
  readingsPerS: number
  /** CPU µs per message over the phase (first publish → last reading queryable). */
  cpuUsPerMessage: { service: number; serviceSystem?: number; influxd: number; loadGenerators: number }
  /** Share of all cores the three used over the phase. */
  cpuBusyPct: number
  latencyMs: { p50: number; p99: number; max: number }
  lastAckToQueryableMs: number
  /** Paced phases: the rate asked for, reports/s. */
  pacedAtPerS?: number
  /** The service's RSS and process.memoryUsage() (MB) at the phase's end. */
  serviceMemoryMb?: Record<string, number>
}

interface Counters {
  service: number
  /** Of it, system time (the kernel: socket reads and writes, on loopback the receiver's TCP delivery too). */
  serviceSystem: number
  influxd: number
  load: number
}

function sortedLatencies(parts: Float64Array[]): Float64Array {
  const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    all.set(p, at)
    at += p.length
  }
  return all.sort()
}

async function countStored(influxUrl: string, fromMs: number, toMs: number): Promise<number> {
  const q =
    `SELECT count("value") FROM "${DATABASE}"."raw"./^(${QUANTITIES_SENT.join('|')})$/` +
    ` WHERE time >= ${fromMs}ms AND time < ${toMs}ms`
  const rows = await influxQuery(influxUrl, DATABASE, q).catch(() => [])
  return rows.reduce((n, row) => n + Number(row.count ?? 0), 0)
}

/** Polls until `expected` readings of the range are queryable, or 30 s after `lastAckMs`. */
async function waitStored(
  influxUrl: string,
  fromMs: number,
  toMs: number,
  expected: number,
  lastAckMs: number,
): Promise<{ stored: number; queryableMs: number }> {
  for (;;) {
    const stored = await countStored(influxUrl, fromMs, toMs)
    if (stored >= expected || now() - lastAckMs > 30_000) return { stored, queryableMs: now() }
    await sleep(20)
  }
}

async function main(): Promise<void> {
  const started = now()
  const loadBefore = os.loadavg()
  if (Math.abs(performance.timeOrigin - ORIGIN_MS) > 20)
    log(
      `this process: performance.timeOrigin off the wall clock by ${Math.round(performance.timeOrigin - ORIGIN_MS)} ms`,
    )
  const { registryPath, devices, readingsPerRound } = await districtFleet()
  const influx = await startInfluxd()
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-district-'))
  copyFileSync(registryPath, path.join(dataDir, 'registry.db'))
  const mqttPort = await freePort()
  const apiPort = await freePort()
  const env = {
    ...serviceEnv({ dataDir, influxUrl: influx.url, mqttPort, apiPort }),
    KAMPUNG_INFLUX_DATABASE: DATABASE,
    KAMPUNG_LOG_LEVEL: 'warn',
  }
  const nodeArgs = [
    ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
    ...(HEAP_SNAPSHOT_DIR ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${HEAP_SNAPSHOT_DIR}`] : []),
  ]
  const procs: LoadProcess[] = []
  let service: KampungProcess | undefined
  try {
    log(`service: kampung up (alerts and Oksigen on), ${NODES} nodes in ${VILLAGES} villages`)
    service = spawnKampung(['up'], env, nodeArgs)
    await service.waitForOutput(/smart-kampung running/, START_TIMEOUT_MS)
    const pid = service.child.pid!
    const rssAtStart = rssMb(pid)
    const loadPids = () => procs.map((p) => p.child.pid!)
    const counters = (): Counters => ({
      service: cpuSeconds(pid),
      serviceSystem: cpuSecondsSplit(pid).system,
      influxd: cpuSeconds(influx.pid),
      load: loadPids().reduce((n, p) => n + cpuSeconds(p), 0),
    })
    for (let p = 0; p < PROCS; p++) procs.push(new LoadProcess())
    await Promise.all(
      procs.map((p, i) => {
        const init: ClientInit = {
          port: mqttPort,
          devices: devices.filter((_, d) => d % PROCS === i),
          keepaliveS: KEEPALIVE_S,
          retryMs: RETRY_MS,
          connackTimeoutMs: CONNACK_TIMEOUT_MS,
          stallMs: STALL_S * 1000,
        }
        return p.request<{ nodes: number; timeOriginErrorMs: number }>({ cmd: 'init', init })
      }),
    ).then((answers) => {
      for (const [i, a] of answers.entries())
        if (Math.abs(a.timeOriginErrorMs) > 20)
          log(
            `load process ${i}: performance.timeOrigin off the wall clock by ${Math.round(a.timeOriginErrorMs)} ms`,
          )
    })

    // --- the first connection of every node, into the fresh service ---
    log(`connecting ${NODES} nodes`)
    const c0 = counters()
    const connectStartUs = monoUs()
    const threads0 = cpuSecondsByThread(pid)
    // In steps of CONNECT_STEP nodes, the service's RSS after each: what a connection holds.
    const rssSteps: Array<{ connected: number; rssMb: number; memory: Record<string, number> }> = [
      { connected: 0, rssMb: rssMb(pid), memory: await serviceMemory(apiPort) },
    ]
    let connectSeconds = 0
    for (let done = 0; done < NODES; ) {
      const step = Math.min(CONNECT_STEP, NODES - done)
      const connected = await Promise.all(
        procs.map((p, i) =>
          p.request<{ firstMs: number; allConnectedMs: number }>(
            {
              cmd: 'connect',
              count: Math.floor(step / PROCS) + (i < step % PROCS ? 1 : 0),
            },
            STALL_S * 1000,
          ),
        ),
      ).catch((err: Error) =>
        stallReport(
          err,
          'connect',
          procs,
          { mqtt: mqttPort, api: apiPort, output: () => service?.output() ?? '' },
          influx.url,
        ),
      )
      connectSeconds +=
        (Math.max(...connected.map((c) => c.allConnectedMs)) - Math.min(...connected.map((c) => c.firstMs))) /
        1000
      done += step
      rssSteps.push({ connected: done, rssMb: rssMb(pid), memory: await serviceMemory(apiPort) })
    }
    const c1 = counters()
    markPhase('connect', connectStartUs)
    const threads1 = cpuSecondsByThread(pid)
    const connectStats = await Promise.all(procs.map((p) => p.request<ClientStats>({ cmd: 'stats' })))
    const perConnectionKb = Math.round(
      ((rssSteps.at(-1)!.rssMb - rssSteps[1]!.rssMb) * 1024) / Math.max(1, NODES - rssSteps[1]!.connected),
    )
    log(
      `RSS by connections: ${rssSteps.map((r) => `${r.connected}: ${r.rssMb} MB (heap ${r.memory.heap_used}/${r.memory.heap_total}, external ${r.memory.external})`).join(', ')}`,
    )
    const connect = {
      nodes: NODES,
      seconds: round1(connectSeconds),
      /** Service RSS after each step of CONNECT_STEP connections, and the slope past the first. */
      rssSteps,
      rssKbPerConnection: perConnectionKb,
      serviceCpuS: round1(c1.service - c0.service),
      serviceCpuMainThreadS: round1(threads1.main - threads0.main),
      serviceCpuOtherThreadsS: round1(threads1.others - threads0.others),
      failedAttempts: connectStats.reduce((n, s) => n + s.failedAttempts, 0),
      connackTimeouts: connectStats.reduce((n, s) => n + s.connackTimeouts, 0),
      droppedAfterConnack: connectStats.reduce((n, s) => n + s.dropped, 0),
      rssMb: rssMb(pid),
    }
    log(`connected in ${connect.seconds} s, service CPU ${connect.serviceCpuS} s`)

    // Device times: recent, 60 s apart, phases in order, starting 40 min ago: all phases together
    // take under 30 min of device time, so a node's newest reading stays within the alerts'
    // offline limit (60 min behind the wall clock) as a live node's does. (Starting hours back made
    // every node "offline" at each alerts tick and each report clear it again: alert churn a
    // district reporting live does not have.)
    let nextBaseMs = Math.floor((Date.now() - 40 * 60_000) / REPORT_MS) * REPORT_MS
    const phase = async (name: string, reports: number, ratePerS: number): Promise<PhaseFigures> => {
      const baseTimeMs = nextBaseMs
      nextBaseMs += reports * REPORT_MS
      const shares = await Promise.all(
        procs.map((p, i) => {
          const mine = devices.filter((_, d) => d % PROCS === i).length
          // A paced load is split by each process's share of the nodes.
          const job: PhaseJob = { baseTimeMs, reports, window: WINDOW, ratePerS: (ratePerS * mine) / NODES }
          return p.request<number>({ cmd: 'prepare', job })
        }),
      )
      const readings = shares.reduce((n, r) => n + r, 0)
      log(
        `${name}: ${NODES} × ${reports} reports (${readings} readings)${ratePerS ? ` at ${ratePerS}/s` : ''}`,
      )
      const before = counters()
      const startUs = monoUs()
      const results = await Promise.all(
        procs.map((p) => p.request<PhaseResult>({ cmd: 'go' }, STALL_S * 1000)),
      ).catch((err: Error) =>
        stallReport(
          err,
          name,
          procs,
          { mqtt: mqttPort, api: apiPort, output: () => service?.output() ?? '' },
          influx.url,
        ),
      )
      const firstSend = Math.min(...results.map((r) => r.firstSendMs))
      const lastAck = Math.max(...results.map((r) => r.lastAckMs))
      const { stored, queryableMs } = await waitStored(
        influx.url,
        baseTimeMs,
        baseTimeMs + reports * REPORT_MS,
        readings,
        lastAck,
      )
      const after = counters()
      markPhase(name, startUs)
      const messages = results.reduce((n, r) => n + r.messages, 0)
      const seconds = (queryableMs - firstSend) / 1000
      const used = (k: keyof Counters) => after[k] - before[k]
      const per = (k: keyof Counters) => round1((used(k) * 1e6) / messages)
      const latencies = sortedLatencies(results.map((r) => r.latenciesMs))
      const figures: PhaseFigures = {
        reportsPerNode: reports,
        messages,
        readings,
        stored,
        lost: readings - stored,
        seconds: Number(seconds.toFixed(3)),
        messagesPerS: Math.round(messages / seconds),
        readingsPerS: Math.round(readings / seconds),
        cpuUsPerMessage: {
          service: per('service'),
          serviceSystem: per('serviceSystem'),
          influxd: per('influxd'),
          loadGenerators: per('load'),
        },
        cpuBusyPct: Math.round(
          (100 * (used('service') + used('influxd') + used('load'))) / (seconds * os.cpus().length),
        ),
        latencyMs: {
          p50: round1(percentile(latencies, 50)),
          p99: round1(percentile(latencies, 99)),
          max: round1(percentile(latencies, 100)),
        },
        lastAckToQueryableMs: Math.round(queryableMs - lastAck),
        ...(ratePerS ? { pacedAtPerS: ratePerS } : {}),
        serviceMemoryMb: await serviceMemory(apiPort),
      }
      log(
        `${name}: ${figures.messagesPerS} msg/s, ${figures.readingsPerS} readings/s, lost ${figures.lost}, service ${figures.cpuUsPerMessage.service} µs/msg (system ${figures.cpuUsPerMessage.serviceSystem}), p50/p99 ${figures.latencyMs.p50}/${figures.latencyMs.p99} ms`,
      )
      return figures
    }
    const cold = ONLY_STORM ? undefined : await phase('cold', COLD_REPORTS, 0)
    const warm = ONLY_STORM ? undefined : await phase('warm', WARM_REPORTS, 0)
    if (HEAP_SNAPSHOT_DIR) await heapSnapshot(pid, HEAP_SNAPSHOT_DIR)
    const paced = ONLY_STORM ? undefined : await phase('paced', PACED_REPORTS, RATE)
    // Where the target rate is beyond the service, the latency at a rate it sustains: half its warm
    // rate, for about 15 s.
    const sustainableRate = Math.round((warm?.messagesPerS ?? 0) / 2)
    const pacedHalf =
      warm && warm.messagesPerS < RATE && !ONLY_LOAD
        ? await phase(
            'paced at half the warm rate',
            Math.max(1, Math.ceil((sustainableRate * 15) / NODES)),
            sustainableRate,
          )
        : undefined
    const peakRssLoaded = peakRssMb(pid)
    if (ONLY_LOAD) {
      const stats = await Promise.all(procs.map((p) => p.request<ClientStats>({ cmd: 'stats' })))
      log(
        `load phases only: done in ${Math.round((now() - started) / 1000)} s, peak RSS ${peakRssLoaded} MB, ${stats.reduce((n, s) => n + s.dropped, 0)} connections dropped after CONNACK, ${stats.reduce((n, s) => n + s.unexpectedAcks, 0)} PUBACKs for ids not in flight`,
      )
      await Promise.all(procs.map((p) => p.request({ cmd: 'stop' }).catch(() => undefined)))
      return
    }

    // --- idle: connected, keep-alives only ---
    await sleep(5_000)
    log(`idle: ${NODES} connected nodes, keep-alive ${KEEPALIVE_S} s, for ${IDLE_S} s`)
    const pings0 = await Promise.all(procs.map((p) => p.request<{ pings: number }>({ cmd: 'stats' })))
    const i0 = counters()
    const idleStart = now()
    const idleStartUs = monoUs()
    await sleep(IDLE_S * 1000)
    const i1 = counters()
    markPhase('idle', idleStartUs)
    const idleSeconds = (now() - idleStart) / 1000
    const stats = await Promise.all(
      procs.map((p) => p.request<{ pings: number; connected: number; dropped: number }>({ cmd: 'stats' })),
    )
    const idle = {
      seconds: round1(idleSeconds),
      connected: stats.reduce((n, s) => n + s.connected, 0),
      /** Connections the service closed after their CONNACK, since the start (each reconnected and resent). */
      droppedSinceStart: stats.reduce((n, s) => n + s.dropped, 0),
      keepAlivePings: stats.reduce((n, s) => n + s.pings, 0) - pings0.reduce((n, s) => n + s.pings, 0),
      serviceRssMb: rssMb(pid),
      serviceMemoryMb: await serviceMemory(apiPort),
      serviceCpuPctOfCore: round1((100 * (i1.service - i0.service)) / idleSeconds),
      serviceCpuUsPerNodeSecond: round1(((i1.service - i0.service) * 1e6) / (idleSeconds * NODES)),
      influxdCpuPctOfCore: round1((100 * (i1.influxd - i0.influxd)) / idleSeconds),
    }
    log(`idle: RSS ${idle.serviceRssMb} MB, service ${idle.serviceCpuPctOfCore} % of a core`)
    const peakRss = Math.max(peakRssLoaded, peakRssMb(pid))

    // --- reconnect storm ---
    log('storm: stopping the service (SIGTERM)')
    const killAt = now()
    await stopService(service)
    keepServiceLog(service, 1)
    const exitedAt = now()
    const stormBase = nextBaseMs
    nextBaseMs += REPORT_MS
    const statsSum = async () => {
      const all = await Promise.all(procs.map((p) => p.request<ClientStats>({ cmd: 'stats' })))
      const byReason: Partial<Record<FailureReason, number>> = {}
      for (const a of all)
        for (const [k, v] of Object.entries(a.byReason))
          byReason[k as FailureReason] = (byReason[k as FailureReason] ?? 0) + (v ?? 0)
      return {
        failedAttempts: all.reduce((n, a) => n + a.failedAttempts, 0),
        byReason,
        slowTcpConnects: all.reduce((n, a) => n + a.slowTcpConnects, 0),
        maxTcpConnectMs: Math.max(...all.map((a) => a.maxTcpConnectMs)),
      }
    }
    const minus = (a: Partial<Record<string, number>>, b: Partial<Record<string, number>>) =>
      Object.fromEntries(
        Object.entries(a)
          .map(([k, v]) => [k, (v ?? 0) - (b[k] ?? 0)] as const)
          .filter(([, v]) => v > 0),
      )
    const armedStats = await statsSum()
    const stormDone = Promise.all(
      procs.map((p) => p.request<StormResult>({ cmd: 'storm', baseTimeMs: stormBase }, STALL_S * 1000)),
    )
    stormDone.catch(() => undefined) // awaited below; a failure meanwhile is not an unhandled rejection
    await sleep(200) // the commands are in the load processes before the service listens again
    const spawnAt = now()
    service = spawnKampung(['up'], env, nodeArgs)
    await service.waitForOutput(/smart-kampung running/, START_TIMEOUT_MS)
    const readyAt = now()
    const readyStats = await statsSum()
    const pid2 = service.child.pid!
    const s0 = cpuSeconds(pid2)
    const t0 = cpuSecondsByThread(pid2)
    const influx0 = cpuSeconds(influx.pid)
    const storms = await stormDone.catch((err: Error) =>
      stallReport(
        err,
        'storm',
        procs,
        { mqtt: mqttPort, api: apiPort, output: () => service?.output() ?? '' },
        influx.url,
      ),
    )
    const doneStats = await statsSum()
    const serviceRefusals = await brokerRefusals(apiPort)
    const s1 = cpuSeconds(pid2)
    const t1 = cpuSecondsByThread(pid2)
    const influx1 = cpuSeconds(influx.pid)
    const stormReadings = readingsPerRound
    const allStoredMs = Math.max(...storms.map((s) => s.allStoredMs))
    const { stored: stormStored } = await waitStored(
      influx.url,
      stormBase,
      stormBase + REPORT_MS,
      stormReadings,
      allStoredMs,
    )
    const stormLatencies = sortedLatencies(storms.map((s) => s.latenciesMs))
    const storm = {
      stopSeconds: round1((exitedAt - killAt) / 1000),
      startSeconds: round1((readyAt - spawnAt) / 1000),
      allConnectedAfterStartS: round1((Math.max(...storms.map((s) => s.allConnectedMs)) - spawnAt) / 1000),
      allStoredAfterStartS: round1((allStoredMs - spawnAt) / 1000),
      allStoredAfterListeningS: round1((allStoredMs - readyAt) / 1000),
      allStoredAfterStopS: round1((allStoredMs - killAt) / 1000),
      failedConnectAttempts: storms.reduce((n, s) => n + s.failedAttempts, 0),
      connackTimeouts: storms.reduce((n, s) => n + s.connackTimeouts, 0),
      /** Failed attempts by the load clients' reason (see district-client.ts FailureReason). */
      failedByReason: minus(doneStats.byReason, armedStats.byReason),
      /** Of these, after the new process said it was running (all its parts listening). */
      failedByReasonAfterRunning: minus(doneStats.byReason, readyStats.byReason),
      /** TCP handshakes of ≥ 0.9 s (a SYN sent again: the listen backlog overflowed), and the longest. */
      slowTcpConnects: doneStats.slowTcpConnects - armedStats.slowTcpConnects,
      maxTcpConnectMs: doneStats.maxTcpConnectMs,
      /** The first CONNACK of the storm, after the new process started: the broker answering. */
      firstConnectedAfterStartS: round1(
        (Math.min(...storms.map((s) => s.firstConnectedMs)) - spawnAt) / 1000,
      ),
      /** What the new service refused (kampung_broker_refusals_total by cause). */
      serviceRefusals,
      firstReportLatencyMs: {
        p50: round1(percentile(stormLatencies, 50)),
        p99: round1(percentile(stormLatencies, 99)),
      },
      readings: stormReadings,
      stored: stormStored,
      lost: stormReadings - stormStored,
      serviceCpuS: round1(s1 - s0),
      serviceCpuMainThreadS: round1(t1.main - t0.main),
      serviceCpuOtherThreadsS: round1(t1.others - t0.others),
      serviceStartCpuS: round1(s0),
      influxdCpuS: round1(influx1 - influx0),
      rssMbAfter: rssMb(pid2),
    }
    log(
      `storm: first connected ${storm.firstConnectedAfterStartS} s, all connected ${storm.allConnectedAfterStartS} s, all stored ${storm.allStoredAfterStartS} s after the new process started; service CPU ${storm.serviceCpuS} s; failed ${JSON.stringify(storm.failedByReason)} (after running ${JSON.stringify(storm.failedByReasonAfterRunning)}), slow TCP ${storm.slowTcpConnects} (max ${storm.maxTcpConnectMs} ms), service refused ${JSON.stringify(serviceRefusals)}`,
    )
    await Promise.all(procs.map((p) => p.request({ cmd: 'stop' }).catch(() => undefined)))
    await stopService(service)
    keepServiceLog(service, 2)
    service = undefined

    // --- the authentication's own cost: verifySecret over a sample of the fleet, cold cache ---
    const auth = await verifyCost(registryPath, devices)
    log(`auth: ${auth.cpuUsPerVerification} CPU µs per verification`)

    // --- the floor: the same load shape against servers that authenticate and store nothing ---
    const floor = ONLY_STORM
      ? undefined
      : await (await import('./district-floor.ts')).measureFloor({
          devices,
          procs: PROCS,
          reports: WARM_REPORTS,
          warmupReports: COLD_REPORTS,
          window: WINDOW,
          keepaliveS: KEEPALIVE_S,
          newLoadProcess: () => new LoadProcess(),
          log,
        })

    if (!cold || !warm || !paced) {
      const file = path.join(os.tmpdir(), 'kampung-district-storm.json')
      writeFileSync(
        file,
        `${JSON.stringify({ date: new Date().toISOString(), machine: machine(), connect, idle, storm, peakRss }, null, 2)}\n`,
      )
      log(`storm phases only: figures in ${file}`)
      return
    }
    const lost = cold.lost + warm.lost + paced.lost + (pacedHalf?.lost ?? 0) + storm.lost
    const result = {
      name: 'district',
      date: new Date().toISOString(),
      machine: machine(),
      loadAverage: { before: loadBefore.map(round1), after: os.loadavg().map(round1) },
      runSeconds: Math.round((now() - started) / 1000),
      setup: {
        nodes: NODES,
        villages: VILLAGES,
        weatherStations: devices.filter((d) => d.kind === 'weather').length,
        readingsPerReport: '4 (soil node) or 6 (weather station, every fifth node)',
        deviceTimeBetweenReportsS: REPORT_MS / 1000,
        credentials: 'one id and secret per node, registered with the registry’s addDevice',
        qos: 1,
        windowPerNode: WINDOW,
        keepAliveS: KEEPALIVE_S,
        loadProcesses: PROCS,
        service:
          'kampung up (embedded aedes, in-process ingest, alerts engine and Oksigen verifier on) → InfluxDB',
      },
      connect,
      cold,
      warm,
      paced,
      ...(pacedHalf ? { pacedHalf } : {}),
      peakRssMb: peakRss,
      rssAtStartMb: rssAtStart,
      idle,
      storm,
      auth,
      floor,
      lost,
      targets: {
        zeroLost: lost === 0,
        serviceCpuAtMost10UsPerReport: warm.cpuUsPerMessage.service <= 10,
        pacedP99Below500Ms: paced.latencyMs.p99 < 500,
        rssBelow1GiB: peakRss < 1024,
        stormAllReportingWithin20s: storm.allStoredAfterStartS <= 20,
        coldAtLeast80PctOfWarm: cold.messagesPerS >= 0.8 * warm.messagesPerS,
      },
    }
    const dir = path.join(import.meta.dirname, 'results')
    writeFileSync(path.join(dir, 'district.json'), `${JSON.stringify(result, null, 2)}\n`)
    writeDistrictMarkdown()
    log(`done in ${result.runSeconds} s`)
  } finally {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL')
    if (service) keepServiceLog(service, 0)
    await service?.kill('SIGKILL')
    await influx.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** A request that answers within `ms`, or undefined. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([promise.catch(() => undefined), sleep(ms).then(() => undefined)])
}

/**
 * A load process's request failed (its watchdog: no progress for BENCH_DISTRICT_STALL_S, see
 * district-client.ts StallError; or an error): gathers what a stall needs to be explained and
 * throws, so the run ends with a report instead of hanging. Written to
 * $TMPDIR/kampung-district-stall-<time>.json, summarised on stderr:
 * - every load process's dump (nodes not done: in-flight reports and their message ids, when
 *   sent, the last packet received, PUBACKs for ids not in flight, socket counters);
 * - the service's /health and its counters (/metrics: messages by outcome, pending readings,
 *   open sockets, online devices, broker refusals);
 * - `ss` of each stuck node's connection, both ends (bytes queued in the kernel either way);
 * - for each report in flight, whether InfluxDB holds its readings (stored without a PUBACK, or
 *   never stored);
 * - the service's last 100 lines of output (warnings and errors).
 */
async function stallReport(
  err: Error,
  phase: string,
  procs: LoadProcess[],
  service: { mqtt: number; api: number; output: () => string },
  influxUrl: string,
): Promise<never> {
  const { mqtt: mqttPort, api: apiPort } = service
  log(`${phase}: ${err.message}`)
  const dumps = (
    await Promise.all(procs.map((p) => within(p.request<ClientDump>({ cmd: 'dump' }), 5_000)))
  ).filter((d): d is ClientDump => d !== undefined)
  const failed = (err as Error & { dump?: ClientDump }).dump
  // The failed process answers `dump` too, after its phase was given up: keep the dump of the moment.
  const all = failed ? [failed, ...dumps.filter((d) => d.pid !== failed.pid)] : dumps
  const text = async (url: string) =>
    within(
      fetch(url).then((r) => r.text()),
      5_000,
    )
  const metrics = (await text(`http://127.0.0.1:${apiPort}/metrics`)) ?? ''
  const serviceCounters = metrics
    .split('\n')
    .filter((l) =>
      /^kampung_(messages_total|ingest_pending_readings|broker_|store_write_failures|quota_refusals)/.test(l),
    )
  const health = await text(`http://127.0.0.1:${apiPort}/health`)
  const stuck = all.flatMap((d) => d.stuck)
  const ports = new Set(stuck.map((n) => n.localPort).filter((p) => p > 0))
  let sockets: string[] = []
  try {
    // Only the broker's connections (other runs on the machine may hold tens of thousands).
    const filter = `( sport = :${mqttPort} or dport = :${mqttPort} )`
    sockets = execFileSync('ss', ['-tnH', filter], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 })
      .split('\n')
      .filter((l) => {
        // Both ends of a node's connection: the broker's port and the node's.
        const ends = [...l.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]))
        return ends.includes(mqttPort) && ends.some((p) => ports.has(p))
      })
  } catch (e) {
    sockets = [`ss failed: ${(e as Error).message}`]
  }
  const stored: Array<{ id: string; index: number; messageId: number; readingsStored: number }> = []
  for (const n of stuck.slice(0, 20))
    for (const r of n.inFlightReports) {
      const q = `SELECT count("value") FROM "${DATABASE}"."raw"./^(${QUANTITIES_SENT.join('|')})$/ WHERE "device" = '${n.id}' AND time = ${r.deviceTimeMs}ms`
      const rows = await influxQuery(influxUrl, DATABASE, q).catch(() => [])
      stored.push({
        id: n.id,
        index: r.index,
        messageId: r.id,
        readingsStored: rows.reduce((k, row) => k + Number(row.count ?? 0), 0),
      })
    }
  const report = {
    phase,
    date: new Date().toISOString(),
    error: err.message,
    dumps: all,
    serviceCounters,
    health,
    sockets,
    stored,
    /** The service's output (level warn: warnings and errors), its last lines. */
    serviceOutput: service.output().split('\n').slice(-100),
  }
  const file = path.join(os.tmpdir(), `kampung-district-stall-${report.date.replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`)
  for (const d of all)
    log(
      `load process ${d.pid}: ${d.notDone} of ${d.nodes} nodes not done (${d.connected} connected, ${d.withInFlight} with reports in flight), ${d.counts.unexpectedAcks} PUBACKs for ids not in flight, ${d.counts.dropped} dropped after CONNACK, last progress ${Math.round(d.msSinceProgress / 1000)} s ago`,
    )
  for (const n of stuck.slice(0, 10))
    log(
      `  ${n.id} port ${n.localPort} ${n.connected ? 'connected' : 'not connected'} socket ${n.socket?.readyState ?? 'none'} acked ${n.acked}/${n.packets} in flight ${JSON.stringify(n.inFlightReports)} last rx ${n.lastRxType} ${n.msSinceRx} ms ago, sent ${n.msSinceSent} ms ago, connects ${n.connects} closes ${n.closes} unexpected acks ${JSON.stringify(n.unexpectedAcks)} uncounted ${n.uncountedAcks}`,
    )
  log(`service: ${serviceCounters.join('; ')}`)
  log(`sockets of stuck nodes (ss, Recv-Q Send-Q): ${sockets.slice(0, 20).join(' | ')}`)
  log(`in-flight reports in InfluxDB: ${JSON.stringify(stored.slice(0, 20))}`)
  log(`stall report in ${file}`)
  throw new Error(`${phase}: load generator stalled (report in ${file})`)
}

/** SIGTERM, and the run fails if the service has not exited 60 s later (a stop that hangs). */
async function stopService(service: KampungProcess): Promise<void> {
  if ((await within(service.kill('SIGTERM'), 60_000)) === undefined && service.child.exitCode === null) {
    log(`service did not exit within 60 s of SIGTERM; last output:\n${service.output().slice(-3000)}`)
    throw new Error('service did not exit within 60 s of SIGTERM')
  }
}

/** Signals the service to write a heap snapshot into `dir` and waits until the file stops growing. */
async function heapSnapshot(pid: number, dir: string): Promise<void> {
  const before = new Set(existsSync(dir) ? readdirSync(dir) : [])
  process.kill(pid, 'SIGUSR2')
  let size = -1
  const deadline = performance.now() + 10 * 60_000
  for (;;) {
    await sleep(2_000)
    if (performance.now() > deadline) throw new Error(`no complete heap snapshot in ${dir} after 10 min`)
    const file = readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'))
    if (!file) continue
    const now = statSync(path.join(dir, file)).size
    if (now > 0 && now === size) {
      log(`heap snapshot ${path.join(dir, file)} (${Math.round(now / 2 ** 20)} MB)`)
      return
    }
    size = now
  }
}

/** The service's memory (process.memoryUsage, MB) from its Prometheus metrics. */
async function serviceMemory(apiPort: number): Promise<Record<string, number>> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text()
    const out: Record<string, number> = {}
    for (const m of text.matchAll(/^kampung_process_memory_bytes\{kind="([^"]+)"\} (\d+)/gm))
      out[m[1]!] = Math.round(Number(m[2]) / 2 ** 20)
    return out
  } catch (err) {
    log(`metrics not read: ${(err as Error).message}`)
    return {}
  }
}

/** The service's broker refusals by cause, from its Prometheus metrics. */
async function brokerRefusals(apiPort: number): Promise<Record<string, number>> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text()
    const out: Record<string, number> = {}
    for (const m of text.matchAll(/^kampung_broker_refusals_total\{cause="([^"]+)"\} (\d+)/gm))
      if (Number(m[2]) > 0) out[m[1]!] = Number(m[2])
    return out
  } catch (err) {
    log(`metrics not read: ${(err as Error).message}`)
    return {}
  }
}

/** CPU per `Registry.verifySecret` of a right secret (fresh registry: nothing cached) and the refusal of a wrong one. */
async function verifyCost(
  registryPath: string,
  devices: LoadDevice[],
): Promise<{
  sample: number
  cpuUsPerVerification: number
  wallUsPerVerification: number
  fleetCpuS: number
  wrongSecretRefused: boolean
  hashScheme: string
}> {
  const registry = new Registry({ path: registryPath, schemas: SCHEMAS })
  await registry.start()
  try {
    const sample = devices.slice(0, Math.min(VERIFY_SAMPLE, devices.length))
    const cpu0 = process.cpuUsage()
    const wall0 = now()
    for (const d of sample) {
      if (!(await registry.verifySecret(d.id, d.secret))) throw new Error(`${d.id}: its own secret refused`)
    }
    const cpu = process.cpuUsage(cpu0)
    const wall = now() - wall0
    const wrong = `${devices[1]!.secret.slice(0, -1)}${devices[1]!.secret.endsWith('A') ? 'B' : 'A'}`
    const wrongSecretRefused = (await registry.verifySecret(devices[1]!.id, wrong)) === undefined
    const row = registry
      .database()
      .prepare('SELECT secret_hash FROM devices WHERE id = ?')
      .get(devices[0]!.id) as {
      secret_hash: string
    }
    const perUs = (cpu.user + cpu.system) / sample.length
    return {
      sample: sample.length,
      cpuUsPerVerification: Math.round(perUs),
      wallUsPerVerification: Math.round((wall * 1000) / sample.length),
      fleetCpuS: round1((perUs * NODES) / 1e6),
      wrongSecretRefused,
      // The stored hash's scheme and parameters (everything before the salt).
      hashScheme: row.secret_hash.split('$').slice(0, -2).join('$'),
    }
  } finally {
    await registry.stop()
  }
}

/** The parts of bench/run.ts's ingest.json shown beside the district. */
interface IngestPhase extends Omit<PhaseFigures, 'cpuUsPerMessage'> {
  cpuUsPerMessage: { service: number; influxd: number; loadGenerator: number }
}
interface IngestJson {
  date: string
  bareAedes?: { cpuUsPerMessage?: number }
  barePuback?: { cpuUsPerMessage: number }
  endToEnd: IngestPhase
  coldEndToEnd: IngestPhase
}

/**
 * bench/results/district.md from district.json, with the 50 × 1 s ingest run (ingest.json) as
 * the second line. `npm run bench` calls it again after the ingest benchmark has run.
 */
export function writeDistrictMarkdown(): void {
  const dir = path.join(import.meta.dirname, 'results')
  // biome-ignore lint/suspicious/noExplicitAny: the JSON this file wrote
  const r = JSON.parse(readFileSync(path.join(dir, 'district.json'), 'utf8')) as any
  const ingestPath = path.join(dir, 'ingest.json')
  const ingest = existsSync(ingestPath)
    ? (JSON.parse(readFileSync(ingestPath, 'utf8')) as IngestJson)
    : undefined
  const m = r.machine
  const yes = (b: boolean) => (b ? 'met' : '**not met**')
  const reasons = (by: Record<string, number> | undefined) =>
    by && Object.keys(by).length
      ? Object.entries(by)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')
      : 'none'
  const memory = (m: Record<string, number> | undefined) =>
    m?.heap_used === undefined
      ? 'memory not read'
      : `V8 heap used ${m.heap_used} MB of ${m.heap_total} committed (new space ${m.new_space}, old space ${m.old_space}), external ${m.external} MB`
  const line = (label: string, p: PhaseFigures) =>
    `| ${label} | ${p.messagesPerS} | ${p.readingsPerS} | ${p.cpuUsPerMessage.service} | ${p.cpuUsPerMessage.influxd} | ${p.cpuUsPerMessage.loadGenerators} | ${p.latencyMs.p50} / ${p.latencyMs.p99} | ${p.messages} / ${p.lost} | ${p.cpuBusyPct} % |`
  const md = [
    `# District benchmark (${r.date})`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.influxd}. Load average before / after: ${r.loadAverage.before.join(' ')} / ${r.loadAverage.after.join(' ')} (the 2 cores are shared with other work: read CPU µs per message, the steadier figure). Run time ${r.runSeconds} s.`,
    '',
    `Setup: \`kampung up\` (embedded aedes, in-process ingest, alerts engine and Oksigen verifier on) → InfluxDB; ${r.setup.nodes} MQTT connections in ${r.setup.loadProcesses} load processes, each node with its own id and secret (${r.auth.hashScheme}), ${r.setup.villages} villages, ${r.setup.weatherStations} weather stations (6 readings per report), the rest soil nodes (4); device times ${r.setup.deviceTimeBetweenReportsS} s apart, replayed as fast as the service acknowledges (QoS 1, window ${r.setup.windowPerNode} per node); a phase is timed from its first publish until its last reading is queryable; latency is publish → PUBACK (= stored).`,
    '',
    '| run | msgs/s | readings/s | service CPU µs/msg | influxd µs/msg | load generators µs/msg | p50 / p99 ms | messages / lost | cores busy |',
    '|---|---|---|---|---|---|---|---|---|',
    line(`**district warm** (${r.setup.nodes} × ${r.warm.reportsPerNode} reports, 60 s apart)`, r.warm),
    line(`district cold (fresh process, ${r.setup.nodes} × ${r.cold.reportsPerNode})`, r.cold),
    line(
      `district paced at ${r.paced.pacedAtPerS} reports/s (${r.setup.nodes} × ${r.paced.reportsPerNode})`,
      r.paced,
    ),
    ...(r.pacedHalf
      ? [
          line(
            `district paced at ${r.pacedHalf.pacedAtPerS} reports/s, half the warm rate (${r.setup.nodes} × ${r.pacedHalf.reportsPerNode})`,
            r.pacedHalf,
          ),
        ]
      : []),
    ...(ingest
      ? [
          line(`50 × 1 s warm (\`ingest.json\`, ${ingest.date.slice(0, 16)})`, {
            ...ingest.endToEnd,
            cpuUsPerMessage: {
              ...ingest.endToEnd.cpuUsPerMessage,
              loadGenerators: ingest.endToEnd.cpuUsPerMessage.loadGenerator,
            },
          }),
          line('50 × 1 s cold', {
            ...ingest.coldEndToEnd,
            cpuUsPerMessage: {
              ...ingest.coldEndToEnd.cpuUsPerMessage,
              loadGenerators: ingest.coldEndToEnd.cpuUsPerMessage.loadGenerator,
            },
          }),
        ]
      : []),
    '',
    `Peak RSS of the service ${r.peakRssMb} MB (${r.rssAtStartMb} MB at start); at the end of the warm phase ${memory(r.warm.serviceMemoryMb)}. Cold / warm: ${Math.round((100 * r.cold.messagesPerS) / r.warm.messagesPerS)} %.`,
    '',
    ...(r.floor
      ? [
          `**Floor** (the same load shape, ${r.floor[0]?.nodes} connections, ${r.floor[0]?.reportsPerNode} reports per node after a warm-up, window ${r.setup.windowPerNode}, against servers that authenticate and store nothing; CPU of the server process per report, from /proc): ${r.floor.map((f: { server: string; cpuUsPerMessage: number; systemUsPerMessage: number; messagesPerS: number }) => `${f.server} ${f.cpuUsPerMessage} µs (of it system ${f.systemUsPerMessage}), ${f.messagesPerS} msgs/s`).join('; ')}. The bare PUBACK server (bench/bare-puback.ts) only reads each PUBLISH and writes its PUBACK: on loopback the writer's system time includes the receiver's TCP delivery. The service's warm figure above is ${r.warm.cpuUsPerMessage.service} µs.`,
          '',
        ]
      : []),
    ...(ingest?.bareAedes?.cpuUsPerMessage !== undefined
      ? [
          `Floor of the 50 × 1 s run (\`ingest.json\`, same load, window 100): bare aedes ${ingest.bareAedes.cpuUsPerMessage} µs per report${ingest.barePuback ? `, bare PUBACK server ${ingest.barePuback.cpuUsPerMessage} µs` : ''}; the service ${ingest.endToEnd.cpuUsPerMessage.service} µs.`,
          '',
        ]
      : []),
    `First connection of all ${r.connect.nodes} nodes into the fresh service: ${r.connect.seconds} s, service CPU ${r.connect.serviceCpuS} s (main thread ${r.connect.serviceCpuMainThreadS} s, other threads ${r.connect.serviceCpuOtherThreadsS} s), ${r.connect.failedAttempts} attempts refused or dropped (${r.connect.connackTimeouts} without CONNACK after ${CONNACK_TIMEOUT_MS / 1000} s), ${r.connect.droppedAfterConnack} closed by the service after their CONNACK (${r.idle.droppedSinceStart} by the end of the idle phase; each reconnected and sent its unacknowledged reports again), RSS after ${r.connect.rssMb} MB: ${r.connect.rssKbPerConnection} KB per connection (RSS / V8 heap used / heap committed, MB, by connections: ${(r.connect.rssSteps ?? []).map((x: { connected: number; rssMb: number; memory: Record<string, number> }) => `${x.connected}: ${x.rssMb} / ${x.memory.heap_used} / ${x.memory.heap_total}`).join(', ')}).`,
    '',
    `**Idle** (${r.idle.connected} connected nodes, keep-alive ${r.setup.keepAliveS} s, ${r.idle.keepAlivePings} PINGREQs in ${r.idle.seconds} s): service RSS ${r.idle.serviceRssMb} MB (${memory(r.idle.serviceMemoryMb)}), service CPU ${r.idle.serviceCpuPctOfCore} % of a core (${r.idle.serviceCpuUsPerNodeSecond} µs per node per second), influxd ${r.idle.influxdCpuPctOfCore} % of a core.`,
    '',
    `**Reconnect storm** (SIGTERM, then a new service process on the same port and data; every node reconnects on its own, retrying every ~${RETRY_MS / 1000} s ± half while refused, and sends one report at once): stop ${r.storm.stopSeconds} s; new process listening ${r.storm.startSeconds} s after its start; **all ${r.setup.nodes} connected ${r.storm.allConnectedAfterStartS} s and all first reports stored ${r.storm.allStoredAfterStartS} s after the new process started** (${r.storm.allStoredAfterListeningS} s after it listened, ${r.storm.allStoredAfterStopS} s after the SIGTERM); ${r.storm.failedConnectAttempts} attempts refused or dropped (${r.storm.connackTimeouts} without CONNACK after ${CONNACK_TIMEOUT_MS / 1000} s); by reason ${reasons(r.storm.failedByReason)}, of them after the new process said it was running ${reasons(r.storm.failedByReasonAfterRunning)} (\`no_listener\`: nothing listening yet; \`tcp_connect_timeout\` / \`connack_timeout\`: no TCP handshake / no CONNACK in ${CONNACK_TIMEOUT_MS / 1000} s; \`reset\`, \`closed_before_connack\`: by the service; \`connack_N\`: refused with code N); ${r.storm.slowTcpConnects} TCP handshakes took ≥ 0.9 s (a SYN dropped by a full listen queue and sent again; longest ${r.storm.maxTcpConnectMs} ms since the start); the service refused ${reasons(r.storm.serviceRefusals)}; first report p50 / p99 ${r.storm.firstReportLatencyMs.p50} / ${r.storm.firstReportLatencyMs.p99} ms; lost ${r.storm.lost}. Service CPU from listening to all stored ${r.storm.serviceCpuS} s (main thread ${r.storm.serviceCpuMainThreadS} s, other threads ${r.storm.serviceCpuOtherThreadsS} s), ${r.storm.serviceStartCpuS} s to start; influxd ${r.storm.influxdCpuS} s.`,
    '',
    `**Authentication** (\`Registry.verifySecret\`, fresh registry, ${r.auth.sample} devices one after another, this process): ${r.auth.cpuUsPerVerification} CPU µs (${r.auth.wallUsPerVerification} µs wall) per verification, so ${r.auth.fleetCpuS} CPU s for the ${r.setup.nodes} nodes of a storm; a wrong secret refused: ${r.auth.wrongSecretRefused}.`,
    '',
    '| target (issue 15) | figure | |',
    '|---|---|---|',
    `| service CPU ≤ 10 µs per report, district warm | ${r.warm.cpuUsPerMessage.service} | ${yes(r.targets.serviceCpuAtMost10UsPerReport)} |`,
    ...(ingest
      ? [
          `| service CPU ≤ 10 µs per report, 50 × 1 s | ${ingest.endToEnd.cpuUsPerMessage.service} | ${yes(ingest.endToEnd.cpuUsPerMessage.service <= 10)} |`,
        ]
      : []),
    `| 0 lost | ${r.lost} | ${yes(r.targets.zeroLost)} |`,
    `| p99 publish → stored < 500 ms at ${r.paced.pacedAtPerS} reports/s | ${r.paced.latencyMs.p99} ms (achieved ${r.paced.messagesPerS} msgs/s) | ${yes(r.targets.pacedP99Below500Ms)} |`,
    `| service RSS < 1 GiB with ${r.setup.nodes} nodes | ${r.peakRssMb} MB peak | ${yes(r.targets.rssBelow1GiB)} |`,
    `| after a restart all reconnected and reporting within 20 s | ${r.storm.allStoredAfterStartS} s | ${yes(r.targets.stormAllReportingWithin20s)} |`,
    `| cold ≥ 80 % of warm | ${Math.round((100 * r.cold.messagesPerS) / r.warm.messagesPerS)} % | ${yes(r.targets.coldAtLeast80PctOfWarm)} |`,
    '',
  ].join('\n')
  writeFileSync(path.join(dir, 'district.md'), md)
  console.log(md)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
