/**
 * The scaling benchmark of issue 7: throughput with 1, 2 and 3 `kampung ingest` workers sharing
 * the load through an MQTT 5 shared subscription (`$share/<group>/kampung/+/+/up`) on a real
 * Mosquitto, into a real influxd, in one run.
 *
 * Each measurement gets a fresh Mosquitto (no sessions left over from the previous one) and its
 * own database. The load generator (bench/load-client.ts) publishes QoS 1 reports of 4–6 readings;
 * Mosquitto's PUBACK means "the broker has it", so throughput is measured from the first publish
 * to the moment the last reading is queryable in InfluxDB. As a reference, the same load against
 * Mosquitto with no subscriber shows the broker's own ceiling here.
 *
 * `npx tsx bench/scaling.ts` or `BENCH_ONLY=scaling npm run bench`; `npm run bench` runs it after
 * the ingest and Sedekah Oksigen benchmarks. Writes bench/results/scaling.{json,md}.
 * Knobs: BENCH_READINGS (default 250 000), BENCH_DEVICES (50), BENCH_WINDOW (100),
 * BENCH_RUNS (3; the headline per worker count is the median run), BENCH_MAX_WORKERS (3).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startInfluxd } from '../tests/harness/influxd.ts'
import { influxCount } from '../tests/harness/influxql.ts'
import { startMosquitto } from '../tests/harness/mosquitto.ts'
import { freePort } from '../tests/harness/ports.ts'
import { type KampungProcess, spawnKampung } from '../tests/harness/process.ts'
import type { LoadDevice, LoadResult } from './load-client.ts'
import { LOAD_WORKERS, registerFleet, runLoad } from './load-runner.ts'

const TARGET_READINGS = Number(process.env.BENCH_READINGS ?? 250_000)
const DEVICES = Number(process.env.BENCH_DEVICES ?? 50)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 100)
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const MAX_WORKERS = Number(process.env.BENCH_MAX_WORKERS ?? 3)
const VILLAGE = 'bench'
/** A run that has not stored everything this long after the last PUBACK counts what it has. */
const SETTLE_TIMEOUT_MS = 60_000
const CLOCK_TICKS_PER_S = 100 // USER_HZ on Linux

const log = (msg: string) => process.stderr.write(`[bench scaling] ${msg}\n`)

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S
  } catch {
    return 0
  }
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const total = cpu.reduce((a, b) => a + b, 0)
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0)
  return { busy: total - idle, total }
}

interface Measurement {
  workers: number
  run: number
  readings: number
  stored: number
  lost: number
  seconds: number
  readingsPerS: number
  messagesPerS: number
  /** CPU seconds per 100 000 readings, summed over the workers. */
  workerCpuSPer100k: number
  mosquittoCpuSPer100k: number
  /** Share of both cores busy (everything on the machine) during the run. */
  machineBusyPct: number
  /** Readings each worker took (from its /metrics), to show the split. */
  perWorkerReadings: number[]
}

const QUANTITIES = {
  soil: ['soil_moisture', 'soil_temperature', 'battery_voltage', 'signal_strength'],
  weather: ['air_temperature', 'relative_humidity', 'pressure', 'rainfall', 'wind_speed', 'solar_radiation'],
}

async function acceptedBy(apiPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text()
  return [...text.matchAll(/^kampung_readings_accepted_total\{[^}]*\} (\d+)/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  )
}

async function measure(o: {
  workers: number
  run: number
  influxUrl: string
  registryPath: string
  root: string
  devices: LoadDevice[]
  messagesPerDevice: number
}): Promise<Measurement> {
  const mosquitto = await startMosquitto()
  const database = `scale${o.workers}r${o.run}`
  const procs: KampungProcess[] = []
  const apiPorts: number[] = []
  try {
    for (let w = 1; w <= o.workers; w++) {
      const apiPort = await freePort()
      apiPorts.push(apiPort)
      procs.push(
        spawnKampung(['ingest', '--api'], {
          KAMPUNG_DATA_DIR: path.join(o.root, `${database}-w${w}`),
          KAMPUNG_REGISTRY_PATH: o.registryPath,
          KAMPUNG_INFLUX_URL: o.influxUrl,
          KAMPUNG_INFLUX_DATABASE: database,
          KAMPUNG_INGEST_MQTT_URL: mosquitto.url,
          KAMPUNG_INGEST_MQTT_CLIENT_ID: `${database}-ingest-${w}`,
          KAMPUNG_INGEST_MQTT_SHARED_GROUP: 'ingest',
          KAMPUNG_API_HOST: '127.0.0.1',
          KAMPUNG_API_PORT: String(apiPort),
        }),
      )
    }
    await Promise.all(procs.map((p) => p.waitForOutput(/ingest subscribed/, 60_000)))
    const expected = new Map<string, number>()
    for (const d of o.devices)
      for (const q of QUANTITIES[d.kind]) expected.set(q, (expected.get(q) ?? 0) + o.messagesPerDevice)
    const readings = [...expected.values()].reduce((a, b) => a + b, 0)

    const cpu0 = procs.map((p) => cpuSeconds(p.child.pid!))
    const mosq0 = cpuSeconds(mosquitto.pid)
    const machine0 = machineTicks()
    const loads = await runLoad(mosquitto.port, o.devices, o.messagesPerDevice, WINDOW)
    const lastAckMs = Math.max(...loads.map((l) => l.lastAckMs))
    // Done when the last reading of both device kinds is queryable.
    const probe = ['signal_strength', 'solar_radiation'].filter((q) => expected.has(q))
    for (;;) {
      const counts = await Promise.all(probe.map((q) => influxCount(o.influxUrl, database, q).catch(() => 0)))
      if (counts.every((n, i) => n >= expected.get(probe[i]!)!)) break
      if (Date.now() - lastAckMs > SETTLE_TIMEOUT_MS) break
      await new Promise((r) => setTimeout(r, 50))
    }
    const doneMs = performance.timeOrigin + performance.now()
    const machine1 = machineTicks()
    const workerCpu = procs.reduce((n, p, i) => n + cpuSeconds(p.child.pid!) - cpu0[i]!, 0)
    const mosqCpu = cpuSeconds(mosquitto.pid) - mosq0
    let stored = 0
    for (const q of expected.keys()) stored += await influxCount(o.influxUrl, database, q)
    const perWorkerReadings = await Promise.all(apiPorts.map(acceptedBy))
    const seconds = (doneMs - Math.min(...loads.map((l) => l.firstSendMs))) / 1000
    const messages = loads.reduce((n, l) => n + l.messages, 0)
    return {
      workers: o.workers,
      run: o.run,
      readings,
      stored,
      lost: readings - stored,
      seconds: Number(seconds.toFixed(3)),
      readingsPerS: Math.round(readings / seconds),
      messagesPerS: Math.round(messages / seconds),
      workerCpuSPer100k: Number(((workerCpu / readings) * 100_000).toFixed(2)),
      mosquittoCpuSPer100k: Number(((mosqCpu / readings) * 100_000).toFixed(2)),
      machineBusyPct: Math.round(
        ((machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total)) * 100,
      ),
      perWorkerReadings,
    }
  } finally {
    await Promise.all(procs.map((p) => p.kill('SIGTERM')))
    await mosquitto.stop()
  }
}

/** The same load against Mosquitto with nobody subscribed: what the broker alone takes here. */
async function brokerAlone(devices: LoadDevice[], messagesPerDevice: number): Promise<number> {
  const mosquitto = await startMosquitto()
  try {
    const loads: LoadResult[] = await runLoad(mosquitto.port, devices, messagesPerDevice, WINDOW)
    const first = Math.min(...loads.map((l) => l.firstSendMs))
    const last = Math.max(...loads.map((l) => l.lastAckMs))
    return Math.round(loads.reduce((n, l) => n + l.messages, 0) / ((last - first) / 1000))
  } finally {
    await mosquitto.stop()
  }
}

function machineDescription(): Record<string, string | number> {
  const free = execFileSync('free', ['-m']).toString().split('\n')[1]?.trim().split(/\s+/) ?? []
  return {
    kind: 'node (see /work/.library/env/machines/node.md): 2 cores, 24 GiB, shared by the service, influxd, Mosquitto and the load generator',
    cpu: os.cpus()[0]?.model ?? 'unknown',
    nproc: Number(execFileSync('nproc').toString().trim()),
    memoryMiB: Number(free[1] ?? 0),
    node: process.version,
    influxd: execFileSync('influxd', ['version']).toString().trim(),
    mosquitto:
      /mosquitto version [\d.]+/.exec(
        (() => {
          try {
            return execFileSync('/usr/sbin/mosquitto', ['-h'], {
              stdio: ['ignore', 'pipe', 'pipe'],
            }).toString()
          } catch (err) {
            return String((err as { stdout?: Buffer }).stdout ?? '')
          }
        })(),
      )?.[0] ?? 'mosquitto',
    os: `${os.type()} ${os.release()}`,
  }
}

async function main(): Promise<void> {
  const influx = await startInfluxd()
  const root = mkdtempSync(path.join(os.tmpdir(), 'kampung-bench-scaling-'))
  try {
    const registryPath = path.join(root, 'registry.db')
    const { devices, readingsPerRound } = await registerFleet(registryPath, DEVICES, VILLAGE)
    const messagesPerDevice = Math.ceil(TARGET_READINGS / readingsPerRound)

    const brokerOnly: number[] = []
    const all: Measurement[] = []
    for (let run = 1; run <= RUNS; run++) {
      log(`run ${run}/${RUNS}: Mosquitto alone (no subscriber), the same load`)
      brokerOnly.push(await brokerAlone(devices, messagesPerDevice))
      for (let workers = 1; workers <= MAX_WORKERS; workers++) {
        log(
          `run ${run}/${RUNS}: ${workers} worker(s), ${devices.length} connections × ${messagesPerDevice} messages`,
        )
        const m = await measure({
          workers,
          run,
          influxUrl: influx.url,
          registryPath,
          root,
          devices,
          messagesPerDevice,
        })
        log(
          `run ${run}/${RUNS}: ${workers} worker(s): ${m.readingsPerS} readings/s, lost ${m.lost}, split ${m.perWorkerReadings.join('/')}`,
        )
        all.push(m)
      }
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
    const byWorkers = Array.from({ length: MAX_WORKERS }, (_, i) => {
      const runs = all.filter((m) => m.workers === i + 1).sort((x, y) => x.readingsPerS - y.readingsPerS)
      return runs[Math.floor(runs.length / 2)]!
    })
    const one = byWorkers[0]!.readingsPerS
    const table = byWorkers.map((m) => ({
      workers: m.workers,
      readingsPerS: m.readingsPerS,
      messagesPerS: m.messagesPerS,
      speedUp: Number((m.readingsPerS / one).toFixed(2)),
      perWorkerEfficiency: Number((m.readingsPerS / one / m.workers).toFixed(2)),
      workerCpuSPer100k: m.workerCpuSPer100k,
      mosquittoCpuSPer100k: m.mosquittoCpuSPer100k,
      machineBusyPct: m.machineBusyPct,
      perWorkerReadings: m.perWorkerReadings,
    }))
    const result = {
      name: 'scaling',
      date: new Date().toISOString(),
      machine: machineDescription(),
      setup: {
        broker: 'Mosquitto, fresh per measurement, max_queued_messages 0, max_inflight_messages 0',
        subscription: '$share/ingest/kampung/+/+/up, MQTT 5, persistent sessions, QoS 1',
        workers: '`kampung ingest` processes (one Node process each), InfluxDB store with spool',
        connections: devices.length,
        messagesPerConnection: messagesPerDevice,
        windowPerConnection: WINDOW,
        loadThreads: LOAD_WORKERS,
        readingsPerMessage: '4 (soil) or 6 (weather)',
        runs: RUNS,
        headline: 'per worker count, the median run by readings/s',
        measuredFrom: 'first publish to last reading queryable in InfluxDB',
      },
      brokerAloneMessagesPerS: median(brokerOnly),
      table,
      zeroLost: all.every((m) => m.lost === 0),
      runs: all,
    }
    const dir = path.join(import.meta.dirname, 'results')
    writeFileSync(path.join(dir, 'scaling.json'), `${JSON.stringify(result, null, 2)}\n`)
    const m = result.machine
    const md = [
      `# Scaling benchmark: ingest workers on a Mosquitto shared subscription (${result.date})`,
      '',
      `Machine: ${m.cpu}, nproc ${m.nproc}, ${m.memoryMiB} MiB (\`free -m\`), Node ${m.node}, ${m.influxd}, ${m.mosquitto}. ` +
        'Everything runs on these 2 cores: the load generator (2 threads), Mosquitto, influxd and the workers.',
      `Setup: ${devices.length} MQTT connections, QoS 1, window ${WINDOW}, ${messagesPerDevice} reports each of 4–6 readings ` +
        `(${all[0]?.readings ?? 0} readings per measurement); \`kampung ingest\` workers on \`$share/ingest/kampung/+/+/up\` (MQTT 5) → InfluxDB; ` +
        'a fresh Mosquitto and database per measurement; time from the first publish to the last reading queryable.',
      '',
      `Median of ${RUNS} runs per worker count. Per-worker efficiency = speed-up / workers (1.00 = linear).`,
      '',
      '| workers | readings/s | messages/s | speed-up | per-worker efficiency | worker CPU s per 100 k readings | Mosquitto CPU s per 100 k | machine busy | readings per worker |',
      '|---|---|---|---|---|---|---|---|---|',
      ...table.map(
        (t) =>
          `| ${t.workers} | ${t.readingsPerS} | ${t.messagesPerS} | ${t.speedUp.toFixed(2)} | ${t.perWorkerEfficiency.toFixed(2)} | ${t.workerCpuSPer100k} | ${t.mosquittoCpuSPer100k} | ${t.machineBusyPct} % | ${t.perWorkerReadings.join(' / ')} |`,
      ),
      '',
      `Mosquitto alone (same load, nobody subscribed): ${result.brokerAloneMessagesPerS} messages/s (median).`,
      `Readings lost in any run: ${result.zeroLost ? 0 : all.reduce((n, r) => n + r.lost, 0)}.`,
      '',
      '| run | workers | readings/s | seconds | stored / sent | machine busy |',
      '|---|---|---|---|---|---|',
      ...all.map(
        (r) =>
          `| ${r.run} | ${r.workers} | ${r.readingsPerS} | ${r.seconds} | ${r.stored} / ${r.readings} | ${r.machineBusyPct} % |`,
      ),
      '',
    ].join('\n')
    writeFileSync(path.join(dir, 'scaling.md'), md)
    console.log(md)
  } finally {
    await influx.stop()
    rmSync(root, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
