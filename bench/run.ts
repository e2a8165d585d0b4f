/**
 * `npm run bench`. First the headline, the district benchmark (bench/district.ts, issue 15:
 * 10 000 nodes with their own credentials reporting 60 s apart, idle cost, reconnect storm):
 * bench/results/district.{json,md}. Then the ingest benchmark of the foundation issue:
 *
 *  1. raw limit: the same number of points written straight to InfluxDB's /write in batches of
 *     5 000, one request in flight;
 *  2. end-to-end: `kampung up` (broker + in-process ingest + InfluxDB store) as its own process;
 *     50+ device connections publish QoS 1 reports of 4–6 readings; publish→PUBACK latency is
 *     publish→stored (the broker acknowledges only durable readings); the run ends when the last
 *     reading is queryable.
 *
 * Writes bench/results/ingest.json and ingest.md (and district.md again: this run is its second
 * line). Sizes: BENCH_READINGS (default 1 000 000), BENCH_DEVICES (default 50), BENCH_WINDOW
 * (unacknowledged messages per connection, default 100), BENCH_RUNS (default 3; the headline is the
 * median run).
 * Then the Sedekah Oksigen processing benchmark (bench/oksigen.ts): bench/results/oksigen.{json,md},
 * the alerts end-to-end benchmark (bench/alerts-e2e.ts): bench/results/alerts.{json,md}, the
 * scaling benchmark (bench/scaling.ts: 1, 2, 3 ingest workers on a Mosquitto shared
 * subscription): bench/results/scaling.{json,md}, the alert-quality benchmark
 * (bench/alert-quality.ts, no influxd): bench/results/alert-quality.{json,md}, and last the
 * officer's view (bench/officer.ts: every dashboard query over 90 days of a 300-node district):
 * bench/results/officer.{json,md}.
 * BENCH_ONLY=district | officer | scaling | alert-quality runs only that one; BENCH_ONLY=e2e only the
 * 50-connection ingest benchmark, BENCH_ONLY=ingest that with Oksigen and alerts end to end.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { encodeReadings } from '../src/store/influx/line-protocol.ts'
import type { Reading } from '../src/telemetry/reading.ts'
import { startInfluxd } from '../tests/harness/influxd.ts'
import { influxQuery } from '../tests/harness/influxql.ts'
import { freePort, waitForPort } from '../tests/harness/ports.ts'
import { serviceEnv, spawnKampung } from '../tests/harness/process.ts'
import { writeDistrictMarkdown } from './district.ts'
import { type LoadDevice, QUANTITIES_SENT } from './load-client.ts'
import { LOAD_WORKERS, registerFleet, runLoad } from './load-runner.ts'
import { cpuSeconds, machine, peakRssMb, percentile } from './proc-stats.ts'

/** The measured (warm) phase. */
const TARGET_READINGS = Number(process.env.BENCH_READINGS ?? 1_000_000)
/** The cold phase first: the freshly started service, the issue's minimum size. */
const COLD_READINGS = Number(process.env.BENCH_COLD_READINGS ?? 250_000)
const DEVICES = Number(process.env.BENCH_DEVICES ?? 50)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 100)
/** Each phase runs this often; the headline is the median (this VM is noisy). */
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
/**
 * Device time between two reports of one device, seconds (BENCH_REPORT_EVERY_S, default 1; replayed
 * as fast as the service accepts them). At 60 every reading is its series' only one in a minute, so
 * each becomes an alerts-history row (issue 15); results then go to ingest-60s.{json,md}.
 */
const REPORT_EVERY_MS = 1000 * Number(process.env.BENCH_REPORT_EVERY_S ?? 1)
const RESULTS_NAME = REPORT_EVERY_MS === 1000 ? 'ingest' : `ingest-${REPORT_EVERY_MS / 1000}s`
const RAW_BATCH = 5000
const VILLAGE = 'bench'

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`)

async function rawLimit(
  influxUrl: string,
  points: number,
  db: string,
): Promise<{ pointsPerS: number; seconds: number }> {
  await fetch(`${influxUrl}/query?q=${encodeURIComponent(`CREATE DATABASE ${db}`)}`, { method: 'POST' })
  const base = Date.UTC(2026, 0, 1)
  const bodies: string[] = []
  for (let start = 0; start < points; start += RAW_BATCH) {
    const readings: Reading[] = []
    for (let i = start; i < Math.min(points, start + RAW_BATCH); i++) {
      readings.push({
        timeMs: base + Math.floor(i / DEVICES) * 1000,
        village: VILLAGE,
        device: `dev-${i % DEVICES}`,
        sensor: 'main',
        quantity: 'soil_moisture',
        value: (i % 1000) / 10,
      })
    }
    bodies.push(encodeReadings(readings).join('\n'))
  }
  const started = performance.now()
  for (const body of bodies) {
    const res = await fetch(`${influxUrl}/write?db=${db}&precision=ms`, { method: 'POST', body })
    if (res.status !== 204) throw new Error(`raw write failed: ${res.status} ${await res.text()}`)
  }
  const seconds = (performance.now() - started) / 1000
  const rows = await fetch(
    `${influxUrl}/query?db=${db}&q=${encodeURIComponent(`SELECT count(value) FROM "${db}"."autogen"."soil_moisture"`)}`,
  )
  const answer = (await rows.json()) as { results: Array<{ series?: Array<{ values: number[][] }> }> }
  const stored = answer.results[0]?.series?.[0]?.values[0]?.[1] ?? 0
  if (stored !== points) log(`raw limit: ${stored} of ${points} points stored`)
  return { pointsPerS: points / seconds, seconds }
}

/**
 * A server that authenticates and stores nothing, the same load: stock aedes (`bare-aedes.ts`,
 * the broker's own ceiling on this machine) or the bare PUBACK server (`bare-puback.ts`, reading
 * a PUBLISH and writing its PUBACK and nothing else): messages/s and its CPU µs per message.
 */
async function bareServer(
  file: 'bare-aedes.ts' | 'bare-puback.ts',
  devices: LoadDevice[],
  messagesPerDevice: number,
): Promise<{ messagesPerS: number; cpuUsPerMessage: number }> {
  const port = await freePort()
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL(`./${file}`, import.meta.url).pathname, String(port)],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  )
  try {
    await waitForPort(port)
    let cpu0 = 0
    const loads = await runLoad(port, devices, messagesPerDevice, WINDOW, undefined, () => {
      cpu0 = cpuSeconds(child.pid)
    })
    const cpu = cpuSeconds(child.pid) - cpu0
    const first = Math.min(...loads.map((l) => l.firstSendMs))
    const last = Math.max(...loads.map((l) => l.lastAckMs))
    const messages = loads.reduce((n, l) => n + l.messages, 0)
    return {
      messagesPerS: Math.round(messages / ((last - first) / 1000)),
      cpuUsPerMessage: Number(((cpu * 1e6) / messages).toFixed(1)),
    }
  } finally {
    child.kill('SIGTERM')
  }
}

interface EndToEnd {
  messages: number
  readings: number
  stored: number
  lost: number
  seconds: number
  readingsPerS: number
  messagesPerS: number
  latencyMs: { p50: number; p99: number; max: number }
  /** CPU the service and influxd used from the first publish until all queryable, µs per message. */
  cpuUsPerMessage: { service: number; influxd: number; loadGenerator: number }
  /** Share of all cores the three used over the run. */
  cpuBusyPct: number
  /** Last PUBACK → every reading counted by a query (includes the counting query itself). */
  lastAckToQueryableMs: number
  peakRssMb: number
}

/** One load through the running service, from the first publish until its last reading is queryable. */
interface Phase {
  /** Time of the first report of each device; phases use disjoint time ranges so each is counted alone. */
  baseTimeMs: number
  messagesPerDevice: number
  totalReadings: number
}

/**
 * `kampung up` on its own database; a cold phase (the freshly started process) and then the
 * measured warm phase through the same process, each until its last reading is queryable.
 */
async function endToEnd(o: {
  dataDir: string
  influxUrl: string
  database: string
  influxPid: () => number | undefined
  devices: LoadDevice[]
  cold: Phase
  warm: Phase
}): Promise<{ cold: EndToEnd; warm: EndToEnd }> {
  const mqttPort = await freePort()
  const server = spawnKampung(
    ['up'],
    {
      ...serviceEnv({ dataDir: o.dataDir, influxUrl: o.influxUrl, mqttPort, apiPort: await freePort() }),
      KAMPUNG_INFLUX_DATABASE: o.database,
      KAMPUNG_LOG_LEVEL: 'warn',
    },
    // BENCH_PROFILE=DIR writes a V8 CPU profile of the service there (open in Chrome DevTools).
    [
      ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
    ],
  )
  try {
    await server.waitForOutput(/smart-kampung running/)
    const pid = server.child.pid!
    let peakRss = 0
    const rssTimer = setInterval(() => {
      peakRss = Math.max(peakRss, peakRssMb(pid))
    }, 200)
    const cpuNow = () => ({
      service: cpuSeconds(pid),
      influxd: cpuSeconds(o.influxPid()),
      // this process: the load generator's threads (and this thread's little work)
      load: cpuSeconds(process.pid),
    })
    const measure = async (phase: Phase): Promise<EndToEnd> => {
      let cpuBefore = cpuNow()
      const loads = await runLoad(
        mqttPort,
        o.devices,
        phase.messagesPerDevice,
        WINDOW,
        phase.baseTimeMs,
        () => {
          cpuBefore = cpuNow()
        },
        REPORT_EVERY_MS,
      )
      const lastAckMs = Math.max(...loads.map((l) => l.lastAckMs))
      // The last reading is queryable (it was durable at PUBACK; InfluxDB makes it visible at once).
      // One query counts every measurement sent (a regex FROM), within this phase's time range.
      const endMs = phase.baseTimeMs + phase.messagesPerDevice * REPORT_EVERY_MS
      const countAll =
        `SELECT count("value") FROM "${o.database}"."raw"./^(${QUANTITIES_SENT.join('|')})$/` +
        ` WHERE time >= ${phase.baseTimeMs}ms AND time < ${endMs}ms`
      let stored = 0
      for (;;) {
        const rows = await influxQuery(o.influxUrl, o.database, countAll).catch(() => [])
        stored = rows.reduce((n, row) => n + Number(row.count ?? 0), 0)
        if (stored >= phase.totalReadings || performance.timeOrigin + performance.now() - lastAckMs > 30_000)
          break
        await new Promise((r) => setTimeout(r, 20))
      }
      const queryableMs = performance.timeOrigin + performance.now()
      const cpuAfter = cpuNow()
      peakRss = Math.max(peakRss, peakRssMb(pid))
      const latencies = new Float64Array(loads.reduce((n, l) => n + l.latenciesMs.length, 0))
      let at = 0
      for (const l of loads) {
        latencies.set(l.latenciesMs, at)
        at += l.latenciesMs.length
      }
      latencies.sort()
      const messages = loads.reduce((n, l) => n + l.messages, 0)
      const seconds = (queryableMs - Math.min(...loads.map((l) => l.firstSendMs))) / 1000
      const used = (k: 'service' | 'influxd' | 'load') => cpuAfter[k] - cpuBefore[k]
      const perMessage = (k: 'service' | 'influxd' | 'load') =>
        Number(((used(k) * 1e6) / messages).toFixed(1))
      return {
        messages,
        readings: phase.totalReadings,
        stored,
        lost: phase.totalReadings - stored,
        seconds: Number(seconds.toFixed(3)),
        readingsPerS: Math.round(phase.totalReadings / seconds),
        messagesPerS: Math.round(messages / seconds),
        lastAckToQueryableMs: Math.round(queryableMs - lastAckMs),
        cpuUsPerMessage: {
          service: perMessage('service'),
          influxd: perMessage('influxd'),
          loadGenerator: perMessage('load'),
        },
        cpuBusyPct: Math.round(
          (100 * (used('service') + used('influxd') + used('load'))) / (seconds * os.cpus().length),
        ),
        latencyMs: {
          p50: Number(percentile(latencies, 50).toFixed(1)),
          p99: Number(percentile(latencies, 99).toFixed(1)),
          max: Number(percentile(latencies, 100).toFixed(1)),
        },
        peakRssMb: peakRss,
      }
    }
    const cold = await measure(o.cold)
    const warm = await measure(o.warm)
    clearInterval(rssTimer)
    return { cold, warm: { ...warm, peakRssMb: Math.max(peakRss, peakRssMb(pid)) } }
  } finally {
    await server.kill('SIGTERM')
  }
}

async function main(): Promise<void> {
  const influx = await startInfluxd()
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-bench-'))
  try {
    const { devices, readingsPerRound } = await registerFleet(
      path.join(dataDir, 'registry.db'),
      DEVICES,
      VILLAGE,
    )
    const messagesPerDevice = Math.ceil(TARGET_READINGS / readingsPerRound)
    const totalReadings = messagesPerDevice * readingsPerRound
    const coldMessagesPerDevice = Math.ceil(COLD_READINGS / readingsPerRound)
    // Reports are REPORT_EVERY_MS apart per device; the cold phase's times end a day before the warm one's.
    const warmBaseMs = Date.UTC(2026, 10, 1)
    const cold: Phase = {
      baseTimeMs: warmBaseMs - 86_400_000 - coldMessagesPerDevice * REPORT_EVERY_MS,
      messagesPerDevice: coldMessagesPerDevice,
      totalReadings: coldMessagesPerDevice * readingsPerRound,
    }
    const warm: Phase = { baseTimeMs: warmBaseMs, messagesPerDevice, totalReadings }

    const runs: Array<{
      raw: number
      bare: number
      bareCpuUsPerMessage: number
      barePubackCpuUsPerMessage: number
      e2e: EndToEnd
      cold: EndToEnd
    }> = []
    for (let run = 1; run <= RUNS; run++) {
      log(
        `run ${run}/${RUNS}: raw limit, ${totalReadings} points to /write in batches of ${RAW_BATCH}, one in flight`,
      )
      const raw = await rawLimit(influx.url, totalReadings, `rawbench${run}`)
      log(`run ${run}/${RUNS}: bare aedes (no auth, no ingest, nothing stored), the same load`)
      const bare = await bareServer('bare-aedes.ts', devices, messagesPerDevice)
      const barePuback = await bareServer('bare-puback.ts', devices, messagesPerDevice)
      log(
        `run ${run}/${RUNS}: end-to-end, ${devices.length} connections: cold ${cold.totalReadings} readings, then warm ${devices.length} × ${messagesPerDevice} messages = ${totalReadings} readings`,
      )
      const phases = await endToEnd({
        dataDir,
        influxUrl: influx.url,
        influxPid: () => influx.pid,
        database: `kampung${run}`,
        devices,
        cold,
        warm,
      })
      const e2e = phases.warm
      log(
        `run ${run}/${RUNS}: raw ${Math.round(raw.pointsPerS)} points/s, bare aedes ${bare.messagesPerS} msg/s (${bare.cpuUsPerMessage} µs/msg), bare PUBACK server ${barePuback.cpuUsPerMessage} µs/msg, end-to-end cold ${phases.cold.messagesPerS} msg/s, warm ${e2e.messagesPerS} msg/s`,
      )
      runs.push({
        raw: Math.round(raw.pointsPerS),
        bare: bare.messagesPerS,
        bareCpuUsPerMessage: bare.cpuUsPerMessage,
        barePubackCpuUsPerMessage: barePuback.cpuUsPerMessage,
        e2e,
        cold: phases.cold,
      })
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
    // The headline is the median run by end-to-end throughput, with the median raw limit and bare figures.
    const byE2e = [...runs].sort((x, y) => x.e2e.readingsPerS - y.e2e.readingsPerS)
    const e = byE2e[Math.floor(byE2e.length / 2)]!.e2e
    const rawPointsPerS = median(runs.map((r) => r.raw))
    const bareMessagesPerS = median(runs.map((r) => r.bare))
    const lostAny = runs.some((r) => r.e2e.lost !== 0 || r.cold.lost !== 0)
    const coldMedian = [...runs].sort((x, y) => x.cold.readingsPerS - y.cold.readingsPerS)[
      Math.floor(runs.length / 2)
    ]!.cold
    const result = {
      name: 'ingest',
      date: new Date().toISOString(),
      machine: machine(),
      setup: {
        connections: devices.length,
        messagesPerConnection: messagesPerDevice,
        reportEveryS: REPORT_EVERY_MS / 1000,
        windowPerConnection: WINDOW,
        readingsPerMessage: '4 (soil) or 6 (weather)',
        qos: 1,
        loadWorkers: LOAD_WORKERS,
        store: 'InfluxDB via spool',
        ingest: 'in-process (embedded aedes)',
        runs: RUNS,
        phases:
          'per run one service process: a cold phase right after start, then the measured warm phase (its own time range)',
        coldReadings: cold.totalReadings,
        headline: 'warm phase, median run by end-to-end readings/s; raw and bare aedes: medians',
      },
      endToEnd: e,
      coldEndToEnd: coldMedian,
      rawLimit: { points: totalReadings, batch: RAW_BATCH, inFlight: 1, pointsPerS: rawPointsPerS },
      bareAedes: {
        messagesPerS: bareMessagesPerS,
        cpuUsPerMessage: median(runs.map((r) => r.bareCpuUsPerMessage)),
        note: 'stock aedes, no auth, no ingest, nothing stored; same load',
      },
      barePuback: {
        cpuUsPerMessage: median(runs.map((r) => r.barePubackCpuUsPerMessage)),
        note: 'bench/bare-puback.ts: reads each PUBLISH, writes its PUBACK, nothing else; same load',
      },
      ratio: Number((e.readingsPerS / rawPointsPerS).toFixed(3)),
      runs,
      targets: {
        zeroLost: !lostAny,
        e2eAtLeastHalfRaw: e.readingsPerS >= 0.5 * rawPointsPerS,
        messagesPerSAtLeast35k: e.messagesPerS >= 35_000,
      },
    }
    const dir = path.join(import.meta.dirname, 'results')
    writeFileSync(path.join(dir, `${RESULTS_NAME}.json`), `${JSON.stringify(result, null, 2)}\n`)
    const md = [
      `# Ingest benchmark (${result.date})`,
      '',
      `Machine: ${result.machine.cpu}, ${result.machine.cores} cores, ${result.machine.memoryGiB} GiB, Node ${result.machine.node}, ${result.machine.influxd}.`,
      `Setup: ${devices.length} MQTT connections, QoS 1, window ${WINDOW} per connection, ${messagesPerDevice} messages each of 4–6 readings, device times ${REPORT_EVERY_MS / 1000} s apart (replayed as fast as accepted); \`kampung up\` (embedded aedes + in-process ingest, alerts engine and Oksigen verifier on: the defaults) → InfluxDB.`,
      `Each run starts one service process and sends it a cold phase (${cold.totalReadings} readings right after start) and then the measured warm phase (${totalReadings} readings, its own time range); both are timed from the first publish until the last reading is queryable.`,
      '',
      `Median of ${RUNS} runs (this VM's figures vary by ±30 % from run to run; every run is listed below).`,
      '',
      '| figure | value | target |',
      '|---|---|---|',
      `| readings published / stored / lost (every run) | ${runs.map((r) => `${r.e2e.readings} / ${r.e2e.stored} / ${r.e2e.lost}`).join('; ')} | 0 lost |`,
      `| end-to-end readings/s (first publish → last queryable) | ${e.readingsPerS} | ≥ 50 % of raw |`,
      `| end-to-end messages/s | ${e.messagesPerS} | ≥ 35 000 |`,
      `| raw /write limit, points/s (batches of ${RAW_BATCH}, 1 in flight) | ${rawPointsPerS} | |`,
      `| end-to-end / raw | ${(result.ratio * 100).toFixed(1)} % | ≥ 50 % |`,
      `| bare aedes, same load (no auth, no ingest, nothing stored), messages/s | ${bareMessagesPerS} | (the broker's own ceiling) |`,
      `| floor: CPU µs per message of bare aedes / of the bare PUBACK server (bench/bare-puback.ts), same load | ${result.bareAedes.cpuUsPerMessage} / ${result.barePuback.cpuUsPerMessage} | (what the service's ${e.cpuUsPerMessage.service} µs is read against) |`,
      `| publish → stored latency p50 / p99 / max (ms) | ${e.latencyMs.p50} / ${e.latencyMs.p99} / ${e.latencyMs.max} | |`,
      `| peak RSS of the service (MB) | ${e.peakRssMb} | |`,
      `| cold phase (fresh process, ${cold.totalReadings} readings): readings/s, messages/s, lost | ${coldMedian.readingsPerS}, ${coldMedian.messagesPerS}, ${runs.map((r) => r.cold.lost).join(' / ')} | |`,
      '',
      '| run | raw points/s | bare aedes msg/s | cold msg/s (service CPU µs/msg) | warm msg/s | warm readings/s | p50 / p99 ms | last PUBACK → all queryable, ms | CPU µs per message: service / influxd / load generator | cores busy |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...runs.map(
        (r, i) =>
          `| ${i + 1} | ${r.raw} | ${r.bare} | ${r.cold.messagesPerS} (${r.cold.cpuUsPerMessage.service}) | ${r.e2e.messagesPerS} | ${r.e2e.readingsPerS} | ${r.e2e.latencyMs.p50} / ${r.e2e.latencyMs.p99} | ${r.e2e.lastAckToQueryableMs} | ${r.e2e.cpuUsPerMessage.service} / ${r.e2e.cpuUsPerMessage.influxd} / ${r.e2e.cpuUsPerMessage.loadGenerator} | ${r.e2e.cpuBusyPct} % |`,
      ),
      '',
    ].join('\n')
    writeFileSync(path.join(dir, `${RESULTS_NAME}.md`), md)
    console.log(md)
    if (process.env.BENCH_ONLY === 'e2e') return
    // Its own process, so its peak RSS is its own.
    log('Sedekah Oksigen: dendrometer processing throughput and incremental cost')
    execFileSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'oksigen.ts')], {
      stdio: 'inherit',
    })
    console.log(readFileSync(path.join(dir, 'oksigen.md'), 'utf8'))
    // Issue 4: reading published → SMS accepted by a real Kannel, under 5 000 readings/s (own influxd).
    log('alerts: publish → SMS submitted to Kannel under background load')
    execFileSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'alerts-e2e.ts')], {
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    console.log(readFileSync(path.join(dir, 'alerts.md'), 'utf8'))
  } finally {
    await influx.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** A simulated year through the real alert engine (recall, false alerts, SMS per farmer). */
function alertQuality(): void {
  log('alert quality: a simulated year, FAO-56 truth on the true soil, through the alert engine')
  execFileSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'alert-quality.ts')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  console.log(readFileSync(path.join(import.meta.dirname, 'results', 'alert-quality.md'), 'utf8'))
}

/** Its own process, like oksigen.ts: its workers and brokers are its own. */
function scaling(): void {
  log('scaling: 1, 2 and 3 ingest workers on a Mosquitto shared subscription')
  execFileSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'scaling.ts')], {
    stdio: 'inherit',
  })
}

/** The headline (issue 15): 10 000 nodes, idle cost, reconnect storm; its own process and load processes. */
function district(): void {
  log('district: 10 000 nodes reporting 60 s apart, idle, reconnect storm')
  execFileSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'district.ts')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  console.log(readFileSync(path.join(import.meta.dirname, 'results', 'district.md'), 'utf8'))
}

/** Every dashboard panel's query over 90 days of a 300-node district (issue 15). */
function officer(): void {
  log("officer's view: dashboard queries over 90 days of a 300-node district")
  execFileSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'officer.ts')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  console.log(readFileSync(path.join(import.meta.dirname, 'results', 'officer.md'), 'utf8'))
}

/**
 * BENCH_ONLY: `district`, `officer`, `scaling`, `alert-quality` run only that one; `e2e` only the
 * 50-connection ingest benchmark; `ingest` that with Oksigen and alerts end to end. Unset: all,
 * the district first.
 */
async function all(): Promise<void> {
  const only = process.env.BENCH_ONLY
  if (only === undefined || only === 'district') district()
  if (only === 'officer') officer()
  if (only === undefined || only === 'e2e' || only === 'ingest') {
    await main()
    // The district's markdown carries this run's 50 × 1 s figures as its second line.
    if (existsSync(path.join(import.meta.dirname, 'results', 'district.json'))) writeDistrictMarkdown()
  }
  if (only === undefined || only === 'scaling') scaling()
  if (only === undefined || only === 'alert-quality') alertQuality()
  if (only === undefined) officer()
}

all().catch((err) => {
  console.error(err)
  process.exit(1)
})
