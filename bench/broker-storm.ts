/**
 * The reconnect storm against the broker alone (no ingest, no service start-up): an embedded
 * Broker on the district fleet's registry, BENCH_DISTRICT_NODES connections held by
 * bench/district-client.ts processes, then the broker stopped and a new one started on the same
 * port; every node reconnects on its own (~1 s ± half) and publishes one report. Prints the time
 * from the new broker listening until all are connected and acknowledged, the failed attempts by
 * reason, and the kernel's listen-queue overflows (TcpExt ListenOverflows: SYNs dropped because
 * the accept queue was full). Needs the fleet cached by bench/district.ts. Run:
 * `node --import tsx bench/broker-storm.ts`.
 */
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Broker } from '../broker/index.ts'
import { Registry } from '../src/registry/index.ts'
import { SCHEMAS } from '../src/schemas.ts'
import { freePort } from '../tests/harness/ports.ts'
import { LoadProcess } from './district.ts'
import type { ClientStats, StormResult } from './district-client.ts'
import type { LoadDevice } from './load-client.ts'

const NODES = Number(process.env.BENCH_DISTRICT_NODES ?? 10_000)
const PROCS = 4

function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n')
  const names = lines[0]!.split(' ')
  const values = lines[1]!.split(' ')
  return Number(values[names.indexOf('ListenOverflows')])
}

/** The fleet bench/district.ts cached (same fingerprint: registry code and fleet size). */
function fleetDir(): string {
  const src = path.join(import.meta.dirname, '..', 'src', 'registry')
  const fingerprint = createHash('sha256')
    .update(readFileSync(path.join(src, 'secrets.ts')))
    .update(readFileSync(path.join(src, 'registry.ts')))
    .update(`${NODES}/${process.env.BENCH_DISTRICT_VILLAGES ?? 40}`)
    .digest('hex')
    .slice(0, 16)
  const dir = path.join(os.tmpdir(), 'kampung-bench-fleet', fingerprint)
  if (!existsSync(path.join(dir, 'devices.json')))
    throw new Error(`no fleet in ${dir}: run bench/district.ts once`)
  return dir
}

async function main(): Promise<void> {
  const dir = fleetDir()
  const devices = (
    JSON.parse(readFileSync(path.join(dir, 'devices.json'), 'utf8')).devices as LoadDevice[]
  ).slice(0, NODES)
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'kampung-storm-'))
  copyFileSync(path.join(dir, 'registry.db'), path.join(tmp, 'registry.db'))
  const registry = new Registry({ path: path.join(tmp, 'registry.db'), schemas: SCHEMAS })
  await registry.start()
  const port = await freePort()
  const newBroker = () =>
    new Broker({ registry, port, host: '127.0.0.1', onUplink: (_d, _t, _p, done) => done() })
  let broker = newBroker()
  await broker.start()
  const procs = Array.from({ length: PROCS }, () => new LoadProcess())
  try {
    await Promise.all(
      procs.map((p, i) =>
        p.request({
          cmd: 'init',
          init: {
            port,
            devices: devices.filter((_, d) => d % PROCS === i),
            keepaliveS: 600,
            retryMs: 1000,
            connackTimeoutMs: 30_000,
          },
        }),
      ),
    )
    await Promise.all(procs.map((p) => p.request({ cmd: 'connect' })))
    console.error(`${NODES} connected`)
    const overflows0 = listenOverflows()
    await broker.stop()
    const storm = Promise.all(
      procs.map((p) => p.request<StormResult>({ cmd: 'storm', baseTimeMs: Date.now() })),
    )
    await new Promise((r) => setTimeout(r, 2000)) // nodes retrying against a closed port
    const stats0 = await Promise.all(procs.map((p) => p.request<ClientStats>({ cmd: 'stats' })))
    broker = newBroker()
    const t0 = performance.timeOrigin + performance.now()
    await broker.start()
    const results = await storm
    const stats1 = await Promise.all(procs.map((p) => p.request<ClientStats>({ cmd: 'stats' })))
    const reasons: Record<string, number> = {}
    for (const [i, s] of stats1.entries())
      for (const [k, v] of Object.entries(s.byReason))
        reasons[k] = (reasons[k] ?? 0) + (v ?? 0) - (stats0[i]!.byReason[k as keyof typeof s.byReason] ?? 0)
    const slow =
      stats1.reduce((n, s) => n + s.slowTcpConnects, 0) - stats0.reduce((n, s) => n + s.slowTcpConnects, 0)
    console.log(
      JSON.stringify({
        allConnectedS: Number(((Math.max(...results.map((r) => r.allConnectedMs)) - t0) / 1000).toFixed(2)),
        allStoredS: Number(((Math.max(...results.map((r) => r.allStoredMs)) - t0) / 1000).toFixed(2)),
        failedAfterListening: reasons,
        slowTcpConnects: slow,
        maxTcpConnectMs: Math.max(...stats1.map((s) => s.maxTcpConnectMs)),
        listenOverflows: listenOverflows() - overflows0,
        load: os.loadavg()[0],
        broker: {
          refused: Object.fromEntries(Object.entries(broker.stats().refused).filter(([, v]) => v > 0)),
          clientErrors: broker.stats().clientErrors,
        },
      }),
    )
  } finally {
    await Promise.all(procs.map((p) => p.request({ cmd: 'stop' }).catch(() => undefined)))
    await broker.stop()
    await registry.stop()
    rmSync(tmp, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
