/**
 * The alerts engine alone under the district benchmark's load (bench/district.ts): CPU µs per
 * report of `enqueueReadings` → evaluation, for BENCH_DISTRICT_NODES (10 000) nodes in 40
 * villages (every fifth a weather station with 6 readings, the rest soil nodes with 4), device
 * times 60 s apart and recent, each report its device's only one in a batch of 25 ms (as in the
 * district, where the service takes ~8 000 reports/s from 10 000 nodes). Timers off; the tick
 * runs every BENCH_ENGINE_TICK_EVERY reports. No broker, ingest or store: what the engine costs
 * per report, to profile it quickly (`node --cpu-prof --import tsx bench/engine-district.ts`).
 *
 *   npx tsx bench/engine-district.ts     # prints µs of process CPU per report, cold and warm
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { AlertEngine, type OutboxPort, parseAlertsConfig } from '../src/alerts/index.ts'
import { Registry } from '../src/registry/index.ts'
import { SCHEMAS } from '../src/schemas.ts'
import type { Reading } from '../src/telemetry/reading.ts'

const NODES = Number(process.env.BENCH_DISTRICT_NODES ?? 10_000)
const VILLAGES = 40
const COLD_ROUNDS = 3
const WARM_ROUNDS = Number(process.env.BENCH_ENGINE_ROUNDS ?? 10)
/** Reports per evaluation: ~8 000 reports/s gathered for 25 ms. */
const PER_BATCH = 200
const TICK_EVERY = Number(process.env.BENCH_ENGINE_TICK_EVERY ?? 240_000)
const REPORT_MS = 60_000

const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-bench-engine-'))
const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
await registry.start()
const outbox: OutboxPort = {
  enqueue: () => ({ id: 1, state: 'queued', duplicate: false }),
  onInbound() {},
}
const engine = new AlertEngine({ registry, outbox, config: parseAlertsConfig({}), timers: false })
await engine.start()
const db = registry.database()
db.transaction(() => {
  for (let v = 0; v < VILLAGES; v++) registry.addVillage({ id: `district-${v}`, name: `Bench ${v}` })
  const insert = db.prepare(
    "INSERT INTO devices (id, village, kind, format, secret_hash, created_at_ms) VALUES (?, ?, ?, 'json', 'x', 0)",
  )
  for (let i = 0; i < NODES; i++)
    insert.run(`dev-${i}`, `district-${i % VILLAGES}`, i % 5 === 0 ? 'weather' : 'soil')
})()

function report(i: number, round: number, timeMs: number): Reading[] {
  const device = `dev-${i}`
  const village = `district-${i % VILLAGES}`
  const r = (quantity: Reading['quantity'], value: number): Reading => ({
    timeMs,
    village,
    device,
    sensor: 'main',
    quantity,
    value,
  })
  const n = i + round
  if (i % 5 === 0)
    return [
      r('air_temperature', 24 + (n % 80) / 10),
      r('relative_humidity', 60 + (n % 30)),
      r('pressure', 1008 + (n % 10) / 10),
      r('rainfall', (n % 7) / 10),
      r('wind_speed', (n % 50) / 10),
      r('solar_radiation', n % 900),
    ]
  return [
    r('soil_moisture', 15 + (n % 300) / 10),
    r('soil_temperature', 25 + (n % 40) / 10),
    r('battery_voltage', 3.9),
    r('signal_strength', -70 - (n % 30)),
  ]
}

let baseMs = Math.floor((Date.now() - 40 * 60_000) / REPORT_MS) * REPORT_MS
let reports = 0
function phase(name: string, rounds: number): void {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (let round = 0; round < rounds; round++) {
    const timeMs = baseMs + round * REPORT_MS
    for (let at = 0; at < NODES; at += PER_BATCH) {
      for (let i = at; i < Math.min(NODES, at + PER_BATCH); i++) {
        engine.enqueueReadings(report(i, round, timeMs + (i % 1000)))
        if (++reports % TICK_EVERY === 0) engine.tick()
      }
      engine.drainBuffer()
    }
  }
  baseMs += rounds * REPORT_MS
  const cpu = process.cpuUsage(cpu0)
  const n = rounds * NODES
  console.log(
    `${name}: ${n} reports, ${((cpu.user + cpu.system) / n).toFixed(1)} CPU µs per report, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  )
}

phase('cold', COLD_ROUNDS)
phase('warm', WARM_ROUNDS)
await engine.stop()
await registry.stop()
rmSync(dir, { recursive: true, force: true })
